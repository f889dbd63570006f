package pg

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// Process groups (riak_pg, cpg, Erlang pg) as a bucket type: the scope is
// the bucket, the group is the key, and the value is a dt.PG. See
// docs/pg.md for the user's view; the design in short:
//
//   - Only the owner node joins and leaves its members. The owner keeps the
//     authoritative table of its own members (ids, counts, metadata,
//     leases) in memory: a restart is a new incarnation, which makes every
//     member of the previous one dead, so the table needs no persistence.
//   - Every owner operation on a group is a full sync of the owner's
//     members in that group (pgSetReq): the coordinating vnode computes the
//     joins and leaves that bring the stored counts to the owner's, under
//     the key's lock, with its own actor. The sync is idempotent, so a lost
//     or repeated request is harmless, and a leave never fails on a stale
//     replica. The owner serialises its syncs per group.
//   - The coordinator is the first primary of the key's preference list
//     that is up (the owner forwards the sync there with MsgPGSet when it is
//     another node), else the owner's own fallback vnode: a stable
//     coordinator sees each sync of the previous one.
//   - The owner checks the stored counts the coordinator returns; a
//     mismatch (a coordinator change that missed dots, a failed write)
//     marks the group dirty and Tick re-syncs it with the replicas' merged
//     state as a base, until the counts agree. Tick also re-syncs every
//     owned group every SweepEvery (the owner's anti-entropy).
//   - Pruning: a member whose owner restarted (the cluster knows a newer
//     incarnation) or left the cluster (removed, force-removed) is dropped
//     from every read at once and from the stored value by the next write
//     of the group (every sync prunes; a read that saw such members writes
//     a prune). A member whose owner is merely unreachable is kept and
//     hidden from "connected" reads only. Syncs at a stale incarnation are
//     refused, and a join that raced a prune is pruned again by the next
//     read or write.

// BucketType is the bucket type every node creates for process groups.
const BucketType = "pg"

// Limits on process-group requests.
const (
	MaxCount = 1000              // join count of one member in one group
	MaxMeta  = dt.MaxPGMeta - 16 // bytes of a member's metadata
	MaxID    = dt.MaxPGName      // bytes of a member id
	minTTL   = 100 * time.Millisecond
)

// updateKind names the process-group syncs among kv's updates.
const updateKind = "pg"

// The codes process-group errors travel with between nodes (part of the
// protocol: append only; kv keeps transport.CodeApp+43 for an unknown
// bucket type).
var remoteCodes = []struct {
	code transport.Code
	err  error
}{
	{transport.CodeApp + 40, ErrStale},
	{transport.CodeApp + 41, ErrBadRequest},
	{transport.CodeApp + 42, ErrNotPG},
	{transport.CodeApp + 44, ErrFull},
}

// Process-group errors.
var (
	// ErrBadRequest: an invalid id, count, metadata, lease or name.
	ErrBadRequest = errors.New("riakgo/pg: invalid process-group request")
	// ErrNotMember: a leave or heartbeat for a member this node does not
	// hold in that group.
	ErrNotMember = errors.New("riakgo/pg: not a member")
	// ErrNoMember: pick found no member to choose.
	ErrNoMember = errors.New("riakgo/pg: no member to pick")
	// ErrNotPG: the bucket type's datatype is not pg.
	ErrNotPG = errors.New("riakgo/pg: the bucket type is not a pg type")
	// ErrStale: a sync from an incarnation the cluster knows is over.
	ErrStale = errors.New("riakgo/pg: stale incarnation")
	// ErrFull: a join would take a group past Config.MaxMembers.
	ErrFull = errors.New("riakgo/pg: process group full")
)

// NodeView is what a node knows of another from cluster membership.
type NodeView struct {
	// Incarnation is the node's latest known incarnation (0: unknown).
	Incarnation uint64
	// Removed: the node left the cluster or was force-removed.
	Removed bool
	// Up: the node is reachable.
	Up bool
}

// Config configures a node's process-group service.
type Config struct {
	// Incarnation is this node's boot incarnation (> 0), the one its
	// members carry.
	Incarnation uint64
	// View reports what cluster membership knows about a node; nil means
	// every node is up and nothing is known of incarnations.
	View func(ring.NodeID) NodeView
	// SweepEvery is how often the owner checks every group it has members
	// in against its table (default 5 minutes): each Tick reads up to
	// SweepBatch of them (default 50) and repairs those that disagree.
	SweepEvery time.Duration
	SweepBatch int
	// ReadAllTimeout bounds the wait for every replica of a read (default
	// 3 s, at most the service's timeout); then the read falls back to the
	// bucket's R.
	ReadAllTimeout time.Duration
	// MaxMembers bounds the members of one group (default
	// DefaultMaxMembers): a join that would add one more fails with
	// ErrFull. Every join costs O(members).
	MaxMembers int
	// MaxWatches bounds the watch streams open on this node (default
	// DefaultMaxWatches); one more fails with kv.ErrOverload.
	MaxWatches int
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Rand returns random 64-bit values (random picks); defaults to
	// math/rand/v2. It must be safe for concurrent use.
	Rand func() uint64
}

// Defaults of Config's caps.
const (
	DefaultMaxMembers = 1000
	DefaultMaxWatches = 1024
)

// Filter selects members in a read.
type Filter struct {
	// Kind: "" or "all", "local", "remote", "connected", "node".
	Kind string
	// Node names the owner for Kind "node".
	Node string
}

