package siblings

import (
	"errors"
	"fmt"
)

// Limits are the safety valves on object growth, Riak's defaults: warn at 25
// siblings and 5 MiB, refuse above 100 siblings and 50 MiB. They apply to
// client writes only; replication, read repair and handoff never refuse an
// object for its size or sibling count.
type Limits struct {
	WarnSiblings int
	MaxSiblings  int
	WarnSize     int
	MaxSize      int
}

// DefaultLimits returns Riak's default limits.
func DefaultLimits() Limits {
	return Limits{WarnSiblings: 25, MaxSiblings: 100, WarnSize: 5 << 20, MaxSize: 50 << 20}
}

// ErrLimit is wrapped by every limit violation.
var ErrLimit = errors.New("riakgo/siblings: object limit exceeded")

// TooManySiblingsError reports a write that would leave more than
// MaxSiblings siblings.
type TooManySiblingsError struct{ Siblings, Max int }

func (e *TooManySiblingsError) Error() string {
	return fmt.Sprintf("too_many_siblings: the write would leave %d siblings (maximum %d); read the key and resolve its siblings", e.Siblings, e.Max)
}

// Unwrap makes errors.Is(err, ErrLimit) true.
func (e *TooManySiblingsError) Unwrap() error { return ErrLimit }

// TooLargeError reports an object whose encoded size exceeds MaxSize.
type TooLargeError struct{ Size, Max int }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("too_large: the object would be %d bytes (maximum %d)", e.Size, e.Max)
}

// Unwrap makes errors.Is(err, ErrLimit) true.
func (e *TooLargeError) Unwrap() error { return ErrLimit }

// Check applies the limits to an object of n siblings and size bytes. It
// returns a non-empty warning above a warning threshold and an error above a
// maximum. A zero maximum disables that check.
func (l Limits) Check(n, size int) (warning string, err error) {
	if l.MaxSiblings > 0 && n > l.MaxSiblings {
		return "", &TooManySiblingsError{Siblings: n, Max: l.MaxSiblings}
	}
	if l.MaxSize > 0 && size > l.MaxSize {
		return "", &TooLargeError{Size: size, Max: l.MaxSize}
	}
	switch {
	case l.WarnSiblings > 0 && n > l.WarnSiblings:
		warning = fmt.Sprintf("object has %d siblings (warning threshold %d)", n, l.WarnSiblings)
	case l.WarnSize > 0 && size > l.WarnSize:
		warning = fmt.Sprintf("object is %d bytes (warning threshold %d)", size, l.WarnSize)
	}
	return warning, nil
}
