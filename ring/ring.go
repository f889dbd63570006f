package ring

import (
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
)

// DefaultSize is the default number of partitions, as in Riak.
const DefaultSize = 64

// MaxSize bounds the ring size (partitions are numbered with uint16 in
// storage keys).
const MaxSize = 1 << 16

// NodeID names a node of the cluster, e.g. "riakgo@127.0.0.1".
type NodeID string

// ErrBadSize is returned for a ring size that is not a power of two in
// [1, MaxSize].
var ErrBadSize = errors.New("riakgo/ring: ring size must be a power of two between 1 and 65536")

// Ring is an immutable assignment of partitions to owner nodes.
type Ring struct {
	owners []NodeID
	shift  uint // 64 - log2(size): hash top bits → position
}

// New returns a ring of size partitions, all owned by owner (a single-node
// cluster, as riak_core's fresh ring).
func New(size int, owner NodeID) (*Ring, error) {
	if size < 1 || size > MaxSize || size&(size-1) != 0 {
		return nil, fmt.Errorf("%w (got %d)", ErrBadSize, size)
	}
	owners := make([]NodeID, size)
	for i := range owners {
		owners[i] = owner
	}
	return &Ring{owners: owners, shift: uint(64 - bits.TrailingZeros(uint(size)))}, nil
}

// FromOwners returns a ring whose partition p is owned by owners[p]. The
// number of owners is the ring size and must be a power of two in
// [1, MaxSize]. The slice is copied.
func FromOwners(owners []NodeID) (*Ring, error) {
	size := len(owners)
	if size < 1 || size > MaxSize || size&(size-1) != 0 {
		return nil, fmt.Errorf("%w (got %d)", ErrBadSize, size)
	}
	return &Ring{
		owners: append([]NodeID(nil), owners...),
		shift:  uint(64 - bits.TrailingZeros(uint(size))),
	}, nil
}

// Size returns the number of partitions.
func (r *Ring) Size() int { return len(r.owners) }

// Owner returns the node that owns partition p.
func (r *Ring) Owner(p int) NodeID { return r.owners[p] }

// Owners returns a copy of the owner of every partition, by partition.
func (r *Ring) Owners() []NodeID { return append([]NodeID(nil), r.owners...) }

// Hash is a SHA-1 position on the ring.
type Hash [sha1.Size]byte

// KeyHash hashes (bucket type, bucket, key) with a canonical
// length-prefixed encoding, so that no two distinct triples share an input.
func KeyHash(typ, bucket, key string) Hash {
	var buf [128]byte
	b := buf[:0]
	b = binary.AppendUvarint(b, uint64(len(typ)))
	b = append(b, typ...)
	b = binary.AppendUvarint(b, uint64(len(bucket)))
	b = append(b, bucket...)
	b = append(b, key...)
	return sha1.Sum(b)
}

// Partition returns the partition responsible for hash h: riak_core's
// ((h div inc) + 1) mod size.
func (r *Ring) Partition(h Hash) int {
	if len(r.owners) == 1 {
		return 0
	}
	top := binary.BigEndian.Uint64(h[:8]) >> r.shift
	return int((top + 1) % uint64(len(r.owners)))
}

// Index returns the riak_core index of partition p: p × 2^160 / size, the
// number Riak tools print for a partition.
func (r *Ring) Index(p int) *big.Int {
	inc := new(big.Int).Lsh(big.NewInt(1), 160)
	inc.Div(inc, big.NewInt(int64(len(r.owners))))
	return inc.Mul(inc, big.NewInt(int64(p)))
}

// Target is one entry of a preference list: a partition, the node that
// should serve it for this request, and whether that node is the
// partition's owner (primary) or a fallback standing in for it.
type Target struct {
	Partition int
	Node      NodeID
	Primary   bool
}

// String formats the target as partition@node with a fallback marker.
func (t Target) String() string {
	if t.Primary {
		return fmt.Sprintf("%d@%s", t.Partition, t.Node)
	}
	return fmt.Sprintf("%d@%s(fallback)", t.Partition, t.Node)
}

// Primaries returns the n partitions that hold keys of partition p: p and
// the n-1 that follow it, wrapping. n is capped at the ring size.
func (r *Ring) Primaries(p, n int) []int {
	if n > len(r.owners) {
		n = len(r.owners)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = (p + i) % len(r.owners)
	}
	return out
}

// PrefList returns the annotated preference list for hash h at n replicas,
// as riak_core_apl does: the primaries whose owner is up, in ring order,
// followed by one fallback for each down primary. A fallback keeps the down
// primary's partition and runs on the owner of the next partition past the
// first n whose owner is up. up == nil means every node is up. The list is
// shorter than n when not enough nodes are up, or when n exceeds the ring.
func PrefList(r *Ring, h Hash, n int, up func(NodeID) bool) []Target {
	size := len(r.owners)
	if n > size {
		n = size
	}
	first := r.Partition(h)
	out := make([]Target, 0, n)
	var down []int
	for i := 0; i < n; i++ {
		p := (first + i) % size
		if up == nil || up(r.owners[p]) {
			out = append(out, Target{Partition: p, Node: r.owners[p], Primary: true})
		} else {
			down = append(down, p)
		}
	}
	next := n
	for _, p := range down {
		for next < size {
			fp := (first + next) % size
			next++
			if up(r.owners[fp]) {
				out = append(out, Target{Partition: p, Node: r.owners[fp], Primary: false})
				break
			}
		}
	}
	return out
}
