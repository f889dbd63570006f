package dt

import (
	"fmt"

	"github.com/riakgo/riakgo/vclock"
)

// Context is the causal context a client reads with a set, map or flag and
// sends back with removes: the version vector of every add the read had
// seen. A remove with a context deletes only the adds the context covers,
// so adds the client never saw survive (add-wins).
//
// The zero Context means "no context": the operation then acts on what the
// executing replica holds, as Riak does. A Context decoded from an empty
// clock is not zero: it says the client saw nothing.
//
// Clients treat the bytes as opaque (Riak's base64 "context" member); the
// layout is a tag byte 'X', a version byte and the clock's entries.
type Context struct {
	vv  vclock.VClock
	set bool
}

const (
	contextTag     = 'X'
	contextVersion = 1
	// maxContextEntries bounds a decoded context, like vclock's decoder.
	maxContextEntries = 4096
)

// NewContext builds a context from a clock, dropping timestamps (CRDT clocks
// carry none). The clock must be valid (see vclock.VClock.Valid).
func NewContext(vc vclock.VClock) (Context, error) {
	if !vc.Valid() {
		return Context{}, fmt.Errorf("%w: invalid context clock", ErrMalformed)
	}
	return Context{vv: stripTimestamps(vc), set: true}, nil
}

// IsZero reports whether c is the zero (absent) context.
func (c Context) IsZero() bool { return !c.set }

// Clock returns the context's clock (nil for the zero context).
func (c Context) Clock() vclock.VClock { return c.vv.Clone() }

// Bytes returns the opaque encoding of c; the zero context encodes to nil.
func (c Context) Bytes() []byte {
	if !c.set {
		return nil
	}
	b := make([]byte, 0, 3+len(c.vv)*8)
	b = append(b, contextTag, contextVersion)
	return appendContextEntries(b, c.vv)
}

// MarshalBinary returns c.Bytes().
func (c Context) MarshalBinary() ([]byte, error) { return c.Bytes(), nil }

// UnmarshalBinary decodes bytes produced by Bytes; see ParseContext.
func (c *Context) UnmarshalBinary(b []byte) error {
	v, err := ParseContext(b)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// String formats the context's clock for logs.
func (c Context) String() string {
	if !c.set {
		return "no-context"
	}
	return c.vv.String()
}

// ParseContext decodes a context a client sent back. Empty input is the
// zero context. Anything else must be the canonical encoding of a valid
// clock (sorted, non-zero actors and counters, minimal varints, no trailing
// bytes, at most 4096 entries) or ParseContext returns an error wrapping
// ErrMalformed. It never panics and allocates in proportion to len(b).
func ParseContext(b []byte) (Context, error) {
	if len(b) == 0 {
		return Context{}, nil
	}
	d := decoder{b: b}
	if tag := d.byte(); tag != contextTag {
		return Context{}, fmt.Errorf("%w: not a context (tag %d)", ErrMalformed, tag)
	}
	if v := d.byte(); v != contextVersion {
		if d.err == nil {
			return Context{}, fmt.Errorf("%w: unknown context version %d", ErrMalformed, v)
		}
	}
	vv := d.contextEntries()
	if err := d.finish(); err != nil {
		return Context{}, err
	}
	return Context{vv: vv, set: true}, nil
}

// appendContextEntries writes a timestamp-free clock: count, then id, epoch
// and counter per entry. Deferred-operation keys use the same form.
func appendContextEntries(b []byte, vv vclock.VClock) []byte {
	b = appendUvarint(b, uint64(len(vv)))
	for _, e := range vv {
		b = appendUvarint(b, e.Actor.ID)
		b = appendUvarint(b, uint64(e.Actor.Epoch))
		b = appendUvarint(b, e.Counter)
	}
	return b
}

// contextEntries reads what appendContextEntries wrote and validates it.
func (d *decoder) contextEntries() vclock.VClock {
	n := d.count(3)
	if n > maxContextEntries {
		d.fail("context has %d entries", n)
		return nil
	}
	var vv vclock.VClock
	if n > 0 {
		vv = make(vclock.VClock, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		a := d.actor()
		c := d.uvarint()
		if c == 0 {
			d.fail("zero counter in context")
		}
		vv = append(vv, vclock.Entry{Actor: a, Counter: c})
	}
	if d.err == nil && !vv.Valid() {
		d.fail("context entries out of order or zero")
	}
	return vv
}

func stripTimestamps(vc vclock.VClock) vclock.VClock {
	if len(vc) == 0 {
		return nil
	}
	out := make(vclock.VClock, len(vc))
	for i, e := range vc {
		out[i] = vclock.Entry{Actor: e.Actor, Counter: e.Counter}
	}
	return out
}
