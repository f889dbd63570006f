package dt

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/riakgo/riakgo/vclock"
)

// BCounter is a bounded counter (Balegas et al., "Extending Eventually
// Consistent Cloud Databases for Enforcing Numeric Invariants", SRDS 2015;
// the reference's §4): a counter that never goes below zero, without
// consensus, by escrow. The value is split into rights held by the
// replicas (actors). An increment mints rights at the replica that makes
// it; a decrement or a transfer spends rights the applying replica holds,
// and fails with an *InsufficientRightsError (ErrInsufficientRights) when
// it holds too few, even if the counter's value is large enough: the rights
// are elsewhere, and must be transferred first (an availability cost, not
// a safety one).
//
// State: P, a grow-only matrix where P[i][i] is the total incremented at i
// and P[i][j] (i ≠ j) the total of rights i transferred to j, and D, where
// D[i] is the total decremented at i. Then
//
//	value     = Σ_i P[i][i] − Σ_i D[i]
//	rights(i) = P[i][i] + Σ_{j≠i} P[j][i] − Σ_{j≠i} P[i][j] − D[i]
//
// Merge takes the entry-wise maximum. Σ rights(i) = value, and rights(i)
// only shrinks by i's own decrements and transfers, which i checks first;
// so value ≥ 0 in every state replicas can reach.
//
// That proof needs each actor to be sequential and durable: one replica
// applies all of an actor's operations, in order, and never forgets them
// (riakgo's vnode actors with per-key epochs are; a vnode that lost a key
// takes a new epoch, leaving the old epoch's rights unusable rather than
// spending them twice). Keep the rights holders few and fixed (for example
// the key's primaries) and route decrements to them.
type BCounter struct {
	rows []bcRow // sorted by actor; every actor that acted or received rights
}

type bcRow struct {
	actor    vclock.Actor
	inc, dec uint64   // P[i][i], D[i]
	sent     []bcSent // P[i][j], j ≠ i, sorted by j, amounts > 0; never modified in place
}

type bcSent struct {
	to     vclock.Actor
	amount uint64
}

// BCounterOp increments (Delta > 0) or decrements (Delta < 0) a bounded
// counter at the applying replica; a decrement needs that many rights
// there. A zero Delta is a no-op.
type BCounterOp struct {
	Delta int64
}

// BTransferOp moves Amount rights from the applying replica to the replica
// with actor To (not the applying one). A zero Amount is a no-op.
type BTransferOp struct {
	To     vclock.Actor
	Amount uint64
}

// Kind reports KindBCounter.
func (BCounterOp) Kind() Kind { return KindBCounter }

// Kind reports KindBCounter.
func (BTransferOp) Kind() Kind { return KindBCounter }

func (BCounterOp) isOp()  {}
func (BTransferOp) isOp() {}

// Kind reports KindBCounter.
func (*BCounter) Kind() Kind { return KindBCounter }

func (c *BCounter) find(a vclock.Actor) (int, bool) {
	return slices.BinarySearchFunc(c.rows, a, func(r bcRow, a vclock.Actor) int { return compareActor(r.actor, a) })
}

// row returns a copy of a's row (zero if absent) for modification.
func (c *BCounter) row(a vclock.Actor) bcRow {
	if i, ok := c.find(a); ok {
		return c.rows[i]
	}
	return bcRow{actor: a}
}

// put stores r, which must not share its sent slice with another value.
func (c *BCounter) put(r bcRow) {
	i, ok := c.find(r.actor)
	if ok {
		c.rows[i] = r
	} else {
		c.rows = slices.Insert(c.rows, i, r)
	}
}