// MemberInfo is one member of a group as reads return it.
type MemberInfo struct {
	Node        string    `json:"node"`
	Incarnation uint64    `json:"incarnation"`
	ID          string    `json:"id"`
	Count       int       `json:"count"`
	Meta        string    `json:"meta,omitempty"`
	JoinedAt    time.Time `json:"joined_at"`
	Local       bool      `json:"local"`
	Connected   bool      `json:"connected"`
}

// JoinOpts are a join's parameters.
type JoinOpts struct {
	Count int           // instances to add (default 1)
	Meta  string        // the member's metadata (replaces the previous)
	TTL   time.Duration // lease: Heartbeat must renew it within TTL (0: none)
}

// Stats are the process-group counters of a node.
type Stats struct {
	Groups       int   `json:"pg_groups"`        // groups with members owned by this node
	Members      int   `json:"pg_members"`       // member ids owned by this node
	Leases       int   `json:"pg_leases"`        // members with a TTL lease
	Joins        int64 `json:"pg_joins"`         // join requests served
	Leaves       int64 `json:"pg_leaves"`        // leave requests served
	LeaseLapses  int64 `json:"pg_lease_lapses"`  // members left because their lease lapsed
	Prunes       int64 `json:"pg_prunes"`        // stored members pruned (dead incarnation or removed owner)
	Syncs        int64 `json:"pg_syncs"`         // owner syncs sent
	Repairs      int64 `json:"pg_repairs"`       // dirty groups re-synced
	WatchStreams int64 `json:"pg_watch_streams"` // open watch streams
}

type pgKey struct{ typ, bucket, group string }

func (k pgKey) key() kv.Key { return kv.Key{Type: k.typ, Bucket: k.bucket, Key: k.group} }

type pgOwned struct {
	count  int
	meta   string
	joined time.Time
}

type pgLease struct {
	ttl     time.Duration
	expires time.Time
}

// Service is a node's process-group service. Methods are safe for
// concurrent use.
type Service struct {
	s      *kv.Service
	cfg    Config
	log    *slog.Logger
	self   string
	remote bool // MsgPGSet is served: syncs may go to other nodes

	locks [1024]sync.Mutex // serialise the owner's syncs per group (striped: 32 concurrent groups collide 3% of the time)

	mu      sync.Mutex
	owned   map[pgKey]map[string]pgOwned // this node's members, by group
	groups  map[string]map[pgKey]bool    // member id -> its groups
	leases  map[string]*pgLease
	dirty   map[pgKey]bool
	coord   map[pgKey]ring.NodeID // the coordinator of each group's last sync
	sweep   time.Time             // when the next sweep starts
	sweepQ  []pgKey               // groups the current sweep has still to check
	pruning map[pgKey]bool        // prunes under way

	watchMu sync.Mutex
	watches map[*pgWatch]bool

	joins, leaves, lapses, prunes, syncs, repairs, watchStreams atomic.Int64
}

// New starts the process-group service over s: it creates and activates
// the pg bucket type if missing, registers the "pg" update kind and the
// process-group errors with s, and serves MsgPGSet.
func New(s *kv.Service, cfg Config) (*Service, error) {
	if cfg.Incarnation == 0 {
		return nil, errors.New("riakgo/pg: pg config: Incarnation must be > 0")
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = 5 * time.Minute
	}
	if cfg.SweepBatch <= 0 {
		cfg.SweepBatch = 50
	}
	if cfg.ReadAllTimeout <= 0 {
		cfg.ReadAllTimeout = 3 * time.Second
	}
	cfg.ReadAllTimeout = min(cfg.ReadAllTimeout, s.Timeout())
	if cfg.MaxMembers <= 0 {
		cfg.MaxMembers = DefaultMaxMembers
	}
	if cfg.MaxWatches <= 0 {
		cfg.MaxWatches = DefaultMaxWatches
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Uint64
	}
	if s.TypeInfo(BucketType).Status != kv.TypeActive {
		if err := s.CreateType(BucketType, map[string]json.RawMessage{"datatype": json.RawMessage(`"pg"`)}); err != nil {
			return nil, fmt.Errorf("riakgo/pg: creating the pg bucket type: %w", err)
		}
		if err := s.ActivateType(BucketType); err != nil {
			return nil, fmt.Errorf("riakgo/pg: activating the pg bucket type: %w", err)
		}
	}
	p := &Service{s: s, cfg: cfg, log: cfg.Logger, self: string(s.Node()),
		owned: map[pgKey]map[string]pgOwned{}, groups: map[string]map[pgKey]bool{},
		leases: map[string]*pgLease{}, dirty: map[pgKey]bool{}, coord: map[pgKey]ring.NodeID{}, pruning: map[pgKey]bool{}, watches: map[*pgWatch]bool{},
		sweep: s.Clock().Now().Add(cfg.SweepEvery)}
	for _, c := range remoteCodes {
		s.RegisterError(c.code, c.err)
	}
	s.RegisterUpdate(updateKind, p.decodeUpdate)
	p.remote = s.Handle(wire.MsgPGSet, p.handleSet)
	return p, nil
}

// Self returns this node's name and incarnation.
func (p *Service) Self() (string, uint64) { return p.self, p.cfg.Incarnation }

func (p *Service) view(node string) NodeView {
	if node == p.self {
		return NodeView{Incarnation: p.cfg.Incarnation, Up: true}
	}
	if p.cfg.View == nil {
		return NodeView{Up: true}
	}
	return p.cfg.View(ring.NodeID(node))
}

