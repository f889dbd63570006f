package kv

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/siblings"
)

func objOf(v string) *siblings.Object {
	return &siblings.Object{Siblings: []siblings.Sibling{{Value: []byte(v)}}}
}

func TestObjCacheLRUAndBound(t *testing.T) {
	c := newObjCache(cacheShards*4096, 0) // 4 KiB per shard
	for i := 0; i < 2000; i++ {
		c.set(0, []byte(fmt.Sprint("k", i)), objOf("v"), 100, uint64(i+1))
	}
	for i := range c.shards {
		s := &c.shards[i]
		if s.bytes > s.max {
			t.Fatalf("shard %d holds %d bytes, bound %d", i, s.bytes, s.max)
		}
		n := 0
		for e := s.head.next; e != &s.head; e = e.next {
			n++
		}
		if n != len(s.m) {
			t.Fatalf("shard %d: list has %d entries, map %d", i, n, len(s.m))
		}
		if s.reps != n {
			t.Fatalf("shard %d: %d replicas counted, %d held", i, s.reps, n)
		}
	}
	// The newest keys survive, the oldest are gone.
	if _, ok := c.get(0, []byte("k1999")); !ok {
		t.Error("newest key evicted")
	}
	if _, ok := c.get(0, []byte("k0")); ok {
		t.Error("oldest key survived a full turnover")
	}
}

func TestObjCacheKnownAbsentAndDrop(t *testing.T) {
	c := newObjCache(1<<20, 0)
	c.set(0, []byte("a"), nil, 0, 0)
	if o, ok := c.get(0, []byte("a")); !ok || o != nil {
		t.Fatalf("known-absent entry: %v %v", o, ok)
	}
	if _, ok := c.get(1, []byte("a")); ok {
		t.Fatal("partition 1's replica cached although only partition 0's was set")
	}
	c.drop(0, []byte("a"))
	if _, ok := c.get(0, []byte("a")); ok {
		t.Fatal("dropped entry still cached")
	}
	if newObjCache(0, 0) != nil || newObjCache(-1, -1) != nil || newObjCache(0, MinEncodedCacheBytes-1) != nil {
		t.Fatal("a non-positive size must disable the cache")
	}
}

func TestObjCacheAddIfUnchanged(t *testing.T) {
	c := newObjCache(1<<20, 0)
	c.addIfUnchanged(0, []byte("k"), objOf("old"), 10, 1, func() bool { return false })
	if _, ok := c.get(0, []byte("k")); ok {
		t.Fatal("insert went through although a write happened meanwhile")
	}
	c.set(0, []byte("k"), objOf("new"), 10, 2)
	c.addIfUnchanged(0, []byte("k"), objOf("old"), 10, 1, func() bool { return true })
	if o, _ := c.get(0, []byte("k")); string(o.Siblings[0].Value) != "new" {
		t.Fatal("a reader's insert replaced a writer's entry")
	}
	// Another partition's replica of the same key is its own slot.
	c.addIfUnchanged(1, []byte("k"), objOf("old"), 10, 1, func() bool { return true })
	if o, _ := c.get(1, []byte("k")); o == nil || string(o.Siblings[0].Value) != "old" {
		t.Fatal("partition 1's replica not added next to partition 0's")
	}
}

