package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/riakgo/riakgo/handoff"
	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/membership/memberlist"
	"github.com/riakgo/riakgo/internal/metrics"
	"github.com/riakgo/riakgo/internal/transfers"
	"github.com/riakgo/riakgo/internal/transport/tcp"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/kv/storage/pebblestore"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
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
	// BlockCacheMiB is Pebble's block cache (default 32; the object cache
	// holds hot objects, and a small block cache keeps listing scans from
	// growing the process).
	BlockCacheMiB int
	// ObjectCacheMiB is the decoded-object cache (default 128; 0 disables).
	ObjectCacheMiB int
	// HandoffConcurrency is handoff_concurrency: transfers in and out
	// at once (default 2).
	HandoffConcurrency int
	// AAEInterval is the period of anti-entropy exchanges (default 15 s).
	AAEInterval time.Duration
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

		BlockCacheMiB:      32,
		ObjectCacheMiB:     128,
		HandoffConcurrency: 2,
	}
}

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
	if c.BlockCacheMiB < 1 {
		errs = append(errs, fmt.Errorf("block-cache %d MiB: must be at least 1", c.BlockCacheMiB))
	}
	if c.HandoffConcurrency < 0 {
		errs = append(errs, fmt.Errorf("handoff-concurrency %d: must not be negative", c.HandoffConcurrency))
	}
	if c.ObjectCacheMiB < 0 {
		errs = append(errs, fmt.Errorf("object-cache %d MiB: must not be negative", c.ObjectCacheMiB))
	}
	return errors.Join(errs...)
}

// Node is a running riakgo node.
type Node struct {
	cfg     Config
	log     *slog.Logger
	store   *pebblestore.Store
	svc     *kv.Service
	metrics *metrics.Registry
	srv     *nethttp.Server
	ln      net.Listener
	pb      *pbFace // nil when the PB API is off (pb.go)
	tr      *tcp.Transport
	ml      *memberlist.Memberlist
	cl      *cluster
	mgr     *handoff.Manager
	aae     *handoff.Exchanger
	pg      *nodePG
	done    chan error
}

var metaRingSize = []byte("ring_size")

