package metadata

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/riakgo/riakgo/ring"
)

// An Entry is one setting's replicated state: a dotted version vector set.
// Clock counts the writes each node has made to the entry; every value a
// write left that no later write has seen is kept as a sibling with the
// write's dot. Writes on one node replace every sibling that node has
// seen; concurrent writes on different nodes (a partition) leave one
// sibling each. Merge is a join: commutative, associative, idempotent, so
// replicas that have seen the same writes hold the same entry whatever the
// order. Readers resolve siblings deterministically (Resolve): the one
// with the greatest (Time, Node, N).

// Dot names one write: the node that made it and its count of writes to
// the entry.
type Dot struct {
	Node ring.NodeID `msgpack:"n"`
	N    uint64      `msgpack:"c"`
}

// Sibling is a value a write left.
type Sibling struct {
	Dot Dot `msgpack:"d"`
	// Time is the writer's wall clock (Unix nanoseconds): it orders
	// concurrent siblings for Resolve and nothing else.
	Time    int64  `msgpack:"t"`
	Value   []byte `msgpack:"v,omitempty"`
	Deleted bool   `msgpack:"x,omitempty"`
}

// Entry is a setting's state. The zero Entry is an entry nobody wrote.
type Entry struct {
	// Clock is sorted by node; counters are positive.
	Clock []Dot `msgpack:"c"`
	// Siblings are sorted by dot; each dot is covered by Clock.
	Siblings []Sibling `msgpack:"s"`
}

func cmpDot(a, b Dot) int {
	if c := cmp.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	return cmp.Compare(a.N, b.N)
}

// counter returns the clock's count for node.
func (e Entry) counter(node ring.NodeID) uint64 {
	i, ok := slices.BinarySearchFunc(e.Clock, node, func(d Dot, n ring.NodeID) int { return cmp.Compare(d.Node, n) })
	if !ok {
		return 0
	}
	return e.Clock[i].N
}

// covers reports whether the clock has seen dot d.
func (e Entry) covers(d Dot) bool { return e.counter(d.Node) >= d.N }

// Write returns the entry after a write by node of value (or a delete):
// its dot follows the node's count, and it replaces every sibling (the
// writer has seen them all).
func (e Entry) Write(node ring.NodeID, now int64, value []byte, deleted bool) Entry {
	d := Dot{Node: node, N: e.counter(node) + 1}
	clock := slices.Clone(e.Clock)
	i, ok := slices.BinarySearchFunc(clock, node, func(x Dot, n ring.NodeID) int { return cmp.Compare(x.Node, n) })
	if ok {
		clock[i] = d
	} else {
		clock = slices.Insert(clock, i, d)
	}
	return Entry{Clock: clock, Siblings: []Sibling{{Dot: d, Time: now, Value: bytes.Clone(value), Deleted: deleted}}}
}

// Merge returns the join of a and b.
func Merge(a, b Entry) Entry {
	out := Entry{}
	i, j := 0, 0
	for i < len(a.Clock) || j < len(b.Clock) {
		switch {
		case j == len(b.Clock) || i < len(a.Clock) && a.Clock[i].Node < b.Clock[j].Node:
			out.Clock = append(out.Clock, a.Clock[i])
			i++
		case i == len(a.Clock) || b.Clock[j].Node < a.Clock[i].Node:
			out.Clock = append(out.Clock, b.Clock[j])
			j++
		default:
			out.Clock = append(out.Clock, Dot{Node: a.Clock[i].Node, N: max(a.Clock[i].N, b.Clock[j].N)})
			i++
			j++
		}
	}
	// A sibling survives if the other side holds it too, or has not seen
	// its write.
	keep := func(s Sibling, other Entry) bool {
		if !other.covers(s.Dot) {
			return true
		}
		_, found := slices.BinarySearchFunc(other.Siblings, s.Dot, func(x Sibling, d Dot) int { return cmpDot(x.Dot, d) })
		return found
	}
	for _, s := range a.Siblings {
		if keep(s, b) {
			out.Siblings = append(out.Siblings, s)
		}
	}
	for _, s := range b.Siblings {
		if keep(s, a) {
			out.Siblings = append(out.Siblings, s)
		}
	}
	out.Siblings = uniqueSiblings(out.Siblings)
	return out
}

