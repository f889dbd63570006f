package handoff

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/hashtree"
	"github.com/riakgo/riakgo/internal/testlog"
	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/ring"
)

// fakeAAE is an in-memory AAEVnodes: partition → home → key → value, its
// trees built from the maps on demand.
type fakeAAE struct {
	mu       sync.Mutex
	data     map[int]map[int]map[string]string
	unbuilt  map[int]bool
	shared   func(key []byte, home, p, q int) bool // nil: every key shared
	repair   func(key []byte) (int, error)
	repaired []string
	segCalls [][]int
	trees    [][2]int // Tree calls: (p, home)
	builds   []int
}

func newFakeAAE() *fakeAAE {
	return &fakeAAE{data: map[int]map[int]map[string]string{}, unbuilt: map[int]bool{}}
}

func (f *fakeAAE) set(p, home int, key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data[p] == nil {
		f.data[p] = map[int]map[string]string{}
	}
	if f.data[p][home] == nil {
		f.data[p][home] = map[string]string{}
	}
	f.data[p][home][key] = value
}

func (f *fakeAAE) del(p, home int, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.data[p][home], key)
}

func (f *fakeAAE) get(p, home int, key string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.data[p][home][key]
	return v, ok
}

func (f *fakeAAE) repairedKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.repaired)
}

func (f *fakeAAE) Tree(p, home int) ([]uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trees = append(f.trees, [2]int{p, home})
	if f.unbuilt[p] {
		return nil, false
	}
	var t hashtree.Tree
	for k, v := range f.data[p][home] {
		t.Insert([]byte(k), hashtree.Bytes([]byte(v)))
	}
	return t.Segments(), true
}

func (f *fakeAAE) SegmentKeys(ctx context.Context, p, home int, segs []int) ([]hashtree.KeyHashPair, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.segCalls = append(f.segCalls, slices.Clone(segs))
	in := map[int]bool{}
	for _, s := range segs {
		in[s] = true
	}
	var out []hashtree.KeyHashPair
	for k, v := range f.data[p][home] {
		if in[hashtree.Segment([]byte(k))] {
			out = append(out, hashtree.KeyHashPair{Key: []byte(k), Hash: hashtree.Bytes([]byte(v))})
		}
	}
	return out, nil
}

func (f *fakeAAE) Shared(key []byte, home, p, q int) bool {
	if f.shared == nil {
		return true
	}
	return f.shared(key, home, p, q)
}

func (f *fakeAAE) Repair(ctx context.Context, key []byte) (int, error) {
	f.mu.Lock()
	f.repaired = append(f.repaired, string(key))
	repair := f.repair
	f.mu.Unlock()
	if repair == nil {
		return 0, errors.New("no repair configured")
	}
	return repair(key)
}

func (f *fakeAAE) Unbuilt() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for p, u := range f.unbuilt {
		if u {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out
}

func (f *fakeAAE) Build(ctx context.Context, p int) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builds = append(f.builds, p)
	delete(f.unbuilt, p)
	return time.Second, nil
}

// aaePair is two exchangers, a and b, on a memnet network, and the pair
// the tests exchange: partition P on a with partition Q on b for home H.
type aaePair struct {
	t      *testing.T
	clk    *clock.Manual
	net    *memnet.Network
	a, b   *fakeAAE
	ea, eb *Exchanger
	epB    *memnet.Endpoint
	pair   Pair
}

const (
	aaeP, aaeQ, aaeHome = 0, 1, 0
)

func newAAEPair(t *testing.T, seed uint64, tweak func(c *AAEConfig)) *aaePair {
	t.Helper()
	x := &aaePair{t: t, clk: clock.NewManual(epoch), a: newFakeAAE(), b: newFakeAAE(),
		pair: Pair{P: aaeP, Q: aaeQ, Home: aaeHome, Peer: "b"}}
	x.net = memnet.New(memnet.Options{Seed: seed, Clock: x.clk, Logger: testlog.New(t)})
	mk := func(id ring.NodeID, vn *fakeAAE) (*Exchanger, *memnet.Endpoint) {
		ep := x.net.Endpoint(id)
		cfg := AAEConfig{Self: id, Transport: ep, Vnodes: vn, Clock: x.clk, Logger: testlog.New(t).With("node", id), Timeout: time.Hour}
		if tweak != nil {
			tweak(&cfg)
		}
		e, err := NewExchanger(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			e.Close()
			ep.Close()
		})
		return e, ep
	}
	x.ea, _ = mk("a", x.a)
	x.eb, x.epB = mk("b", x.b)
	// Read repair of the pair's key: the greater value wins and both
	// replicas get it; the object's size is returned.
	x.a.repair = func(key []byte) (int, error) {
		k := string(key)
		va, oka := x.a.get(aaeP, aaeHome, k)
		vb, okb := x.b.get(aaeQ, aaeHome, k)
		if !oka && !okb {
			return 0, fmt.Errorf("repair of %q: no replica has it", k)
		}
		w := max(va, vb)
		x.a.set(aaeP, aaeHome, k, w)
		x.b.set(aaeQ, aaeHome, k, w)
		return len(w), nil
	}
	return x
}

