package ring_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/ring"
)

// update rewrites the golden files: go test ./ring/ -run X -update
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", path, diffLines(string(want), string(got)))
	}
}

// trimLines drops trailing blanks from every line.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// diffLines shows the first differing lines.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

func nodes(names ...string) []ring.NodeID {
	out := make([]ring.NodeID, len(names))
	for i, n := range names {
		out[i] = ring.NodeID(n)
	}
	return out
}

func same(n ring.NodeID, k int) []ring.NodeID {
	out := make([]ring.NodeID, k)
	for i := range out {
		out[i] = n
	}
	return out
}

func nodeName(i int) ring.NodeID { return ring.NodeID(fmt.Sprintf("n%02d", i)) }

func count(owners []ring.NodeID, n ring.NodeID) int {
	c := 0
	for _, o := range owners {
		if o == n {
			c++
		}
	}
	return c
}

func TestClaimTable(t *testing.T) {
	cases := []struct {
		name    string
		owners  []ring.NodeID
		members []ring.NodeID
		tn      int
		want    string
	}{
		{"fresh 4 of 8", same("a", 8), nodes("a", "b", "c", "d"), 4, "b c d a b c d a"},
		{"fresh 2 of 8", same("a", 8), nodes("a", "b"), 4, "b a b a b a b a"},
		{"fresh 5 of 8", same("a", 8), nodes("a", "b", "c", "d", "e"), 4, "b c d e b c d a"},
		// One move: e takes one of d's partitions.
		{"join e to a striped ring", nodes("a", "b", "c", "d", "a", "b", "c", "d"), nodes("a", "b", "c", "d", "e"), 4, "a b c e a b c d"},
		// 16 partitions over 3 nodes cannot keep every run of 3 distinct;
		// claim prefers the striped ring with the fewest bad runs (2) to
		// the 4 moves that would leave 6.
		{"leave d", nodes("a", "b", "c", "d", "a", "b", "c", "d", "a", "b", "c", "d", "a", "b", "c", "d"), nodes("a", "b", "c"), 3,
			"a b c a b c a b c a b c a b c a"},
		{"non-members move", nodes("x", "y", "x", "y", "x", "y", "x", "y"), nodes("a", "b"), 2, "a b a b a b a b"},
		{"one member", nodes("a", "b", "c", "d"), nodes("z"), 4, "z z z z"},
		{"more members than partitions", same("a", 8), nodes("a", "b", "c", "d", "e", "f", "g", "h", "i", "j"), 4, "b c d e f g h a"},
		{"targetN 1: only balance, spread out", same("a", 8), nodes("a", "b"), 1, "b a b a b a b a"},
		{"balanced diverse ring is kept", nodes("c", "a", "d", "b", "c", "a", "d", "b"), nodes("a", "b", "c", "d"), 4, "c a d b c a d b"},
	}
	for _, tc := range cases {
		got := ring.Claim(tc.owners, tc.members, tc.tn)
		if s := strings.Join(toStrings(got), " "); s != tc.want {
			t.Errorf("%s: Claim = %s, want %s", tc.name, s, tc.want)
		}
	}
	if got := ring.Claim(same("a", 8), nil, 4); got != nil {
		t.Errorf("no members: %v", got)
	}
	if got := ring.Claim(nil, nodes("a"), 4); got != nil {
		t.Errorf("no partitions: %v", got)
	}
}

func toStrings(ns []ring.NodeID) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return out
}

