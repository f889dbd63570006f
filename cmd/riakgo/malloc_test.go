package main

import (
	"bytes"
	"os"
	"runtime"
	"testing"
)

// TestLimitMallocArenas: the setting is taken on glibc with cgo, and an
// arena limit from the environment is left alone.
func TestLimitMallocArenas(t *testing.T) {
	t.Setenv("MALLOC_ARENA_MAX", "4")
	if limitMallocArenas() {
		t.Fatal("MALLOC_ARENA_MAX in the environment was overridden")
	}
	t.Setenv("MALLOC_ARENA_MAX", "")
	t.Setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")
	if limitMallocArenas() {
		t.Fatal("arena_max in GLIBC_TUNABLES was overridden")
	}
	t.Setenv("GLIBC_TUNABLES", "")
	got := limitMallocArenas()
	if want := cgoEnabled && runtime.GOOS == "linux" && glibc(); got != want {
		t.Fatalf("limitMallocArenas() = %v, want %v", got, want)
	}
}

// glibc reports whether the C library is glibc (the build machine's and
// CI's Debian are).
func glibc() bool {
	b, err := os.ReadFile("/proc/self/maps")
	return err == nil && bytes.Contains(b, []byte("libc.so.6"))
}
