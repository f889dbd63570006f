package vclock

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// encodingVersion is the first byte of a marshalled clock. Bump it, and keep
// decoding the old value, if the layout ever changes.
const encodingVersion = 1

// maxEntries bounds a decoded clock so a hostile header cannot make the
// decoder allocate without limit. Real clocks hold a few entries per vnode
// that ever coordinated a write to the key.
const maxEntries = 4096

// ErrMalformed is returned by UnmarshalBinary for bytes that are not a
// clock produced by MarshalBinary.
var ErrMalformed = errors.New("riakgo/vclock: malformed clock encoding")

// AppendBinary appends the compact binary form of vc to b: a version byte,
// the entry count, then per entry the actor id, epoch, counter and timestamp
// as varints. The form is canonical: equal clocks encode to equal bytes.
func (vc VClock) AppendBinary(b []byte) []byte {
	b = append(b, encodingVersion)
	b = binary.AppendUvarint(b, uint64(len(vc)))
	for _, e := range vc {
		b = binary.AppendUvarint(b, e.Actor.ID)
		b = binary.AppendUvarint(b, uint64(e.Actor.Epoch))
		b = binary.AppendUvarint(b, e.Counter)
		b = binary.AppendVarint(b, e.Timestamp)
	}
	return b
}

// MarshalBinary returns the compact binary form of vc (see AppendBinary).
func (vc VClock) MarshalBinary() ([]byte, error) {
	return vc.AppendBinary(make([]byte, 0, 2+len(vc)*20)), nil
}

// UnmarshalBinary decodes a clock produced by MarshalBinary. It rejects
// trailing bytes, unknown versions, and clocks that break the invariants
// (unsorted or repeated actors, zero counters). Varints must be minimal, so
// every accepted input is the canonical encoding of the clock it decodes to.
func (vc *VClock) UnmarshalBinary(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", ErrMalformed)
	}
	if b[0] != encodingVersion {
		return fmt.Errorf("%w: unknown version %d", ErrMalformed, b[0])
	}
	b = b[1:]
	n, k := uvarint(b)
	if k <= 0 || n > maxEntries {
		return fmt.Errorf("%w: bad entry count", ErrMalformed)
	}
	b = b[k:]
	// Each entry takes at least 4 bytes; refuse counts the input cannot hold.
	if n > uint64(len(b)/4) {
		return fmt.Errorf("%w: truncated", ErrMalformed)
	}
	var out VClock
	if n > 0 {
		out = make(VClock, 0, n)
	}
	for i := uint64(0); i < n; i++ {
		var e Entry
		var u uint64
		if e.Actor.ID, k = uvarint(b); k <= 0 {
			return fmt.Errorf("%w: truncated", ErrMalformed)
		}
		b = b[k:]
		if u, k = uvarint(b); k <= 0 || u > 1<<32-1 {
			return fmt.Errorf("%w: bad epoch", ErrMalformed)
		}
		e.Actor.Epoch = uint32(u)
		b = b[k:]
		if e.Counter, k = uvarint(b); k <= 0 {
			return fmt.Errorf("%w: truncated", ErrMalformed)
		}
		b = b[k:]
		if e.Timestamp, k = varint(b); k <= 0 {
			return fmt.Errorf("%w: truncated", ErrMalformed)
		}
		b = b[k:]
		out = append(out, e)
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b))
	}
	if !out.Valid() {
		return fmt.Errorf("%w: entries out of order or zero", ErrMalformed)
	}
	*vc = out
	return nil
}

// uvarint is binary.Uvarint that also rejects (k = 0) non-minimal encodings:
// a multi-byte varint whose last byte is zero carries redundant padding.
func uvarint(b []byte) (uint64, int) {
	v, k := binary.Uvarint(b)
	if k > 1 && b[k-1] == 0 {
		return 0, 0
	}
	return v, k
}

// varint is binary.Varint with the same minimality check as uvarint.
func varint(b []byte) (int64, int) {
	v, k := binary.Varint(b)
	if k > 1 && b[k-1] == 0 {
		return 0, 0
	}
	return v, k
}
