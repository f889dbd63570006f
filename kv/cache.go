package kv

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
)

// objCache is a byte-bounded LRU of decoded objects shared by a node's
// vnodes. A hit saves a storage read and a decode on the read path;
// objects are immutable values, so a cached object is shared by every
// reader.
//
// An entry holds one storage key's replicas on this node, one slot per
// partition: with fewer nodes than n_val a node holds several replicas of a
// key, and replicas whose encodings are equal (the usual case) share one
// decoded object and are accounted once, so the same memory holds up to
// n_val times as many keys. An entry is evicted with all its replicas.
//
// Consistency, per partition: the cache may only hold what storage holds.
// Writers (under the key's stripe lock) store first, then bump the
// stripe's generation, then set the new object. A reader that missed
// records the generation before reading storage and inserts with
// addIfUnchanged, which refuses if any write to the stripe happened in
// between, so a slow reader can never put back an object older than the
// last write.
//
// Behind these decoded entries sits the encoded tier (enc; see
// cacheenc.go), which holds far more keys at no cost to the collector.
type objCache struct {
	seed         maphash.Seed
	shards       [cacheShards]cacheShard
	hits, misses atomic.Int64
	shared       atomic.Int64 // replica reads served by an equal replica's entry (withSum)
	encHits      atomic.Int64 // replica reads served by the encoded tier
	enc          *encCache    // nil: no encoded tier
}

const cacheShards = 32

type cacheShard struct {
	mu    sync.Mutex
	m     map[string]*cacheEntry
	head  cacheEntry // sentinel of the LRU ring: head.next is the newest
	bytes int
	reps  int // replicas held by the entries
	max   int
}

type cacheEntry struct {
	key        string // storage key
	reps       []cacheSlot
	size       int
	prev, next *cacheEntry
}

// cacheSlot is one partition's replica of the entry's key.
type cacheSlot struct {
	part storage.Partition
	obj  *siblings.Object // nil: the key is known to be absent
	size int              // encoded size
	sum  uint64           // hash of the encoding (0 for absent)
	mem  int              // heap held by obj (objectMemSize)
}

// objSum is the hash of an object's encoding by which equal replicas are
// recognised: the storage engine's sum, so that a replica's stored sum
// (storage.Engine.GetSum) finds an equal replica in the cache.
func objSum(enc []byte) uint64 { return storage.Sum(enc) }

// newObjCache returns a cache of decodedBytes decoded objects in front of
// an encoded tier of encodedBytes (none if less than
// MinEncodedCacheBytes), or nil if both are zero or negative.
func newObjCache(decodedBytes, encodedBytes int) *objCache {
	if encodedBytes < MinEncodedCacheBytes {
		encodedBytes = 0
	}
	if decodedBytes <= 0 && encodedBytes <= 0 {
		return nil
	}
	c := &objCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[string]*cacheEntry)
		s.head.next, s.head.prev = &s.head, &s.head
		s.max = max(decodedBytes, 0) / cacheShards
	}
	if encodedBytes > 0 {
		c.enc = newEncCache(encodedBytes)
	}
	return c
}

// encoded reports whether the cache has an encoded tier.
func (c *objCache) encoded() bool { return c.enc != nil }

// close releases the encoded tier's memory for reuse.
func (c *objCache) close() {
	if c != nil && c.encoded() {
		c.enc.reset()
	}
}

func (c *objCache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

func (s *cacheShard) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (s *cacheShard) pushFront(e *cacheEntry) {
	e.prev, e.next = &s.head, s.head.next
	s.head.next.prev = e
	s.head.next = e
}

func (e *cacheEntry) slot(p storage.Partition) int {
	for i := range e.reps {
		if e.reps[i].part == p {
			return i
		}
	}
	return -1
}

// get returns partition p's cached object for key (nil for "known
// absent") and whether it was cached. It does not count: the caller
// counts the read as a hit or a miss once it knows (see counted).
func (c *objCache) get(p storage.Partition, key []byte) (*siblings.Object, bool) {
	s := c.shard(key)
	s.mu.Lock()
	var (
		o  *siblings.Object
		ok bool
	)
	if e, found := s.m[string(key)]; found {
		if i := e.slot(p); i >= 0 {
			o, ok = e.reps[i].obj, true
			s.unlink(e)
			s.pushFront(e)
		}
	}
	s.mu.Unlock()
	return o, ok
}

// counted counts one replica read: a hit when no value was read from
// storage for it (its own entry, or an equal replica's found by its
// stored sum), a miss otherwise.
func (c *objCache) counted(hit bool) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
}

