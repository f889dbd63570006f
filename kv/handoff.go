package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/riakgo/riakgo/internal/transfer"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
)

// The vnode side of handoff (package handoff runs the transfers and
// calls these methods through its interfaces; Vnodes implements them).
//
// Hinted: a fallback vnode's objects are sent to the owner; after each
// acknowledged batch the fallback deletes every key whose stored bytes are
// still those it sent. What changed meanwhile goes with a later round.
//
// Ownership: before the fold the vnode starts recording every key written
// (tracking), so that nothing written after the fold's snapshot is missed.
// When the fold has been sent the vnode switches to forwarding, under every
// key lock: from then on requests for the partition go to the new owner
// (a data-type update still runs here, where its mutation can run, and its
// result is forwarded as a replica write before the client is answered),
// and the keys recorded so far are sent. Tombstones are not reaped while a
// vnode is tracking or forwarding, so a delete always travels as a
// tombstone and a deleted key cannot come back. When the ring has flipped
// the node drops the partition; requests that still arrive with an old ring
// are forwarded for a while after (Vnodes.Forward).

// Vnodes plays the handoff and anti-entropy roles for this node's
// partitions: it is what package handoff's Manager (Vnodes,
// RepairVnodes), Driver (DriverVnodes) and Exchanger (AAEVnodes) are
// given. kv imports no handoff: the method sets match those interfaces
// (the node wiring asserts it), in the terms of internal/transfer. Its
// methods are safe for concurrent use.
type Vnodes struct{ s *Service }

// Vnodes returns the service's vnodes in their handoff and anti-entropy
// roles.
func (s *Service) Vnodes() Vnodes { return Vnodes{s} }

// Ring returns the service's current ring.
func (vn Vnodes) Ring() *ring.Ring { return vn.s.Ring() }

// Empty reports whether this node stores nothing of partition p.
func (vn Vnodes) Empty(p int) (bool, error) { return vn.s.PartitionEmpty(p) }

// Held returns the partitions with a vnode open on this node.
func (vn Vnodes) Held() []int { return vn.s.Partitions() }

// handoffState is a vnode's ownership-transfer state.
type handoffState struct {
	to      ring.NodeID
	forward atomic.Bool
	mu      sync.Mutex
	dirty   map[string]struct{} // storage keys written since tracking began
}

// ForwardError: the vnode forwards requests to To. Obj, when set, is the
// result of a data-type update the vnode applied itself; it must reach To
// before the write counts.
type ForwardError struct {
	To  ring.NodeID
	Obj *siblings.Object
}

func (e *ForwardError) Error() string {
	return fmt.Sprintf("riakgo/kv: the partition has moved to %s", e.To)
}

// forwarding returns the node requests are forwarded to, if any.
func (v *Vnode) forwarding() (ring.NodeID, bool) {
	if h := v.ho.Load(); h != nil && h.forward.Load() {
		return h.to, true
	}
	return "", false
}

// handingOff reports whether an ownership transfer is tracking or
// forwarding (reaps wait).
func (v *Vnode) handingOff() bool { return v.ho.Load() != nil }

// noteWrite records k as written if the vnode is tracking (k's stripe lock
// held).
func (v *Vnode) noteWrite(k Key) {
	h := v.ho.Load()
	if h == nil {
		return
	}
	sk := string(appendStorageKey(nil, k))
	h.mu.Lock()
	h.dirty[sk] = struct{}{}
	h.mu.Unlock()
}

// lockAll takes every key lock (switching to forwarding, dropping).
func (v *Vnode) lockAll() {
	for i := range v.locks {
		v.locks[i].Lock()
	}
}

func (v *Vnode) unlockAll() {
	for i := range v.locks {
		v.locks[i].Unlock()
	}
}

