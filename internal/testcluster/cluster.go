package testcluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/handoff"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/testlog"
	"github.com/riakgo/riakgo/internal/transfers"
	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
)

// Options configure a cluster.
type Options struct {
	// RingSize is the number of partitions (default 16).
	RingSize int
	// Seed seeds every random choice (default: time-based, logged).
	Seed uint64
	// Timeout is each request's deadline (default 2 s).
	Timeout time.Duration
	// Configure, if set, adjusts each node's kv configuration.
	Configure func(i int, c *kv.Config)
	// Handoff, if set, adjusts each node's handoff configuration.
	Handoff func(i int, c *handoff.Config)
	// AAE, if set, adjusts each node's anti-entropy configuration
	// (default: an exchange round every second of the clock, 8 pairs).
	AAE func(i int, c *handoff.AAEConfig)
	// Dynamic gives every node a gossiped cluster state (ring.State):
	// nodes can join and leave with plan/commit, and Tick runs gossip and
	// the handoff scan. Otherwise the ring is fixed, dealt round-robin.
	Dynamic bool
	// ConfigurePG, if set, adjusts each node's process-group configuration.
	ConfigurePG func(i int, c *kv.PGConfig)
}

// Start is the manual clock's initial time.
var Start = time.Unix(1_700_000_000, 0)

// Node is one member of the cluster.
type Node struct {
	ID    ring.NodeID
	Store *memstore.Store
	Svc   *kv.Service
	// Mgr runs the node's transfers; Drv decides them (as a real node's
	// tick does).
	Mgr *handoff.Manager
	Drv *transfers.Driver
	AAE *handoff.Exchanger
	// state is the node's cluster state in a dynamic cluster (zero in a
	// static one).
	state ring.State
	// PG is the node's process-group service; Incarnation is its boot
	// incarnation (1, then one more at every Restart).
	PG          *kv.PG
	Incarnation uint64
	alive       bool
	removed     bool
}

// Cluster is N nodes in one process.
type Cluster struct {
	t    testing.TB
	opts Options
	Net  *memnet.Network
	// Clock drives every node and the network: it moves only when the
	// test advances it (timeouts, delays, reap timers, timestamps).
	Clock *clock.Manual
	Ring  *ring.Ring
	Nodes []*Node

	mu    sync.Mutex
	group map[ring.NodeID]int // partition group of each node
	rnd   *rand.Rand
	rndMu sync.Mutex
}

// New starts n nodes sharing a ring whose partitions are dealt round-robin.
func New(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	if o.RingSize == 0 {
		o.RingSize = 16
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	t.Logf("testcluster: %d nodes, ring %d, seed %d", n, o.RingSize, o.Seed)
	owners := make([]ring.NodeID, o.RingSize)
	ids := make([]ring.NodeID, n)
	for i := range ids {
		ids[i] = ring.NodeID(fmt.Sprintf("node%d@test", i+1))
	}
	for p := range owners {
		owners[p] = ids[p%n]
	}
	r, err := ring.FromOwners(owners)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(Start)
	c := &Cluster{
		t: t, opts: o, Ring: r, group: map[ring.NodeID]int{}, Clock: clk,
		Net: memnet.New(memnet.Options{Seed: o.Seed, Clock: clk, CallTimeout: o.Timeout}),
		rnd: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
	}
	for _, id := range ids {
		nd := &Node{ID: id, Store: memstore.New(), alive: true}
		c.Nodes = append(c.Nodes, nd)
	}
	if o.Dynamic {
		c.buildStates()
	}
	for i := range c.Nodes {
		c.start(i)
	}
	t.Cleanup(c.Close)
	return c
}

func (c *Cluster) rand64() uint64 {
	c.rndMu.Lock()
	defer c.rndMu.Unlock()
	return c.rnd.Uint64()
}

// up reports whether node `of` sees node `id` as up: alive and on its side
// of any partition.
func (c *Cluster) up(of ring.NodeID) func(ring.NodeID) bool {
	return func(id ring.NodeID) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		var target *Node
		for _, n := range c.Nodes {
			if n.ID == id {
				target = n
			}
		}
		return target != nil && target.alive && c.group[of] == c.group[id]
	}
}