// load puts the same n keys, with random values of exactly size bytes, in
// both replicas of home h, and returns the keys.
func (x *aaePair) load(rnd *rand.Rand, h, n, size int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("h%d-key-%04d", h, i)
		v := randValue(rnd, size)
		x.a.set(aaeP, h, keys[i], v)
		x.b.set(aaeQ, h, keys[i], v)
	}
	return keys
}

func randValue(rnd *rand.Rand, size int) string {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte(rnd.IntN(26))
	}
	return string(b)
}

// inSync reports whether both replicas of the home hold the same data.
func (x *aaePair) inSync(h int) bool {
	x.a.mu.Lock()
	defer x.a.mu.Unlock()
	x.b.mu.Lock()
	defer x.b.mu.Unlock()
	da, db := x.a.data[aaeP][h], x.b.data[aaeQ][h]
	if len(da) != len(db) {
		return false
	}
	for k, v := range da {
		if w, ok := db[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func (x *aaePair) exchange() ExchangeResult {
	x.t.Helper()
	res, err := x.ea.Exchange(context.Background(), x.pair)
	if err != nil {
		x.t.Fatalf("Exchange: %v", err)
	}
	return res
}

func segmentsOf(keys []string) []int {
	set := map[int]bool{}
	for _, k := range keys {
		set[hashtree.Segment([]byte(k))] = true
	}
	out := make([]int, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Ints(out)
	return out
}

func sortedSet(keys []string) []string {
	out := slices.Clone(keys)
	sort.Strings(out)
	return slices.Compact(out)
}

// 8a. Exchange finds exactly the keys that differ and repairs the shared
// ones.
func TestExchangeFindsDifferences(t *testing.T) {
	seed := testSeed(t)
	tests := []struct {
		name                    string
		missing, changed, extra int // keys only on a, with different values, only on b
		unshared                int // of the differing keys, how many are not shared
		wantInSyncAfter         bool
	}{
		{name: "in sync", wantInSyncAfter: true},
		{name: "missing on peer", missing: 4, wantInSyncAfter: true},
		{name: "changed", changed: 4, wantInSyncAfter: true},
		{name: "extra on peer", extra: 4, wantInSyncAfter: true},
		{name: "missing, changed and extra", missing: 3, changed: 3, extra: 3, wantInSyncAfter: true},
		{name: "some not shared", missing: 3, changed: 3, extra: 3, unshared: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 10))
			x := newAAEPair(t, seed, nil)
			keys := x.load(rnd, aaeHome, 200, 30)
			// Another home, differing too: an exchange of home 0 must not see it.
			other := x.load(rnd, 7, 20, 30)
			x.b.set(aaeQ, 7, other[0], "different")

			perm := rnd.Perm(len(keys))
			var diff []string
			i := 0
			for range tc.missing {
				k := keys[perm[i]]
				i++
				x.b.del(aaeQ, aaeHome, k)
				diff = append(diff, k)
			}
			for range tc.changed {
				k := keys[perm[i]]
				i++
				x.b.set(aaeQ, aaeHome, k, randValue(rnd, 31))
				diff = append(diff, k)
			}
			for j := range tc.extra {
				k := fmt.Sprintf("extra-%d", j)
				x.b.set(aaeQ, aaeHome, k, randValue(rnd, 30))
				diff = append(diff, k)
			}
			unshared := map[string]bool{}
			for _, k := range diff[:tc.unshared] {
				unshared[k] = true
			}
			x.a.shared = func(key []byte, home, p, q int) bool {
				if home != aaeHome || p != aaeP || q != aaeQ {
					t.Errorf("Shared(%q, home %d, %d, %d), want home %d, %d, %d", key, home, p, q, aaeHome, aaeP, aaeQ)
				}
				return !unshared[string(key)]
			}
			var wantRepaired []string
			for _, k := range diff {
				if !unshared[k] {
					wantRepaired = append(wantRepaired, k)
				}
			}

			res := x.exchange()
			want := ExchangeResult{Segments: len(segmentsOf(diff)), Keys: len(wantRepaired), Repaired: len(wantRepaired)}
			if res != want {
				t.Errorf("result %+v, want %+v", res, want)
			}
			if got := sortedSet(x.a.repairedKeys()); !slices.Equal(got, sortedSet(wantRepaired)) || len(x.a.repairedKeys()) != len(wantRepaired) {
				t.Errorf("repaired %v, want each of %v once", x.a.repairedKeys(), sortedSet(wantRepaired))
			}
			if len(diff) == 0 && len(x.a.segCalls) != 0 {
				t.Errorf("SegmentKeys called %v on trees in sync", x.a.segCalls)
			}
			if len(diff) > 0 {
				if len(x.a.segCalls) != 1 || !slices.Equal(x.a.segCalls[0], segmentsOf(diff)) {
					t.Errorf("SegmentKeys segments %v, want %v", x.a.segCalls, segmentsOf(diff))
				}
			}
			st := x.ea.Status()
			if st.Exchanges != 1 || st.KeysRepaired != int64(len(wantRepaired)) || st.Failed != 0 {
				t.Errorf("status %+v", st)
			}
			if wantIn := int64(len(wantRepaired)) == 0; (st.InSync == 1) != wantIn || st.InSync > 1 {
				t.Errorf("in sync counted %d after one exchange, want in sync: %v", st.InSync, wantIn)
			}
			if st.LastExchange != epoch {
				t.Errorf("last exchange %v, want %v", st.LastExchange, epoch)
			}
			if x.b.repairedKeys() != nil {
				t.Errorf("the peer repaired %v", x.b.repairedKeys())
			}

			// A second exchange finds only what was not repaired.
			res = x.exchange()
			wantAfter := ExchangeResult{Segments: len(segmentsOf(diff[:tc.unshared]))}
			if res != wantAfter {
				t.Errorf("second exchange %+v, want %+v", res, wantAfter)
			}
			if x.inSync(aaeHome) != tc.wantInSyncAfter {
				t.Errorf("replicas in sync after repair: %v, want %v", x.inSync(aaeHome), tc.wantInSyncAfter)
			}
			for k := range unshared {
				va, oka := x.a.get(aaeP, aaeHome, k)
				vb, okb := x.b.get(aaeQ, aaeHome, k)
				if oka == okb && va == vb {
					t.Errorf("unshared key %q was repaired", k)
				}
			}
			// The second exchange repaired nothing: in sync, by its counters.
			wantIn := int64(1)
			if len(wantRepaired) == 0 {
				wantIn = 2
			}
			if st := x.ea.Status(); st.InSync != wantIn || st.Exchanges != 2 {
				t.Errorf("after the second exchange: %+v, want %d in sync", st, wantIn)
			}
		})
	}
}

// 8b. Exchanges that cannot compare are skipped or fail without repairs.
func TestExchangeSkippedAndFailed(t *testing.T) {
	seed := testSeed(t)
	tests := []struct {
		name    string
		setup   func(x *aaePair)
		wantErr bool
	}{
		{name: "local tree not built", setup: func(x *aaePair) { x.a.unbuilt[aaeP] = true }},
		{name: "peer tree not built", setup: func(x *aaePair) { x.b.unbuilt[aaeQ] = true }},
		{name: "peer down", setup: func(x *aaePair) { x.epB.Close() }, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 11))
			x := newAAEPair(t, seed, nil)
			x.load(rnd, aaeHome, 50, 10)
			x.b.set(aaeQ, aaeHome, "extra", "v")
			tc.setup(x)
			res, err := x.ea.Exchange(context.Background(), x.pair)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Exchange error %v, want error %v", err, tc.wantErr)
			}
			if res != (ExchangeResult{}) || len(x.a.repairedKeys()) != 0 {
				t.Errorf("result %+v, repaired %v; want nothing", res, x.a.repairedKeys())
			}
			st := x.ea.Status()
			wantFailed := int64(0)
			if tc.wantErr {
				wantFailed = 1
			}
			if st.Exchanges != 1 || st.Failed != wantFailed || st.InSync != 0 {
				t.Errorf("status %+v, want 1 exchange, %d failed, 0 in sync", st, wantFailed)
			}
		})
	}
}

