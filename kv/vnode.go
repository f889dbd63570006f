package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// Key names an object: bucket type, bucket and key.
type Key struct {
	Type   string
	Bucket string
	Key    string
}

// String formats the key as type/bucket/key.
func (k Key) String() string { return k.Type + "/" + k.Bucket + "/" + k.Key }

// MaxKeySize is the largest key (and bucket name) accepted, as in Riak.
const MaxKeySize = 65536

// appendStorageKey encodes k for the partition's key space: the type and
// bucket length-prefixed, then the key, so that a bucket's keys are one
// contiguous range.
func appendStorageKey(dst []byte, k Key) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(k.Type)))
	dst = append(dst, k.Type...)
	dst = binary.AppendUvarint(dst, uint64(len(k.Bucket)))
	dst = append(dst, k.Bucket...)
	return append(dst, k.Key...)
}

// DeleteMode is what a vnode does with a tombstone once every primary holds
// it: keep it for ever, remove it at once, or remove it after a delay if it
// is unchanged by then (Riak's default, 3000 ms).
type DeleteMode struct {
	Keep      bool
	Immediate bool
	Delay     time.Duration
}

// DefaultDeleteMode is Riak's default: reap after 3 s.
func DefaultDeleteMode() DeleteMode { return DeleteMode{Delay: 3 * time.Second} }

// ParseDeleteMode parses keep, immediate or a number of milliseconds.
func ParseDeleteMode(s string) (DeleteMode, error) {
	switch s {
	case "keep":
		return DeleteMode{Keep: true}, nil
	case "immediate":
		return DeleteMode{Immediate: true}, nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < 0 || strconv.FormatInt(ms, 10) != s {
		return DeleteMode{}, fmt.Errorf("riakgo/kv: delete_mode must be keep, immediate or milliseconds, got %q", s)
	}
	return DeleteMode{Delay: time.Duration(ms) * time.Millisecond}, nil
}

// String returns keep, immediate or the delay in milliseconds.
func (m DeleteMode) String() string {
	switch {
	case m.Keep:
		return "keep"
	case m.Immediate:
		return "immediate"
	}
	return fmt.Sprint(m.Delay.Milliseconds())
}

// epochLease is how many per-key epochs a vnode leases with one durable
// write of its counter.
const epochLease = 10000

// lockStripes is the number of key locks per vnode; puts to one key are
// serialised by its stripe, gets take no lock.
const lockStripes = 64

// Vnode is one partition's replica on this node: it reads and writes the
// partition's objects in storage and makes the dots of the writes it
// coordinates. All methods are safe for concurrent use.
type Vnode struct {
	part   storage.Partition
	eng    storage.Engine
	clk    clock.Clock
	log    *slog.Logger
	limits siblings.Limits
	rand   func() uint64
	seed   maphash.Seed
	locks  [lockStripes]sync.Mutex
	// gens counts writes per lock stripe; see objCache.
	gens  [lockStripes]atomic.Uint64
	cache *objCache // shared by the node's vnodes; nil disables caching

	mu      sync.Mutex // guards id, epoch, leased, timers, stopped
	id      uint64
	epoch   uint32
	leased  uint32
	timers  map[clock.Timer]struct{} // pending delayed reaps
	stopped bool
	// bootEpoch is the last epoch an earlier run of this vnode may have
	// used (with bootID its id then). An actor at or below it may have
	// issued dots that storage lost in a machine crash (a rolled-back
	// key), so the first write of such a key in this run takes a fresh
	// epoch.
	bootEpoch uint32
	bootID    uint64
	reaping   sync.WaitGroup // timer callbacks running

	// ho is the ownership-transfer state (nil: none); see handoff.go.
	ho atomic.Pointer[handoffState]
	// closed is set when the partition's data was dropped here.
	closed atomic.Bool
	// shut is set when the service closes: writes are refused, so that
	// the anti-entropy trees saved then match storage.
	shut atomic.Bool
	// held reports whether reaps of this partition wait (a transfer of
	// it is planned or was abandoned recently; see Vnodes.HoldReaps).
	held func() bool

	// aae are the anti-entropy trees; home gives a key's home partition.
	aae  vnodeTrees
	home func(Key) int
}

type vnodeConfig struct {
	eng    storage.Engine
	clk    clock.Clock
	log    *slog.Logger
	limits siblings.Limits
	rand   func() uint64
	cache  *objCache
	home   func(Key) int
	held   func(storage.Partition) bool
}

func vnodeMetaKey(p storage.Partition) []byte {
	return []byte{'v', 'n', 'o', 'd', 'e', 0, byte(p >> 8), byte(p)}
}

// openVnode loads (or creates) the vnode's identity and leases a block of
// epochs past any it may have used before.
func openVnode(p storage.Partition, cfg vnodeConfig) (*Vnode, error) {
	v := &Vnode{part: p, eng: cfg.eng, clk: cfg.clk, log: cfg.log, limits: cfg.limits, rand: cfg.rand, seed: maphash.MakeSeed(), cache: cfg.cache, home: cfg.home}
	if cfg.held != nil {
		v.held = func() bool { return cfg.held(p) }
	}
	raw, err := cfg.eng.GetMeta(vnodeMetaKey(p))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		v.id = v.newID()
	case err != nil:
		return nil, err
	case len(raw) != 12:
		return nil, fmt.Errorf("riakgo/kv: vnode %d: bad identity record", p)
	default:
		v.id = binary.BigEndian.Uint64(raw)
		v.leased = binary.BigEndian.Uint32(raw[8:])
		v.epoch = v.leased // never reuse an epoch that may have been handed out
		v.bootEpoch, v.bootID = v.leased, v.id
		if v.leased == math.MaxUint32 {
			v.id, v.epoch, v.leased = v.newID(), 0, 0
		}
	}
	if err := v.lease(); err != nil {
		return nil, err
	}
	if err := v.loadTrees(); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *Vnode) newID() uint64 {
	for {
		if id := v.rand(); id != 0 {
			return id
		}
	}
}

