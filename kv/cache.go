package kv

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
)

// objCache is a byte-bounded LRU of decoded objects shared by a node's
// vnodes, keyed by partition and storage key. A hit saves a storage read
// and a decode on the read path; objects are immutable values, so a cached
// object is shared by every reader.
//
// Consistency: the cache may only hold what storage holds. Writers (under
// the key's stripe lock) store first, then bump the stripe's generation,
// then Set the new object. A reader that missed records the generation
// before reading storage and inserts with addIfUnchanged, which refuses if
// any write to the stripe happened in between, so a slow reader can never
// put back an object older than the last write.
type objCache struct {
	seed         maphash.Seed
	shards       [cacheShards]cacheShard
	hits, misses atomic.Int64
}

const cacheShards = 32

type cacheShard struct {
	mu    sync.Mutex
	m     map[string]*cacheEntry
	head  cacheEntry // sentinel of the LRU ring: head.next is the newest
	bytes int
	max   int
}

type cacheEntry struct {
	key        string
	obj        *siblings.Object // nil: the key is known to be absent
	size       int
	prev, next *cacheEntry
}

// cacheEntryOverhead approximates the memory of an entry beyond the
// encoded object bytes.
const cacheEntryOverhead = 160

func newObjCache(maxBytes int) *objCache {
	if maxBytes <= 0 {
		return nil
	}
	c := &objCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[string]*cacheEntry)
		s.head.next, s.head.prev = &s.head, &s.head
		s.max = maxBytes / cacheShards
	}
	return c
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

// get returns the cached object (nil for "known absent") and whether the
// key was cached.
func (c *objCache) get(key []byte) (*siblings.Object, bool) {
	s := c.shard(key)
	s.mu.Lock()
	e, ok := s.m[string(key)]
	if ok {
		s.unlink(e)
		s.pushFront(e)
	}
	s.mu.Unlock()
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return e.obj, true
}

// CacheStats describes the decoded-object cache.
type CacheStats struct {
	// Hits and Misses count lookups since start; a hit may be a key known
	// to be absent.
	Hits, Misses int64
	// Bytes is the memory the entries are accounted at; Entries their
	// number.
	Bytes, Entries int64
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
		st.Entries += int64(len(s.m))
		s.mu.Unlock()
	}
	return st
}

// set stores obj (nil: absent) for key, replacing any entry. Writers call
// it after storing, under the key's stripe lock.
func (c *objCache) set(key []byte, obj *siblings.Object, size int) {
	s := c.shard(key)
	s.mu.Lock()
	s.insertLocked(key, obj, size)
	s.mu.Unlock()
}

// addIfUnchanged inserts obj for key unless the key is cached already or
// unchanged() reports that a write happened since the caller's read.
func (c *objCache) addIfUnchanged(key []byte, obj *siblings.Object, size int, unchanged func() bool) {
	s := c.shard(key)
	s.mu.Lock()
	if _, ok := s.m[string(key)]; !ok && unchanged() {
		s.insertLocked(key, obj, size)
	}
	s.mu.Unlock()
}

func (s *cacheShard) insertLocked(key []byte, obj *siblings.Object, size int) {
	size += cacheEntryOverhead + len(key)
	if e, ok := s.m[string(key)]; ok {
		s.unlink(e)
		s.bytes -= e.size
		delete(s.m, e.key)
	}
	if size > s.max/4 {
		return // too big to be worth a slot
	}
	e := &cacheEntry{key: string(key), obj: obj, size: size}
	s.m[e.key] = e
	s.pushFront(e)
	s.bytes += size
	for s.bytes > s.max && s.head.prev != &s.head {
		old := s.head.prev
		s.unlink(old)
		s.bytes -= old.size
		delete(s.m, old.key)
	}
}

// drop removes key.
func (c *objCache) drop(key []byte) {
	s := c.shard(key)
	s.mu.Lock()
	if e, ok := s.m[string(key)]; ok {
		s.unlink(e)
		s.bytes -= e.size
		delete(s.m, e.key)
	}
	s.mu.Unlock()
}

// clear empties the cache (used when a partition's data is dropped).
func (c *objCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.m = make(map[string]*cacheEntry)
		s.head.next, s.head.prev = &s.head, &s.head
		s.bytes = 0
		s.mu.Unlock()
	}
}

// dropPartition removes every entry of partition p (its data was dropped).
func (c *objCache) dropPartition(p storage.Partition) {
	prefix := string([]byte{byte(p >> 8), byte(p)})
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for key, e := range s.m {
			if len(key) >= 2 && key[:2] == prefix {
				s.unlink(e)
				s.bytes -= e.size
				delete(s.m, key)
			}
		}
		s.mu.Unlock()
	}
}
