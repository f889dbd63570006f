package testcluster

import (
	"fmt"
	"time"

	"github.com/riakgo/riakgo/handoff"
	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/ring"
)

// settledStates reports whether every live member agrees on one settled
// cluster state (no transfer pending, every member has seen it). Nodes
// that are a cluster of their own (not joined, or left) are skipped.
func (c *Cluster) settledStates() bool {
	var first ring.State
	for _, nd := range c.live() {
		st := nd.N.ClusterState()
		if st.Status(nd.ID) == ring.StatusInvalid {
			return false // removed: it becomes a cluster of its own at its next tick
		}
		if len(st.MembersWith(ring.StatusValid, ring.StatusJoining, ring.StatusLeaving)) == 1 && c.alone(nd, st) {
			continue
		}
		if len(st.Transfers()) > 0 || !st.Ready() {
			return false
		}
		if first.IsZero() {
			first = st
		} else if !ring.Equal(first, st) {
			return false
		}
	}
	return true
}

// alone reports whether nd's state is a cluster of one that other live
// nodes are not part of.
func (c *Cluster) alone(nd *Node, st ring.State) bool {
	for _, o := range c.live() {
		if o != nd && o.N.ClusterState().ClusterName() == st.ClusterName() {
			return false
		}
	}
	return true
}

// Idle reports whether no node has a transfer running or waiting, every
// live member agrees on a settled ring, and the metadata replicas agree.
func (c *Cluster) Idle() error {
	var digest string
	for _, nd := range c.live() {
		st := nd.Mgr.Status()
		if len(st.Active) > 0 || st.Waiting > 0 {
			return fmt.Errorf("%s: %d transfers active, %d waiting", nd.ID, len(st.Active), st.Waiting)
		}
		for _, p := range nd.Svc.Partitions() {
			if to, _, ok := nd.Svc.Vnodes().Target(p); ok {
				return fmt.Errorf("%s: partition %d is still handing off to %s", nd.ID, p, to)
			}
		}
		if s := nd.N.ClusterState(); len(s.MembersWith(ring.StatusValid, ring.StatusJoining, ring.StatusLeaving)) > 1 {
			d := string(nd.N.Metadata().Digest())
			if digest != "" && d != digest {
				return fmt.Errorf("%s: metadata differs", nd.ID)
			}
			digest = d
		}
	}
	if !c.settledStates() {
		return fmt.Errorf("the cluster state has not settled")
	}
	return nil
}

// Settle ticks until Idle holds (or fails the test after timeout of wall
// time).
func (c *Cluster) Settle(timeout time.Duration) {
	c.t.Helper()
	testwait.Until(c.t, timeout, func() error {
		c.Tick()
		return c.Idle()
	})
}

// Transfers returns every live node's handoff status.
func (c *Cluster) Transfers() []handoff.Status {
	var out []handoff.Status
	for _, nd := range c.live() {
		out = append(out, nd.Mgr.Status())
	}
	return out
}