func (c *Cluster) start(i int) {
	nd := c.Nodes[i]
	cfg := kv.DefaultConfig()
	cfg.Node = nd.ID
	cfg.Ring = c.Ring
	cfg.Engine = nd.Store
	cfg.Rand = c.rand64
	cfg.Timeout = c.opts.Timeout
	cfg.Clock = c.Clock
	cfg.Transport = c.Net.Endpoint(nd.ID)
	cfg.Up = c.up(nd.ID)
	if c.opts.Configure != nil {
		c.opts.Configure(i, &cfg)
	}
	if !nd.state.IsZero() {
		cfg.Ring = nd.state.Ring()
	}
	svc, err := kv.New(cfg)
	if err != nil {
		c.t.Fatalf("start %s: %v", nd.ID, err)
	}
	nd.Svc = svc
	nd.Drv = transfers.NewDriver(nd.ID, svc, c.up(nd.ID), testlog.New(c.t).With("node", string(nd.ID)))
	hcfg := handoff.Config{Self: nd.ID, Transport: cfg.Transport, Vnodes: transfers.Vnodes{Svc: svc, Planned: nd.Drv.Planned}, Clock: c.Clock,
		Logger: testlog.New(c.t).With("node", string(nd.ID)), Done: nd.Drv.Done, Timeout: 30 * time.Second}
	if c.opts.Handoff != nil {
		c.opts.Handoff(i, &hcfg)
	}
	if nd.Mgr, err = handoff.New(hcfg); err != nil {
		c.t.Fatalf("start %s: %v", nd.ID, err)
	}
	nd.Drv.SetManager(nd.Mgr)
	acfg := handoff.AAEConfig{Self: nd.ID, Transport: cfg.Transport, Vnodes: transfers.AAE{Svc: svc}, Clock: c.Clock,
		Logger: testlog.New(c.t).With("node", string(nd.ID)), Interval: time.Second, ExchangesPerInterval: 8}
	if c.opts.AAE != nil {
		c.opts.AAE(i, &acfg)
	}
	if nd.AAE, err = handoff.NewExchanger(acfg); err != nil {
		c.t.Fatalf("start %s: %v", nd.ID, err)
	}
	c.mu.Lock()
	nd.Incarnation++
	inc := nd.Incarnation
	c.mu.Unlock()
	pcfg := kv.PGConfig{Incarnation: inc, View: c.view(nd.ID)}
	if c.opts.ConfigurePG != nil {
		c.opts.ConfigurePG(i, &pcfg)
	}
	if nd.PG, err = kv.NewPG(svc, pcfg); err != nil {
		c.t.Fatalf("start pg on %s: %v", nd.ID, err)
	}
}

// view is node `of`'s view of the cluster for process groups: every
// node's current incarnation and removal are known at once (gossip in an
// instant), reachability follows up.
func (c *Cluster) view(of ring.NodeID) func(ring.NodeID) kv.PGNodeView {
	up := c.up(of)
	return func(id ring.NodeID) kv.PGNodeView {
		v := kv.PGNodeView{Up: up(id)}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, n := range c.Nodes {
			if n.ID == id {
				v.Incarnation, v.Removed = n.Incarnation, n.removed
			}
		}
		return v
	}
}

// ForceRemove removes node i from the cluster as "cluster force-remove"
// does, killing it first if it is alive: every other node learns at once
// that it is gone for good.
func (c *Cluster) ForceRemove(i int) {
	c.mu.Lock()
	alive := c.Nodes[i].alive
	c.mu.Unlock()
	if alive {
		c.Kill(i)
	}
	c.mu.Lock()
	c.Nodes[i].removed = true
	c.mu.Unlock()
}

// PGTick runs every live node's process-group tick (leases, repairs,
// watches) without moving the clock; tests call it after advancing the
// clock. (Tick, in dynamic.go, is a whole node period: clock, gossip,
// handoff, anti-entropy and this.)
func (c *Cluster) PGTick() {
	for _, nd := range c.Nodes {
		c.mu.Lock()
		alive := nd.alive
		c.mu.Unlock()
		if alive {
			nd.PG.Tick(context.Background())
		}
	}
}

// Client returns node i's service (0-based).
func (c *Cluster) Client(i int) *kv.Service {
	c.mu.Lock() // AddNode may grow the node list meanwhile
	nd := c.Nodes[i]
	c.mu.Unlock()
	return nd.Svc
}

// Partition splits the nodes (0-based indexes) into groups that reach only
// each other; nodes not listed are alone.
func (c *Cluster) Partition(groups ...[]int) {
	c.mu.Lock()
	var ids [][]ring.NodeID
	for i, n := range c.Nodes {
		c.group[n.ID] = 1000 + i
	}
	for g, members := range groups {
		var gid []ring.NodeID
		for _, i := range members {
			c.group[c.Nodes[i].ID] = g
			gid = append(gid, c.Nodes[i].ID)
		}
		ids = append(ids, gid)
	}
	c.mu.Unlock()
	c.Net.Partition(ids...)
}

// Heal ends every partition.
func (c *Cluster) Heal() {
	c.mu.Lock()
	c.group = map[ring.NodeID]int{}
	c.mu.Unlock()
	c.Net.Heal()
}

// Kill stops node i as a crash would: its service stops, other nodes see
// it down, its storage is kept for Restart.
func (c *Cluster) Kill(i int) {
	nd := c.Nodes[i]
	c.mu.Lock()
	nd.alive = false
	c.mu.Unlock()
	nd.Mgr.Close()
	nd.AAE.Close()
	nd.Svc.Close()
	nd.Store.Close()
	c.Net.Endpoint(nd.ID).Close()
}

// Restart brings a killed node back on its old storage.
func (c *Cluster) Restart(i int) {
	nd := c.Nodes[i]
	nd.Store.Reopen()
	c.start(i)
	c.mu.Lock()
	nd.alive = true
	c.mu.Unlock()
}

// Close stops every live node.
func (c *Cluster) Close() {
	for _, nd := range c.Nodes {
		c.mu.Lock()
		alive := nd.alive
		nd.alive = false
		c.mu.Unlock()
		if alive {
			nd.Mgr.Close()
			nd.AAE.Close()
			nd.Svc.Close()
		}
	}
}