// Increment adds n at actor, minting n rights there. It fails with
// ErrOverflow if actor's increment total would pass 2^64−1 or the value
// this replica knows would pass 2^63−1.
func (c *BCounter) Increment(n uint64, actor vclock.Actor) error {
	if n == 0 {
		return nil
	}
	if err := checkActor(actor); err != nil {
		return err
	}
	r := c.row(actor)
	if r.inc > math.MaxUint64-n {
		return fmt.Errorf("%w: actor %s", ErrOverflow, actor)
	}
	pos, neg := c.totals()
	if v := diff(pos.add(n), neg); !v.neg && (v.hi > 0 || v.lo > math.MaxInt64) {
		return fmt.Errorf("%w: bounded counter value %d + %d", ErrOverflow, c.Int(), n)
	}
	r.inc += n
	c.put(r)
	return nil
}

// Decrement subtracts n at actor, spending n of its rights. With fewer
// rights it fails with an *InsufficientRightsError and changes nothing.
func (c *BCounter) Decrement(n uint64, actor vclock.Actor) error {
	if n == 0 {
		return nil
	}
	if err := checkActor(actor); err != nil {
		return err
	}
	if err := c.spend("decrement", n, actor); err != nil {
		return err
	}
	r := c.row(actor)
	if r.dec > math.MaxUint64-n {
		return fmt.Errorf("%w: actor %s", ErrOverflow, actor)
	}
	r.dec += n
	c.put(r)
	return nil
}

// Transfer moves n rights from actor (the applying replica) to to. It fails
// with ErrInvalidActor for a zero actor, ErrInvalidOp for a transfer to
// itself (Antidote's bounded counter treats that as an increment, minting
// rights; riakgo refuses it), and an *InsufficientRightsError if actor holds
// fewer than n rights.
func (c *BCounter) Transfer(n uint64, actor, to vclock.Actor) error {
	if n == 0 {
		return nil
	}
	if err := checkActor(actor); err != nil {
		return err
	}
	if err := checkActor(to); err != nil {
		return err
	}
	if to == actor {
		return fmt.Errorf("%w: bounded counter transfer from %s to itself", ErrInvalidOp, actor)
	}
	if err := c.spend("transfer", n, actor); err != nil {
		return err
	}
	r := c.row(actor)
	k, found := slices.BinarySearchFunc(r.sent, to, func(s bcSent, a vclock.Actor) int { return compareActor(s.to, a) })
	sent := slices.Clone(r.sent)
	if found {
		if sent[k].amount > math.MaxUint64-n {
			return fmt.Errorf("%w: transfers from %s to %s", ErrOverflow, actor, to)
		}
		sent[k].amount += n
	} else {
		sent = slices.Insert(sent, k, bcSent{to: to, amount: n})
	}
	r.sent = sent
	c.put(r)
	if _, ok := c.find(to); !ok {
		c.put(bcRow{actor: to})
	}
	return nil
}

// spend checks that actor holds n rights.
func (c *BCounter) spend(op string, n uint64, actor vclock.Actor) error {
	have := c.rights(actor)
	if !have.neg && (have.hi > 0 || have.lo >= n) {
		return nil
	}
	return &InsufficientRightsError{Op: op, Actor: actor, Requested: n, Local: have.clampU(), Global: c.Int()}
}

// Apply applies a BCounterOp at actor.
func (c *BCounter) Apply(op BCounterOp, actor vclock.Actor) error {
	switch {
	case op.Delta > 0:
		return c.Increment(uint64(op.Delta), actor)
	case op.Delta < 0:
		return c.Decrement(uint64(-(op.Delta+1))+1, actor)
	}
	return nil
}

// ApplyOp applies a BCounterOp or a BTransferOp at actor; ctx is ignored.
func (c *BCounter) ApplyOp(op Op, actor vclock.Actor, _ Context) error {
	switch o := op.(type) {
	case BCounterOp:
		return c.Apply(o, actor)
	case BTransferOp:
		return c.Transfer(o.Amount, actor, o.To)
	}
	return mismatch(KindBCounter, op)
}

// Int returns Σ increments − Σ decrements, clamped to the int64 range
// (never negative in a state replicas can reach).
func (c *BCounter) Int() int64 { return c.value().clamp() }

