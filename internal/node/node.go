package node

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/riakgo/riakgo/handoff"
	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/membership/memberlist"
	"github.com/riakgo/riakgo/internal/metadata"
	"github.com/riakgo/riakgo/internal/metrics"
	"github.com/riakgo/riakgo/internal/secret"
	"github.com/riakgo/riakgo/internal/security"
	"github.com/riakgo/riakgo/internal/tlsconf"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/tcp"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/pg"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/kv/storage/pebblestore"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// Config configures a node. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// Name is the node's name, e.g. riakgo@127.0.0.1.
	Name string
	// DataDir holds the node's storage.
	DataDir string
	// HTTP is the client API listen address.
	HTTP string
	// PB is the Protocol Buffers API listen address; empty turns it off
	// (riakgo start's default is 127.0.0.1:8087).
	PB string
	// Cluster is the internode (TCP) address (port 0 picks one).
	Cluster string
	// Gossip is the membership (memberlist) address, an IP and port
	// (port 0 picks one).
	Gossip string
	// RingSize is the number of partitions (power of two). It is fixed
	// when the data directory is created.
	RingSize int
	// DeleteMode is keep, immediate or milliseconds (default 3000).
	DeleteMode string
	// Logger defaults to text logs on stderr at info level.
	Logger *slog.Logger
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// Version is reported by /stats.
	Version string
	// Memory is the node's memory budget in bytes (riakgo start
	// --memory); 0 means DefaultMemoryFraction of the machine's memory.
	// The caches and memtables are sized from it (see memory.go).
	Memory int64
	// BlockCacheMiB, if positive, overrides the budget's Pebble block
	// cache.
	BlockCacheMiB int
	// ObjectCacheMiB, if not negative, overrides the budget's
	// decoded-object cache (0 disables it).
	ObjectCacheMiB int
	// HandoffConcurrency is handoff_concurrency: transfers in and out
	// at once (default 2).
	HandoffConcurrency int
	// AAEInterval is the period of anti-entropy exchanges (default 15 s).
	AAEInterval time.Duration
	// NoRepairOnRecover: a node that recovers its membership after losing
	// its storage (a wiped data directory, then "cluster join") does not
	// repair its partitions by transfer; anti-entropy alone restores them
	// (slowly). Default false: it repairs.
	NoRepairOnRecover bool
	// HandoffStallTimeout: a transfer with no progress this long fails
	// and frees its slots on both sides (default 10 s; see
	// handoff.Config.StallTimeout).
	HandoffStallTimeout time.Duration

	// Security (docs/security.md).

	// ClusterName names the cluster (default "riakgo"): peers of another
	// name are refused on the internode port, and gossip packets carry it
	// as their label.
	ClusterName string
	// SecretFile holds the cluster secret(s) every member proves on the
	// internode and gossip ports (secret.Load: one per line, primary
	// first, mode 0600). Reread on Reload (SIGHUP).
	SecretFile string
	// InsecureCluster lets the internode and gossip ports listen on
	// addresses other than loopback without a cluster secret. Without it,
	// such a node refuses to start: anyone who reaches those ports could
	// read, write and join.
	InsecureCluster bool
	// TLSCert, TLSKey and TLSCA are PEM files: the node's certificate and
	// key (HTTPS, Protocol Buffers STARTTLS, internode TLS) and the CA that
	// signs client and peer certificates. Reread on Reload (SIGHUP).
	TLSCert, TLSKey, TLSCA string
	// HTTPS is the HTTPS listen address (empty: none).
	HTTPS string
	// InternodeTLS wraps internode connections in mutual TLS (needs
	// TLSCert, TLSKey and TLSCA: the CA signs every member).
	InternodeTLS bool
	// AdminOpen lets admin routes answer callers on other machines while
	// security is off (by default only the local machine).
	AdminOpen bool
	// NoRefererCheck turns off Riak's cross-site Referer/Origin check.
	NoRefererCheck bool
	// RecomputeSums recomputes every stored object's sum when the store
	// opens (after an earlier version, which does not keep them, wrote to
	// the data directory).
	RecomputeSums bool
	// MaxHTTPConns bounds the connections each HTTP listener holds
	// (default 4096): one more is answered 503 and closed.
	MaxHTTPConns int
}

