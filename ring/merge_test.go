package ring_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/vclock"
)

// history drives a simulated cluster through random operations with
// partial gossip and network splits, and samples states along the way.
type history struct {
	c    *cluster
	rng  *rand.Rand
	side map[ring.NodeID]int // network split: gossip only within a side
	pool []ring.State
	op   string // the last operation, for debugging
}

var historyNodes = nodes("a", "b", "c", "d", "e", "f", "g")

func newHistory(t testing.TB, rng *rand.Rand, size int) *history {
	return &history{c: newCluster(t, size, "a"), rng: rng, side: map[ring.NodeID]int{}}
}

func (h *history) pick(ns []ring.NodeID) ring.NodeID { return ns[h.rng.IntN(len(ns))] }

func (h *history) send(from, to ring.NodeID) {
	if h.side[from] == h.side[to] {
		h.c.send(from, to)
	}
}

// step performs one random operation.
func (h *history) step() {
	c := h.c
	live := c.live()
	if len(live) == 0 {
		return
	}
	n := h.pick(live)
	st := c.state[n]
	op := h.rng.IntN(20)
	h.op = fmt.Sprintf("op %d by %s", op, n)
	switch {
	case op == 0: // a new node joins through n
		var fresh []ring.NodeID
		for _, x := range historyNodes {
			if _, ok := c.state[x]; !ok {
				fresh = append(fresh, x)
			} else if c.state[x].Status(x) == ring.StatusInvalid && st.Status(x) == ring.StatusInvalid {
				fresh = append(fresh, x) // removed: may join again
			}
		}
		if len(fresh) > 0 {
			x := h.pick(fresh)
			delete(c.state, x)
			h.side[x] = h.side[n]
			_ = c.join(x, n)
		}
	case op == 1: // n stages a random change
		members := st.MembersWith(ring.StatusValid, ring.StatusJoining, ring.StatusLeaving, ring.StatusDown)
		if len(st.MembersWith(ring.StatusValid)) > 2 {
			acts := []ring.Action{ring.ActionLeave, ring.ActionRemove, ring.ActionReplace, ring.ActionForceReplace}
			ch := ring.Change{Node: h.pick(members), Action: acts[h.rng.IntN(len(acts))], Target: h.pick(members)}
			_ = c.stage(n, ch)
		}
	case op == 2: // whoever thinks it is the claimant commits
		if st.Claimant() == n {
			if next, err := st.Commit(n, nil, c.tick()); err == nil {
				c.state[n] = next
			}
		}
	case op == 3: // n finishes one of its handoffs
		if st.Ready() {
			for _, tr := range st.Transfers() {
				if tr.From == n && !tr.Complete {
					c.state[n], _ = st.CompleteTransfer(n, tr.Partition, c.tick())
					break
				}
			}
		}
	case op == 4: // an unreachable node is marked down by n
		if len(live) > 2 {
			y := h.pick(live)
			if y != n {
				c.unreach[y] = true
				c.state[n], _ = st.MarkDown(n, y, c.tick())
			}
		}
	case op == 5: // a node becomes reachable again
		for _, x := range sortedNames(c.unreach) {
			if c.unreach[x] && h.rng.IntN(2) == 0 {
				c.unreach[x] = false
			}
		}
	case op == 6: // the network splits in two, or heals
		if h.rng.IntN(2) == 0 {
			for _, x := range sortedNames(c.state) {
				h.side[x] = h.rng.IntN(2)
			}
		} else {
			clear(h.side)
		}
	case op == 7:
		if h.rng.IntN(4) == 0 {
			c.state[n], _ = st.Clear(n, c.tick())
		}
	case op < 18:
		h.send(n, h.pick(live))
	default:
		c.state[n], _ = st.Advance(n, c.tick())
	}
	// A node whose own change removed it (a joining node running clear)
	// gossips that once before it stops.
	if s, ok := c.state[n]; ok && s.Status(n) == ring.StatusInvalid && st.Status(n) != ring.StatusInvalid {
		var peers []ring.NodeID
		for _, x := range c.live() {
			if h.side[x] == h.side[n] {
				peers = append(peers, x)
			}
		}
		if len(peers) > 0 {
			c.receive(h.pick(peers), s, n, 0)
		}
	}
	// Sample a state.
	if h.rng.IntN(3) == 0 {
		x := h.pick(live)
		if s, ok := c.state[x]; ok {
			h.pool = append(h.pool, s)
		}
	}
}

