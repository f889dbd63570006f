package ring_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/riakgo/riakgo/ring"
)

func TestNew(t *testing.T) {
	for _, size := range []int{0, -1, -64, 3, 6, 12, 100, 1000, ring.MaxSize + 1, 1 << 17, 1 << 20} {
		r, err := ring.New(size, "a")
		if !errors.Is(err, ring.ErrBadSize) || r != nil {
			t.Errorf("New(%d) = %v, %v; want ErrBadSize", size, r, err)
		}
	}
	for _, size := range []int{1, 2, 4, 8, 64, 1024, ring.MaxSize} {
		r, err := ring.New(size, "a")
		if err != nil {
			t.Fatalf("New(%d): %v", size, err)
		}
		if r.Size() != size {
			t.Errorf("New(%d).Size() = %d", size, r.Size())
		}
		owners := r.Owners()
		if len(owners) != size {
			t.Fatalf("New(%d): %d owners", size, len(owners))
		}
		for p := 0; p < size; p++ {
			if r.Owner(p) != "a" || owners[p] != "a" {
				t.Fatalf("New(%d): partition %d owned by %q/%q, want a", size, p, r.Owner(p), owners[p])
			}
		}
	}
	if ring.DefaultSize != 64 || ring.MaxSize != 65536 {
		t.Errorf("DefaultSize %d MaxSize %d", ring.DefaultSize, ring.MaxSize)
	}
}

func TestFromOwners(t *testing.T) {
	for _, n := range []int{0, 3, 5, 6, 7, 12, ring.MaxSize + 1} {
		owners := make([]ring.NodeID, n)
		r, err := ring.FromOwners(owners)
		if !errors.Is(err, ring.ErrBadSize) || r != nil {
			t.Errorf("FromOwners(%d owners) = %v, %v; want ErrBadSize", n, r, err)
		}
	}
	if r, err := ring.FromOwners(nil); !errors.Is(err, ring.ErrBadSize) || r != nil {
		t.Errorf("FromOwners(nil) = %v, %v; want ErrBadSize", r, err)
	}

	in := []ring.NodeID{"a", "b", "c", "d"}
	r, err := ring.FromOwners(in)
	if err != nil {
		t.Fatal(err)
	}
	in[0] = "z" // the ring keeps its own copy
	if r.Size() != 4 || r.Owner(0) != "a" || r.Owner(3) != "d" {
		t.Errorf("FromOwners: size %d owners %v", r.Size(), r.Owners())
	}
	out := r.Owners()
	out[1] = "z" // Owners returns a copy
	if got := r.Owners(); !reflect.DeepEqual(got, []ring.NodeID{"a", "b", "c", "d"}) {
		t.Errorf("Owners() = %v after mutating a copy", got)
	}

	// A one-owner ring from FromOwners behaves like New.
	r1, err := ring.FromOwners([]ring.NodeID{"n", "n", "n", "n", "n", "n", "n", "n"})
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := ring.New(8, "n")
	for i := 0; i < 100; i++ {
		h := ring.KeyHash("t", "b", fmt.Sprint(i))
		if r1.Partition(h) != r2.Partition(h) {
			t.Fatalf("key %d: FromOwners ring partition %d, New ring %d", i, r1.Partition(h), r2.Partition(h))
		}
	}
}

func pow2(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }

