package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/metadata"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/coord"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// Options are the per-request quorum parameters. Zero values mean "the
// bucket's value" (Riak's default).
type Options struct {
	R, PR, W, DW, PW, RW quorum.Value
	// NodeConfirms is node_confirms (Riak 3.x): the distinct nodes the
	// replies must come from.
	NodeConfirms quorum.Value
	// NotFoundOK and BasicQuorum override the bucket's when non-nil.
	NotFoundOK, BasicQuorum *bool
	// ReturnBody asks Put to return the stored object.
	ReturnBody bool
	// Timeout bounds how long the request waits for vnodes on other nodes
	// (default Config.Timeout); local vnodes answer inline.
	Timeout time.Duration
	// NVal, when > 0, asks for fewer replicas than the bucket's n_val
	// (the Protocol Buffers n_val option; more is an n_val violation).
	NVal int
	// SloppyQuorum set to false keeps fallback vnodes out of the
	// preference list (only primaries count); nil or true allows them.
	SloppyQuorum *bool
}

// nVal returns the request's replica count: o.NVal when set, else the
// bucket's; asking for more than the bucket's is an n_val violation.
func (o Options) nVal(props Props) (int, error) {
	if o.NVal <= 0 {
		return props.NVal, nil
	}
	if o.NVal > props.NVal {
		return 0, &quorum.Error{Kind: quorum.NValViolation, Param: "n_val", N: props.NVal}
	}
	return o.NVal, nil
}

// primariesOnly filters fallbacks out of targets when the request turned
// sloppy quorum off.
func (o Options) primariesOnly(targets []ring.Target) []ring.Target {
	if o.SloppyQuorum == nil || *o.SloppyQuorum {
		return targets
	}
	out := targets[:0:0]
	for _, t := range targets {
		if t.Primary {
			out = append(out, t)
		}
	}
	return out
}

// Client is what the client faces (http, internal/pb) serve: object
// reads, writes and deletes, bucket properties and types, listings and
// secondary-index queries, preference lists and stats. Service implements
// it; methods are safe for concurrent use.
type Client interface {
	// Get returns the object stored under k. If there is none it returns
	// ErrNotFound; if only a tombstone remains it returns the tombstone
	// (so its clock can be sent to the client) together with ErrNotFound.
	Get(ctx context.Context, k Key, o Options) (*siblings.Object, error)
	// Put stores a new value with the causal context vc (nil for a blind
	// write) and returns the stored object when o.ReturnBody is set.
	// The service stamps meta's VTag and LastModified.
	Put(ctx context.Context, k Key, value []byte, meta siblings.Meta, vc vclock.VClock, o Options) (*siblings.Object, error)
	// Delete writes a tombstone. Without a context it first reads the key
	// and returns ErrNotFound if there is nothing to delete.
	Delete(ctx context.Context, k Key, vc vclock.VClock, o Options) error
	// BucketProps returns a bucket's effective properties.
	BucketProps(typ, bucket string) (Props, error)
	// SetBucketProps validates and stores property overrides.
	SetBucketProps(typ, bucket string, raw map[string]json.RawMessage) error
	// ResetBucketProps drops a bucket's overrides.
	ResetBucketProps(typ, bucket string) error
	// Preflist returns the annotated preference list of a key.
	Preflist(k Key) ([]PreflistEntry, error)

	// ListBuckets streams the buckets of a type in chunks.
	ListBuckets(ctx context.Context, typ string, emit func([]string) error) error
	// ListKeys streams the keys of a bucket in chunks.
	ListKeys(ctx context.Context, typ, bucket string, emit func([]string) error) error
	// Query runs a secondary-index query, streaming results in (term, key)
	// order; it returns the next page's continuation, if any.
	Query(ctx context.Context, q IndexQuery, emit func([]IndexResult) error) (string, error)

	// CreateType defines a bucket type (repeatable until activated).
	CreateType(name string, props map[string]json.RawMessage) error
	// ActivateType activates a created type.
	ActivateType(name string) error
	// UpdateType changes an active type's properties.
	UpdateType(name string, props map[string]json.RawMessage) error
	// TypeInfo returns a type's status and properties.
	TypeInfo(name string) TypeInfo
	// TypeStatus is TypeInfo with the members that hold the type's
	// definition and those that do not (it asks every member).
	TypeStatus(name string) TypeInfo
	// ListTypes returns every bucket type.
	ListTypes() []TypeInfo

	// Stats returns a snapshot of the node's counters.
	Stats() Stats
}

// PreflistEntry is one preference-list entry as the preflist route shows it.
type PreflistEntry struct {
	Partition *big.Int // riak_core partition index
	Node      ring.NodeID
	Primary   bool
}

// Metrics observes the service. Implementations must be safe for
// concurrent use and cheap: they are called on every request.
type Metrics interface {
	// ObjectRead is called for every object a read returns.
	ObjectRead(siblings, bytes int)
	// ObjectWritten is called for every object a client write stores.
	ObjectWritten(siblings, bytes int)
	// ReadRepairs counts replicas sent a read repair.
	ReadRepairs(n int)
}