func TestMetrics(t *testing.T) {
	o := nodes("a", "b", "a", "c", "b", "c", "a", "b")
	if lo, hi := ring.Balance(o, nodes("a", "b", "c", "d")); lo != 0 || hi != 3 {
		t.Errorf("Balance = %d, %d", lo, hi)
	}
	// Runs of 3 (cyclic): aba✗ bac acb cbc✗ bca cab aba✗ bab✗.
	if v := ring.Violations(o, 3); v != 4 {
		t.Errorf("Violations(3) = %d, want 4", v)
	}
	if v := ring.Violations(o, 1); v != 0 {
		t.Errorf("Violations(1) = %d", v)
	}
	if v := ring.Violations(nodes("a", "b"), 5); v != 0 {
		t.Errorf("Violations capped at ring size: %d", v)
	}
	if ring.MeetsTargetN(o, 4) || !ring.MeetsTargetN(nodes("a", "b", "c", "a", "b", "c"), 4) {
		t.Error("MeetsTargetN")
	}
	if m := ring.Moved(nodes("a", "b", "c"), nodes("a", "c", "c")); m != 1 {
		t.Errorf("Moved = %d", m)
	}
}

// TestClaimProperties runs claim on random rings and member sets.
func TestClaimProperties(t *testing.T) {
	rng := newRand(t)
	pool := nodes("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l")
	for iter := 0; iter < 400; iter++ {
		q := 1 << (3 + rng.IntN(5)) // 8..128
		owners := make([]ring.NodeID, q)
		for p := range owners {
			owners[p] = pool[rng.IntN(len(pool))]
		}
		members := slices.Clone(pool[:1+rng.IntN(len(pool))])
		rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		tn := 1 + rng.IntN(5)
		got := ring.Claim(owners, members, tn)

		for p, o := range got {
			if !slices.Contains(members, o) {
				t.Fatalf("partition %d owned by non-member %s", p, o)
			}
		}
		if lo, hi := ring.Balance(got, members); hi-lo > 1 {
			t.Fatalf("q=%d members=%v: unbalanced %d..%d", q, members, lo, hi)
		}
		d := min(tn, len(members))
		if ring.Feasible(q, len(members), tn) {
			if v := ring.Violations(got, d); v != 0 {
				t.Fatalf("q=%d n=%d tn=%d: %d violations in %v", q, len(members), tn, v, got)
			}
		}
		// Deterministic in the set of members.
		shuffled := slices.Clone(members)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if again := ring.Claim(owners, append(shuffled, shuffled[0]), tn); !slices.Equal(again, got) {
			t.Fatalf("claim depends on member order")
		}
		// A claimed ring is a fixed point, so the claimant's loop ends.
		if again := ring.Claim(got, members, tn); !slices.Equal(again, got) {
			t.Fatalf("q=%d n=%d tn=%d: claim is not idempotent: %d moves", q, len(members), tn, ring.Moved(got, again))
		}
	}
}