// TestObjCacheReplicasShare: equal replicas of a key in several
// partitions share one decoded object and are accounted once; a replica
// that differs is accounted on its own; dropping one replica, or a whole
// partition, leaves the others and the accounting right.
func TestObjCacheReplicasShare(t *testing.T) {
	c := newObjCache(1<<20, 0)
	key := []byte("bkey")
	shard := c.shard(key)
	a0, a1, a2 := objOf("same"), objOf("same"), objOf("same")
	// base is an entry for key with a replica array of capacity n,
	// without its objects.
	base := func(n int) int {
		return allocSize(int(unsafe.Sizeof(cacheEntry{}))) + strSize(string(key)) + cacheMapSlot +
			allocSize(n*int(unsafe.Sizeof(cacheSlot{})))
	}
	c.set(0, key, a0, 1000, 7)
	if got, want := shard.bytes, base(1)+objectMemSize(a0); got != want {
		t.Fatalf("one replica accounted at %d bytes, want %d", got, want)
	}
	c.set(1, key, a1, 1000, 7)
	c.set(2, key, a2, 1000, 7)
	// The replica array grew to 4 slots; the object counts once.
	if got, want := shard.bytes, base(4)+objectMemSize(a0); got != want {
		t.Fatalf("three equal replicas accounted at %d bytes, want %d (one encoding)", got, want)
	}
	o1, _ := c.get(1, key)
	o2, _ := c.get(2, key)
	if o1 != a0 || o2 != a0 {
		t.Fatal("equal replicas do not share the first decoded object")
	}
	// A replica that differs (another encoding) counts on its own.
	b := objOf("other")
	c.set(2, key, b, 900, 8)
	if got, want := shard.bytes, base(4)+objectMemSize(a0)+objectMemSize(b); got != want {
		t.Fatalf("after a differing replica: %d bytes, want %d", got, want)
	}
	if o, _ := c.get(2, key); o != b {
		t.Fatal("partition 2 does not read its own replica")
	}
	// Dropping the first replica moves the shared encoding's charge to the
	// next holder; the others stay readable.
	c.drop(0, key)
	if got, want := shard.bytes, base(4)+objectMemSize(a0)+objectMemSize(b); got != want {
		t.Fatalf("after dropping partition 0: %d bytes, want %d", got, want)
	}
	if _, ok := c.get(0, key); ok {
		t.Fatal("dropped replica still cached")
	}
	if o, ok := c.get(1, key); !ok || o != a0 {
		t.Fatal("partition 1's replica lost with partition 0's")
	}
	c.dropPartition(1)
	c.dropPartition(2)
	if shard.bytes != 0 || len(shard.m) != 0 || shard.head.next != &shard.head {
		t.Fatalf("after dropping every partition: %d bytes, %d entries", shard.bytes, len(shard.m))
	}
	if st := c.stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("stats after emptying: %+v", st)
	}
}

// TestObjCacheSharingHoldsMore: with three equal replicas per key, the same
// budget holds about three times as many keys as when every replica is
// accounted on its own.
func TestObjCacheSharingHoldsMore(t *testing.T) {
	held := func(share bool) int {
		c := newObjCache(cacheShards*64<<10, 0)
		for i := range 20000 {
			key := []byte(fmt.Sprint("k", i))
			for p := range 3 {
				sum := uint64(i + 1)
				if !share {
					sum = uint64(3*i + p + 1)
				}
				c.set(storage.Partition(p), key, objOf("v"), 1000, sum)
			}
		}
		return int(c.stats().Entries)
	}
	shared, alone := held(true), held(false)
	if shared < 2*alone {
		t.Fatalf("equal replicas: %d replicas held; distinct: %d; want sharing to hold more than twice as many", shared, alone)
	}
}

// cacheTiers are the object cache's shapes the race tests run with: the
// decoded tier alone, the encoded tier alone, and a decoded tier too small
// to hold much in front of an encoded one.
var cacheTiers = []struct {
	name             string
	decoded, encoded int
}{
	{"decoded", 1 << 20, 0},
	{"encoded", 0, MinEncodedCacheBytes},
	{"both", cacheShards * 8 << 10, MinEncodedCacheBytes},
}

// dropDecoded evicts p's replica of key from the decoded tier only.
func dropDecoded(c *objCache, p storage.Partition, key []byte) {
	s := c.shard(key)
	s.mu.Lock()
	if e, ok := s.m[string(key)]; ok {
		s.removeSlotLocked(e, p)
	}
	s.mu.Unlock()
}

