package metadata

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/ring"
)

// Errors.
var (
	// ErrUnconfirmed: a change is stored on this node (and will spread by
	// anti-entropy) but some members that are up did not confirm it in
	// time; see *UnconfirmedError.
	ErrUnconfirmed = errors.New("riakgo/metadata: change not confirmed by every member")
	// ErrOtherCluster: a message from a node of another cluster.
	ErrOtherCluster = errors.New("riakgo/metadata: message from another cluster")
	// ErrBadKey: an empty prefix, or one holding a zero byte.
	ErrBadKey = errors.New("riakgo/metadata: invalid key")
)

// UnconfirmedError lists the members that did not confirm a change.
type UnconfirmedError struct {
	Missing []ring.NodeID
	Err     error // the first failure
}

func (e *UnconfirmedError) Error() string {
	names := make([]string, len(e.Missing))
	for i, n := range e.Missing {
		names[i] = string(n)
	}
	return fmt.Sprintf("%v: the change is stored, but %s did not confirm it (%v); it spreads to them when they are reachable",
		ErrUnconfirmed, strings.Join(names, ", "), e.Err)
}

func (e *UnconfirmedError) Unwrap() error { return ErrUnconfirmed }

// Config configures a Store.
type Config struct {
	// Self is this node's name (the writer of local changes).
	Self ring.NodeID
	// Engine persists the entries (node metadata keys under "cmd\x00").
	Engine storage.Engine
	// Clock stamps writes (Sibling.Time) and bounds pushes; default wall.
	Clock clock.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Transport reaches the other members; nil for a node on its own.
	Transport transport.Transport
	// Peers returns the members a change is pushed to and confirmed by:
	// the other members this node believes up. Nil: none.
	Peers func() []ring.NodeID
	// Members returns every other member of the cluster, up or not
	// (riak_core's all_members): Confirm counts those that are not among
	// Peers as lacking, so an entry is confirmed only once the whole
	// cluster holds it. Nil: Peers are the whole cluster.
	Members func() []ring.NodeID
	// Cluster returns the name of the node's cluster: messages from
	// another cluster are refused. Nil: every message is accepted.
	Cluster func() string
	// Timeout bounds how long Put waits for the peers' confirmations
	// (default 10 s).
	Timeout time.Duration
}

// Store is one node's replica of the cluster metadata. Its methods are
// safe for concurrent use.
type Store struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	entries map[string]Entry // by prefix "\x00" key
	digest  []byte           // cached Digest; nil when stale
	subs    []func(prefix, key string)
	mergers map[string]Merger // by prefix
}

const persistPrefix = "cmd\x00"

