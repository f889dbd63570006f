package ring_test

import (
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/ring"
)

// Coverage plans: a table of small rings with the exact plan expected,
// then properties over random rings and down sets (exactly-once coverage,
// only up primaries, minimal size checked against brute force).

// planString formats a plan as "v@node{h h h} …".
func planString(plan []ring.CoverageEntry) string {
	var b strings.Builder
	for i, e := range plan {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d@%s{", e.Partition, e.Node)
		for j, h := range e.Homes {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprint(&b, h)
		}
		b.WriteByte('}')
	}
	return b.String()
}

// roundRobin deals q partitions over nodes a, b, c, … in turn.
func roundRobin(t testing.TB, q, nodes int) *ring.Ring {
	t.Helper()
	owners := make([]ring.NodeID, q)
	for p := range owners {
		owners[p] = ring.NodeID(rune('a' + p%nodes))
	}
	r, err := ring.FromOwners(owners)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func downSet(nodes ...ring.NodeID) func(ring.NodeID) bool {
	return func(id ring.NodeID) bool { return !slices.Contains(nodes, id) }
}

func TestCoverageTable(t *testing.T) {
	tests := []struct {
		name   string
		q      int
		nodes  int
		n      int
		down   []ring.NodeID
		offset uint64
		want   string // plan, or the error's text after the sentinel
	}{
		{name: "all up", q: 8, nodes: 4, n: 3,
			want: "0@a{6 7 0} 3@d{1 2 3} 6@c{4 5}"},
		{name: "offset moves the anchor", q: 8, nodes: 4, n: 3, offset: 1,
			want: "1@b{7 0 1} 4@a{2 3 4} 7@d{5 6}"},
		{name: "offset past the ring rotates the first vnode", q: 8, nodes: 4, n: 3, offset: 8,
			want: "1@b{7 0 1} 4@a{2 3 4} 7@d{5 6}"},
		{name: "offset rotating past a down vnode", q: 8, nodes: 4, n: 3, offset: 16, down: []ring.NodeID{"c"},
			want: "0@a{6 7 0} 3@d{1 2 3} 5@b{4 5}"},
		{name: "divisible ring: no filter needed", q: 8, nodes: 8, n: 4,
			want: "0@a{5 6 7 0} 4@e{1 2 3 4}"},
		{name: "a down node is planned around", q: 8, nodes: 4, n: 3, down: []ring.NodeID{"d"},
			want: "0@a{6 7 0} 2@c{1 2} 5@b{3 4 5}"},
		{name: "two down nodes of four", q: 8, nodes: 4, n: 3, down: []ring.NodeID{"b", "d"},
			want: "0@a{6 7 0} 2@c{1 2} 4@a{3 4} 6@c{5}"},
		{name: "n_val 1 is every partition", q: 4, nodes: 2, n: 1,
			want: "0@a{0} 1@b{1} 2@a{2} 3@b{3}"},
		{name: "n_val 1 with a node down", q: 4, nodes: 2, n: 1, down: []ring.NodeID{"b"},
			want: "home partitions [1 3] have no primary vnode on an up node (n_val 1)"},
		{name: "n_val above the ring size", q: 4, nodes: 4, n: 7,
			want: "0@a{1 2 3 0}"},
		{name: "single partition", q: 1, nodes: 1, n: 3,
			want: "0@a{0}"},
		{name: "consecutive owners down", q: 16, nodes: 8, n: 2, down: []ring.NodeID{"b", "c"},
			want: "home partitions [1 9] have no primary vnode on an up node (n_val 2)"},
		{name: "everything down", q: 8, nodes: 2, n: 3, down: []ring.NodeID{"a", "b"},
			want: "home partitions [0-7] have no primary vnode on an up node (n_val 3)"},
		{name: "ring 64, five nodes, n_val 3", q: 64, nodes: 5, n: 3,
			want: "0@a{62 63 0} 3@d{1 2 3} 6@b{4 5 6} 9@e{7 8 9} 12@c{10 11 12} 15@a{13 14 15} 18@d{16 17 18} 21@b{19 20 21} 24@e{22 23 24} 27@c{25 26 27} 30@a{28 29 30} 33@d{31 32 33} 36@b{34 35 36} 39@e{37 38 39} 42@c{40 41 42} 45@a{43 44 45} 48@d{46 47 48} 51@b{49 50 51} 54@e{52 53 54} 57@c{55 56 57} 60@a{58 59 60} 63@d{61}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := roundRobin(t, tt.q, tt.nodes)
			plan, err := ring.Coverage(r, tt.n, downSet(tt.down...), tt.offset)
			var got string
			if err != nil {
				if !errors.Is(err, ring.ErrInsufficientVnodes) {
					t.Fatalf("error %v does not wrap ErrInsufficientVnodes", err)
				}
				var ce *ring.CoverageError
				if !errors.As(err, &ce) || err.Error() != ring.ErrInsufficientVnodes.Error()+": "+ce.Reason {
					t.Fatalf("error %v is not a CoverageError reading as the sentinel and its reason", err)
				}
				got = ce.Reason
			} else {
				got = planString(plan)
			}
			if got != tt.want {
				t.Errorf("Coverage(q=%d, n=%d, down=%v, offset=%d)\n got %s\nwant %s", tt.q, tt.n, tt.down, tt.offset, got, tt.want)
			}
		})
	}
	if _, err := ring.Coverage(roundRobin(t, 8, 2), 0, nil, 0); err == nil || errors.Is(err, ring.ErrInsufficientVnodes) {
		t.Errorf("n_val 0: %v, want a plain error", err)
	}
}

// checkPlan verifies a plan against the ring: only up primaries, each home
// answered exactly once by a vnode holding it. It returns the uncovered
// homes an error should name when plan is nil.
func checkPlan(t *testing.T, what string, r *ring.Ring, n int, up func(ring.NodeID) bool, plan []ring.CoverageEntry, err error) {
	t.Helper()
	q := r.Size()
	nn := min(n, q)
	var uncovered []int
	for h := 0; h < q; h++ {
		ok := false
		for i := 0; i < nn; i++ {
			ok = ok || up(r.Owner((h+i)%q))
		}
		if !ok {
			uncovered = append(uncovered, h)
		}
	}
	if len(uncovered) > 0 {
		if !errors.Is(err, ring.ErrInsufficientVnodes) {
			t.Fatalf("%s: homes %v are held by no up vnode, yet Coverage = %s, %v", what, uncovered, planString(plan), err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: every home has an up vnode, yet Coverage failed: %v", what, err)
	}
	seen := make([]int, q)
	for i, e := range plan {
		if i > 0 && plan[i-1].Partition >= e.Partition {
			t.Fatalf("%s: plan not sorted by distinct partitions: %s", what, planString(plan))
		}
		if e.Node != r.Owner(e.Partition) || !up(e.Node) {
			t.Fatalf("%s: entry %d@%s is not an up primary (owner %s)", what, e.Partition, e.Node, r.Owner(e.Partition))
		}
		if len(e.Homes) == 0 {
			t.Fatalf("%s: entry %d answers for nothing", what, e.Partition)
		}
		for _, h := range e.Homes {
			if d := (e.Partition - h + q) % q; d >= nn {
				t.Fatalf("%s: vnode %d does not hold home %d at n_val %d", what, e.Partition, h, nn)
			}
			seen[h]++
		}
	}
	for h, c := range seen {
		if c != 1 {
			t.Fatalf("%s: home %d answered %d times: %s", what, h, c, planString(plan))
		}
	}
}

// minCover is the size of a smallest set of up vnodes holding every home,
// by brute force over subsets (q ≤ 16).
func minCover(r *ring.Ring, n int, up func(ring.NodeID) bool) int {
	q := r.Size()
	n = min(n, q)
	full := uint32(1)<<q - 1
	var masks []uint32
	for v := 0; v < q; v++ {
		if !up(r.Owner(v)) {
			continue
		}
		var m uint32
		for i := 0; i < n; i++ {
			m |= 1 << ((v - i + q) % q)
		}
		masks = append(masks, m)
	}
	best := -1
	for set := uint32(0); set < 1<<len(masks); set++ {
		var m uint32
		for s := set; s != 0; s &= s - 1 {
			m |= masks[bits.TrailingZeros32(s)]
		}
		if m == full && (best < 0 || bits.OnesCount32(set) < best) {
			best = bits.OnesCount32(set)
		}
	}
	return best
}

// randomRing returns a ring of q partitions over k nodes: round-robin,
// claimed, or random owners.
func randomRing(t *testing.T, rnd *rand.Rand, q, k int) *ring.Ring {
	owners := make([]ring.NodeID, q)
	for p := range owners {
		switch rnd.IntN(2) {
		case 0:
			owners[p] = ring.NodeID(fmt.Sprintf("n%d", p%k))
		default:
			owners[p] = ring.NodeID(fmt.Sprintf("n%d", rnd.IntN(k)))
		}
	}
	r, err := ring.FromOwners(owners)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCoverageProperties(t *testing.T) {
	seed := uint64(rand.Int64())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 11))
	sizes := []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 1024}
	for iter := 0; iter < 3000; iter++ {
		q := sizes[rnd.IntN(len(sizes))]
		k := 1 + rnd.IntN(9)
		n := 1 + rnd.IntN(6)
		r := randomRing(t, rnd, q, k)
		downP := []float64{0, 0, 0.1, 0.3, 0.6}[rnd.IntN(5)]
		down := map[ring.NodeID]bool{}
		for i := 0; i < k; i++ {
			if rnd.Float64() < downP {
				down[ring.NodeID(fmt.Sprintf("n%d", i))] = true
			}
		}
		up := func(id ring.NodeID) bool { return !down[id] }
		offset := rnd.Uint64()
		what := fmt.Sprintf("iter %d: q=%d k=%d n=%d down=%v offset=%d", iter, q, k, n, down, offset)
		plan, err := ring.Coverage(r, n, up, offset)
		checkPlan(t, what, r, n, up, plan, err)
		if err != nil {
			continue
		}
		again, _ := ring.Coverage(r, n, up, offset)
		if planString(again) != planString(plan) {
			t.Fatalf("%s: not deterministic", what)
		}
		if len(down) == 0 {
			if limit := (q + n - 1) / n; len(plan) > limit {
				t.Fatalf("%s: %d vnodes with every node up, want at most ⌈Q/n⌉ = %d", what, len(plan), limit)
			}
		}
		if q <= 16 {
			if m := minCover(r, n, up); len(plan) != m {
				t.Fatalf("%s: plan of %d vnodes, the smallest has %d: %s", what, len(plan), m, planString(plan))
			}
		}
		if nilUp, err := ring.Coverage(r, n, nil, offset); len(down) == 0 && (err != nil || planString(nilUp) != planString(plan)) {
			t.Fatalf("%s: up == nil differs from all up: %v", what, err)
		}
	}
}

// TestCoverageSpreadsLoad: over offsets, every vnode takes part in some
// plan, so queries with varying offsets share the work.
func TestCoverageSpreadsLoad(t *testing.T) {
	r := roundRobin(t, 64, 5)
	used := map[int]int{}
	plans := map[string]bool{}
	for off := uint64(0); off < 64*3; off++ {
		plan, err := ring.Coverage(r, 3, nil, off)
		if err != nil {
			t.Fatal(err)
		}
		plans[planString(plan)] = true
		for _, e := range plan {
			used[e.Partition]++
		}
	}
	if len(used) != 64 {
		t.Errorf("only %d of 64 vnodes are ever planned", len(used))
	}
	if len(plans) < 3 {
		t.Errorf("only %d distinct plans over 192 offsets", len(plans))
	}
	lo, hi := 1<<30, 0
	for _, c := range used {
		lo, hi = min(lo, c), max(hi, c)
	}
	if hi > 2*lo {
		t.Errorf("uneven use of vnodes over offsets: between %d and %d plans each", lo, hi)
	}
}

func BenchmarkCoverage(b *testing.B) {
	for _, q := range []int{64, 1024} {
		r := roundRobin(b, q, 7)
		up := downSet("c")
		b.Run(fmt.Sprintf("ring%d", q), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := ring.Coverage(r, 3, up, uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
