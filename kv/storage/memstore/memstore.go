package memstore

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/google/btree"

	"github.com/riakgo/riakgo/kv/storage"
)

type item struct {
	key   []byte
	value []byte
}

func less(a, b item) bool { return bytes.Compare(a.key, b.key) < 0 }

// Store is an in-memory engine. The zero value is not usable; call New.
type Store struct {
	mu     sync.RWMutex
	tree   *btree.BTreeG[item]
	closed bool
	writes uint64
}

var _ storage.Engine = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{tree: btree.NewG[item](32, less)} }

func spaceKey(sp storage.Space, p storage.Partition, key []byte) []byte {
	k := make([]byte, 0, 3+len(key))
	k = append(k, spacePrefix(sp), byte(p>>8), byte(p))
	return append(k, key...)
}

func spacePrefix(sp storage.Space) byte {
	if sp == storage.SpaceIndex {
		return 'i'
	}
	return 'd'
}

func dataKey(p storage.Partition, key []byte) []byte { return spaceKey(storage.SpaceData, p, key) }

// sumKey is where the sum of a data key's value is kept.
func sumKey(p storage.Partition, key []byte) []byte {
	k := make([]byte, 0, 3+len(key))
	k = append(k, 's', byte(p>>8), byte(p))
	return append(k, key...)
}

func metaKey(key []byte) []byte { return append([]byte{'m'}, key...) }

func (s *Store) get(k []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, storage.ErrClosed
	}
	it, ok := s.tree.Get(item{key: k})
	if !ok {
		return nil, storage.ErrNotFound
	}
	return bytes.Clone(it.value), nil
}

// Get implements storage.Engine.
func (s *Store) Get(p storage.Partition, key []byte) ([]byte, error) { return s.get(dataKey(p, key)) }

// GetSum implements storage.Engine.
func (s *Store) GetSum(p storage.Partition, key []byte) (uint64, int, bool, error) {
	v, err := s.get(sumKey(p, key))
	if errors.Is(err, storage.ErrNotFound) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	sum, size, ok := storage.ParseSumRecord(v)
	if !ok {
		return 0, 0, false, fmt.Errorf("riakgo/memstore: sum of %q in partition %d is %d bytes", key, p, len(v))
	}
	return sum, size, true, nil
}

// GetMeta implements storage.Engine.
func (s *Store) GetMeta(key []byte) ([]byte, error) { return s.get(metaKey(key)) }

// Write implements storage.Engine.
func (s *Store) Write(b *storage.Batch, _ storage.WriteOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.ErrClosed
	}
	for _, op := range b.Ops {
		switch op.Kind {
		case storage.OpSet:
			s.tree.ReplaceOrInsert(item{key: spaceKey(op.Space, op.Partition, op.Key), value: bytes.Clone(op.Value)})
			if op.Space == storage.SpaceData {
				s.tree.ReplaceOrInsert(item{key: sumKey(op.Partition, op.Key), value: storage.AppendSumRecord(nil, op.Value)})
			}
		case storage.OpDelete:
			s.tree.Delete(item{key: spaceKey(op.Space, op.Partition, op.Key)})
			if op.Space == storage.SpaceData {
				s.tree.Delete(item{key: sumKey(op.Partition, op.Key)})
			}
		case storage.OpSetMeta:
			s.tree.ReplaceOrInsert(item{key: metaKey(op.Key), value: bytes.Clone(op.Value)})
		case storage.OpDeleteMeta:
			s.tree.Delete(item{key: metaKey(op.Key)})
		}
	}
	s.writes++
	return nil
}

// Scan implements storage.Engine. The callback runs on a snapshot copy, so
// it may call back into the store.
func (s *Store) Scan(p storage.Partition, prefix []byte, fn func(key, value []byte) error) error {
	return s.scan(dataKey(p, prefix), 3, fn)
}

// ScanMeta implements storage.Engine, as Scan does.
func (s *Store) ScanMeta(prefix []byte, fn func(key, value []byte) error) error {
	return s.scan(metaKey(prefix), 1, fn)
}

// scan calls fn for the keys starting with lo, stripped of their first
// strip bytes (the space prefix).
func (s *Store) scan(lo []byte, strip int, fn func(key, value []byte) error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return storage.ErrClosed
	}
	var snap []item
	s.tree.AscendGreaterOrEqual(item{key: lo}, func(it item) bool {
		if !bytes.HasPrefix(it.key, lo) {
			return false
		}
		snap = append(snap, it)
		return true
	})
	s.mu.RUnlock()
	for _, it := range snap {
		if err := fn(it.key[strip:], it.value); err != nil {
			return err
		}
	}
	return nil
}

// Estimate implements storage.Engine: the exact bytes of p's objects.
func (s *Store) Estimate(p storage.Partition) (int64, error) {
	lo := dataKey(p, nil)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, storage.ErrClosed
	}
	var n int64
	s.tree.AscendGreaterOrEqual(item{key: lo}, func(it item) bool {
		if !bytes.HasPrefix(it.key, lo) {
			return false
		}
		n += int64(len(it.key) - 3 + len(it.value))
		return true
	})
	return n, nil
}

// DropPartition implements storage.Engine.
func (s *Store) DropPartition(p storage.Partition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.ErrClosed
	}
	for _, lo := range [][]byte{dataKey(p, nil), spaceKey(storage.SpaceIndex, p, nil), sumKey(p, nil)} {
		var dead []item
		s.tree.AscendGreaterOrEqual(item{key: lo}, func(it item) bool {
			if !bytes.HasPrefix(it.key, lo) {
				return false
			}
			dead = append(dead, it)
			return true
		})
		for _, it := range dead {
			s.tree.Delete(it)
		}
	}
	return nil
}

// NewIterator implements storage.Engine. The iterator walks a copy of the
// range taken when it is created.
func (s *Store) NewIterator(sp storage.Space, p storage.Partition, lo, hi []byte) (storage.Iterator, error) {
	prefix := spaceKey(sp, p, nil)
	start := spaceKey(sp, p, lo)
	var end []byte
	if hi != nil {
		end = spaceKey(sp, p, hi)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, storage.ErrClosed
	}
	it := &memIter{pos: -1}
	s.tree.AscendGreaterOrEqual(item{key: start}, func(x item) bool {
		if !bytes.HasPrefix(x.key, prefix) || (end != nil && bytes.Compare(x.key, end) >= 0) {
			return false
		}
		it.items = append(it.items, x)
		return true
	})
	return it, nil
}

type memIter struct {
	items []item
	pos   int
}

func (m *memIter) Next() bool    { m.pos++; return m.pos < len(m.items) }
func (m *memIter) Key() []byte   { return m.items[m.pos].key[3:] }
func (m *memIter) Value() []byte { return m.items[m.pos].value }
func (m *memIter) Err() error    { return nil }
func (m *memIter) Close() error  { m.items = nil; return nil }

// Close implements storage.Engine.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.ErrClosed
	}
	s.closed = true
	return nil
}

// Reopen makes a closed store usable again with its data, the in-memory
// stand-in for restarting a node on the same disk.
func (s *Store) Reopen() {
	s.mu.Lock()
	s.closed = false
	s.mu.Unlock()
}
