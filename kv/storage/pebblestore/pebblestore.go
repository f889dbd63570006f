package pebblestore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/riakgo/riakgo/kv/storage"
)

// Options configure a Store.
type Options struct {
	// FS is the file system; nil means the operating system's. Tests pass
	// vfs.NewMem() or a crashable memory FS.
	FS vfs.FS
	// CacheSize is the block cache size in bytes (default 256 MiB).
	CacheSize int64
	// MemTableSize is the memtable size in bytes (default 64 MiB).
	MemTableSize uint64
	// Logger receives Pebble's log lines; nil discards them.
	Logger *slog.Logger
	// MaxOpenFiles bounds the tables Pebble keeps open; 0 takes half the
	// process's file descriptor limit, between 1,000 and 16,384.
	MaxOpenFiles int
	// RecomputeSums recomputes every data key's sum in Open even if the
	// store is marked as keeping them (after an earlier version, which
	// does not, wrote to it).
	RecomputeSums bool
}

// Store is a storage.Engine on Pebble.
type Store struct {
	db    *pebble.DB
	wal   *walFS
	cache *pebble.Cache
	dir   string
	// mu guards done; inflight counts calls that passed acquire. Close
	// sets done, then waits for inflight to drain before closing Pebble.
	// (Not a sync.RWMutex held across each call: a Scan callback calling
	// back into the store would then take the read lock recursively and
	// deadlock as soon as Close queued for the write lock.)
	mu       sync.Mutex
	done     bool
	inflight sync.WaitGroup
}

var _ storage.Engine = (*Store)(nil)

// Open opens (creating if needed) the database in dir.
func Open(dir string, o Options) (*Store, error) {
	base := o.FS
	if base == nil {
		base = vfs.Default
	}
	if o.CacheSize == 0 {
		o.CacheSize = 256 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 64 << 20
	}
	if o.MaxOpenFiles == 0 {
		o.MaxOpenFiles = defaultMaxOpenFiles()
	}
	w := &walFS{FS: base, open: make(map[*walFile]struct{})}
	cache := pebble.NewCache(o.CacheSize)
	opts := &pebble.Options{
		FS:                          w,
		Cache:                       cache,
		MemTableSize:                o.MemTableSize,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		// Every point read that reaches a table needs it open; Pebble's
		// default of 1,000 is below the table count of a store of a few
		// million keys (1,394 tables at 5M keys, 17 GiB), and each miss of
		// its table cache reopens a file and rereads its footer and
		// properties (3% of the CPU at 5M keys).
		MaxOpenFiles: o.MaxOpenFiles,
		Logger:       slogLogger{o.Logger},
		// One compaction normally; Pebble adds up to two more while L0
		// or the compaction debt is high. At 5M keys on a 2-core machine
		// the debt still grew, but writes no longer stopped for seconds
		// (update maximum 251 ms, was 2.0 s, measured together with a
		// larger object cache; docs/performance.md).
		CompactionConcurrencyRange: func() (int, int) { return 1, 3 },
	}
	// Bloom filters on every level: a point read of a key that a table
	// does not hold then skips the table without reading its index and
	// data blocks (every vnode read is a point read). Index blocks of up
	// to 256 KiB keep a small table's index in one block; a large table
	// (32 MB and up, as in a 5M-key store) still gets a two-level index of
	// about 100 KB blocks, cached with the filters in the block cache.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].IndexBlockSize = 256 << 10
	}
	opts.EnsureDefaults()
	db, err := pebble.Open(dir, opts)
	cache.Unref()
	if err != nil {
		return nil, fmt.Errorf("riakgo/pebblestore: open %s: %w", dir, err)
	}
	st := &Store{db: db, wal: w, dir: dir}
	if err := st.keepSums(o.Logger, o.RecomputeSums); err != nil {
		db.Close()
		return nil, fmt.Errorf("riakgo/pebblestore: open %s: %w", dir, err)
	}
	return st, nil
}

