package ring

import (
	"slices"
	"sort"
)

// DefaultTargetN is riak_core's target_n_val: claim keeps every run of this
// many consecutive partitions on distinct nodes, so that N = 3 preference
// lists stay on distinct nodes even with one node down.
const DefaultTargetN = 4

// MaxTargetN bounds target_n_val, as riak_core's validators do (1..6 there;
// riakgo allows a little more for tests of small rings).
const MaxTargetN = 16

// Claim returns the owner of every partition for a cluster whose claiming
// members are members, starting from the current owners (one entry per
// partition; entries naming a node that is not a member must move). It
// returns nil when there are no members or no partitions.
//
// The result is:
//
//   - balanced: every member owns ⌊Q/n⌋ or ⌈Q/n⌉ partitions (Q partitions,
//     n members), so max − min ≤ 1 always;
//   - diverse: every run of d = min(targetN, n, Q) consecutive partitions
//     (cyclically) has distinct owners whenever that is possible with a
//     balanced ring, which is exactly when r = Q mod n is 0 or
//     (⌊Q/n⌋+1)·d ≤ Q (see Feasible). For every power-of-two Q ≥ 8 and
//     n ≥ targetN = 4 that holds, so Riak's "tail violations" cannot occur;
//   - minimal: a first phase moves only partitions that must move (those of
//     non-members and the excess of members above their share), so a join
//     moves exactly the new node's share and a leave exactly the leaving
//     node's partitions. Only when that leaves a diversity violation does a
//     second phase swap pairs of partitions, and only if swaps cannot fix
//     it does claim fall back to a fresh striped layout, rotated and
//     labelled to keep as many current owners as possible;
//   - deterministic: a function of (owners, the set of members, targetN);
//     the order of members does not matter.
func Claim(owners, members []NodeID, targetN int) []NodeID {
	return claim(owners, members, nil, targetN)
}

// Feasible reports whether a ring of q partitions over n nodes can be both
// balanced (max − min ≤ 1) and diverse (every run of min(targetN, n, q)
// consecutive partitions on distinct nodes). Necessity: a node with
// ⌈q/n⌉ partitions needs them pairwise at least d apart. Sufficiency: the
// striped layout Claim falls back to is built for exactly this condition.
func Feasible(q, n, targetN int) bool {
	if q < 1 || n < 1 {
		return false
	}
	d := window(targetN, n, q)
	return q%n == 0 || (q/n+1)*d <= q
}

// window is the diversity window claim aims for: min(targetN, n, q), at
// least 1.
func window(targetN, n, q int) int {
	d := min(targetN, n, q)
	if d < 1 {
		d = 1
	}
	return d
}

// Balance returns the fewest and the most partitions any of members owns
// in owners (a member owning nothing counts as 0).
func Balance(owners, members []NodeID) (lo, hi int) {
	if len(members) == 0 {
		return 0, 0
	}
	cnt := make(map[NodeID]int, len(members))
	for _, m := range members {
		cnt[m] = 0
	}
	for _, o := range owners {
		if _, ok := cnt[o]; ok {
			cnt[o]++
		}
	}
	first := true
	for _, c := range cnt {
		if first || c < lo {
			lo = c
		}
		if first || c > hi {
			hi = c
		}
		first = false
	}
	return lo, hi
}

// Violations counts the runs of n consecutive partitions (cyclically, one
// run starting at each partition; n is capped at the ring size) that do not
// have n distinct owners: the preference lists of that length that would
// put two replicas on one node.
func Violations(owners []NodeID, n int) int {
	q := len(owners)
	if n > q {
		n = q
	}
	if n <= 1 {
		return 0
	}
	bad := 0
	for p := 0; p < q; p++ {
	window:
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				if owners[(p+i)%q] == owners[(p+j)%q] {
					bad++
					break window
				}
			}
		}
	}
	return bad
}

// MeetsTargetN reports whether every run of min(targetN, distinct owners)
// consecutive partitions has distinct owners (riak_core's check_ring, used
// for plan's "Not all replicas will be on distinct nodes" warning).
func MeetsTargetN(owners []NodeID, targetN int) bool {
	distinct := map[NodeID]bool{}
	for _, o := range owners {
		distinct[o] = true
	}
	return Violations(owners, min(targetN, len(distinct))) == 0
}

