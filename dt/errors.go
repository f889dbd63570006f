package dt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/vclock"
)

// Sentinel errors. Every error this package returns wraps exactly one of
// them (except *InsufficientRightsError, which wraps ErrInsufficientRights
// and ErrPrecondition), so callers test with errors.Is and map them to
// Riak's responses.
var (
	// ErrPrecondition is wrapped by *PreconditionError: a remove without a
	// context of an element or field absent from the replica (Riak's
	// {precondition,{not_present,X}}), or a process-group leave of a member
	// the replica does not hold. The value is left unchanged.
	ErrPrecondition = errors.New("riakgo/dt: precondition failed")

	// ErrTypeMismatch is returned when an operation or a value of one kind
	// meets a value of another kind (merging a set into a map, applying a
	// CounterOp to a set).
	ErrTypeMismatch = errors.New("riakgo/dt: data type mismatch")

	// ErrInvalidOp is returned for operations that no replica could apply:
	// a map field whose type cannot be embedded, a nested operation of the
	// wrong kind for its field, a register timestamp ≤ 0, nesting deeper
	// than MaxDepth, an HLL precision outside 4..16.
	ErrInvalidOp = errors.New("riakgo/dt: invalid operation")

	// ErrInvalidActor is returned when an operation that needs a new dot is
	// applied with the zero actor, which no vnode ever uses.
	ErrInvalidActor = errors.New("riakgo/dt: invalid actor")

	// ErrTooManyDeferred is returned when a context remove would have to be
	// deferred (the replica has not seen the whole context) but the value
	// already holds MaxDeferred deferred contexts. Deferred removes are
	// never dropped, because dropping one resurrects data; the caller should
	// catch the replica up (merge from other replicas) and retry. An OpLog
	// returns it when an operation would leave more than MaxPendingOps
	// operations waiting for an earlier operation of their actor.
	ErrTooManyDeferred = errors.New("riakgo/dt: too many deferred operations")

	// ErrOverflow is returned when an increment would overflow an actor's
	// 64-bit increment or decrement total.
	ErrOverflow = errors.New("riakgo/dt: counter overflow")

	// ErrInsufficientRights is wrapped by *InsufficientRightsError: a
	// bounded counter decrement or transfer asked for more rights than the
	// applying replica holds. It also matches ErrPrecondition: the value is
	// unchanged, and the request may succeed after a transfer or at the
	// replica holding the rights (an HTTP 4xx, not a 5xx).
	ErrInsufficientRights = errors.New("riakgo/dt: insufficient rights")

	// ErrMalformed is wrapped by every decoding error: bytes that are not
	// the canonical encoding of a valid value or context.
	ErrMalformed = errors.New("riakgo/dt: malformed encoding")
)

// PreconditionError reports a remove sent without a context whose element
// (or map field) is absent from the replica that applied it. It is Riak's
// {precondition,{not_present,X}}. A remove with a context never fails this
// way: what its context never saw, or already removed, is left as it is.
type PreconditionError struct {
	// Path holds the map fields leading to the set or map the remove was
	// aimed at, outermost first; it is empty at the top level.
	Path []Field
	// Element is the absent set element, or for a map field removal the
	// field in Riak's name_type form.
	Element string
}

// Error renders the error as Riak prints it, prefixed with the path.
func (e *PreconditionError) Error() string {
	var b strings.Builder
	b.WriteString("riakgo/dt: precondition {not_present,<<")
	b.WriteString(strconv.Quote(e.Element))
	b.WriteString(">>}")
	if len(e.Path) > 0 {
		b.WriteString(" in ")
		for i, f := range e.Path {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.String())
		}
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrPrecondition) true.
func (e *PreconditionError) Unwrap() error { return ErrPrecondition }

// InsufficientRightsError reports a bounded counter decrement or transfer
// that the applying replica could not make with the rights it holds. Local
// is what it holds, Global the counter's value as it knows it (the rights
// of all replicas together). When Global ≥ Requested the rights exist but
// are held elsewhere: transfer them here or retry where they are.
type InsufficientRightsError struct {
	Op        string       // "decrement" or "transfer"
	Actor     vclock.Actor // the applying replica
	Requested uint64
	Local     uint64
	Global    int64
}

// Error explains what was asked, what the replica holds and where the rest
// is, e.g. "riakgo/dt: insufficient rights: cannot decrement by 80 at
// replica 000000000000000a:1: it holds 30 of the counter's 100 (the other
// 70 are held by other replicas)".
func (e *InsufficientRightsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "riakgo/dt: insufficient rights: cannot %s by %d at replica %s: it holds %d of the counter's %d",
		e.Op, e.Requested, e.Actor, e.Local, e.Global)
	switch {
	case e.Global >= 0 && uint64(e.Global) >= e.Requested:
		fmt.Fprintf(&b, " (the other %d are held by other replicas)", uint64(e.Global)-min(e.Local, uint64(e.Global)))
	case e.Op == "decrement":
		b.WriteString(" (the counter cannot go below zero)")
	}
	return b.String()
}

// Unwrap makes errors.Is true for ErrInsufficientRights and ErrPrecondition.
func (e *InsufficientRightsError) Unwrap() []error {
	return []error{ErrInsufficientRights, ErrPrecondition}
}