// keepSums gives every data key of a store written before sums were kept
// its sum, once, before the store serves (a new store has no data keys and
// is only marked); force redoes it on a marked store. Every sum is deleted
// first, so none survives of a key deleted since (an interrupted pass,
// writes by an earlier version). Nothing else writes meanwhile.
func (s *Store) keepSums(log *slog.Logger, force bool) error {
	if _, closer, err := s.db.Get(sumsKept); err == nil {
		closer.Close()
		if !force {
			return nil
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	// Drop the old sums and the mark together, durably, so that a crash
	// before the pass ends leaves an unmarked store (redone at the next
	// start), never a marked store with stale sums.
	sums := []byte{prefixSum}
	clear := s.db.NewBatch()
	err := clear.DeleteRange(sums, prefixEnd(sums), nil)
	if err == nil {
		err = clear.Delete(sumsKept, nil)
	}
	if err == nil {
		err = clear.Commit(pebble.Sync)
	}
	clear.Close()
	if err == nil {
		err = s.wal.syncAll()
	}
	if err != nil {
		return err
	}
	lo := []byte{prefixData}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return err
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	var kb []byte
	var sum [storage.SumRecordLen]byte
	n := 0
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if n == 0 && log != nil {
			log.Info("storage: computing the sums of the stored values, once (a store written by an earlier version, or --recompute-sums)")
		}
		k := it.Key()
		kb = append(append(kb[:0], prefixSum), k[1:]...)
		if err := b.Set(kb, storage.AppendSumRecord(sum[:0], v), nil); err != nil {
			return err
		}
		n++
		if b.Len() >= 4<<20 {
			err := b.Commit(pebble.NoSync)
			b.Close()
			b = s.db.NewBatch()
			if err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := b.Set(sumsKept, nil, nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	if err := s.wal.syncAll(); err != nil {
		return err
	}
	if n > 0 && log != nil {
		log.Info("storage: sums computed", "keys", n)
	}
	return nil
}

const (
	prefixData  = 'd'
	prefixIndex = 'i'
	prefixMeta  = 'm'
	prefixSum   = 's' // partition, key: storage.Sum of the data key's value
	prefixStore = 'z' // the store's own bookkeeping
)

// sumsKept marks a store whose every data key has its sum: set at the
// end of the one-time pass over a store written before sums were kept.
// ("sums2": the sums of the first build that kept them had no length;
// a store it marked is unmarked here, and so passed over again.)
var sumsKept = []byte{prefixStore, 's', 'u', 'm', 's', '2'}

func appendSumKey(dst []byte, p storage.Partition, key []byte) []byte {
	dst = append(dst, prefixSum, byte(p>>8), byte(p))
	return append(dst, key...)
}

func appendSpaceKey(dst []byte, sp storage.Space, p storage.Partition, key []byte) []byte {
	prefix := byte(prefixData)
	if sp == storage.SpaceIndex {
		prefix = prefixIndex
	}
	dst = append(dst, prefix, byte(p>>8), byte(p))
	return append(dst, key...)
}

func appendDataKey(dst []byte, p storage.Partition, key []byte) []byte {
	return appendSpaceKey(dst, storage.SpaceData, p, key)
}

// acquire admits a call, or returns ErrClosed once Close has begun. A
// successful acquire must be paired with release.
func (s *Store) acquire() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return storage.ErrClosed
	}
	s.inflight.Add(1)
	return nil
}

func (s *Store) release() { s.inflight.Done() }

func (s *Store) get(k []byte) ([]byte, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, nil
}

// Get implements storage.Engine.
func (s *Store) Get(p storage.Partition, key []byte) ([]byte, error) {
	var buf [128]byte
	return s.get(appendDataKey(buf[:0], p, key))
}

// GetSum implements storage.Engine.
func (s *Store) GetSum(p storage.Partition, key []byte) (uint64, int, bool, error) {
	if err := s.acquire(); err != nil {
		return 0, 0, false, err
	}
	defer s.release()
	var buf [128]byte
	v, closer, err := s.db.Get(appendSumKey(buf[:0], p, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	defer closer.Close()
	sum, size, ok := storage.ParseSumRecord(v)
	if !ok {
		return 0, 0, false, fmt.Errorf("riakgo/pebblestore: sum of %q in partition %d is %d bytes", key, p, len(v))
	}
	return sum, size, true, nil
}

// GetMeta implements storage.Engine.
func (s *Store) GetMeta(key []byte) ([]byte, error) {
	return s.get(append([]byte{prefixMeta}, key...))
}

// Write implements storage.Engine.
func (s *Store) Write(b *storage.Batch, opts storage.WriteOptions) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	if err := s.wal.err(); err != nil {
		return err
	}
	pb := s.db.NewBatch()
	defer pb.Close()
	var kb []byte
	var sum [storage.SumRecordLen]byte
	for _, op := range b.Ops {
		kb = kb[:0]
		switch op.Kind {
		case storage.OpSet, storage.OpDelete:
			kb = appendSpaceKey(kb, op.Space, op.Partition, op.Key)
		default:
			kb = append(append(kb, prefixMeta), op.Key...)
		}
		var err error
		switch op.Kind {
		case storage.OpSet, storage.OpSetMeta:
			err = pb.Set(kb, op.Value, nil)
		default:
			err = pb.Delete(kb, nil)
		}
		if err == nil && op.Space == storage.SpaceData && (op.Kind == storage.OpSet || op.Kind == storage.OpDelete) {
			// The value's sum goes in the same batch (Set copies).
			kb = appendSumKey(kb[:0], op.Partition, op.Key)
			if op.Kind == storage.OpSet {
				err = pb.Set(kb, storage.AppendSumRecord(sum[:0], op.Value), nil)
			} else {
				err = pb.Delete(kb, nil)
			}
		}
		if err != nil {
			return err
		}
	}
	// pebble.Sync: wait until the record has reached the OS (see package
	// doc); the wrapper turns the WAL fsync itself into a no-op.
	if err := pb.Commit(pebble.Sync); err != nil {
		return err
	}
	if opts.Sync {
		return s.wal.syncAll()
	}
	return nil
}

// Scan implements storage.Engine.
func (s *Store) Scan(p storage.Partition, prefix []byte, fn func(key, value []byte) error) error {
	return s.scan(appendDataKey(nil, p, prefix), 3, fn)
}

// ScanMeta implements storage.Engine, as Scan does.
func (s *Store) ScanMeta(prefix []byte, fn func(key, value []byte) error) error {
	return s.scan(append([]byte{prefixMeta}, prefix...), 1, fn)
}

// scan calls fn for the keys starting with lo, stripped of their first
// strip bytes (the space and partition prefix).
func (s *Store) scan(lo []byte, strip int, fn func(key, value []byte) error) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	hi := prefixEnd(lo)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(it.Key()[strip:], v); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	return it.Close()
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Estimate implements storage.Engine: Pebble's estimate of the disk space
// of p's objects (data still in the memtable is not counted).
func (s *Store) Estimate(p storage.Partition) (int64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	lo := appendSpaceKey(nil, storage.SpaceData, p, nil)
	n, err := s.db.EstimateDiskUsage(lo, prefixEnd(lo))
	return int64(n), err
}

// DropPartition implements storage.Engine.
func (s *Store) DropPartition(p storage.Partition) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	b := s.db.NewBatch()
	defer b.Close()
	for _, lo := range [][]byte{appendDataKey(nil, p, nil), appendSpaceKey(nil, storage.SpaceIndex, p, nil), appendSumKey(nil, p, nil)} {
		if err := b.DeleteRange(lo, prefixEnd(lo), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// NewIterator implements storage.Engine.
func (s *Store) NewIterator(sp storage.Space, p storage.Partition, lo, hi []byte) (storage.Iterator, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	prefix := appendSpaceKey(nil, sp, p, nil)
	lower := appendSpaceKey(nil, sp, p, lo)
	upper := prefixEnd(prefix)
	if hi != nil {
		upper = appendSpaceKey(nil, sp, p, hi)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		s.release()
		return nil, err
	}
	return &pebbleIter{s: s, it: it}, nil
}

// pebbleIter adapts a Pebble iterator. It holds the store open (Close
// waits for it) until it is closed.
type pebbleIter struct {
	s       *Store
	it      *pebble.Iterator
	started bool
	err     error
	closed  bool
}

func (p *pebbleIter) Next() bool {
	if p.closed || p.err != nil {
		return false
	}
	var ok bool
	if !p.started {
		p.started = true
		ok = p.it.First()
	} else {
		ok = p.it.Next()
	}
	if !ok {
		p.err = p.it.Error()
	}
	return ok
}

func (p *pebbleIter) Key() []byte { return p.it.Key()[3:] }

func (p *pebbleIter) Value() []byte {
	v, err := p.it.ValueAndErr()
	if err != nil && p.err == nil {
		p.err = err
	}
	return v
}

func (p *pebbleIter) Err() error { return p.err }

func (p *pebbleIter) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	err := p.it.Close()
	p.s.release()
	return err
}

// Flush forces the memtable to an sstable (used by tests and tools).
func (s *Store) Flush() error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	return s.db.Flush()
}

// Metrics returns Pebble's metrics snapshot.
func (s *Store) Metrics() *pebble.Metrics { return s.db.Metrics() }

// Stats is the engine's state in the figures an operator watches.
type Stats struct {
	// DiskBytes is the space the store's files take (tables, WAL,
	// manifests, obsolete files not yet deleted).
	DiskBytes uint64
	// CompactionDebtBytes estimates the bytes compactions must still
	// rewrite for the LSM to be in shape; 0 on a settled store.
	CompactionDebtBytes uint64
	// CompactionsInProgress and FlushesInProgress count running work.
	CompactionsInProgress, FlushesInProgress int64
	// ReadAmp is the number of sorted runs a point read may consult
	// (L0 sublevels and non-empty levels; the memtables are not counted).
	ReadAmp int
	// L0Files counts the tables in level 0.
	L0Files int64
	// MemTableBytes is the memory of the memtables (active and flushing).
	MemTableBytes uint64
	// BlockCacheBytes is the block cache in use; BlockCacheHits and
	// BlockCacheMisses count lookups since start.
	BlockCacheBytes, BlockCacheHits, BlockCacheMisses int64
}

// Stats reads the engine's metrics (cheap enough for every scrape).
func (s *Store) Stats() Stats {
	m := s.db.Metrics()
	return Stats{
		DiskBytes:             m.DiskSpaceUsage(),
		CompactionDebtBytes:   m.Compact.EstimatedDebt,
		CompactionsInProgress: m.Compact.NumInProgress,
		FlushesInProgress:     m.Flush.NumInProgress,
		ReadAmp:               m.ReadAmp(),
		L0Files:               m.Levels[0].TablesCount,
		MemTableBytes:         m.MemTable.Size,
		BlockCacheBytes:       m.BlockCache.Size,
		BlockCacheHits:        m.BlockCache.Hits,
		BlockCacheMisses:      m.BlockCache.Misses,
	}
}

// Close implements storage.Engine. It waits for in-flight calls.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return storage.ErrClosed
	}
	s.done = true
	s.mu.Unlock()
	s.inflight.Wait()
	return s.db.Close()
}

// walFS wraps a file system so that Sync on WAL files is deferred (see the
// package doc). Everything else passes through.
type walFS struct {
	vfs.FS
	mu   sync.Mutex
	open map[*walFile]struct{}
	// failed is the first WAL fsync error. It is sticky: after a failed
	// fsync Linux may mark the pages clean, so a later fsync "succeeds"
	// without the data; every later write fails instead.
	failed error
}

func (w *walFS) fail(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil {
		w.failed = fmt.Errorf("riakgo/pebblestore: WAL fsync failed; the store refuses writes until restarted: %w", err)
	}
	return w.failed
}

func (w *walFS) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (w *walFS) wrap(f vfs.File, name string, err error) (vfs.File, error) {
	if err != nil || !isWAL(name) {
		return f, err
	}
	wf := &walFile{File: f, fs: w}
	w.mu.Lock()
	w.open[wf] = struct{}{}
	w.mu.Unlock()
	return wf, nil
}

func (w *walFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := w.FS.Create(name, c)
	return w.wrap(f, name, err)
}

func (w *walFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := w.FS.ReuseForWrite(oldname, newname, c)
	return w.wrap(f, newname, err)
}

func (w *walFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := w.FS.OpenReadWrite(name, c, opts...)
	return w.wrap(f, name, err)
}

func (w *walFS) Unwrap() vfs.FS { return w.FS }

// syncAll fsyncs every open WAL file that owes a sync.
func (w *walFS) syncAll() error {
	w.mu.Lock()
	files := make([]*walFile, 0, len(w.open))
	for f := range w.open {
		files = append(files, f)
	}
	w.mu.Unlock()
	for _, f := range files {
		if err := f.realSync(); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

type walFile struct {
	vfs.File
	fs     *walFS
	mu     sync.Mutex // serialises real syncs with close
	dirty  atomic.Bool
	closed bool
}

// Sync records that a sync is owed; the data has already been written to
// the OS by the WAL writer.
func (f *walFile) Sync() error { f.dirty.Store(true); return nil }

// SyncData is Sync.
func (f *walFile) SyncData() error { f.dirty.Store(true); return nil }

// SyncTo queues nothing and promises no persistence (fullSync=false), as
// the vfs contract allows.
func (f *walFile) SyncTo(int64) (bool, error) { f.dirty.Store(true); return false, nil }

func (f *walFile) realSync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || !f.dirty.Swap(false) {
		return nil
	}
	return f.File.Sync()
}

// Close fsyncs the file if a sync is owed, then closes it.
func (f *walFile) Close() error {
	f.mu.Lock()
	var serr error
	if f.dirty.Swap(false) {
		serr = f.File.Sync()
	}
	f.closed = true
	f.mu.Unlock()
	if serr != nil {
		serr = f.fs.fail(serr)
	}
	f.fs.mu.Lock()
	delete(f.fs.open, f)
	f.fs.mu.Unlock()
	cerr := f.File.Close()
	if serr != nil {
		return serr
	}
	return cerr
}

// slogLogger adapts *slog.Logger to Pebble's Logger (nil discards).
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Infof(format string, args ...interface{}) {
	if s.l != nil {
		s.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (s slogLogger) Errorf(format string, args ...interface{}) {
	if s.l != nil {
		s.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (s slogLogger) Fatalf(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	if s.l != nil {
		s.l.Error(msg, "component", "pebble")
	}
	panic(msg)
}

// clampOpenFiles bounds a table-cache size to [1000, 16384].
func clampOpenFiles(n uint64) int {
	return int(min(max(n, 1000), 16384))
}