// dead reports whether cluster membership proves member m gone: its owner
// restarted with a newer incarnation or left the cluster.
func (p *Service) dead(node string, inc uint64) bool {
	v := p.view(node)
	return v.Removed || v.Incarnation > inc
}

// --- validation ---

func validName(what, s string) error {
	if s == "" || len(s) > MaxID {
		return fmt.Errorf("%w: the %s must be 1..%d bytes", ErrBadRequest, what, MaxID)
	}
	return nil
}

func (p *Service) checkKey(k kv.Key) (kv.Props, error) {
	if k.Type == "" {
		k.Type = BucketType
	}
	if err := k.Validate(); err != nil {
		return kv.Props{}, err
	}
	props, err := p.s.BucketProps(k.Type, k.Bucket)
	if err != nil {
		return kv.Props{}, err
	}
	if props.Datatype != "pg" {
		return kv.Props{}, fmt.Errorf("%w: bucket type %q holds %q", ErrNotPG, k.Type, props.Datatype)
	}
	if !props.AllowPatterns && strings.Contains(k.Key, "*") {
		return kv.Props{}, fmt.Errorf("%w: group %q has a '*' but bucket type %q does not allow patterns", ErrBadRequest, k.Key, k.Type)
	}
	if props.AllowPatterns {
		if err := validPattern(k.Key); err != nil {
			return kv.Props{}, err
		}
	}
	return props, nil
}

func pgk(k kv.Key) pgKey {
	if k.Type == "" {
		k.Type = BucketType
	}
	return pgKey{k.Type, k.Bucket, k.Key}
}

// --- stored metadata envelope ---

// The metadata stored with a member (dt.PG's meta) is an envelope: a
// version byte (1), the owner's join time in unix milliseconds (uvarint),
// then the user's metadata.
func encodePGMeta(joined time.Time, meta string) string {
	b := make([]byte, 0, 12+len(meta))
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(max(joined.UnixMilli(), 0)))
	return string(append(b, meta...))
}

func decodePGMeta(s string) (time.Time, string) {
	if len(s) == 0 || s[0] != 1 {
		return time.Time{}, s
	}
	ms, n := binary.Uvarint([]byte(s[1:]))
	if n <= 0 {
		return time.Time{}, ""
	}
	return time.UnixMilli(int64(ms)).UTC(), s[1+n:]
}

// --- owner operations ---

func (p *Service) lock(k pgKey) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(k.typ))
	h.Write([]byte{0})
	h.Write([]byte(k.bucket))
	h.Write([]byte{0})
	h.Write([]byte(k.group))
	return &p.locks[h.Sum32()%uint32(len(p.locks))]
}

// Join adds o.Count instances of the member id (owned by this node) to
// group k and returns its count. Metadata replaces the member's previous
// metadata; a TTL starts or renews the member's lease (Heartbeat).
func (p *Service) Join(ctx context.Context, k kv.Key, id string, o JoinOpts) (int, error) {
	if err := validName("member id", id); err != nil {
		return 0, err
	}
	if o.Count == 0 {
		o.Count = 1
	}
	switch {
	case o.Count < 0 || o.Count > MaxCount:
		return 0, fmt.Errorf("%w: count must be 1..%d", ErrBadRequest, MaxCount)
	case len(o.Meta) > MaxMeta:
		return 0, fmt.Errorf("%w: metadata over %d bytes", ErrBadRequest, MaxMeta)
	case o.TTL < 0 || (o.TTL > 0 && o.TTL < minTTL):
		return 0, fmt.Errorf("%w: ttl must be at least %s", ErrBadRequest, minTTL)
	}
	if _, err := p.checkKey(k); err != nil {
		return 0, err
	}
	gk := pgk(k)
	l := p.lock(gk)
	l.Lock()
	defer l.Unlock()
	p.joins.Add(1)
	now := p.s.Clock().Now()
	p.mu.Lock()
	want := maps.Clone(p.owned[gk])
	if want == nil {
		want = map[string]pgOwned{}
	}
	m, had := want[id]
	if !had {
		m.joined = now
	}
	if m.count+o.Count > MaxCount {
		p.mu.Unlock()
		return 0, fmt.Errorf("%w: the count would exceed %d", ErrBadRequest, MaxCount)
	}
	m.count += o.Count
	if o.Meta != "" || !had {
		m.meta = o.Meta
	}
	want[id] = m
	p.mu.Unlock()
	if err := p.sync(ctx, gk, want, nil, false); err != nil {
		return 0, err
	}
	p.mu.Lock()
	if o.TTL > 0 {
		p.leases[id] = &pgLease{ttl: o.TTL, expires: now.Add(o.TTL)}
	}
	p.mu.Unlock()
	p.notify(ctx, gk)
	return m.count, nil
}

// Leave removes count instances (0 or more than it has: all) of the member
// id from group k and returns the count left.
func (p *Service) Leave(ctx context.Context, k kv.Key, id string, count int) (int, error) {
	if err := validName("member id", id); err != nil {
		return 0, err
	}
	if count < 0 {
		return 0, fmt.Errorf("%w: count must not be negative", ErrBadRequest)
	}
	if _, err := p.checkKey(k); err != nil {
		return 0, err
	}
	gk := pgk(k)
	l := p.lock(gk)
	l.Lock()
	defer l.Unlock()
	return p.leaveLocked(ctx, gk, id, count)
}

