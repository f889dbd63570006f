package testcluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/testlog"
	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/pg"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
)

func pgKey(group string) kv.Key { return kv.Key{Type: pg.BucketType, Bucket: "scope", Key: group} }

// names lists members as "node/id×count", sorted.
func names(ms []pg.MemberInfo) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s/%s×%d", strings.TrimSuffix(m.Node, "@test"), m.ID, m.Count))
	}
	slices.Sort(out)
	return out
}

func members(t *testing.T, c *Cluster, i int, group, filter string) []string {
	t.Helper()
	ms, err := c.Nodes[i].PG.Members(bg, pgKey(group), pg.Filter{Kind: filter})
	if err != nil {
		t.Fatalf("members of %s through node %d: %v", group, i+1, err)
	}
	return names(ms)
}

// expectEverywhere checks that every listed live node reads want.
func expectEverywhere(t *testing.T, c *Cluster, nodes []int, group, filter string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	for _, i := range nodes {
		if got := members(t, c, i, group, filter); !slices.Equal(got, want) {
			t.Fatalf("node %d, %s members of %s: got %v, want %v", i+1, filter, group, got, want)
		}
	}
}

func join(t *testing.T, c *Cluster, i int, group, id string, o pg.JoinOpts) {
	t.Helper()
	if _, err := c.Nodes[i].PG.Join(bg, pgKey(group), id, o); err != nil {
		t.Fatalf("join %s to %s through node %d: %v", id, group, i+1, err)
	}
}

func idle(c *Cluster) {
	for _, nd := range c.Nodes {
		if nd.alive {
			nd.Svc.WaitIdle()
		}
	}
}

func pgCluster(t *testing.T) *Cluster {
	return New(t, 3, Options{Seed: 7, Configure: func(i int, c *kv.Config) { c.Logger = testlog.New(t) }})
}

// storedMembers is group's stored value as merged from every replica,
// without the liveness filter: what pruning has really removed.
func storedMembers(t *testing.T, c *Cluster, i int, group string) []string {
	t.Helper()
	v, err := c.Client(i).FetchDatatype(bg, pgKey(group), dt.KindPG, kv.Options{R: quorum.ValAll})
	if errors.Is(err, kv.ErrNotFound) {
		return []string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range v.(*dt.PG).Members() {
		out = append(out, fmt.Sprintf("%s#%d/%s×%d", strings.TrimSuffix(e.Node, "@test"), e.Incarnation, e.ID, e.Count))
	}
	return out
}

// Partition a 3-node cluster, join members on both sides, heal: every
// node lists every member, with its count.
func TestPGPartitionThenHealListsEveryMember(t *testing.T) {
	c := pgCluster(t)
	join(t, c, 0, "svc", "before", pg.JoinOpts{})
	join(t, c, 2, "svc", "gone", pg.JoinOpts{})
	idle(c) // replicated to all three before the split
	c.Partition([]int{0, 1}, []int{2})
	// The minority side's owner leaves a member every node had seen.
	if _, err := c.Nodes[2].PG.Leave(bg, pgKey("svc"), "gone", 0); err != nil {
		t.Fatal(err)
	}
	join(t, c, 0, "svc", "a", pg.JoinOpts{Count: 2, Meta: "10.0.0.1:80"})
	join(t, c, 1, "svc", "b", pg.JoinOpts{})
	join(t, c, 2, "svc", "c", pg.JoinOpts{})
	join(t, c, 2, "other", "c", pg.JoinOpts{})
	// Each side sees its own members; the minority side still lists the
	// member it saw before the split, but not as connected.
	expectEverywhere(t, c, []int{0, 1}, "svc", "all", "node1/a×2", "node1/before×1", "node2/b×1", "node3/gone×1")
	expectEverywhere(t, c, []int{0, 1}, "svc", "connected", "node1/a×2", "node1/before×1", "node2/b×1")
	expectEverywhere(t, c, []int{2}, "svc", "all", "node1/before×1", "node3/c×1")
	expectEverywhere(t, c, []int{2}, "svc", "connected", "node3/c×1")
	// A leave on one side during the split.
	if n, err := c.Nodes[0].PG.Leave(bg, pgKey("svc"), "before", 0); err != nil || n != 0 {
		t.Fatalf("leave during the partition: %d %v", n, err)
	}
	c.Heal()
	c.Tick() // the sides find each other again (each node retries the members it saw die)
	want := []string{"node1/a×2", "node2/b×1", "node3/c×1"}
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "all", want...)
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "connected", want...)
	expectEverywhere(t, c, []int{0, 1, 2}, "other", "all", "node3/c×1")
	expectEverywhere(t, c, []int{0}, "svc", "local", "node1/a×2")
	expectEverywhere(t, c, []int{0}, "svc", "remote", "node2/b×1", "node3/c×1")
	ms, err := c.Nodes[1].PG.Members(bg, pgKey("svc"), pg.Filter{Kind: "node", Node: "node1@test"})
	if err != nil || len(ms) != 1 || ms[0].Meta != "10.0.0.1:80" || ms[0].JoinedAt.IsZero() {
		t.Fatalf("members of node1 with metadata: %+v %v", ms, err)
	}
	// Owners keep operating after the heal, whatever the coordinator.
	for i, id := range []string{"a", "b", "c"} {
		if _, err := c.Nodes[i].PG.Leave(bg, pgKey("svc"), id, 1); err != nil {
			t.Fatal(err)
		}
	}
	c.Clock.Advance(time.Second)
	c.PGTick() // repairs any group whose coordinator changed
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "all", "node1/a×1")
	groups, err := c.Nodes[2].PG.Groups(bg, pg.BucketType, "scope")
	if err != nil || !slices.Equal(groups, []string{"other", "svc"}) {
		t.Fatalf("which groups: %v %v", groups, err)
	}
}

