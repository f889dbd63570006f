package testcluster

import (
	"context"
	"fmt"
	"time"

	"github.com/riakgo/riakgo/handoff"
	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
)

// A dynamic cluster (Options.Dynamic): every node holds its own cluster
// state; Tick gossips it between the nodes that reach each other
// (Reconcile then Advance, as the node wiring does), installs each node's
// ring in its service, and runs each node's handoff scan
// (transfers.Driver), marking the ownership transfers that finished.

func meta(id ring.NodeID) ring.MemberMeta {
	return ring.MemberMeta{InternodeAddr: string(id), Incarnation: 1}
}

func (c *Cluster) now() int64 { return c.Clock.Now().Unix() }

// buildStates makes the initial cluster: node 1 creates it, the others
// join, the claimant plans and commits, and the first ring is settled
// (no data yet, so no transfer has anything to move).
func (c *Cluster) buildStates() {
	first := c.Nodes[0]
	st, err := ring.NewState("testcluster", c.opts.RingSize, 0, first.ID, meta(first.ID), c.now())
	if err != nil {
		c.t.Fatal(err)
	}
	first.state = st
	for _, nd := range c.Nodes[1:] {
		local, err := ring.NewState("own-"+string(nd.ID), c.opts.RingSize, 0, nd.ID, meta(nd.ID), c.now())
		if err != nil {
			c.t.Fatal(err)
		}
		if nd.state, err = ring.Join(local, first.state, nd.ID, meta(nd.ID), c.now()); err != nil {
			c.t.Fatal(err)
		}
		c.gossip()
	}
	if len(c.Nodes) > 1 {
		c.planCommit()
		for i := 0; i < 100 && !c.settledStates(); i++ {
			c.gossip()
			for _, nd := range c.Nodes {
				for _, t := range nd.state.Transfers() {
					if t.From == nd.ID && !t.Complete {
						nd.state, _ = nd.state.CompleteTransfer(nd.ID, t.Partition, c.now())
					}
				}
			}
		}
		if !c.settledStates() {
			c.t.Fatal("testcluster: the initial ring did not settle")
		}
	}
	c.Ring = first.state.Ring()
}

func (c *Cluster) settledStates() bool {
	var first ring.State
	for _, nd := range c.Nodes {
		if !c.isAlive(nd) || nd.state.IsZero() || nd.state.Status(nd.ID) == ring.StatusInvalid && len(nd.state.Members()) == 1 {
			continue
		}
		if len(nd.state.Transfers()) > 0 || !nd.state.Ready() {
			return false
		}
		if first.IsZero() {
			first = nd.state
		} else if !ring.Equal(first, nd.state) {
			return false
		}
	}
	return true
}

func (c *Cluster) isAlive(nd *Node) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return nd.alive
}

func (c *Cluster) reach(a, b *Node) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return a.alive && b.alive && c.group[a.ID] == c.group[b.ID]
}

// gossip has every pair of nodes that reach each other exchange states
// until nothing changes, and installs changed rings.
func (c *Cluster) gossip() {
	for round := 0; round < 50; round++ {
		changed := false
		for _, a := range c.Nodes {
			if a.state.IsZero() || !c.isAlive(a) {
				continue
			}
			if next, ch := a.state.Advance(a.ID, c.now()); ch {
				a.state, changed = next, true
			}
			for _, b := range c.Nodes {
				if a == b || b.state.IsZero() || !c.reach(a, b) {
					continue
				}
				merged, _, err := ring.Reconcile(b.state, a.state, a.ID)
				if err != nil {
					continue
				}
				merged, _ = merged.Advance(b.ID, c.now())
				if !ring.Equal(merged, b.state) {
					b.state, changed = merged, true
				}
			}
		}
		if !changed {
			break
		}
	}
	for _, nd := range c.Nodes {
		if nd.Svc != nil && !nd.state.IsZero() && c.isAlive(nd) {
			if err := nd.Svc.SetRing(nd.state.Ring()); err != nil {
				c.t.Fatalf("SetRing on %s: %v", nd.ID, err)
			}
		}
	}
}

// planCommit plans and commits at the claimant.
func (c *Cluster) planCommit() {
	c.gossip()
	for _, nd := range c.Nodes {
		if nd.state.IsZero() || !c.isAlive(nd) || nd.state.Claimant() != nd.ID {
			continue
		}
		p, err := nd.state.Plan()
		if err != nil {
			c.t.Fatalf("plan: %v", err)
		}
		if nd.state, err = nd.state.Commit(nd.ID, &p, c.now()); err != nil {
			c.t.Fatalf("commit: %v", err)
		}
		c.gossip()
		return
	}
	c.t.Fatal("testcluster: no live claimant")
}

