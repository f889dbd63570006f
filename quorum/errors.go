package quorum

import (
	"errors"
	"fmt"
)

// ErrBadValue is returned by ParseValue for text that is neither a
// non-negative integer nor one of one, quorum, all, default.
var ErrBadValue = errors.New("riakgo/quorum: must be an integer or one of the following words: 'one', 'quorum' or 'all'")

// ErrorKind classifies a quorum failure.
type ErrorKind int

// Kinds of quorum failure. Violations are the client's fault (HTTP 400);
// the rest mean the cluster could not satisfy a valid request (HTTP 503).
const (
	// Violation: a quorum value is invalid for its parameter (e.g. r=0).
	Violation ErrorKind = iota
	// NValViolation: a quorum value exceeds n_val.
	NValViolation
	// Unsatisfied: fewer replicas answered as required (R/PR/PW/DW/W).
	Unsatisfied
	// InsufficientVnodes: the preference list is shorter than required.
	InsufficientVnodes
	// TooManyFails: so many vnodes failed that W/DW can no longer be met.
	TooManyFails
	// Timeout: the coordinator's deadline passed first.
	Timeout
)

// Error is a typed quorum failure. Its message is Riak's text for the same
// condition, without the trailing newline.
type Error struct {
	Kind  ErrorKind
	Param string // "r", "pr", "w", "dw", "pw", "rw"
	Need  int    // required count (or the bad value for Violation)
	Got   int    // count reached (or have, for InsufficientVnodes)
	N     int    // n_val, for NValViolation
}

// ClientError reports whether the failure is the request's fault (4xx).
func (e *Error) ClientError() bool { return e.Kind == Violation || e.Kind == NValViolation }

func (e *Error) Error() string {
	switch e.Kind {
	case Violation:
		return fmt.Sprintf("Invalid %s value %d: %s", e.Param, e.Need, violationHint(e.Param))
	case NValViolation:
		return fmt.Sprintf("Specified w/dw/pw values invalid for bucket n value of %d", e.N)
	case Unsatisfied:
		return fmt.Sprintf("%s-value unsatisfied: %d/%d", paramLabel(e.Param), e.Got, e.Need)
	case InsufficientVnodes:
		return fmt.Sprintf("insufficient vnodes: %d available, need %d", e.Got, e.Need)
	case TooManyFails:
		return "Too Many write failures to satisfy W/DW"
	default:
		return "request timed out"
	}
}

func violationHint(p string) string {
	switch p {
	case "r", "w", "rw":
		return "must be at least 1"
	default:
		return "must not be negative"
	}
}

func paramLabel(p string) string {
	switch p {
	case "r":
		return "R"
	case "pr":
		return "PR"
	case "w":
		return "W"
	case "dw":
		return "DW"
	case "pw":
		return "PW"
	case "rw":
		return "RW"
	}
	return p
}

// ErrTimeout is the typed timeout failure.
var ErrTimeout = &Error{Kind: Timeout}
