package kv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riakgo/riakgo/internal/hashtree"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
)

// Active anti-entropy, the vnode side. Each vnode keeps one hash tree
// (internal/hashtree) per home partition of the keys it holds (the first
// partition of a key's preference list), so that the trees of two vnodes
// for the same home cover the same keys. Every write, delete, reap and
// handoff drop updates the tree under the key's lock, in the same step
// as the storage write: no periodic rebuild. The trees are saved on a
// clean Close and loaded at the next start; after a crash (no saved trees)
// or on request, a vnode's trees are rebuilt once from storage, writes
// during the build being kept as a delta. Package handoff's exchanger
// compares trees between replicas and repairs differing keys with a read
// (read repair is the one repair path).

// objHash is the hash of an object's version: its clock, as in Riak.
func objHash(o *siblings.Object) (uint64, bool) {
	if o == nil {
		return 0, false
	}
	var b [24]byte
	h := uint64(0x6a09e667f3bcc908)
	for _, e := range o.Clock {
		binary.LittleEndian.PutUint64(b[0:], e.Actor.ID)
		binary.LittleEndian.PutUint64(b[8:], uint64(e.Actor.Epoch))
		binary.LittleEndian.PutUint64(b[16:], e.Counter)
		h = hashtree.Bytes(b[:]) ^ (h * 0x100000001b3)
	}
	return h, true
}

// vnodeTrees are a vnode's trees by home partition.
type vnodeTrees struct {
	mu    sync.Mutex
	trees map[int]*hashtree.Tree
	built bool
	delta map[int]*hashtree.Tree // non-nil while a build runs
}

func (t *vnodeTrees) tree(m map[int]*hashtree.Tree, home int) *hashtree.Tree {
	tr := m[home]
	if tr == nil {
		tr = &hashtree.Tree{}
		m[home] = tr
	}
	return tr
}

// aaeUpdate records that k changed from old to new (nil: absent). Called
// under k's stripe lock after the storage write.
func (v *Vnode) aaeUpdate(k Key, old, new *siblings.Object) {
	if v.home == nil {
		return
	}
	oh, hadOld := objHash(old)
	nh, hasNew := objHash(new)
	if !hadOld && !hasNew || hadOld && hasNew && oh == nh {
		return
	}
	home := v.home(k)
	kb := keyBufPool.Get().(*[]byte)
	*kb = appendStorageKey((*kb)[:0], k)
	t := &v.aae
	t.mu.Lock()
	var tr *hashtree.Tree
	if t.delta != nil {
		tr = t.tree(t.delta, home)
	} else {
		if t.trees == nil {
			t.trees = map[int]*hashtree.Tree{}
		}
		tr = t.tree(t.trees, home)
	}
	t.mu.Unlock()
	tr.Update(*kb, oh, hadOld, nh, hasNew)
	keyBufPool.Put(kb)
}

// aaeInvalidate marks the trees unknown (a storage write whose outcome is
// unknown); they are rebuilt.
func (v *Vnode) aaeInvalidate() {
	v.aae.mu.Lock()
	v.aae.built = false
	v.aae.mu.Unlock()
}

func aaeMetaKey(p storage.Partition) []byte {
	return []byte{'a', 'a', 'e', 0, byte(p >> 8), byte(p)}
}

// loadTrees loads the trees saved by a clean Close (and deletes them, so
// that a crash before the next clean Close forces a rebuild).
func (v *Vnode) loadTrees() error {
	raw, err := v.eng.GetMeta(aaeMetaKey(v.part))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var b storage.Batch
	b.Ops = append(b.Ops, storage.Op{Kind: storage.OpDeleteMeta, Key: aaeMetaKey(v.part)})
	if err := v.eng.Write(&b, storage.WriteOptions{Sync: true}); err != nil {
		return err
	}
	trees := map[int]*hashtree.Tree{}
	const rec = 2 + 1 + 8*hashtree.Segments
	if len(raw)%rec != 0 {
		return nil // unreadable: rebuild
	}
	for len(raw) > 0 {
		home := int(binary.BigEndian.Uint16(raw))
		tr := &hashtree.Tree{}
		if err := tr.UnmarshalBinary(raw[2:rec]); err != nil {
			return nil
		}
		trees[home] = tr
		raw = raw[rec:]
	}
	v.aae.trees, v.aae.built = trees, true
	return nil
}

// saveTrees stores the trees for the next start (clean Close).
func (v *Vnode) saveTrees() error {
	v.aae.mu.Lock()
	if !v.aae.built || v.aae.delta != nil {
		v.aae.mu.Unlock()
		return nil
	}
	var out []byte
	for home, tr := range v.aae.trees {
		enc, _ := tr.MarshalBinary()
		out = binary.BigEndian.AppendUint16(out, uint16(home))
		out = append(out, enc...)
	}
	v.aae.mu.Unlock()
	var b storage.Batch
	b.SetMeta(aaeMetaKey(v.part), out)
	return v.eng.Write(&b, storage.WriteOptions{Sync: true})
}

// Tree returns the segment hashes of partition p's tree for keys of
// home partition home (false if this node has no built trees for p).
func (vn Vnodes) Tree(p, home int) ([]uint64, bool) {
	s := vn.s
	v := s.Vnode(p)
	if v == nil && p >= 0 && p < len(s.vnodes) && s.Ring().Owner(p) == s.cfg.Node && !s.isClosed() {
		// An owned partition no request has touched yet (a node that
		// lost its data): open it, so its (empty) trees get built.
		v, _ = s.localVnode(p)
	}
	if v == nil || v.closed.Load() {
		return nil, false
	}
	v.aae.mu.Lock()
	defer v.aae.mu.Unlock()
	if !v.aae.built || v.aae.delta != nil {
		return nil, false
	}
	tr := v.aae.trees[home]
	if tr == nil {
		return make([]uint64, hashtree.Segments), true
	}
	return tr.Segments(), true
}

