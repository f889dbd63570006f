package handoff

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/riakgo/riakgo/ring"
)

// Partition repair (riak_core's repair, riak_kv_vnode:repair/1): a
// partition this node owns is filled again from the partitions just
// before and after it, which together hold a replica of every key it
// should hold. The node asks the owners of those two partitions to send
// it, by transfer, the keys of theirs whose preference list includes the
// partition under repair; each arrives as an inbound transfer of type
// repair (progress in transfers). A node that rejoins with empty storage
// repairs every partition it owns; an operator can repair one partition
// or all of a node's with "riakgo admin repair". Anti-entropy remains the
// safety net for what a repair cannot reach.

// RepairRetryScans is how many scans a node waits for a requested repair
// transfer to begin before it asks the source again (the request, or the
// source, may have been lost).
const RepairRetryScans = 30

// ErrRepairNotOwner: a repair was asked of a partition this node does not
// own.
var ErrRepairNotOwner = errors.New("riakgo/handoff: this node does not own the partition")

// repair is one partition of this node under repair.
type repair struct {
	sources map[int]*repairSource // by source partition
}

type repairSource struct {
	node   ring.NodeID // the owner asked last
	done   bool
	asked  int  // scans since the last request
	sent   bool // a request was sent at least once
	flying bool // a request is on its way
}

// RepairSources returns the partitions a repair of p pulls from: the one
// before and the one after it (one partition for a ring of two, none for a
// ring of one).
func RepairSources(size, p int) []int {
	var out []int
	for _, q := range []int{(p - 1 + size) % size, (p + 1) % size} {
		if q != p && !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	return out
}

// Repair starts the repair of partition p, which this node must own in
// ring r (the node's current ring if r is nil). A repair already
// under way is left as it is. It returns the sources: partition and
// owner.
func (d *Driver) Repair(p int, r *ring.Ring) ([]ring.Target, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r == nil {
		r = d.vn.Ring()
	}
	if r == nil || p < 0 || p >= r.Size() {
		return nil, fmt.Errorf("riakgo/handoff: no partition %d", p)
	}
	if r.Owner(p) != d.self {
		return nil, fmt.Errorf("%w: partition %d is owned by %s", ErrRepairNotOwner, p, r.Owner(p))
	}
	var out []ring.Target
	rp := d.repairs[p]
	if rp == nil {
		rp = &repair{sources: map[int]*repairSource{}}
		d.repairs[p] = rp
		d.log.Info("partition repair started", "partition", p)
	}
	for _, q := range RepairSources(r.Size(), p) {
		if rp.sources[q] == nil {
			rp.sources[q] = &repairSource{}
		}
		out = append(out, ring.Target{Partition: q, Node: r.Owner(q), Primary: true})
	}
	if d.mgr != nil {
		d.mgr.SetRepairing(len(d.repairs))
	}
	return out, nil
}

// RepairOwned starts the repair of every partition this node owns in r:
// what a node that lost its storage does when it rejoins.
func (d *Driver) RepairOwned(r *ring.Ring) []int {
	var out []int
	for p := 0; p < r.Size(); p++ {
		if r.Owner(p) == d.self {
			if _, err := d.Repair(p, r); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// Repairing returns the partitions under repair, in order.
func (d *Driver) Repairing() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]int, 0, len(d.repairs))
	for p := range d.repairs {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// RepairDone records a finished inbound transfer (Config's
// InboundDone): a repair's source has arrived.
func (d *Driver) RepairDone(j Job, from ring.NodeID) {
	if j.Kind != Repair {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rp := d.repairs[j.Partition]
	if rp == nil || rp.sources[j.Source] == nil {
		return
	}
	rp.sources[j.Source].done = true
	d.log.Info("partition repair: source complete", "partition", j.Partition, "source", j.Source, "from", from)
	for _, src := range rp.sources {
		if !src.done {
			return
		}
	}
	delete(d.repairs, j.Partition)
	d.log.Info("partition repair complete", "partition", j.Partition)
}

// AcceptRepair decides whether this node sends repair j to a peer that
// asks (Config's AcceptRepair): it must own the source partition.
func (d *Driver) AcceptRepair(j Job) error {
	r := d.vn.Ring()
	if r == nil || j.Source < 0 || j.Source >= r.Size() || j.Partition < 0 || j.Partition >= r.Size() {
		return fmt.Errorf("no partition %d or %d", j.Source, j.Partition)
	}
	if r.Owner(j.Source) != d.self {
		return fmt.Errorf("partition %d is owned by %s", j.Source, r.Owner(j.Source))
	}
	return nil
}

// stepRepairs is the repair part of a scan (d.mu held): repairs of
// partitions this node no longer owns end; while ownership changes are
// pending nothing is asked; otherwise each source not yet received, whose
// owner is up and whose transfer is not running, is asked for (again
// after RepairRetryScans).
func (d *Driver) stepRepairs(r *ring.Ring, changing bool) {
	inbound := map[[2]int]bool{}
	if d.mgr != nil {
		for _, pr := range d.mgr.Status().Active {
			if pr.Direction == Inbound && pr.Kind == Repair.String() {
				inbound[[2]int{pr.Partition, pr.Source}] = true
			}
		}
	}
	for p, rp := range d.repairs {
		if r.Owner(p) != d.self {
			d.log.Warn("partition repair abandoned: the partition moved", "partition", p, "owner", r.Owner(p))
			delete(d.repairs, p)
			continue
		}
		for q, src := range rp.sources {
			if src.done {
				continue
			}
			src.asked++
			node := r.Owner(q)
			switch {
			case node == d.self:
				src.done = true // this node holds the source itself
				continue
			case changing, !d.up(node), src.flying, inbound[[2]int{p, q}]:
				if inbound[[2]int{p, q}] {
					src.asked = 0
				}
				continue
			case src.sent && src.asked < RepairRetryScans && src.node == node:
				continue
			}
			src.node, src.asked, src.sent, src.flying = node, 0, true, true
			go d.askRepair(node, p, q)
		}
		done := true
		for _, src := range rp.sources {
			done = done && src.done
		}
		if done {
			delete(d.repairs, p)
			d.log.Info("partition repair complete", "partition", p)
		}
	}
	if d.mgr != nil {
		d.mgr.SetRepairing(len(d.repairs))
	}
}

// askRepair sends one repair request (in its own goroutine: the call
// waits for the peer).
func (d *Driver) askRepair(node ring.NodeID, p, q int) {
	err := d.mgr.RequestRepair(context.Background(), node, p, q)
	d.mu.Lock()
	defer d.mu.Unlock()
	if rp := d.repairs[p]; rp != nil && rp.sources[q] != nil {
		src := rp.sources[q]
		src.flying = false
		if err != nil {
			src.asked = RepairRetryScans - 5 // ask again in a few scans
		}
	}
	if err != nil {
		d.log.Warn("partition repair: request failed; it will be retried", "partition", p, "source", q, "node", node, "err", err)
	}
}