func (p *Service) leaveLocked(ctx context.Context, gk pgKey, id string, count int) (int, error) {
	p.leaves.Add(1)
	p.mu.Lock()
	want := maps.Clone(p.owned[gk])
	m, ok := want[id]
	if !ok {
		p.mu.Unlock()
		return 0, fmt.Errorf("%w: %q is not in group %q of %q on this node", ErrNotMember, id, gk.group, gk.bucket)
	}
	if count == 0 || count >= m.count {
		delete(want, id)
		m.count = 0
	} else {
		m.count -= count
		want[id] = m
	}
	p.mu.Unlock()
	if err := p.sync(ctx, gk, want, nil, true); err != nil {
		return 0, err
	}
	p.notify(ctx, gk)
	return m.count, nil
}

// LeaveAll removes the member id from every group it is in on this node
// and drops its lease; it returns the groups it left.
func (p *Service) LeaveAll(ctx context.Context, id string) ([]kv.Key, error) {
	if err := validName("member id", id); err != nil {
		return nil, err
	}
	p.mu.Lock()
	gks := slices.Collect(maps.Keys(p.groups[id]))
	delete(p.leases, id)
	p.mu.Unlock()
	if len(gks) == 0 {
		return nil, fmt.Errorf("%w: %q is in no group on this node", ErrNotMember, id)
	}
	slices.SortFunc(gks, compareKey)
	var out []kv.Key
	var errs []error
	for _, gk := range gks {
		l := p.lock(gk)
		l.Lock()
		_, err := p.leaveLocked(ctx, gk, id, 0)
		l.Unlock()
		if err != nil && !errors.Is(err, ErrNotMember) {
			errs = append(errs, err)
			continue
		}
		out = append(out, gk.key())
	}
	return out, errors.Join(errs...)
}

func compareKey(a, b pgKey) int {
	if c := strings.Compare(a.typ, b.typ); c != 0 {
		return c
	}
	if c := strings.Compare(a.bucket, b.bucket); c != 0 {
		return c
	}
	return strings.Compare(a.group, b.group)
}

// Heartbeat renews the lease of member id for its TTL.
func (p *Service) Heartbeat(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.leases[id]
	if l == nil {
		return fmt.Errorf("%w: %q has no lease on this node", ErrNotMember, id)
	}
	l.expires = p.s.Clock().Now().Add(l.ttl)
	return nil
}

// GroupsOf returns the groups member id is in on this node, with counts.
func (p *Service) GroupsOf(id string) map[kv.Key]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[kv.Key]int{}
	for gk := range p.groups[id] {
		out[gk.key()] = p.owned[gk][id].count
	}
	return out
}

// sync brings the stored group gk to want (this node's members in it) and
// records want as the owner's table. base, if set, is a state the
// coordinator merges first (a dirty group's repair). If the write fails,
// the table keeps want when keep is set (a leave: the owner means it, and
// the repair of the dirty group completes it) and goes back to what it was
// otherwise (a join: the client is told it failed and may retry, so the
// repair undoes whatever part of it was stored). The caller holds gk's
// lock.
func (p *Service) sync(ctx context.Context, gk pgKey, want map[string]pgOwned, base []byte, keep bool) error {
	req := p.request(gk, want)
	req.Base = base
	p.syncs.Add(1)
	var got *dt.PG
	props, err := p.checkKey(gk.key())
	if err == nil {
		node := p.coordinator(gk.key(), props)
		p.mu.Lock()
		last, had := p.coord[gk]
		p.coord[gk] = node
		p.mu.Unlock()
		if req.Base == nil && had && last != node {
			// A new coordinator may miss what the last one stored: it
			// merges the replicas' state first.
			if g, ferr := p.fetch(ctx, gk.key()); ferr == nil {
				req.Base, _ = g.MarshalBinary()
			}
		}
		got, err = p.send(ctx, gk.key(), node, &req)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.owned[gk]
	if err != nil && !keep {
		p.dirty[gk] = true
		return err
	}
	for id := range old {
		if _, ok := want[id]; !ok {
			delete(p.groups[id], gk)
			if len(p.groups[id]) == 0 {
				delete(p.groups, id)
			}
		}
	}
	for id := range want {
		if p.groups[id] == nil {
			p.groups[id] = map[pgKey]bool{}
		}
		p.groups[id][gk] = true
	}
	p.owned[gk] = want
	if err != nil || !p.agrees(got, &req) {
		p.dirty[gk] = true
		return err
	}
	delete(p.dirty, gk)
	if len(want) == 0 {
		delete(p.owned, gk)
		delete(p.coord, gk)
	}
	return nil
}

// request is the sync of this node's members want in group gk.
func (p *Service) request(gk pgKey, want map[string]pgOwned) pgSetReq {
	req := pgSetReq{Type: gk.typ, Bucket: gk.bucket, Key: gk.group, Node: p.self, Inc: p.cfg.Incarnation}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		m := want[id]
		req.Members = append(req.Members, pgSetMember{ID: id, Count: m.count, Meta: encodePGMeta(m.joined, m.meta)})
	}
	return req
}

// agrees reports whether the stored state v holds exactly req's members of
// req's owner incarnation.
func (p *Service) agrees(v *dt.PG, req *pgSetReq) bool {
	if v == nil {
		return false
	}
	var mine []dt.PGEntry
	for _, e := range v.MembersOf(req.Node) {
		if e.Incarnation == req.Inc {
			mine = append(mine, e)
		}
	}
	if len(mine) != len(req.Members) {
		return false
	}
	for i, e := range mine { // both sorted by id
		m := req.Members[i]
		if e.ID != m.ID || e.Count != m.Count || e.Meta != m.Meta {
			return false
		}
	}
	return true
}

// --- the sync request and its coordination ---

