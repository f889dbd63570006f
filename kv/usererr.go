package kv

import (
	"errors"
	"fmt"
	"strings"

	"github.com/riakgo/riakgo/ring"
)

// Errors for clients. A refusal whose text a client reads (an invalid key,
// an invalid index query, a bucket type in the wrong state) carries that
// text as data, so that the API faces (http, internal/pb) map it with
// errors.Is on its sentinel and show UserMessage or UserDetail, and never
// take error strings apart themselves.

// ErrBadContinuation: an index query's continuation that no query gave
// out. It wraps ErrBadIndex; its detail is the continuation, quoted
// (UserErrorf(ErrBadContinuation, "%q", c)).
var ErrBadContinuation = fmt.Errorf("%w: invalid continuation", ErrBadIndex)

// UserError is a refusal with its text for a client: Err is what it is (a
// sentinel such as ErrBadKey or ErrBadIndex, which errors.Is matches),
// Detail what was wrong in the client's terms ("the key is empty", Riak's
// {unknown_field_type,<<"f">>}). Its Error() reads as
// fmt.Errorf("%w: %s", Err, Detail) does.
type UserError struct {
	Err    error
	Detail string
}

// UserErrorf returns a *UserError of kind sentinel with the formatted
// detail.
func UserErrorf(sentinel error, format string, args ...any) error {
	return &UserError{Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

func (e *UserError) Error() string { return e.Err.Error() + ": " + e.Detail }

// Unwrap returns the sentinel.
func (e *UserError) Unwrap() error { return e.Err }

// UserMessage implements userMessager: the sentinel's words, then the
// detail ("invalid bucket or key: the key is empty").
func (e *UserError) UserMessage() string { return UserMessage(e.Err) + ": " + e.Detail }

// UserMessage implements userMessager.
func (e *NotReadyError) UserMessage() string {
	names := make([]string, len(e.Missing))
	for i, n := range e.Missing {
		names[i] = string(n)
	}
	return fmt.Sprintf("bucket type %s is not ready: %s do not have it yet", e.Type, strings.Join(names, ", "))
}

// userMessager is an error that knows its text for a client.
type userMessager interface{ UserMessage() string }

// UserMessage returns err's text for a client: what a *UserError (or
// another error with a UserMessage method, such as *NotReadyError) says,
// without the "riakgo/kv: " of its Error().
//
// Any other error's text is taken without the "riakgo/<package>: "
// DESIGN's sentinels begin with: bare sentinels (kv.ErrOverload,
// pg.ErrNoMember, ...), a sentinel another node reported without a detail
// (*remoteSentinel), and the errors still built with fmt.Errorf around a
// sentinel: dt's (dt.ErrInvalidOp, ...), ring's, a malformed update
// (ErrBadUpdate with its cause) and pg's "no member to pick in group …"
// (no ": " after the sentinel).
func UserMessage(err error) string {
	var um userMessager
	if errors.As(err, &um) {
		return um.UserMessage()
	}
	return withoutPackage(err.Error())
}

// UserDetail returns what err says beyond sentinel, and whether err is a
// sentinel error of that kind: a *UserError's Detail
// ({unknown_field_type,<<"f">>} for ErrBadIndex; a refusal another node
// reported comes back as a *UserError too, see remoteSentinelError), a
// *ring.CoverageError's Reason for ErrInsufficientVnodes, "" for any other
// error that errors.Is sentinel (a bare sentinel, or one built with
// fmt.Errorf around it), and false for an error that is not one.
//
// It never reads an error's text. The one place kv splits a detail from
// text is where the wire delivers it as text: remoteSentinelError, for a
// refusal another node reports.
func UserDetail(err, sentinel error) (string, bool) {
	var ue *UserError
	if errors.As(err, &ue) && errors.Is(ue.Err, sentinel) {
		return ue.Detail, true
	}
	var ce *ring.CoverageError
	if errors.Is(ErrInsufficientVnodes, sentinel) && errors.As(err, &ce) {
		return ce.Reason, true
	}
	return "", errors.Is(err, sentinel)
}

// withoutPackage drops a leading "riakgo/<package>: ".
func withoutPackage(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "riakgo/"); ok {
		if i := strings.Index(rest, ": "); i >= 0 && !strings.ContainsAny(rest[:i], " \n") {
			return rest[i+2:]
		}
	}
	return msg
}