// lease persists leased = epoch + epochLease. Called with mu held (or
// before the vnode is shared).
func (v *Vnode) lease() error {
	next := uint64(v.epoch) + epochLease
	if next > math.MaxUint32 {
		next = math.MaxUint32
	}
	var rec [12]byte
	binary.BigEndian.PutUint64(rec[:], v.id)
	binary.BigEndian.PutUint32(rec[8:], uint32(next))
	var b storage.Batch
	b.SetMeta(vnodeMetaKey(v.part), rec[:])
	if err := v.eng.Write(&b, storage.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("riakgo/kv: vnode %d: lease epochs: %w", v.part, err)
	}
	v.leased = uint32(next)
	return nil
}

// newEpoch mints a fresh actor for a key.
func (v *Vnode) newEpoch() (vclock.Actor, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.epoch == math.MaxUint32 {
		v.id, v.epoch, v.leased = v.newID(), 0, 0
	}
	v.epoch++
	if v.epoch > v.leased {
		if err := v.lease(); err != nil {
			v.epoch--
			return vclock.Actor{}, err
		}
	}
	return vclock.Actor{ID: v.id, Epoch: v.epoch}, nil
}

// ID returns the vnode's current id.
func (v *Vnode) ID() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.id
}

// Partition returns the vnode's partition.
func (v *Vnode) Partition() storage.Partition { return v.part }