type nopMetrics struct{}

func (nopMetrics) ObjectRead(int, int)    {}
func (nopMetrics) ObjectWritten(int, int) {}
func (nopMetrics) ReadRepairs(int)        {}

// Config configures a Service.
type Config struct {
	// Node is this node's name.
	Node ring.NodeID
	// Ring is the initial partition ring; the node wiring installs later
	// ones with SetRing as the cluster state changes.
	Ring *ring.Ring
	// Engine is the node's storage.
	Engine storage.Engine
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Rand returns random 64-bit values (vnode ids, vtags); defaults to
	// math/rand/v2. It is called from concurrent requests and must be safe
	// for concurrent use (tests wrap a seeded source in a mutex).
	Rand func() uint64
	// Limits are the object limits for client writes.
	Limits siblings.Limits
	// DeleteMode is what vnodes do with tombstones all primaries hold.
	DeleteMode DeleteMode
	// Defaults are the default bucket type's properties.
	Defaults Props
	// Timeout is the default request timeout (Riak: 60 s).
	Timeout time.Duration
	// Metrics observes requests; nil means none.
	Metrics Metrics
	// ObjectCacheBytes bounds the cache of decoded objects shared by the
	// vnodes (default 128 MiB; negative disables it).
	ObjectCacheBytes int
	// EncodedCacheBytes bounds the object cache's encoded tier, which
	// holds objects as their encodings outside the Go heap (see
	// kv/cacheenc.go): 0 (the default), or less than
	// MinEncodedCacheBytes, means none.
	EncodedCacheBytes int
	// Resolvers are the named sibling resolvers buckets may choose with
	// the resolver property (default: the built-ins).
	Resolvers *siblings.Registry
	// Transport reaches vnodes on other nodes; nil for a single node.
	Transport transport.Transport
	// Up reports whether a node is up (membership); nil means every node
	// is up. Down primaries are replaced by fallbacks.
	Up func(ring.NodeID) bool
	// Metadata is the cluster metadata store bucket types and properties
	// live in; nil means a store of this node's own (a single node, or
	// tests), kept in Engine.
	Metadata Metadata
}

// DefaultConfig returns Riak's defaults; Node, Ring and Engine must be set.
func DefaultConfig() Config {
	return Config{
		Node:       "riakgo@127.0.0.1",
		Limits:     siblings.DefaultLimits(),
		DeleteMode: DefaultDeleteMode(),
		Defaults:   DefaultProps(),
		Timeout:    60 * time.Second,

		ObjectCacheBytes: 128 << 20,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Node == "":
		return errors.New("riakgo/kv: config: Node is required")
	case c.Ring == nil:
		return errors.New("riakgo/kv: config: Ring is required")
	case c.Engine == nil:
		return errors.New("riakgo/kv: config: Engine is required")
	case c.Defaults.NVal < 1:
		return errors.New("riakgo/kv: config: default n_val must be at least 1")
	case c.Timeout < 0:
		return errors.New("riakgo/kv: config: Timeout must not be negative")
	}
	return nil
}

// Service is the node's key-value service: its vnodes and the driver of
// the coordinators. It implements Client.
type Service struct {
	cfg     Config
	log     *slog.Logger
	metrics Metrics
	ring    atomic.Pointer[ring.Ring] // replaced by SetRing; the size never changes
	buckets *buckets
	vnodes  []atomic.Pointer[Vnode]       // by partition: owned ones at start, fallbacks on demand
	fwd     []atomic.Pointer[ring.NodeID] // by partition: where to forward after a drop
	hold    []atomic.Bool                 // by partition: keep tombstones (HoldReaps)
	vcfg    vnodeConfig
	openMu  sync.Mutex // serialises opening vnodes
	tr      transport.Transport
	updates updateRegistry
	// remoteErrs are the error codes registered with RegisterError.
	remoteErrs remoteErrors
	// detached, when set, is why client requests are refused.
	detached atomic.Pointer[string]

	stats stats

	// base is cancelled by Close: in-flight calls to other nodes stop
	// instead of holding Close until their timeout.
	base       context.Context
	cancelBase context.CancelFunc

	mu       sync.Mutex
	idle     *sync.Cond // signalled when inflight drops to 0
	inflight int        // background tasks running
	closed   bool
}

var _ Client = (*Service)(nil)

