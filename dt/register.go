package dt

import (
	"strings"

	"github.com/riakgo/riakgo/vclock"
)

// Register is a last-writer-wins register (riak_dt_lwwreg). Each assignment
// carries a caller-supplied timestamp; the register holds the assignment
// with the greatest (timestamp, actor) pair, and for the same actor at the
// same timestamp the greater value, so every replica picks the same winner.
// (Riak breaks timestamp ties by comparing values; riakgo breaks them by
// actor first, as the reference recommends.) An unassigned register's value
// is "".
//
// Registers embedded in a map follow the same rule but are dotted, so that
// removing the field removes the assignments the remover had seen.
type Register struct {
	ts    int64 // 0: never assigned
	actor vclock.Actor
	value string
}

// Kind reports KindRegister.
func (*Register) Kind() Kind { return KindRegister }

// lwwLess orders assignments: timestamp, then actor, then value.
func lwwLess(ts1 int64, a1 vclock.Actor, v1 string, ts2 int64, a2 vclock.Actor, v2 string) bool {
	if ts1 != ts2 {
		return ts1 < ts2
	}
	if a1 != a2 {
		return a1.Less(a2)
	}
	return strings.Compare(v1, v2) < 0
}

// Apply assigns op.Value at op.Timestamp on behalf of actor. Applying is
// joining with that single assignment: an assignment older than the current
// one leaves the register unchanged.
func (r *Register) Apply(op RegisterOp, actor vclock.Actor) error {
	if err := validateOp(op, 1); err != nil {
		return err
	}
	if err := checkActor(actor); err != nil {
		return err
	}
	if r.ts == 0 || lwwLess(r.ts, r.actor, r.value, op.Timestamp, actor, op.Value) {
		r.ts, r.actor, r.value = op.Timestamp, actor, op.Value
	}
	return nil
}

// ApplyOp applies a RegisterOp; ctx is ignored.
func (r *Register) ApplyOp(op Op, actor vclock.Actor, _ Context) error {
	o, ok := op.(RegisterOp)
	if !ok {
		return mismatch(KindRegister, op)
	}
	return r.Apply(o, actor)
}

// String returns the current value ("" if never assigned).
func (r *Register) String() string { return r.value }

// Timestamp returns the winning assignment's timestamp and actor (0 and the
// zero actor if never assigned), Riak's value(timestamp).
func (r *Register) Timestamp() (int64, vclock.Actor) { return r.ts, r.actor }

// Value returns the current value as a string.
func (r *Register) Value() any { return r.value }

// Context returns the zero Context: registers need none.
func (*Register) Context() Context { return Context{} }

// Merge keeps the greater assignment.
func (r *Register) Merge(other CRDT) error {
	o, ok := other.(*Register)
	if !ok {
		return mismatch(KindRegister, other)
	}
	if o == nil || o.ts == 0 {
		return nil
	}
	if r.ts == 0 || lwwLess(r.ts, r.actor, r.value, o.ts, o.actor, o.value) {
		*r = *o
	}
	return nil
}

// Clone returns a copy.
func (r *Register) Clone() CRDT { c := *r; return &c }

// Equal reports whether other is a register holding the same assignment.
func (r *Register) Equal(other CRDT) bool { return equalEncoding(r, other) }

// Stats reports one element once assigned.
func (r *Register) Stats() Stats {
	if r.ts == 0 {
		return Stats{}
	}
	return Stats{Actors: 1, Elements: 1}
}

// MarshalBinary encodes the register: tag 'R', version, timestamp (zigzag
// varint; 0 = unassigned, and then nothing follows), actor, value.
func (r *Register) MarshalBinary() ([]byte, error) {
	e := newEncoder(KindRegister, 16+len(r.value))
	e.varint(r.ts)
	if r.ts != 0 {
		e.actor(r.actor)
		e.str(r.value)
	}
	return e.b, nil
}

// UnmarshalBinary decodes what MarshalBinary produced (see CRDT).
func (r *Register) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.header(KindRegister)
	var v Register
	v.ts = d.varint()
	if d.err == nil && v.ts < 0 {
		d.fail("negative register timestamp")
	}
	if d.err == nil && v.ts > 0 {
		v.actor = d.actor()
		v.value = d.str()
	}
	if err := d.finish(); err != nil {
		return err
	}
	*r = v
	return nil
}
