package dt

import "fmt"

// MaxDepth bounds the nesting of maps: a top-level map is depth 1, a map in
// it depth 2. Operations and encodings nested deeper are refused, so hostile
// input cannot exhaust the stack.
const MaxDepth = 32

// Op is an operation on one data type. The concrete types mirror Riak's JSON
// operations one for one; the http layer parses JSON into them and kv
// applies them with CRDT.ApplyOp. Op is sealed: only this package's types
// implement it.
type Op interface {
	// Kind is the data type the operation applies to.
	Kind() Kind
	isOp()
}

// CounterOp increments a counter by Delta; a negative Delta decrements.
// It mirrors Riak's "increment"/"decrement", {"increment":N},
// {"decrement":N} and bare-integer counter operations. A zero Delta is a
// no-op.
type CounterOp struct {
	Delta int64
}

// SetOp is one update of a set: its edits are applied in the order given
// (Riak's JSON object of add, remove, add_all and remove_all members, which
// Riak applies in order), atomically: either all apply or, on error, none.
type SetOp struct {
	Edits []SetEdit
}

// SetEdit adds or removes elements: Riak's add/add_all (Remove false) or
// remove/remove_all (Remove true).
type SetEdit struct {
	Remove   bool
	Elements []string
}

// Add returns o followed by an add of elems (o itself is not modified).
func (o SetOp) Add(elems ...string) SetOp {
	o.Edits = append(o.Edits[:len(o.Edits):len(o.Edits)], SetEdit{Elements: elems})
	return o
}

// Remove returns o followed by a remove of elems (o itself is not modified).
func (o SetOp) Remove(elems ...string) SetOp {
	o.Edits = append(o.Edits[:len(o.Edits):len(o.Edits)], SetEdit{Remove: true, Elements: elems})
	return o
}

// MapOp is one update of a map: field updates and field removals applied in
// the order given, atomically, under a single new dot (Riak's
// {"update":{…},"remove":[…]}; the http layer chooses the order).
type MapOp struct {
	Edits []MapEdit
}

// MapEdit updates or removes one field. For an update, Op is the nested
// operation and its Kind must equal Field.Type; an update of an absent
// field creates it. For a removal (Remove true) Op must be nil.
type MapEdit struct {
	Field  Field
	Remove bool
	Op     Op
}

// Update returns o followed by an update of field f with op (o itself is
// not modified).
func (o MapOp) Update(f Field, op Op) MapOp {
	o.Edits = append(o.Edits[:len(o.Edits):len(o.Edits)], MapEdit{Field: f, Op: op})
	return o
}

// Remove returns o followed by a removal of field f (o itself is not
// modified).
func (o MapOp) Remove(f Field) MapOp {
	o.Edits = append(o.Edits[:len(o.Edits):len(o.Edits)], MapEdit{Field: f, Remove: true})
	return o
}

// RegisterOp assigns Value to a register at Timestamp, Riak's
// {"assign":V}. The caller supplies the timestamp (the http layer reads its
// injected clock, microseconds as in Riak); it must be > 0. The register
// keeps the assignment with the greatest (Timestamp, actor) pair.
type RegisterOp struct {
	Value     string
	Timestamp int64
}

// FlagOp enables (Riak's "enable") or disables ("disable") a flag.
type FlagOp struct {
	Enable bool
}

// GSetOp adds elements to a grow-only set (Riak's add/add_all).
type GSetOp struct {
	Elements []string
}

// HLLOp adds elements to a HyperLogLog (Riak's add/add_all).
type HLLOp struct {
	Elements []string
}

// Kind reports KindCounter.
func (CounterOp) Kind() Kind { return KindCounter }

// Kind reports KindSet.
func (SetOp) Kind() Kind { return KindSet }

// Kind reports KindMap.
func (MapOp) Kind() Kind { return KindMap }

// Kind reports KindRegister.
func (RegisterOp) Kind() Kind { return KindRegister }

// Kind reports KindFlag.
func (FlagOp) Kind() Kind { return KindFlag }

// Kind reports KindGSet.
func (GSetOp) Kind() Kind { return KindGSet }

// Kind reports KindHLL.
func (HLLOp) Kind() Kind { return KindHLL }

func (CounterOp) isOp()  {}
func (SetOp) isOp()      {}
func (MapOp) isOp()      {}
func (RegisterOp) isOp() {}
func (FlagOp) isOp()     {}
func (GSetOp) isOp()     {}
func (HLLOp) isOp()      {}

// RequiresContext reports whether op contains a remove-like edit (a set
// remove, a map field removal, a flag disable) anywhere, i.e. whether it
// should carry the causal context of an earlier read. riakgo accepts such
// operations without a context and then acts on what the executing replica
// holds, as Riak does; kv and http can use this to insist on a context.
func RequiresContext(op Op) bool {
	switch o := op.(type) {
	case SetOp:
		for _, e := range o.Edits {
			if e.Remove && len(e.Elements) > 0 {
				return true
			}
		}
	case FlagOp:
		return !o.Enable
	case MapOp:
		for _, e := range o.Edits {
			if e.Remove || (e.Op != nil && RequiresContext(e.Op)) {
				return true
			}
		}
	}
	return false
}

// validateOp checks everything about op that does not depend on a value:
// field types, nested kinds, timestamps and depth. depth is the map nesting
// level op is applied at (1 for a top-level map).
func validateOp(op Op, depth int) error {
	switch o := op.(type) {
	case nil:
		return fmt.Errorf("%w: nil operation", ErrInvalidOp)
	case RegisterOp:
		if o.Timestamp <= 0 {
			return fmt.Errorf("%w: register timestamp %d must be > 0", ErrInvalidOp, o.Timestamp)
		}
	case MapOp:
		if depth > MaxDepth {
			return fmt.Errorf("%w: maps nested deeper than %d", ErrInvalidOp, MaxDepth)
		}
		for _, e := range o.Edits {
			if !e.Field.Type.Embeddable() {
				return fmt.Errorf("%w: map field %s: %s cannot be embedded in a map", ErrInvalidOp, e.Field, e.Field.Type)
			}
			if e.Remove {
				if e.Op != nil {
					return fmt.Errorf("%w: removal of map field %s carries an operation", ErrInvalidOp, e.Field)
				}
				continue
			}
			if e.Op == nil {
				return fmt.Errorf("%w: update of map field %s has no operation", ErrInvalidOp, e.Field)
			}
			if e.Op.Kind() != e.Field.Type {
				return fmt.Errorf("%w: %s operation on map field %s", ErrInvalidOp, e.Op.Kind(), e.Field)
			}
			if err := validateOp(e.Op, depth+1); err != nil {
				return err
			}
		}
	case CounterOp, SetOp, FlagOp, GSetOp, HLLOp, OpLogOp, BCounterOp, BTransferOp, PGOp, PGPruneOp:
	default:
		return fmt.Errorf("%w: unknown operation %T", ErrInvalidOp, op)
	}
	return nil
}
