package ring

import (
	"fmt"
	"slices"
	"testing"
)

// TestFeasibleBruteForce checks Feasible against an exhaustive search on
// small rings: a balanced layout with every run of d consecutive
// partitions on distinct nodes exists exactly when Feasible says so.
func TestFeasibleBruteForce(t *testing.T) {
	for q := 1; q <= 9; q++ {
		for n := 1; n <= 5; n++ {
			if pow(n, q) > 2_000_000 {
				continue
			}
			for tn := 1; tn <= 5; tn++ {
				d := window(tn, n, q)
				found := false
				seq := make([]int, q)
				var rec func(i int) bool
				rec = func(i int) bool {
					if i == q {
						cnt := make([]int, n)
						for _, x := range seq {
							cnt[x]++
						}
						if slices.Max(cnt)-slices.Min(cnt) > 1 {
							return false
						}
						return badRuns(seq, d) == 0
					}
					for x := 0; x < n; x++ {
						seq[i] = x
						// prune: the run ending at i must be distinct
						ok := true
						for k := 1; k < d && k <= i; k++ {
							if seq[i-k] == x {
								ok = false
								break
							}
						}
						if ok && rec(i+1) {
							return true
						}
					}
					return false
				}
				found = rec(0)
				if found != Feasible(q, n, tn) {
					t.Errorf("q=%d n=%d targetN=%d: exhaustive search %v, Feasible %v", q, n, tn, found, Feasible(q, n, tn))
				}
			}
		}
	}
}

func pow(a, b int) int {
	r := 1
	for i := 0; i < b; i++ {
		r *= a
	}
	return r
}

// badRuns counts the runs of d consecutive slots (cyclic) that repeat one.
func badRuns(seq []int, d int) int {
	names := make([]NodeID, len(seq))
	for i, x := range seq {
		names[i] = NodeID(fmt.Sprint(x))
	}
	return Violations(names, d)
}

// TestStripe checks the fallback layout: for every feasible (q, n, d) it
// is balanced and diverse; otherwise it is plain striping.
func TestStripe(t *testing.T) {
	sizes := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 20, 24, 31, 32, 33, 48, 64, 100, 128, 256, 1024}
	for _, q := range sizes {
		for n := 1; n <= 40; n++ {
			for tn := 1; tn <= 7; tn++ {
				d := window(tn, n, q)
				seq := stripe(q, n, d)
				if len(seq) != q {
					t.Fatalf("q=%d n=%d d=%d: %d slots", q, n, d, len(seq))
				}
				cnt := make([]int, n)
				for _, x := range seq {
					cnt[x]++
				}
				if lo, hi := slices.Min(cnt), slices.Max(cnt); hi-lo > 1 {
					t.Errorf("q=%d n=%d d=%d: unbalanced %d..%d", q, n, d, lo, hi)
				}
				if Feasible(q, n, tn) {
					if v := badRuns(seq, d); v != 0 {
						t.Errorf("q=%d n=%d d=%d: %d bad runs in %v", q, n, d, v, seq)
					}
				}
			}
		}
	}
}

// TestClaimFrozen: down members keep exactly their partitions and get no
// more; the others are balanced among themselves.
func TestClaimFrozen(t *testing.T) {
	owners := Claim(repeat("a", 64), []NodeID{"a", "b", "c", "d", "e"}, 4)
	frozen := map[NodeID]bool{"c": true}
	// f joins while c is down.
	got := claim(owners, []NodeID{"a", "b", "c", "d", "e", "f"}, frozen, 4)
	for p := range owners {
		if (owners[p] == "c") != (got[p] == "c") {
			t.Fatalf("partition %d: c's ownership changed (%s -> %s)", p, owners[p], got[p])
		}
	}
	cnt := map[NodeID]int{}
	for _, o := range got {
		cnt[o]++
	}
	lo, hi := 64, 0
	for _, n := range []NodeID{"a", "b", "d", "e", "f"} {
		lo, hi = min(lo, cnt[n]), max(hi, cnt[n])
	}
	if hi-lo > 1 {
		t.Errorf("unfrozen members unbalanced: %v", cnt)
	}
	// Everything frozen: nothing moves, non-members stay.
	all := claim([]NodeID{"x", "a", "b", "a"}, []NodeID{"a", "b"}, map[NodeID]bool{"a": true, "b": true}, 4)
	if !slices.Equal(all, []NodeID{"x", "a", "b", "a"}) {
		t.Errorf("all frozen: %v", all)
	}
}

func repeat(n NodeID, k int) []NodeID {
	out := make([]NodeID, k)
	for i := range out {
		out[i] = n
	}
	return out
}

// TestClaimFixedPoint: claiming a claimed ring again moves nothing, with
// and without down (frozen) members, so the claimant's loop ends.
func TestClaimFixedPoint(t *testing.T) {
	pool := []NodeID{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	seed := uint64(1)
	next := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	for iter := 0; iter < 300; iter++ {
		q := 1 << (3 + next(5))
		owners := make([]NodeID, q)
		for p := range owners {
			owners[p] = pool[next(len(pool))]
		}
		members := pool[:1+next(len(pool))]
		frozen := map[NodeID]bool{}
		if next(2) == 0 {
			for _, m := range members {
				if next(4) == 0 {
					frozen[m] = true
				}
			}
		}
		tn := 1 + next(5)
		got := claim(owners, members, frozen, tn)
		if again := claim(got, members, frozen, tn); !slices.Equal(again, got) {
			t.Fatalf("iter %d q=%d members=%v frozen=%v tn=%d: %d moves on the second claim", iter, q, members, frozen, tn, Moved(got, again))
		}
	}
}