// SegmentKeys lists the keys (storage keys) of partition p with home partition
// home in the given segments, with their object hashes.
func (vn Vnodes) SegmentKeys(ctx context.Context, p, home int, segs []int) ([]hashtree.KeyHashPair, error) {
	s := vn.s
	want := make(map[int]bool, len(segs))
	for _, sg := range segs {
		want[sg] = true
	}
	var out []hashtree.KeyHashPair
	err := vn.Fold(ctx, p, nil, func(key, value []byte) error {
		if !want[hashtree.Segment(key)] {
			return nil
		}
		k, ok := parseStorageKey(key)
		if !ok || s.homeOf(k) != home {
			return nil
		}
		o, err := wire.DecodeObject(value)
		if err != nil {
			return nil // an unreadable object: repair will rewrite it
		}
		h, _ := objHash(o)
		out = append(out, hashtree.KeyHashPair{Key: append([]byte(nil), key...), Hash: h})
		return nil
	})
	return out, err
}

// homeOf returns a key's home partition.
func (s *Service) homeOf(k Key) int {
	return s.Ring().Partition(ring.KeyHash(k.Type, k.Bucket, k.Key))
}

// Shared reports whether partitions p and q both hold key (a storage
// key of home partition home) as primaries, by its bucket's n_val.
func (vn Vnodes) Shared(key []byte, home, p, q int) bool {
	s := vn.s
	k, ok := parseStorageKey(key)
	if !ok {
		return false
	}
	props, err := s.buckets.props(k.Type, k.Bucket)
	if err != nil {
		return false
	}
	size := len(s.vnodes)
	within := func(x int) bool { return (x-home+size)%size < props.NVal }
	return within(p) && within(q)
}

// Repair reads key (a storage key) from all its replicas so that read
// repair brings every replica up to date; it returns the object's size.
func (vn Vnodes) Repair(ctx context.Context, key []byte) (int, error) {
	s := vn.s
	k, ok := parseStorageKey(key)
	if !ok {
		return 0, fmt.Errorf("riakgo/kv: anti-entropy: malformed key %q", key)
	}
	o, err := s.Get(ctx, k, Options{R: quorum.ValAll, NotFoundOK: new(bool)})
	if o != nil {
		return objectSize(o), nil
	}
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	var qe *quorum.Error
	if errors.As(err, &qe) {
		return 0, nil // some replica did not answer; read repair still ran on those that did
	}
	return 0, err
}

// Unbuilt returns the partitions whose vnode trees need a build.
func (vn Vnodes) Unbuilt() []int {
	s := vn.s
	var out []int
	for _, p := range s.Partitions() {
		v := s.Vnode(p)
		if v == nil {
			continue
		}
		v.aae.mu.Lock()
		if !v.aae.built && v.aae.delta == nil {
			out = append(out, p)
		}
		v.aae.mu.Unlock()
	}
	return out
}

// Rebuild marks partition p's trees for a rebuild (on request).
func (vn Vnodes) Rebuild(p int) {
	s := vn.s
	if v := s.Vnode(p); v != nil {
		v.aaeInvalidate()
	}
}

// Build builds partition p's trees from storage. Writes made while it
// runs are kept as a delta and merged at the end.
func (vn Vnodes) Build(ctx context.Context, p int) (time.Duration, error) {
	s := vn.s
	v := s.Vnode(p)
	if v == nil {
		return 0, nil
	}
	start := s.cfg.Clock.Now()
	v.lockAll()
	v.aae.mu.Lock()
	if v.aae.delta != nil {
		v.aae.mu.Unlock()
		v.unlockAll()
		return 0, nil
	}
	it, err := s.cfg.Engine.NewIterator(storage.SpaceData, v.part, nil, nil)
	if err == nil {
		v.aae.delta = map[int]*hashtree.Tree{}
	}
	v.aae.mu.Unlock()
	v.unlockAll()
	if err != nil {
		return 0, err
	}
	built := map[int]*hashtree.Tree{}
	n := 0
	for it.Next() {
		if n++; n%256 == 0 && ctx.Err() != nil {
			break
		}
		k, ok := parseStorageKey(it.Key())
		if !ok {
			continue
		}
		o, derr := wire.DecodeObject(it.Value())
		if derr != nil {
			continue
		}
		h, _ := objHash(o)
		home := s.homeOf(k)
		tr := built[home]
		if tr == nil {
			tr = &hashtree.Tree{}
			built[home] = tr
		}
		tr.Insert(it.Key(), h)
	}
	err = it.Err()
	if err == nil {
		err = ctx.Err()
	}
	it.Close()
	// Under every key lock: no write is between choosing the delta and
	// updating it (aaeUpdate runs under its key's lock).
	v.lockAll()
	defer v.unlockAll()
	v.aae.mu.Lock()
	defer v.aae.mu.Unlock()
	delta := v.aae.delta
	v.aae.delta = nil
	if err != nil {
		// Abandoned: the live trees missed the delta, so they stay unbuilt.
		v.aae.built = false
		return 0, err
	}
	for home, d := range delta {
		tr := built[home]
		if tr == nil {
			tr = &hashtree.Tree{}
			built[home] = tr
		}
		tr.Merge(d)
	}
	v.aae.trees, v.aae.built = built, true
	return s.cfg.Clock.Now().Sub(start), nil
}