// Fold calls fn for each object of partition p stored here whose
// storage key sorts after after (all if nil), in key order, on a snapshot.
func (vn Vnodes) Fold(ctx context.Context, p int, after []byte, fn func(key, value []byte) error) error {
	s := vn.s
	if p < 0 || p >= len(s.vnodes) {
		return fmt.Errorf("riakgo/kv: no partition %d", p)
	}
	var lo []byte
	if after != nil {
		lo = append(bytes.Clone(after), 0)
	}
	it, err := s.cfg.Engine.NewIterator(storage.SpaceData, storage.Partition(p), lo, nil)
	if err != nil {
		return err
	}
	defer it.Close()
	n := 0
	for it.Next() {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	return it.Err()
}

// FoldRepair is Fold over partition source restricted to the
// objects partition target should hold: those whose preference list (by
// their bucket's n_val) includes target. A partition under repair gets
// its keys from the partitions before and after it, as riak_core's
// repair does.
func (vn Vnodes) FoldRepair(ctx context.Context, source, target int, after []byte, fn func(key, value []byte) error) error {
	s := vn.s
	size := len(s.vnodes)
	if target < 0 || target >= size {
		return fmt.Errorf("riakgo/kv: no partition %d", target)
	}
	return vn.Fold(ctx, source, after, func(key, value []byte) error {
		k, ok := parseStorageKey(key)
		if !ok {
			return nil
		}
		n := DefaultProps().NVal
		if props, err := s.buckets.props(k.Type, k.Bucket); err == nil {
			n = props.NVal
		}
		if (target-s.homeOf(k)+size)%size >= n {
			return nil
		}
		return fn(key, value)
	})
}

// Estimate estimates the bytes partition p holds here.
func (vn Vnodes) Estimate(p int) int64 {
	s := vn.s
	n, err := s.cfg.Engine.Estimate(storage.Partition(p))
	if err != nil {
		return 0
	}
	return n
}

// Receive merges objects handed to this node into its copy of
// partition p, as replica writes (no object limits), in one storage batch
// synced to stable storage before it returns. The vnode's key locks are
// held for the batch (a receiving vnode serves little else).
func (vn Vnodes) Receive(p int, items []transfer.Item) error {
	s := vn.s
	if !s.startBackground() {
		return ErrClosed
	}
	defer s.doneBackground()
	v, err := s.localVnode(p)
	if err != nil {
		return err
	}
	type rec struct {
		k      Key
		raw    []byte
		in     *siblings.Object
		props  Props
		old, o *siblings.Object
		enc    []byte // o's encoding
	}
	recs := make([]rec, len(items))
	for i, it := range items {
		k, ok := parseStorageKey(it.Key)
		if !ok {
			return fmt.Errorf("riakgo/kv: handoff of partition %d: malformed key %q", p, it.Key)
		}
		in, err := wire.DecodeObject(it.Value)
		if err != nil {
			return fmt.Errorf("riakgo/kv: handoff of partition %d: key %s: %w", p, k, err)
		}
		props, err := s.buckets.props(k.Type, k.Bucket)
		if err != nil {
			props = DefaultTypedProps() // a type this node does not know yet: keep siblings
		}
		recs[i] = rec{k: k, raw: it.Value, in: in, props: props}
	}
	v.lockAll()
	defer v.unlockAll()
	if to, fwd := v.forwarding(); fwd {
		return &ForwardError{To: to}
	}
	if v.shut.Load() {
		return ErrClosed
	}
	// A batch from a fold comes in key order: its local copies are read
	// with one iterator over its range instead of a point read per key
	// (most keys of an ownership transfer are absent here). The key locks
	// are all held, so storage is the truth.
	var present map[string][]byte
	if sortedItems(items) {
		present = map[string][]byte{}
		hi := append(bytes.Clone(items[len(items)-1].Key), 0)
		it, err := s.cfg.Engine.NewIterator(storage.SpaceData, v.part, items[0].Key, hi)
		if err != nil {
			return err
		}
		for it.Next() {
			present[string(it.Key())] = bytes.Clone(it.Value())
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return err
		}
	}
	var b storage.Batch
	latest := map[Key]*siblings.Object{} // a key twice in one batch
	var changed []int
	for i := range recs {
		r := &recs[i]
		local, seen := latest[r.k]
		switch {
		case seen:
		case present != nil:
			if raw, ok := present[string(items[i].Key)]; ok {
				if local, err = wire.DecodeObject(raw); err != nil {
					return fmt.Errorf("riakgo/kv: vnode %d: key %s: %w", v.part, r.k, err)
				}
			}
		default:
			if local, err = v.cached(r.k); err != nil {
				return err
			}
		}
		o := mergeReplica(local, r.in, r.props)
		latest[r.k] = o
		if local != nil && siblings.Equal(o, local) {
			continue
		}
		enc := r.raw // the sender's encoding, when the object is stored as it came
		if o != r.in {
			enc = wire.EncodeObject(o)
		}
		b.Set(v.part, appendStorageKey(nil, r.k), enc)
		addIndexChanges(&b, v.part, r.k, local, o)
		r.old, r.o, r.enc = local, o, enc
		changed = append(changed, i)
	}
	if err := v.eng.Write(&b, storage.WriteOptions{Sync: true}); err != nil {
		for _, i := range changed {
			v.stored(recs[i].k, v.stripe(recs[i].k), nil, nil, false)
		}
		v.aaeInvalidate()
		return err
	}
	for _, i := range changed {
		r := &recs[i]
		v.stored(r.k, v.stripe(r.k), r.o, r.enc, true)
		v.aaeUpdate(r.k, r.old, r.o)
	}
	return nil
}

// sortedItems reports whether items are in strictly increasing key order.
func sortedItems(items []transfer.Item) bool {
	if len(items) == 0 {
		return false
	}
	for i := 1; i < len(items); i++ {
		if bytes.Compare(items[i-1].Key, items[i].Key) >= 0 {
			return false
		}
	}
	return true
}

// Starting prepares partition p for an outbound transfer to node to:
// an ownership transfer starts tracking written keys (kept if it already
// is, so a resumed transfer misses nothing).
func (vn Vnodes) Starting(j transfer.Job) error {
	s, p, to := vn.s, j.Partition, j.To
	if j.Kind != transfer.Ownership {
		return nil
	}
	v, err := s.localVnode(p)
	if err != nil {
		return err
	}
	if h := v.ho.Load(); h != nil && h.to == to {
		return nil
	}
	v.lockAll()
	v.ho.Store(&handoffState{to: to, dirty: map[string]struct{}{}})
	v.unlockAll()
	return nil
}

// Sent is called after the receiver acknowledged items; for a
// hinted transfer the fallback drops each key still stored as sent.
func (vn Vnodes) Sent(j transfer.Job, items []transfer.Item) {
	s, p := vn.s, j.Partition
	if j.Kind != transfer.Hinted {
		return
	}
	v := s.Vnode(p)
	if v == nil {
		return
	}
	for _, it := range items {
		if k, ok := parseStorageKey(it.Key); ok {
			v.dropIfUnchanged(k, it.Value)
		}
	}
}

// Folded switches partition p (after its ownership transfer's fold)
// to forwarding and returns the objects written since tracking began.
func (vn Vnodes) Folded(j transfer.Job) ([]transfer.Item, error) {
	s, p := vn.s, j.Partition
	if j.Kind != transfer.Ownership {
		return nil, nil
	}
	v := s.Vnode(p)
	if v == nil {
		return nil, fmt.Errorf("riakgo/kv: partition %d has no vnode here", p)
	}
	h := v.ho.Load()
	if h == nil {
		return nil, fmt.Errorf("riakgo/kv: partition %d is not being transferred", p)
	}
	v.lockAll()
	h.forward.Store(true)
	v.unlockAll()
	h.mu.Lock()
	keys := make([]string, 0, len(h.dirty))
	for k := range h.dirty {
		keys = append(keys, k)
	}
	h.mu.Unlock()
	var out []transfer.Item
	for _, sk := range keys {
		raw, err := s.cfg.Engine.Get(storage.Partition(p), []byte(sk))
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, transfer.Item{Key: []byte(sk), Value: raw})
	}
	return out, nil
}