// actorFor picks the actor for a coordinated write (Riak's kv679 fix): the
// vnode's highest-epoch actor in the stored clock, unless the key is absent
// locally, the vnode never wrote it, or the client's context shows events of
// this vnode the local copy lacks (the vnode forgot the key); in those cases
// a new epoch, so that no dot is ever issued twice.
//
// A clock is input, and a client can doctor one (issue 12): an entry of
// this vnode's id with an epoch it never leased is not its own (it is
// ignored), and an actor whose counter is near the top takes a new epoch,
// so no counter ever wraps.
func (v *Vnode) actorFor(local *siblings.Object, ctx vclock.VClock) (vclock.Actor, error) {
	v.mu.Lock()
	id, issued := v.id, v.epoch
	v.mu.Unlock()
	var mine vclock.Entry
	found := false
	if local != nil {
		for _, e := range local.Clock {
			if e.Actor.ID == id && e.Actor.Epoch <= issued && (!found || e.Actor.Epoch > mine.Actor.Epoch) {
				mine, found = e, true
			}
		}
	}
	if !found || mine.Counter >= MaxClockCounter {
		return v.newEpoch()
	}
	v.mu.Lock()
	stale := mine.Actor.ID == v.bootID && mine.Actor.Epoch <= v.bootEpoch
	v.mu.Unlock()
	if stale {
		// The actor comes from an earlier run: the local copy may be
		// older than what that actor issued (a write lost in a machine
		// crash), so continuing its counter could reissue a dot.
		return v.newEpoch()
	}
	for _, e := range ctx {
		if e.Actor.ID != id {
			continue
		}
		if e.Actor.Epoch > mine.Actor.Epoch || (e.Actor == mine.Actor && e.Counter > mine.Counter) {
			return v.newEpoch()
		}
	}
	return mine.Actor, nil
}

// MaxClockCounter bounds the counters of a clock: no actor issues that
// many events for one key (one per write), so a larger counter was forged.
// The client faces refuse contexts above it (400), and a vnode whose actor
// reached it takes a new epoch rather than let the counter wrap.
const MaxClockCounter = 1 << 62

// stripe returns the index of k's lock stripe.
func (v *Vnode) stripe(k Key) int {
	var h maphash.Hash
	h.SetSeed(v.seed)
	h.WriteString(k.Bucket)
	h.WriteString(k.Key)
	return int(h.Sum64() % lockStripes)
}

// cached reads k through the object cache. Callers holding k's stripe lock
// get exactly what storage holds; others may race with a write, which the
// generation check keeps out of the cache.
func (v *Vnode) cached(k Key) (*siblings.Object, error) {
	if v.cache == nil {
		o, _, err := v.read(k)
		return o, err
	}
	kb := keyBufPool.Get().(*[]byte)
	defer keyBufPool.Put(kb)
	*kb = appendStorageKey((*kb)[:0], k)
	if o, ok := v.cache.get(v.part, *kb); ok {
		v.cache.counted(true)
		return o, nil
	}
	st := v.stripe(k)
	g := v.gens[st].Load()
	unchanged := func() bool { return v.gens[st].Load() == g }
	// The encoded tier's record of this replica: absent, or the sum of
	// its encoding, served by an equal replica's decoded entry or by the
	// tier's copy of the encoding.
	if known, present, sum, size, old := v.cache.encSlot(v.part, *kb); known {
		var o *siblings.Object
		ok := !present
		if present {
			if o, ok = v.cache.withSum(*kb, sum, size); !ok {
				o, ok = v.cache.encObject(*kb, sum, size)
			}
		}
		if ok {
			v.cache.promote(v.part, *kb, o, size, sum, old, unchanged)
			v.cache.counted(true)
			return o, nil
		}
	}
	// Another replica of k on this node may be cached with the same
	// encoding (one node holding several of a key's replicas): then only
	// this replica's stored sum is read, not its value. A cold key's read
	// of N local replicas reads one value from storage instead of N.
	if v.cache.others(v.part, *kb) || v.cache.encHas(*kb) {
		if sum, size, ok, err := v.eng.GetSum(v.part, *kb); err == nil && ok {
			o, ok := v.cache.withSum(*kb, sum, size)
			if !ok {
				o, ok = v.cache.encObject(*kb, sum, size)
			}
			if ok {
				v.cache.addIfUnchanged(v.part, *kb, o, size, sum, unchanged)
				v.cache.counted(true)
				return o, nil
			}
		}
	}
	v.cache.counted(false)
	o, raw, err := v.read(k)
	if err != nil {
		return nil, err
	}
	var sum uint64
	if o != nil {
		sum = objSum(raw)
		v.cache.setContent(*kb, raw, sum)
	}
	v.cache.addIfUnchanged(v.part, *kb, o, len(raw), sum, unchanged)
	return o, nil
}

