package pebblestore_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/kv/storage/pebblestore"
)

// Values of half a KiB and more are kept in blob files; every path that
// reads a value (Get, GetSum, Scan, NewIterator) still sees it, deletes and
// partition drops still remove it, and so does a store raised to the format
// from an earlier one.
func TestValueSeparation(t *testing.T) {
	fs := vfs.NewMem()
	// An earlier version's store: Pebble's minimum format, values inline.
	rawSet(t, fs, "db", map[string]string{rawKey('d', 0, "old"): string(value("old"))})

	s := openOpts(t, "db", pebblestore.Options{FS: fs, MemTableSize: 256 << 10})
	const n = 1200
	small := func(i int) []byte { return []byte(fmt.Sprintf("small-%d", i)) }
	for i := range n {
		p := storage.Partition(i % 3)
		put(t, s, p, fmt.Sprintf("k%04d", i), false)
		var b storage.Batch
		b.Set(p, []byte(fmt.Sprintf("s%04d", i)), small(i))
		if err := s.Write(&b, storage.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *pebblestore.Store, deleted func(i int) bool) {
		t.Helper()
		if !has(t, s, 0, "old") {
			t.Errorf("the earlier version's object is gone")
		}
		for i := range n {
			p, k := storage.Partition(i%3), fmt.Sprintf("k%04d", i)
			if got := has(t, s, p, k); got == deleted(i) {
				t.Fatalf("%s present=%v, deleted=%v", k, got, deleted(i))
			}
			if deleted(i) {
				continue
			}
			sum, size, ok, err := s.GetSum(p, []byte(k))
			if err != nil || !ok || sum != storage.Sum(value(k)) || size != len(value(k)) {
				t.Fatalf("GetSum(%s) = %x %d %v %v", k, sum, size, ok, err)
			}
			v, err := s.Get(p, []byte(fmt.Sprintf("s%04d", i)))
			if err != nil || !bytes.Equal(v, small(i)) {
				t.Fatalf("small value %d: %q, %v", i, v, err)
			}
		}
		scanned := 0
		for p := storage.Partition(0); p < 3; p++ {
			err := s.Scan(p, nil, func(k, v []byte) error {
				if k[0] == 'k' {
					if !bytes.Equal(v, value(string(k))) {
						return fmt.Errorf("Scan: wrong value for %s", k)
					}
					scanned++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		want := 0
		for i := range n {
			if !deleted(i) {
				want++
			}
		}
		if scanned != want {
			t.Errorf("Scan found %d large values, want %d", scanned, want)
		}
	}
	none := func(int) bool { return false }
	check(s, none)
	st := s.Stats()
	if st.BlobFiles == 0 || st.BlobBytes == 0 {
		t.Fatalf("%d blob files of %d bytes after %d flushed 1 KiB values: values are not separated", st.BlobFiles, st.BlobBytes, n)
	}

	// Deletes and a partition drop.
	for i := 0; i < n; i += 2 {
		var b storage.Batch
		b.Delete(storage.Partition(i%3), []byte(fmt.Sprintf("k%04d", i)))
		if err := s.Write(&b, storage.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DropPartition(1); err != nil {
		t.Fatal(err)
	}
	gone := func(i int) bool { return i%2 == 0 || i%3 == 1 }
	for i := range n {
		if i%3 == 1 {
			if _, err := s.Get(1, []byte(fmt.Sprintf("s%04d", i))); err == nil {
				t.Fatalf("small value %d survived its partition's drop", i)
			}
		}
	}
	checkLive := func(s *pebblestore.Store) {
		t.Helper()
		for i := range n {
			p, k := storage.Partition(i%3), fmt.Sprintf("k%04d", i)
			if got := has(t, s, p, k); got == gone(i) {
				t.Fatalf("%s present=%v, want %v", k, got, !gone(i))
			}
		}
	}
	checkLive(s)
	closeStore(t, s)
	s2 := openOpts(t, "db", pebblestore.Options{FS: fs})
	defer closeStore(t, s2)
	checkLive(s2)
	if !has(t, s2, 0, "old") {
		t.Errorf("the earlier version's object is gone after reopen")
	}
}
