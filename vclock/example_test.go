package vclock_test

import (
	"fmt"

	"github.com/riakgo/riakgo/vclock"
)

func ExampleVClock_Increment() {
	vnodeA := vclock.Actor{ID: 0xA, Epoch: 1}
	vnodeB := vclock.Actor{ID: 0xB, Epoch: 1}

	var empty vclock.VClock
	v1, dot1 := empty.Increment(vnodeA, 1_700_000_000) // A coordinates a write
	v2, _ := v1.Increment(vnodeA, 1_700_000_001)       // A again: v2 has seen v1
	w2, _ := v1.Increment(vnodeB, 1_700_000_002)       // B, from v1: concurrent with v2

	fmt.Println(dot1)
	fmt.Println(v2.Descends(v1), v1.Descends(v2))
	fmt.Println(vclock.Compare(v2, w2))
	m := vclock.Merge(v2, w2)
	fmt.Println(m.Descends(v2) && m.Descends(w2), m.Covers(dot1))
	// Output:
	// 000000000000000a:1@1
	// true false
	// concurrent
	// true true
}
