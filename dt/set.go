package dt

import (
	"maps"
	"slices"

	"github.com/riakgo/riakgo/vclock"
)

// Set is Riak's set: an add-wins observed-remove set without tombstones
// (riak_dt_orswot). Each element maps to the dots of the adds that made it
// present; the set's clock has seen every add. A remove drops the element's
// dots that the remover had seen, so an add the remover had not seen keeps
// the element (add-wins), and a removed element leaves nothing behind: the
// encoded size depends on the actors and the live elements only.
//
// Removes take the context the client read (riak_dt_orswot's update/4):
//
//   - A remove with a context drops exactly the element's dots the context
//     covers, and never a dot outside it: not a concurrent add the client
//     did not see, and not the add of an earlier edit of the same Apply
//     (whose new dot no read can have seen). So [add x, remove x] with a
//     context keeps x, in either order, as in Riak. If the context covers
//     none of the element's dots (the element is absent, already removed,
//     or present only through adds the read did not see) the remove is a
//     successful no-op: the precondition it expresses holds or will hold.
//   - At a replica that has not seen the whole context (a lagging replica
//     or an empty fallback), the remove drops the covered dots it has and
//     is deferred: kept with the set, re-applied after every merge, and
//     dropped once the clock has seen the context. At most MaxDeferred
//     contexts may be pending; beyond that the remove fails with
//     ErrTooManyDeferred rather than dropping an earlier one.
//   - With the zero Context the remove acts on what this replica holds, as
//     Riak does: every local dot of the element is dropped, including an add
//     earlier in the same Apply ([add x, remove x] leaves x absent), and an
//     element absent from the replica fails with a *PreconditionError
//     (Riak's {precondition,{not_present,X}}); the set is then unchanged.
//
// An add with a context replaces the element's dots the context covers and
// keeps the others; without one it replaces all local dots (Riak's
// behaviour). All adds of one Apply share one new dot.
type Set struct {
	clock    vclock.VClock
	elems    map[string]dotSet
	deferred deferredList
}

// Kind reports KindSet.
func (*Set) Kind() Kind { return KindSet }

// Apply applies op at this replica for actor with the client's context ctx
// (see Set for the remove rules). Edits apply in order. Without a context a
// later remove sees the adds of earlier edits ([add x, remove x] leaves x
// absent); with one it removes only what the context covers ([add x,
// remove x] keeps x).
func (s *Set) Apply(op SetOp, actor vclock.Actor, ctx Context) error {
	needDot := false
	for _, e := range op.Edits {
		if !e.Remove && len(e.Elements) > 0 {
			needDot = true
		}
	}
	sn := seen{vv: s.clock}
	if ctx.set {
		sn.vv = ctx.vv
	}
	descends := !ctx.set || s.clock.Descends(ctx.vv)
	clock := s.clock
	if needDot {
		var err error
		if clock, sn.self, err = mint(s.clock, actor); err != nil {
			return err
		}
	}
	// A remove with a context sees exactly the context; without one it sees
	// the local state and the batch's own adds.
	rm := sn
	if ctx.set {
		rm.self = vclock.Dot{}
	}
	// Edits go to an overlay of the touched elements (nil = removed), which
	// is committed only if every edit succeeds.
	overlay := make(map[string]dotSet)
	get := func(x string) dotSet {
		if ds, ok := overlay[x]; ok {
			return ds
		}
		return s.elems[x]
	}
	var pending []target
	for _, e := range op.Edits {
		for _, x := range e.Elements {
			if !e.Remove {
				overlay[x] = get(x).plus(sn.self, sn)
				continue
			}
			ds, removed := get(x).without(rm)
			if !ctx.set && !removed {
				return &PreconditionError{Element: x}
			}
			overlay[x] = ds
			if !descends {
				pending = append(pending, target{op: targetElem, elem: x})
			}
		}
	}
	def := s.deferred
	if len(pending) > 0 {
		var err error
		if def, err = def.with(ctx.vv, pending); err != nil {
			return err
		}
	}
	if s.elems == nil && len(overlay) > 0 {
		s.elems = make(map[string]dotSet, len(overlay))
	}
	for x, ds := range overlay {
		if len(ds) == 0 {
			delete(s.elems, x)
		} else {
			s.elems[x] = ds
		}
	}
	s.clock, s.deferred = clock, def
	s.settle()
	return nil
}

// ApplyOp applies a SetOp.
func (s *Set) ApplyOp(op Op, actor vclock.Actor, ctx Context) error {
	o, ok := op.(SetOp)
	if !ok {
		return mismatch(KindSet, op)
	}
	return s.Apply(o, actor, ctx)
}

// settle re-applies the deferred removes and drops the completed ones.
func (s *Set) settle() {
	s.deferred = s.deferred.settle(s.clock, func(t target, sn seen) {
		removeElem(s.elems, t.elem, sn)
	})
}