// DefaultConfig returns the embedded defaults: data in ./data, HTTP on
// 127.0.0.1:8098, internode 127.0.0.1:8099, gossip 127.0.0.1:7946, ring 64.
func DefaultConfig() Config {
	return Config{
		Name:       "riakgo@127.0.0.1",
		DataDir:    "./data",
		HTTP:       "127.0.0.1:8098",
		PB:         "127.0.0.1:8087",
		Cluster:    "127.0.0.1:8099",
		Gossip:     "127.0.0.1:7946",
		RingSize:   ring.DefaultSize,
		DeleteMode: "3000",

		BlockCacheMiB:       0,
		ObjectCacheMiB:      -1,
		HandoffConcurrency:  2,
		HandoffStallTimeout: 10 * time.Second,
		ClusterName:         "riakgo",
		MaxHTTPConns:        4096,
	}
}

// DefaultGossipPort is the gossip port riak-admin's node-name form of
// "cluster join" tries first.
const DefaultGossipPort = "7946"

// Validate checks the configuration and says what is wrong.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name must not be empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir must not be empty"))
	}
	for _, a := range []struct{ flag, v string }{{"http", c.HTTP}, {"cluster", c.Cluster}, {"gossip", c.Gossip}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("%s address %q: %v", a.flag, a.v, err))
		}
	}
	if c.PB != "" {
		if _, _, err := net.SplitHostPort(c.PB); err != nil {
			errs = append(errs, fmt.Errorf("pb address %q: %v", c.PB, err))
		}
	}
	if c.RingSize < 1 || c.RingSize > ring.MaxSize || c.RingSize&(c.RingSize-1) != 0 {
		errs = append(errs, fmt.Errorf("ring-size %d: must be a power of two between 1 and %d", c.RingSize, ring.MaxSize))
	}
	if _, err := kv.ParseDeleteMode(c.DeleteMode); err != nil {
		errs = append(errs, err)
	}
	if c.BlockCacheMiB < 0 {
		errs = append(errs, fmt.Errorf("block-cache %d MiB: must not be negative (0: from the memory budget)", c.BlockCacheMiB))
	}
	if c.Memory < 0 {
		errs = append(errs, fmt.Errorf("memory %d bytes: must not be negative", c.Memory))
	}
	if c.HandoffConcurrency < 0 {
		errs = append(errs, fmt.Errorf("handoff-concurrency %d: must not be negative", c.HandoffConcurrency))
	}
	errs = append(errs, c.validateSecurity()...)
	return errors.Join(errs...)
}

// Deps are the parts of a node that are not configuration: storage, the
// network, membership and time. Start builds the product's (Pebble, TCP,
// memberlist, the wall clock); the in-process test cluster passes its own
// (memstore, memnet, the static membership, a manual clock) to the same
// New, so the code that ships is the code those tests run.
type Deps struct {
	// Engine, Transport and Membership are required. The node owns them
	// from New on: Close closes them.
	Engine     storage.Engine
	Transport  transport.Transport
	Membership membership.Membership
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// Rand returns random 64-bit values (vnode ids, vtags); it must be
	// safe for concurrent use. Default: math/rand/v2.
	Rand func() uint64
	// Logger defaults to Config.Logger.
	Logger *slog.Logger
	// Meta is what the node publishes about itself (its internode and
	// HTTP addresses); New fills in the incarnation, Ready the ready flag.
	Meta membership.Meta
	// Tune adjusts the parts' configurations before they are built
	// (tests: timeouts, batch sizes, delete mode).
	Tune Tune
}

// Tune holds optional adjustments of a node's parts.
type Tune struct {
	KV      func(*kv.Config)
	Handoff func(*handoff.Config)
	AAE     func(*handoff.AAEConfig)
	PG      func(*pg.Config)
}