// settleAll heals everything, commits whatever is staged and lets the
// cluster finish.
func (h *history) settleAll() {
	c := h.c
	clear(h.side)
	clear(c.unreach)
	for i := 0; i < 5; i++ {
		c.settle()
		cl, st := c.claimant()
		if _, err := st.Plan(); err != nil {
			break
		}
		next, err := st.Commit(cl, nil, c.tick())
		if err != nil {
			c.t.Fatalf("final commit: %v", err)
		}
		c.state[cl] = next
	}
	c.settle()
}

func sortedNames[V any](m map[ring.NodeID]V) []ring.NodeID {
	out := make([]ring.NodeID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func mustMerge(t *testing.T, a, b ring.State) ring.State {
	t.Helper()
	m, err := ring.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameContent compares everything but seen.
func sameContent(a, b ring.State) bool {
	return slices.Equal(a.Owners(), b.Owners()) &&
		slices.Equal(a.Transfers(), b.Transfers()) &&
		slices.Equal(a.Members(), b.Members()) &&
		slices.Equal(a.Staged(), b.Staged()) &&
		a.Claimant() == b.Claimant() &&
		a.Clock().Equal(b.Clock()) &&
		a.RingVersion().Equal(b.RingVersion())
}

// TestMergeLaws: on states sampled from random histories, Merge is
// commutative, associative and idempotent; its clock is the merge of the
// clocks; a state whose clock descends the other's wins unchanged (bar
// seen); and every history converges once the network heals.
func TestMergeLaws(t *testing.T) {
	rng := newRand(t)
	for hist := 0; hist < 25; hist++ {
		h := newHistory(t, rng, []int{8, 16, 32}[hist%3])
		for i := 0; i < 250; i++ {
			h.step()
		}
		pool := h.pool
		if len(pool) < 2 {
			continue
		}
		for k := 0; k < 150; k++ {
			a, b, c := pool[rng.IntN(len(pool))], pool[rng.IntN(len(pool))], pool[rng.IntN(len(pool))]
			ab, ba := mustMerge(t, a, b), mustMerge(t, b, a)
			if !ring.Equal(ab, ba) {
				t.Fatalf("history %d: Merge not commutative:\n%v\n%v", hist, a, b)
			}
			if !ring.Equal(mustMerge(t, a, a), a) {
				t.Fatalf("history %d: Merge not idempotent: %v", hist, a)
			}
			if !ring.Equal(mustMerge(t, ab, c), mustMerge(t, a, mustMerge(t, b, c))) {
				t.Fatalf("history %d: Merge not associative", hist)
			}
			if !ring.Equal(mustMerge(t, ab, a), ab) {
				t.Fatalf("history %d: Merge(Merge(a, b), a) != Merge(a, b)", hist)
			}
			if want := vclock.Merge(a.Clock(), b.Clock()); !ab.Clock().Equal(want) {
				t.Fatalf("history %d: merged clock %v, want %v", hist, ab.Clock(), want)
			}
			if a.Clock().Descends(b.Clock()) && !sameContent(ab, a) {
				t.Logf("owners %v %v", a.Owners(), ab.Owners())
				t.Logf("transfers %v %v", a.Transfers(), ab.Transfers())
				t.Logf("members %v\n %v", a.Members(), ab.Members())
				t.Logf("staged %v %v", a.Staged(), ab.Staged())
				t.Logf("claimant %v %v rv %v %v", a.Claimant(), ab.Claimant(), a.RingVersion(), ab.RingVersion())
				t.Fatalf("history %d: a descends b but Merge(a, b) differs from a:\n%v\n%v", hist, a, ab)
			}
			// The encoding round-trips.
			bs, err := ab.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var back ring.State
			if err := back.UnmarshalBinary(bs); err != nil || !ring.Equal(back, ab) {
				t.Fatalf("history %d: round trip: %v", hist, err)
			}
		}
		h.settleAll()
		h.c.checkSettled()
	}
}