// New opens the service: it loads or creates the identity of a vnode for
// every partition the node owns.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Uint64
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Resolvers == nil {
		cfg.Resolvers = siblings.NewRegistry()
	}
	s := &Service{cfg: cfg, log: cfg.Logger, metrics: cfg.Metrics}
	s.ring.Store(cfg.Ring)
	s.idle = sync.NewCond(&s.mu)
	s.base, s.cancelBase = context.WithCancel(context.Background())
	if s.metrics == nil {
		s.metrics = nopMetrics{}
	}
	if cfg.Metadata == nil {
		md, err := metadata.New(metadata.Config{Self: cfg.Node, Engine: cfg.Engine, Clock: cfg.Clock, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		cfg.Metadata = md
	}
	if err := migrateLegacy(cfg.Engine, cfg.Metadata); err != nil {
		return nil, fmt.Errorf("riakgo/kv: moving bucket settings into the cluster metadata: %w", err)
	}
	s.buckets = newBuckets(cfg.Metadata, cfg.Defaults)
	s.buckets.ringSize = func() int { return s.Ring().Size() }
	s.buckets.checkResolver = func(name string) bool {
		switch name {
		case "", "allow_mult", "last_write_wins", "datatype", "oplog":
			return true
		}
		_, ok := cfg.Resolvers.Get(name)
		return ok
	}
	s.vcfg = vnodeConfig{eng: cfg.Engine, clk: cfg.Clock, log: cfg.Logger, limits: cfg.Limits, rand: cfg.Rand,
		cache: newObjCache(cfg.ObjectCacheBytes, cfg.EncodedCacheBytes), home: s.homeOf,
		held: func(p storage.Partition) bool { return s.hold[p].Load() }}
	s.vnodes = make([]atomic.Pointer[Vnode], cfg.Ring.Size())
	s.fwd = make([]atomic.Pointer[ring.NodeID], cfg.Ring.Size())
	s.hold = make([]atomic.Bool, cfg.Ring.Size())
	for p := range s.vnodes {
		if cfg.Ring.Owner(p) != cfg.Node {
			continue
		}
		if _, err := s.localVnode(p); err != nil {
			return nil, err
		}
	}
	s.RegisterUpdate(updateKindDatatype, decodeDatatypeUpdate)
	s.tr = cfg.Transport
	if s.tr != nil {
		s.registerHandlers(s.tr)
	}
	return s, nil
}

// Ring returns the service's current ring.
func (s *Service) Ring() *ring.Ring { return s.ring.Load() }

// SetRing installs a new ownership ring (the cluster state changed).
// Requests started afterwards route by r; vnodes of partitions this node
// now owns open on demand. The ring size cannot change (ErrRingSize).
// Safe for concurrent use.
func (s *Service) SetRing(r *ring.Ring) error {
	if r == nil || r.Size() != len(s.vnodes) {
		return fmt.Errorf("%w: the ring has %d partitions", ErrRingSize, len(s.vnodes))
	}
	s.ring.Store(r)
	return nil
}

// PartitionEmpty reports whether this node stores no object and no index
// entry in partition p (an ownership transfer of p can complete at once).
func (s *Service) PartitionEmpty(p int) (bool, error) {
	for _, sp := range []storage.Space{storage.SpaceData, storage.SpaceIndex} {
		it, err := s.cfg.Engine.NewIterator(sp, storage.Partition(p), nil, nil)
		if err != nil {
			return false, err
		}
		more := it.Next()
		err = it.Err()
		it.Close()
		if err != nil {
			return false, err
		}
		if more {
			return false, nil
		}
	}
	return true, nil
}

// Vnode returns the local vnode of partition p, or nil.
func (s *Service) Vnode(p int) *Vnode {
	if p < 0 || p >= len(s.vnodes) {
		return nil
	}
	return s.vnodes[p].Load()
}

// localVnode returns this node's vnode for partition p, opening it if the
// node does not own p (a fallback vnode taking writes for a down primary).
func (s *Service) localVnode(p int) (*Vnode, error) {
	if p < 0 || p >= len(s.vnodes) {
		return nil, fmt.Errorf("riakgo/kv: no partition %d", p)
	}
	if v := s.vnodes[p].Load(); v != nil {
		return v, nil
	}
	if to := s.fwd[p].Load(); to != nil {
		// Dropped here after an ownership transfer: never reopen it
		// while requests are still forwarded.
		return nil, &ForwardError{To: *to}
	}
	s.openMu.Lock()
	defer s.openMu.Unlock()
	if v := s.vnodes[p].Load(); v != nil {
		return v, nil
	}
	v, err := openVnode(storage.Partition(p), s.vcfg)
	if err != nil {
		return nil, err
	}
	s.vnodes[p].Store(v)
	return v, nil
}

// Close refuses new requests, waits for background work (read repair, reap
// checks) to finish and cancels pending tombstone reaps, so that nothing of
// the service touches storage afterwards (a restarted node loses its reap
// timers, as in Riak). The engine is the caller's to close.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancelBase()
	s.WaitIdle()
	for p := range s.vnodes {
		if v := s.Vnode(p); v != nil {
			v.stopTimers()
			// No write after this point: the saved trees match storage.
			v.lockAll()
			v.shut.Store(true)
			v.unlockAll()
			if err := v.saveTrees(); err != nil {
				s.log.Warn("cannot save the anti-entropy trees; they will be rebuilt", "partition", p, "err", err)
			}
		}
	}
	// The encoded tier's chunks go back to fastcache's free list for the
	// next cache of this process (test processes open many services).
	s.vcfg.cache.close()
	return nil
}

