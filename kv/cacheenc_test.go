package kv

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/VictoriaMetrics/fastcache"

	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
)

func TestEncodedTierRecords(t *testing.T) {
	c := newObjCache(0, MinEncodedCacheBytes)
	defer c.close()
	key := []byte("b/k")
	if known, _, _, _, _ := c.encSlot(1, key); known {
		t.Fatal("an empty tier knows a replica")
	}
	c.set(1, key, nil, 0, 0)
	if known, present, _, _, _ := c.encSlot(1, key); !known || present {
		t.Fatalf("after an absent set: known %v present %v; want known absent", known, present)
	}
	o := objOf("v")
	enc := wire.EncodeObject(o)
	sum := objSum(enc)
	c.setContent(key, enc, sum)
	c.set(1, key, o, len(enc), sum)
	known, present, gotSum, size, _ := c.encSlot(1, key)
	if !known || !present || gotSum != sum || size != len(enc) {
		t.Fatalf("slot = %v %v %x %d; want present %x %d", known, present, gotSum, size, sum, len(enc))
	}
	if known, _, _, _, _ := c.encSlot(2, key); known {
		t.Fatal("another partition's replica is known")
	}
	got, ok := c.encObject(key, sum, len(enc))
	if !ok || !siblings.Equal(got, o) {
		t.Fatalf("encObject = %v, %v", got, ok)
	}
	// A content record is served only for the sum and size it was stored
	// with.
	if _, ok := c.encObject(key, sum+1, len(enc)); ok {
		t.Fatal("served for another sum")
	}
	if _, ok := c.encObject(key, sum, len(enc)+1); ok {
		t.Fatal("served for another size")
	}
	if !c.encHas(key) || c.encHas([]byte("b/other")) {
		t.Fatal("encHas")
	}
	c.drop(1, key)
	if known, _, _, _, _ := c.encSlot(1, key); known {
		t.Fatal("a dropped replica is still known")
	}
	c.set(1, key, o, len(enc), sum)
	if st := c.stats(); st.EncodedHits != 1 || st.EncodedBytes == 0 || st.EncodedRecords != 2 {
		t.Fatalf("stats = %+v; want one encoded hit, two records and chunks in use", st)
	}
	c.dropPartition(3) // any drop empties the tier
	if known, _, _, _, _ := c.encSlot(1, key); known || c.encHas(key) {
		t.Fatal("the tier kept records through a partition drop")
	}
}

// TestEncodedTierRecordTooLarge: fastcache silently refuses a record that
// does not fit its chunk. A replica record that cannot be written must not
// leave the older one standing.
func TestEncodedTierRecordTooLarge(t *testing.T) {
	c := newObjCache(0, MinEncodedCacheBytes)
	defer c.close()
	// An absent record fits with this key; a present one does not.
	key := bytes.Repeat([]byte{'k'}, encMaxRecord-3-encAbsentLen)
	c.set(1, key, nil, 0, 0)
	if known, present, _, _, _ := c.encSlot(1, key); !known || present {
		t.Fatal("the absent record was not stored")
	}
	c.set(1, key, objOf("v"), 100, 7)
	if known, present, _, _, _ := c.encSlot(1, key); known {
		t.Fatalf("after a write too large to record: known %v present %v; want unknown", known, present)
	}
}

// TestEncodedTierSlowReader: a reader that found this replica's record in
// the encoded tier, or read storage, and is overtaken by a write, may
// answer what it read but must not cache it in either tier.
func TestEncodedTierSlowReader(t *testing.T) {
	cache := newObjCache(1<<20, MinEncodedCacheBytes)
	defer cache.close()
	v := newInternalEnvWith(t, cache).vnode
	k, lww, mk := slowReaderKey(t, v)
	kb := appendStorageKey(nil, k)
	dropDecoded(cache, v.part, kb)
	st := v.stripe(k)
	g := v.gens[st].Load()
	unchanged := func() bool { return v.gens[st].Load() == g }
	known, present, sum, size, _ := cache.encSlot(v.part, kb)
	stale, ok := cache.encObject(kb, sum, size)
	if !known || !present || !ok || string(stale.Siblings[0].Value) != "old" {
		t.Fatalf("the encoded tier does not serve the old value: %v %v %v", known, present, ok)
	}
	if _, err := v.Put(k, mk("new"), lww, false); err != nil {
		t.Fatal(err)
	}
	dropDecoded(cache, v.part, kb) // even if the writer's entry were evicted...
	cache.promote(v.part, kb, stale, size, sum, true, unchanged)
	cache.addIfUnchanged(v.part, kb, stale, size, sum, unchanged)
	if _, ok := cache.get(v.part, kb); ok {
		t.Fatal("a slow reader's object entered the decoded tier")
	}
	if _, _, s2, _, _ := cache.encSlot(v.part, kb); s2 == sum {
		t.Fatal("a slow reader's record replaced the write's in the encoded tier")
	}
	got, err := v.Get(k)
	if err != nil || string(got.Siblings[0].Value) != "new" {
		t.Fatalf("Get after a slow reader: %v, %v; want new", got, err)
	}
}