// Value returns Int() as an int64.
func (c *BCounter) Value() any { return c.Int() }

// Rights returns the rights actor holds (what it may decrement or transfer
// now), saturating at 2^64−1.
func (c *BCounter) Rights(actor vclock.Actor) uint64 { return c.rights(actor).clampU() }

// Actors returns the actors that hold or held rights, sorted.
func (c *BCounter) Actors() []vclock.Actor {
	out := make([]vclock.Actor, len(c.rows))
	for i, r := range c.rows {
		out[i] = r.actor
	}
	return out
}

// totals returns Σ increments and Σ decrements.
func (c *BCounter) totals() (pos, neg u128) {
	for _, r := range c.rows {
		pos = pos.add(r.inc)
		neg = neg.add(r.dec)
	}
	return pos, neg
}

func (c *BCounter) value() i129 { return diff(c.totals()) }

func (c *BCounter) rights(a vclock.Actor) i129 {
	var pos, neg u128
	for _, r := range c.rows {
		if r.actor == a {
			pos = pos.add(r.inc)
			neg = neg.add(r.dec)
			for _, s := range r.sent {
				neg = neg.add(s.amount)
			}
			continue
		}
		if k, ok := slices.BinarySearchFunc(r.sent, a, func(s bcSent, a vclock.Actor) int { return compareActor(s.to, a) }); ok {
			pos = pos.add(r.sent[k].amount)
		}
	}
	return diff(pos, neg)
}

// Context returns the zero Context: bounded counters need none.
func (*BCounter) Context() Context { return Context{} }

// Merge takes the entry-wise maximum of P and D.
func (c *BCounter) Merge(other CRDT) error {
	o, ok := other.(*BCounter)
	if !ok {
		return mismatch(KindBCounter, other)
	}
	if o == nil || o == c {
		return nil
	}
	out := make([]bcRow, 0, max(len(c.rows), len(o.rows)))
	i, j := 0, 0
	for i < len(c.rows) || j < len(o.rows) {
		switch {
		case j == len(o.rows) || (i < len(c.rows) && c.rows[i].actor.Less(o.rows[j].actor)):
			out = append(out, c.rows[i])
			i++
		case i == len(c.rows) || o.rows[j].actor.Less(c.rows[i].actor):
			r := o.rows[j]
			r.sent = slices.Clone(r.sent)
			out = append(out, r)
			j++
		default:
			a, b := c.rows[i], o.rows[j]
			out = append(out, bcRow{actor: a.actor, inc: max(a.inc, b.inc), dec: max(a.dec, b.dec), sent: joinSent(a.sent, b.sent)})
			i++
			j++
		}
	}
	c.rows = out
	return nil
}

func joinSent(a, b []bcSent) []bcSent {
	var out []bcSent
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].to.Less(b[j].to)):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].to.Less(a[i].to):
			out = append(out, b[j])
			j++
		default:
			out = append(out, bcSent{to: a[i].to, amount: max(a[i].amount, b[j].amount)})
			i++
			j++
		}
	}
	return out
}

// Clone returns a deep copy.
func (c *BCounter) Clone() CRDT {
	out := &BCounter{rows: slices.Clone(c.rows)}
	for i := range out.rows {
		out.rows[i].sent = slices.Clone(out.rows[i].sent)
	}
	return out
}

// Equal reports whether other is a bounded counter with the same state.
func (c *BCounter) Equal(other CRDT) bool { return equalEncoding(c, other) }

// Stats reports the actors and the transfer entries (Elements).
func (c *BCounter) Stats() Stats {
	st := Stats{Actors: len(c.rows)}
	for _, r := range c.rows {
		st.Elements += len(r.sent)
	}
	return st
}

