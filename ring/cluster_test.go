package ring_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/ring"
)

// cluster simulates nodes that each hold a State and gossip it: a send is
// Reconcile on the receiver followed by its Advance, as the node wiring
// will do. Unreachable nodes neither send nor receive.
type cluster struct {
	t       testing.TB
	size    int
	now     int64
	state   map[ring.NodeID]ring.State
	unreach map[ring.NodeID]bool
	// ignored counts gossip refused by Reconcile, by error; replies the
	// rejoin and shutdown replies.
	ignored map[string]int
	replies map[ring.Reply]int
}

func meta(n ring.NodeID) ring.MemberMeta {
	return ring.MemberMeta{GossipAddr: string(n) + ":7946", InternodeAddr: string(n) + ":8099", HTTPAddr: string(n) + ":8098", Incarnation: 1}
}

func newCluster(t testing.TB, size int, first ring.NodeID) *cluster {
	t.Helper()
	s, err := ring.NewState("test", size, 0, first, meta(first), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{t: t, size: size, now: 1000, state: map[ring.NodeID]ring.State{first: s},
		unreach: map[ring.NodeID]bool{}, ignored: map[string]int{}, replies: map[ring.Reply]int{}}
}

func (c *cluster) tick() int64 { c.now++; return c.now }

// join runs "cluster join seed" on a fresh node n.
func (c *cluster) join(n, seed ring.NodeID) error {
	local, err := ring.NewState("own-"+string(n), c.size, 0, n, meta(n), c.tick())
	if err != nil {
		return err
	}
	st, err := ring.Join(local, c.state[seed], n, meta(n), c.tick())
	if err != nil {
		return err
	}
	c.state[n] = st
	c.send(n, seed)
	return nil
}

// alive reports whether n runs: known, reachable and not told it is
// removed.
func (c *cluster) alive(n ring.NodeID) bool {
	st, ok := c.state[n]
	return ok && !c.unreach[n] && st.Status(n) != ring.StatusInvalid
}

func (c *cluster) live() []ring.NodeID {
	var out []ring.NodeID
	for _, n := range sortedNames(c.state) {
		if c.alive(n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// send delivers from's state to to and reports whether to's state changed.
func (c *cluster) send(from, to ring.NodeID) bool {
	if !c.alive(from) {
		return false
	}
	return c.receive(to, c.state[from], from, 0)
}

// receive is node to getting state st from node from: Reconcile, then
// Advance. A rejoin or shutdown reply sends to's state back; a node that
// learns it was removed sends its state once before stopping (a last
// gasp). depth bounds the exchanges.
func (c *cluster) receive(to ring.NodeID, st ring.State, from ring.NodeID, depth int) bool {
	if !c.alive(to) {
		return false
	}
	mine := c.state[to]
	merged, reply, err := ring.Reconcile(mine, st, from)
	if err != nil {
		c.ignored[err.Error()]++
		return false
	}
	next, _ := merged.Advance(to, c.tick())
	c.state[to] = next
	changed := !ring.Equal(next, mine)
	if depth > 3 {
		return changed
	}
	if reply != ring.ReplyNone {
		c.replies[reply]++
		c.receive(from, next, to, depth+1)
	}
	if next.Status(to) == ring.StatusInvalid && mine.Status(to) != ring.StatusInvalid {
		c.lastGasp(to, from, depth)
	}
	return changed
}

// lastGasp has n, which just learnt it was removed, send its state to
// peer (or, if peer is not alive, to the first live node).
func (c *cluster) lastGasp(n, peer ring.NodeID, depth int) {
	if !c.alive(peer) {
		live := c.live()
		if len(live) == 0 {
			return
		}
		peer = live[0]
	}
	c.receive(peer, c.state[n], n, depth+1)
}

// converge gossips between every pair of live nodes until nothing changes.
func (c *cluster) converge() {
	c.t.Helper()
	for round := 0; round < 60; round++ {
		changed := false
		for _, n := range c.live() {
			next, ch := c.state[n].Advance(n, c.tick())
			if ch {
				c.state[n] = next
				changed = true
			}
		}
		for _, a := range c.live() {
			for _, b := range c.live() {
				if a != b && c.send(a, b) {
					changed = true
				}
			}
		}
		if !changed {
			return
		}
	}
	c.t.Fatalf("no convergence after 60 rounds")
}

// handoff has every live node complete the transfers it is the source of
// (when its ring is ready and the target is reachable).
func (c *cluster) handoff() bool {
	did := false
	for _, n := range c.live() {
		st := c.state[n]
		if !st.Ready() {
			continue
		}
		for _, tr := range st.Transfers() {
			if tr.From == n && !tr.Complete && !c.unreach[tr.To] {
				var err error
				if st, err = st.CompleteTransfer(n, tr.Partition, c.tick()); err != nil {
					c.t.Fatalf("CompleteTransfer: %v", err)
				}
				did = true
			}
		}
		c.state[n] = st
	}
	return did
}

// settle converges and hands off until nothing is pending.
func (c *cluster) settle() {
	c.t.Helper()
	for i := 0; i < 30; i++ {
		c.converge()
		if !c.handoff() {
			c.converge()
			return
		}
	}
	c.t.Fatalf("transfers never finished")
}

// agreed checks that every live node holds the same state, and returns it.
func (c *cluster) agreed() ring.State {
	c.t.Helper()
	live := c.live()
	first := c.state[live[0]]
	for _, n := range live[1:] {
		if !ring.Equal(c.state[n], first) {
			c.t.Fatalf("%s and %s disagree:\n%v\n%v", live[0], n, first, c.state[n])
		}
	}
	return first
}

// claimant returns the claimant's name and state as the live nodes see it.
func (c *cluster) claimant() (ring.NodeID, ring.State) {
	st := c.agreed()
	return st.Claimant(), c.state[st.Claimant()]
}

// plan plans at the claimant and commits with that plan.
func (c *cluster) planCommit() ring.Plan {
	c.t.Helper()
	cl, st := c.claimant()
	p, err := st.Plan()
	if err != nil {
		c.t.Fatalf("Plan: %v", err)
	}
	next, err := st.Commit(cl, &p, c.tick())
	if err != nil {
		c.t.Fatalf("Commit: %v", err)
	}
	c.state[cl] = next
	return p
}

// stage stages a change on node by.
func (c *cluster) stage(by ring.NodeID, ch ring.Change) error {
	st, err := c.state[by].Stage(by, ch, c.tick())
	if err != nil {
		return err
	}
	c.state[by] = st
	return nil
}

// checkSettled checks a settled cluster: agreement, ready, nothing
// pending, every valid member balanced, and diversity where possible.
func (c *cluster) checkSettled() ring.State {
	c.t.Helper()
	st := c.agreed()
	if !st.Ready() {
		for _, m := range st.Members() {
			c.t.Logf("%s %v seen=%v alive=%v own view %v", m.Node, m.Status, st.Seen(m.Node), c.alive(m.Node), c.state[m.Node].Status(m.Node))
		}
		c.t.Fatalf("not ready: clock %v", st.Clock())
	}
	if tr := st.Transfers(); len(tr) != 0 {
		c.t.Fatalf("pending transfers: %v", tr)
	}
	valid := st.MembersWith(ring.StatusValid)
	owners := st.Owners()
	if len(valid) == 0 {
		// Everyone left or was removed (concurrent changes on both sides of
		// a split can do that): nobody can take the partitions.
		return st
	}
	for _, o := range owners {
		if !slices.Contains(valid, o) && st.Status(o) != ring.StatusDown {
			for _, m := range st.Members() {
				c.t.Logf("%s %v alive=%v own view %v", m.Node, m.Status, c.alive(m.Node), c.state[m.Node].Status(m.Node))
			}
			c.t.Fatalf("partition owned by %s (%v); claimant %s, owners %v", o, st.Status(o), st.Claimant(), owners)
		}
	}
	if lo, hi := ring.Balance(owners, valid); hi-lo > 1 && len(st.MembersWith(ring.StatusDown)) == 0 {
		c.t.Fatalf("unbalanced %d..%d", lo, hi)
	}
	if ring.Feasible(c.size, len(valid), st.TargetN()) && len(st.MembersWith(ring.StatusDown)) == 0 {
		if v := ring.Violations(owners, min(len(valid), st.TargetN())); v != 0 {
			c.t.Fatalf("%d target_n violations", v)
		}
	}
	return st
}

// renderPlan formats a plan roughly as riak-admin cluster plan does.
func renderPlan(p ring.Plan) string {
	var b strings.Builder
	b.WriteString("Staged changes:\n")
	for _, ch := range p.Changes {
		fmt.Fprintf(&b, "  %s\n", ch)
	}
	for i, tr := range p.Transitions {
		fmt.Fprintf(&b, "Transition %d/%d:\n", i+1, len(p.Transitions))
		for _, m := range tr.Members {
			cl := ""
			if m.Claimant {
				cl = " (C)"
			}
			fmt.Fprintf(&b, "  %-8s %5.1f%% %5.1f%%  %s%s\n", m.Status, m.RingPct, m.PendingPct, m.Node, cl)
		}
		if !tr.MeetsTargetN {
			b.WriteString("  WARNING: Not all replicas will be on distinct nodes\n")
		}
		fmt.Fprintf(&b, "  Partitions reassigned from cluster changes: %d\n", tr.TotalReassigned())
		for _, m := range tr.Reassigned {
			fmt.Fprintf(&b, "    %d reassigned from %s to %s\n", m.Count, m.From, m.To)
		}
		fmt.Fprintf(&b, "  Transfers resulting from cluster changes: %d\n", tr.TotalTransfers())
		for _, m := range tr.Transfers {
			fmt.Fprintf(&b, "    %d transfers from %s to %s\n", m.Count, m.From, m.To)
		}
	}
	return b.String()
}

func renderStatus(st ring.State) string {
	var b strings.Builder
	rows, pending := st.MemberStatus()
	for _, r := range rows {
		p := "--"
		if pending {
			p = fmt.Sprintf("%.1f%%", r.PendingPct)
		}
		fmt.Fprintf(&b, "  %-8s %5.1f%% %6s  %s\n", r.Status, r.RingPct, p, r.Node)
	}
	cnt := st.StatusCounts()
	fmt.Fprintf(&b, "  Valid:%d / Leaving:%d / Exiting:%d / Joining:%d / Down:%d\n",
		cnt[ring.StatusValid], cnt[ring.StatusLeaving], cnt[ring.StatusExiting], cnt[ring.StatusJoining], cnt[ring.StatusDown])
	return b.String()
}

// TestClusterLifecycle walks a cluster through every kind of change and
// writes the plans and member-status tables to testdata/plans.txt.
func TestClusterLifecycle(t *testing.T) {
	var out strings.Builder
	section := func(title string) { fmt.Fprintf(&out, "\n=== %s\n", title) }
	c := newCluster(t, 64, "a")
	st := c.state["a"]
	if st.Claimant() != "a" || !st.Ready() || st.Status("a") != ring.StatusValid || count(st.Owners(), "a") != 64 {
		t.Fatalf("fresh state: %v", st)
	}
	if _, err := st.Plan(); !errors.Is(err, ring.ErrNothingPlanned) {
		t.Fatalf("Plan on a fresh ring: %v", err)
	}

	// Three nodes, as in the demo.
	section("join b and c to a")
	for _, n := range nodes("b", "c") {
		if err := c.join(n, "a"); err != nil {
			t.Fatal(err)
		}
	}
	c.converge()
	st = c.agreed()
	if st.Status("b") != ring.StatusJoining || count(st.Owners(), "a") != 64 {
		t.Fatalf("after join: %v %v", st.Status("b"), st.Owners())
	}
	// Joining nodes are not rebalanced into the ring before a commit.
	c.settle()
	if count(c.agreed().Owners(), "a") != 64 {
		t.Fatal("joining nodes got partitions without a commit")
	}
	p := c.planCommit()
	out.WriteString(renderPlan(p))
	c.converge()
	section("member-status while transfers are pending")
	out.WriteString(renderStatus(c.agreed()))
	c.settle()
	st = c.checkSettled()
	section("member-status, 3 nodes")
	out.WriteString(renderStatus(st))
	for _, r := range first(st.MemberStatus()) {
		if r.Status != ring.StatusValid || r.RingPct < 32 || r.RingPct > 35 {
			t.Errorf("3-node row %+v", r)
		}
	}

	section("join d and e")
	for _, n := range nodes("d", "e") {
		if err := c.join(n, "c"); err != nil {
			t.Fatal(err)
		}
	}
	c.converge()
	out.WriteString(renderPlan(c.planCommit()))
	c.settle()
	st = c.checkSettled()
	out.WriteString(renderStatus(st))

	section("b stages a leave of c")
	if err := c.stage("b", ring.Change{Node: "c", Action: ring.ActionLeave}); err != nil {
		t.Fatal(err)
	}
	c.converge()
	p = c.planCommit()
	out.WriteString(renderPlan(p))
	c.converge()
	if s := c.agreed().Status("c"); s != ring.StatusLeaving {
		t.Fatalf("c is %v after commit", s)
	}
	if len(c.agreed().Staged()) != 0 {
		t.Fatalf("staged changes survive the commit: %v", c.agreed().Staged())
	}
	c.settle()
	st = c.checkSettled()
	if !c.alive("a") || c.alive("c") || c.state["c"].Status("c") != ring.StatusInvalid {
		t.Fatalf("c after leaving: alive %v, status %v", c.alive("c"), c.state["c"].Status("c"))
	}
	if count(st.Owners(), "c") != 0 || st.Status("c") != ring.StatusInvalid {
		t.Fatalf("c still owns %d (%v)", count(st.Owners(), "c"), st.Status("c"))
	}
	out.WriteString(renderStatus(st))

	section("force-remove d (no handoff)")
	if err := c.stage("a", ring.Change{Node: "d", Action: ring.ActionRemove}); err != nil {
		t.Fatal(err)
	}
	c.converge()
	dOwned := count(c.agreed().Owners(), "d")
	p = c.planCommit()
	out.WriteString(renderPlan(p))
	if got := p.Transitions[0].TotalReassigned(); got != dOwned {
		t.Errorf("plan reassigns %d of d's %d partitions", got, dOwned)
	}
	c.converge()
	if n := count(c.agreed().Owners(), "d"); n != 0 {
		t.Errorf("d still owns %d partitions right after the commit", n)
	}
	c.settle()
	st = c.checkSettled()
	out.WriteString(renderStatus(st))

	section("f replaces b")
	if err := c.join("f", "a"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	bOwned := c.agreed().Owners()
	if err := c.stage("e", ring.Change{Node: "b", Action: ring.ActionReplace, Target: "f"}); err != nil {
		t.Fatal(err)
	}
	c.converge()
	out.WriteString(renderPlan(c.planCommit()))
	c.settle()
	st = c.checkSettled()
	for p, o := range bOwned {
		want := o
		if o == "b" {
			want = "f"
		}
		if st.Owners()[p] != want {
			t.Errorf("partition %d: %s, want %s (replace moves exactly b's)", p, st.Owners()[p], want)
		}
	}
	out.WriteString(renderStatus(st))

	section("g joins, then the change is cleared")
	if err := c.join("g", "e"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	cleared, err := c.state["e"].Clear("e", c.tick())
	if err != nil {
		t.Fatal(err)
	}
	c.state["e"] = cleared
	c.converge()
	if s := c.agreed().Status("g"); s != ring.StatusInvalid || c.alive("g") {
		t.Fatalf("g after clear: %v", s)
	}

	section("the claimant a is unreachable and marked down")
	c.unreach["a"] = true
	down, err := c.state["e"].MarkDown("e", "a", c.tick())
	if err != nil {
		t.Fatal(err)
	}
	c.state["e"] = down
	c.converge()
	st = c.agreed()
	if st.Claimant() != "e" || st.Status("a") != ring.StatusDown || !st.Ready() {
		t.Fatalf("after down: claimant %s, a %v, ready %v", st.Claimant(), st.Status("a"), st.Ready())
	}
	out.WriteString(renderStatus(st))
	rs := st.RingStatus()
	if rs.Claimant != "e" || !rs.Ready || !slices.Equal(rs.Down, nodes("a")) {
		t.Errorf("RingStatus %+v", rs)
	}
	// A node joins and is committed while a is down: a keeps its
	// partitions and neither gives nor takes any.
	aOwned := c.agreed().Owners()
	if err := c.join("h", "e"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	out.WriteString(renderPlan(c.planCommit()))
	c.settle()
	st = c.agreed()
	for p, o := range st.Owners() {
		if (o == "a") != (aOwned[p] == "a") {
			t.Fatalf("partition %d moved to or from the down node a", p)
		}
	}

	section("a comes back and rejoins")
	c.unreach["a"] = false
	c.settle()
	st = c.checkSettled()
	if st.Status("a") != ring.StatusValid || st.Claimant() != "e" {
		t.Fatalf("a after coming back: %v, claimant %s", st.Status("a"), st.Claimant())
	}
	if c.replies[ring.ReplyRejoin] == 0 {
		t.Error("nobody ever told a to rejoin")
	}
	out.WriteString(renderStatus(st))
	golden(t, "plans.txt", []byte(trimLines(out.String())))
}

func first[A, B any](a A, _ B) A { return a }

func TestStageValidation(t *testing.T) {
	c := newCluster(t, 16, "a")
	only := c.state["a"]
	for _, tc := range []struct {
		ch   ring.Change
		want error
	}{
		{ring.Change{Node: "a", Action: ring.ActionLeave}, ring.ErrOnlyMember},
		{ring.Change{Node: "a", Action: ring.ActionRemove}, ring.ErrIsClaimant},
		{ring.Change{Node: "z", Action: ring.ActionLeave}, ring.ErrNotMember},
		{ring.Change{Node: "a", Action: ring.ActionJoin}, ring.ErrBadChange},
		{ring.Change{Node: "a", Action: 99}, ring.ErrBadChange},
	} {
		if _, err := only.Stage("a", tc.ch, 1); !errors.Is(err, tc.want) {
			t.Errorf("single node, %v: %v, want %v", tc.ch, err, tc.want)
		}
	}
	for _, n := range nodes("b", "c") {
		if err := c.join(n, "a"); err != nil {
			t.Fatal(err)
		}
	}
	c.converge()
	c.planCommit()
	c.settle()
	if err := c.join("j", "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.join("k", "a"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	st := c.state["a"]
	for _, tc := range []struct {
		ch   ring.Change
		want error
	}{
		{ring.Change{Node: "b", Action: ring.ActionLeave}, nil},
		{ring.Change{Node: "b", Action: ring.ActionRemove}, nil},
		{ring.Change{Node: "a", Action: ring.ActionRemove}, ring.ErrIsClaimant},
		{ring.Change{Node: "a", Action: ring.ActionForceReplace, Target: "j"}, ring.ErrIsClaimant},
		{ring.Change{Node: "b", Action: ring.ActionReplace, Target: "j"}, nil},
		{ring.Change{Node: "b", Action: ring.ActionReplace, Target: "c"}, ring.ErrNotJoining},
		{ring.Change{Node: "b", Action: ring.ActionReplace, Target: "b"}, ring.ErrBadChange},
		{ring.Change{Node: "b", Action: ring.ActionReplace}, ring.ErrBadChange},
		{ring.Change{Node: "j", Action: ring.ActionLeave}, ring.ErrNotMember},
	} {
		if _, err := st.Stage("a", tc.ch, 1); !errors.Is(err, tc.want) {
			t.Errorf("%v: %v, want %v", tc.ch, err, tc.want)
		}
	}
	st, _ = st.Stage("a", ring.Change{Node: "b", Action: ring.ActionReplace, Target: "j"}, 1)
	if _, err := st.Stage("a", ring.Change{Node: "c", Action: ring.ActionReplace, Target: "j"}, 1); !errors.Is(err, ring.ErrAlreadyReplacement) {
		t.Errorf("second replacement by j: %v", err)
	}
	if _, err := st.Stage("a", ring.Change{Node: "c", Action: ring.ActionReplace, Target: "k"}, 1); err != nil {
		t.Errorf("replacement by k: %v", err)
	}
	// The leave of a leaving node.
	c.state["a"] = st
	c.converge()
	c.planCommit()
	c.converge()
	if _, err := c.state["a"].Stage("a", ring.Change{Node: "b", Action: ring.ActionLeave}, 1); !errors.Is(err, ring.ErrAlreadyLeaving) {
		t.Errorf("leave of a leaving node: %v", err)
	}
}

func TestJoinErrors(t *testing.T) {
	c := newCluster(t, 16, "a")
	if err := c.join("b", "a"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	seed := c.state["a"]
	if _, err := ring.Join(ring.State{}, seed, "b", meta("b"), 1); !errors.Is(err, ring.ErrAlreadyMember) {
		t.Errorf("join of a member: %v", err)
	}
	other, _ := ring.NewState("other", 16, 0, "x", meta("x"), 1)
	other2, _ := ring.Join(ring.State{}, other, "y", meta("y"), 2)
	if _, err := ring.Join(other2, seed, "x", meta("x"), 3); !errors.Is(err, ring.ErrNotSingleNode) {
		t.Errorf("join from a cluster: %v", err)
	}
	big, _ := ring.NewState("big", 32, 0, "x", meta("x"), 1)
	if _, err := ring.Join(big, seed, "x", meta("x"), 3); !errors.Is(err, ring.ErrSizeMismatch) {
		t.Errorf("join with another ring size: %v", err)
	}
	if _, err := ring.Join(ring.State{}, ring.State{}, "x", meta("x"), 3); !errors.Is(err, ring.ErrZeroState) {
		t.Errorf("join of the zero state: %v", err)
	}
	// Gossip between clusters is refused.
	if _, _, err := ring.Reconcile(seed, other, "x"); !errors.Is(err, ring.ErrClusterMismatch) {
		t.Errorf("Reconcile across clusters: %v", err)
	}
	if _, _, err := ring.Reconcile(seed, seed, "zz"); !errors.Is(err, ring.ErrSenderUnknown) {
		t.Errorf("Reconcile from a stranger: %v", err)
	}
	if _, err := ring.Merge(seed, big); err == nil {
		t.Error("Merge of different clusters")
	}
}

// TestCommitErrors: commit is the claimant's, on a ready ring, with
// something staged, and with the plan the operator saw.
func TestCommitErrors(t *testing.T) {
	c := newCluster(t, 16, "a")
	if _, err := c.state["a"].Commit("a", nil, 1); !errors.Is(err, ring.ErrNothingPlanned) {
		t.Errorf("empty commit: %v", err)
	}
	for _, n := range nodes("b", "c") {
		if err := c.join(n, "a"); err != nil {
			t.Fatal(err)
		}
	}
	c.converge()
	c.planCommit()
	c.settle()

	if err := c.join("d", "a"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	if _, err := c.state["b"].Commit("b", nil, 1); !errors.Is(err, ring.ErrNotClaimant) {
		t.Errorf("commit on b: %v", err)
	}
	p, err := c.state["a"].Plan()
	if err != nil {
		t.Fatal(err)
	}
	// The plan changes when another node joins in between.
	if err := c.join("e", "b"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	if _, err := c.state["a"].Commit("a", &p, 1); !errors.Is(err, ring.ErrPlanChanged) {
		t.Errorf("commit of a stale plan: %v", err)
	}
	// A change b and c have not seen yet: not ready.
	st, err := c.state["a"].Stage("a", ring.Change{Node: "b", Action: ring.ActionLeave}, c.tick())
	if err != nil {
		t.Fatal(err)
	}
	if st.Ready() {
		t.Fatal("ready before b and c saw the change")
	}
	if _, err := st.Commit("a", nil, 1); !errors.Is(err, ring.ErrNotReady) {
		t.Errorf("commit on an unready ring: %v", err)
	}
	if _, err := st.Plan(); !errors.Is(err, ring.ErrNotReady) {
		t.Errorf("plan on an unready ring: %v", err)
	}
	// Once they have, it commits, and the plan's first transition is what
	// commit installs.
	c.state["a"] = st
	c.converge()
	p, err = c.state["a"].Plan()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 3 {
		t.Errorf("changes %v", p.Changes)
	}
	next, err := c.state["a"].Commit("a", &p, c.tick())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(next.FutureOwners(), p.Transitions[0].Future) || !slices.Equal(next.Owners(), p.Transitions[0].Owners) {
		t.Error("commit installed something else than the plan's first transition")
	}
}

// TestTransfersAndStatus checks the transfer list and the status helpers
// in the middle of a rebalance.
func TestTransfersAndStatus(t *testing.T) {
	c := newCluster(t, 16, "a")
	if err := c.join("b", "a"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	c.planCommit()
	c.converge()
	st := c.agreed()
	tr := st.Transfers()
	if len(tr) != 8 {
		t.Fatalf("%d transfers, want 8", len(tr))
	}
	for _, x := range tr {
		if x.From != "a" || x.To != "b" || x.Complete {
			t.Fatalf("transfer %+v", x)
		}
	}
	rows, pending := st.MemberStatus()
	if !pending || len(rows) != 2 || rows[0].RingPct != 100 || rows[0].PendingPct != 50 || !rows[0].Claimant ||
		rows[1].RingPct != 0 || rows[1].PendingPct != 50 || rows[1].Status != ring.StatusValid {
		t.Fatalf("rows %+v", rows)
	}
	if _, err := st.CompleteTransfer("b", tr[0].Partition, 1); !errors.Is(err, ring.ErrNoTransfer) {
		t.Errorf("completing from the wrong node: %v", err)
	}
	a := c.state["a"]
	a, err := a.CompleteTransfer("a", tr[0].Partition, c.tick())
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.CompleteTransfer("a", tr[0].Partition, c.tick())
	if err != nil || !ring.Equal(again, a) {
		t.Errorf("second completion: %v", err)
	}
	c.state["a"] = a
	rs := a.RingStatus()
	if len(rs.Handoffs) != 1 || rs.Handoffs[0].Owner != "a" || rs.Handoffs[0].NextOwner != "b" || len(rs.Handoffs[0].Transfers) != 8 ||
		!rs.Handoffs[0].Transfers[0].Complete || rs.Handoffs[0].Transfers[1].Complete {
		t.Errorf("ring status %+v", rs)
	}
	// The claimant flips the completed one once everyone has seen it.
	c.converge()
	st = c.agreed()
	if got := len(st.Transfers()); got != 7 || st.Owners()[tr[0].Partition] != "b" {
		t.Fatalf("after one completion: %d pending, owner %s", got, st.Owners()[tr[0].Partition])
	}
	c.settle()
	st = c.checkSettled()
	if rows, pending := st.MemberStatus(); pending || rows[0].RingPct != 50 {
		t.Errorf("final rows %+v", rows)
	}
	if fo := st.FutureOwners(); !slices.Equal(fo, st.Owners()) {
		t.Error("future owners differ with nothing pending")
	}
	sort.Slice(tr, func(i, j int) bool { return tr[i].Partition < tr[j].Partition })
}

// A member that lost its state recovers the cluster's from a seed: same
// status and ownership, new meta, a fresh epoch, and the recovered state
// merges with the others' without conflict.
func TestRecoverAfterDataLoss(t *testing.T) {
	c := newCluster(t, 16, "a")
	for _, n := range []ring.NodeID{"b", "c"} {
		if err := c.join(n, "a"); err != nil {
			t.Fatal(err)
		}
	}
	c.converge()
	c.planCommit()
	c.settle()
	before := c.agreed()
	m, _ := before.Member("c")
	// c's disk is wiped: it is a fresh single-node cluster of its own.
	fresh, err := ring.NewState("own-c", 16, 0, "c", meta("c"), c.tick())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Join(fresh, before, "c", meta("c"), c.tick()); !errors.Is(err, ring.ErrAlreadyMember) {
		t.Fatalf("join of a member: %v", err)
	}
	nm := meta("c")
	nm.Incarnation = 7
	rec, err := ring.Recover(before, "c", nm, c.tick())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := rec.Member("c")
	if got.Status != ring.StatusValid || got.Meta.Incarnation != 7 || got.Epoch <= m.Epoch {
		t.Fatalf("recovered member %+v (was %+v)", got, m)
	}
	if !slices.Equal(rec.Owners(), before.Owners()) {
		t.Fatal("recovery changed the ownership")
	}
	c.state["c"] = rec
	c.converge()
	if m, _ := c.agreed().Member("c"); m.Meta.Incarnation != 7 {
		t.Fatalf("after gossip c's meta is %+v", m.Meta)
	}
	if _, err := ring.Recover(before, "zz", nm, c.tick()); !errors.Is(err, ring.ErrNotMember) {
		t.Fatalf("recover of a stranger: %v", err)
	}
}
