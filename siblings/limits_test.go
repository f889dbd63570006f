package siblings_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/siblings"
)

func TestLimitsCheck(t *testing.T) {
	const mib = 1 << 20
	def := siblings.DefaultLimits()
	if want := (siblings.Limits{WarnSiblings: 25, MaxSiblings: 100, WarnSize: 5 * mib, MaxSize: 50 * mib}); def != want {
		t.Fatalf("DefaultLimits() = %+v, want %+v", def, want)
	}
	type outcome int
	const (
		ok outcome = iota
		warn
		tooMany
		tooLarge
	)
	tests := []struct {
		limits  siblings.Limits
		n, size int
		want    outcome
	}{
		{def, 1, 0, ok},
		{def, 25, 1000, ok},
		{def, 26, 1000, warn},
		{def, 100, 1000, warn},
		{def, 101, 1000, tooMany},
		{def, 1, 5 * mib, ok},
		{def, 1, 5*mib + 1, warn},
		{def, 1, 50 * mib, warn},
		{def, 1, 50*mib + 1, tooLarge},
		{def, 25, 5 * mib, ok},
		{def, 26, 5*mib + 1, warn},
		{def, 101, 50*mib + 1, tooMany}, // the sibling count is reported first
		{def, 100, 50*mib + 1, tooLarge},
		{siblings.Limits{}, 1 << 20, 1 << 40, ok}, // zero disables every check
		{siblings.Limits{WarnSiblings: 2}, 3, 0, warn},
		{siblings.Limits{MaxSize: 10}, 1000, 11, tooLarge},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%+v/n=%d/size=%d", tc.limits, tc.n, tc.size), func(t *testing.T) {
			w, err := tc.limits.Check(tc.n, tc.size)
			switch tc.want {
			case ok:
				if w != "" || err != nil {
					t.Fatalf("got warning %q, error %v; want neither", w, err)
				}
			case warn:
				if w == "" || err != nil {
					t.Fatalf("got warning %q, error %v; want a warning only", w, err)
				}
			case tooMany:
				var e *siblings.TooManySiblingsError
				if !errors.As(err, &e) || e.Siblings != tc.n || e.Max != tc.limits.MaxSiblings {
					t.Fatalf("got %v (%T), want *TooManySiblingsError{%d, %d}", err, err, tc.n, tc.limits.MaxSiblings)
				}
			case tooLarge:
				var e *siblings.TooLargeError
				if !errors.As(err, &e) || e.Size != tc.size || e.Max != tc.limits.MaxSize {
					t.Fatalf("got %v (%T), want *TooLargeError{%d, %d}", err, err, tc.size, tc.limits.MaxSize)
				}
			}
			if tc.want >= tooMany {
				if !errors.Is(err, siblings.ErrLimit) {
					t.Fatalf("errors.Is(%v, ErrLimit) = false", err)
				}
				if w != "" {
					t.Fatalf("warning %q returned with an error", w)
				}
				if err.Error() == "" {
					t.Fatal("empty error message")
				}
			}
		})
	}
}
