package dt

import (
	"slices"

	"github.com/riakgo/riakgo/vclock"
)

// GSet is a grow-only set of strings (riak_dt_gset, Riak 2.9's gset bucket
// type): elements can be added, never removed; merge is union.
type GSet struct {
	elems []string // sorted, unique; never modified in place
}

// Kind reports KindGSet.
func (*GSet) Kind() Kind { return KindGSet }

// Apply adds op.Elements. No actor or context is needed.
func (g *GSet) Apply(op GSetOp) error {
	if len(op.Elements) == 0 {
		return nil
	}
	add := slices.Clone(op.Elements)
	slices.Sort(add)
	g.elems = unionSorted(g.elems, slices.Compact(add))
	return nil
}

// ApplyOp applies a GSetOp; actor and ctx are ignored.
func (g *GSet) ApplyOp(op Op, _ vclock.Actor, _ Context) error {
	o, ok := op.(GSetOp)
	if !ok {
		return mismatch(KindGSet, op)
	}
	return g.Apply(o)
}

func unionSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// Elements returns the sorted elements (a new slice, never nil).
func (g *GSet) Elements() []string {
	out := make([]string, len(g.elems))
	copy(out, g.elems)
	return out
}

// Contains reports whether x is in the set.
func (g *GSet) Contains(x string) bool {
	_, ok := slices.BinarySearch(g.elems, x)
	return ok
}

// Value returns Elements() as a []string.
func (g *GSet) Value() any { return g.Elements() }

// Context returns the zero Context: a gset needs none.
func (*GSet) Context() Context { return Context{} }

// Merge takes the union.
func (g *GSet) Merge(other CRDT) error {
	o, ok := other.(*GSet)
	if !ok {
		return mismatch(KindGSet, other)
	}
	if o == nil || o == g {
		return nil
	}
	g.elems = unionSorted(g.elems, o.elems)
	return nil
}

// Clone returns a copy.
func (g *GSet) Clone() CRDT { return &GSet{elems: g.elems} }

// Equal reports whether other is a gset with the same elements.
func (g *GSet) Equal(other CRDT) bool { return equalEncoding(g, other) }

// Stats reports the number of elements.
func (g *GSet) Stats() Stats { return Stats{Elements: len(g.elems)} }

// MarshalBinary encodes the set: tag 'G', version, count, then the sorted
// elements as length-prefixed bytes.
func (g *GSet) MarshalBinary() ([]byte, error) {
	n := 1
	for _, s := range g.elems {
		n += 1 + len(s)
	}
	e := newEncoder(KindGSet, n)
	e.uvarint(uint64(len(g.elems)))
	for _, s := range g.elems {
		e.str(s)
	}
	return e.b, nil
}

// UnmarshalBinary decodes what MarshalBinary produced (see CRDT).
func (g *GSet) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.header(KindGSet)
	n := d.count(1)
	var es []string
	if n > 0 {
		es = make([]string, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		s := d.str()
		if i > 0 && es[i-1] >= s {
			d.fail("gset elements out of order")
		}
		es = append(es, s)
	}
	if err := d.finish(); err != nil {
		return err
	}
	g.elems = es
	return nil
}