// Node is a riakgo node.
type Node struct {
	cfg     Config
	log     *slog.Logger
	clk     clock.Clock
	eng     storage.Engine
	tr      transport.Transport
	ml      membership.Membership
	meta    membership.Meta
	md      *metadata.Store
	svc     *kv.Service
	metrics *metrics.Registry
	pb      *pbFace // nil when the PB API is off (pb.go)
	mem     MemoryPlan
	cl      *cluster
	mgr     *handoff.Manager
	aae     *handoff.Exchanger
	pg      *pg.Service
	handler *riakhttp.Handler
	sec     *security.Service
	tls     *tlsconf.Store // nil without TLS files
	// secretApply installs new cluster secrets in the transport and the
	// gossip keyring (Reload); nil in a node New built alone.
	secretApply func(secret.Set) error

	// The serving parts of a started node (Start); nil in a node that
	// New built alone.
	srv     *nethttp.Server
	ln      net.Listener
	httpsLn net.Listener // nil without HTTPS
	done    chan error

	loopStop  chan struct{}
	loopWG    sync.WaitGroup
	closeOnce sync.Once
}

var metaRingSize = []byte("ring_size")

// New assembles a node from its configuration and parts: storage checks,
// the persisted (or a fresh single-node) cluster state, the cluster
// metadata, the kv service, handoff, anti-entropy, process groups and the
// HTTP handler. It starts no loop and serves nothing: Start does that for
// a real node, and the test cluster drives Tick itself. The node is not
// ready (peers do not route to it) until Ready.
func New(cfg Config, d Deps) (*Node, error) {
	if d.Engine == nil || d.Transport == nil || d.Membership == nil {
		return nil, errors.New("riakgo/node: Engine, Transport and Membership are required")
	}
	log := d.Logger
	if log == nil {
		log = cfg.Logger
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if d.Rand == nil {
		d.Rand = rand.Uint64
	}
	clk := clock.OrReal(d.Clock)
	dm, err := kv.ParseDeleteMode(cfg.DeleteMode)
	if err != nil {
		return nil, err
	}
	self := ring.NodeID(cfg.Name)
	n := &Node{cfg: cfg, log: log, clk: clk, eng: d.Engine, tr: d.Transport, ml: d.Membership, meta: d.Meta,
		done: make(chan error, 1), loopStop: make(chan struct{})}
	fail := func(err error) (*Node, error) {
		n.closeParts()
		return nil, err
	}
	size, err := n.ringSize()
	if err != nil {
		return fail(err)
	}
	if n.meta.Incarnation == 0 {
		n.meta.Incarnation = d.Rand() | 1
	}
	n.meta.Ready = false

	n.cl = &cluster{self: self, log: log.With("component", "cluster"), clk: clk, eng: d.Engine, ml: d.Membership, noRepair: cfg.NoRepairOnRecover,
		foreign: map[ring.NodeID]ring.State{}, metaPeers: map[ring.NodeID]bool{}, knownBy: map[ring.NodeID]bool{}, clockOf: map[ring.NodeID]vclock.VClock{}, kick: make(chan struct{}, 1)}
	rmeta := ring.MemberMeta{GossipAddr: d.Membership.Local().GossipAddr, InternodeAddr: n.meta.ClusterAddr, HTTPAddr: n.meta.HTTPAddr}
	st, fresh, err := loadState(d.Engine, self, size, rmeta, clk.Now())
	if err != nil {
		return fail(err)
	}
	n.cl.fresh = fresh

	n.md, err = metadata.New(metadata.Config{Self: self, Engine: d.Engine, Clock: clk, Logger: log.With("component", "metadata"),
		Transport: d.Transport, Peers: n.cl.upMembers, Members: n.cl.otherMembers, Cluster: n.cl.clusterName})
	if err != nil {
		return fail(err)
	}
	n.cl.md = n.md

	n.metrics = metrics.New()
	kcfg := kv.DefaultConfig()
	kcfg.Node = self
	kcfg.Ring = st.Ring()
	kcfg.Engine = d.Engine
	kcfg.Clock = d.Clock
	kcfg.Logger = log
	kcfg.Rand = d.Rand
	kcfg.DeleteMode = dm
	kcfg.Limits = siblings.DefaultLimits()
	kcfg.Metrics = n.metrics
	n.mem = cfg.memoryPlan()
	dec, enc := n.mem.ObjectCacheTiers()
	kcfg.ObjectCacheBytes, kcfg.EncodedCacheBytes = int(dec), int(enc)
	if cfg.ObjectCacheMiB == 0 {
		kcfg.ObjectCacheBytes, kcfg.EncodedCacheBytes = -1, 0
	}
	kcfg.Transport = d.Transport
	kcfg.Up = d.Membership.Up
	kcfg.Metadata = n.md
	if d.Tune.KV != nil {
		d.Tune.KV(&kcfg)
	}
	if n.svc, err = kv.New(kcfg); err != nil {
		return fail(err)
	}
	n.cl.svc = n.svc
	n.cl.loadDetached()
	vn := n.svc.Vnodes()
	n.cl.drv = handoff.NewDriver(self, vn, d.Membership.Up, log.With("component", "handoff"))
	hcfg := handoff.Config{Self: self, Transport: d.Transport, Vnodes: vn, Planned: n.cl.drv.Planned, Clock: d.Clock,
		Logger: log.With("component", "handoff"), Metrics: n.metrics, Concurrency: cfg.HandoffConcurrency, Done: n.cl.drv.Done,
		StallTimeout: cfg.HandoffStallTimeout, Up: d.Membership.Up, InboundDone: n.cl.drv.RepairDone, AcceptRepair: n.cl.drv.AcceptRepair}
	if d.Tune.Handoff != nil {
		d.Tune.Handoff(&hcfg)
	}
	if n.mgr, err = handoff.New(hcfg); err != nil {
		return fail(err)
	}
	n.cl.drv.SetManager(n.mgr)
	n.cl.mgr = n.mgr
	acfg := handoff.AAEConfig{Self: self, Transport: d.Transport, Vnodes: vn, Clock: d.Clock,
		Logger: log.With("component", "aae"), Metrics: n.metrics, Interval: cfg.AAEInterval}
	if d.Tune.AAE != nil {
		d.Tune.AAE(&acfg)
	}
	if n.aae, err = handoff.NewExchanger(acfg); err != nil {
		return fail(err)
	}
	n.cl.aae = n.aae
	n.cl.mu.Lock()
	n.cl.install(st)
	n.cl.mu.Unlock()
	if err := n.cl.loadRepairs(st.Ring()); err != nil {
		return fail(err)
	}
	n.cl.persist()
	// A first handoff scan at once: data this node holds for partitions
	// it does not own (a fallback's, from before a restart) counts as
	// waiting in transfers from the start, not from the first tick.
	n.cl.drv.Step(st.Ring(), st.Transfers())
	d.Membership.SetStateHandler(n.cl)
	n.registerRingOwners()

	if err := n.newPG(d.Rand, d.Tune.PG); err != nil {
		return fail(err)
	}
	n.metrics.RegisterCluster(n.clusterStats)
	n.metrics.RegisterStorage(n.storageStats)
	n.sec = security.New(n.md, security.Options{Logger: log.With("component", "security")})
	d.Transport.Handle(wire.MsgClusterAdmin, n.handleAdmin)
	n.handler = riakhttp.NewHandler(n.svc, riakhttp.Options{Logger: log, Observer: n.metrics, Metrics: n.metrics.Handler(), Clock: clk, Version: cfg.Version,
		Cluster: n, ExtraStats: n.extraStats, PG: n.pg,
		Security: secAdapter{n.sec}, SecurityAdmin: secAdapter{n.sec}, AdminOpen: cfg.AdminOpen, NoRefererCheck: cfg.NoRefererCheck})
	return n, nil
}

// Start opens a real node: Pebble in the data directory, the TCP transport,
// memberlist, the HTTP listener; it assembles the node (New), gossips with
// the members of its persisted ring, fetches the cluster metadata from
// them, starts the node's loops, serves HTTP and publishes itself ready.
func Start(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		cfg.Logger = log
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data-dir %s: %w", cfg.DataDir, err)
	}
	mem := cfg.memoryPlan()
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(mem.GoHeapLimit)
	}
	store, err := pebblestore.Open(filepath.Join(cfg.DataDir, "kv"), pebblestore.Options{Logger: log, CacheSize: mem.BlockCache, MemTableSize: uint64(mem.MemTable), RecomputeSums: cfg.RecomputeSums})
	if err != nil {
		return nil, err
	}
	var closers []func()
	fail := func(err error) (*Node, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		return nil, err
	}
	closers = append(closers, func() { store.Close() })
	sec, err := loadSecret(cfg)
	if err != nil {
		return fail(fmt.Errorf("cluster secret: %w", err))
	}
	tlsStore, err := loadTLS(cfg)
	if err != nil {
		return fail(err)
	}
	if cfg.MaxHTTPConns <= 0 {
		cfg.MaxHTTPConns = DefaultConfig().MaxHTTPConns
	}
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fail(fmt.Errorf("http listen %s: %w", cfg.HTTP, err))
	}
	ln = riakhttp.LimitListener(ln, cfg.MaxHTTPConns, true)
	closers = append(closers, func() { ln.Close() })
	self := ring.NodeID(cfg.Name)
	var ml *memberlist.Memberlist
	tcfg := tcp.DefaultConfig()
	tcfg.Node = self
	tcfg.ListenAddr = cfg.Cluster
	tcfg.Logger = log.With("component", "transport")
	tcfg.Resolve = func(id ring.NodeID) (string, bool) { return membership.Resolver(ml)(id) }
	tcfg.Cluster = cfg.ClusterName
	tcfg.Secret = sec
	if cfg.InternodeTLS {
		tcfg.ServerTLS, tcfg.ClientTLS = tlsStore.PeerServer(), tlsStore.PeerClient()
	}
	tr, err := tcp.New(tcfg)
	if err != nil {
		return fail(fmt.Errorf("cluster listen %s: %w", cfg.Cluster, err))
	}
	closers = append(closers, func() { tr.Close() })
	meta := membership.Meta{ClusterAddr: tr.Addr().String(), HTTPAddr: ln.Addr().String(), Incarnation: membership.NewIncarnation()}
	mcfg := memberlist.DefaultConfig()
	mcfg.Name = self
	mcfg.BindAddr = cfg.Gossip
	mcfg.Meta = meta
	mcfg.PushPullInterval = 2 * time.Second
	mcfg.Logger = log.With("component", "membership")
	mcfg.Label = cfg.ClusterName
	mcfg.SecretKeys = sec.Keys(secret.PurposeGossip, 32)
	if ml, err = memberlist.New(mcfg); err != nil {
		return fail(fmt.Errorf("gossip listen %s: %w", cfg.Gossip, err))
	}
	closers = append(closers, func() { ml.Shutdown() })
	n, err := New(cfg, Deps{Engine: store, Transport: tr, Membership: ml, Clock: cfg.Clock, Logger: log, Meta: meta})
	if err != nil {
		return fail(err)
	}
	n.ln = ln
	n.cl.rejoinAsync = true // the loop's tick must not wait for unreachable members
	n.tls = tlsStore
	n.secretApply = func(s secret.Set) error {
		if s.Empty() != sec.Empty() {
			return errors.New("a cluster secret cannot be added or removed while the node runs: restart it")
		}
		if err := ml.SetKeys(s.Keys(secret.PurposeGossip, 32)); err != nil {
			return err
		}
		tr.SetSecret(s)
		return nil
	}
	if cfg.HTTPS != "" {
		hl, err := net.Listen("tcp", cfg.HTTPS)
		if err != nil {
			n.Close()
			ln.Close()
			return nil, fmt.Errorf("https listen %s: %w", cfg.HTTPS, err)
		}
		n.httpsLn = tls.NewListener(riakhttp.LimitListener(hl, cfg.MaxHTTPConns, false), tlsStore.Server())
	}
	if err := n.listenPB(); err != nil {
		n.Close()
		ln.Close()
		if n.httpsLn != nil {
			n.httpsLn.Close()
		}
		return nil, err
	}
	n.Rejoin()
	// Settings changed while this node was down reach it before it serves
	// (bounded on the node's clock, the wall clock unless Config.Clock says
	// otherwise, as every other deadline of the node).
	ctx, cancel := clock.WithTimeout(context.Background(), n.clk, 5*time.Second)
	n.SyncMetadata(ctx)
	cancel()
	n.run()
	n.srv = &nethttp.Server{
		Handler:           n.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    256 << 10, // and at most 1000 fields (the handler)
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	n.srv.RegisterOnShutdown(n.handler.CloseStreams) // pg watches and held joins end at shutdown
	go func() { n.done <- n.srv.Serve(ln) }()
	if n.httpsLn != nil {
		go func() {
			if err := n.srv.Serve(n.httpsLn); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
				log.Error("https server stopped", "err", err)
			}
		}()
	}
	n.servePB()
	n.Ready()
	dm, _ := kv.ParseDeleteMode(cfg.DeleteMode)
	log.Info("memory budget " + mem.String())
	log.Info("riakgo node started", "name", cfg.Name, "http", ln.Addr().String(), "https", n.HTTPSAddr(), "cluster", meta.ClusterAddr,
		"gossip", ml.Local().GossipAddr, "data_dir", cfg.DataDir, "ring_size", n.svc.Ring().Size(), "delete_mode", dm.String())
	return n, nil
}

