package testcluster

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	nethttp "net/http"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/handoff"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/membership/static"
	"github.com/riakgo/riakgo/internal/node"
	"github.com/riakgo/riakgo/internal/testlog"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/pg"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
)

// Options configure a cluster.
type Options struct {
	// RingSize is the number of partitions (default 16).
	RingSize int
	// Seed seeds every random choice the cluster makes: the network's
	// drops, the nodes' random ids and epochs (node.Deps.Rand), anything
	// else testcluster draws. 0 picks one from the wall clock; either way
	// it is logged (t.Log), so a failing run can be replayed by setting it.
	Seed uint64
	// Stepped runs the network in stepped mode (memnet.SetStepped): every
	// message waits in a queue, and the cluster delivers the queue one
	// message at a time in canonical order whenever it waits for
	// quiescence (Quiesce, Step, Settle, and every call that crosses the
	// network on the test's behalf). With a cluster made inside a
	// testing/synctest bubble this makes a run a function of the seed and
	// the test's commands: internal/scenario runs its transcripts so.
	Stepped bool
	// Timeout is each request's deadline (default 2 s).
	Timeout time.Duration
	// Configure, if set, adjusts each node's kv configuration.
	Configure func(i int, c *kv.Config)
	// Handoff, if set, adjusts each node's handoff configuration.
	Handoff func(i int, c *handoff.Config)
	// AAE, if set, adjusts each node's anti-entropy configuration
	// (default: an exchange round every second of the clock, 8 pairs).
	AAE func(i int, c *handoff.AAEConfig)
	// ConfigurePG, if set, adjusts each node's process-group configuration.
	ConfigurePG func(i int, c *pg.Config)
	// NoRepairOnRecover: a wiped node that rejoins leaves its data to
	// anti-entropy (node.Config.NoRepairOnRecover).
	NoRepairOnRecover bool
	// Quiet logs warnings and errors only (long runs: the nemesis).
	Quiet bool
}

// Start is the manual clock's initial time.
var Start = time.Unix(1_700_000_000, 0)

// Node is one member of the cluster: a node.Node built by node.New from
// in-memory parts, and handles on its parts for tests.
type Node struct {
	ID    ring.NodeID
	Store *memstore.Store
	// N is the node (nil until started); Svc, Mgr, Drv, AAE and PG are
	// its parts.
	N   *node.Node
	Svc *kv.Service
	Mgr *handoff.Manager
	Drv *handoff.Driver
	AAE *handoff.Exchanger
	PG  *pg.Service
	// Incarnation is the node's incarnation in the cluster state (1,
	// then one more at every Restart).
	Incarnation uint64
	alive       bool
	removed     bool
}

// Cluster is N nodes in one process.
type Cluster struct {
	t    testing.TB
	opts Options
	Net  *memnet.Network
	// Members is the membership the nodes share (static: failure
	// detection is instant, gossip runs when Tick says).
	Members *static.Network
	// Clock drives every node and the network: it moves only when the
	// test advances it (timeouts, delays, reap timers, timestamps).
	Clock *clock.Manual
	// Ring is the ring the cluster settled on when it was formed.
	Ring  *ring.Ring
	Nodes []*Node

	mu     sync.Mutex
	paused map[ring.NodeID]bool // Pause
	rnd    *rand.Rand
	rndMu  sync.Mutex

	bubble   bool                     // made inside a synctest bubble
	trace    func(transport.Envelope) // SetTrace
	gaveUp   bool                     // a Quiesce gave up (logged once)
	busyLast bool                     // the last wait gave up
}

// New starts n nodes and forms them into one cluster the way an operator
// does: every node joins the first, the claimant plans and commits, and
// the cluster settles (there is no data yet, so no transfer has anything
// to move).
func New(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	if o.RingSize == 0 {
		o.RingSize = 16
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano()) & (1<<53 - 1)
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	t.Logf("testcluster: %d nodes, ring %d, seed %d (replay with Options.Seed)", n, o.RingSize, o.Seed)
	clk := clock.NewManual(Start)
	c := &Cluster{
		t: t, opts: o, Clock: clk, Members: static.NewNetwork(),
		Net:    memnet.New(memnet.Options{Seed: o.Seed, Clock: clk, CallTimeout: o.Timeout}),
		rnd:    rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		bubble: inBubble(),
	}
	c.Net.SetStepped(o.Stepped)
	// Membership as memberlist behaves after a failure: the dead are
	// forgotten, so only the nodes' own rejoin attempts merge a healed
	// partition.
	c.Members.ForgetDead(true)
	t.Cleanup(c.Close)
	for i := 0; i < n; i++ {
		c.AddNode()
	}
	for i := 1; i < n; i++ {
		c.Join(i)
	}
	if n > 1 {
		c.PlanCommit()
		if err := c.settle(100); err != nil {
			t.Fatalf("testcluster: the initial ring did not settle: %v", err)
		}
	}
	c.Ring = c.Nodes[0].N.ClusterState().Ring()
	return c
}

