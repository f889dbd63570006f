package ring_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/ring"
)

func TestNewStateErrors(t *testing.T) {
	for _, tc := range []struct {
		cluster string
		size    int
		tn      int
		node    ring.NodeID
		want    error
	}{
		{"", 64, 0, "a", ring.ErrBadChange},
		{"c", 64, 0, "", ring.ErrBadChange},
		{"c", 63, 0, "a", ring.ErrBadSize},
		{"c", 0, 0, "a", ring.ErrBadSize},
		{"c", 64, -1, "a", ring.ErrBadChange},
		{"c", 64, ring.MaxTargetN + 1, "a", ring.ErrBadChange},
	} {
		if _, err := ring.NewState(tc.cluster, tc.size, tc.tn, tc.node, meta(tc.node), 1); !errors.Is(err, tc.want) {
			t.Errorf("NewState(%q, %d, %d, %q): %v, want %v", tc.cluster, tc.size, tc.tn, tc.node, err, tc.want)
		}
	}
	st, err := ring.NewState("c", 64, 0, "a", meta("a"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.TargetN() != ring.DefaultTargetN || st.Size() != 64 || st.ClusterName() != "c" || st.Ring().Size() != 64 {
		t.Errorf("fresh state %v", st)
	}
	if m, ok := st.Member("a"); !ok || m.Meta != meta("a") || m.Status != ring.StatusValid || m.Epoch != 0 {
		t.Errorf("member a: %+v", m)
	}
	if st.Seen("a").Equal(nil) || !st.Seen("a").Equal(st.Clock()) {
		t.Error("the creator has not seen its ring")
	}
	if len(st.RingVersion()) != 1 {
		t.Errorf("rvsn %v", st.RingVersion())
	}
}

func TestZeroState(t *testing.T) {
	var z ring.State
	if !z.IsZero() || !ring.Equal(z, ring.State{}) || z.String() != "ring.State{}" {
		t.Error("zero state")
	}
	a, _ := ring.NewState("c", 8, 0, "a", meta("a"), 1)
	if m, err := ring.Merge(z, a); err != nil || !ring.Equal(m, a) {
		t.Errorf("Merge(zero, a): %v", err)
	}
	if m, err := ring.Merge(a, z); err != nil || !ring.Equal(m, a) {
		t.Errorf("Merge(a, zero): %v", err)
	}
	if ring.Equal(a, z) {
		t.Error("a equals the zero state")
	}
	if _, err := z.Stage("a", ring.Change{Node: "a", Action: ring.ActionLeave}, 1); !errors.Is(err, ring.ErrZeroState) {
		t.Errorf("Stage on zero: %v", err)
	}
	if _, err := z.Plan(); !errors.Is(err, ring.ErrZeroState) {
		t.Errorf("Plan on zero: %v", err)
	}
	if _, ch := z.Advance("a", 1); ch {
		t.Error("Advance on zero changed something")
	}
	if rows, _ := z.MemberStatus(); rows != nil {
		t.Error("rows of zero")
	}
}

func TestNames(t *testing.T) {
	for s := ring.StatusJoining; s <= ring.StatusInvalid; s++ {
		if back, ok := ring.ParseStatus(s.String()); !ok || back != s {
			t.Errorf("status %d: %q", s, s)
		}
	}
	if _, ok := ring.ParseStatus("bogus"); ok {
		t.Error("ParseStatus(bogus)")
	}
	if ring.Status(0).String() != "status(0)" || ring.Action(42).String() != "action(42)" {
		t.Error("unknown names")
	}
	if got := (ring.Change{Node: "a", Action: ring.ActionReplace, Target: "b"}).String(); got != "replace a -> b" {
		t.Errorf("Change.String = %q", got)
	}
	if got := (ring.Change{Node: "a", Action: ring.ActionRemove}).String(); got != "force-remove a" {
		t.Errorf("Change.String = %q", got)
	}
	if ring.ReplyRejoin.String() != "rejoin" || ring.ReplyShutdown.String() != "shutdown" || ring.ReplyNone.String() != "none" {
		t.Error("reply names")
	}
	// Actors are a function of the name and epoch.
	if ring.ActorOf("a", 0) != ring.ActorOf("a", 0) || ring.ActorOf("a", 0) == ring.ActorOf("b", 0) ||
		ring.ActorOf("a", 0).ID != ring.ActorOf("a", 3).ID || ring.ActorOf("a", 3).Epoch != 3 || ring.ActorOf("", 0).IsZero() {
		t.Error("ActorOf")
	}
}

// twoNodes returns a settled two-node cluster.
func twoNodes(t *testing.T) *cluster {
	c := newCluster(t, 16, "a")
	if err := c.join("b", "a"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	c.planCommit()
	c.settle()
	return c
}

// TestConcurrentMemberWrites: concurrent versions of a member record all
// take effect — the status by precedence, the meta by incarnation.
func TestConcurrentMemberWrites(t *testing.T) {
	c := twoNodes(t)
	if err := c.join("x", "a"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	base := c.state["a"]
	// a marks b down while b publishes new addresses.
	down, err := base.MarkDown("a", "b", 10)
	if err != nil {
		t.Fatal(err)
	}
	nm := meta("b")
	nm.HTTPAddr, nm.Incarnation = "b:9999", 2
	moved, err := c.state["b"].UpdateMeta("b", nm, 11)
	if err != nil {
		t.Fatal(err)
	}
	m := mustMerge(t, down, moved)
	if got, _ := m.Member("b"); got.Status != ring.StatusDown || got.Meta != nm {
		t.Fatalf("merged b: %+v", got)
	}
	// b learns it is down and rejoins, keeping its new meta.
	back, changed := m.Advance("b", 12)
	if got, _ := back.Member("b"); !changed || got.Status != ring.StatusValid || got.Meta != nm {
		t.Fatalf("b after rejoining: %+v", got)
	}
	// Concurrent clear (by b) and commit (by a, the claimant) of the
	// joining node x: invalid wins.
	cleared, err := c.state["b"].Clear("b", 13)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := base.Commit("a", nil, 14)
	if err != nil {
		t.Fatal(err)
	}
	if st := mustMerge(t, cleared, committed).Status("x"); st != ring.StatusInvalid {
		t.Errorf("x after concurrent clear and commit: %v", st)
	}
}

func TestUpdateMetaRejoinObserve(t *testing.T) {
	c := twoNodes(t)
	a := c.state["a"]
	if same, err := a.UpdateMeta("a", meta("a"), 5); err != nil || !ring.Equal(same, a) {
		t.Errorf("UpdateMeta with the same meta: %v", err)
	}
	if _, err := a.UpdateMeta("zz", meta("zz"), 5); !errors.Is(err, ring.ErrNotMember) {
		t.Errorf("UpdateMeta of a stranger: %v", err)
	}
	if same, err := a.Rejoin("a", 5); err != nil || !ring.Equal(same, a) {
		t.Errorf("Rejoin of a valid node: %v", err)
	}
	if _, err := a.MarkDown("a", "a", 5); !errors.Is(err, ring.ErrBadChange) {
		t.Errorf("marking oneself down: %v", err)
	}
	if _, err := a.MarkDown("a", "zz", 5); !errors.Is(err, ring.ErrNotMember) {
		t.Errorf("marking a stranger down: %v", err)
	}
	down, _ := a.MarkDown("a", "b", 5)
	if again, err := down.MarkDown("a", "b", 6); err != nil || !ring.Equal(again, down) {
		t.Errorf("marking down twice: %v", err)
	}
	// A down node with partitions rejoins valid.
	if r, _ := down.Rejoin("b", 7); r.Status("b") != ring.StatusValid {
		t.Errorf("rejoin with partitions: %v", r.Status("b"))
	}
	// Observe only records what self has seen. (A down member does not
	// count for readiness.)
	if !down.Ready() {
		t.Error("a down member blocks readiness")
	}
	changed, _ := a.UpdateMeta("a", ring.MemberMeta{GossipAddr: "elsewhere", Incarnation: 2}, 6)
	o := changed.Observe("b")
	if changed.Ready() || !o.Ready() || !o.Seen("b").Equal(o.Clock()) || !o.Clock().Equal(changed.Clock()) {
		t.Errorf("Observe: seen %v clock %v", o.Seen("b"), o.Clock())
	}
	if !ring.Equal(o.Observe("b"), o) {
		t.Error("Observe is not idempotent")
	}
	o = down.Observe("b")
	if got := o.MembersWith(ring.StatusDown); !slices.Equal(got, nodes("b")) {
		t.Errorf("MembersWith(down) = %v", got)
	}
	if cnt := o.StatusCounts(); cnt[ring.StatusDown] != 1 || cnt[ring.StatusValid] != 1 {
		t.Errorf("StatusCounts = %v", cnt)
	}
}

// TestRejoinAfterRemoval: a node removed from the cluster can join again
// under the same name; it gets a new actor epoch, so its old events are
// never re-issued.
func TestRejoinAfterRemoval(t *testing.T) {
	c := newCluster(t, 16, "a")
	for _, n := range nodes("b", "c") {
		if err := c.join(n, "a"); err != nil {
			t.Fatal(err)
		}
	}
	c.converge()
	c.planCommit()
	c.settle()
	if err := c.stage("a", ring.Change{Node: "c", Action: ring.ActionRemove}); err != nil {
		t.Fatal(err)
	}
	c.converge()
	c.planCommit()
	c.settle()
	if c.alive("c") {
		t.Fatal("c still running after its removal")
	}
	old, _ := c.agreed().Member("c")
	delete(c.state, "c")
	if err := c.join("c", "b"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	m, _ := c.agreed().Member("c")
	if m.Status != ring.StatusJoining || m.Epoch != old.Epoch+1 {
		t.Fatalf("c after joining again: %+v (was %+v)", m, old)
	}
	c.planCommit()
	c.settle()
	c.checkSettled()
}