func TestIndex(t *testing.T) {
	mustBig := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 10)
		if !ok {
			t.Fatalf("bad number %s", s)
		}
		return v
	}
	r8, _ := ring.New(8, "a")
	r64, _ := ring.New(64, "a")
	r1, _ := ring.New(1, "a")
	top := pow2(160)
	cases := []struct {
		r    *ring.Ring
		p    int
		want *big.Int
	}{
		{r1, 0, big.NewInt(0)},
		{r8, 0, big.NewInt(0)},
		// riak_core_apl four_node_test's indices.
		{r8, 1, mustBig("182687704666362864775460604089535377456991567872")},
		{r8, 2, mustBig("365375409332725729550921208179070754913983135744")},
		{r8, 7, new(big.Int).Sub(top, pow2(157))},
		{r64, 1, pow2(154)},
		{r64, 32, pow2(159)},
		{r64, 63, new(big.Int).Sub(top, pow2(154))},
		// 1461501637330902918203684832716283019655932542976 is 2^160.
		{r64, 3, new(big.Int).Div(new(big.Int).Mul(big.NewInt(3), mustBig("1461501637330902918203684832716283019655932542976")), big.NewInt(64))},
	}
	for _, tc := range cases {
		if got := tc.r.Index(tc.p); got.Cmp(tc.want) != 0 {
			t.Errorf("size %d Index(%d) = %s, want %s", tc.r.Size(), tc.p, got, tc.want)
		}
	}
	// Index(p) = p·2^160/size for every partition of a few sizes.
	for _, size := range []int{2, 16, 1024} {
		r, _ := ring.New(size, "a")
		for p := 0; p < size; p++ {
			want := new(big.Int).Div(new(big.Int).Mul(big.NewInt(int64(p)), top), big.NewInt(int64(size)))
			if got := r.Index(p); got.Cmp(want) != 0 {
				t.Fatalf("size %d Index(%d) = %s, want %s", size, p, got, want)
			}
		}
	}
	// Index returns a fresh value each call.
	a := r64.Index(5)
	a.SetInt64(0)
	if r64.Index(5).Sign() == 0 {
		t.Error("Index result aliases internal state")
	}
}

// hashOf converts a number in [0, 2^160) to a Hash (big-endian).
func hashOf(v *big.Int) ring.Hash {
	var h ring.Hash
	v.FillBytes(h[:])
	return h
}

// lastInRing is riak_core's last_in_ring(): 2^160 - 1.
func lastInRing() ring.Hash {
	var h ring.Hash
	for i := range h {
		h[i] = 0xff
	}
	return h
}

// riakPartition is chashbin's ((h div inc) + 1) rem Q computed on 160-bit
// integers.
func riakPartition(h ring.Hash, size int) int {
	inc := new(big.Int).Div(pow2(160), big.NewInt(int64(size)))
	v := new(big.Int).SetBytes(h[:])
	v.Div(v, inc)
	v.Add(v, big.NewInt(1))
	v.Mod(v, big.NewInt(int64(size)))
	return int(v.Int64())
}

func TestPartition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 4, 8, 64, 1024, 65536} {
		r, _ := ring.New(size, "a")

		// Riak's last_in_ring test: hash 2^160-1 lands on partition 0.
		if got := r.Partition(lastInRing()); got != 0 {
			t.Errorf("size %d: Partition(ff..ff) = %d, want 0", size, got)
		}
		// Hash 0 is in the first slice, owned by partition 1.
		want0 := 1 % size
		if got := r.Partition(ring.Hash{}); got != want0 {
			t.Errorf("size %d: Partition(0) = %d, want %d", size, got, want0)
		}

		// Both ends of the slice with top bits t map to (t+1) mod size.
		inc := new(big.Int).Div(pow2(160), big.NewInt(int64(size)))
		tops := []int{0, 1 % size, size / 2, size - 1}
		for i := 0; i < 20; i++ {
			tops = append(tops, rng.IntN(size))
		}
		for _, top := range tops {
			lo := new(big.Int).Mul(big.NewInt(int64(top)), inc)
			hi := new(big.Int).Sub(new(big.Int).Add(lo, inc), big.NewInt(1))
			want := (top + 1) % size
			for _, v := range []*big.Int{lo, hi} {
				if got := r.Partition(hashOf(v)); got != want {
					t.Errorf("size %d: Partition(%x) = %d, want %d", size, v, got, want)
				}
			}
		}

		// Random hashes against the 160-bit computation.
		for i := 0; i < 200; i++ {
			var h ring.Hash
			for j := range h {
				h[j] = byte(rng.UintN(256))
			}
			if got, want := r.Partition(h), riakPartition(h, size); got != want {
				t.Errorf("size %d: Partition(%x) = %d, want %d", size, h, got, want)
			}
		}
	}
}