// Moved counts the partitions whose owner differs between a and b.
func Moved(a, b []NodeID) int {
	n := 0
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			n++
		}
	}
	return n + max(0, len(b)-len(a))
}

// claimer holds the working state of one claim. Members are numbered in
// sorted order; own[p] is the member owning p or -1 for a non-member.
type claimer struct {
	size   int
	d      int
	names  []NodeID
	own    []int
	cnt    []int
	target []int
	frozen []bool
}

// claim is Claim with a set of frozen members (down nodes): they keep
// exactly the partitions they own, receive none, and balance is computed
// over the other members and partitions. The striped fallback is not used
// while any member is frozen.
func claim(owners, members []NodeID, frozen map[NodeID]bool, targetN int) []NodeID {
	size := len(owners)
	names := sortedNodes(members)
	if size == 0 || len(names) == 0 {
		return nil
	}
	c := &claimer{
		size:   size,
		d:      window(targetN, len(names), size),
		names:  names,
		own:    make([]int, size),
		cnt:    make([]int, len(names)),
		target: make([]int, len(names)),
		frozen: make([]bool, len(names)),
	}
	index := make(map[NodeID]int, len(names))
	anyFrozen := false
	for i, n := range names {
		index[n] = i
		if frozen[n] {
			c.frozen[i] = true
			anyFrozen = true
		}
	}
	movable := size
	for p, o := range owners {
		i, ok := index[o]
		if !ok {
			c.own[p] = -1
			continue
		}
		c.own[p] = i
		c.cnt[i]++
		if c.frozen[i] {
			movable--
		}
	}
	orig := slices.Clone(c.own)

	// Shares: ⌊movable/m⌋ each, one more for the r members that own most
	// now (ties by name), so that nobody gives up a partition it would
	// only get back.
	var free []int
	for i := range names {
		if !c.frozen[i] {
			free = append(free, i)
		}
	}
	if len(free) == 0 {
		return slices.Clone(owners)
	}
	share, extra := movable/len(free), movable%len(free)
	byCount := slices.Clone(free)
	sort.SliceStable(byCount, func(a, b int) bool { return c.cnt[byCount[a]] > c.cnt[byCount[b]] })
	for k, i := range byCount {
		c.target[i] = share
		if k < extra {
			c.target[i]++
		}
	}

	c.balance()
	c.repairAll()
	if v := c.pairViolations(); v > 0 && !anyFrozen {
		w := c.windowViolations()
		saved := c.own
		c.own = c.striped(orig)
		if w2 := c.windowViolations(); w2 < w || (w2 == w && c.pairViolations() < v) {
			c.recount()
		} else {
			c.own = saved
		}
	}
	// Revert and repair until neither changes anything. Repair steps
	// lower (bad runs, conflicting pairs); revert steps lower the number of
	// moved partitions without raising either, so this ends, and at the
	// end claim is a fixed point: claiming the result again moves nothing.
	for {
		reverted := c.revert(orig)
		if !c.repairAll() && !reverted {
			break
		}
	}
	out := make([]NodeID, size)
	for p, i := range c.own {
		if i < 0 {
			out[p] = owners[p]
		} else {
			out[p] = names[i]
		}
	}
	return out
}