// WaitIdle blocks until no background work (read repair, reap checks) is
// running. Requests made meanwhile may start more.
func (s *Service) WaitIdle() {
	s.mu.Lock()
	for s.inflight > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

func (s *Service) doneBackground() {
	s.mu.Lock()
	s.inflight--
	if s.inflight == 0 {
		s.idle.Broadcast()
	}
	s.mu.Unlock()
}

// startBackground registers one background task; it refuses once Close
// has begun, so Close's wait cannot miss work.
func (s *Service) startBackground() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.inflight++
	return true
}

func (s *Service) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// SetDetached makes the service refuse client requests with ErrDetached
// (reason says why and what to do), or serve again with reason "". A node
// whose leave has completed is detached: its ring is a cluster of its own
// now, and a client still talking to it must not write into that cluster
// believing it writes into the one it left.
func (s *Service) SetDetached(reason string) {
	if reason == "" {
		s.detached.Store(nil)
		return
	}
	s.detached.Store(&reason)
}

// refuse returns why the service cannot take a client request, if it
// cannot.
func (s *Service) refuse() error {
	if r := s.detached.Load(); r != nil {
		return UserErrorf(ErrDetached, "%s", *r)
	}
	if s.isClosed() {
		return ErrClosed
	}
	return nil
}

// timeout is a request's deadline for vnodes on other nodes: its own (the
// timeout parameter) or the service default. Local vnodes answer inline.
func (s *Service) timeout(o Options) time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return s.cfg.Timeout
}

func validateKey(k Key) error {
	switch {
	case k.Bucket == "":
		return UserErrorf(ErrBadKey, "the bucket name is empty")
	case k.Key == "":
		return UserErrorf(ErrBadKey, "the key is empty")
	case len(k.Key) > MaxKeySize:
		return UserErrorf(ErrBadKey, "the key is %d bytes (maximum %d)", len(k.Key), MaxKeySize)
	case len(k.Bucket) > MaxKeySize:
		return UserErrorf(ErrBadKey, "the bucket name is %d bytes (maximum %d)", len(k.Bucket), MaxKeySize)
	}
	return nil
}

func boolOr(p *bool, def bool) bool {
	if p != nil {
		return *p
	}
	return def
}

// prefList returns the key's preference list and its count of primaries.
func (s *Service) prefList(k Key, n int) ([]ring.Target, int) {
	targets := ring.PrefList(s.ring.Load(), ring.KeyHash(k.Type, k.Bucket, k.Key), n, s.cfg.Up)
	primaries := 0
	for _, t := range targets {
		if t.Primary {
			primaries++
		}
	}
	return targets, primaries
}

// hasNode reports whether a target of the list is on node n.
func hasNode(targets []ring.Target, n ring.NodeID) bool {
	for _, t := range targets {
		if t.Node == n {
			return true
		}
	}
	return false
}

func (s *Service) vnodeFor(t ring.Target) (*Vnode, error) {
	if t.Node != s.cfg.Node {
		return nil, fmt.Errorf("riakgo/kv: partition %d is on %s, which this node cannot reach", t.Partition, t.Node)
	}
	return s.localVnode(t.Partition)
}

func objectSize(o *siblings.Object) int {
	n := 0
	for i := range o.Siblings {
		n += len(o.Siblings[i].Value)
	}
	return n
}

// Get implements Client.
func (s *Service) Get(ctx context.Context, k Key, o Options) (*siblings.Object, error) {
	if err := validateKey(k); err != nil {
		return nil, err
	}
	if err := s.refuse(); err != nil {
		return nil, err
	}
	props, err := s.buckets.props(k.Type, k.Bucket)
	if err != nil {
		return nil, err
	}
	n, err := o.nVal(props)
	if err != nil {
		return nil, err
	}
	p := quorum.Get{
		N:           n,
		R:           quorum.Resolve(o.R, n, props.R),
		PR:          quorum.Resolve(o.PR, n, props.PR),
		NotFoundOK:  boolOr(o.NotFoundOK, props.NotFoundOK),
		BasicQuorum: boolOr(o.BasicQuorum, props.BasicQuorum),

		NodeConfirms: quorum.Resolve(o.NodeConfirms, n, props.NodeConfirms),
	}
	targets, primaries := s.prefList(k, n)
	targets = o.primariesOnly(targets)
	if err := p.Validate(primaries, len(targets)); err != nil {
		return nil, err
	}
	start := s.cfg.Clock.Now()
	if !hasNode(targets, s.cfg.Node) {
		s.stats.getsRemote.Add(1)
	}
	fsm := coord.NewGetFSM(targets, p, props.keepsSiblings(), true)
	resp, later := s.drive(k, props, s.timeout(o), fsm.Start(), fsm.Step)
	if len(later) > 0 {
		s.background(k, props, later)
	}
	now := s.cfg.Clock.Now()
	s.stats.gets.add(now, 1)
	s.stats.vgets.add(now, int64(len(targets)))
	s.stats.getTime.add(now, now.Sub(start).Microseconds())
	if resp.Err != nil {
		return nil, resp.Err
	}
	if resp.Obj == nil {
		return nil, ErrNotFound
	}
	if resp.Obj.IsTombstone() {
		return resp.Obj, ErrNotFound
	}
	obj := resp.Obj
	if len(obj.Siblings) > 1 {
		if resolved, err := s.resolveOnRead(k, props, obj); err != nil {
			s.log.Warn("sibling resolver failed; returning the siblings", "key", k.String(), "resolver", props.Resolver, "err", err)
		} else {
			obj = resolved
		}
		if obj.IsTombstone() {
			return obj, ErrNotFound
		}
	}
	size := objectSize(obj)
	s.stats.sibs.add(now, int64(len(obj.Siblings)))
	s.stats.size.add(now, int64(size))
	s.metrics.ObjectRead(len(obj.Siblings), size)
	return obj, nil
}