// CacheStats describes the decoded-object cache.
type CacheStats struct {
	// Hits and Misses count replica reads since start: a hit read no
	// value from storage (the replica's own entry, which may say the key
	// is absent, or an equal replica's found by the stored sum); a miss
	// read the value.
	Hits, Misses int64
	// Bytes is the memory the entries are accounted at; Entries the
	// number of replicas they hold.
	Bytes, Entries int64
	// EncodedHits counts the hits served by the encoded tier;
	// EncodedBytes is the memory its chunks take (outside the Go heap),
	// EncodedRecords the records it holds (one per cached replica and
	// one per key's encoding).
	EncodedHits, EncodedBytes, EncodedRecords int64
}

// stats sums the shards (nil cache: zero).
func (c *objCache) stats() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	st := CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Bytes += int64(s.bytes)
		st.Entries += int64(s.reps)
		s.mu.Unlock()
	}
	if c.encoded() {
		st.EncodedHits = c.encHits.Load()
		st.EncodedRecords, st.EncodedBytes = c.enc.stats()
	}
	return st
}

// set stores obj (nil: absent; size and sum describe its encoding) as
// partition p's replica of key, replacing any, in both tiers (the encoded
// tier's content record is the caller's: setContent). Writers call it
// after storing, under the key's stripe lock.
func (c *objCache) set(p storage.Partition, key []byte, obj *siblings.Object, size int, sum uint64) {
	s := c.shard(key)
	s.mu.Lock()
	s.insertLocked(p, key, obj, size, sum)
	if c.encoded() {
		c.enc.setSlot(p, key, obj != nil, sum, size)
	}
	s.mu.Unlock()
}

// setContent stores enc (whose sum is sum) as key's encoding in the
// encoded tier, where a replica record with that sum finds it.
func (c *objCache) setContent(key, enc []byte, sum uint64) {
	if c.encoded() {
		c.enc.setContent(key, enc, sum)
	}
}

// addIfUnchanged inserts obj as p's replica of key, in both tiers, unless
// that replica is in the decoded tier already or unchanged() reports that
// a write happened since the caller's read.
func (c *objCache) addIfUnchanged(p storage.Partition, key []byte, obj *siblings.Object, size int, sum uint64, unchanged func() bool) {
	c.add(p, key, obj, size, sum, true, unchanged)
}

// promote is addIfUnchanged for an object read from p's replica record
// in the encoded tier: only the decoded tier takes it, unless the record
// is old (see encCache), when it is written again as well.
func (c *objCache) promote(p storage.Partition, key []byte, obj *siblings.Object, size int, sum uint64, old bool, unchanged func() bool) {
	c.add(p, key, obj, size, sum, old, unchanged)
}

func (c *objCache) add(p storage.Partition, key []byte, obj *siblings.Object, size int, sum uint64, slot bool, unchanged func() bool) {
	s := c.shard(key)
	s.mu.Lock()
	if e, ok := s.m[string(key)]; (!ok || e.slot(p) < 0) && unchanged() {
		s.insertLocked(p, key, obj, size, sum)
		if slot && c.encoded() {
			c.enc.setSlot(p, key, obj != nil, sum, size)
		}
	}
	s.mu.Unlock()
}

// encSlot is what the encoded tier records of p's replica of key (see
// encCache.slot); nothing without an encoded tier.
func (c *objCache) encSlot(p storage.Partition, key []byte) (known, present bool, sum uint64, size int, old bool) {
	if !c.encoded() {
		return false, false, 0, 0, false
	}
	return c.enc.slot(p, key)
}

// encObject decodes key's encoding from the encoded tier if it has this
// sum and size.
func (c *objCache) encObject(key []byte, sum uint64, size int) (*siblings.Object, bool) {
	if !c.encoded() {
		return nil, false
	}
	o, ok := c.enc.object(key, sum, size)
	if ok {
		c.encHits.Add(1)
	}
	return o, ok
}

