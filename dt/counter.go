package dt

import (
	"fmt"
	"math"
	"slices"

	"github.com/riakgo/riakgo/vclock"
)

// Counter is Riak's top-level counter, a PN-counter (riak_dt_pncounter): per
// actor a total of increments P and a total of decrements N, merged by
// taking each actor's larger P and larger N. Its value is Σ(P−N).
//
// Counters embedded in a map are different (see Map): they carry a dot per
// actor so that a removed-and-re-added field restarts from zero.
type Counter struct {
	entries []pnEntry // sorted by actor, never both totals zero
}

type pnEntry struct {
	actor vclock.Actor
	p, n  uint64
}

// Kind reports KindCounter.
func (*Counter) Kind() Kind { return KindCounter }

// Apply adds op.Delta at actor. It fails with ErrOverflow if the actor's
// increment or decrement total would pass 2^64−1 (the totals must only
// grow, so they cannot wrap), or if the counter's value would leave the
// int64 range (Riak's counters are bignums and never wrap; riakgo's refuse
// what they cannot hold).
func (c *Counter) Apply(op CounterOp, actor vclock.Actor) error {
	if op.Delta == 0 {
		return nil
	}
	if err := checkActor(actor); err != nil {
		return err
	}
	if !fitsInt64(c.exact(), op.Delta) {
		return fmt.Errorf("%w: counter value %d %+d leaves the int64 range", ErrOverflow, c.Int(), op.Delta)
	}
	i, found := slices.BinarySearchFunc(c.entries, actor, func(e pnEntry, a vclock.Actor) int { return compareActor(e.actor, a) })
	var e pnEntry
	if found {
		e = c.entries[i]
	}
	e.actor = actor
	var ok bool
	if e.p, e.n, ok = addDelta(e.p, e.n, op.Delta); !ok {
		return fmt.Errorf("%w: actor %s", ErrOverflow, actor)
	}
	if found {
		c.entries = slices.Clone(c.entries)
		c.entries[i] = e
	} else {
		c.entries = slices.Insert(slices.Clone(c.entries), i, e)
	}
	return nil
}

// addDelta adds delta to the increment (delta > 0) or decrement (delta < 0)
// total and reports false on overflow.
func addDelta(p, n uint64, delta int64) (uint64, uint64, bool) {
	if delta > 0 {
		if p > math.MaxUint64-uint64(delta) {
			return p, n, false
		}
		return p + uint64(delta), n, true
	}
	m := uint64(-(delta + 1)) + 1 // |delta| without overflowing at MinInt64
	if n > math.MaxUint64-m {
		return p, n, false
	}
	return p, n + m, true
}

// ApplyOp applies a CounterOp; ctx is ignored.
func (c *Counter) ApplyOp(op Op, actor vclock.Actor, _ Context) error {
	o, ok := op.(CounterOp)
	if !ok {
		return mismatch(KindCounter, op)
	}
	return c.Apply(o, actor)
}

// Int returns Σ(P−N). Apply never lets it leave the int64 range; if
// concurrent updates merged do, it saturates at the bound (it never
// wraps).
func (c *Counter) Int() int64 { return c.exact().clamp() }

// exact returns Σ(P−N) without overflow.
func (c *Counter) exact() i129 {
	var pos, neg u128
	for _, e := range c.entries {
		pos, neg = pos.add(e.p), neg.add(e.n)
	}
	return diff(pos, neg)
}

// fitsInt64 reports whether v + delta is within the int64 range.
func fitsInt64(v i129, delta int64) bool {
	if !v.inInt64() {
		// Already outside (concurrent merges): only moves back count.
		return (v.neg && delta > 0) || (!v.neg && delta < 0)
	}
	x := v.clamp()
	if delta > 0 {
		return x <= math.MaxInt64-delta
	}
	return x >= math.MinInt64-delta
}

// Positive returns the sum of all increments and Negative the sum of all
// decrements (each modulo 2^64), Riak's value(positive) and value(negative).
func (c *Counter) Positive() uint64 {
	var s uint64
	for _, e := range c.entries {
		s += e.p
	}
	return s
}

// Negative returns the sum of all decrements (modulo 2^64).
func (c *Counter) Negative() uint64 {
	var s uint64
	for _, e := range c.entries {
		s += e.n
	}
	return s
}

// Value returns Int() as an int64.
func (c *Counter) Value() any { return c.Int() }

// Context returns the zero Context: counters need none.
func (*Counter) Context() Context { return Context{} }

// Merge takes, per actor, the larger increment and the larger decrement
// total.
func (c *Counter) Merge(other CRDT) error {
	o, ok := other.(*Counter)
	if !ok {
		return mismatch(KindCounter, other)
	}
	if o == nil || o == c {
		return nil
	}
	out := make([]pnEntry, 0, max(len(c.entries), len(o.entries)))
	i, j := 0, 0
	for i < len(c.entries) || j < len(o.entries) {
		switch {
		case j == len(o.entries) || (i < len(c.entries) && c.entries[i].actor.Less(o.entries[j].actor)):
			out = append(out, c.entries[i])
			i++
		case i == len(c.entries) || o.entries[j].actor.Less(c.entries[i].actor):
			out = append(out, o.entries[j])
			j++
		default:
			out = append(out, pnEntry{actor: c.entries[i].actor, p: max(c.entries[i].p, o.entries[j].p), n: max(c.entries[i].n, o.entries[j].n)})
			i++
			j++
		}
	}
	c.entries = out
	return nil
}

// Clone returns a copy.
func (c *Counter) Clone() CRDT { return &Counter{entries: slices.Clone(c.entries)} }

// Equal reports whether other is a counter with the same per-actor totals.
func (c *Counter) Equal(other CRDT) bool { return equalEncoding(c, other) }

// Stats reports the number of actors.
func (c *Counter) Stats() Stats { return Stats{Actors: len(c.entries)} }

// MarshalBinary encodes the counter: tag 'C', version, then the entries in
// actor order as (id, epoch, P, N).
func (c *Counter) MarshalBinary() ([]byte, error) {
	e := newEncoder(KindCounter, 1+len(c.entries)*12)
	e.uvarint(uint64(len(c.entries)))
	for _, x := range c.entries {
		e.actor(x.actor)
		e.uvarint(x.p)
		e.uvarint(x.n)
	}
	return e.b, nil
}

// UnmarshalBinary decodes what MarshalBinary produced (see CRDT).
func (c *Counter) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.header(KindCounter)
	n := d.count(4)
	var es []pnEntry
	if n > 0 {
		es = make([]pnEntry, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		x := pnEntry{actor: d.actor()}
		x.p = d.uvarint()
		x.n = d.uvarint()
		if d.err != nil {
			break
		}
		if x.p == 0 && x.n == 0 {
			d.fail("empty counter entry")
		}
		if i > 0 && !es[i-1].actor.Less(x.actor) {
			d.fail("counter entries out of order")
		}
		es = append(es, x)
	}
	if err := d.finish(); err != nil {
		return err
	}
	c.entries = es
	return nil
}