// 8c. MaxSegments bounds the segments compared key by key; the rest is
// found by the next exchanges.
func TestExchangeMaxSegments(t *testing.T) {
	seed := testSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 12))
	const maxSegs = 3
	x := newAAEPair(t, seed, func(c *AAEConfig) { c.MaxSegments = maxSegs })
	keys := x.load(rnd, aaeHome, 300, 20)
	// Change 10 keys in 10 distinct segments.
	var diff []string
	used := map[int]bool{}
	for _, i := range rnd.Perm(len(keys)) {
		s := hashtree.Segment([]byte(keys[i]))
		if used[s] {
			continue
		}
		used[s] = true
		diff = append(diff, keys[i])
		x.b.set(aaeQ, aaeHome, keys[i], randValue(rnd, 21))
		if len(diff) == 10 {
			break
		}
	}
	var mu sync.Mutex
	var peerSegs [][]int
	x.net.Hook(func(env transport.Envelope) memnet.Verdict {
		if env.Type == wire.MsgAAEKeys && !env.IsResponse() {
			var req keysReq
			if err := env.Decode(&req); err != nil {
				t.Errorf("decode keys request: %v", err)
			}
			mu.Lock()
			peerSegs = append(peerSegs, req.Segments)
			mu.Unlock()
		}
		return memnet.Deliver
	})
	repaired := map[string]bool{}
	for round := 0; len(repaired) < len(diff); round++ {
		if round > 5 {
			t.Fatalf("after %d exchanges only %d of %d keys repaired", round, len(repaired), len(diff))
		}
		var left []string
		for _, k := range diff {
			if !repaired[k] {
				left = append(left, k)
			}
		}
		segs := segmentsOf(left)
		before := len(x.a.repairedKeys())
		res := x.exchange()
		if want := (ExchangeResult{Segments: len(segs), Keys: min(maxSegs, len(segs)), Repaired: min(maxSegs, len(segs))}); res != want {
			t.Errorf("round %d: %+v, want %+v", round, res, want)
		}
		mu.Lock()
		asked := peerSegs[len(peerSegs)-1]
		mu.Unlock()
		// A window of MaxSegments differing segments (rotating from one
		// exchange to the next), the same asked of both sides.
		if len(asked) != min(maxSegs, len(segs)) || !slices.Equal(x.a.segCalls[len(x.a.segCalls)-1], asked) {
			t.Errorf("round %d: segments asked of the peer %v and locally %v, want %d of %v", round, asked, x.a.segCalls[len(x.a.segCalls)-1], maxSegs, segs)
		}
		for _, sg := range asked {
			if !slices.Contains(segs, sg) {
				t.Errorf("round %d: asked segment %d, which does not differ", round, sg)
			}
		}
		for _, k := range x.a.repairedKeys()[before:] {
			if !slices.Contains(asked, hashtree.Segment([]byte(k))) {
				t.Errorf("round %d: repaired %q of segment %d, outside the window %v", round, k, hashtree.Segment([]byte(k)), asked)
			}
			repaired[k] = true
		}
	}
	if res := x.exchange(); res != (ExchangeResult{}) || !x.inSync(aaeHome) {
		t.Errorf("final exchange %+v, replicas in sync %v", res, x.inSync(aaeHome))
	}
}

