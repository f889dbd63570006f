package pebblestore_test

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/kv/storage/pebblestore"
)

// A store written before sums were kept (data keys only, as an earlier
// version wrote them) gets every key's sum once, when it is opened.
func TestSumsOfAnOlderStore(t *testing.T) {
	fs := vfs.NewMem()
	db, err := pebble.Open("db", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	b := db.NewBatch()
	for i := range n {
		p := i % 7
		k := append([]byte{'d', byte(p >> 8), byte(p)}, fmt.Sprintf("key-%d", i)...)
		if err := b.Set(k, []byte(fmt.Sprintf("value-%d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openOpts(t, "db", pebblestore.Options{FS: fs})
	for i := range n {
		p := storage.Partition(i % 7)
		sum, ok, err := s.GetSum(p, []byte(fmt.Sprintf("key-%d", i)))
		if err != nil || !ok || sum != storage.Sum([]byte(fmt.Sprintf("value-%d", i))) {
			t.Fatalf("GetSum(%d, key-%d) = %x, %v, %v; want the value's sum", p, i, sum, ok, err)
		}
	}
	// Kept from now on by the writes themselves; a reopen does not redo it.
	put := func(p storage.Partition, k, v string) {
		var b storage.Batch
		b.Set(p, []byte(k), []byte(v))
		if err := s.Write(&b, storage.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put(1, "key-1", "new")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openOpts(t, "db", pebblestore.Options{FS: fs})
	defer s.Close()
	if sum, ok, _ := s.GetSum(1, []byte("key-1")); !ok || sum != storage.Sum([]byte("new")) {
		t.Fatalf("after reopen GetSum(1, key-1) = %x, %v; want the sum of \"new\"", sum, ok)
	}
}
