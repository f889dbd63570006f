package quorum_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/riakgo/riakgo/quorum"
)

// wantErr checks that err is a *quorum.Error equal to want (nil want: err
// must be nil), and, when text is not empty, that its message is text.
func wantErr(t *testing.T, what string, err error, want *quorum.Error, text string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	var qe *quorum.Error
	if !errors.As(err, &qe) {
		t.Errorf("%s: error %v (%T), want *quorum.Error %+v", what, err, err, *want)
		return
	}
	if !reflect.DeepEqual(*qe, *want) {
		t.Errorf("%s: error %+v, want %+v", what, *qe, *want)
	}
	if text != "" && qe.Error() != text {
		t.Errorf("%s: Error() = %q, want %q", what, qe.Error(), text)
	}
}

// Riak's texts from reference §15 (bodies without the trailing newline).
func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  *quorum.Error
		want string
	}{
		{&quorum.Error{Kind: quorum.NValViolation, Param: "w", N: 3}, "Specified w/dw/pw values invalid for bucket n value of 3"},
		{&quorum.Error{Kind: quorum.NValViolation, Param: "r", N: 5}, "Specified w/dw/pw values invalid for bucket n value of 5"},
		{&quorum.Error{Kind: quorum.Unsatisfied, Param: "r", Need: 2, Got: 1}, "R-value unsatisfied: 1/2"},
		{&quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 3, Got: 0}, "PR-value unsatisfied: 0/3"},
		{&quorum.Error{Kind: quorum.Unsatisfied, Param: "pw", Need: 2, Got: 1}, "PW-value unsatisfied: 1/2"},
		{&quorum.Error{Kind: quorum.Unsatisfied, Param: "dw", Need: 2, Got: 0}, "DW-value unsatisfied: 0/2"},
		{&quorum.Error{Kind: quorum.TooManyFails}, "Too Many write failures to satisfy W/DW"},
		{quorum.ErrTimeout, "request timed out"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", *tc.err, got, tc.want)
		}
	}
}

func TestErrorClientError(t *testing.T) {
	for _, tc := range []struct {
		kind quorum.ErrorKind
		want bool
	}{
		{quorum.Violation, true},
		{quorum.NValViolation, true},
		{quorum.Unsatisfied, false},
		{quorum.InsufficientVnodes, false},
		{quorum.TooManyFails, false},
		{quorum.Timeout, false},
	} {
		if got := (&quorum.Error{Kind: tc.kind}).ClientError(); got != tc.want {
			t.Errorf("kind %d: ClientError() = %v, want %v", tc.kind, got, tc.want)
		}
	}
}