func TestPartitionDistribution(t *testing.T) {
	const keys = 100_000
	r, _ := ring.New(64, "a")
	counts := make([]int, r.Size())
	for i := 0; i < keys; i++ {
		p := r.Partition(ring.KeyHash("default", "bucket", fmt.Sprintf("key-%d", i)))
		if p < 0 || p >= r.Size() {
			t.Fatalf("key %d: partition %d out of range", i, p)
		}
		counts[p]++
	}
	mean := float64(keys) / float64(r.Size())
	for p, c := range counts {
		if float64(c) < 0.75*mean || float64(c) > 1.25*mean {
			t.Errorf("partition %d holds %d keys, mean %.1f (outside ±25%%)", p, c, mean)
		}
	}

	// All keys map within range on other sizes too.
	for _, size := range []int{1, 2, 8, 1024} {
		r, _ := ring.New(size, "a")
		for i := 0; i < 2000; i++ {
			if p := r.Partition(ring.KeyHash("t", "b", fmt.Sprint(i))); p < 0 || p >= size {
				t.Fatalf("size %d: partition %d out of range", size, p)
			}
		}
	}
}

func TestKeyHash(t *testing.T) {
	// Triples that are equal under naive concatenation hash differently.
	groups := [][][3]string{
		{{"a", "bc", "d"}, {"ab", "c", "d"}, {"abc", "", "d"}, {"", "abc", "d"}, {"a", "b", "cd"}, {"", "", "abcd"}},
		{{"t", "b", "k"}, {"", "tb", "k"}, {"tbk", "", ""}, {"", "", "tbk"}, {"tb", "k", ""}},
		{{"a", "", "bc"}, {"a", "b", "c"}, {"a", "bc", ""}},
	}
	for _, g := range groups {
		seen := map[ring.Hash][3]string{}
		for _, k := range g {
			h := ring.KeyHash(k[0], k[1], k[2])
			if prev, ok := seen[h]; ok {
				t.Errorf("KeyHash%q == KeyHash%q", k, prev)
			}
			seen[h] = k
		}
	}

	// Every triple of strings over {a, b} up to length 2 hashes uniquely.
	words := []string{"", "a", "b", "aa", "ab", "ba", "bb"}
	seen := map[ring.Hash][3]string{}
	for _, x := range words {
		for _, y := range words {
			for _, z := range words {
				h := ring.KeyHash(x, y, z)
				if prev, ok := seen[h]; ok {
					t.Fatalf("KeyHash(%q,%q,%q) == KeyHash%q", x, y, z, prev)
				}
				seen[h] = [3]string{x, y, z}
			}
		}
	}

	// Deterministic.
	if ring.KeyHash("x", "y", "z") != ring.KeyHash("x", "y", "z") {
		t.Error("KeyHash not deterministic")
	}

	// Golden values: changing the encoding moves every key in existing
	// data, so it must be a deliberate change. They were computed outside
	// Go as sha1(uvarint(len(type)) type uvarint(len(bucket)) bucket key),
	// e.g. printf '\x07default\x05usersalice' | sha1sum.
	long := make([]byte, 200)
	for i := range long {
		long[i] = 'b'
	}
	for _, tc := range []struct {
		typ, bucket, key string
		want             string
	}{
		{"default", "users", "alice", "30c789645097a3b3d221f537381ac73e118b6369"},
		{"typed", string(long), "", "3335ef9627430827fca8f366a30f3f94806fd626"}, // two-byte length
		{"", "", "", "1489f923c4dca729178b3e3233458550d8dddf29"},
	} {
		h := ring.KeyHash(tc.typ, tc.bucket, tc.key)
		if got := hex.EncodeToString(h[:]); got != tc.want {
			t.Errorf("KeyHash(%q, %.10q…, %q) = %s, want %s", tc.typ, tc.bucket, tc.key, got, tc.want)
		}
	}
	r, _ := ring.New(64, "a")
	if got := r.Partition(ring.KeyHash("default", "users", "alice")); got != 13 {
		t.Errorf("partition of (default, users, alice) on 64 = %d, want 13", got)
	}
}