// stored records, under k's stripe lock, that k now holds o (nil: absent;
// enc is its encoding), or that its state is unknown after a failed write
// (known=false).
func (v *Vnode) stored(k Key, st int, o *siblings.Object, enc []byte, known bool) {
	v.gens[st].Add(1)
	v.noteWrite(k)
	if v.cache == nil {
		return
	}
	kb := keyBufPool.Get().(*[]byte)
	*kb = appendStorageKey((*kb)[:0], k)
	switch {
	case !known:
		v.cache.drop(v.part, *kb)
	case o == nil:
		v.cache.set(v.part, *kb, nil, 0, 0)
	default:
		sum := objSum(enc)
		v.cache.setContent(*kb, enc, sum)
		v.cache.set(v.part, *kb, o, len(enc), sum)
	}
	keyBufPool.Put(kb)
}

var keyBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}
var valBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// read returns the stored object and its encoded bytes (nil if absent).
func (v *Vnode) read(k Key) (*siblings.Object, []byte, error) {
	kb := keyBufPool.Get().(*[]byte)
	*kb = appendStorageKey((*kb)[:0], k)
	raw, err := v.eng.Get(v.part, *kb)
	keyBufPool.Put(kb)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	o, err := wire.DecodeObject(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("riakgo/kv: vnode %d: key %s: %w", v.part, k, err)
	}
	return o, raw, nil
}

// Get returns the stored object for k, or nil if there is none. The
// object is shared: callers must not modify it.
func (v *Vnode) Get(k Key) (*siblings.Object, error) {
	return v.cached(k)
}

// write encodes o into *vb and stores it. When check is set the object
// limits apply (client writes); they never apply to replication or repair.
func (v *Vnode) write(k Key, old, o *siblings.Object, sync, check bool, vb *[]byte) error {
	*vb = wire.AppendObject((*vb)[:0], o)
	if check {
		warn, err := v.limits.Check(len(o.Siblings), len(*vb))
		if err != nil {
			return err
		}
		if warn != "" && v.log != nil {
			v.log.Warn(warn, "key", k.String(), "partition", v.part)
		}
	}
	kb := keyBufPool.Get().(*[]byte)
	*kb = appendStorageKey((*kb)[:0], k)
	var b storage.Batch
	b.Ops = make([]storage.Op, 0, 1)
	b.Set(v.part, *kb, *vb)
	addIndexChanges(&b, v.part, k, old, o)
	err := v.eng.Write(&b, storage.WriteOptions{Sync: sync})
	keyBufPool.Put(kb)
	return err
}

// CoordPut coordinates a client write: it reads the local copy, applies
// siblings.Update with this vnode's actor, resolves it if the bucket does
// not allow siblings, prunes the clock, checks the object limits and stores
// the result, which it returns (the frontier object to replicate).
func (v *Vnode) CoordPut(k Key, put siblings.Sibling, ctx vclock.VClock, props Props, sync bool) (*siblings.Object, error) {
	return v.coordinate(k, put, ctx, nil, props, sync)
}

// Mutation computes a data-type write at the coordinating vnode from the
// locally stored object (nil if absent) and the vnode's actor for the key:
// it returns the new value, which replaces every local sibling (the
// mutation has merged them). It runs under the key's lock and must not
// block.
type Mutation func(local *siblings.Object, actor vclock.Actor) (siblings.Sibling, error)

