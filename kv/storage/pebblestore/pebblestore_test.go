package pebblestore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/kv/storage/pebblestore"
	"github.com/riakgo/riakgo/kv/storage/storagetest"
)

func openOpts(t testing.TB, dir string, o pebblestore.Options) *pebblestore.Store {
	t.Helper()
	s, err := pebblestore.Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func open(t testing.TB, dir string, fs vfs.FS) *pebblestore.Store {
	t.Helper()
	return openOpts(t, dir, pebblestore.Options{FS: fs})
}

func TestConformanceMemFS(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Engine { return open(t, "db", vfs.NewMem()) })
}

func TestConformanceDisk(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Engine { return open(t, t.TempDir(), nil) })
}

// ---- helpers ----

// value is a 1 KiB value derived from the key, so a read checks both that
// the key exists and that its value is the one written.
func value(key string) []byte {
	v := make([]byte, 1024)
	copy(v, key)
	for i := len(key); i < len(v); i++ {
		v[i] = byte(i) ^ key[len(key)-1]
	}
	return v
}

// put writes one key per Write, as a vnode does.
func put(t testing.TB, s storage.Engine, p storage.Partition, key string, sync bool) {
	t.Helper()
	var b storage.Batch
	b.Set(p, []byte(key), value(key))
	if err := s.Write(&b, storage.WriteOptions{Sync: sync}); err != nil {
		t.Fatalf("Write(%q, sync=%v): %v", key, sync, err)
	}
}

// has reports whether key is present with its expected value; a present
// key with a wrong value fails the test.
func has(t testing.TB, s storage.Engine, p storage.Partition, key string) bool {
	t.Helper()
	v, err := s.Get(p, []byte(key))
	if errors.Is(err, storage.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("Get(%d, %q): %v", p, key, err)
	}
	if !bytes.Equal(v, value(key)) {
		t.Fatalf("Get(%d, %q): wrong value (%d bytes)", p, key, len(v))
	}
	return true
}

func closeStore(t testing.TB, s storage.Engine) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// count scans partition p and returns how many keys it holds, checking that
// the scan completes without error (the DB is readable end to end).
func count(t testing.TB, s storage.Engine, p storage.Partition) int {
	t.Helper()
	n := 0
	if err := s.Scan(p, nil, func(k, v []byte) error { n++; return nil }); err != nil {
		t.Fatalf("Scan(%d): %v", p, err)
	}
	return n
}

// ---- crash tests ----

// TestCrashProcess models a crash of the process while the machine (and
// its page cache) lives on: everything the store had handed to the OS
// survives, nothing still buffered inside the process does.
//
// This is the property plain pebble.NoSync would fail: with NoSync, Commit
// returns as soon as the record is in the LogWriter's in-process buffer,
// and a background goroutine writes it to the file later, so a SIGKILL can
// lose writes that were acknowledged. pebblestore commits with pebble.Sync
// instead (Commit returns only once the record has been written to the
// file) and makes the WAL's fsync a deferred no-op, so each acknowledged
// Sync:false write is in the OS without paying an fsync.
//
// A crash clone taken after the last write cannot tell the two apart by
// itself: by then NoSync's flusher has usually caught up. So the test also
// looks at the file system after every acknowledged write, which is the
// moment a SIGKILL could land: the WAL files must already have grown by at
// least the value's size. That holds for every write with pebble.Sync and
// fails within a few writes with NoSync.
func TestCrashProcess(t *testing.T) {
	for _, c := range []struct {
		name     string
		memtable uint64
	}{
		{"OneWAL", 0},           // default memtable: every write in one WAL
		{"Rotating", 256 << 10}, // small memtable: WAL rotation, flushes, recycling
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			s := openOpts(t, "db", pebblestore.Options{FS: fs, MemTableSize: c.memtable})
			const n = 1000
			prev := walBytes(t, fs, "db")
			for i := 0; i < n; i++ {
				put(t, s, storage.Partition(i%4), fmt.Sprintf("key%04d", i), false)
				if c.memtable != 0 {
					continue // WAL files are recycled and deleted; sizes are not monotone
				}
				cur := walBytes(t, fs, "db")
				if cur-prev < 1024 {
					t.Fatalf("write %d acknowledged while only %d bytes of it had reached the WAL file (a process crash now would lose it)", i, cur-prev)
				}
				prev = cur
			}
			if c.memtable != 0 {
				if m := s.Metrics(); m.Flush.Count == 0 {
					t.Fatalf("no memtable flush happened; the rotating case tests nothing more")
				}
			}
			var b storage.Batch
			b.SetMeta([]byte("epoch"), []byte("7"))
			if err := s.Write(&b, storage.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := s.DropPartition(3); err != nil {
				t.Fatal(err)
			}

			// The process dies now, without Close: the OS keeps every byte
			// written to it, synced or not.
			crashed := fs.CrashClone(vfs.CrashCloneCfg{
				UnsyncedDataPercent: 100,
				RNG:                 rand.New(rand.NewPCG(1, 1)),
			})
			s2 := open(t, "db", crashed)
			defer closeStore(t, s2)
			lost := 0
			for i := 0; i < n; i++ {
				p := storage.Partition(i % 4)
				present := has(t, s2, p, fmt.Sprintf("key%04d", i))
				switch {
				case p == 3 && present:
					t.Errorf("key%04d of dropped partition 3 is back", i)
				case p != 3 && !present:
					lost++
				}
			}
			if lost > 0 {
				t.Errorf("%d of %d acknowledged Sync:false writes lost in a process crash", lost, n*3/4)
			}
			if v, err := s2.GetMeta([]byte("epoch")); err != nil || string(v) != "7" {
				t.Errorf("GetMeta(epoch) after crash = %q, %v", v, err)
			}
			closeStore(t, s) // the dead process's store; affects only fs, not crashed
		})
	}
}

