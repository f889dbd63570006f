package testcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riakgo/riakgo/handoff"
	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
)

// Coverage queries on five and seven nodes with n_val 3, where no node
// holds a replica of every key: key and bucket listing and every form of
// 2i through every node answer for the whole cluster, pages continue
// through any node, one node down changes nothing, too many down is
// Riak's insufficient_vnodes_available and never a partial answer, and
// joins and leaves (ownership moving under the queries) lose nothing.

const covKeys = 1000

func covKey(i int) string { return fmt.Sprintf("k%04d", i) }

// writeIndexed writes covKeys keys to bucket idx, each with the index
// entries grp_bin g<i mod 10>, n_int i, all_bin x and name_bin name-<i>,
// at W=all through every node in turn, and a few keys to bucket side.
func writeIndexed(t *testing.T, c *Cluster) {
	t.Helper()
	for i := range covKeys {
		meta := siblings.Meta{ContentType: "text/plain", Indexes: []siblings.IndexEntry{
			{Field: "grp_bin", Value: fmt.Sprintf("g%d", i%10)},
			{Field: "n_int", Value: strconv.Itoa(i)},
			{Field: "all_bin", Value: "x"},
			{Field: "name_bin", Value: fmt.Sprintf("name-%04d", i)},
		}}
		if _, err := c.Client(i%len(c.Nodes)).Put(bg, key("idx", covKey(i)), []byte("v"), meta, nil, kv.Options{W: quorum.ValAll}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	for i := range 5 {
		if err := put(t, c.Client(i%len(c.Nodes)), key("side", fmt.Sprint(i)), "v", kv.Options{W: quorum.ValAll}); err != nil {
			t.Fatal(err)
		}
	}
}

// runQuery collects a query's results and continuation.
func runQuery(s *kv.Service, q kv.IndexQuery) ([]kv.IndexResult, string, error) {
	var out []kv.IndexResult
	cont, err := s.Query(bg, q, func(r []kv.IndexResult) error {
		out = append(out, r...)
		return nil
	})
	return out, cont, err
}

// wantResults compares results with the keys picked by pick, in key order
// (term order equals key order for every query below), with terms made by
// term.
func wantResults(what string, got []kv.IndexResult, pick func(i int) bool, term func(i int) string) error {
	var want []kv.IndexResult
	for i := range covKeys {
		if pick(i) {
			want = append(want, kv.IndexResult{Term: term(i), Key: covKey(i)})
		}
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s: %d results, want %d (first got %v, first want %v)", what, len(got), len(want), got[:min(len(got), 3)], want[:min(len(want), 3)])
	}
	return nil
}

func idxQuery(field, start, end string) kv.IndexQuery {
	return kv.IndexQuery{Type: kv.DefaultType, Bucket: "idx", Field: field, Start: start, End: end, Range: start != end}
}

// checkCoverage runs every kind of coverage query through node i and
// reports the first wrong answer.
func checkCoverage(c *Cluster, i int) error {
	s := c.Client(i)
	seen := map[string]int{}
	if err := s.ListKeys(bg, kv.DefaultType, "idx", func(keys []string) error {
		for _, k := range keys {
			seen[k]++
		}
		return nil
	}); err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	for j := range covKeys {
		if seen[covKey(j)] != 1 {
			return fmt.Errorf("list keys: %s listed %d times (%d distinct keys)", covKey(j), seen[covKey(j)], len(seen))
		}
	}
	if len(seen) != covKeys {
		return fmt.Errorf("list keys: %d distinct keys, want %d", len(seen), covKeys)
	}
	var buckets []string
	if err := s.ListBuckets(bg, kv.DefaultType, func(b []string) error { buckets = append(buckets, b...); return nil }); err != nil {
		return fmt.Errorf("list buckets: %w", err)
	}
	if !slices.Equal(buckets, []string{"idx", "side"}) && !slices.Equal(buckets, []string{"fill", "idx", "side"}) {
		return fmt.Errorf("list buckets: %q", buckets)
	}
	self := func(j int) string { return covKey(j) }
	regexQ := idxQuery("name_bin", "name-0000", "name-9999")
	regexQ.TermRegex = regexp.MustCompile(`5$`)
	for _, tc := range []struct {
		what string
		q    kv.IndexQuery
		pick func(int) bool
		term func(int) string
	}{
		{"exact grp_bin g3", idxQuery("grp_bin", "g3", "g3"), func(j int) bool { return j%10 == 3 }, func(int) string { return "g3" }},
		{"range n_int 100-299", idxQuery("n_int", "100", "299"), func(j int) bool { return j >= 100 && j <= 299 }, strconv.Itoa},
		{"$bucket", idxQuery("$bucket", "_", "_"), func(int) bool { return true }, self},
		{"$key k0100-k0199", idxQuery("$key", "k0100", "k0199"), func(j int) bool { return j >= 100 && j <= 199 }, self},
		{"term_regex 5$", regexQ, func(j int) bool { return j%10 == 5 }, func(j int) string { return fmt.Sprintf("name-%04d", j) }},
	} {
		res, cont, err := runQuery(s, tc.q)
		if err != nil {
			return fmt.Errorf("%s: %w", tc.what, err)
		}
		if cont != "" {
			return fmt.Errorf("%s: continuation %q without max_results", tc.what, cont)
		}
		if err := wantResults(tc.what, res, tc.pick, tc.term); err != nil {
			return err
		}
	}
	return nil
}

// paginate runs q in pages of size, page k through nodes[k mod len].
func paginate(c *Cluster, nodes []int, q kv.IndexQuery, size int) ([]kv.IndexResult, error) {
	q.MaxResults = size
	var all []kv.IndexResult
	for page := 0; ; page++ {
		if page > 10*covKeys/size+10 {
			return nil, fmt.Errorf("pagination does not end")
		}
		node := nodes[page%len(nodes)]
		res, cont, err := runQuery(c.Client(node), q)
		if err != nil {
			return nil, fmt.Errorf("page %d through node %d: %w", page, node+1, err)
		}
		if len(res) > size {
			return nil, fmt.Errorf("page %d through node %d: %d results", page, node+1, len(res))
		}
		all = append(all, res...)
		if cont == "" {
			return all, nil
		}
		q.Continuation = cont
	}
}

// checkPagination pages all_bin=x (every key) and n_int 0-999 in pages of
// 100 through the nodes in turn, starting at each: each key once, in order.
func checkPagination(c *Cluster, nodes []int) error {
	for start := range nodes {
		order := append(slices.Clone(nodes[start:]), nodes[:start]...)
		got, err := paginate(c, order, idxQuery("all_bin", "x", "x"), 100)
		if err != nil {
			return err
		}
		if err := wantResults(fmt.Sprintf("all_bin pages from node %d", order[0]+1), got, func(int) bool { return true }, func(int) string { return "x" }); err != nil {
			return err
		}
		q := idxQuery("n_int", "0", "999")
		q.ReturnTerms = true
		if got, err = paginate(c, order, q, 100); err != nil {
			return err
		}
		if err := wantResults("n_int pages", got, func(int) bool { return true }, strconv.Itoa); err != nil {
			return err
		}
	}
	return nil
}

// coverable reports whether the live nodes hold a replica of every home
// partition of the cluster's ring at n_val 3.
func coverable(c *Cluster) bool {
	live := map[ring.NodeID]bool{}
	for _, i := range liveNodes(c) {
		live[c.Nodes[i].ID] = true
	}
	_, err := ring.Coverage(c.Ring, 3, func(id ring.NodeID) bool { return live[id] }, 0)
	return err == nil
}

func liveNodes(c *Cluster) []int {
	var out []int
	for i, nd := range c.Nodes {
		if c.isAlive(nd) {
			out = append(out, i)
		}
	}
	return out
}

// checkFails checks that every coverage query through every live node
// fails with ErrInsufficientVnodes, having emitted nothing.
func checkFails(t *testing.T, c *Cluster, when string) {
	t.Helper()
	for _, i := range liveNodes(c) {
		s := c.Client(i)
		emitted := 0
		err := s.ListKeys(bg, kv.DefaultType, "idx", func(k []string) error { emitted += len(k); return nil })
		if !errors.Is(err, kv.ErrInsufficientVnodes) || emitted > 0 {
			t.Fatalf("%s: list keys through node %d: %v after %d keys; want ErrInsufficientVnodes and nothing", when, i+1, err, emitted)
		}
		if err := s.ListBuckets(bg, kv.DefaultType, func([]string) error { emitted++; return nil }); !errors.Is(err, kv.ErrInsufficientVnodes) || emitted > 0 {
			t.Fatalf("%s: list buckets through node %d: %v", when, i+1, err)
		}
		for _, q := range []kv.IndexQuery{idxQuery("grp_bin", "g1", "g1"), idxQuery("$bucket", "_", "_"), idxQuery("$key", "k0001", "k0100"), idxQuery("n_int", "1", "5")} {
			q.MaxResults = 10
			res, cont, err := runQuery(s, q)
			if !errors.Is(err, kv.ErrInsufficientVnodes) || len(res) > 0 || cont != "" {
				t.Fatalf("%s: %s through node %d: %d results, %q, %v", when, q.Field, i+1, len(res), cont, err)
			}
		}
	}
}

func TestCoverageQueriesThroughEveryNode(t *testing.T) {
	for _, n := range []int{5, 7} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			c := New(t, n, Options{RingSize: 64})
			writeIndexed(t, c)
			check := func(when string) {
				t.Helper()
				live := liveNodes(c)
				for _, i := range live {
					if err := checkCoverage(c, i); err != nil {
						t.Fatalf("%s, through node %d: %v", when, i+1, err)
					}
				}
				if err := checkPagination(c, live); err != nil {
					t.Fatalf("%s: %v", when, err)
				}
			}
			check("all up")

			// Claim puts any 4 consecutive partitions on distinct nodes, so
			// n_val 3 covers without any one node (and any two).
			c.Kill(n - 1)
			if !coverable(c) {
				t.Fatal("the claimed ring leaves a partition without a replica when one node is down")
			}
			check("one node down")

			// Then the owners of partitions 0, 1 and 2 go down one by one:
			// queries answer completely while the up nodes hold a replica
			// of every partition, and fail once they do not (home
			// partition 0 has no replica up at the end), never partially.
			var killed []int
			for p := range 3 {
				i := nodeIndex(c, c.Ring.Owner(p))
				if !c.isAlive(c.Nodes[i]) {
					continue
				}
				c.Kill(i)
				killed = append(killed, i)
				when := fmt.Sprintf("owners of partitions 0-%d down too", p)
				if coverable(c) {
					check(when)
				} else {
					checkFails(t, c, when)
				}
			}
			if coverable(c) {
				t.Fatal("home partition 0 still has a replica up")
			}
			for _, i := range killed {
				c.Restart(i)
			}
			check("back but one")
		})
	}
}

