package handoff

import (
	"context"
	"log/slog"
	"sync"

	"github.com/riakgo/riakgo/ring"
)

// DriverVnodes is what the Driver needs of the node's vnodes besides the
// transfers themselves (Vnodes): which partitions hold data, and the
// steps that end an ownership transfer. Implementations must be safe for
// concurrent use.
type DriverVnodes interface {
	// Ring returns the node's current ring.
	Ring() *ring.Ring
	// Empty reports whether the node stores nothing of partition p.
	Empty(p int) (bool, error)
	// Held returns the partitions with an open vnode, in order.
	Held() []int
	// Target reports the ownership transfer partition p is part of: its
	// target, whether requests already forward there, and ok false when
	// there is none.
	Target(p int) (to ring.NodeID, forwarding, ok bool)
	// Abort ends p's ownership transfer: the vnode stops recording writes
	// and forwarding, and keeps serving the partition.
	Abort(p int)
	// Drop deletes partition p's data and closes its vnode once its
	// ownership transfer is complete; requests forward to the new owner.
	Drop(p int) error
	// Forward makes requests for p go to node to ("": stop forwarding).
	Forward(p int, to ring.NodeID)
	// HoldReaps keeps (or stops keeping) p's tombstones.
	HoldReaps(p int, hold bool)
	// Open opens the vnode of p (a fallback's data after a restart); it
	// fails for a partition dropped here that still forwards.
	Open(p int) error
}

// ForwardGrace is how many scans a node keeps forwarding requests for a
// partition it dropped (nodes that have not seen the new ring yet).
const ForwardGrace = 30

// AbandonHold is how many scans a node keeps the tombstones of a
// partition whose ownership transfer was abandoned: the target may hold
// older copies from the partial transfer and return them by hinted
// handoff, and a reaped tombstone would let them come back.
const AbandonHold = 600

// Driver makes the handoff decisions of one node. Step is called on every
// periodic tick; Done is the manager's completion callback.
type Driver struct {
	self ring.NodeID
	vn   DriverVnodes
	mgr  runner
	up   func(ring.NodeID) bool
	log  *slog.Logger

	mu        sync.Mutex
	ring      *ring.Ring          // as of the last Step
	repairs   map[int]*repair     // partitions of this node under repair
	done      map[int]ring.NodeID // ownership transfers completed, by partition
	dropped   map[int]int         // partitions dropped: scans since
	abandoned map[int]int         // partitions whose transfer was abandoned: scans since
	planned   map[int]ring.NodeID // ownership transfers from this node, as of the last Step
}

// runner is what the Driver needs of the Manager.
type runner interface {
	Offer(jobs []Job)
	SetWaiting(n int)
	SetRepairing(n int)
	Forget(p int)
	RequestRepair(ctx context.Context, from ring.NodeID, target, source int) error
	Status() Status
}

// NewDriver returns the driver of node self's vnodes vn; set the manager
// with SetManager before the first Step (the manager's Done callback is
// the driver's Done, its Planned the driver's Planned).
func NewDriver(self ring.NodeID, vn DriverVnodes, up func(ring.NodeID) bool, log *slog.Logger) *Driver {
	if up == nil {
		up = func(ring.NodeID) bool { return true }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{self: self, vn: vn, up: up, log: log, done: map[int]ring.NodeID{}, dropped: map[int]int{},
		abandoned: map[int]int{}, planned: map[int]ring.NodeID{}, repairs: map[int]*repair{}}
}

// SetManager sets the handoff manager the driver starts jobs on.
func (d *Driver) SetManager(m *Manager) {
	if m != nil {
		d.mgr = m
	}
}

// Planned reports whether ownership job j is planned as of the last Step
// (Config.Planned).
func (d *Driver) Planned(j Job) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.planned[j.Partition] == j.To
}

// Done records a finished outbound transfer (Config.Done).
func (d *Driver) Done(j Job, err error) {
	if err != nil || j.Kind != Ownership {
		return
	}
	d.mu.Lock()
	d.done[j.Partition] = j.To
	d.mu.Unlock()
}