// TestVnodeCacheNeverServesStale races readers against writers on a few
// keys: once a write has returned, no later read may return an older value.
func TestVnodeCacheNeverServesStale(t *testing.T) {
	for _, tier := range cacheTiers {
		t.Run(tier.name, func(t *testing.T) {
			cache := newObjCache(tier.decoded, tier.encoded)
			defer cache.close()
			testVnodeCacheNeverServesStale(t, newInternalEnvWith(t, cache))
		})
	}
}

func testVnodeCacheNeverServesStale(t *testing.T, e *internalEnv) {
	v := e.vnode
	props := DefaultProps()
	var wg sync.WaitGroup
	var mu sync.Mutex
	last := map[string]int{} // highest acknowledged write per key
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < 300; i++ {
				k := Key{Type: DefaultType, Bucket: "b", Key: fmt.Sprint("k", r.IntN(4))}
				if w%2 == 0 {
					mu.Lock() // writers are serialised per test so "later" is well defined
					n := last[k.Key] + 1
					o := &siblings.Object{Siblings: []siblings.Sibling{{Value: []byte(fmt.Sprint(n)), Meta: siblings.Meta{VTag: fmt.Sprint(n), LastModified: int64(n)}}}}
					o.Clock = nil
					if _, err := v.Put(k, o, Props{AllowMult: false, LastWriteWins: true, SyncOnWrite: props.SyncOnWrite}, false); err != nil {
						t.Error(err)
					}
					last[k.Key] = n
					mu.Unlock()
					continue
				}
				mu.Lock()
				floor := last[k.Key]
				mu.Unlock()
				if r.IntN(4) == 0 {
					dropDecoded(v.cache, v.part, appendStorageKey(nil, k)) // an eviction from the decoded tier
				}
				o, err := v.Get(k)
				if err != nil {
					t.Error(err)
					continue
				}
				got := 0
				if o != nil {
					fmt.Sscan(string(o.Siblings[0].Value), &got)
				}
				if got < floor {
					t.Errorf("read %s = %d after write %d was acknowledged", k.Key, got, floor)
				}
			}
		}(w)
	}
	wg.Wait()
}

type internalEnv struct{ vnode *Vnode }

// slowReaderKey stores "old" under a key of v by last-write-wins and
// returns the key, the props and the object maker the slow-reader tests
// write with.
func slowReaderKey(t *testing.T, v *Vnode) (Key, Props, func(string) *siblings.Object) {
	t.Helper()
	k := Key{Type: DefaultType, Bucket: "b", Key: "k"}
	lww := Props{LastWriteWins: true, SyncOnWrite: "none"}
	mk := func(s string) *siblings.Object {
		return &siblings.Object{Siblings: []siblings.Sibling{{Value: []byte(s), Meta: siblings.Meta{VTag: s}}}}
	}
	if _, err := v.Put(k, mk("old"), lww, false); err != nil {
		t.Fatal(err)
	}
	return k, lww, mk
}

func newInternalEnv(t *testing.T) *internalEnv {
	t.Helper()
	return newInternalEnvWith(t, newObjCache(1<<20, 0))
}