// removeElem drops the dots of x that sn covers and reports whether any
// were dropped.
func removeElem(m map[string]dotSet, x string, sn seen) bool {
	ds, ok := m[x]
	if !ok {
		return false
	}
	ds, removed := ds.without(sn)
	if len(ds) == 0 {
		delete(m, x)
	} else {
		m[x] = ds
	}
	return removed
}

// Elements returns the sorted elements (a new slice, never nil).
func (s *Set) Elements() []string {
	out := make([]string, 0, len(s.elems))
	for x := range s.elems {
		out = append(out, x)
	}
	slices.Sort(out)
	return out
}

// Contains reports whether x is in the set.
func (s *Set) Contains(x string) bool { _, ok := s.elems[x]; return ok }

// Len returns the number of elements.
func (s *Set) Len() int { return len(s.elems) }

// Value returns Elements() as a []string.
func (s *Set) Value() any { return s.Elements() }

// Context returns the set's clock as the context for later removes.
func (s *Set) Context() Context { return Context{vv: s.clock, set: true} }

// Merge joins other into s: the clocks are joined; an element keeps the
// dots both sides hold plus the dots of either side that the other side's
// clock has not seen; elements left without dots disappear; deferred
// removes are united and re-applied.
func (s *Set) Merge(other CRDT) error {
	o, ok := other.(*Set)
	if !ok {
		return mismatch(KindSet, other)
	}
	if o == nil || o == s {
		return nil
	}
	s.elems = joinElems(s.elems, o.elems, s.clock, o.clock)
	s.clock = vclock.Merge(s.clock, o.clock)
	s.deferred = mergeDeferred(s.deferred, o.deferred)
	s.settle()
	return nil
}

// joinElems joins b (read only) into a (owned, modified) under clocks ca
// and cb, and returns a.
func joinElems(a, b map[string]dotSet, ca, cb vclock.VClock) map[string]dotSet {
	var fresh map[string]dotSet
	for x, db := range b {
		if _, ok := a[x]; ok {
			continue
		}
		if ds := joinDots(nil, db, ca, cb); len(ds) > 0 {
			if fresh == nil {
				fresh = make(map[string]dotSet)
			}
			fresh[x] = ds
		}
	}
	for x, da := range a {
		if ds := joinDots(da, b[x], ca, cb); len(ds) > 0 {
			a[x] = ds
		} else {
			delete(a, x)
		}
	}
	if a == nil && len(fresh) > 0 {
		return fresh
	}
	maps.Copy(a, fresh)
	return a
}

// Clone returns a deep copy.
func (s *Set) Clone() CRDT {
	return &Set{clock: s.clock, elems: maps.Clone(s.elems), deferred: slices.Clone(s.deferred)}
}

// Equal reports whether other is a set with the same state.
func (s *Set) Equal(other CRDT) bool { return equalEncoding(s, other) }

// Stats reports actors, elements, the most dots on one element, and
// deferred contexts.
func (s *Set) Stats() Stats {
	st := Stats{Actors: len(s.clock), Elements: len(s.elems), Deferred: len(s.deferred)}
	for _, ds := range s.elems {
		st.MaxDots = max(st.MaxDots, len(ds))
	}
	return st
}

// MarshalBinary encodes the set: tag 'S', version, actor table and clock,
// the elements in order each with its dots, then the deferred removes.
func (s *Set) MarshalBinary() ([]byte, error) {
	e := newEncoder(KindSet, 16+len(s.clock)*12+len(s.elems)*8)
	e.causalHeader(s.clock, s.deferred)
	e.elems(s.elems)
	e.deferred(s.deferred)
	return e.b, nil
}

func (e *encoder) elems(m map[string]dotSet) {
	keys := make([]string, 0, len(m))
	for x := range m {
		keys = append(keys, x)
	}
	slices.Sort(keys)
	e.uvarint(uint64(len(keys)))
	for _, x := range keys {
		e.str(x)
		e.dots(m[x])
	}
}

func (d *decoder) elems() map[string]dotSet {
	n := d.count(4)
	if n == 0 {
		return nil
	}
	m := make(map[string]dotSet, n)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		x := d.str()
		if i > 0 && x <= prev {
			d.fail("set elements out of order")
		}
		prev = x
		m[x] = d.dots(false)
	}
	return m
}

// UnmarshalBinary decodes what MarshalBinary produced (see CRDT).
func (s *Set) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.header(KindSet)
	v := Set{clock: d.causalHeader()}
	v.elems = d.elems()
	v.deferred = d.deferred(func(t target) bool { return len(t.path) == 0 && t.op == targetElem })
	if err := d.finish(); err != nil {
		return err
	}
	v.settle()
	if err := checkCanonical(b, &v); err != nil {
		return err
	}
	*s = v
	return nil
}