func (c *Cluster) rand64() uint64 {
	c.rndMu.Lock()
	defer c.rndMu.Unlock()
	return c.rnd.Uint64()
}

// start builds node i with node.New on its storage, a memnet endpoint,
// its static membership node and the cluster's clock, and marks it ready.
func (c *Cluster) start(i int) {
	nd := c.Nodes[i]
	cfg := node.DefaultConfig()
	cfg.Name = string(nd.ID)
	cfg.DataDir = "memory"
	cfg.RingSize = c.opts.RingSize
	cfg.NoRepairOnRecover = c.opts.NoRepairOnRecover
	log := testlog.New(c.t).With("node", string(nd.ID))
	if c.opts.Quiet {
		log = slog.New(levelHandler{log.Handler(), slog.LevelWarn})
	}
	tune := node.Tune{
		KV: func(kc *kv.Config) {
			kc.Timeout = c.opts.Timeout
			// Odd nodes cache objects in the encoded tier alone, so that
			// every cluster test reads through both kinds of cache (even
			// nodes keep the memory plan's two tiers, where test data
			// stays in the decoded one).
			if i%2 == 1 {
				kc.ObjectCacheBytes, kc.EncodedCacheBytes = 0, kv.MinEncodedCacheBytes
			}
			if c.opts.Configure != nil {
				c.opts.Configure(i, kc)
			}
		},
		Handoff: func(hc *handoff.Config) {
			hc.Timeout = 30 * time.Second
			if c.opts.Handoff != nil {
				c.opts.Handoff(i, hc)
			}
		},
		AAE: func(ac *handoff.AAEConfig) {
			ac.Interval, ac.ExchangesPerInterval = time.Second, 8
			if c.opts.AAE != nil {
				c.opts.AAE(i, ac)
			}
		},
	}
	if c.opts.ConfigurePG != nil {
		tune.PG = func(pc *pg.Config) { c.opts.ConfigurePG(i, pc) }
	}
	ep := c.Net.Endpoint(nd.ID)
	n, err := node.New(cfg, node.Deps{Engine: nd.Store, Transport: ep, Membership: c.Members.Node(nd.ID), Clock: c.Clock,
		Rand: c.rand64, Logger: log, Meta: membership.Meta{ClusterAddr: string(nd.ID)}, Tune: tune})
	if err != nil {
		c.t.Fatalf("start %s: %v", nd.ID, err)
	}
	n.Ready()
	c.mu.Lock()
	nd.N, nd.Svc, nd.Mgr, nd.Drv, nd.AAE, nd.PG = n, n.Service(), n.Handoff(), n.Driver(), n.AAE(), n.PG()
	nd.Incarnation = n.Incarnation()
	nd.alive = true
	c.mu.Unlock()
}

// AddNode starts a new node that is not a member yet (a fresh cluster of
// its own) and returns its index.
func (c *Cluster) AddNode() int {
	c.mu.Lock()
	id := ring.NodeID(fmt.Sprintf("node%d@test", len(c.Nodes)+1))
	c.Nodes = append(c.Nodes, &Node{ID: id, Store: memstore.New()})
	i := len(c.Nodes) - 1
	c.mu.Unlock()
	c.start(i)
	return i
}

func (c *Cluster) node(i int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Nodes[i]
}

// Client returns node i's service (0-based).
func (c *Cluster) Client(i int) *kv.Service { return c.node(i).Svc }

// HTTP returns node i's HTTP API handler.
func (c *Cluster) HTTP(i int) nethttp.Handler { return c.node(i).N.Handler() }

// live returns the live nodes.
func (c *Cluster) live() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, nd := range c.Nodes {
		if nd.alive {
			out = append(out, nd)
		}
	}
	return out
}

