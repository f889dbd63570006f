package kv

import (
	"errors"
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/ring"
)

// TestRemoteRefusalIsData: a refusal another node reports crosses the wire
// as a code and its text; it comes back as a *UserError whose detail is
// data (and says which node), with the same text as before, and a text
// without a detail stays a sentinel of the same kind.
func TestRemoteRefusalIsData(t *testing.T) {
	s := &Service{}
	for _, tc := range []struct {
		local      error
		sentinel   error
		text, want string // the coordinator's Error() and UserDetail
		typed      bool
	}{
		{UserErrorf(ErrBadKey, "the key is empty"), ErrBadKey,
			"riakgo/kv: invalid bucket or key: the key is empty (on riakgo@b)", "the key is empty (on riakgo@b)", true},
		{UserErrorf(ErrUnknownType, "%s", "maps"), ErrUnknownType,
			"riakgo/kv: unknown bucket type: maps (on riakgo@b)", "maps (on riakgo@b)", true},
		{fmt.Errorf("%w: remove of an absent element", dt.ErrInvalidOp), dt.ErrInvalidOp,
			"riakgo/dt: invalid operation: remove of an absent element (on riakgo@b)", "remove of an absent element (on riakgo@b)", true},
		{ErrBadKey, ErrBadKey, "riakgo/kv: invalid bucket or key (on riakgo@b)", "", false},
	} {
		re := s.toRemote(tc.local).(*transport.RemoteError)
		re.Node = "riakgo@b"
		got := s.fromRemote(re)
		if got.Error() != tc.text {
			t.Errorf("%v: text %q, want %q", tc.local, got.Error(), tc.text)
		}
		if !errors.Is(got, tc.sentinel) {
			t.Errorf("%v: %v is not its sentinel", tc.local, got)
		}
		var ue *UserError
		if errors.As(got, &ue) != tc.typed {
			t.Errorf("%v: came back as %T", tc.local, got)
		}
		if d, ok := UserDetail(got, tc.sentinel); !ok || d != tc.want {
			t.Errorf("%v: UserDetail %q %v, want %q", tc.local, d, ok, tc.want)
		}
		if m, want := UserMessage(got), withoutPackage(tc.text); m != want {
			t.Errorf("%v: UserMessage %q, want %q", tc.local, m, want)
		}
	}
}

// TestUserDetailReadsNoText: UserDetail takes a detail from data only (a
// UserError, a ring.CoverageError); an error built with fmt.Errorf around
// a sentinel is of that kind without a detail, and an error of another
// kind is not one, whatever its text says.
func TestUserDetailReadsNoText(t *testing.T) {
	for _, tc := range []struct {
		err      error
		sentinel error
		want     string
		ok       bool
	}{
		{UserErrorf(ErrBadKey, "the key is empty"), ErrBadKey, "the key is empty", true},
		{fmt.Errorf("get: %w", UserErrorf(ErrBadKey, "the key is empty")), ErrBadKey, "the key is empty", true},
		{UserErrorf(ErrBadContinuation, "%q", "zz"), ErrBadIndex, `"zz"`, true},
		{UserErrorf(ErrBadContinuation, "%q", "zz"), ErrBadContinuation, `"zz"`, true},
		{UserErrorf(ErrBadIndex, "x"), ErrBadContinuation, "", false},
		{ErrBadKey, ErrBadKey, "", true},
		{fmt.Errorf("get: %w", ErrBadKey), ErrBadKey, "", true},
		{fmt.Errorf("%w: the key is empty", ErrBadKey), ErrBadKey, "", true},
		{fmt.Errorf("wrapped: %w", &ring.CoverageError{Reason: "no plan found (n_val 3)"}), ErrInsufficientVnodes, "no plan found (n_val 3)", true},
		{fmt.Errorf("%w: no plan found (n_val 3)", ErrInsufficientVnodes), ErrInsufficientVnodes, "", true},
		{fmt.Errorf(`%w: {unknown_field_type,<<"f">>}`, ErrBadIndex), ErrBadIndex, "", true},
		{fmt.Errorf("%w: invalid continuation %q", ErrBadIndex, "zz"), ErrBadContinuation, "", false},
		{errors.New("riakgo/kv: invalid bucket or key: looks like one"), ErrBadKey, "", false},
		{fmt.Errorf("%w: riakgo/kv: invalid index query: x", ErrUnavailable), ErrBadIndex, "", false},
	} {
		if d, ok := UserDetail(tc.err, tc.sentinel); d != tc.want || ok != tc.ok {
			t.Errorf("UserDetail(%v, %v) = %q %v, want %q %v", tc.err, tc.sentinel, d, ok, tc.want, tc.ok)
		}
	}
}