// pgSetMember is one member's wanted state in a sync.
type pgSetMember struct {
	ID    string `msgpack:"i"`
	Count int    `msgpack:"c"`
	Meta  string `msgpack:"m,omitempty"` // the envelope (encodePGMeta)
}

// pgSetReq is MsgPGSet's body: bring owner Node's members (at incarnation
// Inc) in the group to Members (ids not listed: none). An empty Node is a
// prune only. Base, if set, is an encoded dt.PG merged first.
type pgSetReq struct {
	Type    string        `msgpack:"t"`
	Bucket  string        `msgpack:"b"`
	Key     string        `msgpack:"k"`
	Node    string        `msgpack:"n,omitempty"`
	Inc     uint64        `msgpack:"inc,omitempty"`
	Members []pgSetMember `msgpack:"m,omitempty"`
	Base    []byte        `msgpack:"base,omitempty"`
}

// pgSetResp answers MsgPGSet: the coordinator's resulting state.
type pgSetResp struct {
	Value []byte `msgpack:"v,omitempty"`
}

// coordinator is the node that coordinates writes of k: the first primary
// up, else this node (a fallback vnode).
func (p *Service) coordinator(k kv.Key, props kv.Props) ring.NodeID {
	return p.s.Coordinator(k, props.NVal)
}

func (p *Service) send(ctx context.Context, k kv.Key, node ring.NodeID, req *pgSetReq) (*dt.PG, error) {
	if node == p.s.Node() || !p.remote {
		return p.apply(ctx, k, req)
	}
	ctx, cancel := clock.WithTimeout(ctx, p.s.Clock(), p.s.Timeout())
	defer cancel()
	var resp pgSetResp
	if err := p.s.Call(ctx, node, wire.MsgPGSet, req, &resp); err != nil {
		return nil, err
	}
	return decodePGValue(resp.Value)
}

func decodePGValue(b []byte) (*dt.PG, error) {
	if len(b) == 0 {
		return &dt.PG{}, nil
	}
	v, err := dt.Unmarshal(b)
	if err != nil {
		return nil, err
	}
	g, ok := v.(*dt.PG)
	if !ok {
		return nil, fmt.Errorf("%w: pg value of kind %s", kv.ErrNotDatatype, v.Kind())
	}
	return g, nil
}

func (p *Service) handleSet(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	var req pgSetReq
	if err := body.Decode(&req); err != nil {
		return nil, err
	}
	v, err := p.apply(ctx, kv.Key{Type: req.Type, Bucket: req.Bucket, Key: req.Key}, &req)
	if err != nil {
		return nil, err
	}
	b, err := v.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return pgSetResp{Value: b}, nil
}

// apply coordinates req at a local vnode of k. A sync whose caller has
// given up (ctx done: the deadline the transport carries from the owner)
// is not applied, even after waiting for the key's lock: the owner has
// seen it fail and will repair the group, and a late sync must not land
// after that repair.
func (p *Service) apply(ctx context.Context, k kv.Key, req *pgSetReq) (*dt.PG, error) {
	if _, err := p.checkKey(k); err != nil {
		return nil, err
	}
	if err := p.checkSync(req); err != nil {
		return nil, err
	}
	var pruned int
	mutate := p.syncMutation(ctx, req, &pruned)
	body, err := wire.MarshalBody(req)
	if err != nil {
		return nil, err
	}
	// Coordinated here (the usual case: this node is the key's first
	// primary), the closure runs, with its abandonment check and prune
	// count; coordinated elsewhere, the sync travels as data.
	obj, err := p.s.Update(ctx, k, kv.NewUpdate(updateKind, body, mutate), kv.Options{ReturnBody: true})
	if err != nil {
		return nil, err
	}
	p.prunes.Add(int64(pruned))
	v, err := kv.MergeDatatype(dt.KindPG, obj)
	if err != nil || v == nil {
		return &dt.PG{}, err
	}
	g := v.(*dt.PG)
	p.pruneDead(g) // what the caller sees: concurrent siblings may hold more
	return g, nil
}

// syncMutation is the mutation of a sync: merge the replica's value (and
// the request's base), prune the members of dead incarnations (counted in
// *pruned) and bring the owner's members to the request's.
func (p *Service) syncMutation(ctx context.Context, req *pgSetReq, pruned *int) kv.Mutation {
	return func(local *siblings.Object, actor vclock.Actor) (siblings.Sibling, error) {
		if err := ctx.Err(); err != nil {
			return siblings.Sibling{}, fmt.Errorf("%w: pg sync abandoned by its caller: %v", kv.ErrUnavailable, err)
		}
		cur, err := kv.MergeDatatype(dt.KindPG, local)
		if err != nil {
			return siblings.Sibling{}, err
		}
		g, _ := cur.(*dt.PG)
		if g == nil {
			g = &dt.PG{}
		}
		if len(req.Base) > 0 {
			base, err := decodePGValue(req.Base)
			if err != nil {
				return siblings.Sibling{}, err
			}
			if err := g.Merge(base); err != nil {
				return siblings.Sibling{}, err
			}
		}
		*pruned = p.pruneDead(g)
		if req.Node != "" {
			if op := pgSyncOp(g, req); len(op.Edits) > 0 {
				if added := p.newMembers(g, req); added > 0 && g.Len()+added > p.cfg.MaxMembers {
					return siblings.Sibling{}, fmt.Errorf("%w: %d members, at most %d", ErrFull, g.Len(), p.cfg.MaxMembers)
				}
				if err := g.Apply(op, actor, dt.Context{}); err != nil {
					return siblings.Sibling{}, err
				}
			}
		}
		b, err := g.MarshalBinary()
		if err != nil {
			return siblings.Sibling{}, err
		}
		return siblings.Sibling{Value: b, Meta: siblings.Meta{ContentType: kv.DatatypeContentType(dt.KindPG)}}, nil
	}
}