// encHas reports whether the encoded tier holds an encoding of key.
func (c *objCache) encHas(key []byte) bool {
	return c.encoded() && c.enc.hasContent(key)
}

// others reports whether the cache holds a replica of key other than
// partition p's.
func (c *objCache) others(p storage.Partition, key []byte) bool {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[string(key)]; ok {
		for _, r := range e.reps {
			if r.part != p && r.obj != nil {
				return true
			}
		}
	}
	return false
}

// withSum returns a cached replica of key whose encoding has this sum and
// size.
func (c *objCache) withSum(key []byte, sum uint64, size int) (*siblings.Object, bool) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[string(key)]; ok {
		for _, r := range e.reps {
			if r.obj != nil && r.sum == sum && r.size == size {
				c.shared.Add(1)
				return r.obj, true
			}
		}
	}
	return nil, false
}

// firstWithSum is the index of the first replica in reps with the same
// encoding (hash and size), or -1.
func firstWithSum(reps []cacheSlot, sum uint64, size int) int {
	for i, r := range reps {
		if r.obj != nil && r.sum == sum && r.size == size {
			return i
		}
	}
	return -1
}

func (s *cacheShard) insertLocked(p storage.Partition, key []byte, obj *siblings.Object, size int, sum uint64) {
	e, ok := s.m[string(key)]
	if !ok {
		e = &cacheEntry{key: string(key)}
	} else {
		s.unlink(e)
		s.bytes -= e.size
		s.reps -= len(e.reps)
	}
	slot := cacheSlot{part: p, obj: obj, size: size, sum: sum}
	if i := e.slot(p); i >= 0 {
		e.reps = append(e.reps[:i], e.reps[i+1:]...)
	}
	if obj != nil {
		if j := firstWithSum(e.reps, sum, size); j >= 0 {
			// Equal replicas share one decoded object (and its size).
			slot.obj, slot.mem = e.reps[j].obj, e.reps[j].mem
		} else {
			slot.mem = objectMemSize(obj)
		}
	}
	e.reps = append(e.reps, slot)
	e.size = entryMemSize(e)
	if e.size > s.max/4 {
		delete(s.m, e.key) // too big to be worth a slot
		return
	}
	s.m[e.key] = e
	s.pushFront(e)
	s.bytes += e.size
	s.reps += len(e.reps)
	for s.bytes > s.max && s.head.prev != &s.head {
		old := s.head.prev
		s.unlink(old)
		s.bytes -= old.size
		s.reps -= len(old.reps)
		delete(s.m, old.key)
	}
}

// drop removes partition p's replica of key.
func (c *objCache) drop(p storage.Partition, key []byte) {
	s := c.shard(key)
	s.mu.Lock()
	if e, ok := s.m[string(key)]; ok {
		s.removeSlotLocked(e, p)
	}
	if c.encoded() {
		c.enc.delSlot(p, key)
	}
	s.mu.Unlock()
}

func (s *cacheShard) removeSlotLocked(e *cacheEntry, p storage.Partition) {
	i := e.slot(p)
	if i < 0 {
		return
	}
	s.bytes -= e.size
	s.reps--
	if len(e.reps) == 1 {
		s.unlink(e)
		delete(s.m, e.key)
		return
	}
	e.reps = append(e.reps[:i], e.reps[i+1:]...)
	e.size = entryMemSize(e)
	s.bytes += e.size
}

// clear empties the cache.
func (c *objCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.m = make(map[string]*cacheEntry)
		s.head.next, s.head.prev = &s.head, &s.head
		s.bytes, s.reps = 0, 0
		s.mu.Unlock()
	}
	if c.encoded() {
		c.enc.reset()
	}
}

// dropPartition removes every replica of partition p (its data was
// dropped). The encoded tier cannot list its records, so it is emptied:
// a drop is rare (the end of a handoff), and the caller has bumped the
// partition's generations first, so no reader puts an older record back.
func (c *objCache) dropPartition(p storage.Partition) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for _, e := range s.m {
			s.removeSlotLocked(e, p)
		}
		s.mu.Unlock()
	}
	if c.encoded() {
		c.enc.reset()
	}
}
