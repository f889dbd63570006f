package hashtree

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
)

// Segments is the number of segments of a tree.
const Segments = 1024

const segShift = 64 - 10 // log2(Segments) = 10

// KeyHash hashes a key (FNV-1a, 64 bits, finished with a mixer so that
// its top bits, which choose the segment, are well spread).
func KeyHash(key []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range key {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix(h)
}

// Bytes hashes arbitrary bytes the same way (object hashes).
func Bytes(b []byte) uint64 { return KeyHash(b) }

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Segment returns the segment of a key.
func Segment(key []byte) int { return int(KeyHash(key) >> segShift) }

// Entry is a key's contribution to its segment: a hash of the key and the
// object hash, mixed so that entries of distinct pairs do not cancel.
func Entry(keyHash, objHash uint64) uint64 {
	return mix(keyHash ^ mix(objHash+0x9e3779b97f4a7c15))
}

// Tree is one replica's tree. The zero value is an empty tree.
type Tree struct {
	mu  sync.Mutex
	seg [Segments]uint64
}

// Update replaces key's entry: objHash old out (if hadOld), new in (if
// hasNew).
func (t *Tree) Update(key []byte, old uint64, hadOld bool, new uint64, hasNew bool) {
	if !hadOld && !hasNew {
		return
	}
	kh := KeyHash(key)
	var d uint64
	if hadOld {
		d ^= Entry(kh, old)
	}
	if hasNew {
		d ^= Entry(kh, new)
	}
	s := int(kh >> segShift)
	t.mu.Lock()
	t.seg[s] ^= d
	t.mu.Unlock()
}

// Insert adds key with objHash (a build from storage).
func (t *Tree) Insert(key []byte, objHash uint64) { t.Update(key, 0, false, objHash, true) }

// Segments returns a copy of the segment hashes.
func (t *Tree) Segments() []uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.seg[:])
}

// Merge XORs other's segments into t (a build's delta).
func (t *Tree) Merge(other *Tree) {
	o := other.Segments()
	t.mu.Lock()
	for i, v := range o {
		t.seg[i] ^= v
	}
	t.mu.Unlock()
}

// Reset empties the tree.
func (t *Tree) Reset() {
	t.mu.Lock()
	t.seg = [Segments]uint64{}
	t.mu.Unlock()
}

// Root is a hash of all segments: equal roots mean equal trees (with
// overwhelming probability).
func Root(segs []uint64) uint64 {
	h := uint64(0)
	for i, s := range segs {
		h = mix(h ^ s ^ uint64(i)<<48)
	}
	return h
}

// DiffSegments returns the segments where a and b differ (every segment
// if their lengths differ).
func DiffSegments(a, b []uint64) []int {
	var out []int
	if len(a) != len(b) {
		for i := range max(len(a), len(b)) {
			out = append(out, i)
		}
		return out
	}
	for i := range a {
		if a[i] != b[i] {
			out = append(out, i)
		}
	}
	return out
}

// KeyHashPair is one key of a segment listing and its object hash.
type KeyHashPair struct {
	Key  []byte `msgpack:"k"`
	Hash uint64 `msgpack:"h"`
}

// DiffKeys returns the keys whose object hash differs between the two
// listings, or that only one has. The listings need not be sorted.
func DiffKeys(a, b []KeyHashPair) [][]byte {
	m := make(map[string]uint64, len(a))
	for _, p := range a {
		m[string(p.Key)] = p.Hash
	}
	var out [][]byte
	for _, p := range b {
		h, ok := m[string(p.Key)]
		if !ok || h != p.Hash {
			out = append(out, p.Key)
		}
		delete(m, string(p.Key))
	}
	for k := range m {
		out = append(out, []byte(k))
	}
	slices.SortFunc(out, func(x, y []byte) int { return compare(x, y) })
	return out
}

func compare(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return len(a) - len(b)
}

// MarshalBinary encodes the tree (for a clean shutdown).
func (t *Tree) MarshalBinary() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]byte, 0, 1+8*Segments)
	out = append(out, 1)
	for _, s := range t.seg {
		out = binary.BigEndian.AppendUint64(out, s)
	}
	return out, nil
}

// UnmarshalBinary decodes a tree encoded by MarshalBinary.
func (t *Tree) UnmarshalBinary(b []byte) error {
	if len(b) != 1+8*Segments || b[0] != 1 {
		return errors.New("riakgo/hashtree: bad tree encoding")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.seg {
		t.seg[i] = binary.BigEndian.Uint64(b[1+8*i:])
	}
	return nil
}
