package transfers

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riakgo/riakgo/handoff"
	"github.com/riakgo/riakgo/internal/hashtree"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/ring"
)

// Vnodes adapts a kv.Service to handoff.Vnodes. Planned, if set, says
// whether an ownership job is still planned (the driver's view); a job
// that is not is refused at its start, so an abandoned transfer does not
// start tracking again.
type Vnodes struct {
	Svc     *kv.Service
	Planned func(handoff.Job) bool
}

var _ handoff.Vnodes = Vnodes{}

// Fold implements handoff.Vnodes.
func (v Vnodes) Fold(ctx context.Context, p int, after []byte, fn func(key, value []byte) error) error {
	return v.Svc.HandoffFold(ctx, p, after, fn)
}

// FoldRepair implements handoff.RepairVnodes.
func (v Vnodes) FoldRepair(ctx context.Context, source, target int, after []byte, fn func(key, value []byte) error) error {
	return v.Svc.RepairFold(ctx, source, target, after, fn)
}

var _ handoff.RepairVnodes = Vnodes{}

// Estimate implements handoff.Vnodes.
func (v Vnodes) Estimate(p int) int64 { return v.Svc.HandoffEstimate(p) }

// Receive implements handoff.Vnodes.
func (v Vnodes) Receive(p int, items []handoff.Item) error {
	return v.Svc.HandoffReceive(p, toKV(items))
}

// Starting implements handoff.Vnodes.
func (v Vnodes) Starting(j handoff.Job) error {
	if j.Kind == handoff.Ownership && v.Planned != nil && !v.Planned(j) {
		return fmt.Errorf("riakgo/transfers: %s is no longer planned", j)
	}
	return v.Svc.HandoffStarting(j.Partition, j.Kind == handoff.Ownership, j.To)
}

// Sent implements handoff.Vnodes.
func (v Vnodes) Sent(j handoff.Job, items []handoff.Item) {
	v.Svc.HandoffSent(j.Partition, j.Kind == handoff.Hinted, toKV(items))
}

// Folded implements handoff.Vnodes.
func (v Vnodes) Folded(j handoff.Job) ([]handoff.Item, error) {
	items, err := v.Svc.HandoffFolded(j.Partition, j.Kind == handoff.Ownership)
	out := make([]handoff.Item, len(items))
	for i, it := range items {
		out[i] = handoff.Item(it)
	}
	return out, err
}

func toKV(items []handoff.Item) []kv.HandoffItem {
	out := make([]kv.HandoffItem, len(items))
	for i, it := range items {
		out[i] = kv.HandoffItem(it)
	}
	return out
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
	svc  *kv.Service
	mgr  *handoff.Manager
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

// NewDriver returns a driver; set the manager with SetManager before the
// first Step (the manager's Done callback is the driver's Done).
func NewDriver(self ring.NodeID, svc *kv.Service, up func(ring.NodeID) bool, log *slog.Logger) *Driver {
	if up == nil {
		up = func(ring.NodeID) bool { return true }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{self: self, svc: svc, up: up, log: log, done: map[int]ring.NodeID{}, dropped: map[int]int{},
		abandoned: map[int]int{}, planned: map[int]ring.NodeID{}, repairs: map[int]*repair{}}
}

// SetManager sets the handoff manager the driver starts jobs on.
func (d *Driver) SetManager(m *handoff.Manager) { d.mgr = m }

// Planned reports whether ownership job j is planned as of the last Step
// (for Vnodes.Planned).
func (d *Driver) Planned(j handoff.Job) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.planned[j.Partition] == j.To
}

// Done records a finished outbound transfer (handoff.Config.Done).
func (d *Driver) Done(j handoff.Job, err error) {
	if err != nil || j.Kind != handoff.Ownership {
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
	var jobs []handoff.Job
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
		if _, _, busy := d.svc.HandoffTarget(t.Partition); !busy {
			if empty, err := d.svc.PartitionEmpty(t.Partition); err == nil && empty {
				// Nothing to move. A write that lands here before the
				// ring flips stays in what becomes a fallback vnode,
				// which hinted handoff then returns to the new owner.
				complete = append(complete, t.Partition)
				continue
			}
		}
		if d.up(t.To) {
			jobs = append(jobs, handoff.Job{Partition: t.Partition, Kind: handoff.Ownership, To: t.To})
		} else {
			waitingOwnership++
		}
	}
	// End ownership transfers that are over.
	for _, p := range d.svc.Partitions() {
		to, fwd, ok := d.svc.HandoffTarget(p)
		if !ok {
			continue
		}
		owner := r.Owner(p)
		switch t, still := planned[p]; {
		case owner == d.self && still && t.To == to:
			// in progress, or waiting for the claimant's flip
		case owner == to && fwd:
			if err := d.svc.DropPartition(p); err != nil {
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
			d.svc.HandoffAbort(p)
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
			d.svc.ForwardPartition(p, "")
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
		d.svc.HoldReaps(p, from || incoming[p] || ab)
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
		if _, _, ok := d.svc.HandoffTarget(p); ok {
			continue
		}
		if empty, err := d.svc.PartitionEmpty(p); err != nil || empty {
			continue
		}
		waiting++
		if !d.up(owner) {
			continue
		}
		if err := d.svc.OpenVnode(p); err != nil {
			continue // dropped here and still forwarding: nothing to hand back
		}
		jobs = append(jobs, handoff.Job{Partition: p, Kind: handoff.Hinted, To: owner})
	}
	d.mgr.Offer(jobs)
	d.mgr.SetWaiting(waiting)
	return complete
}

// AAE adapts a kv.Service to handoff.AAEVnodes.
type AAE struct{ Svc *kv.Service }

var _ handoff.AAEVnodes = AAE{}

// Tree implements handoff.AAEVnodes.
func (a AAE) Tree(p, home int) ([]uint64, bool) { return a.Svc.AAETree(p, home) }

// SegmentKeys implements handoff.AAEVnodes.
func (a AAE) SegmentKeys(ctx context.Context, p, home int, segs []int) ([]hashtree.KeyHashPair, error) {
	return a.Svc.AAEKeys(ctx, p, home, segs)
}

// Shared implements handoff.AAEVnodes.
func (a AAE) Shared(key []byte, home, p, q int) bool { return a.Svc.AAEShared(key, home, p, q) }

// Repair implements handoff.AAEVnodes.
func (a AAE) Repair(ctx context.Context, key []byte) (int, error) { return a.Svc.AAERepair(ctx, key) }

// Unbuilt implements handoff.AAEVnodes.
func (a AAE) Unbuilt() []int { return a.Svc.AAEUnbuilt() }

// Build implements handoff.AAEVnodes.
func (a AAE) Build(ctx context.Context, p int) (time.Duration, error) { return a.Svc.AAEBuild(ctx, p) }