// resolveOnRead applies the bucket's resolver to an object with siblings
// and writes the result back with the object's clock, so that the
// siblings it replaces are gone from every replica that takes the write.
// It returns obj unchanged when the bucket keeps siblings for the client.
func (s *Service) resolveOnRead(k Key, props Props, obj *siblings.Object) (*siblings.Object, error) {
	var res siblings.Sibling
	live := siblings.LiveSiblings(obj)
	if len(live) == 0 {
		return obj, nil
	}
	switch props.Resolver {
	case "", "allow_mult", "datatype", "oplog":
		return obj, nil
	case "last_write_wins":
		// Tombstones take part: a newer delete wins over older values.
		res = siblings.ChooseLatest(obj).Siblings[0]
	default:
		r, ok := s.cfg.Resolvers.Get(props.Resolver)
		if !ok {
			return obj, fmt.Errorf("riakgo/kv: unknown resolver %q", props.Resolver)
		}
		var err error
		if res, err = r.Resolve(live); err != nil {
			return obj, err
		}
	}
	meta := res.Meta
	if props.Resolver != "last_write_wins" {
		meta.Deleted = false
	}
	return s.put(k, props, res.Value, meta, obj.Clock, Options{})
}

// Put implements Client.
func (s *Service) Put(ctx context.Context, k Key, value []byte, meta siblings.Meta, vc vclock.VClock, o Options) (*siblings.Object, error) {
	if err := validateKey(k); err != nil {
		return nil, err
	}
	if err := s.refuse(); err != nil {
		return nil, err
	}
	props, err := s.buckets.props(k.Type, k.Bucket)
	if err != nil {
		return nil, err
	}
	obj, err := s.put(k, props, value, meta, vc, o)
	if err != nil {
		return nil, err
	}
	s.metrics.ObjectWritten(len(obj.Siblings), objectSize(obj))
	if !o.ReturnBody {
		return nil, nil
	}
	return obj, nil
}

func (s *Service) put(k Key, props Props, value []byte, meta siblings.Meta, vc vclock.VClock, o Options) (*siblings.Object, error) {
	return s.write(k, props, value, meta, vc, nil, o)
}

// write runs a coordinated write of value (or, with u, of the update's
// result) and answers at W/DW/PW.
func (s *Service) write(k Key, props Props, value []byte, meta siblings.Meta, vc vclock.VClock, u *Update, o Options) (*siblings.Object, error) {
	if err := s.refuse(); err != nil {
		return nil, err
	}
	w, dw, pw := o.W, o.DW, o.PW
	n, err := o.nVal(props)
	if err != nil {
		return nil, err
	}
	p := quorum.Put{
		N:  n,
		W:  quorum.Resolve(w, n, props.W),
		DW: quorum.Resolve(dw, n, props.DW),
		PW: quorum.Resolve(pw, n, props.PW),

		NodeConfirms: quorum.Resolve(o.NodeConfirms, n, props.NodeConfirms),
	}
	targets, primaries := s.prefList(k, n)
	targets = o.primariesOnly(targets)
	if err := p.Validate(primaries, len(targets)); err != nil {
		return nil, err
	}
	now := s.cfg.Clock.Now()
	meta.VTag = NewVTag(s.cfg.Rand)
	meta.LastModified = now.UnixMicro()
	// The coordinator: a local primary, else a remote primary, else a
	// local fallback, else the first target.
	ci := -1
	for _, want := range []func(ring.Target) bool{
		func(t ring.Target) bool { return t.Primary && t.Node == s.cfg.Node },
		func(t ring.Target) bool { return t.Primary },
		func(t ring.Target) bool { return t.Node == s.cfg.Node },
	} {
		for i, t := range targets {
			if ci < 0 && want(t) {
				ci = i
			}
		}
	}
	if ci < 0 {
		ci = 0
	}
	if targets[ci].Node != s.cfg.Node {
		s.stats.coordRedirs.Add(1)
	}
	fsm := coord.NewPutFSM(targets, ci, siblings.Sibling{Value: value, Meta: meta}, vc, p, props.keepsSiblings())
	if u != nil {
		fsm.WithUpdate(u)
	}
	resp, _ := s.drive(k, props, s.timeout(o), fsm.Start(), fsm.Step)
	done := s.cfg.Clock.Now()
	s.stats.puts.add(done, 1)
	s.stats.vputs.add(done, int64(len(targets)))
	s.stats.putTime.add(done, done.Sub(now).Microseconds())
	if resp.Err != nil {
		return nil, resp.Err
	}
	return resp.Obj, nil
}