// Start opens storage, joins nothing (a fresh node is a cluster of one; a
// restarted node gossips with the members of its persisted ring), starts
// the internode transport, the membership and the service, and begins
// serving HTTP.
func Start(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	clk := clock.OrReal(cfg.Clock)
	dm, _ := kv.ParseDeleteMode(cfg.DeleteMode)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data-dir %s: %w", cfg.DataDir, err)
	}
	store, err := pebblestore.Open(filepath.Join(cfg.DataDir, "kv"), pebblestore.Options{Logger: log, CacheSize: int64(cfg.BlockCacheMiB) << 20})
	if err != nil {
		return nil, err
	}
	self := ring.NodeID(cfg.Name)
	n := &Node{cfg: cfg, log: log, store: store, done: make(chan error, 1)}
	var cleanup []func()
	fail := func(err error) (*Node, error) {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
		store.Close()
		return nil, err
	}
	size, err := n.ringSize()
	if err != nil {
		return fail(err)
	}
	n.ln, err = net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fail(fmt.Errorf("http listen %s: %w", cfg.HTTP, err))
	}
	cleanup = append(cleanup, func() { n.ln.Close() })
	if err := n.listenPB(); err != nil {
		return fail(err)
	}
	cleanup = append(cleanup, n.closePB)

	// Internode transport and membership.
	n.cl = &cluster{self: self, log: log.With("component", "cluster"), clk: clk, eng: store,
		foreign: map[ring.NodeID]ring.State{}, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	var ml *memberlist.Memberlist
	tcfg := tcp.DefaultConfig()
	tcfg.Node = self
	tcfg.ListenAddr = cfg.Cluster
	tcfg.Logger = log.With("component", "transport")
	tcfg.Resolve = func(id ring.NodeID) (string, bool) { return membership.Resolver(ml)(id) }
	if n.tr, err = tcp.New(tcfg); err != nil {
		return fail(fmt.Errorf("cluster listen %s: %w", cfg.Cluster, err))
	}
	cleanup = append(cleanup, func() { n.tr.Close() })
	meta := membership.Meta{ClusterAddr: n.tr.Addr().String(), HTTPAddr: n.ln.Addr().String(), Incarnation: membership.NewIncarnation()}
	mcfg := memberlist.DefaultConfig()
	mcfg.Name = self
	mcfg.BindAddr = cfg.Gossip
	mcfg.Meta = meta
	mcfg.PushPullInterval = 2 * time.Second
	mcfg.Logger = log.With("component", "membership")
	if ml, err = memberlist.New(mcfg); err != nil {
		return fail(fmt.Errorf("gossip listen %s: %w", cfg.Gossip, err))
	}
	n.ml = ml
	n.cl.ml = ml
	cleanup = append(cleanup, func() { ml.Shutdown() })

	// The cluster state: persisted, or a fresh cluster of one.
	rmeta := ring.MemberMeta{GossipAddr: ml.Local().GossipAddr, InternodeAddr: meta.ClusterAddr, HTTPAddr: meta.HTTPAddr}
	st, fresh, err := loadState(store, self, size, rmeta, clk.Now())
	if err != nil {
		return fail(err)
	}

	n.metrics = metrics.New()
	kcfg := kv.DefaultConfig()
	kcfg.Node = self
	kcfg.Ring = st.Ring()
	kcfg.Engine = store
	kcfg.Clock = cfg.Clock
	kcfg.Logger = log
	kcfg.DeleteMode = dm
	kcfg.Limits = siblings.DefaultLimits()
	kcfg.Metrics = n.metrics
	kcfg.ObjectCacheBytes = cfg.ObjectCacheMiB << 20
	if cfg.ObjectCacheMiB == 0 {
		kcfg.ObjectCacheBytes = -1
	}
	kcfg.Transport = n.tr
	kcfg.Up = ml.Up
	if n.svc, err = kv.New(kcfg); err != nil {
		return fail(err)
	}
	cleanup = append(cleanup, func() { n.svc.Close() })
	n.cl.svc = n.svc
	n.cl.drv = transfers.NewDriver(self, n.svc, ml.Up, log.With("component", "handoff"))
	hcfg := handoff.Config{Self: self, Transport: n.tr, Vnodes: transfers.Vnodes{Svc: n.svc, Planned: n.cl.drv.Planned}, Clock: cfg.Clock,
		Logger: log.With("component", "handoff"), Metrics: n.metrics, Concurrency: cfg.HandoffConcurrency, Done: n.cl.drv.Done}
	if n.mgr, err = handoff.New(hcfg); err != nil {
		return fail(err)
	}
	cleanup = append(cleanup, n.mgr.Close)
	n.cl.drv.SetManager(n.mgr)
	n.cl.mgr = n.mgr
	acfg := handoff.AAEConfig{Self: self, Transport: n.tr, Vnodes: transfers.AAE{Svc: n.svc}, Clock: cfg.Clock,
		Logger: log.With("component", "aae"), Metrics: n.metrics, Interval: cfg.AAEInterval}
	if n.aae, err = handoff.NewExchanger(acfg); err != nil {
		return fail(err)
	}
	cleanup = append(cleanup, n.aae.Close)
	n.cl.aae = n.aae
	n.cl.mu.Lock()
	n.cl.install(st)
	n.cl.mu.Unlock()
	n.cl.persist()
	ml.SetStateHandler(n.cl)
	n.cl.wg.Add(1)
	go n.cl.loop()
	if !fresh {
		// Gossip with the members the persisted ring knows.
		var seeds []string
		for _, m := range st.Members() {
			if m.Node != self && m.Status != ring.StatusInvalid && m.Meta.GossipAddr != "" {
				seeds = append(seeds, m.Meta.GossipAddr)
			}
		}
		if len(seeds) > 0 {
			go func() {
				if _, err := ml.Join(seeds); err != nil {
					log.Warn("could not reach any member of the persisted ring", "err", err)
				}
			}()
		}
	}

	if err := n.startPG(); err != nil {
		return fail(err)
	}
	cleanup = append(cleanup, n.stopPG)
	h := riakhttp.NewHandler(n.svc, riakhttp.Options{Logger: log, Observer: n.metrics, Metrics: n.metrics.Handler(), Version: cfg.Version, Cluster: n,
		ExtraStats: n.extraStats, PG: n.pg.pg})
	n.srv = &nethttp.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	n.srv.RegisterOnShutdown(h.CloseStreams) // pg watches and held joins end at shutdown
	go func() { n.done <- n.srv.Serve(n.ln) }()
	n.servePB()
	meta.Ready = true
	if err := ml.SetLocalMeta(meta); err != nil {
		log.Warn("cannot publish the ready flag", "err", err)
	}
	log.Info("riakgo node started", "name", cfg.Name, "http", n.ln.Addr().String(), "cluster", meta.ClusterAddr,
		"gossip", ml.Local().GossipAddr, "data_dir", cfg.DataDir, "ring_size", size, "delete_mode", dm.String())
	return n, nil
}