// Abort ends partition p's tracking or forwarding (its transfer is
// no longer planned); the vnode serves requests itself again.
func (vn Vnodes) Abort(p int) {
	s := vn.s
	if v := s.Vnode(p); v != nil && v.ho.Load() != nil {
		v.lockAll()
		v.ho.Store(nil)
		v.unlockAll()
	}
}

// Target reports the node partition p's vnode tracks writes for
// and whether it forwards to it already.
func (vn Vnodes) Target(p int) (to ring.NodeID, forwarding, ok bool) {
	s := vn.s
	v := s.Vnode(p)
	if v == nil {
		return "", false, false
	}
	h := v.ho.Load()
	if h == nil {
		return "", false, false
	}
	return h.to, h.forward.Load(), true
}

// Drop deletes this node's copy of partition p (after its
// ownership moved away) and closes its vnode. Requests that arrive for the
// partition until Forward(p, "") are forwarded to the vnode's
// forwarding target.
func (vn Vnodes) Drop(p int) error {
	s := vn.s
	v := s.Vnode(p)
	if v == nil {
		return nil
	}
	to, fwd := v.forwarding()
	if !fwd {
		return fmt.Errorf("riakgo/kv: partition %d is not forwarding; its data cannot be dropped", p)
	}
	s.fwd[p].Store(&to)
	// Pending reaps end first: a reap callback waits for a key lock, and
	// stopTimers waits for running callbacks.
	v.stopTimers()
	v.lockAll()
	defer v.unlockAll()
	if err := s.cfg.Engine.DropPartition(storage.Partition(p)); err != nil {
		return err
	}
	// A reader that read before the drop (it takes no key lock) must not
	// put what it read into the cache after dropPartition below.
	for i := range v.gens {
		v.gens[i].Add(1)
	}
	v.closed.Store(true)
	s.vnodes[p].CompareAndSwap(v, nil)
	if s.vcfg.cache != nil {
		s.vcfg.cache.dropPartition(v.part)
	}
	return nil
}