func newInternalEnvWith(t *testing.T, cache *objCache) *internalEnv {
	t.Helper()
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(1, 2))
	v, err := openVnode(7, vnodeConfig{
		eng:    memstore.New(),
		clk:    clock.NewManual(time.Unix(1700000000, 0)),
		limits: siblings.DefaultLimits(),
		rand:   func() uint64 { mu.Lock(); defer mu.Unlock(); return r.Uint64() },
		cache:  cache,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &internalEnv{vnode: v}
}

// TestVnodeCacheSlowReader replays the race deterministically: a reader
// misses the cache and reads storage, a write lands, then the reader tries
// to cache what it read. The stale object must not enter the cache.
func TestVnodeCacheSlowReader(t *testing.T) {
	v := newInternalEnv(t).vnode
	k, lww, mk := slowReaderKey(t, v)
	kb := appendStorageKey(nil, k)
	v.cache.drop(v.part, kb) // start from a miss

	// The reader's first half (what cached() does on a miss).
	st := v.stripe(k)
	g := v.gens[st].Load()
	stale, raw, err := v.read(k)
	if err != nil || string(stale.Siblings[0].Value) != "old" {
		t.Fatalf("read: %v %v", stale, err)
	}
	// A write lands in between.
	if _, err := v.Put(k, mk("new"), lww, false); err != nil {
		t.Fatal(err)
	}
	v.cache.drop(v.part, kb) // even if the writer's entry were evicted...
	// ...the reader's late insert must be refused.
	v.cache.addIfUnchanged(v.part, kb, stale, len(raw), objSum(raw), func() bool { return v.gens[st].Load() == g })
	got, err := v.Get(k)
	if err != nil || string(got.Siblings[0].Value) != "new" {
		t.Fatalf("Get after a slow reader: %q, %v; want new", got.Siblings[0].Value, err)
	}
}

// TestVnodeCacheSumNeverServesStale races readers against writers on
// three vnodes sharing one engine and one cache, with replicas that
// differ and converge and cache slots dropped at random, so that reads go
// through the stored sums: once a write to a vnode has returned, no later
// read of that vnode may return an older value, and the last read of each
// replica equals what its storage holds.
func TestVnodeCacheSumNeverServesStale(t *testing.T) {
	for _, tier := range cacheTiers {
		t.Run(tier.name, func(t *testing.T) {
			cache := newObjCache(tier.decoded, tier.encoded)
			defer cache.close()
			testVnodeCacheSumNeverServesStale(t, cache)
			if tier.encoded > 0 && cache.encHits.Load() == 0 {
				t.Fatal("no read was served by the encoded tier")
			}
		})
	}
}

func testVnodeCacheSumNeverServesStale(t *testing.T, cache *objCache) {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(3, 4))
	eng := memstore.New()
	var vs []*Vnode
	for _, p := range []storage.Partition{7, 8, 9} {
		v, err := openVnode(p, vnodeConfig{
			eng:    eng,
			clk:    clock.NewManual(time.Unix(1700000000, 0)),
			limits: siblings.DefaultLimits(),
			rand:   func() uint64 { mu.Lock(); defer mu.Unlock(); return r.Uint64() },
			cache:  cache,
		})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	lww := Props{LastWriteWins: true, SyncOnWrite: "none"}
	var wmu sync.Mutex
	last := map[[2]int]int{} // (vnode, key) -> highest acknowledged write
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < 400; i++ {
				ki := r.IntN(3)
				k := Key{Type: DefaultType, Bucket: "b", Key: fmt.Sprint("k", ki)}
				if w%3 == 0 {
					// One write, to every replica or to one of them.
					wmu.Lock()
					n := 0
					for vi := range vs {
						n = max(n, last[[2]int{vi, ki}])
					}
					n++
					o := &siblings.Object{Siblings: []siblings.Sibling{{Value: []byte(fmt.Sprint(n)), Meta: siblings.Meta{VTag: fmt.Sprint(n), LastModified: int64(n)}}}}
					targets := []int{0, 1, 2}
					if r.IntN(2) == 0 {
						targets = []int{r.IntN(3)}
					}
					for _, vi := range targets {
						if _, err := vs[vi].Put(k, o, lww, false); err != nil {
							t.Error(err)
						}
						last[[2]int{vi, ki}] = n
					}
					wmu.Unlock()
					continue
				}
				vi := r.IntN(3)
				v := vs[vi]
				switch r.IntN(6) {
				case 0, 1:
					cache.drop(v.part, appendStorageKey(nil, k)) // an eviction from both tiers
				case 2:
					dropDecoded(cache, v.part, appendStorageKey(nil, k))
				}
				wmu.Lock()
				floor := last[[2]int{vi, ki}]
				wmu.Unlock()
				o, err := v.Get(k)
				if err != nil {
					t.Error(err)
					continue
				}
				got := 0
				if o != nil {
					fmt.Sscan(string(o.Siblings[0].Value), &got)
				}
				if got < floor {
					t.Errorf("vnode %d read %s = %d after write %d was acknowledged", v.part, k.Key, got, floor)
				}
			}
		}(w)
	}
	wg.Wait()
	for vi, v := range vs {
		for ki := 0; ki < 3; ki++ {
			k := Key{Type: DefaultType, Bucket: "b", Key: fmt.Sprint("k", ki)}
			cached, err := v.Get(k)
			if err != nil {
				t.Fatal(err)
			}
			stored, _, err := v.read(k)
			if err != nil {
				t.Fatal(err)
			}
			if (cached == nil) != (stored == nil) || (cached != nil && string(cached.Siblings[0].Value) != string(stored.Siblings[0].Value)) {
				t.Fatalf("vnode %d key %s: cache serves %v, storage holds %v", vi, k.Key, cached, stored)
			}
		}
	}
	if cache.shared.Load()+cache.encHits.Load() == 0 {
		t.Fatal("no read was served by an equal replica: the sum path never ran")
	}
}

