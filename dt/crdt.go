package dt

import (
	"bytes"
	"fmt"

	"github.com/riakgo/riakgo/vclock"
)

// CRDT is the behaviour every data type shares. Values are mutable: Apply,
// ApplyOp, Merge and UnmarshalBinary change the receiver in place, and
// nothing else does. Clone returns an independent copy. A value never keeps
// a reference to memory of another value passed to it, so after
// a.Merge(b) either may be changed without affecting the other. Values are
// not safe for concurrent use; a vnode owns the values it holds. The zero
// value of every concrete type is its empty value (an HLL's precision then
// defaults to 14).
type CRDT interface {
	// Kind reports the data type.
	Kind() Kind

	// Value returns the client-visible value in the shape of Riak's HTTP
	// API: counter → int64, set and gset → sorted []string, map →
	// map[string]any keyed name_type, register → string, flag → bool,
	// hll → uint64; riakgo's own: oplog → OpLogValue, bcounter → int64, pg → sorted []PGEntry.
	// The result shares no memory with the receiver.
	Value() any

	// Context returns the causal context a client must send back with
	// removes (set, map and flag); other types return the zero Context.
	Context() Context

	// ApplyOp applies op at this replica on behalf of actor (the
	// coordinating vnode's actor), with ctx the context the client read
	// (zero if none). It applies completely or, on error, not at all.
	// A mismatched op kind gives ErrTypeMismatch.
	ApplyOp(op Op, actor vclock.Actor, ctx Context) error

	// Merge joins other's state into the receiver. It is commutative,
	// associative and idempotent, on values and on encodings. Merging a
	// different kind gives ErrTypeMismatch and changes nothing.
	Merge(other CRDT) error

	// Clone returns a deep copy.
	Clone() CRDT

	// Equal reports whether other is the same kind with the same state
	// (equivalently, the same canonical encoding).
	Equal(other CRDT) bool

	// Stats reports the value's size drivers.
	Stats() Stats

	// MarshalBinary returns the canonical versioned encoding: equal states
	// give equal bytes.
	MarshalBinary() ([]byte, error)

	// UnmarshalBinary replaces the receiver with the decoded value. Input
	// that is not the canonical encoding of a valid value of this kind is
	// refused with an error wrapping ErrMalformed, without panicking and
	// with allocation proportional to the input (an HLL allocates at most
	// 64 KiB of registers); the receiver is then unchanged.
	UnmarshalBinary(b []byte) error
}

// Stats are the size drivers of a value, for monitoring (Riak's
// actor_count, element_count, max_dot_length, deferred_length).
type Stats struct {
	Actors   int // actors in the clock (counter: actors with a total)
	Elements int // live elements, fields, or assigned registers
	MaxDots  int // most dots held by one element or field (concurrent adds)
	Deferred int // deferred remove contexts
}

// Compile-time checks that every type is a CRDT.
var (
	_ CRDT = (*Counter)(nil)
	_ CRDT = (*Set)(nil)
	_ CRDT = (*Map)(nil)
	_ CRDT = (*Register)(nil)
	_ CRDT = (*Flag)(nil)
	_ CRDT = (*GSet)(nil)
	_ CRDT = (*HLL)(nil)
	_ CRDT = (*OpLog)(nil)
	_ CRDT = (*BCounter)(nil)
	_ CRDT = (*PG)(nil)
)

// New returns an empty value of kind k (an HLL at DefaultHLLPrecision).
func New(k Kind) (CRDT, error) {
	switch k {
	case KindCounter:
		return &Counter{}, nil
	case KindSet:
		return &Set{}, nil
	case KindMap:
		return &Map{}, nil
	case KindRegister:
		return &Register{}, nil
	case KindFlag:
		return &Flag{}, nil
	case KindGSet:
		return &GSet{}, nil
	case KindHLL:
		return &HLL{}, nil
	case KindOpLog:
		return &OpLog{}, nil
	case KindBCounter:
		return &BCounter{}, nil
	case KindPG:
		return &PG{}, nil
	}
	return nil, fmt.Errorf("%w: unknown kind %d", ErrTypeMismatch, uint8(k))
}

// Unmarshal decodes any value produced by MarshalBinary, choosing the type
// from the leading tag byte.
func Unmarshal(b []byte) (CRDT, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	v, err := New(Kind(b[0]))
	if err != nil {
		return nil, fmt.Errorf("%w: unknown type tag %d", ErrMalformed, b[0])
	}
	if err := v.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return v, nil
}

// Merged returns a new value a ⊔ b, leaving a and b unchanged.
func Merged(a, b CRDT) (CRDT, error) {
	c := a.Clone()
	if err := c.Merge(b); err != nil {
		return nil, err
	}
	return c, nil
}

func mismatch(want Kind, got interface{ Kind() Kind }) error {
	return fmt.Errorf("%w: %s given to a %s", ErrTypeMismatch, got.Kind(), want)
}

// equalEncoding compares two values by canonical encoding.
func equalEncoding(a, b CRDT) bool {
	if b == nil || a.Kind() != b.Kind() {
		return false
	}
	x, _ := a.MarshalBinary()
	y, _ := b.MarshalBinary()
	return bytes.Equal(x, y)
}

func checkActor(a vclock.Actor) error {
	if a.IsZero() {
		return fmt.Errorf("%w: the zero actor", ErrInvalidActor)
	}
	return nil
}