// Kill a node holding members: they are hidden from connected reads at
// once (and still listed by "all": a crash is not proof of death), and
// removed on every node once it restarts with a new incarnation.
func TestPGKilledOwnerHiddenThenPrunedOnRestart(t *testing.T) {
	c := pgCluster(t)
	join(t, c, 0, "svc", "a", pg.JoinOpts{})
	join(t, c, 1, "svc", "b", pg.JoinOpts{Count: 3})
	join(t, c, 1, "svc2", "b", pg.JoinOpts{})
	c.Kill(1)
	expectEverywhere(t, c, []int{0, 2}, "svc", "connected", "node1/a×1")
	expectEverywhere(t, c, []int{0, 2}, "svc", "all", "node1/a×1", "node2/b×3")
	if m, err := c.Nodes[2].PG.Pick(bg, pgKey("svc"), pg.PickRandom, ""); err != nil || m.ID != "a" {
		t.Fatalf("pick skips unreachable members: %+v %v", m, err)
	}
	c.Restart(1)
	if c.Nodes[1].Incarnation != 2 {
		t.Fatalf("incarnation after restart: %d", c.Nodes[1].Incarnation)
	}
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "all", "node1/a×1")
	expectEverywhere(t, c, []int{0, 1, 2}, "svc2", "all")
	c.Nodes[0].Svc.WaitIdle() // the prune the reads scheduled
	c.Nodes[1].Svc.WaitIdle()
	c.Nodes[2].Svc.WaitIdle()
	if got := storedMembers(t, c, 2, "svc"); !slices.Equal(got, []string{"node1#1/a×1"}) {
		t.Fatalf("stored after the prune: %v", got)
	}
	if got := storedMembers(t, c, 0, "svc2"); len(got) != 0 {
		t.Fatalf("stored svc2 after the prune: %v", got)
	}
	// The restarted node joins anew under its new incarnation.
	join(t, c, 1, "svc", "b", pg.JoinOpts{})
	ms, _ := c.Nodes[0].PG.Members(bg, pgKey("svc"), pg.Filter{Kind: "node", Node: "node2@test"})
	if len(ms) != 1 || ms[0].Incarnation != 2 {
		t.Fatalf("rejoined member: %+v", ms)
	}
	var prunes int64
	for _, nd := range c.Nodes {
		prunes += nd.PG.Stats().Prunes
	}
	if prunes < 2 {
		t.Fatalf("prunes counted: %d", prunes)
	}
}