// decodeUpdate is the UpdateDecoder of syncs coordinated on another node
// than the one that received them (its ring moved meanwhile).
func (p *Service) decodeUpdate(b []byte) (kv.Mutation, error) {
	var req pgSetReq
	if err := wire.DecodeBody(b, &req); err != nil {
		return nil, err
	}
	if err := p.checkSync(&req); err != nil {
		return nil, err
	}
	var pruned int
	return p.syncMutation(context.Background(), &req, &pruned), nil
}

// checkSync refuses a sync without an owner incarnation, or from a dead
// one.
func (p *Service) checkSync(req *pgSetReq) error {
	if req.Node != "" {
		if req.Inc == 0 || validName("node", req.Node) != nil {
			return fmt.Errorf("%w: pg sync without an owner incarnation", ErrBadRequest)
		}
		if p.dead(req.Node, req.Inc) {
			return fmt.Errorf("%w: %s incarnation %d", ErrStale, req.Node, req.Inc)
		}
	}
	return nil
}

// newMembers counts the members req adds that g does not hold.
func (p *Service) newMembers(g *dt.PG, req *pgSetReq) int {
	have := map[string]bool{}
	for _, e := range g.MembersOf(req.Node) {
		if e.Incarnation == req.Inc {
			have[e.ID] = true
		}
	}
	n := 0
	for _, m := range req.Members {
		if !have[m.ID] {
			n++
		}
	}
	return n
}

