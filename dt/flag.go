package dt

import (
	"slices"

	"github.com/riakgo/riakgo/vclock"
)

// Flag is an enable-wins flag (riak_dt_od_flag): an observed-remove set of
// enable dots. Enable adds a new dot; disable drops the enable dots the
// context covers. The flag is on while any enable dot survives, so an enable
// concurrent with a disable wins. Riak offers flags only inside maps; a
// top-level Flag has its own clock and follows the same rules.
//
// Disable never fails a precondition (disabling a disabled flag is a no-op,
// as in Riak). With a context the replica has not fully seen, the disable is
// deferred like a set remove (see Set), subject to MaxDeferred.
type Flag struct {
	clock    vclock.VClock
	dots     dotSet
	deferred deferredList
}

// Kind reports KindFlag.
func (*Flag) Kind() Kind { return KindFlag }

// Apply enables or disables the flag at this replica for actor with the
// client's context ctx (zero: act on the local state).
func (f *Flag) Apply(op FlagOp, actor vclock.Actor, ctx Context) error {
	sn := seen{vv: f.clock}
	if ctx.set {
		sn.vv = ctx.vv
	}
	if op.Enable {
		clock, d, err := mint(f.clock, actor)
		if err != nil {
			return err
		}
		f.clock = clock
		f.dots = f.dots.plus(d, sn)
		f.settle()
		return nil
	}
	if ctx.set && !f.clock.Descends(ctx.vv) {
		def, err := f.deferred.with(ctx.vv, []target{{op: targetFlag}})
		if err != nil {
			return err
		}
		f.deferred = def
	}
	f.dots, _ = f.dots.without(sn)
	f.settle()
	return nil
}

// ApplyOp applies a FlagOp.
func (f *Flag) ApplyOp(op Op, actor vclock.Actor, ctx Context) error {
	o, ok := op.(FlagOp)
	if !ok {
		return mismatch(KindFlag, op)
	}
	return f.Apply(o, actor, ctx)
}

func (f *Flag) settle() {
	f.deferred = f.deferred.settle(f.clock, func(_ target, sn seen) {
		f.dots, _ = f.dots.without(sn)
	})
}

// Enabled reports whether the flag is on.
func (f *Flag) Enabled() bool { return len(f.dots) > 0 }

// Value returns Enabled() as a bool.
func (f *Flag) Value() any { return f.Enabled() }

// Context returns the flag's clock as the context for later disables.
func (f *Flag) Context() Context { return Context{vv: f.clock, set: true} }

// Merge joins other into f (the dot-store join, then deferred disables).
func (f *Flag) Merge(other CRDT) error {
	o, ok := other.(*Flag)
	if !ok {
		return mismatch(KindFlag, other)
	}
	if o == nil || o == f {
		return nil
	}
	f.dots = joinDots(f.dots, o.dots, f.clock, o.clock)
	f.clock = vclock.Merge(f.clock, o.clock)
	f.deferred = mergeDeferred(f.deferred, o.deferred)
	f.settle()
	return nil
}

// Clone returns a deep copy.
func (f *Flag) Clone() CRDT {
	return &Flag{clock: f.clock, dots: f.dots, deferred: slices.Clone(f.deferred)}
}

// Equal reports whether other is a flag with the same state.
func (f *Flag) Equal(other CRDT) bool { return equalEncoding(f, other) }

// Stats reports actors, enable dots and deferred disables.
func (f *Flag) Stats() Stats {
	st := Stats{Actors: len(f.clock), MaxDots: len(f.dots), Deferred: len(f.deferred)}
	if len(f.dots) > 0 {
		st.Elements = 1
	}
	return st
}

// MarshalBinary encodes the flag: tag 'F', version, actor table and clock,
// the enable dots, then the deferred disables.
func (f *Flag) MarshalBinary() ([]byte, error) {
	e := newEncoder(KindFlag, 16+len(f.clock)*12)
	e.causalHeader(f.clock, f.deferred)
	e.dots(f.dots)
	e.deferred(f.deferred)
	return e.b, nil
}

// UnmarshalBinary decodes what MarshalBinary produced (see CRDT).
func (f *Flag) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.header(KindFlag)
	v := Flag{clock: d.causalHeader()}
	v.dots = d.dots(true)
	v.deferred = d.deferred(func(t target) bool { return len(t.path) == 0 && t.op == targetFlag })
	if err := d.finish(); err != nil {
		return err
	}
	v.settle()
	if err := checkCanonical(b, &v); err != nil {
		return err
	}
	*f = v
	return nil
}