// TestEncodedTierServesWhatTheDecodedEvicted: with a decoded tier too small
// for the data, reads are served from the encoded tier, and N replicas of a
// key on one node share one encoding.
func TestEncodedTierServesWhatTheDecodedEvicted(t *testing.T) {
	cache := newObjCache(cacheShards*8<<10, MinEncodedCacheBytes)
	defer cache.close()
	e := newInternalEnvWith(t, cache)
	v := e.vnode
	lww := Props{LastWriteWins: true, SyncOnWrite: "none"}
	const n = 2000
	val := bytes.Repeat([]byte{'x'}, 1000)
	for i := range n {
		k := Key{Type: DefaultType, Bucket: "b", Key: fmt.Sprint("k", i)}
		o := &siblings.Object{Siblings: []siblings.Sibling{{Value: append(val[:len(val):len(val)], fmt.Sprint(i)...), Meta: siblings.Meta{VTag: fmt.Sprint(i)}}}}
		if _, err := v.Put(k, o, lww, false); err != nil {
			t.Fatal(err)
		}
	}
	before := cache.stats()
	if before.Entries >= n/2 {
		t.Fatalf("the decoded tier holds %d of %d keys; the test needs it to evict", before.Entries, n)
	}
	for i := range n {
		k := Key{Type: DefaultType, Bucket: "b", Key: fmt.Sprint("k", i)}
		o, err := v.Get(k)
		if err != nil || o == nil || !bytes.HasSuffix(o.Siblings[0].Value, []byte(fmt.Sprint(i))) {
			t.Fatalf("Get %s = %v, %v", k.Key, o, err)
		}
	}
	after := cache.stats()
	if misses := after.Misses - before.Misses; misses != 0 {
		t.Fatalf("%d reads went to storage; the encoded tier holds every key", misses)
	}
	if hits := after.EncodedHits - before.EncodedHits; hits < n/2 {
		t.Fatalf("the encoded tier served %d reads of %d", hits, n)
	}
	// A second partition's replica of a key, equal to the first, is
	// served by the key's encoding after only its stored sum is read.
	eng := v.eng
	v2, err := openVnode(storage.Partition(v.part+1), vnodeConfig{eng: eng, clk: v.clk, limits: v.limits, rand: v.rand, cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	k := Key{Type: DefaultType, Bucket: "b", Key: "k1"}
	o, _ := v.Get(k)
	raw := wire.EncodeObject(o)
	var b storage.Batch
	b.Set(v2.part, appendStorageKey(nil, k), raw)
	if err := eng.Write(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	kb := appendStorageKey(nil, k)
	dropDecoded(cache, v.part, kb)
	dropDecoded(cache, v2.part, kb)
	mid := cache.stats()
	o2, err := v2.Get(k)
	if err != nil || !siblings.Equal(o, o2) {
		t.Fatalf("the second replica: %v, %v", o2, err)
	}
	if end := cache.stats(); end.Misses != mid.Misses || end.EncodedHits != mid.EncodedHits+1 {
		t.Fatalf("the second replica's read: %+v then %+v; want one encoded hit and no miss", mid, end)
	}
}

// TestEncodedTierContentOnce: storing a key's encoding again (the next
// replica of the same write) appends nothing to fastcache's ring; a new
// encoding replaces it.
func TestEncodedTierContentOnce(t *testing.T) {
	c := newObjCache(0, MinEncodedCacheBytes)
	defer c.close()
	sets := func() uint64 {
		var s fastcache.Stats
		c.enc.c.UpdateStats(&s)
		return s.SetCalls
	}
	key := []byte("b/k")
	a, b := wire.EncodeObject(objOf("a")), wire.EncodeObject(objOf("b"))
	for range 3 {
		c.setContent(key, a, objSum(a))
	}
	if n := sets(); n != 1 {
		t.Fatalf("three stores of one encoding made %d sets; want 1", n)
	}
	c.setContent(key, b, objSum(b))
	if n := sets(); n != 2 {
		t.Fatalf("a new encoding made %d sets in all; want 2", n)
	}
	if _, ok := c.encObject(key, objSum(b), len(b)); !ok {
		t.Fatal("the new encoding is not served")
	}
	if _, ok := c.encObject(key, objSum(a), len(a)); ok {
		t.Fatal("the replaced encoding is still served")
	}
}

// TestEncodedTierKeepsWhatIsRead: fastcache's rings overwrite their oldest
// records whatever their use; a record read at least once per half turn
// of the ring is written again and survives, one not read is evicted.
func TestEncodedTierKeepsWhatIsRead(t *testing.T) {
	c := newObjCache(0, MinEncodedCacheBytes)
	defer c.close()
	always := func() bool { return true }
	put := func(key []byte, o *siblings.Object) {
		enc := wire.EncodeObject(o)
		c.setContent(key, enc, objSum(enc))
		c.set(1, key, o, len(enc), objSum(enc))
	}
	// read is what Vnode.cached does with the encoded tier's records.
	read := func(key []byte) bool {
		known, present, sum, size, old := c.encSlot(1, key)
		if !known || !present {
			return false
		}
		o, ok := c.encObject(key, sum, size)
		if ok {
			c.promote(1, key, o, size, sum, old, always)
		}
		return ok
	}
	hot, cold := []byte("b/hot"), []byte("b/cold")
	put(hot, objOf("h"))
	put(cold, objOf("c"))
	filler := objOf(string(bytes.Repeat([]byte{'f'}, 1000)))
	n := 0
	for round := range 5 {
		// Six tenths of the ring's capacity, spread over its buckets.
		for written := 0; written < MinEncodedCacheBytes*6/10; written += 1100 {
			put(fmt.Appendf(nil, "b/filler%d", n), filler)
			n++
		}
		if !read(hot) {
			t.Fatalf("round %d: the key read every round was evicted", round)
		}
	}
	if read(cold) {
		t.Fatal("a key never read survived three turns of the ring")
	}
}
