package storagetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/kv/storage"
)

// watchdog bounds a call that could deadlock, so that a broken engine fails
// with every goroutine's stack instead of hanging the test binary. It is a
// liveness guard, never a performance assertion.
const watchdog = 20 * time.Second

// Run runs the conformance suite, one subtest per property. open must
// return a new, empty engine each time it is called; it may register its
// own cleanups on t (a temp dir, say). Run closes every engine it opens
// (tolerating ErrClosed when a subtest closed it already) and reports an
// error if that Close fails or hangs.
func Run(t *testing.T, open func(t *testing.T) storage.Engine) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, e storage.Engine)
	}{
		{"GetMissing", testGetMissing},
		{"SetGet", testSetGet},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"EmptyValues", testEmptyValues},
		{"EmptyBatch", testEmptyBatch},
		{"PartitionsIsolated", testPartitionsIsolated},
		{"MetaSeparate", testMetaSeparate},
		{"ScanMeta", testScanMeta},
		{"BatchOrdered", testBatchOrdered},
		{"BatchAtomic", testBatchAtomic},
		{"ScanOrderAndPrefix", testScanOrderAndPrefix},
		{"ScanMany", testScanMany},
		{"ScanStops", testScanStops},
		{"ScanSnapshot", testScanSnapshot},
		{"ScanSnapshotDrop", testScanSnapshotDrop},
		{"DropPartition", testDropPartition},
		{"GetReturnsCopy", testGetReturnsCopy},
		{"WriteDoesNotRetain", testWriteDoesNotRetain},
		{"SyncWrite", testSyncWrite},
		{"Concurrent", testConcurrent},
		{"Closed", testClosed},
		{"CloseDuringScan", testCloseDuringScan},
		{"CloseConcurrent", testCloseConcurrent},
		{"IteratorRange", testIteratorRange},
		{"IteratorSnapshot", testIteratorSnapshot},
		{"IndexSpaceSeparate", testIndexSpaceSeparate},
		{"DropPartitionDropsIndex", testDropPartitionDropsIndex},
		{"Estimate", testEstimate},
		{"Sums", testSums},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := open(t)
			if e == nil {
				t.Fatal("open returned a nil engine")
			}
			t.Cleanup(func() {
				within(t, "Close", func() {
					if err := e.Close(); err != nil && !errors.Is(err, storage.ErrClosed) {
						t.Errorf("Close: %v", err)
					}
				})
			})
			c.fn(t, e)
		})
	}
}

// ---- helpers ----

// within runs fn and fails the test if it does not return before the
// watchdog fires (a deadlock). fn may call t.Error but not t.Fatal.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	timer := time.NewTimer(watchdog)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("%s did not return within %v (deadlock?)\n%s", what, watchdog, buf[:n])
	}
}

type kv struct{ k, v string }

func (p kv) String() string { return fmt.Sprintf("%q=%q", p.k, p.v) }

func write(t *testing.T, e storage.Engine, sync bool, fill func(b *storage.Batch)) {
	t.Helper()
	var b storage.Batch
	fill(&b)
	if err := e.Write(&b, storage.WriteOptions{Sync: sync}); err != nil {
		t.Fatalf("Write(%d ops, sync=%v): %v", b.Len(), sync, err)
	}
}

func set(t *testing.T, e storage.Engine, p storage.Partition, k, v string) {
	t.Helper()
	write(t, e, false, func(b *storage.Batch) { b.Set(p, []byte(k), []byte(v)) })
}

func setMeta(t *testing.T, e storage.Engine, k, v string) {
	t.Helper()
	write(t, e, false, func(b *storage.Batch) { b.SetMeta([]byte(k), []byte(v)) })
}

func del(t *testing.T, e storage.Engine, p storage.Partition, k string) {
	t.Helper()
	write(t, e, false, func(b *storage.Batch) { b.Delete(p, []byte(k)) })
}

func wantValue(t *testing.T, e storage.Engine, p storage.Partition, k, want string) {
	t.Helper()
	got, err := e.Get(p, []byte(k))
	if err != nil {
		t.Fatalf("Get(%d, %q): %v, want %q", p, k, err, want)
	}
	if string(got) != want {
		t.Fatalf("Get(%d, %q) = %q, want %q", p, k, got, want)
	}
}

func wantAbsent(t *testing.T, e storage.Engine, p storage.Partition, k string) {
	t.Helper()
	v, err := e.Get(p, []byte(k))
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(%d, %q) = %q, %v; want ErrNotFound", p, k, v, err)
	}
}

func wantMeta(t *testing.T, e storage.Engine, k, want string) {
	t.Helper()
	got, err := e.GetMeta([]byte(k))
	if err != nil {
		t.Fatalf("GetMeta(%q): %v, want %q", k, err, want)
	}
	if string(got) != want {
		t.Fatalf("GetMeta(%q) = %q, want %q", k, got, want)
	}
}

func wantMetaAbsent(t *testing.T, e storage.Engine, k string) {
	t.Helper()
	v, err := e.GetMeta([]byte(k))
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetMeta(%q) = %q, %v; want ErrNotFound", k, v, err)
	}
}

// scan collects a full scan, copying keys and values (they are only valid
// during the callback).
func scan(t *testing.T, e storage.Engine, p storage.Partition, prefix string) []kv {
	t.Helper()
	var out []kv
	var pfx []byte
	if prefix != "" {
		pfx = []byte(prefix)
	}
	if err := e.Scan(p, pfx, func(k, v []byte) error {
		out = append(out, kv{string(k), string(v)})
		return nil
	}); err != nil {
		t.Fatalf("Scan(%d, %q): %v", p, prefix, err)
	}
	return out
}

func wantScan(t *testing.T, e storage.Engine, p storage.Partition, prefix string, want []kv) {
	t.Helper()
	got := scan(t, e, p, prefix)
	if !slices.Equal(got, want) {
		t.Fatalf("Scan(%d, %q):\n got  %v\n want %v", p, prefix, got, want)
	}
}

// sorted returns the pairs of m sorted by key (Go compares strings
// bytewise, which is the engine's order).
func sorted(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].k < out[j].k })
	return out
}