// ringSize returns the ring size recorded in the data directory, recording
// the configured one on first start. A different configured size is an
// error: partitions cannot be renumbered in place.
func (n *Node) ringSize() (int, error) {
	raw, err := n.store.GetMeta(metaRingSize)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		var b storage.Batch
		b.SetMeta(metaRingSize, binary.BigEndian.AppendUint32(nil, uint32(n.cfg.RingSize)))
		return n.cfg.RingSize, n.store.Write(&b, storage.WriteOptions{Sync: true})
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

// HTTPAddr returns the address the API listens on.
func (n *Node) HTTPAddr() string { return n.ln.Addr().String() }

// Service returns the node's key-value service.
func (n *Node) Service() *kv.Service { return n.svc }

// Done is closed with the HTTP server's error if it stops on its own.
func (n *Node) Done() <-chan error { return n.done }

// Stop shuts the node down: it stops accepting requests, lets in-flight
// ones finish (until ctx ends), leaves the membership (the peers see it
// left, not failed; it stays a ring member), waits for background work
// and closes storage.
func (n *Node) Stop(ctx context.Context) error {
	pbDone := n.shutdownPB(ctx)
	err := n.srv.Shutdown(ctx)
	<-pbDone
	if lerr := n.ml.Leave(2 * time.Second); lerr != nil {
		n.log.Warn("membership leave", "err", lerr)
	}
	n.ml.Shutdown()
	close(n.cl.stop)
	n.cl.wg.Wait()
	n.stopPG()
	n.mgr.Close()
	n.aae.Close()
	n.svc.Close()
	n.tr.Close()
	if cerr := n.store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	n.log.Info("riakgo node stopped", "name", n.cfg.Name)
	return err
}

// GossipAddr returns the membership address (the one "cluster join" takes).
func (n *Node) GossipAddr() string { return n.ml.Local().GossipAddr }

// ClusterAddr returns the internode address.
func (n *Node) ClusterAddr() string { return n.tr.Addr().String() }

// The node implements riakhttp.ClusterAdmin.
var _ riakhttp.ClusterAdmin = (*Node)(nil)

// Self implements riakhttp.ClusterAdmin.
func (n *Node) Self() ring.NodeID { return ring.NodeID(n.cfg.Name) }

// ClusterState implements riakhttp.ClusterAdmin.
func (n *Node) ClusterState() ring.State { return n.cl.State() }

// NodeUp implements riakhttp.ClusterAdmin.
func (n *Node) NodeUp(id ring.NodeID) bool { return n.ml.Up(id) }

func adminErr(err error) error {
	switch {
	case errors.Is(err, ErrUnreachable):
		return &riakhttp.AdminError{Status: 502, Reason: "unreachable", Msg: err.Error()}
	case errors.Is(err, ErrNoSeedRing):
		return &riakhttp.AdminError{Status: 502, Reason: "no_seed_ring", Msg: err.Error()}
	case errors.Is(err, ErrForward):
		return &riakhttp.AdminError{Status: 502, Reason: "claimant_unreachable", Msg: err.Error()}
	}
	return err
}

// ClusterJoin implements riakhttp.ClusterAdmin.
func (n *Node) ClusterJoin(ctx context.Context, seed string) error {
	return adminErr(n.cl.Join(ctx, seed))
}

// ClusterLeave implements riakhttp.ClusterAdmin.
func (n *Node) ClusterLeave(ctx context.Context, node ring.NodeID) error {
	return n.cl.Leave(node)
}

// ClusterStage implements riakhttp.ClusterAdmin.
func (n *Node) ClusterStage(ctx context.Context, action string, node, target ring.NodeID) error {
	return n.cl.Stage(action, node, target)
}

// ClusterClear implements riakhttp.ClusterAdmin.
func (n *Node) ClusterClear(ctx context.Context) error { return n.cl.Clear() }

// ClusterPlan implements riakhttp.ClusterAdmin: the claimant's plan.
func (n *Node) ClusterPlan(ctx context.Context, forwarded bool) (riakhttp.PlanJSON, error) {
	url, err := n.cl.claimantURL()
	if err != nil && !forwarded {
		return riakhttp.PlanJSON{}, adminErr(err)
	}
	if url == "" || forwarded {
		p, err := n.cl.State().Plan()
		if err != nil {
			return riakhttp.PlanJSON{}, err
		}
		return riakhttp.PlanToJSON(p), nil
	}
	var out riakhttp.PlanJSON
	return out, adminErr(forward(ctx, "GET", url+"/admin/cluster/plan", &out))
}

// ClusterCommit implements riakhttp.ClusterAdmin: commit on the claimant.
func (n *Node) ClusterCommit(ctx context.Context, forwarded bool) error {
	url, err := n.cl.claimantURL()
	if err != nil && !forwarded {
		return adminErr(err)
	}
	if url == "" || forwarded {
		return n.cl.Commit()
	}
	return adminErr(forward(ctx, "POST", url+"/admin/cluster/commit", nil))
}

// ClusterTransfers implements riakhttp.ClusterAdmin: every member's
// handoff status.
func (n *Node) ClusterTransfers(ctx context.Context) (riakhttp.TransfersJSON, error) {
	st := n.cl.State()
	out := riakhttp.TransfersJSON{Now: time.Now()}
	var up []ring.NodeID
	for _, m := range st.Members() {
		if m.Status == ring.StatusInvalid {
			continue
		}
		if m.Node == n.Self() || n.ml.Up(m.Node) {
			up = append(up, m.Node)
		} else {
			out.Down = append(out.Down, m.Node)
		}
	}
	out.Nodes, out.Unreachable = n.mgr.ClusterStatus(ctx, up)
	return out, nil
}

// extraStats are the node's handoff (and anti-entropy) figures for /stats.
func (n *Node) extraStats() map[string]any {
	st := n.mgr.Status()
	in, out := 0, 0
	for _, p := range st.Active {
		if p.Direction == handoff.Inbound {
			in++
		} else {
			out++
		}
	}
	m := map[string]any{
		"handoff_timeouts":           st.TimedOut,
		"riakgo_handoff_completed":   st.Completed,
		"riakgo_handoff_failed":      st.Failed,
		"riakgo_handoff_refused":     st.Refused,
		"riakgo_handoff_objects":     st.Objects,
		"riakgo_handoff_bytes":       st.Bytes,
		"riakgo_handoff_inbound":     in,
		"riakgo_handoff_outbound":    out,
		"riakgo_handoff_waiting":     st.Waiting,
		"riakgo_handoff_concurrency": st.Concurrency,
	}
	as := n.aae.Status()
	m["riakgo_aae_exchanges"] = as.Exchanges
	m["riakgo_aae_in_sync"] = as.InSync
	m["riakgo_aae_failed"] = as.Failed
	m["riakgo_aae_keys_repaired"] = as.KeysRepaired
	m["riakgo_aae_trees_built"] = as.TreesBuilt
	return m
}

// AAEStatus implements riakhttp.ClusterAdmin.
func (n *Node) AAEStatus() riakhttp.AAEJSON {
	return riakhttp.AAEJSON{Node: n.Self(), Status: n.aae.Status(), Unbuilt: n.svc.AAEUnbuilt()}
}

// AAERebuild implements riakhttp.ClusterAdmin: the trees are rebuilt by
// the exchanger's next steps.
func (n *Node) AAERebuild(p int) (int, error) {
	if p >= n.svc.Ring().Size() {
		return 0, &riakhttp.AdminError{Status: 400, Reason: "bad_partition", Msg: fmt.Sprintf("no partition %d (the ring has %d)", p, n.svc.Ring().Size())}
	}
	count := 0
	for _, q := range n.svc.Partitions() {
		if p < 0 || q == p {
			n.svc.AAERebuild(q)
			count++
		}
	}
	return count, nil
}

// ClusterDown implements riakhttp.ClusterAdmin: riak-admin down, for a
// member this node cannot reach.
func (n *Node) ClusterDown(ctx context.Context, node ring.NodeID) error {
	if node == n.Self() || n.ml.Up(node) {
		return &riakhttp.AdminError{Status: 409, Reason: "is_up", Msg: fmt.Sprintf("%s is up", node)}
	}
	return n.cl.update(func(st ring.State, now int64) (ring.State, error) { return st.MarkDown(n.Self(), node, now) })
}