func (c *Cluster) isAlive(nd *Node) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return nd.alive
}

// gossip runs membership rounds until the live nodes' states stop
// changing (bounded).
func (c *Cluster) gossip() {
	for round := 0; round < 20; round++ {
		before := c.fingerprint()
		c.Members.Gossip()
		if c.fingerprint() == before {
			return
		}
	}
}

func (c *Cluster) fingerprint() string {
	var out string
	for _, nd := range c.live() {
		b, _ := nd.N.ClusterState().MarshalBinary()
		out += string(nd.ID) + string(b) + string(nd.N.Metadata().Digest())
	}
	return out
}

// Partition splits the nodes (0-based indexes) into groups that reach only
// each other, in the network and in membership; nodes not listed are
// alone.
func (c *Cluster) Partition(groups ...[]int) {
	var ids [][]ring.NodeID
	listed := map[int]bool{}
	for _, members := range groups {
		var gid []ring.NodeID
		for _, i := range members {
			gid = append(gid, c.node(i).ID)
			listed[i] = true
		}
		ids = append(ids, gid)
	}
	c.mu.Lock()
	for i, nd := range c.Nodes {
		if !listed[i] {
			ids = append(ids, []ring.NodeID{nd.ID})
		}
	}
	c.mu.Unlock()
	c.Net.Partition(ids...)
	c.Members.Partition(ids...)
}

// Heal ends every partition.
func (c *Cluster) Heal() {
	c.Net.Heal()
	c.Members.Heal()
}

// Kill stops node i as a crash would: other nodes see it down at once,
// its storage is kept for Restart.
func (c *Cluster) Kill(i int) {
	nd := c.node(i)
	c.mu.Lock()
	nd.alive = false
	c.mu.Unlock()
	nd.N.Close()
}

// Restart brings a killed node back on its old storage: it rejoins the
// members of its persisted ring, gossips, and fetches the metadata.
func (c *Cluster) Restart(i int) {
	nd := c.node(i)
	nd.Store.Reopen()
	c.start(i)
	c.do(func() {
		nd.N.Rejoin()
		c.gossip()
		nd.N.SyncMetadata(context.Background())
	})
}

// Wipe kills node i, replaces its storage with an empty one (a lost disk),
// starts it again and has it run "cluster join" with a live member, as
// docs/operations.md tells an operator to: it takes its membership back
// and anti-entropy restores its data.
func (c *Cluster) Wipe(i int) {
	c.Kill(i)
	nd := c.node(i)
	nd.Store = memstore.New()
	c.start(i)
	for _, seed := range c.live() {
		if seed != nd {
			if err := c.await(func() error { return nd.N.ClusterJoin(context.Background(), seed.N.GossipAddr()) }); err != nil {
				c.t.Fatalf("wiped %s: join: %v", nd.ID, err)
			}
			break
		}
	}
	c.gossip()
}

// ForceRemove removes node i from the cluster as "cluster force-remove"
// then plan and commit do, killing it first if it is alive.
func (c *Cluster) ForceRemove(i int) {
	nd := c.node(i)
	if c.isAlive(nd) {
		c.Kill(i)
	}
	live := c.live()
	if len(live) == 0 {
		c.t.Fatal("testcluster: no live node to force-remove from")
	}
	ctx := context.Background()
	// riak-admin down first: a plan waits for every member to have
	// seen the state, and a dead one never will.
	var err error
	c.do(func() { err = live[0].N.ClusterDown(ctx, nd.ID) })
	if err != nil {
		c.t.Fatalf("down %s: %v", nd.ID, err)
	}
	c.gossip()
	if err := c.await(func() error { return live[0].N.ClusterStage(ctx, "force-remove", nd.ID, "") }); err != nil {
		c.t.Fatalf("force-remove %s: %v", nd.ID, err)
	}
	c.PlanCommit()
	c.mu.Lock()
	nd.removed = true
	c.mu.Unlock()
}

// PlanCommit is "cluster plan" then "cluster commit" at the claimant,
// after gossip has brought it every staged change.
func (c *Cluster) PlanCommit() {
	c.gossip()
	for _, nd := range c.live() {
		if nd.N.ClusterState().Claimant() != nd.ID {
			continue
		}
		var err error
		c.do(func() { err = nd.N.ClusterCommit(context.Background(), true) })
		if err != nil {
			c.t.Fatalf("commit at %s: %v", nd.ID, err)
		}
		c.gossip()
		return
	}
	c.t.Fatal("testcluster: no live claimant")
}

