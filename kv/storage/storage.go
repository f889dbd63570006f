package storage

import (
	"encoding/binary"
	"errors"

	"github.com/cespare/xxhash/v2"
)

// ErrNotFound is returned by Get and GetMeta for an absent key.
var ErrNotFound = errors.New("riakgo/storage: not found")

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("riakgo/storage: closed")

// Partition numbers a partition's key space (0 ≤ p < 65536).
type Partition uint16

// Space selects one of a partition's key spaces: its objects, or its
// secondary-index entries.
type Space uint8

// The per-partition key spaces.
const (
	SpaceData  Space = iota // objects
	SpaceIndex              // secondary-index entries
)

// Sum is the hash of a stored value that GetSum returns: xxHash64 of the
// bytes. Replicas of a key whose sums and lengths are equal hold the same
// encoding, so
// a node holding several replicas of a key (one node, or fewer nodes than
// n_val) reads the value once and only the sums of the others. The values
// summed are server-made object encodings (each with a random vtag per
// write), not bytes a client chooses whole, so a sum is not something a
// client can collide on purpose.
func Sum(value []byte) uint64 { return xxhash.Sum64(value) }

// SumRecordLen is the length of the record an engine keeps beside a value:
// its Sum and its length, little-endian uint64 and uint32.
const SumRecordLen = 12

// AppendSumRecord appends value's sum record to dst.
func AppendSumRecord(dst, value []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, Sum(value))
	return binary.LittleEndian.AppendUint32(dst, uint32(len(value)))
}

// ParseSumRecord reads a record AppendSumRecord wrote; ok is false if rec
// is not one.
func ParseSumRecord(rec []byte) (sum uint64, size int, ok bool) {
	if len(rec) != SumRecordLen {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(rec), int(binary.LittleEndian.Uint32(rec[8:])), true
}

// Iterator walks one key range of one partition's space in byte order, on
// a consistent snapshot taken when it was created. It is not safe for
// concurrent use. Key and Value are valid until the next call to Next.
type Iterator interface {
	// Next advances to the next key; it returns false at the end or on an
	// error (see Err).
	Next() bool
	Key() []byte
	Value() []byte
	// Err returns the error that stopped the iteration, if any.
	Err() error
	// Close releases the iterator; it must be called.
	Close() error
}

// Engine is a node's storage. All methods are safe for concurrent use.
// Slices passed in are not retained; slices returned by Get belong to the
// caller; slices passed to a Scan callback are valid only during the call.
type Engine interface {
	// Get returns the value of key in partition p, or ErrNotFound.
	Get(p Partition, key []byte) ([]byte, error)
	// GetSum returns Sum of the value of key in partition p, and the
	// value's length, without reading the value; ok is false when the key
	// is absent. Every write and delete of a key, and DropPartition, keep
	// its sum with its value, atomically.
	GetSum(p Partition, key []byte) (sum uint64, size int, ok bool, err error)
	// GetMeta returns the value of a node metadata key, or ErrNotFound.
	GetMeta(key []byte) ([]byte, error)
	// Write applies the batch atomically. When it returns nil the batch
	// survives a crash of the process; with opts.Sync it also survives a
	// crash of the machine (it is on stable storage).
	Write(b *Batch, opts WriteOptions) error
	// Scan calls fn for each key of partition p that starts with prefix,
	// in byte order, until fn returns an error (which Scan returns) or the
	// keys run out. It sees a consistent snapshot.
	Scan(p Partition, prefix []byte, fn func(key, value []byte) error) error
	// ScanMeta is Scan over the node metadata keys that start with
	// prefix.
	ScanMeta(prefix []byte, fn func(key, value []byte) error) error
	// NewIterator returns an iterator over the keys k of partition p's
	// space with lo ≤ k < hi (nil lo: from the start; nil hi: to the end).
	NewIterator(space Space, p Partition, lo, hi []byte) (Iterator, error)
	// Estimate returns an estimate of the bytes partition p's objects
	// take (for handoff progress; it may lag recent writes).
	Estimate(p Partition) (int64, error)
	// DropPartition deletes every key of partition p, in every space.
	DropPartition(p Partition) error
	// Close releases the engine. Acknowledged writes are not lost.
	Close() error
}

// WriteOptions tune one Write.
type WriteOptions struct {
	// Sync forces the write to stable storage before Write returns.
	Sync bool
}

// OpKind is the kind of one batch operation.
type OpKind uint8

// Batch operation kinds.
const (
	OpSet OpKind = iota
	OpDelete
	OpSetMeta
	OpDeleteMeta
)

// Op is one operation of a Batch.
type Op struct {
	Kind      OpKind
	Space     Space // for OpSet and OpDelete
	Partition Partition
	Key       []byte
	Value     []byte
}

// Batch is an ordered list of writes applied atomically by Engine.Write.
// The batch keeps the slices given to it; do not modify them until Write
// returns.
type Batch struct {
	Ops []Op
}

// Set stores value under key in partition p.
func (b *Batch) Set(p Partition, key, value []byte) {
	b.Ops = append(b.Ops, Op{Kind: OpSet, Partition: p, Key: key, Value: value})
}

// Delete removes key from partition p.
func (b *Batch) Delete(p Partition, key []byte) {
	b.Ops = append(b.Ops, Op{Kind: OpDelete, Partition: p, Key: key})
}

// SetIndex stores an entry in partition p's index space.
func (b *Batch) SetIndex(p Partition, key, value []byte) {
	b.Ops = append(b.Ops, Op{Kind: OpSet, Space: SpaceIndex, Partition: p, Key: key, Value: value})
}

// DeleteIndex removes an entry from partition p's index space.
func (b *Batch) DeleteIndex(p Partition, key []byte) {
	b.Ops = append(b.Ops, Op{Kind: OpDelete, Space: SpaceIndex, Partition: p, Key: key})
}

// SetMeta stores a node metadata key.
func (b *Batch) SetMeta(key, value []byte) {
	b.Ops = append(b.Ops, Op{Kind: OpSetMeta, Key: key, Value: value})
}

// DeleteMeta removes a node metadata key.
func (b *Batch) DeleteMeta(key []byte) {
	b.Ops = append(b.Ops, Op{Kind: OpDeleteMeta, Key: key})
}

// Len returns the number of operations.
func (b *Batch) Len() int { return len(b.Ops) }

// Reset empties the batch for reuse.
func (b *Batch) Reset() { b.Ops = b.Ops[:0] }
