package testlog

import "testing"

// recorder is a testing.TB that records what is logged to it.
type recorder struct {
	testing.TB
	lines    []string
	cleanups []func()
}

func (r *recorder) Log(args ...any) {
	for _, a := range args {
		r.lines = append(r.lines, a.(string))
	}
}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func TestLogsUntilCleanup(t *testing.T) {
	r := &recorder{TB: t}
	l := New(r)
	l.Info("before")
	for _, f := range r.cleanups {
		f()
	}
	l.Info("after")
	if len(r.lines) != 1 {
		t.Fatalf("logged %q, want only the line before cleanup", r.lines)
	}
}