// New opens the store: it loads the persisted entries and, with a
// transport, serves the metadata messages.
func New(cfg Config) (*Store, error) {
	if cfg.Engine == nil || cfg.Self == "" {
		return nil, errors.New("riakgo/metadata: config: Engine and Self are required")
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	s := &Store{cfg: cfg, log: cfg.Logger, entries: map[string]Entry{}}
	err := cfg.Engine.ScanMeta([]byte(persistPrefix), func(k, v []byte) error {
		var e Entry
		if err := wire.DecodeBody(v, &e); err != nil {
			return fmt.Errorf("riakgo/metadata: stored entry %q: %w", k, err)
		}
		s.entries[string(k[len(persistPrefix):])] = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cfg.Transport != nil {
		s.register(cfg.Transport)
	}
	return s, nil
}

func mapKey(prefix, key string) (string, error) {
	if prefix == "" || strings.IndexByte(prefix, 0) >= 0 {
		return "", fmt.Errorf("%w: prefix %q", ErrBadKey, prefix)
	}
	return prefix + "\x00" + key, nil
}

func splitKey(k string) (prefix, key string) {
	prefix, key, _ = strings.Cut(k, "\x00")
	return prefix, key
}

// Get returns the resolved value of (prefix, key); ok is false if it is
// absent or deleted.
func (s *Store) Get(prefix, key string) (value []byte, ok bool) {
	k, err := mapKey(prefix, key)
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	e, m := s.entries[k], s.mergers[prefix]
	s.mu.Unlock()
	return e.ResolveWith(key, m)
}

// SetMerger makes m combine concurrent writes to the entries of prefix
// (see Merger); without one the latest write wins (Resolve). Every node
// must set the same merger for a prefix, before the store is shared.
func (s *Store) SetMerger(prefix string, m Merger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mergers == nil {
		s.mergers = map[string]Merger{}
	}
	s.mergers[prefix] = m
}

// Entry returns the state of (prefix, key) (the zero Entry if absent).
func (s *Store) Entry(prefix, key string) Entry {
	k, _ := mapKey(prefix, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries[k]
}

// KeyValue is one live entry's resolved value.
type KeyValue struct {
	Key   string
	Value []byte
}

// List returns the live entries of a prefix, sorted by key.
func (s *Store) List(prefix string) []KeyValue {
	type keyEntry struct {
		key string
		e   Entry
	}
	var found []keyEntry
	s.mu.Lock()
	m := s.mergers[prefix]
	for k, e := range s.entries {
		if p, key := splitKey(k); p == prefix {
			found = append(found, keyEntry{key, e})
		}
	}
	s.mu.Unlock()
	var out []KeyValue
	for _, f := range found { // outside the lock: a merger may call back into its owner
		if v, ok := f.e.ResolveWith(f.key, m); ok {
			out = append(out, KeyValue{Key: f.key, Value: v})
		}
	}
	slices.SortFunc(out, func(a, b KeyValue) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Subscribe registers fn, called after every change to an entry (made here
// or merged from another node), outside the store's lock. Register before
// the store is shared.
func (s *Store) Subscribe(fn func(prefix, key string)) {
	s.mu.Lock()
	s.subs = append(s.subs, fn)
	s.mu.Unlock()
}

func (s *Store) notify(keys []string) {
	s.mu.Lock()
	subs := slices.Clone(s.subs)
	s.mu.Unlock()
	for _, k := range keys {
		p, key := splitKey(k)
		for _, fn := range subs {
			fn(p, key)
		}
	}
}

// persistLocked writes the changed entries in one synced batch.
func (s *Store) persistLocked(changed map[string]Entry) error {
	var b storage.Batch
	for k, e := range changed {
		enc, err := wire.MarshalBody(&e)
		if err != nil {
			return err
		}
		b.SetMeta([]byte(persistPrefix+k), enc)
	}
	return s.cfg.Engine.Write(&b, storage.WriteOptions{Sync: true})
}

// Put stores value under (prefix, key) cluster-wide: it is written here,
// then pushed to every peer; Put returns once each has confirmed it, or an
// *UnconfirmedError naming those that did not before ctx (or the store's
// Timeout) ended. The change is kept either way and reaches the others by
// anti-entropy.
func (s *Store) Put(ctx context.Context, prefix, key string, value []byte) error {
	return s.write(ctx, prefix, key, value, false)
}

// Delete removes (prefix, key) cluster-wide, as Put stores.
func (s *Store) Delete(ctx context.Context, prefix, key string) error {
	return s.write(ctx, prefix, key, nil, true)
}

func (s *Store) write(ctx context.Context, prefix, key string, value []byte, deleted bool) error {
	k, err := mapKey(prefix, key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	next := s.entries[k].Write(s.cfg.Self, s.cfg.Clock.Now().UnixNano(), value, deleted)
	if err := s.persistLocked(map[string]Entry{k: next}); err != nil {
		s.mu.Unlock()
		return err
	}
	s.entries[k] = next
	s.digest = nil
	s.mu.Unlock()
	s.notify([]string{k})
	return s.push(ctx, []wireEntry{{Key: k, Entry: next}})
}

// wireEntry is an entry as it crosses the wire.
type wireEntry struct {
	Key   string `msgpack:"k"` // prefix "\x00" key
	Entry Entry  `msgpack:"e"`
}

type pushReq struct {
	Cluster string      `msgpack:"cl"`
	Entries []wireEntry `msgpack:"e"`
}

type syncReq struct {
	Cluster string      `msgpack:"cl"`
	Entries []wireEntry `msgpack:"e"`
}

type syncResp struct {
	Entries []wireEntry `msgpack:"e"`
}

type getReq struct {
	Cluster string `msgpack:"cl"`
	Key     string `msgpack:"k"`
}

type getResp struct {
	Entry Entry `msgpack:"e"`
}

func (s *Store) cluster() string {
	if s.cfg.Cluster == nil {
		return ""
	}
	return s.cfg.Cluster()
}

func (s *Store) peers() []ring.NodeID {
	if s.cfg.Transport == nil || s.cfg.Peers == nil {
		return nil
	}
	var out []ring.NodeID
	for _, p := range s.cfg.Peers() {
		if p != s.cfg.Self {
			out = append(out, p)
		}
	}
	return out
}

// push sends entries to every peer and waits for their confirmations.
func (s *Store) push(ctx context.Context, entries []wireEntry) error {
	peers := s.peers()
	if len(peers) == 0 {
		return nil
	}
	ctx, cancel := clock.WithTimeout(ctx, s.cfg.Clock, s.cfg.Timeout)
	defer cancel()
	req := pushReq{Cluster: s.cluster(), Entries: entries}
	errs := make([]error, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.cfg.Transport.Call(ctx, p, wire.MsgMetaPush, &req, nil)
		}()
	}
	wg.Wait()
	var ue UnconfirmedError
	for i, err := range errs {
		if err != nil {
			ue.Missing = append(ue.Missing, peers[i])
			if ue.Err == nil {
				ue.Err = err
			}
		}
	}
	if len(ue.Missing) > 0 {
		s.log.Warn("metadata change not confirmed by every member", "missing", ue.Missing, "err", ue.Err)
		return &ue
	}
	return nil
}

// merge merges entries from another node and reports the keys it changed.
func (s *Store) merge(entries []wireEntry) ([]string, error) {
	changed := map[string]Entry{}
	s.mu.Lock()
	for _, we := range entries {
		if _, err := mapKey(splitKey(we.Key)); err != nil {
			continue
		}
		in, ok := normalize(we.Entry)
		if !ok {
			s.log.Warn("ignoring a malformed metadata entry", "key", we.Key)
			continue
		}
		cur, ok := changed[we.Key]
		if !ok {
			cur = s.entries[we.Key]
		}
		if m := Merge(cur, in); !Equal(m, cur) {
			changed[we.Key] = m
		}
	}
	if len(changed) == 0 {
		s.mu.Unlock()
		return nil, nil
	}
	if err := s.persistLocked(changed); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	keys := make([]string, 0, len(changed))
	for k, e := range changed {
		s.entries[k] = e
		keys = append(keys, k)
	}
	s.digest = nil
	s.mu.Unlock()
	slices.Sort(keys)
	s.notify(keys)
	return keys, nil
}

// all returns every entry, sorted by key.
func (s *Store) all() []wireEntry {
	s.mu.Lock()
	out := make([]wireEntry, 0, len(s.entries))
	for k, e := range s.entries {
		out = append(out, wireEntry{Key: k, Entry: e})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b wireEntry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Digest returns a hash of every entry: two stores with equal digests hold
// the same state. Nodes gossip it and Sync when theirs differ.
func (s *Store) Digest() []byte {
	s.mu.Lock()
	d := s.digest
	s.mu.Unlock()
	if d != nil {
		return d
	}
	h := sha256.New()
	for _, we := range s.all() {
		enc, _ := wire.MarshalBody(&we.Entry)
		h.Write(binary.AppendUvarint(nil, uint64(len(we.Key))))
		h.Write([]byte(we.Key))
		h.Write(binary.AppendUvarint(nil, uint64(len(enc))))
		h.Write(enc)
	}
	d = h.Sum(nil)
	s.mu.Lock()
	s.digest = d
	s.mu.Unlock()
	return d
}

// Sync exchanges whole states with peer: each merges the other's. It is
// the anti-entropy step, run when digests differ and when a node joins or
// restarts.
func (s *Store) Sync(ctx context.Context, peer ring.NodeID) error {
	if s.cfg.Transport == nil {
		return nil
	}
	var resp syncResp
	if err := s.cfg.Transport.Call(ctx, peer, wire.MsgMetaSync, &syncReq{Cluster: s.cluster(), Entries: s.all()}, &resp); err != nil {
		return err
	}
	keys, err := s.merge(resp.Entries)
	if len(keys) > 0 {
		s.log.Info("metadata updated from a peer", "peer", peer, "entries", len(keys))
	}
	return err
}

// Confirm asks every peer for its state of (prefix, key) and splits the
// members into those that have seen every write this node has (have, this
// node first) and the others (lack: down, unreachable, or behind). A
// member that is not up is not asked: as riak_core assumes, it may not
// hold the entry.
func (s *Store) Confirm(ctx context.Context, prefix, key string) (have, lack []ring.NodeID, err error) {
	k, err := mapKey(prefix, key)
	if err != nil {
		return nil, nil, err
	}
	mine := s.Entry(prefix, key)
	have = []ring.NodeID{s.cfg.Self}
	peers := s.peers()
	ok := make([]bool, len(peers))
	ctx, cancel := clock.WithTimeout(ctx, s.cfg.Clock, s.cfg.Timeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp getResp
			if s.cfg.Transport.Call(ctx, p, wire.MsgMetaGet, &getReq{Cluster: s.cluster(), Key: k}, &resp) == nil {
				ok[i] = Descends(resp.Entry, mine)
			}
		}()
	}
	wg.Wait()
	asked := make(map[ring.NodeID]bool, len(peers))
	for i, p := range peers {
		asked[p] = true
		if ok[i] {
			have = append(have, p)
		} else {
			lack = append(lack, p)
		}
	}
	if s.cfg.Members != nil {
		for _, m := range s.cfg.Members() {
			if m != s.cfg.Self && !asked[m] {
				lack = append(lack, m)
			}
		}
	}
	slices.Sort(lack)
	return have, lack, nil
}

func (s *Store) checkCluster(c string) error {
	if mine := s.cluster(); s.cfg.Cluster != nil && c != mine {
		return fmt.Errorf("%w: %q (this node is in %q)", ErrOtherCluster, c, mine)
	}
	return nil
}

func (s *Store) register(t transport.Transport) {
	t.Handle(wire.MsgMetaPush, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req pushReq
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		if err := s.checkCluster(req.Cluster); err != nil {
			return nil, err
		}
		_, err := s.merge(req.Entries)
		return nil, err
	})
	t.Handle(wire.MsgMetaSync, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req syncReq
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		if err := s.checkCluster(req.Cluster); err != nil {
			return nil, err
		}
		keys, err := s.merge(req.Entries)
		if err != nil {
			return nil, err
		}
		if len(keys) > 0 {
			s.log.Info("metadata updated from a peer", "peer", from, "entries", len(keys))
		}
		return syncResp{Entries: s.all()}, nil
	})
	t.Handle(wire.MsgMetaGet, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req getReq
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		if err := s.checkCluster(req.Cluster); err != nil {
			return nil, err
		}
		s.mu.Lock()
		e := s.entries[req.Key]
		s.mu.Unlock()
		return getResp{Entry: e}, nil
	})
}
