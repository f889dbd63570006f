package ring

import (
	"errors"
	"fmt"
	"slices"
)

// Coverage plans. A query that must see every key once (key listing,
// secondary indexes) asks a set of vnodes that between them hold a replica
// of every key. With n replicas, the vnode of partition v holds the keys
// whose home partition (Ring.Partition of the key's hash) is one of
// v-n+1 … v, wrapping: a key is stored on its home partition and the n-1
// that follow. A plan is a set of vnodes on up owners, each told which of
// those home partitions it answers for, so that every home partition is
// answered for exactly once (riak_core_coverage_plan's vnode filters).

// ErrInsufficientVnodes: no coverage plan exists, because some home
// partition has none of its n primary vnodes on an up node (Riak's
// insufficient_vnodes_available).
var ErrInsufficientVnodes = errors.New("riakgo/ring: insufficient_vnodes_available")

// CoverageError is the ErrInsufficientVnodes Coverage returns, with why
// in Reason, as data a client's answer shows ("home partitions [3] have
// no primary vnode on an up node (n_val 3)"). It reads as
// fmt.Errorf("%w: %s", ErrInsufficientVnodes, Reason) does.
type CoverageError struct{ Reason string }

func (e *CoverageError) Error() string { return ErrInsufficientVnodes.Error() + ": " + e.Reason }

// Unwrap returns ErrInsufficientVnodes.
func (e *CoverageError) Unwrap() error { return ErrInsufficientVnodes }

// CoverageEntry is one vnode of a coverage plan.
type CoverageEntry struct {
	// Partition is the vnode's partition, Node its owner.
	Partition int
	Node      NodeID
	// Homes are the home partitions this vnode answers for, in ring
	// order from the first (a subset of Partition-n+1 … Partition).
	Homes []int
}

// Coverage returns a coverage plan of r at n replicas using only primary
// vnodes whose owner is up (up == nil: every node is up): a set of vnodes,
// sorted by partition, whose Homes partition the ring's home partitions,
// each home answered by a vnode that holds its keys. The plan has as few
// vnodes as any such plan can have — ⌈Q/n⌉ when every node is up. offset
// picks among equally small plans (a request counter or a random number
// spreads the load over the vnodes; the same offset gives the same plan).
// n is capped at the ring size. If some home partition has no primary on
// an up node, Coverage returns an error wrapping ErrInsufficientVnodes that
// names those partitions.
//
// Riak's planner walks the vnodes in an offset order and takes every vnode
// that still adds a home partition, which is not always minimal when nodes
// are down; this one is (see coverArc).
func Coverage(r *Ring, n int, up func(NodeID) bool, offset uint64) ([]CoverageEntry, error) {
	q := r.Size()
	if n < 1 {
		return nil, fmt.Errorf("riakgo/ring: coverage plan for n_val %d", n)
	}
	n = min(n, q)
	avail := make([]bool, q)
	isUp := map[NodeID]bool{} // one call of up per node
	for v := range avail {
		id := r.owners[v]
		ok, seen := isUp[id]
		if !seen {
			ok = up == nil || up(id)
			isUp[id] = ok
		}
		avail[v] = ok
	}
	// A home partition h is held by vnodes h … h+n-1.
	var uncovered []int
	for h := 0; h < q; h++ {
		ok := false
		for i := 0; i < n && !ok; i++ {
			ok = avail[(h+i)%q]
		}
		if !ok {
			uncovered = append(uncovered, h)
		}
	}
	if len(uncovered) > 0 {
		return nil, &CoverageError{Reason: fmt.Sprintf("home partitions %s have no primary vnode on an up node (n_val %d)", partitionList(uncovered), n)}
	}
	// Some vnode of every plan holds the anchor home partition h0: try each
	// of them as the plan's first vnode and complete the cover greedily.
	h0 := int(offset % uint64(q))
	rot := int(offset / uint64(q) % uint64(n))
	var best []int
	for i := 0; i < n; i++ {
		// Unwrapped positions: first-n+1 stays positive.
		first := q + h0 + (rot+i)%n
		if !avail[first%q] {
			continue
		}
		if plan := coverArc(avail, n, first); plan != nil && (best == nil || len(plan) < len(best)) {
			best = plan
		}
	}
	if best == nil { // cannot happen: every home has an available vnode
		return nil, &CoverageError{Reason: fmt.Sprintf("no plan found (n_val %d)", n)}
	}
	// best[0] answers for its n homes; each next vnode for the homes past
	// the previous one, the last stopping short of best[0]'s.
	end := best[0] - n + q // last home to cover, unwrapped
	out := make([]CoverageEntry, len(best))
	prev := best[0] - n
	for i, v := range best {
		hi := min(v, end)
		if i == 0 {
			hi = v
		}
		homes := make([]int, 0, hi-prev)
		for h := prev + 1; h <= hi; h++ {
			homes = append(homes, h%q)
		}
		out[i] = CoverageEntry{Partition: v % q, Node: r.owners[v%q], Homes: homes}
		prev = hi
	}
	slices.SortFunc(out, func(a, b CoverageEntry) int { return a.Partition - b.Partition })
	return out, nil
}

// coverArc returns the vnodes (unwrapped positions) of a smallest cover
// whose first vnode is first: first covers homes first-n+1 … first, and
// the rest of the circle, homes first+1 … first-n+Q, is a line covered
// greedily, each step taking the available vnode that reaches furthest,
// which is optimal for a line of equal-length arcs. It returns nil if some
// home has no available vnode (the caller has checked that none lacks one).
func coverArc(avail []bool, n, first int) []int {
	q := len(avail)
	plan := []int{first}
	end, last := first, first-n+q
	for end < last {
		next := -1
		for v := end + n; v > end; v-- {
			if avail[v%q] {
				next = v
				break
			}
		}
		if next < 0 {
			return nil
		}
		plan = append(plan, next)
		end = next
	}
	return plan
}

// partitionList formats partitions compactly: runs as a–b.
func partitionList(ps []int) string {
	b := []byte{'['}
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1] == ps[j]+1 {
			j++
		}
		if i > 0 {
			b = append(b, ' ')
		}
		if j > i {
			b = fmt.Appendf(b, "%d-%d", ps[i], ps[j])
		} else {
			b = fmt.Appendf(b, "%d", ps[i])
		}
		i = j + 1
	}
	return string(append(b, ']'))
}
