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

	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/metrics"
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
	// Cluster is the internode (TCP) address. Clustering is not built
	// yet: the address is validated and reported, not bound.
	Cluster string
	// Gossip is the membership (memberlist) address; like Cluster, not
	// bound until clustering exists.
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
}

// DefaultConfig returns the embedded defaults: data in ./data, HTTP on
// 127.0.0.1:8098, internode 127.0.0.1:8099, gossip 127.0.0.1:7946, ring 64.
func DefaultConfig() Config {
	return Config{
		Name:       "riakgo@127.0.0.1",
		DataDir:    "./data",
		HTTP:       "127.0.0.1:8098",
		Cluster:    "127.0.0.1:8099",
		Gossip:     "127.0.0.1:7946",
		RingSize:   ring.DefaultSize,
		DeleteMode: "3000",

		BlockCacheMiB:  32,
		ObjectCacheMiB: 128,
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
	if c.RingSize < 1 || c.RingSize > ring.MaxSize || c.RingSize&(c.RingSize-1) != 0 {
		errs = append(errs, fmt.Errorf("ring-size %d: must be a power of two between 1 and %d", c.RingSize, ring.MaxSize))
	}
	if _, err := kv.ParseDeleteMode(c.DeleteMode); err != nil {
		errs = append(errs, err)
	}
	if c.BlockCacheMiB < 1 {
		errs = append(errs, fmt.Errorf("block-cache %d MiB: must be at least 1", c.BlockCacheMiB))
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
	done    chan error
}

var metaRingSize = []byte("ring_size")

// Start opens storage, starts the service and begins serving HTTP.
func Start(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	dm, _ := kv.ParseDeleteMode(cfg.DeleteMode)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data-dir %s: %w", cfg.DataDir, err)
	}
	store, err := pebblestore.Open(filepath.Join(cfg.DataDir, "kv"), pebblestore.Options{Logger: log, CacheSize: int64(cfg.BlockCacheMiB) << 20})
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, store: store, done: make(chan error, 1)}
	fail := func(err error) (*Node, error) {
		store.Close()
		return nil, err
	}
	size, err := n.ringSize()
	if err != nil {
		return fail(err)
	}
	r, err := ring.New(size, ring.NodeID(cfg.Name))
	if err != nil {
		return fail(err)
	}
	n.metrics = metrics.New()
	kcfg := kv.DefaultConfig()
	kcfg.Node = ring.NodeID(cfg.Name)
	kcfg.Ring = r
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
	if n.svc, err = kv.New(kcfg); err != nil {
		return fail(err)
	}
	h := riakhttp.NewHandler(n.svc, riakhttp.Options{Logger: log, Observer: n.metrics, Metrics: n.metrics.Handler(), Version: cfg.Version})
	n.ln, err = net.Listen("tcp", cfg.HTTP)
	if err != nil {
		n.svc.Close()
		return fail(fmt.Errorf("http listen %s: %w", cfg.HTTP, err))
	}
	n.srv = &nethttp.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { n.done <- n.srv.Serve(n.ln) }()
	log.Info("riakgo node started", "name", cfg.Name, "http", n.ln.Addr().String(), "data_dir", cfg.DataDir,
		"ring_size", size, "delete_mode", dm.String())
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
// ones finish (until ctx ends), waits for background work and closes
// storage.
func (n *Node) Stop(ctx context.Context) error {
	err := n.srv.Shutdown(ctx)
	n.svc.Close()
	if cerr := n.store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	n.log.Info("riakgo node stopped", "name", n.cfg.Name)
	return err
}