// A planned vnode that does not answer fails the query (after the
// request's timeout) instead of leaving its keys out.
func TestCoverageVnodeFailureIsAnError(t *testing.T) {
	c := New(t, 5, Options{RingSize: 64})
	writeIndexed(t, c)
	silent := c.Nodes[2].ID
	c.Net.Hook(func(e transport.Envelope) memnet.Verdict {
		if e.Type == wire.MsgKVCoverage && e.To == silent && !e.IsResponse() {
			return memnet.Drop
		}
		return memnet.Deliver
	})
	defer c.Net.Hook(nil)
	type result struct {
		n   int
		err error
	}
	for name, run := range map[string]func() result{
		"2i": func() result {
			res, _, err := runQuery(c.Client(0), idxQuery("all_bin", "x", "x"))
			return result{len(res), err}
		},
		"list buckets": func() result {
			n := 0
			err := c.Client(0).ListBuckets(bg, kv.DefaultType, func(b []string) error { n += len(b); return nil })
			return result{n, err}
		},
	} {
		done := make(chan result, 1)
		go func() { done <- run() }()
		var r result
		for waited := 0; ; waited++ {
			_ = c.Quiesce()
			select {
			case r = <-done:
			default:
				if waited == 30 {
					t.Fatalf("%s has not failed after 30 s of the clock", name)
				}
				c.Clock.Advance(time.Second)
				continue
			}
			break
		}
		if !errors.Is(r.err, kv.ErrInsufficientVnodes) || r.n > 0 {
			t.Fatalf("%s with node 3 silent: %d results, %v; want ErrInsufficientVnodes and nothing", name, r.n, r.err)
		}
	}
}