func TestPrimaries(t *testing.T) {
	r8, _ := ring.New(8, "a")
	r1, _ := ring.New(1, "a")
	cases := []struct {
		r    *ring.Ring
		p, n int
		want []int
	}{
		{r8, 0, 3, []int{0, 1, 2}},
		{r8, 5, 3, []int{5, 6, 7}},
		{r8, 6, 3, []int{6, 7, 0}},
		{r8, 7, 3, []int{7, 0, 1}},
		{r8, 7, 1, []int{7}},
		{r8, 2, 0, []int{}},
		{r8, 5, 8, []int{5, 6, 7, 0, 1, 2, 3, 4}},
		{r8, 3, 20, []int{3, 4, 5, 6, 7, 0, 1, 2}}, // capped at ring size
		{r1, 0, 3, []int{0}},
	}
	for _, tc := range cases {
		if got := tc.r.Primaries(tc.p, tc.n); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("size %d Primaries(%d, %d) = %v, want %v", tc.r.Size(), tc.p, tc.n, got, tc.want)
		}
	}
}

func TestTargetString(t *testing.T) {
	if got := (ring.Target{Partition: 3, Node: "a", Primary: true}).String(); got != "3@a" {
		t.Errorf("primary target = %q", got)
	}
	if got := (ring.Target{Partition: 3, Node: "b"}).String(); got != "3@b(fallback)" {
		t.Errorf("fallback target = %q", got)
	}
}

// upSet returns an up function for the given nodes.
func upSet(nodes ...ring.NodeID) func(ring.NodeID) bool {
	m := map[ring.NodeID]bool{}
	for _, n := range nodes {
		m[n] = true
	}
	return func(n ring.NodeID) bool { return m[n] }
}

func prim(p int, n ring.NodeID) ring.Target { return ring.Target{Partition: p, Node: n, Primary: true} }
func fb(p int, n ring.NodeID) ring.Target   { return ring.Target{Partition: p, Node: n} }

func TestPrefListSingleNode(t *testing.T) {
	r, _ := ring.New(64, "solo")
	for i := 0; i < 200; i++ {
		h := ring.KeyHash("default", "b", fmt.Sprint(i))
		first := r.Partition(h)
		for _, up := range []func(ring.NodeID) bool{nil, upSet("solo")} {
			for n := 0; n <= 5; n++ {
				got := ring.PrefList(r, h, n, up)
				if len(got) != n {
					t.Fatalf("key %d n=%d: %d targets", i, n, len(got))
				}
				seen := map[int]bool{}
				for j, tg := range got {
					if want := prim((first+j)%64, "solo"); tg != want {
						t.Fatalf("key %d n=%d: target %d = %v, want %v", i, n, j, tg, want)
					}
					if seen[tg.Partition] {
						t.Fatalf("key %d n=%d: partition %d twice", i, n, tg.Partition)
					}
					seen[tg.Partition] = true
				}
			}
		}
	}
	// Nothing up: empty list.
	if got := ring.PrefList(r, lastInRing(), 3, upSet()); len(got) != 0 {
		t.Errorf("no node up: %v", got)
	}
	// n beyond the ring is capped.
	small, _ := ring.New(4, "solo")
	if got := ring.PrefList(small, lastInRing(), 10, nil); !reflect.DeepEqual(got, []ring.Target{
		prim(0, "solo"), prim(1, "solo"), prim(2, "solo"), prim(3, "solo")}) {
		t.Errorf("n > size: %v", got)
	}
	// Riak's smallest_test: ring of 1, last_in_ring.
	one, _ := ring.New(1, "solo")
	if got := ring.PrefList(one, lastInRing(), 1, upSet("solo")); !reflect.DeepEqual(got, []ring.Target{prim(0, "solo")}) {
		t.Errorf("ring of one: %v", got)
	}
}

