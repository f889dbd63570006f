package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors. Compare with errors.Is: *Error and *NotFoundError match
// the sentinels that fit their status.
var (
	// ErrNotFound: the object (or data type, or resource) does not exist.
	// The error is a *NotFoundError on object and data-type routes.
	ErrNotFound = errors.New("riakgo/client: not found")
	// ErrPreconditionFailed: a conditional request failed (412), or a
	// strongly consistent bucket refused a stale write.
	ErrPreconditionFailed = errors.New("riakgo/client: precondition failed")
	// ErrNotModified: a conditional Get found the object unchanged (304).
	ErrNotModified = errors.New("riakgo/client: not modified")
	// ErrUnknownType: the bucket type does not exist or is not active.
	ErrUnknownType = errors.New("riakgo/client: unknown bucket type")
	// ErrUnavailable: the server could not meet the request's quorum or
	// timed out (503). Retrying later may succeed.
	ErrUnavailable = errors.New("riakgo/client: service unavailable")
	// ErrInvalidArgument: the call's arguments were refused before any
	// request was sent.
	ErrInvalidArgument = errors.New("riakgo/client: invalid argument")
	// ErrBadResponse: the server's answer could not be understood.
	ErrBadResponse = errors.New("riakgo/client: malformed response")
	// ErrStreamAborted: the server reported an error in the middle of a
	// streamed (or listed) answer, such as {"error":"timeout"}.
	ErrStreamAborted = errors.New("riakgo/client: the server aborted the answer")
)

// Error is an answer with an unexpected HTTP status.
type Error struct {
	Method string // the request's method
	Path   string // the request's escaped path, without the base URL
	Status int    // the HTTP status
	Body   string // the answer's body, as sent (Riak's are mostly text/plain)
	Header http.Header
}

func (e *Error) Error() string {
	body := strings.TrimSpace(e.Body)
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	body = strings.ReplaceAll(body, "\n", " ")
	msg := fmt.Sprintf("riakgo/client: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if body != "" {
		msg += ": " + body
	}
	return msg
}

// Is matches the sentinel that fits the status: ErrNotFound (404, other
// than an unknown bucket type), ErrUnknownType, ErrPreconditionFailed
// (412), ErrNotModified (304) and ErrUnavailable (503).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound && !e.unknownType()
	case ErrUnknownType:
		return e.unknownType()
	case ErrPreconditionFailed:
		return e.Status == http.StatusPreconditionFailed
	case ErrNotModified:
		return e.Status == http.StatusNotModified
	case ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable
	}
	return false
}

func (e *Error) unknownType() bool {
	return e.Status == http.StatusNotFound && strings.HasPrefix(e.Body, "Unknown bucket type")
}

// NotFoundError reports a missing object or data type. It matches
// ErrNotFound.
type NotFoundError struct {
	Loc Loc
	// Deleted is true when the server said the key holds a tombstone
	// (X-Riak-Deleted: true).
	Deleted bool
	// VClock is the tombstone's causal context when the server sent one.
	// Writing with it makes the new value replace the tombstone instead of
	// becoming its sibling.
	VClock string
}

func (e *NotFoundError) Error() string {
	if e.Deleted {
		return "riakgo/client: " + e.Loc.String() + ": not found (deleted)"
	}
	return "riakgo/client: " + e.Loc.String() + ": not found"
}

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// TombstoneVClock returns the tombstone's VClock carried by a not-found
// error, or "".
func TombstoneVClock(err error) string {
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return nf.VClock
	}
	return ""
}
