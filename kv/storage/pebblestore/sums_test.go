package pebblestore_test

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/kv/storage/pebblestore"
)

// rawSet writes keys into the Pebble database in dir directly, as an
// earlier version (or a damaged store) left them.
func rawSet(t *testing.T, fs vfs.FS, dir string, kvs map[string]string) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	for k, v := range kvs {
		if err := b.Set([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func rawKey(prefix byte, p int, key string) string {
	return string(append([]byte{prefix, byte(p >> 8), byte(p)}, key...))
}

func wantSumOf(t *testing.T, s *pebblestore.Store, p storage.Partition, key, value string) {
	t.Helper()
	sum, size, ok, err := s.GetSum(p, []byte(key))
	if err != nil || !ok || sum != storage.Sum([]byte(value)) || size != len(value) {
		t.Fatalf("GetSum(%d, %s) = %x, %d, %v, %v; want the sum of %q", p, key, sum, size, ok, err, value)
	}
}

// A store written before sums were kept (data keys only, as an earlier
// version wrote them) gets every key's sum once, when it is opened; a sum
// left without its object (an interrupted pass, an earlier version's
// delete) does not survive the pass.
func TestSumsOfAnOlderStore(t *testing.T) {
	fs := vfs.NewMem()
	const n = 3000
	old := map[string]string{}
	for i := range n {
		old[rawKey('d', i%7, fmt.Sprintf("key-%d", i))] = fmt.Sprintf("value-%d", i)
	}
	orphan := make([]byte, 12)
	binary.LittleEndian.PutUint64(orphan, storage.Sum([]byte("gone")))
	binary.LittleEndian.PutUint32(orphan[8:], 4)
	old[rawKey('s', 3, "deleted-since")] = string(orphan)
	rawSet(t, fs, "db", old)

	s := openOpts(t, "db", pebblestore.Options{FS: fs})
	for i := range n {
		wantSumOf(t, s, storage.Partition(i%7), fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i))
	}
	if _, _, ok, _ := s.GetSum(3, []byte("deleted-since")); ok {
		t.Fatal("a sum without its object survived the pass")
	}
	// Kept from now on by the writes themselves.
	var b storage.Batch
	b.Set(1, []byte("key-1"), []byte("new"))
	if err := s.Write(&b, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	wantSumOf(t, s, 1, "key-1", "new")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// An earlier version writes to the marked store behind its back (a
	// rollback): a reopen does not redo the pass, so the stale sum stays...
	rawSet(t, fs, "db", map[string]string{rawKey('d', 1, "key-1"): "rolled back"})
	s = openOpts(t, "db", pebblestore.Options{FS: fs})
	wantSumOf(t, s, 1, "key-1", "new")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// ...until RecomputeSums (riakgo start --recompute-sums) redoes it.
	s = openOpts(t, "db", pebblestore.Options{FS: fs, RecomputeSums: true})
	defer s.Close()
	wantSumOf(t, s, 1, "key-1", "rolled back")
	wantSumOf(t, s, 2, "key-2", "value-2")
}