// 8d. The repair byte budget: only part is repaired at once, the rest on
// later exchanges as the clock refills the budget.
func TestExchangeRepairBudget(t *testing.T) {
	seed := testSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 13))
	const (
		rate    = 100 // bytes per second
		objSize = 40
		nDiff   = 10
	)
	x := newAAEPair(t, seed, func(c *AAEConfig) { c.RepairBytesPerSecond = rate })
	keys := x.load(rnd, aaeHome, 100, objSize)
	for _, i := range rnd.Perm(len(keys))[:nDiff] {
		x.b.set(aaeQ, aaeHome, keys[i], randValue(rnd, objSize))
	}
	total := 0
	// Within one instant at most the budget plus one object (the size of
	// an object is known only once it is read).
	for i := range 3 {
		res := x.exchange()
		total += res.Repaired
		if res.Keys != nDiff-(total-res.Repaired) {
			t.Errorf("exchange %d at t=0: %d differing keys, want %d", i, res.Keys, nDiff-(total-res.Repaired))
		}
		if i == 0 && res.Repaired == 0 {
			t.Fatal("nothing repaired with a full budget")
		}
	}
	if total*objSize > rate+objSize || total >= nDiff {
		t.Fatalf("repaired %d objects of %d bytes at one instant with a budget of %d bytes/s", total, objSize, rate)
	}
	// Each second refills the budget.
	for sec := 1; total < nDiff; sec++ {
		if sec > 10 {
			t.Fatalf("after %d s only %d of %d keys repaired", sec, total, nDiff)
		}
		x.clk.Advance(time.Second)
		res := x.exchange()
		if res.Repaired == 0 {
			t.Errorf("t=%ds: nothing repaired after the budget refilled (%+v)", sec, res)
		}
		total += res.Repaired
		if total*objSize > rate*(sec+1)+objSize {
			t.Errorf("t=%ds: %d bytes repaired, over the budget of %d", sec, total*objSize, rate*(sec+1)+objSize)
		}
	}
	if total != nDiff || !x.inSync(aaeHome) {
		t.Errorf("repaired %d of %d, in sync %v", total, nDiff, x.inSync(aaeHome))
	}
	if st := x.ea.Status(); st.KeysRepaired != nDiff {
		t.Errorf("status keys repaired %d, want %d", st.KeysRepaired, nDiff)
	}
}