// pgSyncOp returns the edits that bring g's members of (req.Node,
// req.Inc) to req.Members.
func pgSyncOp(g *dt.PG, req *pgSetReq) dt.PGOp {
	op := dt.PGOp{Node: req.Node, Incarnation: req.Inc}
	have := map[string]dt.PGEntry{}
	for _, e := range g.MembersOf(req.Node) {
		if e.Incarnation == req.Inc {
			have[e.ID] = e
		}
	}
	want := map[string]bool{}
	for _, m := range req.Members {
		want[m.ID] = true
		e, ok := have[m.ID]
		switch {
		case m.Count <= 0:
			if ok {
				op = op.LeaveAll(m.ID)
			}
		case ok && e.Meta != m.Meta:
			op = op.LeaveAll(m.ID)
			for range m.Count {
				op = op.Join(m.ID, m.Meta)
			}
		case m.Count > e.Count:
			for range m.Count - e.Count {
				op = op.Join(m.ID, m.Meta)
			}
		case m.Count < e.Count:
			for range e.Count - m.Count {
				op = op.Leave(m.ID)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(have)) {
		if !want[id] {
			op = op.LeaveAll(id)
		}
	}
	return op
}

// pruneDead removes from g the members that cluster membership proves
// gone and returns how many it removed.
func (p *Service) pruneDead(g *dt.PG) int {
	n := 0
	seen := map[string]bool{}
	for _, e := range g.Members() {
		if seen[e.Node] {
			continue
		}
		seen[e.Node] = true
		v := p.view(e.Node)
		switch {
		case v.Removed:
			n += g.PruneNode(e.Node)
		case v.Incarnation > 0:
			n += g.PruneIncarnation(e.Node, v.Incarnation)
		}
	}
	return n
}

// prune writes a prune of group k (a read saw members of dead owners),
// unless one is already under way.
func (p *Service) prune(k kv.Key) {
	gk := pgk(k)
	p.mu.Lock()
	if p.pruning[gk] {
		p.mu.Unlock()
		return
	}
	p.pruning[gk] = true
	p.mu.Unlock()
	started := p.s.Go(func(base context.Context) {
		defer func() {
			p.mu.Lock()
			delete(p.pruning, gk)
			p.mu.Unlock()
		}()
		props, err := p.checkKey(k)
		if err == nil {
			ctx, cancel := clock.WithTimeout(base, p.s.Clock(), p.s.Timeout())
			_, err = p.send(ctx, k, p.coordinator(k, props), &pgSetReq{Type: k.Type, Bucket: k.Bucket, Key: k.Key})
			cancel()
		}
		if err != nil {
			p.log.Debug("pg prune", "key", k.String(), "err", err)
		}
	})
	if !started {
		p.mu.Lock()
		delete(p.pruning, gk)
		p.mu.Unlock()
	}
}

// --- reads ---

// fetch reads group k from every replica in its preference list (R = all:
// a membership read merges every copy, as riak_pg's members FSM does),
// falling back to the bucket's R when not all of them answer within
// ReadAllTimeout (a node that failure detection has not yet seen down).
func (p *Service) fetch(ctx context.Context, k kv.Key) (*dt.PG, error) {
	v, err := p.s.FetchDatatype(ctx, k, dt.KindPG, kv.Options{R: quorum.ValAll, Timeout: p.cfg.ReadAllTimeout})
	var qe *quorum.Error
	if errors.As(err, &qe) && !qe.ClientError() {
		v, err = p.s.FetchDatatype(ctx, k, dt.KindPG, kv.Options{})
	}
	if errors.Is(err, kv.ErrNotFound) {
		return &dt.PG{}, nil
	}
	if err != nil {
		return nil, err
	}
	g, ok := v.(*dt.PG)
	if !ok {
		return nil, fmt.Errorf("%w: %s", kv.ErrNotDatatype, v.Kind())
	}
	return g, nil
}

// live converts g's members into infos, leaving out (and scheduling the
// prune of) the members of dead owners.
func (p *Service) live(k kv.Key, g *dt.PG) []MemberInfo {
	var out []MemberInfo
	dead := false
	for _, e := range g.Members() {
		if p.dead(e.Node, e.Incarnation) {
			dead = true
			continue
		}
		joined, meta := decodePGMeta(e.Meta)
		v := p.view(e.Node)
		out = append(out, MemberInfo{Node: e.Node, Incarnation: e.Incarnation, ID: e.ID, Count: e.Count,
			Meta: meta, JoinedAt: joined, Local: e.Node == p.self, Connected: v.Up})
	}
	if dead {
		p.prune(k)
	}
	return out
}

func (f Filter) keep(m MemberInfo) bool {
	switch f.Kind {
	case "", "all":
		return true
	case "local":
		return m.Local
	case "remote":
		return !m.Local
	case "connected":
		return m.Connected
	case "node":
		return m.Node == f.Node
	}
	return false
}

func (f Filter) validate() error {
	switch f.Kind {
	case "", "all", "local", "remote", "connected":
		return nil
	case "node":
		if f.Node == "" {
			return fmt.Errorf("%w: filter node needs a node name", ErrBadRequest)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown filter %q (all, local, remote, connected, node)", ErrBadRequest, f.Kind)
}

// Members returns the members of group k that f selects, sorted by owner
// node, incarnation and id. With patterns enabled, the members of every
// pattern group matching k's name are included (see Patterns).
func (p *Service) Members(ctx context.Context, k kv.Key, f Filter) ([]MemberInfo, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	props, err := p.checkKey(k)
	if err != nil {
		return nil, err
	}
	if k.Type == "" {
		k.Type = BucketType
	}
	keys := []kv.Key{k}
	if props.AllowPatterns && !strings.Contains(k.Key, "*") {
		pats, err := p.patternsMatching(ctx, k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, pats...)
	}
	var out []MemberInfo
	for _, key := range keys {
		g, err := p.fetch(ctx, key)
		if err != nil {
			return nil, err
		}
		for _, m := range p.live(key, g) {
			if f.keep(m) {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// Pick strategies.
const (
	PickRandom   = "random"   // any connected member, weighted by count
	PickClosest  = "closest"  // a local member if any, else a remote one
	PickFurthest = "furthest" // a remote member if any, else a local one
	PickOldest   = "oldest"   // the earliest joined
	PickNewest   = "newest"   // the latest joined
	PickHash     = "hash"     // rendezvous hash of the key over the members
)

// Pick chooses one connected member of group k by strategy (key is the
// hash strategy's input).
func (p *Service) Pick(ctx context.Context, k kv.Key, strategy, key string) (MemberInfo, error) {
	switch strategy {
	case "":
		strategy = PickRandom
	case PickRandom, PickClosest, PickFurthest, PickOldest, PickNewest:
	case PickHash:
		if key == "" {
			return MemberInfo{}, fmt.Errorf("%w: pick by hash needs a key", ErrBadRequest)
		}
	default:
		return MemberInfo{}, fmt.Errorf("%w: unknown pick strategy %q (random, closest, furthest, oldest, newest, hash)", ErrBadRequest, strategy)
	}
	ms, err := p.Members(ctx, k, Filter{Kind: "connected"})
	if err != nil {
		return MemberInfo{}, err
	}
	if len(ms) == 0 {
		return MemberInfo{}, fmt.Errorf("%w in group %q of %q", ErrNoMember, k.Key, k.Bucket)
	}
	return p.pickFrom(ms, strategy, key), nil
}

func (p *Service) pickFrom(ms []MemberInfo, strategy, key string) MemberInfo {
	split := func(local bool) []MemberInfo {
		var out []MemberInfo
		for _, m := range ms {
			if m.Local == local {
				out = append(out, m)
			}
		}
		if len(out) == 0 {
			return ms
		}
		return out
	}
	switch strategy {
	case PickClosest:
		return p.weighted(split(true))
	case PickFurthest:
		return p.weighted(split(false))
	case PickOldest, PickNewest:
		best := ms[0]
		for _, m := range ms[1:] {
			older := m.JoinedAt.Before(best.JoinedAt)
			if strategy == PickNewest {
				older = m.JoinedAt.After(best.JoinedAt)
			}
			if older {
				best = m
			}
		}
		return best
	case PickHash:
		var best MemberInfo
		var bestH uint64
		for i, m := range ms {
			h := fnv.New64a()
			fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s", key, m.Node, m.Incarnation, m.ID)
			if v := h.Sum64(); i == 0 || v > bestH {
				best, bestH = m, v
			}
		}
		return best
	}
	return p.weighted(ms)
}

// weighted picks a member at random, a member with count c being c times
// as likely as one with count 1 (cpg).
func (p *Service) weighted(ms []MemberInfo) MemberInfo {
	total := 0
	for _, m := range ms {
		total += m.Count
	}
	r := int(p.cfg.Rand() % uint64(max(total, 1)))
	for _, m := range ms {
		if r < m.Count {
			return m
		}
		r -= m.Count
	}
	return ms[len(ms)-1]
}

// Groups returns the non-empty groups of a scope (bucket) in sorted order:
// a coverage query (every key of the bucket, each read once) that leaves
// out groups whose members are all gone.
func (p *Service) Groups(ctx context.Context, typ, bucket string) ([]string, error) {
	return p.groupsWith(ctx, typ, bucket, nil)
}

// pollCache holds what one poll of the watches read, so that every watch
// of a scope or group shares one listing and one read of each group
// however many watches there are (issue 12: each idle watch re-listed its
// scope every second).
type pollCache struct {
	groups map[[2]string][]string
	vals   map[kv.Key]*dt.PG
}

func (p *Service) fetchWith(ctx context.Context, k kv.Key, pc *pollCache) (*dt.PG, error) {
	if pc == nil {
		return p.fetch(ctx, k)
	}
	if v, ok := pc.vals[k]; ok {
		return v, nil
	}
	v, err := p.fetch(ctx, k)
	if err == nil {
		pc.vals[k] = v
	}
	return v, err
}

func (p *Service) groupsWith(ctx context.Context, typ, bucket string, pc *pollCache) ([]string, error) {
	if typ == "" {
		typ = BucketType
	}
	if pc != nil {
		if gs, ok := pc.groups[[2]string{typ, bucket}]; ok {
			return slices.Clone(gs), nil
		}
	}
	if _, err := p.checkKey(kv.Key{Type: typ, Bucket: bucket, Key: "x"}); err != nil {
		return nil, err
	}
	var keys []string
	if err := p.s.ListKeys(ctx, typ, bucket, func(ks []string) error {
		keys = append(keys, ks...)
		return nil
	}); err != nil {
		return nil, err
	}
	slices.Sort(keys)
	var out []string
	for _, g := range slices.Compact(keys) {
		k := kv.Key{Type: typ, Bucket: bucket, Key: g}
		v, err := p.fetchWith(ctx, k, pc)
		if err != nil {
			return nil, err
		}
		if len(p.live(k, v)) > 0 {
			out = append(out, g)
		}
	}
	if pc != nil {
		pc.groups[[2]string{typ, bucket}] = slices.Clone(out)
	}
	return out, nil
}

// --- liveness ---

// Tick runs the owner's periodic work; the node calls it every second,
// tests after advancing the clock. It leaves the members whose lease
// lapsed, checks the next batch of the sweep (every group this node has
// members in, every SweepEvery), re-syncs dirty groups, and refreshes
// watches.
func (p *Service) Tick(ctx context.Context) {
	now := p.s.Clock().Now()
	p.mu.Lock()
	var lapsed []string
	for id, l := range p.leases {
		if !now.Before(l.expires) {
			lapsed = append(lapsed, id)
		}
	}
	if len(p.sweepQ) == 0 && !now.Before(p.sweep) {
		p.sweep = now.Add(p.cfg.SweepEvery)
		p.sweepQ = slices.SortedFunc(maps.Keys(p.owned), compareKey)
	}
	batch := p.sweepQ[:min(len(p.sweepQ), p.cfg.SweepBatch)]
	p.sweepQ = p.sweepQ[len(batch):]
	p.mu.Unlock()
	slices.Sort(lapsed)
	for _, id := range lapsed {
		p.lapses.Add(1)
		if _, err := p.LeaveAll(ctx, id); err != nil && !errors.Is(err, ErrNotMember) {
			p.log.Warn("pg: leaving a member whose lease lapsed", "id", id, "err", err)
		}
	}
	for _, gk := range batch {
		p.check(ctx, gk)
	}
	p.repairDirty(ctx)
	p.pollWatches(ctx)
}

// check reads group gk and marks it dirty if its stored members of this
// node disagree with the table (the sweep).
func (p *Service) check(ctx context.Context, gk pgKey) {
	l := p.lock(gk)
	l.Lock()
	defer l.Unlock()
	g, err := p.fetch(ctx, gk.key())
	p.mu.Lock()
	defer p.mu.Unlock()
	want, ok := p.owned[gk]
	if !ok {
		return
	}
	req := p.request(gk, want)
	if err != nil || !p.agrees(g, &req) {
		p.dirty[gk] = true
	}
}

// repairDirty re-syncs each dirty group with the replicas' merged state as
// the coordinator's base.
func (p *Service) repairDirty(ctx context.Context) {
	p.mu.Lock()
	gks := slices.SortedFunc(maps.Keys(p.dirty), compareKey)
	p.mu.Unlock()
	for _, gk := range gks {
		l := p.lock(gk)
		l.Lock()
		p.mu.Lock()
		want, still := maps.Clone(p.owned[gk]), p.dirty[gk]
		p.mu.Unlock()
		if still {
			p.repairs.Add(1)
			var base []byte
			if g, err := p.fetch(ctx, gk.key()); err == nil {
				base, _ = g.MarshalBinary()
			}
			if want == nil {
				want = map[string]pgOwned{}
			}
			if err := p.sync(ctx, gk, want, base, true); err != nil {
				p.log.Debug("pg: repairing a group", "key", gk.key().String(), "err", err)
			}
		}
		l.Unlock()
	}
}

// Stats returns the node's process-group counters.
func (p *Service) Stats() Stats {
	p.mu.Lock()
	st := Stats{Groups: len(p.owned), Members: len(p.groups), Leases: len(p.leases)}
	p.mu.Unlock()
	st.Joins, st.Leaves, st.LeaseLapses = p.joins.Load(), p.leaves.Load(), p.lapses.Load()
	st.Prunes, st.Syncs, st.Repairs = p.prunes.Load(), p.syncs.Load(), p.repairs.Load()
	st.WatchStreams = p.watchStreams.Load()
	return st
}