// Delete implements Client.
func (s *Service) Delete(ctx context.Context, k Key, vc vclock.VClock, o Options) error {
	if err := validateKey(k); err != nil {
		return err
	}
	if err := s.refuse(); err != nil {
		return err
	}
	props, err := s.buckets.props(k.Type, k.Bucket)
	if err != nil {
		return err
	}
	// rw stands for both r and w when neither is given (Riak's rule).
	if o.R.Sym == quorum.Default && o.W.Sym == quorum.Default {
		rw := o.RW
		if rw.Sym == quorum.Default {
			rw = props.RW
		}
		o.R, o.W = rw, rw
	}
	if vc == nil {
		obj, err := s.Get(ctx, k, o)
		if err != nil {
			return err
		}
		vc = obj.Clock
	}
	meta := siblings.Meta{Deleted: true}
	if _, err := s.put(k, props, []byte{}, meta, vc, o); err != nil {
		return err
	}
	if s.startBackground() {
		go func() {
			defer s.doneBackground()
			s.reapCheck(k, props)
		}()
	}
	return nil
}

// reapCheck reads the key from all N replicas; the read's final action
// reaps the tombstone if every primary holds it.
func (s *Service) reapCheck(k Key, props Props) {
	n := props.NVal
	p := quorum.Get{N: n, R: n, NotFoundOK: true}
	targets, primaries := s.prefList(k, n)
	if p.Validate(primaries, len(targets)) != nil {
		return
	}
	fsm := coord.NewGetFSM(targets, p, props.keepsSiblings(), true)
	_, later := s.drive(k, props, s.cfg.Timeout, fsm.Start(), fsm.Step)
	s.perform(k, props, later)
}

// drive runs a coordinator: local vnode actions are performed inline,
// actions for vnodes on other nodes go through the transport in their own
// goroutines and come back as events. It returns the client's answer and
// the follow-up actions (read repair, reaping) that may run after the
// client has been answered. If the answer comes while remote replies are
// still due, the rest of the run continues in the background (its
// follow-ups are performed there), and drive returns no follow-ups.
func (s *Service) drive(k Key, props Props, timeout time.Duration, acts []coord.Action, step func(coord.Event) []coord.Action) (coord.Respond, []coord.Action) {
	r := &runner{s: s, k: k, props: props, step: step, timeout: timeout,
		syncOne: props.SyncOnWrite == "one" || props.SyncOnWrite == "all",
		syncAll: props.SyncOnWrite == "all"}
	r.acts = acts
	if !r.run(false) {
		return r.resp, r.later
	}
	// Answered with remote replies outstanding: finish in the background.
	if !s.startBackground() {
		r.stop()
		return r.resp, nil
	}
	resp := r.resp
	go func() {
		defer s.doneBackground()
		r.run(true)
		r.stop()
		s.perform(k, props, r.later)
	}()
	return resp, nil
}

// runner is one coordinator run (see drive). Not safe for concurrent use:
// exactly one goroutine runs it at a time.
type runner struct {
	s                *Service
	k                Key
	props            Props
	step             func(coord.Event) []coord.Action
	syncOne, syncAll bool

	timeout   time.Duration // the request's deadline for remote vnodes
	acts      []coord.Action
	later     []coord.Action
	resp      coord.Respond
	responded bool
	events    chan coord.Event
	pending   int
	timer     clock.Timer
	cancel    context.CancelFunc
	ctx       context.Context
}

// run performs actions until nothing is outstanding. Unless toEnd, it
// returns true as soon as the client is answered while remote replies are
// still due; otherwise it returns false when the run is over.
func (r *runner) run(toEnd bool) bool {
	for {
		for len(r.acts) > 0 {
			a := r.acts[0]
			r.acts = r.acts[1:]
			r.perform(a)
		}
		if r.pending == 0 {
			r.stop()
			return false
		}
		if r.responded && !toEnd {
			return true
		}
		ev := <-r.events
		if _, ok := ev.(coord.TimeoutEvent); !ok {
			r.pending--
		} else {
			r.timer = nil
		}
		r.acts = append(r.acts, r.step(ev)...)
		if _, ok := ev.(coord.TimeoutEvent); ok && r.pending > 0 {
			// Nothing more will be asked of the late replies; they land
			// in the buffered channel and are dropped.
			r.pending = 0
		}
	}
}

func (r *runner) stop() {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if r.cancel != nil {
		r.cancel()
	}
}

func target(a coord.Action) (ring.Target, bool) {
	switch a := a.(type) {
	case coord.SendGet:
		return a.Target, true
	case coord.SendCoordPut:
		return a.Target, true
	case coord.SendPut:
		return a.Target, !a.Repair
	}
	return ring.Target{}, false
}