// walBytes is the total size of the WAL files in dir as the OS (here the
// memory FS) sees them: bytes the process has written, synced or not.
func walBytes(t testing.TB, fs vfs.FS, dir string) int64 {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, name := range names {
		if !strings.HasSuffix(name, ".log") {
			continue
		}
		fi, err := fs.Stat(fs.PathJoin(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	return total
}

// TestCrashMachine models a crash of the machine: only what was fsynced
// survives, and unsynced 4 KiB blocks may or may not (torn, or zeroed
// holes). Every Sync:true write must be there, Sync:false ones may be lost,
// and the database must open and read cleanly.
func TestCrashMachine(t *testing.T) {
	for _, c := range []struct {
		name     string
		memtable uint64
	}{
		{"OneWAL", 0},
		{"Rotating", 256 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			s := openOpts(t, "db", pebblestore.Options{FS: fs, MemTableSize: c.memtable})
			for i := 0; i < 500; i++ {
				put(t, s, storage.Partition(i%4), fmt.Sprintf("unsynced%04d", i), false)
			}
			for i := 0; i < 500; i++ {
				put(t, s, storage.Partition(i%4), fmt.Sprintf("synced%04d", i), true)
			}
			for i := 0; i < 100; i++ {
				put(t, s, storage.Partition(i%4), fmt.Sprintf("tail%04d", i), false)
			}

			clones := []struct {
				name string
				cfg  vfs.CrashCloneCfg
			}{
				{"SyncedOnly", vfs.CrashCloneCfg{}},
			}
			for seed := uint64(1); seed <= 4; seed++ {
				clones = append(clones, struct {
					name string
					cfg  vfs.CrashCloneCfg
				}{
					fmt.Sprintf("Torn%d", seed),
					vfs.CrashCloneCfg{UnsyncedDataPercent: int(seed * 20), RNG: rand.New(rand.NewPCG(seed, 7))},
				})
			}
			for _, cl := range clones {
				t.Run(cl.name, func(t *testing.T) {
					crashed := fs.CrashClone(cl.cfg)
					s2 := open(t, "db", crashed)
					present := map[string]int{}
					for i := 0; i < 500; i++ {
						p := storage.Partition(i % 4)
						if k := fmt.Sprintf("synced%04d", i); has(t, s2, p, k) {
							present["synced"]++
						} else {
							t.Errorf("%s (Sync:true) lost in a machine crash", k)
						}
						if has(t, s2, p, fmt.Sprintf("unsynced%04d", i)) {
							present["unsynced"]++
						}
						if i < 100 && has(t, s2, p, fmt.Sprintf("tail%04d", i)) {
							present["tail"]++
						}
					}
					total := 0
					for p := storage.Partition(0); p < 4; p++ {
						total += count(t, s2, p)
					}
					if want := present["synced"] + present["unsynced"] + present["tail"]; total != want {
						t.Errorf("scans found %d keys, Gets found %d", total, want)
					}
					t.Logf("after crash: %d/500 synced, %d/500 earlier unsynced, %d/100 trailing unsynced",
						present["synced"], present["unsynced"], present["tail"])

					if cl.cfg.UnsyncedDataPercent == 0 && has(t, s2, 3, "tail0099") {
						// Nothing can have fsynced the last write (no Sync:true
						// after it, no WAL rotation, no Close). If it survived,
						// either every write is being fsynced (against the
						// design: no fsync per write) or this clone is not
						// modelling a machine crash and the test proves nothing.
						t.Errorf("last Sync:false write survived a crash that keeps only synced data")
					}

					// The recovered DB takes writes and survives a clean reopen.
					put(t, s2, 9, "after-crash", true)
					closeStore(t, s2)
					s3 := open(t, "db", crashed)
					defer closeStore(t, s3)
					if !has(t, s3, 9, "after-crash") {
						t.Errorf("write made after recovery lost on reopen")
					}
					if !has(t, s3, 0, "synced0000") {
						t.Errorf("synced0000 lost on reopen after recovery")
					}
				})
			}
			closeStore(t, s)
		})
	}
}

// ---- reopen ----

func TestReopen(t *testing.T) {
	for _, c := range []struct {
		name string
		fs   func(t *testing.T) (vfs.FS, string)
	}{
		{"MemFS", func(t *testing.T) (vfs.FS, string) { return vfs.NewMem(), "db" }},
		{"Disk", func(t *testing.T) (vfs.FS, string) { return nil, t.TempDir() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, dir := c.fs(t)
			s := open(t, dir, fs)
			for i := 0; i < 300; i++ {
				put(t, s, storage.Partition(i%3), fmt.Sprintf("k%03d", i), i%50 == 0)
			}
			var b storage.Batch
			b.SetMeta([]byte("vnode-id"), []byte("abc"))
			if err := s.Write(&b, storage.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := s.DropPartition(1); err != nil {
				t.Fatal(err)
			}
			// Partition 65535 goes through an sstable before its drop, so
			// the range deletion must cover flushed data too.
			for i := 0; i < 50; i++ {
				put(t, s, 65535, fmt.Sprintf("\xffk%03d", i), false)
			}
			put(t, s, 65534, "neighbour", false)
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := s.DropPartition(65535); err != nil {
				t.Fatal(err)
			}
			closeStore(t, s)

			for round := 0; round < 2; round++ {
				s = open(t, dir, fs)
				for i := 0; i < 300; i++ {
					p := storage.Partition(i % 3)
					k := fmt.Sprintf("k%03d", i)
					if got := has(t, s, p, k); got != (p != 1) {
						t.Fatalf("round %d: %s in partition %d present=%v", round, k, p, got)
					}
				}
				if n := count(t, s, 1); n != 0 {
					t.Fatalf("round %d: dropped partition 1 has %d keys after reopen", round, n)
				}
				if n := count(t, s, 65535); n != 0 {
					t.Fatalf("round %d: dropped partition 65535 has %d keys after reopen", round, n)
				}
				if !has(t, s, 65534, "neighbour") {
					t.Fatalf("round %d: partition 65534 lost its key", round)
				}
				if v, err := s.GetMeta([]byte("vnode-id")); err != nil || string(v) != "abc" {
					t.Fatalf("round %d: GetMeta = %q, %v", round, v, err)
				}
				closeStore(t, s)
			}
		})
	}
}

// ---- benchmarks ----

// BenchmarkWrite measures acknowledged (process-crash-safe, no fsync)
// single-key writes of 1 KiB values from parallel writers on a real disk.
func BenchmarkWrite(b *testing.B) { benchWrite(b, false) }

// BenchmarkWriteSync is BenchmarkWrite with WriteOptions{Sync: true} (an
// fsync per write, shared when writers overlap), riak's sync_on_write.
func BenchmarkWriteSync(b *testing.B) { benchWrite(b, true) }

func benchWrite(b *testing.B, sync bool) {
	s := open(b, b.TempDir(), nil)
	defer closeStore(b, s)
	val := bytes.Repeat([]byte{'x'}, 1024)
	var seq atomic.Uint64
	b.SetBytes(int64(len(val)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var batch storage.Batch
		key := make([]byte, 0, 8)
		for pb.Next() {
			i := seq.Add(1)
			key = binary.BigEndian.AppendUint64(key[:0], i*0x9E3779B97F4A7C15) // scattered keys
			batch.Reset()
			batch.Set(storage.Partition(i%64), key, val)
			if err := s.Write(&batch, storage.WriteOptions{Sync: sync}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGet measures point reads of 1 KiB values, present keys, from a
// flushed database on a real disk (reads go through sstables and the block
// cache, as most reads of a running node do).
func BenchmarkGet(b *testing.B) {
	s := open(b, b.TempDir(), nil)
	defer closeStore(b, s)
	const keys = 10000
	val := bytes.Repeat([]byte{'x'}, 1024)
	key := func(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i*0x9E3779B97F4A7C15) }
	var batch storage.Batch
	for i := uint64(0); i < keys; i++ {
		batch.Set(storage.Partition(i%64), key(i), val)
		if batch.Len() == 100 {
			if err := s.Write(&batch, storage.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			batch = storage.Batch{}
		}
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(int64(len(val)))
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		i := rng.Uint64N(keys)
		if _, err := s.Get(storage.Partition(i%64), key(i)); err != nil {
			b.Fatal(err)
		}
	}
}