func filterPrefix(all []kv, prefix string) []kv {
	var out []kv
	for _, p := range all {
		if strings.HasPrefix(p.k, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// ---- tests ----

func testGetMissing(t *testing.T, e storage.Engine) {
	for _, p := range []storage.Partition{0, 1, 255, 256, 65535} {
		wantAbsent(t, e, p, "missing")
		wantAbsent(t, e, p, "")
	}
	if _, err := e.Get(0, nil); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(0, nil): %v, want ErrNotFound", err)
	}
	wantMetaAbsent(t, e, "missing")
	wantMetaAbsent(t, e, "")
	wantScan(t, e, 0, "", nil)
	wantScan(t, e, 65535, "", nil)

	// Still missing next to present keys, including a key's own prefixes
	// and extensions.
	set(t, e, 3, "abc", "v")
	wantAbsent(t, e, 3, "ab")
	wantAbsent(t, e, 3, "abcd")
	wantAbsent(t, e, 3, "abc\x00")
}

func testSetGet(t *testing.T, e storage.Engine) {
	set(t, e, 0, "k", "v")
	wantValue(t, e, 0, "k", "v")
	setMeta(t, e, "m", "mv")
	wantMeta(t, e, "m", "mv")

	// A long key (past any small fixed key buffer) and a large value.
	long := strings.Repeat("K", 300)
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	set(t, e, 42, long, big)
	wantValue(t, e, 42, long, big)
	wantAbsent(t, e, 42, long[:299])

	// Binary keys and values.
	set(t, e, 7, "\x00\xff\x00", "\xff\x00\xff")
	wantValue(t, e, 7, "\x00\xff\x00", "\xff\x00\xff")
}

func testOverwrite(t *testing.T, e storage.Engine) {
	set(t, e, 1, "k", "first")
	set(t, e, 1, "k", "a much longer second value")
	wantValue(t, e, 1, "k", "a much longer second value")
	set(t, e, 1, "k", "3")
	wantValue(t, e, 1, "k", "3")
	set(t, e, 1, "k", "")
	wantValue(t, e, 1, "k", "")
	wantScan(t, e, 1, "", []kv{{"k", ""}})

	setMeta(t, e, "m", "one")
	setMeta(t, e, "m", "two")
	wantMeta(t, e, "m", "two")
}

func testDelete(t *testing.T, e storage.Engine) {
	set(t, e, 2, "a", "1")
	set(t, e, 2, "b", "2")
	del(t, e, 2, "a")
	wantAbsent(t, e, 2, "a")
	wantValue(t, e, 2, "b", "2")
	wantScan(t, e, 2, "", []kv{{"b", "2"}})

	// Deleting a missing key is not an error.
	del(t, e, 2, "never")
	del(t, e, 2, "a")

	// A deleted key can be written again.
	set(t, e, 2, "a", "again")
	wantValue(t, e, 2, "a", "again")

	setMeta(t, e, "m", "v")
	write(t, e, false, func(b *storage.Batch) { b.DeleteMeta([]byte("m")) })
	wantMetaAbsent(t, e, "m")
	write(t, e, false, func(b *storage.Batch) { b.DeleteMeta([]byte("never")) })
}

func testEmptyValues(t *testing.T, e storage.Engine) {
	write(t, e, false, func(b *storage.Batch) {
		b.Set(4, []byte("empty"), []byte{})
		b.Set(4, []byte("nil"), nil)
		b.SetMeta([]byte("m-empty"), []byte{})
	})
	for _, k := range []string{"empty", "nil"} {
		v, err := e.Get(4, []byte(k))
		if err != nil || len(v) != 0 {
			t.Fatalf("Get(4, %q) = %q, %v; want empty value, nil error", k, v, err)
		}
	}
	v, err := e.GetMeta([]byte("m-empty"))
	if err != nil || len(v) != 0 {
		t.Fatalf("GetMeta(m-empty) = %q, %v; want empty value, nil error", v, err)
	}
	wantScan(t, e, 4, "", []kv{{"empty", ""}, {"nil", ""}})
}

func testEmptyBatch(t *testing.T, e storage.Engine) {
	for _, sync := range []bool{false, true} {
		if err := e.Write(&storage.Batch{}, storage.WriteOptions{Sync: sync}); err != nil {
			t.Fatalf("Write(empty, sync=%v): %v", sync, err)
		}
	}
	wantScan(t, e, 0, "", nil)
}

func testPartitionsIsolated(t *testing.T, e storage.Engine) {
	parts := []storage.Partition{0, 1, 2, 255, 256, 65534, 65535}
	write(t, e, false, func(b *storage.Batch) {
		for _, p := range parts {
			b.Set(p, []byte("k"), []byte(fmt.Sprintf("v%d", p)))
		}
	})
	for _, p := range parts {
		wantValue(t, e, p, "k", fmt.Sprintf("v%d", p))
	}
	// Neighbours of each used partition (and far ones) do not see it.
	for _, p := range []storage.Partition{3, 254, 257, 511, 65533} {
		wantAbsent(t, e, p, "k")
	}

	// Deleting and overwriting in one partition leaves the others alone.
	del(t, e, 1, "k")
	set(t, e, 65535, "k", "changed")
	wantAbsent(t, e, 1, "k")
	wantValue(t, e, 0, "k", "v0")
	wantValue(t, e, 2, "k", "v2")
	wantValue(t, e, 65534, "k", "v65534")
	wantValue(t, e, 65535, "k", "changed")

	// A key only in partition 1 never shows in scans of its neighbours.
	set(t, e, 1, "only-in-1", "x")
	set(t, e, 1, "\xff\xff", "x") // would leak into a badly bounded scan of 1
	wantAbsent(t, e, 0, "only-in-1")
	wantAbsent(t, e, 2, "only-in-1")
	for _, p := range []storage.Partition{0, 2} {
		wantScan(t, e, p, "", []kv{{"k", fmt.Sprintf("v%d", p)}})
		wantScan(t, e, p, "only", nil)
		wantScan(t, e, p, "\xff", nil)
	}
	wantScan(t, e, 1, "", []kv{{"only-in-1", "x"}, {"\xff\xff", "x"}})
	wantScan(t, e, 255, "", []kv{{"k", "v255"}})
	wantScan(t, e, 256, "", []kv{{"k", "v256"}})
	wantScan(t, e, 65535, "", []kv{{"k", "changed"}})
}

func testMetaSeparate(t *testing.T, e storage.Engine) {
	// Metadata keys chosen to collide with a careless encoding of data keys:
	// a bare key, and keys that begin with a big-endian partition number.
	metaKeys := []string{"x", "\x00\x00x", "\x00\x01x", "\xff\xffx", "d\x00\x00x", "m"}
	write(t, e, false, func(b *storage.Batch) {
		for _, k := range metaKeys {
			b.SetMeta([]byte(k), []byte("meta:"+k))
		}
	})
	for _, k := range metaKeys {
		wantMeta(t, e, k, "meta:"+k)
	}
	for _, p := range []storage.Partition{0, 1, 0x6400, 0x6d00, 65535} {
		for _, k := range append(metaKeys, "x") {
			wantAbsent(t, e, p, k)
		}
		wantScan(t, e, p, "", nil)
	}

	// And the other way round: data keys are not metadata.
	set(t, e, 0, "y", "data")
	set(t, e, 1, "x", "data")
	wantMetaAbsent(t, e, "y")
	wantMeta(t, e, "x", "meta:x")
	wantValue(t, e, 1, "x", "data")
	wantScan(t, e, 0, "", []kv{{"y", "data"}})

	// Deleting one does not delete the other.
	del(t, e, 1, "x")
	wantMeta(t, e, "x", "meta:x")
	set(t, e, 1, "x", "data")
	write(t, e, false, func(b *storage.Batch) { b.DeleteMeta([]byte("x")) })
	wantValue(t, e, 1, "x", "data")
	wantMetaAbsent(t, e, "x")
}

func testScanMeta(t *testing.T, e storage.Engine) {
	write(t, e, false, func(b *storage.Batch) {
		for _, k := range []string{"cm\x00b", "cm\x00a", "cm", "cn\x00x", "c", "bm\x00z"} {
			b.SetMeta([]byte(k), []byte("v"+k))
		}
		// Object keys with the same bytes are not metadata.
		b.Set(0, []byte("cm\x00c"), []byte("object"))
	})
	var got []string
	err := e.ScanMeta([]byte("cm\x00"), func(k, v []byte) error {
		if string(v) != "v"+string(k) {
			t.Errorf("ScanMeta: %q = %q", k, v)
		}
		got = append(got, string(k))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"cm\x00a", "cm\x00b"}; !slices.Equal(got, want) {
		t.Fatalf("ScanMeta(cm\\0) = %q, want %q", got, want)
	}
	stop := errors.New("stop")
	n := 0
	if err := e.ScanMeta(nil, func(k, v []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("ScanMeta did not stop at the callback's error: %v after %d keys", err, n)
	}
}

func testBatchOrdered(t *testing.T, e storage.Engine) {
	set(t, e, 0, "b", "old")
	write(t, e, false, func(b *storage.Batch) {
		b.Set(0, []byte("a"), []byte("1"))
		b.Delete(0, []byte("a")) // set then delete: absent
		b.Delete(0, []byte("b"))
		b.Set(0, []byte("b"), []byte("2")) // delete then set: present
		b.Set(0, []byte("c"), []byte("1"))
		b.Set(0, []byte("c"), []byte("2")) // last set wins
		b.Set(1, []byte("a"), []byte("p1"))
		b.Delete(2, []byte("a")) // other partition: no effect on 1
		b.SetMeta([]byte("m1"), []byte("x"))
		b.DeleteMeta([]byte("m1"))
		b.DeleteMeta([]byte("m2"))
		b.SetMeta([]byte("m2"), []byte("y"))
	})
	wantAbsent(t, e, 0, "a")
	wantValue(t, e, 0, "b", "2")
	wantValue(t, e, 0, "c", "2")
	wantValue(t, e, 1, "a", "p1")
	wantMetaAbsent(t, e, "m1")
	wantMeta(t, e, "m2", "y")
	wantScan(t, e, 0, "", []kv{{"b", "2"}, {"c", "2"}})

	// A big mixed batch lands whole.
	want := map[storage.Partition]map[string]string{}
	write(t, e, false, func(b *storage.Batch) {
		for i := 0; i < 1000; i++ {
			p := storage.Partition(10 + i%7)
			k := fmt.Sprintf("key%04d", i)
			v := fmt.Sprintf("val%d", i)
			b.Set(p, []byte(k), []byte(v))
			if want[p] == nil {
				want[p] = map[string]string{}
			}
			want[p][k] = v
			if i%100 == 0 {
				b.SetMeta([]byte(k), []byte(v))
			}
		}
	})
	for p, m := range want {
		wantScan(t, e, p, "", sorted(m))
	}
	wantMeta(t, e, "key0500", "val500")
}

// testBatchAtomic checks that a concurrent Scan sees a batch all or
// nothing: the writer alternately sets 16 keys to one generation and
// deletes them all, each time in one batch.
func testBatchAtomic(t *testing.T, e storage.Engine) {
	const p, nkeys, gens = storage.Partition(3), 16, 200
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		var b storage.Batch
		for g := 0; g < gens; g++ {
			b.Reset()
			for i := 0; i < nkeys; i++ {
				k := []byte(fmt.Sprintf("k%02d", i))
				if g%2 == 0 {
					b.Set(p, k, []byte(fmt.Sprintf("gen%d", g)))
				} else {
					b.Delete(p, k)
				}
			}
			if err := e.Write(&b, storage.WriteOptions{}); err != nil {
				t.Errorf("Write gen %d: %v", g, err)
				return
			}
		}
	}()
	scans := 0
	for stop := false; !stop; scans++ {
		select {
		case <-done:
			stop = true // one last scan of the final state
		default:
		}
		var vals []string
		if err := e.Scan(p, nil, func(k, v []byte) error {
			vals = append(vals, string(v))
			return nil
		}); err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if len(vals) != 0 && len(vals) != nkeys {
			t.Fatalf("Scan saw %d keys of a %d-key batch: %v", len(vals), nkeys, vals)
		}
		for _, v := range vals {
			if v != vals[0] {
				t.Fatalf("Scan saw mixed generations: %v", vals)
			}
		}
	}
	wg.Wait()
	if scans < 2 {
		t.Logf("only %d scans ran", scans)
	}
	// The last generation (199) deleted everything.
	wantScan(t, e, p, "", nil)
}

// scanKeys are awkward keys: empty, 0x00 and 0xff bytes, keys that are
// prefixes of one another.
var scanKeys = []string{
	"", "\x00", "\x00\x00", "\x00\xff", "a", "a\x00", "a\xff", "ab", "abc",
	"b", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff",
}

func scanValue(p storage.Partition, i int) string {
	switch i % 4 {
	case 1:
		return "" // empty values scan as empty
	case 2:
		return fmt.Sprintf("\x00%d\xff%d", p, i)
	default:
		return fmt.Sprintf("v%d-%d", p, i)
	}
}

func testScanOrderAndPrefix(t *testing.T, e storage.Engine) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Each partition under test has populated neighbours (with different
	// values) and there is metadata, so a leak past either end shows.
	parts := []storage.Partition{0, 1, 255, 256, 257, 65534, 65535}
	want := map[storage.Partition][]kv{}
	for _, p := range parts {
		m := map[string]string{}
		for i, k := range scanKeys {
			m[k] = scanValue(p, i)
		}
		want[p] = sorted(m)
		// Insert in random order over several batches.
		perm := rng.Perm(len(scanKeys))
		for len(perm) > 0 {
			n := min(len(perm), 1+rng.IntN(4))
			write(t, e, false, func(b *storage.Batch) {
				for _, i := range perm[:n] {
					b.Set(p, []byte(scanKeys[i]), []byte(scanValue(p, i)))
				}
			})
			perm = perm[n:]
		}
	}
	write(t, e, false, func(b *storage.Batch) {
		for _, k := range scanKeys {
			b.SetMeta([]byte(k), []byte("meta"))
		}
	})

	prefixes := []string{
		"", "a", "ab", "abc", "abcd", "b", "c", "\x00", "\x00\x00", "\xff",
		"\xff\xff", "\xff\xff\xff", "\xff\xff\xff\xff",
	}
	for _, p := range parts {
		for _, prefix := range prefixes {
			wantScan(t, e, p, prefix, filterPrefix(want[p], prefix))
		}
	}
	// An empty non-nil prefix is the same as nil.
	n := 0
	if err := e.Scan(65535, []byte{}, func(k, v []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != len(scanKeys) {
		t.Fatalf("Scan(65535, []byte{}) saw %d keys, want %d", n, len(scanKeys))
	}
	// Partitions with nothing in them, between and beyond used ones.
	wantScan(t, e, 2, "", nil)
	wantScan(t, e, 254, "", nil)
	wantScan(t, e, 65533, "", nil)
}

func testScanMany(t *testing.T, e storage.Engine) {
	const n = 2000
	rng := rand.New(rand.NewPCG(3, 4))
	perm := rng.Perm(n)
	var b storage.Batch
	for j, i := range perm {
		k := binary.BigEndian.AppendUint32(nil, uint32(i)<<21) // spans first bytes 0x00..0xf9
		b.Set(9, k, binary.BigEndian.AppendUint32(nil, uint32(i)))
		if b.Len() == 100 || j == n-1 {
			if err := e.Write(&b, storage.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			b = storage.Batch{}
		}
	}
	var prev []byte
	i := 0
	if err := e.Scan(9, nil, func(k, v []byte) error {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return fmt.Errorf("key %x after %x", k, prev)
		}
		if got := binary.BigEndian.Uint32(v); got != uint32(i) {
			return fmt.Errorf("key %x: value %d, want %d", k, got, i)
		}
		prev = bytes.Clone(k)
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("scan saw %d keys, want %d", i, n)
	}
}

func testScanStops(t *testing.T, e storage.Engine) {
	write(t, e, false, func(b *storage.Batch) {
		for i := 0; i < 10; i++ {
			b.Set(5, []byte(fmt.Sprintf("k%d", i)), []byte("v"))
		}
	})
	errStop := errors.New("stop here")
	var seen []string
	err := e.Scan(5, nil, func(k, v []byte) error {
		seen = append(seen, string(k))
		if len(seen) == 3 {
			return fmt.Errorf("wrapped: %w", errStop)
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Scan returned %v, want the callback's error", err)
	}
	if !slices.Equal(seen, []string{"k0", "k1", "k2"}) {
		t.Fatalf("callback saw %q, want k0 k1 k2 then stop", seen)
	}
	// Stopping on the first key.
	calls := 0
	err = e.Scan(5, []byte("k9"), func(k, v []byte) error { calls++; return errStop })
	if !errors.Is(err, errStop) || calls != 1 {
		t.Fatalf("Scan = %v after %d calls, want errStop after 1", err, calls)
	}
	// The engine is fine afterwards (and Close, in cleanup, finds no leaked
	// iterator).
	if got := scan(t, e, 5, ""); len(got) != 10 {
		t.Fatalf("scan after stop saw %d keys, want 10", len(got))
	}
}

// testScanSnapshot writes, reads and scans from inside a Scan callback:
// nothing deadlocks, the outer scan sees the state from when it began, and
// calls made in the callback see the new state.
func testScanSnapshot(t *testing.T, e storage.Engine) {
	const p = storage.Partition(6)
	orig := map[string]string{}
	write(t, e, false, func(b *storage.Batch) {
		for i := 0; i < 10; i++ {
			k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
			b.Set(p, []byte(k), []byte(v))
			orig[k] = v
		}
	})
	final := map[string]string{}
	for k, v := range orig {
		final[k] = v
	}
	final["k3"] = "changed"
	delete(final, "k7")
	final["k55"] = "new"
	final["k99"] = "new"
	final["k0"] = "changed"

	var got []kv
	first := true
	within(t, "Scan with a re-entrant callback", func() {
		err := e.Scan(p, nil, func(k, v []byte) error {
			got = append(got, kv{string(k), string(v)})
			if !first {
				return nil
			}
			first = false
			var b storage.Batch
			b.Set(p, []byte("k3"), []byte("changed")) // later key, overwritten
			b.Delete(p, []byte("k7"))                 // later key, deleted
			b.Set(p, []byte("k55"), []byte("new"))    // new key inside the range
			b.Set(p, []byte("k99"), []byte("new"))    // new key at the end
			b.Set(p, []byte("k0"), []byte("changed")) // the current key
			if err := e.Write(&b, storage.WriteOptions{}); err != nil {
				return fmt.Errorf("Write in callback: %w", err)
			}
			if err := e.Write(&storage.Batch{}, storage.WriteOptions{Sync: true}); err != nil {
				return fmt.Errorf("sync Write in callback: %w", err)
			}
			// Calls in the callback see the new state.
			if v, err := e.Get(p, []byte("k3")); err != nil || string(v) != "changed" {
				return fmt.Errorf("Get in callback = %q, %v; want changed", v, err)
			}
			var inner []kv
			if err := e.Scan(p, nil, func(k, v []byte) error {
				inner = append(inner, kv{string(k), string(v)})
				return nil
			}); err != nil {
				return fmt.Errorf("nested Scan: %w", err)
			}
			if !slices.Equal(inner, sorted(final)) {
				return fmt.Errorf("nested Scan saw %v, want %v", inner, sorted(final))
			}
			return nil
		})
		if err != nil {
			t.Errorf("Scan: %v", err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	if !slices.Equal(got, sorted(orig)) {
		t.Fatalf("Scan saw writes made during it:\n got  %v\n want %v", got, sorted(orig))
	}
	wantScan(t, e, p, "", sorted(final))
}

// testScanSnapshotDrop drops the partition being scanned from inside the
// callback: the scan still sees every key.
func testScanSnapshotDrop(t *testing.T, e storage.Engine) {
	const p = storage.Partition(8)
	var want []kv
	write(t, e, false, func(b *storage.Batch) {
		for i := 0; i < 5; i++ {
			k := fmt.Sprintf("k%d", i)
			b.Set(p, []byte(k), []byte("v"))
			want = append(want, kv{k, "v"})
		}
	})
	var got []kv
	within(t, "Scan with DropPartition in the callback", func() {
		err := e.Scan(p, nil, func(k, v []byte) error {
			if len(got) == 0 {
				if err := e.DropPartition(p); err != nil {
					return fmt.Errorf("DropPartition in callback: %w", err)
				}
			}
			got = append(got, kv{string(k), string(v)})
			return nil
		})
		if err != nil {
			t.Errorf("Scan: %v", err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Scan during DropPartition saw %v, want %v", got, want)
	}
	wantScan(t, e, p, "", nil)
}

func testDropPartition(t *testing.T, e storage.Engine) {
	fill := func(parts ...storage.Partition) {
		write(t, e, false, func(b *storage.Batch) {
			for _, p := range parts {
				for _, k := range scanKeys {
					b.Set(p, []byte(k), []byte(fmt.Sprint(p)))
				}
			}
			for _, k := range scanKeys {
				b.SetMeta([]byte(k), []byte("meta"))
			}
		})
	}
	wantFull := func(p storage.Partition) {
		t.Helper()
		if got := scan(t, e, p, ""); len(got) != len(scanKeys) {
			t.Fatalf("partition %d has %d keys after a neighbour's drop, want %d: %v",
				p, len(got), len(scanKeys), got)
		}
		for _, k := range scanKeys {
			wantValue(t, e, p, k, fmt.Sprint(p))
		}
	}
	wantEmpty := func(p storage.Partition) {
		t.Helper()
		wantScan(t, e, p, "", nil)
		for _, k := range scanKeys {
			wantAbsent(t, e, p, k)
		}
	}
	wantMetaIntact := func() {
		t.Helper()
		for _, k := range scanKeys {
			wantMeta(t, e, k, "meta")
		}
	}

	fill(0, 1, 2, 255, 256, 257, 65534, 65535)
	for _, c := range []struct {
		drop        storage.Partition
		neighbours  []storage.Partition
		description string
	}{
		{1, []storage.Partition{0, 2}, "middle"},
		{256, []storage.Partition{255, 257}, "byte boundary"},
		{0, []storage.Partition{2}, "first"},
		{65535, []storage.Partition{65534}, "last (prefix end overflows)"},
	} {
		if err := e.DropPartition(c.drop); err != nil {
			t.Fatalf("DropPartition(%d) [%s]: %v", c.drop, c.description, err)
		}
		wantEmpty(c.drop)
		for _, p := range c.neighbours {
			wantFull(p)
		}
		wantMetaIntact()
	}

	// Dropping an empty partition, or one dropped already, is fine.
	for _, p := range []storage.Partition{1, 3, 65535} {
		if err := e.DropPartition(p); err != nil {
			t.Fatalf("DropPartition(%d) of an empty partition: %v", p, err)
		}
	}
	// A dropped partition takes new writes.
	fill(1, 65535)
	wantFull(1)
	wantFull(65535)
	wantFull(2)
}

func testGetReturnsCopy(t *testing.T, e storage.Engine) {
	set(t, e, 0, "k", "value")
	setMeta(t, e, "m", "meta")
	v, err := e.Get(0, []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range v {
		v[i] = 'X'
	}
	_ = append(v[:0], "overwritten by append"...)
	wantValue(t, e, 0, "k", "value")
	mv, err := e.GetMeta([]byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range mv {
		mv[i] = 'X'
	}
	wantMeta(t, e, "m", "meta")
	// Two Gets do not share a buffer.
	a, _ := e.Get(0, []byte("k"))
	b, _ := e.Get(0, []byte("k"))
	a[0] = 'Z'
	if string(b) != "value" {
		t.Fatalf("second Get's slice changed with the first's: %q", b)
	}
}

func testWriteDoesNotRetain(t *testing.T, e storage.Engine) {
	key := []byte("key")
	val := []byte("value")
	mkey := []byte("mkey")
	mval := []byte("mval")
	var b storage.Batch
	b.Set(0, key, val)
	b.SetMeta(mkey, mval)
	if err := e.Write(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	copy(key, "KEY")
	copy(val, "VALUE")
	copy(mkey, "MKEY")
	copy(mval, "MVAL")
	wantValue(t, e, 0, "key", "value")
	wantAbsent(t, e, 0, "KEY")
	wantMeta(t, e, "mkey", "mval")
	wantMetaAbsent(t, e, "MKEY")

	// Reusing a batch and its buffers does not disturb earlier writes.
	b.Reset()
	buf := []byte("k1v1")
	b.Set(1, buf[:2], buf[2:])
	if err := e.Write(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "k2v2")
	b.Reset()
	b.Set(1, buf[:2], buf[2:])
	if err := e.Write(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "zzzz")
	wantScan(t, e, 1, "", []kv{{"k1", "v1"}, {"k2", "v2"}})
	wantValue(t, e, 0, "key", "value")

	// Keys passed to Get and Scan are not retained either.
	q := []byte("key")
	if _, err := e.Get(0, q); err != nil {
		t.Fatal(err)
	}
	copy(q, "zzz")
	wantValue(t, e, 0, "key", "value")
}

func testSyncWrite(t *testing.T, e storage.Engine) {
	sync := storage.WriteOptions{Sync: true}
	var b storage.Batch
	b.Set(0, []byte("a"), []byte("1"))
	b.Set(65535, []byte("b"), []byte("2"))
	b.SetMeta([]byte("m"), []byte("3"))
	if err := e.Write(&b, sync); err != nil {
		t.Fatalf("Write(sync): %v", err)
	}
	wantValue(t, e, 0, "a", "1")
	wantValue(t, e, 65535, "b", "2")
	wantMeta(t, e, "m", "3")
	b.Reset()
	b.Delete(0, []byte("a"))
	b.DeleteMeta([]byte("m"))
	if err := e.Write(&b, sync); err != nil {
		t.Fatalf("Write(sync): %v", err)
	}
	wantAbsent(t, e, 0, "a")
	wantMetaAbsent(t, e, "m")
	// Interleaved synced and unsynced writes.
	for i := 0; i < 20; i++ {
		b.Reset()
		b.Set(1, []byte(fmt.Sprintf("k%02d", i)), []byte("v"))
		if err := e.Write(&b, storage.WriteOptions{Sync: i%2 == 0}); err != nil {
			t.Fatal(err)
		}
	}
	if got := scan(t, e, 1, ""); len(got) != 20 {
		t.Fatalf("scan saw %d keys, want 20", len(got))
	}
}

// testConcurrent runs writers on disjoint key ranges (each keeps a model
// of its own keys and checks reads against it as it goes), a contended key
// written by all, and readers scanning alongside. Run it under -race.
func testConcurrent(t *testing.T, e storage.Engine) {
	const writers, ops, keysPer = 8, 500, 40
	parts := []storage.Partition{0, 1, 65535}
	const shared = storage.Partition(7)

	type result struct {
		model    map[string]string
		meta     string
		lastShrd string // last value this writer gave the shared key
	}
	results := make([]result, writers)
	done := make(chan struct{})
	var wg, rg sync.WaitGroup

	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			p := parts[g%len(parts)]
			pfx := fmt.Sprintf("g%d/", g)
			model := map[string]string{}
			res := &results[g]
			var b storage.Batch
			for i := 0; i < ops; i++ {
				b.Reset()
				k := fmt.Sprintf("%sk%02d", pfx, rng.IntN(keysPer))
				v := fmt.Sprintf("g%d-op%d", g, i)
				switch r := rng.IntN(100); {
				case r < 40: // set one to three keys
					for range 1 + rng.IntN(3) {
						k := fmt.Sprintf("%sk%02d", pfx, rng.IntN(keysPer))
						b.Set(p, []byte(k), []byte(v))
						model[k] = v
					}
				case r < 55:
					b.Delete(p, []byte(k))
					delete(model, k)
				case r < 65:
					b.Set(shared, []byte("shared"), []byte(v))
					res.lastShrd = v
				case r < 70:
					mk := []byte(fmt.Sprintf("meta-g%d", g))
					b.SetMeta(mk, []byte(v))
					res.meta = v
				case r < 90:
					got, err := e.Get(p, []byte(k))
					want, ok := model[k]
					switch {
					case ok && (err != nil || string(got) != want):
						t.Errorf("writer %d: Get(%q) = %q, %v; want %q", g, k, got, err, want)
						return
					case !ok && !errors.Is(err, storage.ErrNotFound):
						t.Errorf("writer %d: Get(%q) = %q, %v; want ErrNotFound", g, k, got, err)
						return
					}
					continue
				default:
					var got []kv
					if err := e.Scan(p, []byte(pfx), func(k, v []byte) error {
						got = append(got, kv{string(k), string(v)})
						return nil
					}); err != nil {
						t.Errorf("writer %d: Scan: %v", g, err)
						return
					}
					if want := sorted(model); !slices.Equal(got, want) {
						t.Errorf("writer %d: Scan(%q) =\n %v\nwant\n %v", g, pfx, got, want)
						return
					}
					continue
				}
				if err := e.Write(&b, storage.WriteOptions{Sync: i%100 == 99}); err != nil {
					t.Errorf("writer %d: Write: %v", g, err)
					return
				}
			}
			res.model = model
		}()
	}
	// Readers: whole-partition scans must be strictly ordered, Gets must
	// return a value or ErrNotFound. They stop when the writers do, or
	// after a bounded number of rounds so as not to starve them.
	for r := 0; r < 2; r++ {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for n := 0; n < 150; n++ {
				select {
				case <-done:
					return
				default:
				}
				p := parts[(r+n)%len(parts)]
				var prev []byte
				if err := e.Scan(p, nil, func(k, v []byte) error {
					if prev != nil && bytes.Compare(prev, k) >= 0 {
						return fmt.Errorf("key %q after %q", k, prev)
					}
					prev = append(prev[:0], k...)
					return nil
				}); err != nil {
					t.Errorf("reader %d: Scan(%d): %v", r, p, err)
					return
				}
				if _, err := e.Get(shared, []byte("shared")); err != nil && !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("reader %d: Get(shared): %v", r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	rg.Wait()
	if t.Failed() {
		return
	}

	// Final state.
	var lastShared []string
	for g, res := range results {
		p := parts[g%len(parts)]
		pfx := fmt.Sprintf("g%d/", g)
		wantScan(t, e, p, pfx, sorted(res.model))
		for i := 0; i < keysPer; i++ {
			k := fmt.Sprintf("%sk%02d", pfx, i)
			if v, ok := res.model[k]; ok {
				wantValue(t, e, p, k, v)
			} else {
				wantAbsent(t, e, p, k)
			}
		}
		if res.meta != "" {
			wantMeta(t, e, fmt.Sprintf("meta-g%d", g), res.meta)
		}
		if res.lastShrd != "" {
			lastShared = append(lastShared, res.lastShrd)
		}
	}
	// The contended key holds the last value written by one of the writers.
	v, err := e.Get(shared, []byte("shared"))
	if err != nil {
		t.Fatalf("Get(shared): %v", err)
	}
	if !slices.Contains(lastShared, string(v)) {
		t.Fatalf("shared key = %q, not the last write of any writer (%q)", v, lastShared)
	}
}

func testClosed(t *testing.T, e storage.Engine) {
	set(t, e, 0, "k", "v")
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
		}
	}
	_, err := e.Get(0, []byte("k"))
	check("Get", err)
	_, err = e.Get(0, []byte("missing"))
	check("Get(missing)", err)
	_, err = e.GetMeta([]byte("m"))
	check("GetMeta", err)
	var b storage.Batch
	b.Set(0, []byte("k2"), []byte("v"))
	check("Write", e.Write(&b, storage.WriteOptions{}))
	check("Write(sync)", e.Write(&b, storage.WriteOptions{Sync: true}))
	check("Write(empty batch)", e.Write(&storage.Batch{}, storage.WriteOptions{}))
	called := false
	check("Scan", e.Scan(0, nil, func(k, v []byte) error { called = true; return nil }))
	if called {
		t.Error("Scan after Close called its callback")
	}
	check("DropPartition", e.DropPartition(0))
	check("Close", e.Close())
}

// testCloseDuringScan closes the engine while a Scan callback is calling
// back into it (as a handoff sender might while the node shuts down). The
// callback's calls may succeed for a while or fail with ErrClosed, but
// nothing may deadlock; a read-write lock taken recursively by Scan and its
// callback would, as soon as Close queued for the write lock.
func testCloseDuringScan(t *testing.T, e storage.Engine) {
	const p = storage.Partition(11)
	write(t, e, false, func(b *storage.Batch) {
		for i := 0; i < 3; i++ {
			b.Set(p, []byte(fmt.Sprintf("k%d", i)), []byte("v"))
		}
	})
	closeErr := make(chan error, 1)
	within(t, "Scan whose callback races Close", func() {
		started := false
		err := e.Scan(p, nil, func(k, v []byte) error {
			if started {
				return nil
			}
			started = true
			go func() { closeErr <- e.Close() }()
			// Call in until the engine says it is closed, or a bounded
			// number of times if it chooses to serve calls until in-flight
			// ones end (a count, not wall time: the same on any machine).
			for range 20000 {
				_, err := e.Get(p, k)
				if errors.Is(err, storage.ErrClosed) {
					break
				}
				if err != nil {
					return fmt.Errorf("Get during Close: %w", err)
				}
				runtime.Gosched()
			}
			return nil
		})
		if err != nil && !errors.Is(err, storage.ErrClosed) {
			t.Errorf("Scan: %v", err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	within(t, "Close", func() {
		if err := <-closeErr; err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if _, err := e.Get(p, []byte("k0")); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
}

// testCloseConcurrent closes the engine under load: every call returns a
// normal result or ErrClosed, and once a caller has seen ErrClosed it keeps
// seeing it.
func testCloseConcurrent(t *testing.T, e storage.Engine) {
	const workers = 4
	var ready, wg sync.WaitGroup
	ready.Add(workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := storage.Partition(20 + w)
			closed := false
			signalled := false
			for i := 0; !closed; i++ {
				if i == 20 {
					ready.Done()
					signalled = true
				}
				var err error
				k := []byte(fmt.Sprintf("k%d", i%10))
				switch i % 4 {
				case 0:
					var b storage.Batch
					b.Set(p, k, []byte("v"))
					err = e.Write(&b, storage.WriteOptions{Sync: i%8 == 4})
				case 1:
					_, err = e.Get(p, k)
				case 2:
					err = e.Scan(p, nil, func(k, v []byte) error { return nil })
				case 3:
					_, err = e.GetMeta(k)
				}
				switch {
				case errors.Is(err, storage.ErrClosed):
					closed = true
				case err != nil && !errors.Is(err, storage.ErrNotFound):
					t.Errorf("worker %d op %d: %v", w, i, err)
					closed = true
				}
			}
			if !signalled {
				ready.Done()
			}
			_, err := e.Get(p, []byte("k0"))
			if !errors.Is(err, storage.ErrClosed) {
				t.Errorf("worker %d: Get after seeing ErrClosed: %v", w, err)
			}
		}()
	}
	ready.Wait()
	within(t, "Close under load", func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	within(t, "workers", wg.Wait)
}

// ---- iterators and the index space ----

func collectIter(t *testing.T, e storage.Engine, sp storage.Space, p storage.Partition, lo, hi []byte) []string {
	t.Helper()
	it, err := e.NewIterator(sp, p, lo, hi)
	if err != nil {
		t.Fatalf("NewIterator: %v", err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterator: %v", err)
	}
	return out
}

func testIteratorRange(t *testing.T, e storage.Engine) {
	var b storage.Batch
	for _, k := range []string{"a", "b", "ba", "c", "d\xff", "e"} {
		b.Set(5, []byte(k), []byte("v"+k))
	}
	b.Set(4, []byte("b"), []byte("other partition"))
	b.Set(6, []byte("a"), []byte("other partition"))
	if err := e.Write(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		lo, hi string
		nilLo  bool
		nilHi  bool
		want   []string
	}{
		{nilLo: true, nilHi: true, want: []string{"a=va", "b=vb", "ba=vba", "c=vc", "d\xff=vd\xff", "e=ve"}},
		{lo: "b", hi: "c", want: []string{"b=vb", "ba=vba"}},
		{lo: "b", nilHi: true, want: []string{"b=vb", "ba=vba", "c=vc", "d\xff=vd\xff", "e=ve"}},
		{nilLo: true, hi: "b", want: []string{"a=va"}},
		{lo: "bb", hi: "bc", want: nil},
		{lo: "d", hi: "d\xff\x00", want: []string{"d\xff=vd\xff"}},
	}
	for _, c := range cases {
		var lo, hi []byte
		if !c.nilLo {
			lo = []byte(c.lo)
		}
		if !c.nilHi {
			hi = []byte(c.hi)
		}
		got := collectIter(t, e, storage.SpaceData, 5, lo, hi)
		if !slices.Equal(got, c.want) {
			t.Errorf("[%q, %q): got %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
	// The last partition's range ends at the end of the key space.
	var b2 storage.Batch
	b2.Set(65535, []byte("\xff\xff"), []byte("x"))
	if err := e.Write(&b2, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := collectIter(t, e, storage.SpaceData, 65535, nil, nil); len(got) != 1 {
		t.Errorf("partition 65535: %q", got)
	}
}

func testIteratorSnapshot(t *testing.T, e storage.Engine) {
	var b storage.Batch
	b.Set(1, []byte("a"), []byte("1"))
	b.Set(1, []byte("b"), []byte("1"))
	if err := e.Write(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	it, err := e.NewIterator(storage.SpaceData, 1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b2 storage.Batch
	b2.Set(1, []byte("c"), []byte("2"))
	b2.Delete(1, []byte("b"))
	if err := e.Write(&b2, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for it.Next() {
		got = append(got, string(it.Key()))
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("iterator saw %q, want the snapshot [a b]", got)
	}
}

func testIndexSpaceSeparate(t *testing.T, e storage.Engine) {
	var b storage.Batch
	b.SetIndex(3, []byte("k"), []byte("idx"))
	b.Set(3, []byte("k"), []byte("obj"))
	if err := e.Write(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if v, err := e.Get(3, []byte("k")); err != nil || string(v) != "obj" {
		t.Fatalf("Get: %q %v", v, err)
	}
	if got := collectIter(t, e, storage.SpaceIndex, 3, nil, nil); !slices.Equal(got, []string{"k=idx"}) {
		t.Errorf("index space: %q", got)
	}
	if got := collectIter(t, e, storage.SpaceData, 3, nil, nil); !slices.Equal(got, []string{"k=obj"}) {
		t.Errorf("data space: %q", got)
	}
	var scanned []string
	if err := e.Scan(3, nil, func(k, v []byte) error { scanned = append(scanned, string(v)); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(scanned, []string{"obj"}) {
		t.Errorf("Scan sees index entries: %q", scanned)
	}
	var d storage.Batch
	d.DeleteIndex(3, []byte("k"))
	if err := e.Write(&d, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := collectIter(t, e, storage.SpaceIndex, 3, nil, nil); len(got) != 0 {
		t.Errorf("index entry not deleted: %q", got)
	}
	if v, err := e.Get(3, []byte("k")); err != nil || string(v) != "obj" {
		t.Fatalf("DeleteIndex removed the object: %q %v", v, err)
	}
}

func testDropPartitionDropsIndex(t *testing.T, e storage.Engine) {
	var b storage.Batch
	for _, p := range []storage.Partition{2, 3, 4} {
		b.Set(p, []byte("k"), []byte("v"))
		b.SetIndex(p, []byte("i"), []byte("v"))
	}
	if err := e.Write(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.DropPartition(3); err != nil {
		t.Fatal(err)
	}
	if got := collectIter(t, e, storage.SpaceIndex, 3, nil, nil); len(got) != 0 {
		t.Errorf("index of dropped partition: %q", got)
	}
	for _, p := range []storage.Partition{2, 4} {
		if got := collectIter(t, e, storage.SpaceIndex, p, nil, nil); len(got) != 1 {
			t.Errorf("index of partition %d: %q", p, got)
		}
	}
}

// Estimate never fails on an open engine, is never negative, never counts
// another partition's data, and ends at zero once the partition is dropped
// (an engine may count only data that reached its files, so a fresh write
// may not show yet).
func testEstimate(t *testing.T, e storage.Engine) {
	write(t, e, false, func(b *storage.Batch) {
		for i := range 200 {
			b.Set(5, []byte(fmt.Sprintf("k%04d", i)), make([]byte, 1024))
		}
	})
	for _, p := range []storage.Partition{4, 5, 6} {
		n, err := e.Estimate(p)
		if err != nil || n < 0 {
			t.Fatalf("Estimate(%d) = %d, %v", p, n, err)
		}
		if p != 5 && n != 0 {
			t.Errorf("Estimate(%d) = %d for an empty partition", p, n)
		}
		if p == 5 && n > 0 && n < 200*1024/2 {
			t.Errorf("Estimate(5) = %d, far below the 200 KiB written", n)
		}
	}
	if err := e.DropPartition(5); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Estimate(5); err != nil || n > 64<<10 {
		t.Errorf("Estimate after the drop = %d, %v", n, err)
	}
}

// wantSum checks GetSum of k against the value it should sum ("" with
// present=false: no sum).
func wantSum(t *testing.T, e storage.Engine, p storage.Partition, k, v string, present bool) {
	t.Helper()
	sum, size, ok, err := e.GetSum(p, []byte(k))
	if err != nil {
		t.Fatalf("GetSum(%d, %q): %v", p, k, err)
	}
	switch {
	case ok != present:
		t.Fatalf("GetSum(%d, %q) ok = %v, want %v", p, k, ok, present)
	case present && (sum != storage.Sum([]byte(v)) || size != len(v)):
		t.Fatalf("GetSum(%d, %q) = %x, %d bytes; want the sum of %q (%x, %d bytes)", p, k, sum, size, v, storage.Sum([]byte(v)), len(v))
	}
}

// testSums: every write and delete of a data key keeps its sum, in the
// same batch; index entries and metadata have none; DropPartition drops
// the partition's sums.
func testSums(t *testing.T, e storage.Engine) {
	wantSum(t, e, 1, "a", "", false)
	set(t, e, 1, "a", "v1")
	wantSum(t, e, 1, "a", "v1", true)
	wantSum(t, e, 2, "a", "", false) // partitions are apart
	set(t, e, 2, "a", "v1")
	set(t, e, 1, "a", "v2")
	wantSum(t, e, 1, "a", "v2", true)
	wantSum(t, e, 2, "a", "v1", true)
	write(t, e, false, func(b *storage.Batch) {
		b.Set(1, []byte("b"), []byte("x"))
		b.Set(1, []byte("b"), []byte("y")) // the last set's sum
		b.Set(1, []byte("c"), []byte("z"))
		b.Delete(1, []byte("c")) // set then delete: none
		b.SetIndex(1, []byte("idx"), []byte("i"))
		b.SetMeta([]byte("m"), []byte("meta"))
	})
	wantSum(t, e, 1, "b", "y", true)
	wantSum(t, e, 1, "c", "", false)
	wantSum(t, e, 1, "idx", "", false)
	wantSum(t, e, 1, "m", "", false)
	set(t, e, 1, "empty", "")
	wantSum(t, e, 1, "empty", "", true)
	del(t, e, 2, "a")
	wantSum(t, e, 2, "a", "", false)
	wantSum(t, e, 1, "a", "v2", true)
	if err := e.DropPartition(1); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "empty"} {
		wantSum(t, e, 1, k, "", false)
	}
	// Other partitions keep theirs.
	wantSum(t, e, 2, "a", "", false)
	set(t, e, 2, "kept", "v")
	if err := e.DropPartition(1); err != nil {
		t.Fatal(err)
	}
	wantSum(t, e, 2, "kept", "v", true)
	// Sums are not keys of the partition's spaces.
	set(t, e, 3, "k", "v")
	var keys []string
	if err := e.Scan(3, nil, func(k, _ []byte) error { keys = append(keys, string(k)); return nil }); err != nil {
		t.Fatal(err)
	}
	it, err := e.NewIterator(storage.SpaceData, 3, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		keys = append(keys, string(it.Key()))
	}
	it.Close()
	if len(keys) != 2 || keys[0] != "k" || keys[1] != "k" {
		t.Fatalf("Scan and NewIterator of partition 3 = %q, want [k k]", keys)
	}
}