// memoryPlan is the node's memory plan, with the explicit cache sizes
// of the configuration applied.
func (c Config) memoryPlan() MemoryPlan {
	p := PlanMemory(c.Memory, MachineMemory())
	if c.BlockCacheMiB > 0 {
		p.BlockCache = int64(c.BlockCacheMiB) << 20
	}
	if c.ObjectCacheMiB >= 0 {
		p.ObjectCache = int64(c.ObjectCacheMiB) << 20
	}
	return p
}

// MemoryPlan returns how the node divided its memory budget.
func (n *Node) MemoryPlan() MemoryPlan { return n.mem }

// Ready publishes the node's ready flag: peers route requests to it from
// now on.
func (n *Node) Ready() {
	n.meta.Ready = true
	if err := n.ml.SetLocalMeta(n.meta); err != nil {
		n.log.Warn("cannot publish the ready flag", "err", err)
	}
}

// Rejoin has the membership contact the members of the node's persisted
// ring (a restarted node). It does not wait for them.
func (n *Node) Rejoin() {
	if n.cl.fresh {
		return
	}
	var seeds []string
	self := n.Self()
	for _, m := range n.cl.State().Members() {
		if m.Node != self && m.Status != ring.StatusInvalid && m.Meta.GossipAddr != "" {
			seeds = append(seeds, m.Meta.GossipAddr)
		}
	}
	if len(seeds) == 0 {
		return
	}
	if _, err := n.ml.Join(seeds); err != nil {
		n.log.Warn("could not reach any member of the persisted ring", "err", err)
	}
}

