package pebblestore

import "testing"

func TestClampOpenFiles(t *testing.T) {
	for in, want := range map[uint64]int{0: 1000, 512: 1000, 10000: 10000, 1 << 20: 16384} {
		if got := clampOpenFiles(in); got != want {
			t.Errorf("clampOpenFiles(%d) = %d, want %d", in, got, want)
		}
	}
}