// TestClaimSimulation joins nodes one by one from 1 to 16 and then removes
// them one by one (the longest-standing first), on every ring size from 8
// to 1024, with targetN 4. It writes testdata/claim_report.txt and asserts:
//
//   - balance: max − min ≤ 1 everywhere;
//   - diversity: zero runs of 4 consecutive partitions with a repeated node
//     whenever n ≥ 4 (Feasible holds in every cell of the grid); for n < 4,
//     runs of n: zero when n divides Q, at most n − 1 otherwise (the
//     minimum: a balanced ring over n < targetN nodes must repeat);
//   - movement on a join to n > targetN nodes: at most ⌈Q/n⌉ + 1 (the new
//     node's share is ⌊Q/n⌋);
//   - movement on a leave to n ≥ targetN+3 nodes: at most ⌈4/3 × the
//     leaving node's partitions⌉ + 1 (at n ≥ 8 and Q ≥ 256 it is within
//     10% of them).
//
// Transitions into n ≤ targetN+2 nodes move more than the minimum because
// so few nodes leave little room: a 4-node ring that keeps targetN 4 must
// be a period-4 stripe, a 5-node ring nearly one, and a 3-node ring that
// keeps runs of 3 distinct a period-3 stripe. The report shows how much.
func TestClaimSimulation(t *testing.T) {
	const tn = 4
	type result struct {
		lo, hi, viol, moved, ideal int
		ok                         bool
	}
	var rep strings.Builder
	fmt.Fprintf(&rep, "# Claim simulation, targetN %d: nodes n01..n16 join one at a time, then leave in joining order.\n", tn)
	fmt.Fprintf(&rep, "# n: members after the step. lo/hi: fewest/most partitions per node. viol: runs of min(n,%d)\n", tn)
	fmt.Fprintf(&rep, "# consecutive partitions with a repeated node. moved/ideal: partitions moved, and the joining node's\n")
	fmt.Fprintf(&rep, "# share floor(Q/n) or the leaving node's partitions. Generated by TestClaimSimulation (-update).\n")
	fmt.Fprintf(&rep, "%5s %3s | %-24s | %-24s\n", "", "", "join to n", "leave to n")
	fmt.Fprintf(&rep, "%5s %3s | %9s %4s %9s | %9s %4s %9s\n", "Q", "n", "lo-hi", "viol", "moved", "lo-hi", "viol", "moved")
	cell := func(r result) string {
		if !r.ok {
			return ""
		}
		return fmt.Sprintf("%9s %4d %9s", fmt.Sprintf("%d-%d", r.lo, r.hi), r.viol, fmt.Sprintf("%d/%d", r.moved, r.ideal))
	}
	for _, q := range []int{8, 16, 32, 64, 128, 256, 512, 1024} {
		joins, leaves := map[int]result{}, map[int]result{}
		owners := same(nodeName(1), q)
		members := []ring.NodeID{nodeName(1)}
		check := func(step string, prev []ring.NodeID, ideal int) result {
			n := len(members)
			lo, hi := ring.Balance(owners, members)
			v := ring.Violations(owners, min(n, tn))
			moved := ring.Moved(prev, owners)
			if hi-lo > 1 {
				t.Errorf("Q=%d %s to %d: unbalanced %d..%d", q, step, n, lo, hi)
			}
			switch {
			case n >= tn:
				if !ring.Feasible(q, n, tn) {
					t.Errorf("Q=%d n=%d: not feasible", q, n)
				}
				if v != 0 {
					t.Errorf("Q=%d %s to %d: %d violations", q, step, n, v)
				}
			case q%n == 0 && v != 0, v > n-1:
				t.Errorf("Q=%d %s to %d: %d violations of runs of %d", q, step, n, v, n)
			}
			if step == "join" && n > tn && moved > (q+n-1)/n+1 {
				t.Errorf("Q=%d join to %d: moved %d, ideal %d", q, n, moved, ideal)
			}
			if step == "leave" && n >= tn+3 && moved > (4*ideal+2)/3+1 {
				t.Errorf("Q=%d leave to %d: moved %d, ideal %d", q, n, moved, ideal)
			}
			return result{lo, hi, v, moved, ideal, true}
		}
		for i := 2; i <= 16; i++ {
			members = append(members, nodeName(i))
			prev := owners
			owners = ring.Claim(owners, members, tn)
			joins[i] = check("join", prev, q/i)
		}
		for len(members) > 1 {
			gone := members[0]
			members = members[1:]
			prev := owners
			owners = ring.Claim(owners, members, tn)
			if count(owners, gone) != 0 {
				t.Fatalf("Q=%d: %s still owns partitions after leaving", q, gone)
			}
			leaves[len(members)] = check("leave", prev, count(prev, gone))
		}
		for n := 1; n <= 16; n++ {
			fmt.Fprintf(&rep, "%5d %3d | %-24s | %s\n", q, n, cell(joins[n]), cell(leaves[n]))
		}
	}
	out := trimLines(rep.String())
	t.Log("\n" + out)
	golden(t, "claim_report.txt", []byte(out))
}

// newRand returns a generator seeded from -seed or the test name.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		for _, c := range t.Name() {
			seed = seed*31 + uint64(c)
		}
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, 0x5eed))
}

var seedFlag = flag.Uint64("seed", 0, "seed for the randomised tests (0: derived from the test name)")
