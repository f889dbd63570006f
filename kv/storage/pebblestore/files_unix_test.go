//go:build unix

package pebblestore

import (
	"syscall"
	"testing"
)

// TestDefaultMaxOpenFilesFollowsTheLimit: the table cache takes half the
// process's soft descriptor limit (clamped), read when a store opens.
func TestDefaultMaxOpenFilesFollowsTheLimit(t *testing.T) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if old.Max < 4000 {
		t.Skipf("hard descriptor limit %d is below the 4000 this test sets", old.Max)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	for soft, want := range map[uint64]int{4000: 2000, 1500: 1000} {
		lim := syscall.Rlimit{Cur: soft, Max: old.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		if got := defaultMaxOpenFiles(); got != want {
			t.Errorf("soft limit %d: defaultMaxOpenFiles() = %d, want %d", soft, got, want)
		}
	}
}