// fourNodeRing is riak_core_apl's perfect_ring(8, [a, b, c, d]).
func fourNodeRing(t *testing.T) *ring.Ring {
	t.Helper()
	r, err := ring.FromOwners([]ring.NodeID{"a", "b", "c", "d", "a", "b", "c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPrefListRiakFourNode mirrors riak_core_apl's four_node_test.
func TestPrefListRiakFourNode(t *testing.T) {
	r := fourNodeRing(t)
	h := lastInRing()
	cases := []struct {
		name string
		up   func(ring.NodeID) bool
		want []ring.Target
	}{
		{"all up", upSet("a", "b", "c", "d"), []ring.Target{prim(0, "a"), prim(1, "b"), prim(2, "c")}},
		{"up == nil", nil, []ring.Target{prim(0, "a"), prim(1, "b"), prim(2, "c")}},
		{"a down", upSet("b", "c", "d"), []ring.Target{prim(1, "b"), prim(2, "c"), fb(0, "d")}},
		// One node hosts two replicas.
		{"a, b down", upSet("c", "d"), []ring.Target{prim(2, "c"), fb(0, "d"), fb(1, "c")}},
		{"c, d down", upSet("a", "b"), []ring.Target{prim(0, "a"), prim(1, "b"), fb(2, "a")}},
	}
	for _, tc := range cases {
		got := ring.PrefList(r, h, 3, tc.up)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: PrefList = %v, want %v", tc.name, got, tc.want)
		}
	}
	// The partitions are riak's indices.
	if r.Index(1).String() != "182687704666362864775460604089535377456991567872" ||
		r.Index(2).String() != "365375409332725729550921208179070754913983135744" {
		t.Errorf("indices %s %s", r.Index(1), r.Index(2))
	}
}

func TestPrefListFallbacks(t *testing.T) {
	r := fourNodeRing(t)
	// A hash whose top 3 bits are 5 maps to partition 6: primaries 6, 7, 0
	// (wrapping), owned by c, d, a.
	h := hashOf(new(big.Int).Mul(big.NewInt(5), pow2(157)))
	if p := r.Partition(h); p != 6 {
		t.Fatalf("Partition = %d, want 6", p)
	}
	cases := []struct {
		name string
		n    int
		up   func(ring.NodeID) bool
		want []ring.Target
	}{
		{"all up, wraps", 3, nil, []ring.Target{prim(6, "c"), prim(7, "d"), prim(0, "a")}},
		// The fallback for 6 runs on the owner of the first up partition
		// past the first N (partition 1, b) and keeps partition 6.
		{"c down", 3, upSet("a", "b", "d"), []ring.Target{prim(7, "d"), prim(0, "a"), fb(6, "b")}},
		// Past N: partition 1 (b) is down, partition 2 (c) is up.
		{"b, d down", 3, upSet("a", "c"), []ring.Target{prim(6, "c"), prim(0, "a"), fb(7, "c")}},
		// Fallbacks in the order of the down primaries, each taking the
		// next up owner: 6 → partition 1's owner b, 0 → partition 3's
		// owner d (partition 2's owner c is down).
		{"c down, a down", 3, upSet("b", "d"), []ring.Target{prim(7, "d"), fb(6, "b"), fb(0, "d")}},
		// Too few up nodes: the list is shorter. Only a is up; after
		// partition 0 (a, primary) the walk past N finds a at 4 for 6 and
		// nothing more for 7.
		{"only a up", 3, upSet("a"), []ring.Target{prim(0, "a"), fb(6, "a")}},
		{"nobody up", 3, upSet(), []ring.Target{}},
		{"n=1 primary down", 1, upSet("a", "b", "d"), []ring.Target{fb(6, "d")}},
		{"n=0", 0, nil, []ring.Target{}},
	}
	for _, tc := range cases {
		got := ring.PrefList(r, h, tc.n, tc.up)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: PrefList(n=%d) = %v, want %v", tc.name, tc.n, got, tc.want)
		}
	}
}

// TestPrefListModel compares PrefList with a direct transcription of
// riak_core_apl:get_apl_ann on random rings, up sets, keys and N.
func TestPrefListModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	nodes := []ring.NodeID{"n1", "n2", "n3", "n4", "n5", "n6"}
	for iter := 0; iter < 3000; iter++ {
		size := 1 << rng.IntN(6) // 1..32
		owners := make([]ring.NodeID, size)
		for i := range owners {
			owners[i] = nodes[rng.IntN(len(nodes))]
		}
		r, err := ring.FromOwners(owners)
		if err != nil {
			t.Fatal(err)
		}
		upNodes := map[ring.NodeID]bool{}
		for _, n := range nodes {
			if rng.IntN(3) > 0 {
				upNodes[n] = true
			}
		}
		isUp := func(n ring.NodeID) bool { return upNodes[n] }
		h := ring.KeyHash("t", "b", fmt.Sprint(iter))
		n := rng.IntN(6)

		// Model: the whole ring from the responsible partition, split at
		// N; up primaries, then for each down primary the next up owner
		// among the rest (each candidate used at most once).
		first := riakPartition(h, size)
		var pref []int
		for i := 0; i < size; i++ {
			pref = append(pref, (first+i)%size)
		}
		nn := min(n, size)
		primaries, rest := pref[:nn], pref[nn:]
		want := []ring.Target{}
		var pangs []int
		for _, p := range primaries {
			if upNodes[owners[p]] {
				want = append(want, prim(p, owners[p]))
			} else {
				pangs = append(pangs, p)
			}
		}
		for len(pangs) > 0 && len(rest) > 0 {
			fn := owners[rest[0]]
			rest = rest[1:]
			if upNodes[fn] {
				want = append(want, fb(pangs[0], fn))
				pangs = pangs[1:]
			}
		}

		got := ring.PrefList(r, h, n, isUp)
		if got == nil {
			got = []ring.Target{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("owners %v up %v n %d first %d: PrefList = %v, want %v", owners, upNodes, n, first, got, want)
		}

		// Invariants: the primaries on up nodes come first, in ring order;
		// every node is up; fallbacks keep a down primary's partition; no
		// partition twice; at most n entries.
		if len(got) > nn {
			t.Fatalf("%d targets for n=%d", len(got), nn)
		}
		seen := map[int]bool{}
		inFallbacks := false
		for j, tg := range got {
			if !upNodes[tg.Node] {
				t.Fatalf("target %v on a down node", tg)
			}
			if seen[tg.Partition] {
				t.Fatalf("partition %d twice in %v", tg.Partition, got)
			}
			seen[tg.Partition] = true
			if tg.Primary {
				if inFallbacks {
					t.Fatalf("primary after a fallback in %v", got)
				}
				if tg.Node != owners[tg.Partition] {
					t.Fatalf("primary %v not on the owner %s", tg, owners[tg.Partition])
				}
				if j > 0 && got[j-1].Primary && (got[j-1].Partition-first+size)%size >= (tg.Partition-first+size)%size {
					t.Fatalf("primaries out of ring order in %v", got)
				}
			} else {
				inFallbacks = true
				if upNodes[owners[tg.Partition]] {
					t.Fatalf("fallback %v for a partition whose owner is up", tg)
				}
			}
		}
		// up == nil means everyone is up.
		if all := ring.PrefList(r, h, n, nil); !reflect.DeepEqual(all, ring.PrefList(r, h, n, func(ring.NodeID) bool { return true })) {
			t.Fatalf("up == nil differs from all up: %v", all)
		}
	}
}