// A vnode in the middle of an ownership transfer: the keys written during
// the fold are only on the old owner, those written after the switch only
// on the new one. Coverage through every node still sees both, while the
// old vnode forwards, after it dropped the partition, and through a node
// whose ring is behind after the ring moved.
func TestCoverageAcrossAForwardingVnode(t *testing.T) {
	c := New(t, 5, Options{RingSize: 64})
	const p = 10
	a, b := nodeIndex(c, c.Ring.Owner(p)), nodeIndex(c, c.Ring.Owner(p+3))
	if owners := map[ring.NodeID]bool{c.Ring.Owner(p): true, c.Ring.Owner(p + 1): true, c.Ring.Owner(p + 2): true, c.Ring.Owner(p + 3): true}; len(owners) != 4 {
		t.Fatalf("partitions %d-%d are not on 4 nodes: %v", p, p+3, c.Ring.Owners()[p:p+4])
	}
	home := func(k string) int { return c.Ring.Partition(ring.KeyHash(kv.DefaultType, "fw", k)) }
	var keys []string
	write := func(prefix string, n int) {
		for i := range n {
			k := fmt.Sprintf("%s%03d", prefix, i)
			if err := put(t, c.Client(i%5), key("fw", k), "v", kv.Options{W: quorum.ValAll}); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
	}
	write("before", 200)
	// The fold: what a's vnode holds now goes to b.
	if err := c.Nodes[a].Svc.Vnodes().Starting(handoff.Job{Partition: p, Kind: handoff.Ownership, To: c.Nodes[b].ID}); err != nil {
		t.Fatal(err)
	}
	var items []handoff.Item
	if err := c.Nodes[a].Svc.Vnodes().Fold(bg, p, nil, func(k, v []byte) error {
		items = append(items, handoff.Item{Key: slices.Clone(k), Value: slices.Clone(v)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Nodes[b].Svc.Vnodes().Receive(p, items); err != nil {
		t.Fatal(err)
	}
	write("during", 200) // tracked on a, not on b
	dirty, err := c.Nodes[a].Svc.Vnodes().Folded(handoff.Job{Partition: p, Kind: handoff.Ownership, To: c.Nodes[b].ID})
	if err != nil {
		t.Fatal(err)
	}
	write("after", 200) // a forwards them to b
	held := 0
	for _, k := range keys {
		if h := home(k); h == p {
			held++
		}
	}
	if held == 0 || len(dirty) == 0 {
		t.Fatalf("the test needs keys of home partition %d (%d) and dirty keys (%d)", p, held, len(dirty))
	}
	// Home partition p is on vnodes p, p+1 and p+2: with the owners of
	// p+1 and p+2 down, only vnode p (a, forwarding to b) answers for it.
	for _, q := range []int{p + 1, p + 2} {
		c.Kill(nodeIndex(c, c.Ring.Owner(q)))
	}
	checkAll := func(when string, through []int) {
		t.Helper()
		for _, i := range through {
			seen := map[string]int{}
			if err := c.Client(i).ListKeys(bg, kv.DefaultType, "fw", func(ks []string) error {
				for _, k := range ks {
					seen[k]++
				}
				return nil
			}); err != nil {
				t.Fatalf("%s: list keys through node %d: %v", when, i+1, err)
			}
			res, _, err := runQuery(c.Client(i), kv.IndexQuery{Type: kv.DefaultType, Bucket: "fw", Field: "$bucket", Start: "_", End: "_"})
			if err != nil {
				t.Fatalf("%s: $bucket through node %d: %v", when, i+1, err)
			}
			var got []string
			for _, r := range res {
				got = append(got, r.Key)
			}
			want := slices.Sorted(slices.Values(keys))
			if !slices.Equal(got, want) {
				t.Fatalf("%s: $bucket through node %d: %d keys, want %d", when, i+1, len(got), len(want))
			}
			for _, k := range keys {
				if seen[k] != 1 {
					t.Fatalf("%s: list keys through node %d: %s seen %d times", when, i+1, k, seen[k])
				}
			}
		}
	}
	checkAll("forwarding", liveNodes(c))

	// The dirty keys reach b, a drops the partition and forwards.
	if err := c.Nodes[b].Svc.Vnodes().Receive(p, dirty); err != nil {
		t.Fatal(err)
	}
	if err := c.Nodes[a].Svc.Vnodes().Drop(p); err != nil {
		t.Fatal(err)
	}
	checkAll("dropped", liveNodes(c))

	// The ring moves p to b; one node has not heard yet and still plans
	// p on a, which forwards by its own ring.
	owners := c.Ring.Owners()
	owners[p] = c.Nodes[b].ID
	moved, err := ring.FromOwners(owners)
	if err != nil {
		t.Fatal(err)
	}
	live := liveNodes(c)
	behind := live[0]
	if behind == a {
		behind = live[1]
	}
	for _, i := range live {
		if i != behind {
			if err := c.Nodes[i].Svc.SetRing(moved); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.Nodes[a].Svc.Vnodes().Forward(p, "")
	checkAll("moved", live)
}

// Queries through every node while a node joins and then another leaves:
// every key, every time, through every member, both between ticks and
// from a goroutine querying while transfers run.
func TestCoverageDuringJoinAndLeave(t *testing.T) {
	c := New(t, 5, Options{RingSize: 64, Configure: slowReap,
		Handoff: func(i int, hc *handoff.Config) { hc.BatchCount = 20 }})
	writeIndexed(t, c)
	for i := range 3000 { // bulk, so that transfers take a while
		if err := put(t, c.Client(i%5), key("fill", fmt.Sprint(i)), "v", kv.Options{W: quorum.ValAll}); err != nil {
			t.Fatal(err)
		}
	}
	// The background querier uses nodes that stay members throughout.
	stable := []int{0, 2, 3, 4}
	var (
		stop       atomic.Bool
		wg         sync.WaitGroup
		rounds     atomic.Int64
		overlapped atomic.Int64
		bgErr      atomic.Pointer[error]
	)
	var mgrs []*handoff.Manager // captured: AddNode grows c.Nodes
	for _, i := range stable {
		mgrs = append(mgrs, c.Nodes[i].Mgr)
	}
	moving := func() bool {
		for _, m := range mgrs {
			if len(m.Status().Active) > 0 {
				return true
			}
		}
		return false
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; !stop.Load(); k++ {
			i := stable[k%len(stable)]
			busy := moving()
			if err := checkCoverage(c, i); err != nil {
				err = fmt.Errorf("background query through node %d: %w", i+1, err)
				bgErr.Store(&err)
				return
			}
			if busy || moving() {
				overlapped.Add(1)
			}
			rounds.Add(1)
		}
	}()
	during := func(what string) {
		t.Helper()
		ticks := 0
		testwait.Until(t, 120*time.Second, func() error {
			c.Tick()
			ticks++
			// Members by node 1's view and their own (a node that has
			// left starts a cluster of its own).
			var members []int
			member := func(st ring.Status) bool { return st == ring.StatusValid || st == ring.StatusLeaving }
			for _, i := range liveNodes(c) {
				if id := c.Nodes[i].ID; member(c.State(0).Status(id)) && member(c.State(i).Status(id)) {
					members = append(members, i)
				}
			}
			for _, i := range members {
				if err := checkCoverage(c, i); err != nil {
					st := c.State(i)
					t.Fatalf("%s, tick %d, through node %d (own view: %v, members %v; node 1's view: %v): %v", what, ticks, i+1, st.Status(c.Nodes[i].ID), st.Members(), c.State(0).Status(c.Nodes[i].ID), err)
				}
			}
			if err := checkPagination(c, members[:2]); err != nil {
				t.Fatalf("%s, tick %d: %v", what, ticks, err)
			}
			if p := bgErr.Load(); p != nil {
				t.Fatalf("%s, tick %d: %v", what, ticks, *p)
			}
			return c.Idle()
		})
		t.Logf("%s: settled after %d ticks", what, ticks)
	}
	nw := c.AddNode()
	c.Join(nw)
	c.PlanCommit()
	if len(c.State(0).Transfers()) == 0 {
		t.Fatal("the join planned no transfers")
	}
	during("join")
	c.Leave(1)
	c.PlanCommit()
	during("leave")
	stop.Store(true)
	wg.Wait()
	if p := bgErr.Load(); p != nil {
		t.Fatal(*p)
	}
	for _, i := range liveNodes(c) {
		if i == 1 {
			continue
		}
		if err := checkCoverage(c, i); err != nil {
			t.Fatalf("after the leave, through node %d: %v", i+1, err)
		}
	}
	t.Logf("%d background query rounds, %d of them while transfers ran", rounds.Load(), overlapped.Load())
}

// A bucket whose n_val (1) is smaller than its type's: key listing
// through every node plans at n_val 1 (bucket properties are cluster
// metadata), and so does the bucket listing's completeness check, so with
// a node down both fail rather than miss that bucket's keys.
func TestCoverageSmallerBucketNVal(t *testing.T) {
	c := New(t, 5, Options{RingSize: 64})
	if err := c.Client(0).SetBucketProps(kv.DefaultType, "solo", map[string]json.RawMessage{"n_val": json.RawMessage("1")}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := put(t, c.Client(i%5), key("solo", fmt.Sprint(i)), "v", kv.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := put(t, c.Client(0), key("wide", "x"), "v", kv.Options{W: quorum.ValAll}); err != nil {
		t.Fatal(err)
	}
	for i := range c.Nodes {
		var buckets []string
		if err := c.Client(i).ListBuckets(bg, kv.DefaultType, func(b []string) error { buckets = append(buckets, b...); return nil }); err != nil {
			t.Fatalf("list buckets through node %d: %v", i+1, err)
		}
		if !slices.Equal(buckets, []string{"solo", "wide"}) {
			t.Fatalf("list buckets through node %d: %q", i+1, buckets)
		}
		n := 0
		if err := c.Client(i).ListKeys(bg, kv.DefaultType, "solo", func(k []string) error { n += len(k); return nil }); err != nil || n != 50 {
			t.Fatalf("list keys at n_val 1 through node %d: %d keys, %v", i+1, n, err)
		}
	}
	c.Kill(4)
	if err := c.Client(0).ListKeys(bg, kv.DefaultType, "solo", func([]string) error { return nil }); !errors.Is(err, kv.ErrInsufficientVnodes) {
		t.Fatalf("list keys at n_val 1 with a node down: %v", err)
	}
	if err := c.Client(0).ListBuckets(bg, kv.DefaultType, func([]string) error { return nil }); !errors.Is(err, kv.ErrInsufficientVnodes) {
		t.Fatalf("list buckets with an n_val 1 bucket and a node down: %v", err)
	}
	n := 0
	if err := c.Client(0).ListKeys(bg, kv.DefaultType, "wide", func(k []string) error { n += len(k); return nil }); err != nil || n != 1 {
		t.Fatalf("list keys of an n_val 3 bucket with a node down: %d, %v", n, err)
	}
}

// Benchmarks of coverage queries on five in-process nodes (memnet: every
// message through the codec, no sockets), 1,000 indexed keys.
func BenchmarkCoverage(b *testing.B) {
	c := New(b, 5, Options{RingSize: 64, Seed: 1})
	for i := range covKeys {
		meta := siblings.Meta{ContentType: "text/plain", Indexes: []siblings.IndexEntry{{Field: "all_bin", Value: "x"}}}
		if _, err := c.Client(i%5).Put(bg, key("idx", covKey(i)), []byte("v"), meta, nil, kv.Options{W: quorum.ValAll}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("2i page of 100", func(b *testing.B) {
		q := idxQuery("all_bin", "x", "x")
		q.MaxResults = 100
		for i := 0; b.Loop(); i++ {
			if res, _, err := runQuery(c.Client(i%5), q); err != nil || len(res) != 100 {
				b.Fatal(len(res), err)
			}
		}
	})
	b.Run("2i all 1000", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if res, _, err := runQuery(c.Client(i%5), idxQuery("all_bin", "x", "x")); err != nil || len(res) != covKeys {
				b.Fatal(len(res), err)
			}
		}
	})
	b.Run("list keys 1000", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			n := 0
			if err := c.Client(i%5).ListKeys(bg, kv.DefaultType, "idx", func(k []string) error { n += len(k); return nil }); err != nil || n != covKeys {
				b.Fatal(n, err)
			}
		}
	})
}
