package kv

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/siblings"
)

func objOf(v string) *siblings.Object {
	return &siblings.Object{Siblings: []siblings.Sibling{{Value: []byte(v)}}}
}

func TestObjCacheLRUAndBound(t *testing.T) {
	c := newObjCache(cacheShards * 4096) // 4 KiB per shard
	for i := 0; i < 2000; i++ {
		c.set([]byte(fmt.Sprint("k", i)), objOf("v"), 100)
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
	}
	// The newest keys survive, the oldest are gone.
	if _, ok := c.get([]byte("k1999")); !ok {
		t.Error("newest key evicted")
	}
	if _, ok := c.get([]byte("k0")); ok {
		t.Error("oldest key survived a full turnover")
	}
}

func TestObjCacheKnownAbsentAndDrop(t *testing.T) {
	c := newObjCache(1 << 20)
	c.set([]byte("a"), nil, 0)
	if o, ok := c.get([]byte("a")); !ok || o != nil {
		t.Fatalf("known-absent entry: %v %v", o, ok)
	}
	c.drop([]byte("a"))
	if _, ok := c.get([]byte("a")); ok {
		t.Fatal("dropped entry still cached")
	}
	if newObjCache(0) != nil || newObjCache(-1) != nil {
		t.Fatal("a non-positive size must disable the cache")
	}
}

func TestObjCacheAddIfUnchanged(t *testing.T) {
	c := newObjCache(1 << 20)
	c.addIfUnchanged([]byte("k"), objOf("old"), 10, func() bool { return false })
	if _, ok := c.get([]byte("k")); ok {
		t.Fatal("insert went through although a write happened meanwhile")
	}
	c.set([]byte("k"), objOf("new"), 10)
	c.addIfUnchanged([]byte("k"), objOf("old"), 10, func() bool { return true })
	if o, _ := c.get([]byte("k")); string(o.Siblings[0].Value) != "new" {
		t.Fatal("a reader's insert replaced a writer's entry")
	}
}

// TestVnodeCacheNeverServesStale races readers against writers on a few
// keys: once a write has returned, no later read may return an older value.
func TestVnodeCacheNeverServesStale(t *testing.T) {
	e := newInternalEnv(t)
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

func newInternalEnv(t *testing.T) *internalEnv {
	t.Helper()
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(1, 2))
	v, err := openVnode(7, vnodeConfig{
		eng:    memstore.New(),
		clk:    clock.NewManual(time.Unix(1700000000, 0)),
		limits: siblings.DefaultLimits(),
		rand:   func() uint64 { mu.Lock(); defer mu.Unlock(); return r.Uint64() },
		cache:  newObjCache(1 << 20),
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
	k := Key{Type: DefaultType, Bucket: "b", Key: "k"}
	lww := Props{LastWriteWins: true, SyncOnWrite: "none"}
	mk := func(s string) *siblings.Object {
		return &siblings.Object{Siblings: []siblings.Sibling{{Value: []byte(s), Meta: siblings.Meta{VTag: s}}}}
	}
	if _, err := v.Put(k, mk("old"), lww, false); err != nil {
		t.Fatal(err)
	}
	kb := v.appendCacheKey(nil, k)
	v.cache.drop(kb) // start from a miss

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
	v.cache.drop(kb) // even if the writer's entry were evicted...
	// ...the reader's late insert must be refused.
	v.cache.addIfUnchanged(kb, stale, len(raw), func() bool { return v.gens[st].Load() == g })
	got, err := v.Get(k)
	if err != nil || string(got.Siblings[0].Value) != "new" {
		t.Fatalf("Get after a slow reader: %q, %v; want new", got.Siblings[0].Value, err)
	}
}
