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

// Settle steps the cluster (Step: a tick, then quiescence) until Idle
// holds, at most maxTicks times, and fails the test with Idle's last error
// if it never does. How many ticks that takes is a property of the
// cluster, not of the machine: each tick's work finishes before the next.
func (c *Cluster) Settle(maxTicks int) {
	c.t.Helper()
	if err := c.settle(maxTicks); err != nil {
		c.t.Fatalf("testcluster: not settled after %d ticks: %v", maxTicks, err)
	}
}

// SettleUnderLoad ticks until Idle holds, for tests whose own goroutines
// keep running while the cluster settles (a workload during a join):
// those goroutines hide the cluster's quiescence, so the ticks are paced
// by wall-clock polls (internal/testwait) and simulated time depends on
// the machine's speed, as it did for every test before Settle counted
// ticks. It fails the test after timeout of wall time.
func (c *Cluster) SettleUnderLoad(timeout time.Duration) {
	c.t.Helper()
	testwait.Until(c.t, timeout, func() error {
		c.Tick()
		return c.Idle()
	})
}

// settle steps at least once and until Idle holds, at most maxTicks
// times, and returns Idle's last error. (The first step lets the nodes
// notice what the test just did: a heal is seen at the next gossip.)
func (c *Cluster) settle(maxTicks int) error {
	c.Step()
	err := c.Idle()
	for i := 1; i < maxTicks && err != nil; i++ {
		c.Step()
		err = c.Idle()
	}
	return err
}

// StepUntil steps the cluster until check returns nil, at most maxTicks
// times (checking once before the first step), and fails the test with
// check's last error if it never does.
func (c *Cluster) StepUntil(maxTicks int, check func() error) {
	c.t.Helper()
	c.quiesce()
	err := check()
	for i := 0; i < maxTicks && err != nil; i++ {
		c.Step()
		err = check()
	}
	if err != nil {
		c.t.Fatalf("testcluster: after %d ticks: %v", maxTicks, err)
	}
}

// Transfers returns every live node's handoff status.
func (c *Cluster) Transfers() []handoff.Status {
	var out []handoff.Status
	for _, nd := range c.live() {
		out = append(out, nd.Mgr.Status())
	}
	return out
}