// Join is "cluster join" of node i through node 0 (commit with
// PlanCommit).
func (c *Cluster) Join(i int) {
	nd, seed := c.node(i), c.node(0)
	if err := c.await(func() error { return nd.N.ClusterJoin(context.Background(), seed.N.GossipAddr()) }); err != nil {
		c.t.Fatalf("join %s: %v", nd.ID, err)
	}
	c.gossip()
}

// await runs an admin call that waits on the cluster (a join waits until
// the seed's gossip lists the joining node) while membership gossips and
// the clock moves, and returns its error. Between two steps of 100 ms of
// the clock the cluster runs to quiescence, so the call sees the same
// simulated time on every machine; it fails the test after 60 s of it.
func (c *Cluster) await(fn func() error) error {
	var err error
	c.run(func() { err = fn() }, true)
	return err
}

// do runs fn, which may wait on the network (a call the test makes on a
// node's behalf). In stepped mode nothing is delivered unless the test
// goroutine delivers it, so fn runs in a goroutine of its own while the
// test goroutine delivers messages and, when fn waits on the clock (a
// call to a silent peer), moves it 100 ms at a time; otherwise fn runs
// directly.
func (c *Cluster) do(fn func()) {
	if !c.opts.Stepped {
		fn()
		return
	}
	c.run(fn, false)
}

// run runs fn in a goroutine and, until it returns, lets the cluster run
// to quiescence, then (gossiping first if asked) moves the clock by
// stepTimeout; it fails the test after 600 such steps (60 s of the clock).
func (c *Cluster) run(fn func(), gossip bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	for range 600 {
		c.quiesce()
		select {
		case <-done:
			return
		default:
		}
		if gossip {
			c.Members.Gossip()
		}
		c.Clock.Advance(stepTimeout)
	}
	c.t.Fatalf("testcluster: a call on the cluster did not return in 60 s of the test clock")
}

// Leave stages "cluster leave" of node i (commit with PlanCommit).
func (c *Cluster) Leave(i int) {
	nd := c.node(i)
	if err := c.await(func() error { return nd.N.ClusterLeave(context.Background(), "") }); err != nil {
		c.t.Fatalf("leave %s: %v", nd.ID, err)
	}
	c.gossip()
}

// State returns node i's cluster state.
func (c *Cluster) State(i int) ring.State { return c.node(i).N.ClusterState() }

// PGTick runs every live node's process-group tick (leases, repairs,
// watches) without moving the clock; tests call it after advancing the
// clock. (Tick is a whole node period: clock, gossip, handoff,
// anti-entropy and this.)
func (c *Cluster) PGTick() {
	c.do(func() {
		for _, nd := range c.live() {
			nd.PG.Tick(context.Background())
		}
	})
}

// Tick is one period of every live node: the clock advances a second,
// membership gossips, and each node runs its tick (claimant work, handoff
// scan, anti-entropy, metadata repair, process groups). It does not wait
// for the work the tick starts in the background (transfers, exchanges):
// Step does.
func (c *Cluster) Tick() { c.do(c.tick) }

// Step is one Tick, then the cluster runs to quiescence (Quiesce): what
// the tick started has finished before the clock moves again.
func (c *Cluster) Step() {
	c.Tick()
	c.quiesce()
}

// quiesce is Quiesce, logging (once) if it gives up.
func (c *Cluster) quiesce() {
	if err := c.Quiesce(); err != nil && !c.gaveUp {
		c.gaveUp = true
		c.t.Logf("%v: simulated time may now depend on the machine's speed", err)
	}
}

// SetTrace calls f with every message that stepped delivery hands over
// (nil: none); f runs in the test goroutine.
func (c *Cluster) SetTrace(f func(transport.Envelope)) { c.trace = f }

func (c *Cluster) tick() {
	c.Clock.Advance(time.Second)
	c.gossip()
	for _, nd := range c.live() {
		c.mu.Lock()
		paused := c.paused[nd.ID]
		c.mu.Unlock()
		if !paused {
			nd.N.Tick(context.Background())
		}
	}
	c.gossip()
}

// Close stops every live node.
func (c *Cluster) Close() {
	for _, nd := range c.live() {
		c.mu.Lock()
		nd.alive = false
		c.mu.Unlock()
		nd.N.Close()
	}
}
