package pg

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/ring"
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
		return kv.UserErrorf(ErrBadRequest, "the %s must be 1..%d bytes", what, MaxID)
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
		return kv.Props{}, kv.UserErrorf(ErrNotPG, "bucket type %q holds %q", k.Type, props.Datatype)
	}
	if !props.AllowPatterns && strings.Contains(k.Key, "*") {
		return kv.Props{}, kv.UserErrorf(ErrBadRequest, "group %q has a '*' but bucket type %q does not allow patterns", k.Key, k.Type)
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