// CoordUpdate coordinates a data-type operation (Riak's "action at a
// distance"): the mutation runs on the local copy with this vnode's actor
// and the result is stored and returned for replication.
func (v *Vnode) CoordUpdate(k Key, m Mutation, meta siblings.Meta, props Props, sync bool) (*siblings.Object, error) {
	return v.coordinate(k, siblings.Sibling{Meta: meta}, nil, m, props, sync)
}

func (v *Vnode) coordinate(k Key, put siblings.Sibling, ctx vclock.VClock, m Mutation, props Props, sync bool) (*siblings.Object, error) {
	st := v.stripe(k)
	v.locks[st].Lock()
	defer v.locks[st].Unlock()
	to, fwd := v.forwarding()
	if fwd && (m == nil || v.closed.Load()) {
		return nil, &ForwardError{To: to}
	}
	if v.shut.Load() {
		return nil, ErrClosed
	}
	local, err := v.cached(k)
	if err != nil {
		return nil, err
	}
	if m != nil && local != nil {
		ctx = local.Clock
	}
	actor, err := v.actorFor(local, ctx)
	if err != nil {
		return nil, err
	}
	if m != nil {
		meta := put.Meta
		if put, err = m(local, actor); err != nil {
			return nil, err
		}
		put.Meta.VTag, put.Meta.LastModified = meta.VTag, meta.LastModified
	}
	now := v.clk.Now().Unix()
	o := siblings.Update(local, put, ctx, actor, now, siblings.UpdateOptions{DVV: props.DVVEnabled, LastWriteWins: props.LastWriteWins})
	if !props.keepsSiblings() {
		o = siblings.ChooseLatest(o)
	}
	if pruned := vclock.Prune(o.Clock, now, props.Prune()); len(pruned) != len(o.Clock) {
		o = &siblings.Object{Clock: pruned, Siblings: o.Siblings}
	}
	if err := v.writeAndRecord(k, st, local, o, sync, true); err != nil {
		return nil, err
	}
	if fwd {
		// A data-type update on a forwarding vnode: applied here, where
		// its mutation can run; the result must reach the new owner.
		return o, &ForwardError{To: to, Obj: o}
	}
	return o, nil
}

// writeAndRecord stores o and records the result in the object cache.
func (v *Vnode) writeAndRecord(k Key, st int, old, o *siblings.Object, sync, check bool) error {
	vb := valBufPool.Get().(*[]byte)
	defer func() {
		if cap(*vb) <= 1<<20 {
			valBufPool.Put(vb)
		}
	}()
	err := v.write(k, old, o, sync, check, vb)
	switch {
	case err == nil:
		v.stored(k, st, o, *vb, true)
		v.aaeUpdate(k, old, o)
	case errors.Is(err, siblings.ErrLimit):
		// refused before anything was written: the stored object stands
	default:
		v.stored(k, st, nil, nil, false)
		v.aaeInvalidate()
	}
	return err
}

// Put merges an object received by replication or read repair into the
// local copy and stores the result, which it returns. Object limits do not
// apply. Under last_write_wins the incoming object replaces the local one.
func (v *Vnode) Put(k Key, in *siblings.Object, props Props, sync bool) (*siblings.Object, error) {
	return v.merge(k, in, props, sync)
}

// mergeReplica is the object a replica stores when in arrives over its
// local copy (nil if none): the syntactic merge, resolved if the bucket
// keeps no siblings; under last_write_wins the newer of the two.
func mergeReplica(local, in *siblings.Object, props Props) *siblings.Object {
	if !props.LastWriteWins {
		o := siblings.Merge(local, in)
		if !props.keepsSiblings() {
			o = siblings.ChooseLatest(o)
		}
		return o
	}
	if local != nil && local.LastModified() > in.LastModified() {
		return local // a late, older copy never overwrites a newer write
	}
	return in
}