// MarshalBinary encodes the counter: tag 'B', version, the actor table
// (sorted (id, epoch) pairs), then per actor its increment and decrement
// totals and its transfers as (actor index, amount).
func (c *BCounter) MarshalBinary() ([]byte, error) {
	e := newEncoder(KindBCounter, 1+len(c.rows)*16)
	e.uvarint(uint64(len(c.rows)))
	for _, r := range c.rows {
		e.actor(r.actor)
	}
	for _, r := range c.rows {
		e.uvarint(r.inc)
		e.uvarint(r.dec)
		e.uvarint(uint64(len(r.sent)))
		for _, s := range r.sent {
			k, _ := c.find(s.to)
			e.uvarint(uint64(k))
			e.uvarint(s.amount)
		}
	}
	return e.b, nil
}

// UnmarshalBinary decodes what MarshalBinary produced (see CRDT). It also
// refuses states no replica can reach: an actor that neither acted nor
// received rights, a transfer to oneself, and an actor with negative
// rights.
func (c *BCounter) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.header(KindBCounter)
	n := d.count(5)
	var v BCounter
	if n > 0 {
		v.rows = make([]bcRow, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		a := d.actor()
		if i > 0 && d.err == nil && !v.rows[i-1].actor.Less(a) {
			d.fail("bounded counter actors out of order")
		}
		v.rows = append(v.rows, bcRow{actor: a})
	}
	received := make([]bool, n)
	for i := 0; i < n && d.err == nil; i++ {
		r := &v.rows[i]
		r.inc = d.uvarint()
		r.dec = d.uvarint()
		m := d.count(2)
		if m > 0 {
			r.sent = make([]bcSent, 0, m)
		}
		prev := -1
		for k := 0; k < m && d.err == nil; k++ {
			to := d.uvarint()
			amt := d.uvarint()
			if d.err != nil {
				break
			}
			if to >= uint64(n) || int(to) <= prev || int(to) == i || amt == 0 {
				d.fail("invalid bounded counter transfer")
				break
			}
			prev = int(to)
			received[to] = true
			r.sent = append(r.sent, bcSent{to: v.rows[to].actor, amount: amt})
		}
	}
	if err := d.finish(); err != nil {
		return err
	}
	for i, r := range v.rows {
		if r.inc == 0 && r.dec == 0 && len(r.sent) == 0 && !received[i] {
			return fmt.Errorf("%w: unused bounded counter actor", ErrMalformed)
		}
		if v.rights(r.actor).neg {
			return fmt.Errorf("%w: actor %s holds negative rights", ErrMalformed, r.actor)
		}
	}
	if err := checkCanonical(b, &v); err != nil {
		return err
	}
	*c = v
	return nil
}

// u128 is an unsigned 128-bit sum; i129 a signed difference of two.
type u128 struct{ hi, lo uint64 }

func (a u128) add(x uint64) u128 {
	lo, carry := bits.Add64(a.lo, x, 0)
	return u128{hi: a.hi + carry, lo: lo}
}

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

type i129 struct {
	neg    bool
	hi, lo uint64 // magnitude
}

func diff(a, b u128) i129 {
	neg := a.less(b)
	if neg {
		a, b = b, a
	}
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, borrow)
	return i129{neg: neg, hi: hi, lo: lo}
}

func (v i129) clamp() int64 {
	switch {
	case v.neg && (v.hi > 0 || v.lo > 1<<63):
		return math.MinInt64
	case v.neg:
		return -int64(v.lo-1) - 1
	case v.hi > 0 || v.lo > math.MaxInt64:
		return math.MaxInt64
	}
	return int64(v.lo)
}

// inInt64 reports whether v is within the int64 range.
func (v i129) inInt64() bool {
	if v.neg {
		return v.hi == 0 && v.lo <= 1<<63
	}
	return v.hi == 0 && v.lo <= math.MaxInt64
}

// clampU returns v within 0..2^64−1.
func (v i129) clampU() uint64 {
	switch {
	case v.neg:
		return 0
	case v.hi > 0:
		return math.MaxUint64
	}
	return v.lo
}