// A force-removed owner's members disappear from every node; a sync
// from its old incarnation is refused.
func TestPGForceRemovedOwnerPruned(t *testing.T) {
	c := pgCluster(t)
	join(t, c, 0, "svc", "a", pg.JoinOpts{})
	join(t, c, 2, "svc", "z", pg.JoinOpts{})
	c.Kill(2)
	expectEverywhere(t, c, []int{0, 1}, "svc", "all", "node1/a×1", "node3/z×1")
	c.ForceRemove(2)
	expectEverywhere(t, c, []int{0, 1}, "svc", "all", "node1/a×1")
	expectEverywhere(t, c, []int{0, 1}, "svc", "connected", "node1/a×1")
	c.Nodes[0].Svc.WaitIdle()
	c.Nodes[1].Svc.WaitIdle()
	if got := storedMembers(t, c, 1, "svc"); !slices.Equal(got, []string{"node1#1/a×1"}) {
		t.Fatalf("stored after the prune: %v", got)
	}
}

// A member whose lease lapses disappears from every node at the owner's
// next tick after the lease period; a heartbeat renews it.
func TestPGLeaseLapse(t *testing.T) {
	c := pgCluster(t)
	ttl := 10 * time.Second
	join(t, c, 0, "svc", "leased", pg.JoinOpts{TTL: ttl})
	join(t, c, 0, "svc2", "leased", pg.JoinOpts{})
	join(t, c, 1, "svc", "forever", pg.JoinOpts{})
	c.Clock.Advance(ttl - time.Second)
	c.PGTick()
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "all", "node1/leased×1", "node2/forever×1")
	if err := c.Nodes[0].PG.Heartbeat("leased"); err != nil {
		t.Fatal(err)
	}
	c.Clock.Advance(ttl - time.Second)
	c.PGTick()
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "all", "node1/leased×1", "node2/forever×1")
	c.Clock.Advance(time.Second)
	c.PGTick()
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "all", "node2/forever×1")
	expectEverywhere(t, c, []int{0, 1, 2}, "svc2", "all")
	if err := c.Nodes[0].PG.Heartbeat("leased"); !errors.Is(err, pg.ErrNotMember) {
		t.Fatalf("heartbeat after the lapse: %v", err)
	}
	if st := c.Nodes[0].PG.Stats(); st.LeaseLapses != 1 || st.Leases != 0 || st.Members != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// A group whose coordinator changed, and whose new coordinator missed a
// join, converges to the owner's counts (repair with the merged state).
func TestPGOwnerRepairsAfterCoordinatorChange(t *testing.T) {
	c := pgCluster(t)
	k := pgKey("svc")
	pl, err := c.Client(0).Preflist(k)
	if err != nil {
		t.Fatal(err)
	}
	first := -1
	for i, nd := range c.Nodes {
		if nd.ID == pl[0].Node {
			first = i
		}
	}
	owner := (first + 1) % 3
	// The first primary is down: the second coordinates the join.
	c.Kill(first)
	join(t, c, owner, "svc", "m", pg.JoinOpts{Count: 2})
	c.Restart(first)
	// The first primary is back and coordinates, but never saw the join.
	if n, err := c.Nodes[owner].PG.Leave(bg, k, "m", 1); err != nil || n != 1 {
		t.Fatalf("leave: %d %v", n, err)
	}
	c.Clock.Advance(time.Second)
	c.PGTick()
	want := fmt.Sprintf("node%d/m×1", owner+1)
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "all", want)
	if n, err := c.Nodes[owner].PG.Leave(bg, k, "m", 1); err != nil || n != 0 {
		t.Fatalf("last leave: %d %v", n, err)
	}
	c.Clock.Advance(time.Second)
	c.PGTick()
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "all")
}

// wirePGSet mirrors the body of MsgPGSet (kv's pgSetReq).
type wirePGSet struct {
	Type    string `msgpack:"t"`
	Bucket  string `msgpack:"b"`
	Key     string `msgpack:"k"`
	Node    string `msgpack:"n,omitempty"`
	Inc     uint64 `msgpack:"inc,omitempty"`
	Members []struct {
		ID    string `msgpack:"i"`
		Count int    `msgpack:"c"`
	} `msgpack:"m,omitempty"`
}