// Step is one scan over the ring r and its pending transfers: it starts
// the transfers this node should run (as slots allow), ends the
// ownership transfers that are over (abort, or drop once the ring has
// flipped), and returns the partitions whose ownership transfer from this
// node completed and is not yet marked so in transfers (the caller marks
// them with ring.State.CompleteTransfer).
func (d *Driver) Step(r *ring.Ring, transfers []ring.Transfer) (complete []int) {
	planned := map[int]ring.Transfer{} // transfers from this node
	incoming := map[int]bool{}         // partitions moving to this node
	for _, t := range transfers {
		if t.From == d.self {
			planned[t.Partition] = t
		}
		if t.To == d.self {
			incoming[t.Partition] = true
		}
	}
	var jobs []Job
	waitingOwnership := 0 // ownership transfers whose target is down
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ring = r
	d.stepRepairs(r, len(transfers) > 0)
	clear(d.planned)
	for p, t := range planned {
		d.planned[p] = t.To
	}
	for _, t := range transfers {
		if t.From != d.self || t.Complete {
			continue
		}
		if d.done[t.Partition] == t.To {
			complete = append(complete, t.Partition)
			continue
		}
		if _, _, busy := d.vn.Target(t.Partition); !busy {
			if empty, err := d.vn.Empty(t.Partition); err == nil && empty {
				// Nothing to move. A write that lands here before the
				// ring flips stays in what becomes a fallback vnode,
				// which hinted handoff then returns to the new owner.
				complete = append(complete, t.Partition)
				continue
			}
		}
		if d.up(t.To) {
			jobs = append(jobs, Job{Partition: t.Partition, Kind: Ownership, To: t.To})
		} else {
			waitingOwnership++
		}
	}
	// End ownership transfers that are over.
	for _, p := range d.vn.Held() {
		to, fwd, ok := d.vn.Target(p)
		if !ok {
			continue
		}
		owner := r.Owner(p)
		switch t, still := planned[p]; {
		case owner == d.self && still && t.To == to:
			// in progress, or waiting for the claimant's flip
		case owner == to && fwd:
			if err := d.vn.Drop(p); err != nil {
				d.log.Warn("cannot drop a handed-off partition", "partition", p, "err", err)
				continue
			}
			d.log.Info("partition handed off and dropped", "partition", p, "owner", owner)
			d.dropped[p] = 0
			delete(d.done, p)
		default:
			// The plan changed (e.g. the target was removed): keep the
			// data and serve it; if this node no longer owns the
			// partition, hinted handoff returns it to the owner.
			d.log.Info("ownership transfer abandoned", "partition", p, "to", to, "owner", owner)
			d.vn.Abort(p)
			d.mgr.Forget(p)
			d.abandoned[p] = 0
			delete(d.done, p)
		}
	}
	for p := range d.done {
		if _, ok := planned[p]; !ok {
			delete(d.done, p)
		}
	}
	for p, n := range d.dropped {
		if n >= ForwardGrace || r.Owner(p) == d.self || incoming[p] {
			d.vn.Forward(p, "")
			delete(d.dropped, p)
			continue
		}
		d.dropped[p] = n + 1
	}
	// Tombstones stay while a transfer of a partition from or to this node
	// is planned, and for a while after one was abandoned.
	for p, n := range d.abandoned {
		if n >= AbandonHold {
			delete(d.abandoned, p)
		} else {
			d.abandoned[p] = n + 1
		}
	}
	for p := 0; p < r.Size(); p++ {
		_, from := planned[p]
		_, ab := d.abandoned[p]
		d.vn.HoldReaps(p, from || incoming[p] || ab)
	}
	// Hinted handoff: every partition this node does not own but holds
	// data for, found in storage whether or not its vnode is open (a
	// fallback's data outlives a restart of its node), goes to its owner
	// once the owner is up; until then it counts as waiting.
	waiting := len(jobs) + waitingOwnership
	for p := 0; p < r.Size(); p++ {
		owner := r.Owner(p)
		if owner == d.self || incoming[p] {
			continue
		}
		if _, _, ok := d.vn.Target(p); ok {
			continue
		}
		if empty, err := d.vn.Empty(p); err != nil || empty {
			continue
		}
		waiting++
		if !d.up(owner) {
			continue
		}
		if err := d.vn.Open(p); err != nil {
			continue // dropped here and still forwarding: nothing to hand back
		}
		jobs = append(jobs, Job{Partition: p, Kind: Hinted, To: owner})
	}
	d.mgr.Offer(jobs)
	d.mgr.SetWaiting(waiting)
	return complete
}