// 8e. Schedule pairs each owned partition with its neighbour when that is
// on another node that is up and neither has a pending transfer.
func TestSchedule(t *testing.T) {
	// Partitions 0..7; a owns 0, 2, 3, 5, 7.
	owners := []ring.NodeID{"a", "b", "a", "a", "c", "a", "b", "a"}
	r, err := ring.FromOwners(owners)
	if err != nil {
		t.Fatal(err)
	}
	// n_val 3: every pair of a home's three partitions on different nodes,
	// from the partition nearer the home.
	all := []Pair{
		{P: 0, Q: 1, Home: 0, Peer: "b"}, {P: 0, Q: 1, Home: 7, Peer: "b"},
		{P: 2, Q: 4, Home: 2, Peer: "c"},
		{P: 3, Q: 4, Home: 3, Peer: "c"}, {P: 3, Q: 4, Home: 2, Peer: "c"},
		{P: 5, Q: 6, Home: 5, Peer: "b"}, {P: 5, Q: 6, Home: 4, Peer: "b"},
		{P: 7, Q: 1, Home: 7, Peer: "b"},
	}
	without := func(drop func(Pair) bool) []Pair {
		var out []Pair
		for _, p := range all {
			if !drop(p) {
				out = append(out, p)
			}
		}
		return out
	}
	tests := []struct {
		name      string
		owners    []ring.NodeID
		nval      int
		transfers []ring.Transfer
		up        func(ring.NodeID) bool
		want      []Pair
	}{
		{name: "all up", nval: 3, want: all},
		{name: "nil up means all up", nval: 3, up: nil, want: all},
		{name: "n_val 2", nval: 2, want: []Pair{
			{P: 0, Q: 1, Home: 0, Peer: "b"}, {P: 3, Q: 4, Home: 3, Peer: "c"}, {P: 5, Q: 6, Home: 5, Peer: "b"},
		}},
		{name: "b down", nval: 3, up: func(n ring.NodeID) bool { return n != "b" }, want: without(func(p Pair) bool { return p.Peer == "b" })},
		{name: "everyone else down", nval: 3, up: func(n ring.NodeID) bool { return n == "a" }},
		{name: "own partition moving", nval: 3, transfers: []ring.Transfer{{Partition: 3, From: "a", To: "b"}},
			want: without(func(p Pair) bool { return p.P == 3 })},
		{name: "peer partition moving", nval: 3, transfers: []ring.Transfer{{Partition: 6, From: "b", To: "c"}},
			want: without(func(p Pair) bool { return p.Q == 6 })},
		{name: "wrap around", nval: 3, owners: []ring.NodeID{"b", "b", "b", "b", "b", "b", "b", "a"}, want: []Pair{
			{P: 7, Q: 0, Home: 7, Peer: "b"}, {P: 7, Q: 1, Home: 7, Peer: "b"}, {P: 7, Q: 0, Home: 6, Peer: "b"},
		}},
		{name: "owns nothing", nval: 3, owners: []ring.NodeID{"b", "c", "b", "c", "b", "c", "b", "c"}},
		{name: "owns everything", nval: 3, owners: []ring.NodeID{"a", "a", "a", "a", "a", "a", "a", "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr := r
			if tc.owners != nil {
				var err error
				if rr, err = ring.FromOwners(tc.owners); err != nil {
					t.Fatal(err)
				}
			}
			clk := clock.NewManual(epoch)
			net := memnet.New(memnet.Options{Clock: clk})
			ep := net.Endpoint("a")
			defer ep.Close()
			e, err := NewExchanger(AAEConfig{Self: "a", Transport: ep, Vnodes: newFakeAAE(), Clock: clk, NVal: tc.nval})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			up := tc.up
			if up == nil && tc.name != "nil up means all up" {
				up = func(ring.NodeID) bool { return true }
			}
			got := e.Schedule(rr, tc.transfers, up)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Schedule\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// Over random rings, the schedules of all nodes together compare every
// pair of a home's replicas that are on different nodes exactly once, and
// nothing else: a node that lost its data is compared with every other
// replica of each of its keys, even where a preference list has two
// partitions on one node.
func TestScheduleCoversEveryCrossNodePair(t *testing.T) {
	seed := testSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 21))
	for trial := range 200 {
		size := 1 << (1 + rnd.IntN(6))
		nodes := 1 + rnd.IntN(5)
		nval := 1 + rnd.IntN(4)
		owners := make([]ring.NodeID, size)
		for p := range owners {
			owners[p] = ring.NodeID(fmt.Sprintf("n%d", rnd.IntN(nodes)))
		}
		r, err := ring.FromOwners(owners)
		if err != nil {
			t.Fatal(err)
		}
		type key struct{ p, q, h int }
		got := map[key]int{}
		for i := range nodes {
			self := ring.NodeID(fmt.Sprintf("n%d", i))
			e := &Exchanger{cfg: AAEConfig{Self: self, NVal: nval}}
			for _, pr := range e.Schedule(r, nil, nil) {
				if owners[pr.P] != self || owners[pr.Q] != pr.Peer || pr.Peer == self {
					t.Fatalf("trial %d: bad pair %+v for %s on %v", trial, pr, self, owners)
				}
				got[key{pr.P, pr.Q, pr.Home}]++
			}
		}
		want := map[key]int{}
		n := min(nval, size)
		for h := range size {
			for d := 0; d < n; d++ {
				for f := d + 1; f < n; f++ {
					p, q := (h+d)%size, (h+f)%size
					if owners[p] != owners[q] {
						want[key{p, q, h}] = 1
					}
				}
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("trial %d (size %d, n_val %d, owners %v):\n got %v\nwant %v", trial, size, nval, owners, got, want)
		}
	}
}

// Step builds unbuilt trees in the background and runs one exchange per
// interval, round robin over the schedule.
func TestStep(t *testing.T) {
	seed := testSeed(t)
	const interval = 15 * time.Second
	x := newAAEPair(t, seed, func(c *AAEConfig) { c.Interval = interval })
	x.a.unbuilt[5] = true
	r, err := ring.FromOwners([]ring.NodeID{"a", "b", "a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	sched := x.ea.Schedule(r, nil, nil)
	if len(sched) != 4 {
		t.Fatalf("schedule %v, want 4 pairs", sched)
	}
	treeCalls := func() [][2]int {
		x.a.mu.Lock()
		defer x.a.mu.Unlock()
		return slices.Clone(x.a.trees)
	}
	idle := func() bool {
		x.ea.mu.Lock()
		defer x.ea.mu.Unlock()
		return !x.ea.busy && !x.ea.building
	}
	for i := range 6 {
		want := sched[i%len(sched)]
		x.ea.Step(r, nil, nil)
		testwait.For(t, waitLimit, fmt.Sprintf("exchange %d", i+1), func() bool { return x.ea.Status().Exchanges == int64(i+1) && idle() })
		calls := treeCalls()
		if last := calls[len(calls)-1]; last != [2]int{want.P, want.Home} {
			t.Errorf("exchange %d compared partition %d home %d, want %+v", i+1, last[0], last[1], want)
		}
		// Within the interval Step starts nothing.
		x.clk.Advance(interval - time.Second)
		x.ea.Step(r, nil, nil)
		if !idle() {
			t.Fatalf("Step started work %v after the last exchange", interval-time.Second)
		}
		x.clk.Advance(time.Second)
	}
	if st := x.ea.Status(); st.TreesBuilt != 1 || st.InSync != 6 || st.Failed != 0 {
		t.Errorf("status %+v, want 1 tree built, 6 exchanges in sync", st)
	}
	x.a.mu.Lock()
	builds := slices.Clone(x.a.builds)
	x.a.mu.Unlock()
	if !slices.Equal(builds, []int{5}) {
		t.Errorf("builds %v, want [5]", builds)
	}
}

// Segments that differ for good (keys of a bucket with a smaller n_val,
// which the two partitions do not share) do not starve the others: the
// MaxSegments window rotates.
func TestExchangeMaxSegmentsNoStarvation(t *testing.T) {
	seed := testSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 14))
	const maxSegs = 2
	x := newAAEPair(t, seed, func(c *AAEConfig) { c.MaxSegments = maxSegs })
	x.load(rnd, aaeHome, 100, 20)
	unshared := map[string]bool{}
	for i := 0; len(unshared) < maxSegs; i++ {
		k := fmt.Sprintf("nval1-%d", i)
		if hashtree.Segment([]byte(k)) < 200 {
			unshared[k] = true
			x.a.set(aaeP, aaeHome, k, "v")
		}
	}
	x.a.shared = func(key []byte, home, p, q int) bool { return !unshared[string(key)] }
	var k string
	for i := 0; ; i++ {
		k = fmt.Sprintf("shared-%d", i)
		if hashtree.Segment([]byte(k)) > 600 {
			break
		}
	}
	x.a.set(aaeP, aaeHome, k, "new")
	x.b.set(aaeQ, aaeHome, k, "old")
	for round := range 5 {
		res := x.exchange()
		t.Logf("exchange %d: %+v", round, res)
		va, _ := x.a.get(aaeP, aaeHome, k)
		vb, _ := x.b.get(aaeQ, aaeHome, k)
		if res.Repaired > 0 && va == vb {
			return // compared and repaired
		}
		x.clk.Advance(15 * time.Second)
	}
	t.Errorf("after 5 exchanges the differing shared key %q (segment %d) was never compared (MaxSegments %d)",
		k, hashtree.Segment([]byte(k)), maxSegs)
}

// Every repair is charged to the byte budget, also one that ends while a
// concurrent exchange has overdrawn it.
func TestExchangeRepairBudgetChargedConcurrently(t *testing.T) {
	seed := testSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 15))
	const rate, objSize = 100, 40
	x := newAAEPair(t, seed, func(c *AAEConfig) { c.RepairBytesPerSecond = rate })
	const home2 = 7
	keys1 := x.load(rnd, aaeHome, 20, objSize)
	keys2 := x.load(rnd, home2, 20, objSize)
	x.b.set(aaeQ, aaeHome, keys1[0], randValue(rnd, objSize))
	for _, k := range keys2[:4] {
		x.b.set(aaeQ, home2, k, randValue(rnd, objSize))
	}
	entered, release := make(chan struct{}), make(chan struct{})
	x.a.repair = func(key []byte) (int, error) {
		h := aaeHome
		if string(key) != keys1[0] {
			h = home2
		} else {
			close(entered)
			<-release
		}
		va, _ := x.a.get(aaeP, h, string(key))
		vb, _ := x.b.get(aaeQ, h, string(key))
		w := max(va, vb)
		x.a.set(aaeP, h, string(key), w)
		x.b.set(aaeQ, h, string(key), w)
		return len(w), nil
	}
	done := make(chan ExchangeResult)
	go func() {
		res, _ := x.ea.Exchange(context.Background(), x.pair)
		done <- res
	}()
	<-entered
	res2, err := x.ea.Exchange(context.Background(), Pair{P: aaeP, Q: aaeQ, Home: home2, Peer: "b"})
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	res1 := <-done
	repaired := res1.Repaired + res2.Repaired
	x.ea.mu.Lock()
	budget := x.ea.budget
	x.ea.mu.Unlock()
	if want := float64(rate - repaired*objSize); budget != want {
		t.Errorf("%d objects of %d bytes repaired from a full budget of %d: budget left %v, want %v (a repair was not charged)",
			repaired, objSize, rate, budget, want)
	}
}