// PlanCommit is "cluster plan" then "cluster commit" at the claimant.
func (c *Cluster) PlanCommit() { c.planCommit() }

// AddNode starts a new node that is not a member yet (a fresh cluster of
// its own, owning nothing of this one) and returns its index.
func (c *Cluster) AddNode() int {
	id := ring.NodeID(fmt.Sprintf("node%d@test", len(c.Nodes)+1))
	st, err := ring.NewState("own-"+string(id), c.opts.RingSize, 0, id, meta(id), c.now())
	if err != nil {
		c.t.Fatal(err)
	}
	nd := &Node{ID: id, Store: memstore.New(), alive: true, state: st}
	c.mu.Lock() // up() reads the node list from request goroutines
	c.Nodes = append(c.Nodes, nd)
	i := len(c.Nodes) - 1
	c.mu.Unlock()
	// Until it joins, the node routes by the cluster's ring (it owns
	// nothing there) so that it can serve requests as a client.
	c.start(i)
	if err := nd.Svc.SetRing(c.Nodes[0].state.Ring()); err != nil {
		c.t.Fatal(err)
	}
	return i
}

// Join is "cluster join" of node i through node 0, staged (commit with
// PlanCommit).
func (c *Cluster) Join(i int) {
	nd, seed := c.Nodes[i], c.Nodes[0]
	st, err := ring.Join(nd.state, seed.state, nd.ID, meta(nd.ID), c.now())
	if err != nil {
		c.t.Fatalf("join %s: %v", nd.ID, err)
	}
	nd.state = st
	c.gossip()
}

// Leave stages "cluster leave" of node i (commit with PlanCommit).
func (c *Cluster) Leave(i int) {
	nd := c.Nodes[i]
	st, err := nd.state.Stage(nd.ID, ring.Change{Node: nd.ID, Action: ring.ActionLeave}, c.now())
	if err != nil {
		c.t.Fatalf("leave %s: %v", nd.ID, err)
	}
	nd.state = st
	c.gossip()
}

// State returns node i's cluster state.
func (c *Cluster) State(i int) ring.State { return c.Nodes[i].state }

// Tick is one period of every live node: the clock advances a second,
// states gossip, and each node runs its handoff scan; ownership transfers
// that finished are marked complete in the node's state.
func (c *Cluster) Tick() {
	c.Clock.Advance(time.Second)
	c.gossip()
	for _, nd := range c.Nodes {
		if !c.isAlive(nd) {
			continue
		}
		r, transfers := c.Ring, []ring.Transfer(nil)
		if !nd.state.IsZero() {
			r, transfers = nd.state.Ring(), nd.state.Transfers()
		}
		for _, p := range nd.Drv.Step(r, transfers) {
			if next, err := nd.state.CompleteTransfer(nd.ID, p, c.now()); err == nil {
				nd.state = next
			}
		}
		nd.Mgr.Sweep()
		nd.AAE.Step(r, transfers, c.up(nd.ID))
		nd.PG.Tick(context.Background())
	}
	c.gossip()
}

// Idle reports whether no node has a transfer running or waiting and, in
// a dynamic cluster, every live member agrees on a settled ring.
func (c *Cluster) Idle() error {
	for _, nd := range c.Nodes {
		if !c.isAlive(nd) {
			continue
		}
		st := nd.Mgr.Status()
		if len(st.Active) > 0 || st.Waiting > 0 {
			return fmt.Errorf("%s: %d transfers active, %d waiting", nd.ID, len(st.Active), st.Waiting)
		}
		for _, p := range nd.Svc.Partitions() {
			if to, _, ok := nd.Svc.HandoffTarget(p); ok {
				return fmt.Errorf("%s: partition %d is still handing off to %s", nd.ID, p, to)
			}
		}
	}
	if c.opts.Dynamic && !c.settledStates() {
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
	for _, nd := range c.Nodes {
		if c.isAlive(nd) {
			out = append(out, nd.Mgr.Status())
		}
	}
	return out
}

// Wipe kills node i, replaces its storage with an empty one (a lost disk)
// and starts it again.
func (c *Cluster) Wipe(i int) {
	c.Kill(i)
	nd := c.Nodes[i]
	nd.Store = memstore.New()
	c.start(i)
	c.mu.Lock()
	nd.alive = true
	c.mu.Unlock()
}