// uniqueSiblings sorts siblings by dot and keeps one per dot. Two siblings
// with one dot but different contents come from a node that lost its
// storage and wrote again with counts it had used before (a wiped data
// directory): every replica keeps the same one, the greatest by (Time,
// Deleted, Value), so that replicas still converge.
func uniqueSiblings(sibs []Sibling) []Sibling {
	slices.SortFunc(sibs, func(x, y Sibling) int {
		if c := cmpDot(x.Dot, y.Dot); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Time, x.Time); c != 0 {
			return c
		}
		if x.Deleted != y.Deleted {
			if y.Deleted {
				return 1
			}
			return -1
		}
		return bytes.Compare(y.Value, x.Value)
	})
	return slices.CompactFunc(sibs, func(x, y Sibling) bool { return x.Dot == y.Dot })
}

// Resolve returns the entry's value: the sibling with the greatest
// (Time, Node, N). ok is false if nobody wrote the entry or the winner is
// a delete.
func (e Entry) Resolve() (value []byte, ok bool) {
	if len(e.Siblings) == 0 {
		return nil, false
	}
	best := e.Siblings[0]
	for _, s := range e.Siblings[1:] {
		if s.Time > best.Time || s.Time == best.Time && cmpDot(s.Dot, best.Dot) > 0 {
			best = s
		}
	}
	if best.Deleted {
		return nil, false
	}
	return best.Value, true
}

// A Merger combines the values of concurrent writes to the entry key into
// the value readers see, as riak_core_metadata's resolver functions do
// (bucket properties merge property by property). It is given two or more
// values in a fixed order, must not modify them, and must return the same
// value whatever their order (it is commutative and associative over
// values), so every replica reads the same. It may be called with the
// store's lock held by no one, never under it.
type Merger func(key string, values [][]byte) []byte

// ResolveWith is Resolve, except that when the entry holds concurrent
// live writes (two or more siblings, none a delete) and m is not nil, its
// value is m of theirs (key is the entry's key, for m). A delete among the
// siblings is resolved as Resolve does.
func (e Entry) ResolveWith(key string, m Merger) (value []byte, ok bool) {
	if m == nil || len(e.Siblings) < 2 {
		return e.Resolve()
	}
	values := make([][]byte, len(e.Siblings))
	for i, s := range e.Siblings {
		if s.Deleted {
			return e.Resolve()
		}
		values[i] = s.Value
	}
	return m(key, values), true
}

// Equal reports whether a and b are the same state.
func Equal(a, b Entry) bool {
	return slices.Equal(a.Clock, b.Clock) && slices.EqualFunc(a.Siblings, b.Siblings, func(x, y Sibling) bool {
		return x.Dot == y.Dot && x.Time == y.Time && x.Deleted == y.Deleted && bytes.Equal(x.Value, y.Value)
	})
}

// Descends reports whether a has seen every write b has.
func Descends(a, b Entry) bool {
	for _, d := range b.Clock {
		if a.counter(d.Node) < d.N {
			return false
		}
	}
	return true
}

// normalize makes an entry from another node canonical: clock sorted with
// one positive counter per node, siblings sorted and unique, each covered
// by the clock. It reports false for an entry it cannot trust.
func normalize(e Entry) (Entry, bool) {
	if len(e.Clock) > maxClockEntries || len(e.Siblings) > maxSiblings {
		return Entry{}, false
	}
	clock := slices.Clone(e.Clock)
	slices.SortFunc(clock, cmpDot)
	out := Entry{}
	for _, d := range clock {
		if d.N == 0 || d.Node == "" {
			return Entry{}, false
		}
		if n := len(out.Clock); n > 0 && out.Clock[n-1].Node == d.Node {
			out.Clock[n-1].N = max(out.Clock[n-1].N, d.N)
			continue
		}
		out.Clock = append(out.Clock, d)
	}
	sibs := uniqueSiblings(slices.Clone(e.Siblings))
	for _, s := range sibs {
		if s.Dot.N == 0 || !out.covers(s.Dot) {
			return Entry{}, false
		}
	}
	out.Siblings = sibs
	return out, true
}

// Bounds on an entry received from another node.
const (
	maxClockEntries = 1024
	maxSiblings     = 1024
)
