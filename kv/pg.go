package kv

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
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

// PGType is the bucket type every node creates for process groups.
const PGType = "pg"

// Limits on process-group requests.
const (
	MaxPGCount = 1000              // join count of one member in one group
	MaxPGMeta  = dt.MaxPGMeta - 16 // bytes of a member's metadata
	MaxPGID    = dt.MaxPGName      // bytes of a member id
	minPGTTL   = 100 * time.Millisecond
)

// Process-group errors.
var (
	// ErrPGBadRequest: an invalid id, count, metadata, lease or name.
	ErrPGBadRequest = errors.New("riakgo/kv: invalid process-group request")
	// ErrPGNotMember: a leave or heartbeat for a member this node does not
	// hold in that group.
	ErrPGNotMember = errors.New("riakgo/kv: not a member")
	// ErrPGNoMember: pick found no member to choose.
	ErrPGNoMember = errors.New("riakgo/kv: no member to pick")
	// ErrPGNotPG: the bucket type's datatype is not pg.
	ErrPGNotPG = errors.New("riakgo/kv: the bucket type is not a pg type")
	// ErrPGStale: a sync from an incarnation the cluster knows is over.
	ErrPGStale = errors.New("riakgo/kv: stale incarnation")
	// ErrPGFull: a join would take a group past PGConfig.MaxMembers.
	ErrPGFull = errors.New("riakgo/kv: process group full")
)

// PGNodeView is what a node knows of another from cluster membership.
type PGNodeView struct {
	// Incarnation is the node's latest known incarnation (0: unknown).
	Incarnation uint64
	// Removed: the node left the cluster or was force-removed.
	Removed bool
	// Up: the node is reachable.
	Up bool
}

// PGConfig configures a node's process-group service.
type PGConfig struct {
	// Incarnation is this node's boot incarnation (> 0), the one its
	// members carry.
	Incarnation uint64
	// View reports what cluster membership knows about a node; nil means
	// every node is up and nothing is known of incarnations.
	View func(ring.NodeID) PGNodeView
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
	// DefaultPGMaxMembers): a join that would add one more fails with
	// ErrPGFull. Every join costs O(members).
	MaxMembers int
	// MaxWatches bounds the watch streams open on this node (default
	// DefaultPGMaxWatches); one more fails with ErrOverload.
	MaxWatches int
}

// Defaults of PGConfig's caps.
const (
	DefaultPGMaxMembers = 1000
	DefaultPGMaxWatches = 1024
)

// PGFilter selects members in a read.
type PGFilter struct {
	// Kind: "" or "all", "local", "remote", "connected", "node".
	Kind string
	// Node names the owner for Kind "node".
	Node string
}

// PGMemberInfo is one member of a group as reads return it.
type PGMemberInfo struct {
	Node        string    `json:"node"`
	Incarnation uint64    `json:"incarnation"`
	ID          string    `json:"id"`
	Count       int       `json:"count"`
	Meta        string    `json:"meta,omitempty"`
	JoinedAt    time.Time `json:"joined_at"`
	Local       bool      `json:"local"`
	Connected   bool      `json:"connected"`
}

// PGJoinOpts are a join's parameters.
type PGJoinOpts struct {
	Count int           // instances to add (default 1)
	Meta  string        // the member's metadata (replaces the previous)
	TTL   time.Duration // lease: Heartbeat must renew it within TTL (0: none)
}