// merge is Put; a forwarding vnode refuses with a *ForwardError.
func (v *Vnode) merge(k Key, in *siblings.Object, props Props, sync bool) (*siblings.Object, error) {
	st := v.stripe(k)
	v.locks[st].Lock()
	defer v.locks[st].Unlock()
	if to, fwd := v.forwarding(); fwd {
		return nil, &ForwardError{To: to}
	}
	if v.shut.Load() {
		return nil, ErrClosed
	}
	local, err := v.cached(k)
	if err != nil {
		return nil, err
	}
	o := mergeReplica(local, in, props)
	if local != nil && siblings.Equal(o, local) {
		if sync {
			// Nothing to write, but the caller was promised that the
			// object is on stable storage: sync what is there.
			if err := v.eng.Write(&storage.Batch{}, storage.WriteOptions{Sync: true}); err != nil {
				return nil, err
			}
		}
		return local, nil
	}
	if err := v.writeAndRecord(k, st, local, o, sync, false); err != nil {
		return nil, err
	}
	return o, nil
}

// Reap removes k's tombstone according to mode, if the stored object is a
// tombstone. With a delay it removes it only if it is still the same
// tombstone when the delay has passed.
func (v *Vnode) Reap(k Key, mode DeleteMode) {
	if mode.Keep || v.reapsHeld() {
		return // a tombstone must travel with an ownership transfer
	}
	if mode.Immediate || mode.Delay <= 0 {
		v.reapIf(k, nil)
		return
	}
	_, raw, err := v.read(k)
	if err != nil || raw == nil {
		return
	}
	snap := bytes.Clone(raw)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return
	}
	if v.timers == nil {
		v.timers = map[clock.Timer]struct{}{}
	}
	var t clock.Timer
	t = v.clk.AfterFunc(mode.Delay, func() {
		v.mu.Lock()
		_, pending := v.timers[t]
		delete(v.timers, t)
		if pending {
			v.reaping.Add(1) // under mu: stopTimers waits for it
		}
		v.mu.Unlock()
		if pending {
			defer v.reaping.Done()
			v.reapIf(k, snap)
		}
	})
	v.timers[t] = struct{}{}
}

// reapsHeld reports whether tombstones must be kept: the vnode hands off,
// or a transfer of its partition is planned or was abandoned recently.
func (v *Vnode) reapsHeld() bool {
	return v.handingOff() || (v.held != nil && v.held())
}

// stopTimers cancels pending reaps; the vnode schedules no more.
func (v *Vnode) stopTimers() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stopped = true
	for t := range v.timers {
		t.Stop()
	}
	v.timers = nil
	v.mu.Unlock()
	v.reaping.Wait() // reaps already running finish before we return
	v.mu.Lock()
}

// reapIf deletes k if it is a tombstone and, when want is set, if its
// stored bytes are still want.
func (v *Vnode) reapIf(k Key, want []byte) {
	st := v.stripe(k)
	v.locks[st].Lock()
	defer v.locks[st].Unlock()
	if v.reapsHeld() || v.closed.Load() || v.shut.Load() {
		return
	}
	o, raw, err := v.read(k)
	if err != nil || o == nil || !o.IsTombstone() {
		return
	}
	if want != nil && !bytes.Equal(raw, want) {
		return
	}
	if err := v.deleteLocked(k, st, o); err != nil && v.log != nil {
		v.log.Warn("reap tombstone", "key", k.String(), "err", err)
	}
}

// deleteLocked removes k (stored as o) and its index entries, and records
// it in the object cache and the anti-entropy tree; k's stripe lock st is
// held.
func (v *Vnode) deleteLocked(k Key, st int, o *siblings.Object) error {
	var b storage.Batch
	b.Delete(v.part, appendStorageKey(nil, k))
	addIndexChanges(&b, v.part, k, o, nil)
	if err := v.eng.Write(&b, storage.WriteOptions{}); err != nil {
		v.stored(k, st, nil, nil, false)
		v.aaeInvalidate()
		return err
	}
	v.stored(k, st, nil, nil, true)
	v.aaeUpdate(k, o, nil)
	return nil
}