// SyncMetadata exchanges the cluster metadata with every member that is
// up, until ctx ends. A restarted node calls it before it serves, so that
// it never applies settings older than the cluster's.
func (n *Node) SyncMetadata(ctx context.Context) {
	for _, p := range n.cl.upMembers() {
		if err := n.md.Sync(ctx, p); err != nil {
			n.log.Debug("metadata sync failed", "peer", p, "err", err)
		}
	}
}

// run starts the node's periodic loops (the real node's; tests call Tick).
func (n *Node) run() {
	n.loopWG.Add(2)
	go func() {
		defer n.loopWG.Done()
		t := time.NewTicker(tickInterval)
		defer t.Stop()
		for {
			select {
			case <-n.loopStop:
				return
			case <-n.cl.kick:
				n.cl.persist()
			case <-t.C:
				n.cl.tick()
			}
		}
	}()
	go func() {
		defer n.loopWG.Done()
		t := time.NewTicker(pgTickEvery)
		defer t.Stop()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { <-n.loopStop; cancel() }()
		for {
			select {
			case <-n.loopStop:
				return
			case <-t.C:
				n.pg.Tick(ctx)
			}
		}
	}()
}

// Tick is one period of the node's loops, for tests that drive time:
// the cluster step (claimant work, handoff scan, anti-entropy, metadata
// repair, membership events) and the process-group tick.
func (n *Node) Tick(ctx context.Context) {
	n.cl.tick()
	n.pg.Tick(ctx)
}

