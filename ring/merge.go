package ring

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/riakgo/riakgo/vclock"
)

// Merge returns the join of two states of one cluster: riak_core's
// reconcile, made a pure function of the two states. Every part merges as
// a CRDT (see State), so Merge is commutative, associative and idempotent
// for any states. In states of valid histories (every change ticks the
// ring clock with a fresh event) a state whose clock descends the other's
// also wins unchanged apart from the union of seen clocks, which is
// riak_core's "take the newer ring". Unlike riak_core, the merge of
// concurrent states adds no event to the ring clock: the merged content
// is a function of the merged clock, so every node that merges the same
// states gets the same state and the same clock, and ring_ready can
// compare clocks.
//
// States of different clusters, ring sizes or target_n do not merge
// (ErrClusterMismatch, ErrSizeMismatch). A zero state merges as the
// identity.
func Merge(a, b State) (State, error) {
	switch {
	case a.IsZero():
		return b, nil
	case b.IsZero():
		return a, nil
	case a.d.cluster != b.d.cluster:
		return State{}, fmt.Errorf("%w: %q and %q", ErrClusterMismatch, a.d.cluster, b.d.cluster)
	case a.d.size != b.d.size || a.d.targetN != b.d.targetN:
		return State{}, fmt.Errorf("%w: %d/%d and %d/%d", ErrSizeMismatch, a.d.size, a.d.targetN, b.d.size, b.d.targetN)
	}
	d := &data{
		cluster: a.d.cluster, size: a.d.size, targetN: a.d.targetN,
		clock:   vclock.Merge(a.d.clock, b.d.clock),
		members: map[NodeID][]memberVersion{},
		own:     antichain(append(slices.Clone(a.d.own), b.d.own...)),
		done:    map[NodeID]doneRecord{},
		seen:    map[NodeID]vclock.VClock{},
		staged:  map[NodeID][]stagedVersion{},
	}
	for n, vs := range a.d.members {
		d.members[n] = vs
	}
	for n, vs := range b.d.members {
		d.members[n] = antichain(append(slices.Clone(d.members[n]), vs...))
	}
	for n, vs := range a.d.staged {
		d.staged[n] = vs
	}
	for n, vs := range b.d.staged {
		d.staged[n] = antichain(append(slices.Clone(d.staged[n]), vs...))
	}
	for n, r := range a.d.done {
		d.done[n] = r
	}
	for n, r := range b.d.done {
		if cur, ok := d.done[n]; !ok || doneLess(cur, r) {
			d.done[n] = r
		}
	}
	for n, c := range a.d.seen {
		d.seen[n] = c
	}
	for n, c := range b.d.seen {
		d.seen[n] = vclock.Merge(d.seen[n], c)
	}
	return d.finish(), nil
}

// doneLess orders a source's completion records: the later counter wins;
// equal counters (only a broken history) compare by content.
func doneLess(a, b doneRecord) bool {
	if a.counter != b.counter {
		return a.counter < b.counter
	}
	e1, e2 := encoder{}, encoder{}
	for _, k := range a.keys {
		e1.uv(uint64(k.Partition))
		e1.dot(k.ID)
	}
	for _, k := range b.keys {
		e2.uv(uint64(k.Partition))
		e2.dot(k.ID)
	}
	return bytes.Compare(e1.b, e2.b) < 0
}

// Reply tells a node that received gossip what to send back.
type Reply int

const (
	// ReplyNone: nothing.
	ReplyNone Reply = iota
	// ReplyRejoin: the sender is marked down; send it the merged state.
	// Its Advance then rejoins (riak_core's rejoin message).
	ReplyRejoin
	// ReplyShutdown: the sender has been removed (invalid); send it the
	// merged state, from which it learns that it must stop.
	ReplyShutdown
)

// String names the reply.
func (r Reply) String() string {
	switch r {
	case ReplyRejoin:
		return "rejoin"
	case ReplyShutdown:
		return "shutdown"
	}
	return "none"
}

// Reconcile merges gossip received from node from into mine, following
// riak_core_gossip: gossip from another cluster, ring size or target_n is
// refused (ErrClusterMismatch, ErrSizeMismatch), and so is gossip from a
// node that is not a member at all (ErrSenderUnknown); mine is then
// returned unchanged. If the sender is, in the merged view, down or
// invalid, the reply says to send it our state (ReplyRejoin,
// ReplyShutdown).
//
// Unlike riak_core, gossip from a down or invalid sender is merged, not
// ignored. riak_core ignores it because its merge is not a lattice and a
// removed node's stale ring could undo changes; here a stale state can
// only add versions that the current ones dominate or outrank (invalid
// has the highest precedence, a rejoin must descend the down mark), so
// merging is safe, and it keeps news the sender may be the last to hold.
// Example: during a network split claimant X force-removes e, and e learns
// it and stops, while the other side's claimant removes X. If X's gossip
// were ignored after the heal, nobody alive would know that e was removed,
// and the ring would never be ready again without an operator.
//
// The caller then calls Advance(self), persists, and gossips on if the
// state changed (Equal). A node that finds itself invalid after a merge
// sends its state to one member before it stops (a last gasp, as
// riak_core's exiting nodes do): it may be the last to hold some news,
// for instance that it was the claimant that removed another node.
func Reconcile(mine, theirs State, from NodeID) (State, Reply, error) {
	m, err := Merge(mine, theirs)
	if err != nil {
		return mine, ReplyNone, err
	}
	switch m.Status(from) {
	case 0:
		return mine, ReplyNone, fmt.Errorf("%w: %s", ErrSenderUnknown, from)
	case StatusInvalid:
		return m, ReplyShutdown, nil
	case StatusDown:
		return m, ReplyRejoin, nil
	}
	return m, ReplyNone, nil
}