// sortedNodes returns the distinct non-empty nodes in order.
func sortedNodes(nodes []NodeID) []NodeID {
	out := make([]NodeID, 0, len(nodes))
	for _, n := range nodes {
		if n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// conflicts counts the partitions other than p and skip, within cyclic
// distance d-1 of p, that member i owns: the replicas i would share a
// preference list with if it owned p.
func (c *claimer) conflicts(i, p, skip int) int {
	if c.d <= 1 {
		return 0
	}
	n := 0
	if 2*c.d-1 >= c.size {
		for x := 0; x < c.size; x++ {
			if x != p && x != skip && c.own[x] == i {
				n++
			}
		}
		return n
	}
	for k := 1; k < c.d; k++ {
		for _, x := range [2]int{(p + k) % c.size, (p - k + c.size) % c.size} {
			if x != skip && c.own[x] == i {
				n++
			}
		}
	}
	return n
}

// violating reports whether p's owner owns another partition within d-1.
func (c *claimer) violating(p int) bool {
	return c.own[p] >= 0 && c.conflicts(c.own[p], p, -1) > 0
}

// pairViolations counts the pairs of partitions closer than d with the
// same owner.
func (c *claimer) pairViolations() int {
	n := 0
	for p := range c.own {
		if c.own[p] >= 0 {
			n += c.conflicts(c.own[p], p, -1)
		}
	}
	return n / 2
}

// windowViolations counts the runs of d consecutive partitions that do
// not have d distinct owners.
func (c *claimer) windowViolations() int {
	bad := 0
	for p := range c.own {
		if c.badRun(p) {
			bad++
		}
	}
	return bad
}

// windowsAround counts the bad runs of d partitions that contain p or p2
// (p2 < 0 for none), each once.
func (c *claimer) windowsAround(p, p2 int) int {
	bad := 0
	for start := p - c.d + 1; start <= p; start++ {
		if c.badRun(start) {
			bad++
		}
	}
	if p2 < 0 {
		return bad
	}
	for start := p2 - c.d + 1; start <= p2; start++ {
		// Skip runs already counted: those that also contain p.
		if dp := ((p-start)%c.size + c.size) % c.size; dp < c.d {
			continue
		}
		if c.badRun(start) {
			bad++
		}
	}
	return bad
}

// badRun reports whether the d partitions from start (mod size) repeat an
// owner.
func (c *claimer) badRun(start int) bool {
	start = (start%c.size + c.size) % c.size
	for i := 0; i < c.d; i++ {
		for j := i + 1; j < c.d; j++ {
			if c.own[(start+i)%c.size] == c.own[(start+j)%c.size] {
				return true
			}
		}
	}
	return false
}

func (c *claimer) give(p, to int) {
	if from := c.own[p]; from >= 0 {
		c.cnt[from]--
	}
	c.own[p] = to
	c.cnt[to]++
}

// balance is the first phase: until every member has its share, the member
// furthest below it takes one partition that must move anyway (a
// non-member's, or one of a member above its share). It prefers, in order:
// no new diversity conflict, fixing an existing one, a non-member's
// partition, and the partition furthest from those it already owns (so a
// joining node's partitions are spread evenly). Each step moves one
// partition and the number of steps is the total shortfall, so this phase
// moves the minimum.
func (c *claimer) balance() {
	nearest := make([]int, c.size)
	for {
		x, want := -1, 0
		for i := range c.names {
			if !c.frozen[i] && c.target[i]-c.cnt[i] > want {
				x, want = i, c.target[i]-c.cnt[i]
			}
		}
		if x < 0 {
			return
		}
		c.distances(x, nearest)
		best := -1
		var bk [4]int
		for p, o := range c.own {
			if o >= 0 && (c.frozen[o] || c.cnt[o] <= c.target[o]) {
				continue
			}
			k := [4]int{c.conflicts(x, p, -1), 1, -c.size, -nearest[p]}
			if c.violating(p) {
				k[1] = 0
			}
			if o >= 0 {
				k[2] = -(c.cnt[o] - c.target[o])
			}
			if best < 0 || less4(k, bk) {
				best, bk = p, k
			}
		}
		if best < 0 {
			return // unreachable: a shortfall implies a surplus
		}
		c.give(best, x)
	}
}

func less4(a, b [4]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// distances fills out[p] with the cyclic distance from p to the nearest
// partition member x owns (size when it owns none).
func (c *claimer) distances(x int, out []int) {
	q := c.size
	for p := range out {
		out[p] = q
	}
	last := -1
	for k := 0; k < 2*q; k++ {
		p := k % q
		if c.own[p] == x {
			last = k
		}
		if last >= 0 && k-last < out[p] {
			out[p] = k - last
		}
	}
	last = -1
	for k := 2*q - 1; k >= 0; k-- {
		p := k % q
		if c.own[p] == x {
			last = k
		}
		if last >= 0 && last-k < out[p] {
			out[p] = last - k
		}
	}
}

// repairAll is the second phase, run to its fixed point (it reports
// whether it changed anything): for each partition whose owner has another
// partition within d-1, hand it to a member one below its owner's count
// (which keeps the balance) or swap it with a partition of another member,
// in either case only where nobody gets a new conflict. Every accepted
// step removes at least one conflicting pair, so the phase ends.
func (c *claimer) repairAll() bool {
	did := false
	for progress := true; progress; {
		progress = false
		for p := range c.own {
			a := c.own[p]
			if a < 0 || c.frozen[a] || c.conflicts(a, p, -1) == 0 {
				continue
			}
			if c.repairMove(p) || c.repairSwap(p) {
				progress, did = true, true
			}
		}
	}
	return did
}

func (c *claimer) repairMove(p int) bool {
	a := c.own[p]
	ca := c.conflicts(a, p, -1)
	type cand struct{ conf, cnt, i int }
	var cands []cand
	for i := range c.names {
		if i == a || c.frozen[i] || c.cnt[i] >= c.cnt[a] {
			continue
		}
		if ci := c.conflicts(i, p, -1); ci < ca {
			cands = append(cands, cand{ci, c.cnt[i], i})
		}
	}
	sort.Slice(cands, func(x, y int) bool {
		if cands[x].conf != cands[y].conf {
			return cands[x].conf < cands[y].conf
		}
		if cands[x].cnt != cands[y].cnt {
			return cands[x].cnt < cands[y].cnt
		}
		return cands[x].i < cands[y].i
	})
	w := c.windowsAround(p, -1)
	for _, b := range cands {
		c.give(p, b.i)
		if c.windowsAround(p, -1) <= w {
			return true
		}
		c.give(p, a)
	}
	return false
}

// repairSwap swaps p with the partition of another member that lowers the
// number of conflicting pairs most without adding a bad run (ties: the
// first in ring order from p).
func (c *claimer) repairSwap(p int) bool {
	a := c.own[p]
	ca := c.conflicts(a, p, -1)
	type cand struct{ delta, k int }
	var cands []cand
	for k := 1; k < c.size; k++ {
		p2 := (p + k) % c.size
		b := c.own[p2]
		if b < 0 || b == a || c.frozen[b] {
			continue
		}
		delta := c.conflicts(a, p2, p) + c.conflicts(b, p, p2) - ca - c.conflicts(b, p2, -1)
		if delta < 0 {
			cands = append(cands, cand{delta, k})
		}
	}
	sort.SliceStable(cands, func(x, y int) bool { return cands[x].delta < cands[y].delta })
	for _, cd := range cands {
		p2 := (p + cd.k) % c.size
		b := c.own[p2]
		w := c.windowsAround(p, p2)
		c.own[p], c.own[p2] = b, a
		if c.windowsAround(p, p2) <= w {
			return true
		}
		c.own[p], c.own[p2] = a, b
	}
	return false
}

// recount recomputes cnt from own.
func (c *claimer) recount() {
	clear(c.cnt)
	for _, i := range c.own {
		if i >= 0 {
			c.cnt[i]++
		}
	}
}

// revert is the last phase: it undoes moves where that costs neither
// balance nor diversity. A partition goes back to its original owner b by
// a plain move when its current owner has one partition more than b, or
// by swapping with a partition b holds now; a swap or move is taken only
// if it lowers the number of moved partitions and adds no conflicting
// pair. Repair swaps and the striped fallback move more than the minimum;
// this takes back what it can.
func (c *claimer) revert(orig []int) bool {
	did := false
	moved := func(p int) int {
		if c.own[p] != orig[p] {
			return 1
		}
		return 0
	}
	for progress := true; progress; {
		progress = false
		for p := range c.own {
			a, b := c.own[p], orig[p]
			if a == b || a < 0 || b < 0 || c.frozen[a] || c.frozen[b] {
				continue
			}
			ca := c.conflicts(a, p, -1)
			if c.cnt[a] > c.cnt[b] && c.conflicts(b, p, -1) <= ca {
				w := c.windowsAround(p, -1)
				c.give(p, b)
				if c.windowsAround(p, -1) <= w {
					progress, did = true, true
					continue
				}
				c.give(p, a)
			}
			for p2 := range c.own {
				if c.own[p2] != b || p2 == p {
					continue
				}
				// p goes back to b; p2 goes to a, which may or may not
				// be its original owner.
				if moved(p)+moved(p2) <= boolInt(orig[p2] != a) {
					continue
				}
				old := ca + c.conflicts(b, p2, -1)
				if c.conflicts(b, p, p2)+c.conflicts(a, p2, p) > old {
					continue
				}
				w := c.windowsAround(p, p2)
				c.own[p], c.own[p2] = b, a
				if c.windowsAround(p, p2) <= w {
					progress, did = true, true
					break
				}
				c.own[p], c.own[p2] = a, b
			}
		}
	}
	return did
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// stripe returns a balanced, diverse layout of q partitions over n
// "slots" (slot k will be some member), assuming Feasible(q, n, d):
// q div n + 1 rounds of the slots in order, where the n − (q mod n)
// slots that get one partition fewer are each left out of one round, in
// blocks of at most n − d per round, the highest slots in the first round.
// Two occurrences of a slot in consecutive rounds then have at least d − 1
// others between them, including across the wrap.
func stripe(q, n, d int) []int {
	seq := make([]int, 0, q)
	rounds, r := q/n, q%n
	if !Feasible(q, n, d) {
		// No layout is both balanced and diverse: plain striping, whose
		// only conflicts are where the last partial round meets the first.
		for p := 0; p < q; p++ {
			seq = append(seq, p%n)
		}
		return seq
	}
	skip := make([]int, n)
	for x := range skip {
		skip[x] = -1
	}
	if r != 0 {
		rounds++
		s := n - d
		round, used := 0, 0
		for x := n - 1; x >= r; x-- {
			if used == s {
				round, used = round+1, 0
			}
			skip[x] = round
			used++
		}
	}
	for j := 0; j < rounds; j++ {
		for x := 0; x < n; x++ {
			if skip[x] != j {
				seq = append(seq, x)
			}
		}
	}
	return seq
}

// striped is the last-resort layout: stripe, rotated and with slots
// assigned to members so that as many partitions as possible keep the
// owner they had in orig.
func (c *claimer) striped(orig []int) []int {
	n, q := len(c.names), c.size
	seq := stripe(q, n, c.d)
	overlap := make([]int, n*n)
	type cell struct{ score, slot, member int }
	cells := make([]cell, 0, n*n)
	bestScore, bestRot := -1, 0
	var bestMap []int
	for rot := 0; rot < q; rot++ {
		clear(overlap)
		for p, m := range orig {
			if m >= 0 {
				overlap[seq[(p+rot)%q]*n+m]++
			}
		}
		cells = cells[:0]
		for i, v := range overlap {
			if v > 0 {
				cells = append(cells, cell{v, i / n, i % n})
			}
		}
		sort.Slice(cells, func(a, b int) bool {
			if cells[a].score != cells[b].score {
				return cells[a].score > cells[b].score
			}
			if cells[a].slot != cells[b].slot {
				return cells[a].slot < cells[b].slot
			}
			return cells[a].member < cells[b].member
		})
		slotTo := make([]int, n)
		taken := make([]bool, n)
		for i := range slotTo {
			slotTo[i] = -1
		}
		score := 0
		for _, e := range cells {
			if slotTo[e.slot] < 0 && !taken[e.member] {
				slotTo[e.slot], taken[e.member] = e.member, true
				score += e.score
			}
		}
		if score > bestScore {
			m := 0
			for s := range slotTo {
				if slotTo[s] < 0 {
					for taken[m] {
						m++
					}
					slotTo[s], taken[m] = m, true
				}
			}
			bestScore, bestRot, bestMap = score, rot, slotTo
		}
	}
	out := make([]int, q)
	for p := range out {
		out[p] = bestMap[seq[(p+bestRot)%q]]
	}
	return out
}