// PGStats are the process-group counters of a node.
type PGStats struct {
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

func (k pgKey) key() Key { return Key{Type: k.typ, Bucket: k.bucket, Key: k.group} }

type pgOwned struct {
	count  int
	meta   string
	joined time.Time
}

type pgLease struct {
	ttl     time.Duration
	expires time.Time
}

// PG is a node's process-group service. Methods are safe for concurrent
// use.
type PG struct {
	s    *Service
	cfg  PGConfig
	self string

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

// NewPG starts the process-group service of s: it creates and activates
// the pg bucket type if missing and serves MsgPGSet.
func NewPG(s *Service, cfg PGConfig) (*PG, error) {
	if cfg.Incarnation == 0 {
		return nil, errors.New("riakgo/kv: pg config: Incarnation must be > 0")
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
	cfg.ReadAllTimeout = min(cfg.ReadAllTimeout, s.cfg.Timeout)
	if cfg.MaxMembers <= 0 {
		cfg.MaxMembers = DefaultPGMaxMembers
	}
	if cfg.MaxWatches <= 0 {
		cfg.MaxWatches = DefaultPGMaxWatches
	}
	if s.TypeInfo(PGType).Status != TypeActive {
		if err := s.CreateType(PGType, map[string]json.RawMessage{"datatype": json.RawMessage(`"pg"`)}); err != nil {
			return nil, fmt.Errorf("riakgo/kv: creating the pg bucket type: %w", err)
		}
		if err := s.ActivateType(PGType); err != nil {
			return nil, fmt.Errorf("riakgo/kv: activating the pg bucket type: %w", err)
		}
	}
	p := &PG{s: s, cfg: cfg, self: string(s.cfg.Node),
		owned: map[pgKey]map[string]pgOwned{}, groups: map[string]map[pgKey]bool{},
		leases: map[string]*pgLease{}, dirty: map[pgKey]bool{}, coord: map[pgKey]ring.NodeID{}, pruning: map[pgKey]bool{}, watches: map[*pgWatch]bool{},
		sweep: s.cfg.Clock.Now().Add(cfg.SweepEvery)}
	s.RegisterUpdate(updateKindPG, p.decodeUpdate)
	if s.tr != nil {
		s.tr.Handle(wire.MsgPGSet, s.guarded(p.handleSet))
	}
	return p, nil
}

// Self returns this node's name and incarnation.
func (p *PG) Self() (string, uint64) { return p.self, p.cfg.Incarnation }

func (p *PG) view(node string) PGNodeView {
	if node == p.self {
		return PGNodeView{Incarnation: p.cfg.Incarnation, Up: true}
	}
	if p.cfg.View == nil {
		return PGNodeView{Up: true}
	}
	return p.cfg.View(ring.NodeID(node))
}

// dead reports whether cluster membership proves member m gone: its owner
// restarted with a newer incarnation or left the cluster.
func (p *PG) dead(node string, inc uint64) bool {
	v := p.view(node)
	return v.Removed || v.Incarnation > inc
}

// --- validation ---

func validPGName(what, s string) error {
	if s == "" || len(s) > MaxPGID {
		return fmt.Errorf("%w: the %s must be 1..%d bytes", ErrPGBadRequest, what, MaxPGID)
	}
	return nil
}

func (p *PG) checkKey(k Key) (Props, error) {
	if k.Type == "" {
		k.Type = PGType
	}
	if err := validateKey(k); err != nil {
		return Props{}, err
	}
	props, err := p.s.buckets.props(k.Type, k.Bucket)
	if err != nil {
		return Props{}, err
	}
	if props.Datatype != "pg" {
		return Props{}, fmt.Errorf("%w: bucket type %q holds %q", ErrPGNotPG, k.Type, props.Datatype)
	}
	if !props.AllowPatterns && strings.Contains(k.Key, "*") {
		return Props{}, fmt.Errorf("%w: group %q has a '*' but bucket type %q does not allow patterns", ErrPGBadRequest, k.Key, k.Type)
	}
	if props.AllowPatterns {
		if err := validPattern(k.Key); err != nil {
			return Props{}, err
		}
	}
	return props, nil
}

func pgk(k Key) pgKey {
	if k.Type == "" {
		k.Type = PGType
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

func (p *PG) lock(k pgKey) *sync.Mutex {
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
func (p *PG) Join(ctx context.Context, k Key, id string, o PGJoinOpts) (int, error) {
	if err := validPGName("member id", id); err != nil {
		return 0, err
	}
	if o.Count == 0 {
		o.Count = 1
	}
	switch {
	case o.Count < 0 || o.Count > MaxPGCount:
		return 0, fmt.Errorf("%w: count must be 1..%d", ErrPGBadRequest, MaxPGCount)
	case len(o.Meta) > MaxPGMeta:
		return 0, fmt.Errorf("%w: metadata over %d bytes", ErrPGBadRequest, MaxPGMeta)
	case o.TTL < 0 || (o.TTL > 0 && o.TTL < minPGTTL):
		return 0, fmt.Errorf("%w: ttl must be at least %s", ErrPGBadRequest, minPGTTL)
	}
	if _, err := p.checkKey(k); err != nil {
		return 0, err
	}
	gk := pgk(k)
	l := p.lock(gk)
	l.Lock()
	defer l.Unlock()
	p.joins.Add(1)
	now := p.s.cfg.Clock.Now()
	p.mu.Lock()
	want := maps.Clone(p.owned[gk])
	if want == nil {
		want = map[string]pgOwned{}
	}
	m, had := want[id]
	if !had {
		m.joined = now
	}
	if m.count+o.Count > MaxPGCount {
		p.mu.Unlock()
		return 0, fmt.Errorf("%w: the count would exceed %d", ErrPGBadRequest, MaxPGCount)
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
	p.notify(gk)
	return m.count, nil
}

// Leave removes count instances (0 or more than it has: all) of the member
// id from group k and returns the count left.
func (p *PG) Leave(ctx context.Context, k Key, id string, count int) (int, error) {
	if err := validPGName("member id", id); err != nil {
		return 0, err
	}
	if count < 0 {
		return 0, fmt.Errorf("%w: count must not be negative", ErrPGBadRequest)
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

func (p *PG) leaveLocked(ctx context.Context, gk pgKey, id string, count int) (int, error) {
	p.leaves.Add(1)
	p.mu.Lock()
	want := maps.Clone(p.owned[gk])
	m, ok := want[id]
	if !ok {
		p.mu.Unlock()
		return 0, fmt.Errorf("%w: %q is not in group %q of %q on this node", ErrPGNotMember, id, gk.group, gk.bucket)
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
	p.notify(gk)
	return m.count, nil
}

// LeaveAll removes the member id from every group it is in on this node
// and drops its lease; it returns the groups it left.
func (p *PG) LeaveAll(ctx context.Context, id string) ([]Key, error) {
	if err := validPGName("member id", id); err != nil {
		return nil, err
	}
	p.mu.Lock()
	gks := slices.Collect(maps.Keys(p.groups[id]))
	delete(p.leases, id)
	p.mu.Unlock()
	if len(gks) == 0 {
		return nil, fmt.Errorf("%w: %q is in no group on this node", ErrPGNotMember, id)
	}
	slices.SortFunc(gks, comparePGKey)
	var out []Key
	var errs []error
	for _, gk := range gks {
		l := p.lock(gk)
		l.Lock()
		_, err := p.leaveLocked(ctx, gk, id, 0)
		l.Unlock()
		if err != nil && !errors.Is(err, ErrPGNotMember) {
			errs = append(errs, err)
			continue
		}
		out = append(out, gk.key())
	}
	return out, errors.Join(errs...)
}

func comparePGKey(a, b pgKey) int {
	if c := strings.Compare(a.typ, b.typ); c != 0 {
		return c
	}
	if c := strings.Compare(a.bucket, b.bucket); c != 0 {
		return c
	}
	return strings.Compare(a.group, b.group)
}

// Heartbeat renews the lease of member id for its TTL.
func (p *PG) Heartbeat(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.leases[id]
	if l == nil {
		return fmt.Errorf("%w: %q has no lease on this node", ErrPGNotMember, id)
	}
	l.expires = p.s.cfg.Clock.Now().Add(l.ttl)
	return nil
}

// GroupsOf returns the groups member id is in on this node, with counts.
func (p *PG) GroupsOf(id string) map[Key]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[Key]int{}
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
func (p *PG) sync(ctx context.Context, gk pgKey, want map[string]pgOwned, base []byte, keep bool) error {
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
func (p *PG) request(gk pgKey, want map[string]pgOwned) pgSetReq {
	req := pgSetReq{Type: gk.typ, Bucket: gk.bucket, Key: gk.group, Node: p.self, Inc: p.cfg.Incarnation}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		m := want[id]
		req.Members = append(req.Members, pgSetMember{ID: id, Count: m.count, Meta: encodePGMeta(m.joined, m.meta)})
	}
	return req
}

// agrees reports whether the stored state v holds exactly req's members of
// req's owner incarnation.
func (p *PG) agrees(v *dt.PG, req *pgSetReq) bool {
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
func (p *PG) coordinator(k Key, props Props) ring.NodeID {
	targets, _ := p.s.prefList(k, props.NVal)
	for _, t := range targets {
		if t.Primary {
			return t.Node
		}
	}
	return p.s.cfg.Node
}

func (p *PG) send(ctx context.Context, k Key, node ring.NodeID, req *pgSetReq) (*dt.PG, error) {
	if node == p.s.cfg.Node || p.s.tr == nil {
		return p.apply(ctx, k, req)
	}
	ctx, cancel := context.WithTimeout(ctx, p.s.timeout(Options{}))
	defer cancel()
	var resp pgSetResp
	if err := p.s.tr.Call(ctx, node, wire.MsgPGSet, req, &resp); err != nil {
		var re *transport.RemoteError
		if errors.As(err, &re) {
			return nil, pgFromRemote(node, re)
		}
		return nil, fmt.Errorf("%w: pg sync on %s: %v", ErrUnavailable, node, err)
	}
	return decodePGValue(resp.Value)
}

func pgRemoteError(err error) error { return toRemote(err) }

func pgFromRemote(node ring.NodeID, re *transport.RemoteError) error {
	if err := fromRemote(re); err != error(re) {
		return err
	}
	return fmt.Errorf("%w: pg sync on %s: %s", ErrUnavailable, node, re.Message)
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
		return nil, fmt.Errorf("%w: pg value of kind %s", ErrNotDatatype, v.Kind())
	}
	return g, nil
}

func (p *PG) handleSet(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	var req pgSetReq
	if err := body.Decode(&req); err != nil {
		return nil, err
	}
	v, err := p.apply(ctx, Key{Type: req.Type, Bucket: req.Bucket, Key: req.Key}, &req)
	if err != nil {
		return nil, pgRemoteError(err)
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
func (p *PG) apply(ctx context.Context, k Key, req *pgSetReq) (*dt.PG, error) {
	props, err := p.checkKey(k)
	if err != nil {
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
	u := &Update{Kind: updateKindPG, Body: body, local: mutate}
	obj, err := p.s.write(k, props, nil, siblings.Meta{}, nil, u, Options{ReturnBody: true})
	if err != nil {
		return nil, err
	}
	p.prunes.Add(int64(pruned))
	v, err := mergeCRDT(dt.KindPG, obj)
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
func (p *PG) syncMutation(ctx context.Context, req *pgSetReq, pruned *int) Mutation {
	return func(local *siblings.Object, actor vclock.Actor) (siblings.Sibling, error) {
		if err := ctx.Err(); err != nil {
			return siblings.Sibling{}, fmt.Errorf("%w: pg sync abandoned by its caller: %v", ErrUnavailable, err)
		}
		cur, err := mergeCRDT(dt.KindPG, local)
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
					return siblings.Sibling{}, fmt.Errorf("%w: %d members, at most %d", ErrPGFull, g.Len(), p.cfg.MaxMembers)
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
		return siblings.Sibling{Value: b, Meta: siblings.Meta{ContentType: DatatypeContentType(dt.KindPG)}}, nil
	}
}

// decodeUpdate is the UpdateDecoder of syncs coordinated on another node
// than the one that received them (its ring moved meanwhile).
func (p *PG) decodeUpdate(b []byte) (Mutation, error) {
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
func (p *PG) checkSync(req *pgSetReq) error {
	if req.Node != "" {
		if req.Inc == 0 || validPGName("node", req.Node) != nil {
			return fmt.Errorf("%w: pg sync without an owner incarnation", ErrPGBadRequest)
		}
		if p.dead(req.Node, req.Inc) {
			return fmt.Errorf("%w: %s incarnation %d", ErrPGStale, req.Node, req.Inc)
		}
	}
	return nil
}

// newMembers counts the members req adds that g does not hold.
func (p *PG) newMembers(g *dt.PG, req *pgSetReq) int {
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
func (p *PG) pruneDead(g *dt.PG) int {
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
func (p *PG) prune(k Key) {
	gk := pgk(k)
	p.mu.Lock()
	if p.pruning[gk] {
		p.mu.Unlock()
		return
	}
	p.pruning[gk] = true
	p.mu.Unlock()
	if !p.s.startBackground() {
		p.mu.Lock()
		delete(p.pruning, gk)
		p.mu.Unlock()
		return
	}
	go func() {
		defer p.s.doneBackground()
		defer func() {
			p.mu.Lock()
			delete(p.pruning, gk)
			p.mu.Unlock()
		}()
		props, err := p.checkKey(k)
		if err == nil {
			ctx, cancel := context.WithTimeout(p.s.base, p.s.timeout(Options{}))
			_, err = p.send(ctx, k, p.coordinator(k, props), &pgSetReq{Type: k.Type, Bucket: k.Bucket, Key: k.Key})
			cancel()
		}
		if err != nil {
			p.s.log.Debug("pg prune", "key", k.String(), "err", err)
		}
	}()
}

// --- reads ---

// fetch reads group k from every replica in its preference list (R = all:
// a membership read merges every copy, as riak_pg's members FSM does),
// falling back to the bucket's R when not all of them answer within
// ReadAllTimeout (a node that failure detection has not yet seen down).
func (p *PG) fetch(ctx context.Context, k Key) (*dt.PG, error) {
	v, err := p.s.FetchDatatype(ctx, k, dt.KindPG, Options{R: quorum.ValAll, Timeout: p.cfg.ReadAllTimeout})
	var qe *quorum.Error
	if errors.As(err, &qe) && !qe.ClientError() {
		v, err = p.s.FetchDatatype(ctx, k, dt.KindPG, Options{})
	}
	if errors.Is(err, ErrNotFound) {
		return &dt.PG{}, nil
	}
	if err != nil {
		return nil, err
	}
	g, ok := v.(*dt.PG)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotDatatype, v.Kind())
	}
	return g, nil
}

// live converts g's members into infos, leaving out (and scheduling the
// prune of) the members of dead owners.
func (p *PG) live(k Key, g *dt.PG) []PGMemberInfo {
	var out []PGMemberInfo
	dead := false
	for _, e := range g.Members() {
		if p.dead(e.Node, e.Incarnation) {
			dead = true
			continue
		}
		joined, meta := decodePGMeta(e.Meta)
		v := p.view(e.Node)
		out = append(out, PGMemberInfo{Node: e.Node, Incarnation: e.Incarnation, ID: e.ID, Count: e.Count,
			Meta: meta, JoinedAt: joined, Local: e.Node == p.self, Connected: v.Up})
	}
	if dead {
		p.prune(k)
	}
	return out
}

func (f PGFilter) keep(m PGMemberInfo) bool {
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

func (f PGFilter) validate() error {
	switch f.Kind {
	case "", "all", "local", "remote", "connected":
		return nil
	case "node":
		if f.Node == "" {
			return fmt.Errorf("%w: filter node needs a node name", ErrPGBadRequest)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown filter %q (all, local, remote, connected, node)", ErrPGBadRequest, f.Kind)
}

// Members returns the members of group k that f selects, sorted by owner
// node, incarnation and id. With patterns enabled, the members of every
// pattern group matching k's name are included (see Patterns).
func (p *PG) Members(ctx context.Context, k Key, f PGFilter) ([]PGMemberInfo, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	props, err := p.checkKey(k)
	if err != nil {
		return nil, err
	}
	if k.Type == "" {
		k.Type = PGType
	}
	keys := []Key{k}
	if props.AllowPatterns && !strings.Contains(k.Key, "*") {
		pats, err := p.patternsMatching(ctx, k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, pats...)
	}
	var out []PGMemberInfo
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
func (p *PG) Pick(ctx context.Context, k Key, strategy, key string) (PGMemberInfo, error) {
	switch strategy {
	case "":
		strategy = PickRandom
	case PickRandom, PickClosest, PickFurthest, PickOldest, PickNewest:
	case PickHash:
		if key == "" {
			return PGMemberInfo{}, fmt.Errorf("%w: pick by hash needs a key", ErrPGBadRequest)
		}
	default:
		return PGMemberInfo{}, fmt.Errorf("%w: unknown pick strategy %q (random, closest, furthest, oldest, newest, hash)", ErrPGBadRequest, strategy)
	}
	ms, err := p.Members(ctx, k, PGFilter{Kind: "connected"})
	if err != nil {
		return PGMemberInfo{}, err
	}
	if len(ms) == 0 {
		return PGMemberInfo{}, fmt.Errorf("%w in group %q of %q", ErrPGNoMember, k.Key, k.Bucket)
	}
	return p.pickFrom(ms, strategy, key), nil
}

func (p *PG) pickFrom(ms []PGMemberInfo, strategy, key string) PGMemberInfo {
	split := func(local bool) []PGMemberInfo {
		var out []PGMemberInfo
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
		var best PGMemberInfo
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
func (p *PG) weighted(ms []PGMemberInfo) PGMemberInfo {
	total := 0
	for _, m := range ms {
		total += m.Count
	}
	r := int(p.s.cfg.Rand() % uint64(max(total, 1)))
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
func (p *PG) Groups(ctx context.Context, typ, bucket string) ([]string, error) {
	return p.groupsWith(ctx, typ, bucket, nil)
}

// pollCache holds what one poll of the watches read, so that every watch
// of a scope or group shares one listing and one read of each group
// however many watches there are (issue 12: each idle watch re-listed its
// scope every second).
type pollCache struct {
	groups map[[2]string][]string
	vals   map[Key]*dt.PG
}

func (p *PG) fetchWith(ctx context.Context, k Key, pc *pollCache) (*dt.PG, error) {
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

func (p *PG) groupsWith(ctx context.Context, typ, bucket string, pc *pollCache) ([]string, error) {
	if typ == "" {
		typ = PGType
	}
	if pc != nil {
		if gs, ok := pc.groups[[2]string{typ, bucket}]; ok {
			return slices.Clone(gs), nil
		}
	}
	if _, err := p.checkKey(Key{Type: typ, Bucket: bucket, Key: "x"}); err != nil {
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
		k := Key{Type: typ, Bucket: bucket, Key: g}
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
func (p *PG) Tick(ctx context.Context) {
	now := p.s.cfg.Clock.Now()
	p.mu.Lock()
	var lapsed []string
	for id, l := range p.leases {
		if !now.Before(l.expires) {
			lapsed = append(lapsed, id)
		}
	}
	if len(p.sweepQ) == 0 && !now.Before(p.sweep) {
		p.sweep = now.Add(p.cfg.SweepEvery)
		p.sweepQ = slices.SortedFunc(maps.Keys(p.owned), comparePGKey)
	}
	batch := p.sweepQ[:min(len(p.sweepQ), p.cfg.SweepBatch)]
	p.sweepQ = p.sweepQ[len(batch):]
	p.mu.Unlock()
	slices.Sort(lapsed)
	for _, id := range lapsed {
		p.lapses.Add(1)
		if _, err := p.LeaveAll(ctx, id); err != nil && !errors.Is(err, ErrPGNotMember) {
			p.s.log.Warn("pg: leaving a member whose lease lapsed", "id", id, "err", err)
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
func (p *PG) check(ctx context.Context, gk pgKey) {
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
func (p *PG) repairDirty(ctx context.Context) {
	p.mu.Lock()
	gks := slices.SortedFunc(maps.Keys(p.dirty), comparePGKey)
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
				p.s.log.Debug("pg: repairing a group", "key", gk.key().String(), "err", err)
			}
		}
		l.Unlock()
	}
}

// Stats returns the node's process-group counters.
func (p *PG) Stats() PGStats {
	p.mu.Lock()
	st := PGStats{Groups: len(p.owned), Members: len(p.groups), Leases: len(p.leases)}
	p.mu.Unlock()
	st.Joins, st.Leaves, st.LeaseLapses = p.joins.Load(), p.leaves.Load(), p.lapses.Load()
	st.Prunes, st.Syncs, st.Repairs = p.prunes.Load(), p.syncs.Load(), p.repairs.Load()
	st.WatchStreams = p.watchStreams.Load()
	return st
}