// ringSize returns the ring size recorded in the storage, recording the
// configured one on first start. A different configured size is an
// error: partitions cannot be renumbered in place.
func (n *Node) ringSize() (int, error) {
	raw, err := n.eng.GetMeta(metaRingSize)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		var b storage.Batch
		b.SetMeta(metaRingSize, binary.BigEndian.AppendUint32(nil, uint32(n.cfg.RingSize)))
		return n.cfg.RingSize, n.eng.Write(&b, storage.WriteOptions{Sync: true})
	case err != nil:
		return 0, err
	case len(raw) != 4:
		return 0, errors.New("data-dir: corrupt ring size record")
	}
	size := int(binary.BigEndian.Uint32(raw))
	if size != n.cfg.RingSize {
		return 0, fmt.Errorf("data-dir %s was created with ring-size %d; start with --ring-size %d or use a new data directory", n.cfg.DataDir, size, size)
	}
	return size, nil
}

// HTTPAddr returns the address the API listens on ("" if not serving).
func (n *Node) HTTPAddr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr().String()
}

// HTTPSAddr returns the address of the HTTPS listener ("" if none).
func (n *Node) HTTPSAddr() string {
	if n.httpsLn == nil {
		return ""
	}
	return n.httpsLn.Addr().String()
}

// Handler returns the node's HTTP API handler.
func (n *Node) Handler() nethttp.Handler { return n.handler }