// perform does one action: inline when local, through the transport when
// remote; follow-ups are set aside.
func (r *runner) perform(a coord.Action) {
	s, k, props := r.s, r.k, r.props
	switch a := a.(type) {
	case coord.Respond:
		r.resp, r.responded = a, true
		return
	case coord.SendReap:
		r.later = append(r.later, a)
		return
	case coord.SendPut:
		if a.Repair {
			r.later = append(r.later, a)
			return
		}
	}
	t, _ := target(a)
	if cp, ok := a.(coord.SendCoordPut); ok && updateOf(cp) != nil && s.Vnode(t.Partition) != nil {
		// A data-type update runs on the local vnode even while it
		// forwards: coordinate applies it and hands its result on.
	} else if t.Node == s.cfg.Node {
		if to := s.forwardTo(t.Partition); to != "" && to != s.cfg.Node {
			// The partition is moving (or has moved) to another node.
			a = retarget(a, to)
			t.Node = to
		}
	}
	if t.Node != s.cfg.Node {
		if s.tr == nil {
			r.acts = append(r.acts, r.step(failed(a, fmt.Errorf("riakgo/kv: %s is not this node and there is no transport", t.Node)))...)
			return
		}
		if r.events == nil {
			r.events = make(chan coord.Event, 256)
			// Replication carries on after the client is answered (or
			// gone), so the remote calls' context ends only at the
			// request's timeout.
			// The calls get a little longer than the request, so that a
			// vnode that does not answer in time shows as the request's
			// timeout (Riak's "request timed out"), not as a failure.
			// The deadline runs on the service's clock.
			callTimeout := r.timeout + r.timeout/4 + 100*time.Millisecond
			r.ctx, r.cancel = clock.WithTimeout(s.base, s.cfg.Clock, callTimeout)
			ev := r.events
			r.timer = s.cfg.Clock.AfterFunc(r.timeout, func() {
				select {
				case ev <- coord.TimeoutEvent{}:
				default:
				}
			})
		}
		r.pending++
		ev, ctx := r.events, r.ctx
		go func() { ev <- s.remote(ctx, k, props, a, r.syncOne, r.syncAll) }()
		return
	}
	var next []coord.Action
	switch a := a.(type) {
	case coord.SendGet:
		v, err := s.vnodeFor(a.Target)
		var obj *siblings.Object
		if err == nil {
			obj, err = v.Get(k)
		}
		next = r.step(coord.GetReply{Index: a.Index, Obj: obj, Err: err})
	case coord.SendCoordPut:
		v, err := s.vnodeFor(a.Target)
		var obj *siblings.Object
		if err == nil {
			if u := updateOf(a); u != nil {
				var m Mutation
				if m, err = s.mutation(u); err == nil {
					obj, err = v.CoordUpdate(k, m, a.Put.Meta, props, r.syncOne)
				}
			} else {
				obj, err = v.CoordPut(k, a.Put, a.Ctx, props, r.syncOne)
			}
		}
		if fe := (*ForwardError)(nil); errors.As(err, &fe) {
			if fe.Obj != nil {
				// Applied here; the new owner must take it as well.
				r.perform(coord.SendPut{Index: a.Index, Target: ring.Target{Partition: a.Target.Partition, Node: fe.To, Primary: a.Target.Primary}, Obj: fe.Obj})
			} else {
				r.perform(retarget(a, fe.To))
			}
			return
		}
		next = r.step(coord.PutReply{Index: a.Index, Durable: true, Obj: obj, Err: err})
	case coord.SendPut:
		v, err := s.vnodeFor(a.Target)
		var obj *siblings.Object
		if err == nil {
			obj, err = v.Put(k, a.Obj, props, r.syncAll)
		}
		if fe := (*ForwardError)(nil); errors.As(err, &fe) {
			r.perform(retarget(a, fe.To))
			return
		}
		next = r.step(coord.PutReply{Index: a.Index, Durable: true, Obj: obj, Err: err})
	}
	r.acts = append(r.acts, next...)
}

// updateOf returns the update a coordinated put carries, if any.
func updateOf(a coord.SendCoordPut) *Update {
	u, _ := a.Update.(*Update)
	return u
}

// retarget sends a vnode action to the same partition on node to.
func retarget(a coord.Action, to ring.NodeID) coord.Action {
	switch a := a.(type) {
	case coord.SendGet:
		a.Target.Node = to
		return a
	case coord.SendCoordPut:
		a.Target.Node = to
		return a
	case coord.SendPut:
		a.Target.Node = to
		return a
	}
	return a
}

// failed is the event of an action that could not be sent.
func failed(a coord.Action, err error) coord.Event {
	switch a := a.(type) {
	case coord.SendGet:
		return coord.GetReply{Index: a.Index, Err: err}
	case coord.SendCoordPut:
		return coord.PutReply{Index: a.Index, Durable: true, Err: err}
	case coord.SendPut:
		return coord.PutReply{Index: a.Index, Durable: true, Err: err}
	}
	return nil
}