// hookEngine runs a hook after each GetSum has read the sum, before the
// caller sees it.
type hookEngine struct {
	storage.Engine
	afterSum func(p storage.Partition)
}

func (h *hookEngine) GetSum(p storage.Partition, key []byte) (uint64, int, bool, error) {
	sum, size, ok, err := h.Engine.GetSum(p, key)
	if h.afterSum != nil {
		h.afterSum(p)
	}
	return sum, size, ok, err
}

// TestVnodeCacheSumSlowReader replays the race of the sum path: a reader
// misses its cache slot and reads its stored sum, which matches another
// replica's entry, and a write to its replica lands before it inserts. It
// may answer with the value it read, but must not cache it.
func TestVnodeCacheSumSlowReader(t *testing.T) {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(5, 6))
	eng := &hookEngine{Engine: memstore.New()}
	cache := newObjCache(1<<20, 0)
	var vs []*Vnode
	for _, p := range []storage.Partition{7, 8} {
		v, err := openVnode(p, vnodeConfig{
			eng: eng, clk: clock.NewManual(time.Unix(1700000000, 0)), limits: siblings.DefaultLimits(),
			rand:  func() uint64 { mu.Lock(); defer mu.Unlock(); return r.Uint64() },
			cache: cache,
		})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	k := Key{Type: DefaultType, Bucket: "b", Key: "k"}
	lww := Props{LastWriteWins: true, SyncOnWrite: "none"}
	mk := func(s string, lm int64) *siblings.Object {
		return &siblings.Object{Siblings: []siblings.Sibling{{Value: []byte(s), Meta: siblings.Meta{VTag: s, LastModified: lm}}}}
	}
	old := mk("old", 1)
	for _, v := range vs {
		if _, err := v.Put(k, old, lww, false); err != nil {
			t.Fatal(err)
		}
	}
	kb := appendStorageKey(nil, k)
	b := vs[1]
	cache.drop(b.part, kb) // b misses; a's equal entry stays
	eng.afterSum = func(p storage.Partition) {
		if p != b.part {
			return
		}
		eng.afterSum = nil
		if _, err := b.Put(k, mk("new", 2), lww, false); err != nil {
			t.Error(err)
		}
	}
	got, err := b.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	// Two reads went by the sum: the write's own read of b's old value
	// (inside the hook), then the slow reader's.
	if string(got.Siblings[0].Value) != "old" || cache.shared.Load() != 2 {
		t.Fatalf("the slow read: %q (shared %d); want the equal replica's old value, by the sum", got.Siblings[0].Value, cache.shared.Load())
	}
	got, err = b.Get(k)
	if err != nil || string(got.Siblings[0].Value) != "new" {
		t.Fatalf("Get after the write: %q, %v; want new", got.Siblings[0].Value, err)
	}
	if o, ok := cache.get(b.part, kb); !ok || string(o.Siblings[0].Value) != "new" {
		t.Fatal("the cache does not hold the write")
	}
}