// Service returns the node's key-value service.
func (n *Node) Service() *kv.Service { return n.svc }

// Handoff returns the node's transfer manager.
func (n *Node) Handoff() *handoff.Manager { return n.mgr }

// AAE returns the node's anti-entropy exchanger.
func (n *Node) AAE() *handoff.Exchanger { return n.aae }

// Driver returns the node's handoff scan.
func (n *Node) Driver() *handoff.Driver { return n.cl.drv }

// Metadata returns the node's replica of the cluster metadata.
func (n *Node) Metadata() *metadata.Store { return n.md }

// Incarnation returns the incarnation the node publishes in the cluster
// state (one more at every start).
func (n *Node) Incarnation() uint64 {
	if m, ok := n.cl.State().Member(n.Self()); ok {
		return m.Meta.Incarnation
	}
	return 0
}

// Done is closed with the HTTP server's error if it stops on its own.
func (n *Node) Done() <-chan error { return n.done }

// Stop shuts the node down: it stops accepting requests, lets in-flight
// ones finish (until ctx ends), leaves the membership (the peers see it
// left, not failed; it stays a ring member), waits for background work
// and closes storage.
func (n *Node) Stop(ctx context.Context) error {
	pbDone := n.shutdownPB(ctx)
	var err error
	if n.srv != nil {
		err = n.srv.Shutdown(ctx)
	}
	<-pbDone
	if lerr := n.ml.Leave(2 * time.Second); lerr != nil {
		n.log.Warn("membership leave", "err", lerr)
	}
	if cerr := n.Close(); cerr != nil && err == nil {
		err = cerr
	}
	n.log.Info("riakgo node stopped", "name", n.cfg.Name)
	return err
}

// Close stops the node as a crash would, without telling the peers (they
// detect the failure): membership, loops, transfers, anti-entropy,
// process groups, the service, the transport and storage, in that order.
// Acknowledged writes are kept. Close is idempotent.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		n.ml.Shutdown()
		close(n.loopStop)
		n.loopWG.Wait()
		n.cl.persist()
		if n.srv != nil {
			n.srv.Close()
		}
		n.closePB()
		err = n.closeParts()
	})
	return err
}

// closeParts closes whatever New built, then the dependencies.
func (n *Node) closeParts() error {
	if n.mgr != nil {
		n.mgr.Close()
	}
	if n.aae != nil {
		n.aae.Close()
	}
	if n.svc != nil {
		n.svc.Close()
	}
	n.ml.Shutdown()
	n.tr.Close()
	return n.eng.Close()
}

// GossipAddr returns the membership address (the one "cluster join" takes).
func (n *Node) GossipAddr() string { return n.ml.Local().GossipAddr }

// ClusterAddr returns the internode address.
func (n *Node) ClusterAddr() string { return n.meta.ClusterAddr }

// kv's Vnodes plays every role handoff defines for the node's vnodes.
var (
	_ handoff.Vnodes       = kv.Vnodes{}
	_ handoff.RepairVnodes = kv.Vnodes{}
	_ handoff.DriverVnodes = kv.Vnodes{}
	_ handoff.AAEVnodes    = kv.Vnodes{}
)