// background performs follow-up actions off the request path.
func (s *Service) background(k Key, props Props, acts []coord.Action) {
	if !s.startBackground() {
		return
	}
	go func() {
		defer s.doneBackground()
		s.perform(k, props, acts)
	}()
}

// perform runs read repairs, then reaping, in order, locally or through the
// transport.
func (s *Service) perform(k Key, props Props, acts []coord.Action) {
	repairs := 0
	for _, a := range acts {
		switch a := a.(type) {
		case coord.SendPut:
			var err error
			if a.Target.Node == s.cfg.Node {
				if to := s.forwardTo(a.Target.Partition); to != "" {
					a.Target.Node = to
				}
			}
			if a.Target.Node == s.cfg.Node {
				var v *Vnode
				if v, err = s.vnodeFor(a.Target); err == nil {
					_, err = v.Put(k, a.Obj, props, false)
				}
			} else if s.tr != nil {
				ctx, cancel := clock.WithTimeout(s.base, s.cfg.Clock, s.cfg.Timeout)
				ev := s.remote(ctx, k, props, coord.SendPut{Index: a.Index, Target: a.Target, Obj: a.Obj}, false, false)
				cancel()
				err = ev.(coord.PutReply).Err
			}
			if err != nil {
				s.log.Warn("read repair failed", "key", k.String(), "partition", a.Target.Partition, "node", a.Target.Node, "err", err)
				continue
			}
			repairs++
		case coord.SendReap:
			for _, t := range a.Targets {
				if t.Node == s.cfg.Node {
					if v, err := s.vnodeFor(t); err == nil {
						v.Reap(k, s.cfg.DeleteMode)
					}
				} else if s.tr != nil {
					ctx, cancel := clock.WithTimeout(s.base, s.cfg.Clock, s.cfg.Timeout)
					var resp vnodeResp
					if err := s.tr.Call(ctx, t.Node, wire.MsgKVReap, newVnodeReq(t, k, props), &resp); err != nil {
						s.log.Warn("reap failed", "key", k.String(), "node", t.Node, "err", err)
					}
					cancel()
				}
			}
		}
	}
	if repairs > 0 {
		s.metrics.ReadRepairs(repairs)
		s.stats.repairs.add(s.cfg.Clock.Now(), int64(repairs))
	}
}

// BucketProps implements Client.
func (s *Service) BucketProps(typ, bucket string) (Props, error) {
	return s.buckets.props(typ, bucket)
}

// SetBucketProps implements Client.
func (s *Service) SetBucketProps(typ, bucket string, raw map[string]json.RawMessage) error {
	return s.buckets.setProps(typ, bucket, raw)
}

// ResetBucketProps implements Client.
func (s *Service) ResetBucketProps(typ, bucket string) error {
	return s.buckets.resetProps(typ, bucket)
}

// CreateType implements Client.
func (s *Service) CreateType(name string, props map[string]json.RawMessage) error {
	return s.buckets.createType(name, props)
}

// ActivateType implements Client.
func (s *Service) ActivateType(name string) error { return s.buckets.activateType(name) }

// UpdateType implements Client.
func (s *Service) UpdateType(name string, props map[string]json.RawMessage) error {
	return s.buckets.updateType(name, props)
}

// TypeInfo implements Client.
func (s *Service) TypeInfo(name string) TypeInfo { return s.buckets.typeInfo(name) }

// TypeStatus implements Client.
func (s *Service) TypeStatus(name string) TypeInfo { return s.buckets.typeStatus(name) }

// ListTypes implements Client.
func (s *Service) ListTypes() []TypeInfo { return s.buckets.listTypes() }

// Preflist implements Client.
func (s *Service) Preflist(k Key) ([]PreflistEntry, error) {
	props, err := s.buckets.props(k.Type, k.Bucket)
	if err != nil {
		return nil, err
	}
	targets, _ := s.prefList(k, props.NVal)
	out := make([]PreflistEntry, len(targets))
	for i, t := range targets {
		out[i] = PreflistEntry{Partition: s.ring.Load().Index(t.Partition), Node: t.Node, Primary: t.Primary}
	}
	return out, nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewVTag returns a random 128-bit token in base62 (22 characters), unique
// per written value.
func NewVTag(r func() uint64) string {
	return Base62(r(), r())
}

// Base62 formats the 128-bit number hi:lo in base62, padded to 22 digits.
func Base62(hi, lo uint64) string {
	var b [22]byte
	for i := len(b) - 1; i >= 0; i-- {
		// divide the 128-bit number hi:lo by 62
		qh := hi / 62
		r := hi % 62
		// (r<<64 + lo) / 62, computed without overflow in two halves
		x := r<<32 | lo>>32
		q1 := x / 62
		r1 := x % 62
		y := r1<<32 | lo&0xffffffff
		q2 := y / 62
		r2 := y % 62
		hi, lo = qh, q1<<32|q2
		b[i] = base62[r2]
	}
	return string(b[:])
}