// A sync from an incarnation the cluster knows is over is refused by the
// coordinator, so a delayed message from before a restart cannot bring
// dead members back.
func TestPGRefusesStaleIncarnation(t *testing.T) {
	c := pgCluster(t)
	c.Kill(1)
	c.Restart(1) // node2 is now at incarnation 2
	req := wirePGSet{Type: pg.BucketType, Bucket: "scope", Key: "svc", Node: "node2@test", Inc: 1}
	req.Members = append(req.Members, struct {
		ID    string `msgpack:"i"`
		Count int    `msgpack:"c"`
	}{"ghost", 1})
	var resp struct{}
	err := c.Net.Endpoint(c.Nodes[1].ID).Call(bg, c.Nodes[0].ID, wire.MsgPGSet, req, &resp)
	if err == nil || !strings.Contains(err.Error(), "stale incarnation") {
		t.Fatalf("stale sync: %v", err)
	}
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "all")
	// The current incarnation is accepted.
	req.Inc = 2
	if err := c.Net.Endpoint(c.Nodes[1].ID).Call(bg, c.Nodes[0].ID, wire.MsgPGSet, req, &resp); err != nil {
		t.Fatal(err)
	}
	expectEverywhere(t, c, []int{0, 1, 2}, "svc", "all", "node2/ghost×1")
}

// A watch on one node sees joins and leaves made through other nodes at
// its next tick.
func TestPGWatchSeesOtherNodes(t *testing.T) {
	c := pgCluster(t)
	join(t, c, 1, "svc", "b", pg.JoinOpts{})
	ch, cancel, err := c.Nodes[0].PG.Watch(bg, pg.BucketType, "scope", "svc")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	next := func() string {
		t.Helper()
		select {
		case ev := <-ch:
			return ev.Type + " " + strings.Join(names(ev.Members), " ")
		default:
			return "nothing"
		}
	}
	if got := next(); got != "snapshot node2/b×1" {
		t.Fatalf("snapshot: %s", got)
	}
	join(t, c, 2, "svc", "c", pg.JoinOpts{Count: 2})
	if _, err := c.Nodes[1].PG.Leave(bg, pgKey("svc"), "b", 0); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "nothing" {
		t.Fatalf("before the tick: %s", got)
	}
	c.Clock.Advance(time.Second)
	c.PGTick()
	for _, want := range []string{"join node3/c×2", "leave node2/b×0", "nothing"} {
		if got := next(); got != want {
			t.Fatalf("after the tick: %s, want %s", got, want)
		}
	}
}

// A replica that failure detection still reports up but that does not
// answer: a members read waits for it at most its read-all timeout on the
// cluster clock, then answers from the others (the bucket's R).
func TestPGReadFallsBackWhenAReplicaIsSilent(t *testing.T) {
	c := pgCluster(t)
	join(t, c, 0, "svc", "a", pg.JoinOpts{})
	join(t, c, 1, "svc", "b", pg.JoinOpts{})
	idle(c)
	ictx, cancelIdle := context.WithTimeout(bg, 10*time.Second)
	defer cancelIdle()
	if err := c.Net.Wait(ictx, func(s memnet.Stats) bool { return s.Pending == 0 && s.Busy == 0 }); err != nil {
		t.Fatal(err)
	}
	c.Net.Partition([]ring.NodeID{c.Nodes[0].ID, c.Nodes[1].ID}, []ring.NodeID{c.Nodes[2].ID}) // up views unchanged
	type result struct {
		ms  []pg.MemberInfo
		err error
	}
	done := make(chan result, 1)
	go func() {
		ms, err := c.Nodes[0].PG.Members(bg, pgKey("svc"), pg.Filter{})
		done <- result{ms, err}
	}()
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	t0 := c.Clock.Now()
	var r result
	for answered := false; !answered; {
		select {
		case r = <-done:
			answered = true
		case <-ctx.Done():
			t.Fatalf("no answer by %v on the cluster clock", c.Clock.Now().Sub(t0))
		case <-time.After(time.Millisecond): // polling a condition
			c.Clock.Advance(50 * time.Millisecond)
		}
	}
	if r.err != nil || !slices.Equal(names(r.ms), []string{"node1/a×1", "node2/b×1"}) {
		t.Fatalf("members with a silent replica: %v %v", names(r.ms), r.err)
	}
	// The testcluster's request timeout (2 s) bounds the read-all wait.
	if waited := c.Clock.Now().Sub(t0); waited < 2*time.Second || waited > 10*time.Second {
		t.Errorf("answered after %v on the cluster clock, want just past 2s", waited)
	}
}