// HoldReaps sets whether partition p keeps its tombstones: while a
// transfer of p from or to this node is planned, and for a while after one
// was abandoned, a reaped tombstone could let an older copy on the other
// node come back.
func (vn Vnodes) HoldReaps(p int, hold bool) {
	s := vn.s
	if p >= 0 && p < len(s.hold) {
		s.hold[p].Store(hold)
	}
}

// Forward sets (or, with "", clears) where requests for partition
// p go while this node holds no vnode for it.
func (vn Vnodes) Forward(p int, to ring.NodeID) {
	s := vn.s
	if to == "" {
		s.fwd[p].Store(nil)
		return
	}
	s.fwd[p].Store(&to)
}

// Open opens partition p's vnode if it is not open: a node that
// finds data on disk for a partition it does not own (a fallback's, from
// before a restart) opens it so that hinted handoff can return the data.
// It fails with a *ForwardError while requests for p are forwarded after
// a drop.
func (vn Vnodes) Open(p int) error {
	s := vn.s
	_, err := s.localVnode(p)
	return err
}

// Partitions returns the partitions with a vnode open on this node.
func (s *Service) Partitions() []int {
	var out []int
	for p := range s.vnodes {
		if s.vnodes[p].Load() != nil {
			out = append(out, p)
		}
	}
	return out
}

// forwardTo returns where a request for local partition p must go instead
// ("" to serve it here).
func (s *Service) forwardTo(p int) ring.NodeID {
	if v := s.Vnode(p); v != nil {
		to, _ := v.forwarding()
		return to
	}
	if to := s.fwd[p].Load(); to != nil {
		return *to
	}
	return ""
}

// dropIfUnchanged deletes k (and its index entries) if its stored bytes
// are still raw.
func (v *Vnode) dropIfUnchanged(k Key, raw []byte) bool {
	st := v.stripe(k)
	v.locks[st].Lock()
	defer v.locks[st].Unlock()
	if v.closed.Load() {
		return false
	}
	o, cur, err := v.read(k)
	if err != nil || cur == nil || !bytes.Equal(cur, raw) {
		return false
	}
	return v.deleteLocked(k, st, o) == nil
}

// parseStorageKey decodes a data-space key (see appendStorageKey).
func parseStorageKey(b []byte) (Key, bool) {
	typ, rest, ok := cutLenPrefixed(b)
	if !ok {
		return Key{}, false
	}
	bucket, rest, ok := cutLenPrefixed(rest)
	if !ok {
		return Key{}, false
	}
	return Key{Type: string(typ), Bucket: string(bucket), Key: string(rest)}, true
}

func cutLenPrefixed(b []byte) (field, rest []byte, ok bool) {
	var n uint64
	var shift uint
	for i := 0; i < len(b) && i < 10; i++ {
		n |= uint64(b[i]&0x7f) << shift
		if b[i] < 0x80 {
			b = b[i+1:]
			if n > uint64(len(b)) {
				return nil, nil, false
			}
			return b[:n], b[n:], true
		}
		shift += 7
	}
	return nil, nil, false
}
