package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/testwait"
)

// Real-process handoff and anti-entropy tests: the in-process versions
// (internal/testcluster) run the same code on a manual clock; these run
// the binary on loopback with its 1 s tick, memberlist and TCP.

func dumpOnFailure(t *testing.T, nodes *[]*proc) {
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range *nodes {
				if n != nil {
					t.Logf("node %d stderr:\n%s", i+1, n.stderr())
				}
			}
		}
	})
}

// parallel runs f(i) for i in [0, n) on 8 workers and returns the errors.
func parallel(n int, f func(i int) error) []error {
	var mu sync.Mutex
	var errs []error
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

func transfersOf(t *testing.T, url string) (riakhttp.TransfersJSON, error) {
	var tj riakhttp.TransfersJSON
	resp, err := httpc.Get(url + "/admin/transfers")
	if err != nil {
		return tj, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return tj, fmt.Errorf("transfers: %d", resp.StatusCode)
	}
	return tj, json.NewDecoder(resp.Body).Decode(&tj)
}

// idle reports whether no member has a transfer running or waiting.
func idle(tj riakhttp.TransfersJSON, members int) error {
	if len(tj.Nodes) != members || len(tj.Down)+len(tj.Unreachable) > 0 {
		return fmt.Errorf("%d members answered, down %v, unreachable %v", len(tj.Nodes), tj.Down, tj.Unreachable)
	}
	for _, st := range tj.Nodes {
		if st.Waiting > 0 || len(st.Active) > 0 {
			return fmt.Errorf("%s: %d waiting, %d active", st.Node, st.Waiting, len(st.Active))
		}
	}
	return nil
}

func statsOf(url string) (map[string]any, error) {
	resp, err := httpc.Get(url + "/stats")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

func statNum(m map[string]any, name string) int64 {
	f, _ := m[name].(float64)
	return int64(f)
}

// With one node down, 10,000 keys written at W=2 go partly to fallbacks;
// once the node is back, hinted handoff returns them: every key reads at
// PR=3 and no node has anything left to hand off.
func TestHintedHandoffRealProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	nodes, gossip, cluster, dirs := formCluster(t)
	dumpOnFailure(t, &nodes)
	n1, n2 := nodes[0].url, nodes[1].url
	nodes[2].cmd.Process.Kill()
	nodes[2].cmd.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range []string{n1, n2} {
		pollAdmin(t, "node 3 seen down", deadline, func(out string, code int) bool {
			return code == 0 && !strings.Contains(out, "All nodes are up and reachable")
		}, n, "ring-status")
	}
	const keys = 10000
	if errs := parallel(keys, func(i int) error {
		base := []string{n1, n2}[i%2]
		code, err := put(fmt.Sprintf("%s/buckets/hh/keys/k%05d?w=2", base, i), fmt.Sprint(i))
		if err != nil || code != 204 {
			return fmt.Errorf("put %d: %d %v", i, code, err)
		}
		return nil
	}); len(errs) > 0 {
		t.Fatalf("%d writes failed at W=2 with a node down, first: %v", len(errs), errs[0])
	}
	nodes[2] = startNode(t, dirs[2], "--name", "riakgo3@127.0.0.1", "--gossip", gossip[2], "--cluster", cluster[2])
	var sent int64
	testwait.Until(t, 120*time.Second, func() error {
		sent = 0
		for _, n := range nodes[:2] {
			m, err := statsOf(n.url)
			if err != nil {
				return err
			}
			sent += statNum(m, "riakgo_handoff_objects")
		}
		if sent == 0 {
			return fmt.Errorf("nothing handed off yet")
		}
		tj, err := transfersOf(t, n1)
		if err != nil {
			return err
		}
		return idle(tj, 3)
	})
	n3 := nodes[2].url
	if errs := parallel(keys, func(i int) error {
		code, body, err := get(fmt.Sprintf("%s/buckets/hh/keys/k%05d?pr=3&r=3", n3, i))
		if err != nil || code != 200 || body != fmt.Sprint(i) {
			return fmt.Errorf("get %d at PR=3: %d %q %v", i, code, body, err)
		}
		return nil
	}); len(errs) > 0 {
		t.Fatalf("%d keys not readable at PR=3 after handoff, first: %v", len(errs), errs[0])
	}
	out := adminOK(t, n1, "transfers")
	if !strings.HasPrefix(out, "No transfers active") {
		t.Errorf("transfers after handoff:\n%s", out)
	}
	t.Logf("%d objects handed off; all %d keys read at PR=3", sent, keys)
}

// writer puts unique keys (and deletes one in five) through the given
// nodes until stopped, remembering what was acknowledged.
type writer struct {
	urls    []string
	prefix  string
	stop    atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	acked   map[string]string
	deleted map[string]bool
	tried   map[string]bool // deletes that failed (they may have applied)
}

func (w *writer) start() {
	w.acked, w.deleted, w.tried = map[string]string{}, map[string]bool{}, map[string]bool{}
	for g := range 4 {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for i := 0; !w.stop.Load(); i++ {
				base := w.urls[(i+g)%len(w.urls)]
				k := fmt.Sprintf("%s-%d-%d", w.prefix, g, i)
				code, err := put(base+"/buckets/w/keys/"+k, "v-"+k)
				if err != nil || code != 204 {
					continue
				}
				w.mu.Lock()
				w.acked[k] = "v-" + k
				w.mu.Unlock()
				if i%5 == 4 {
					old := fmt.Sprintf("%s-%d-%d", w.prefix, g, i-2)
					w.mu.Lock()
					_, ok := w.acked[old]
					w.mu.Unlock()
					if !ok {
						continue
					}
					req, _ := http.NewRequest("DELETE", base+"/buckets/w/keys/"+old, nil)
					ok = false
					if resp, err := httpc.Do(req); err == nil {
						resp.Body.Close()
						ok = resp.StatusCode == 204
					}
					w.mu.Lock()
					if ok {
						w.deleted[old] = true
					} else {
						w.tried[old] = true
					}
					w.mu.Unlock()
				}
			}
		}()
	}
}

func (w *writer) finish() { w.stop.Store(true); w.wg.Wait() }

func (w *writer) check(t *testing.T, url string) {
	t.Helper()
	var names []string
	for k := range w.acked {
		names = append(names, k)
	}
	errs := parallel(len(names), func(i int) error {
		k := names[i]
		code, body, err := get(url + "/buckets/w/keys/" + k + "?r=3")
		if w.tried[k] && err == nil && code == 404 {
			return nil // a delete that failed but applied
		}
		if w.deleted[k] {
			if err != nil || code != 404 {
				return fmt.Errorf("deleted key %s: %d %q %v", k, code, body, err)
			}
			return nil
		}
		if err != nil || code != 200 || body != w.acked[k] {
			return fmt.Errorf("acknowledged key %s: %d %q %v", k, code, body, err)
		}
		return nil
	})
	if len(errs) > 0 {
		t.Fatalf("%d of %d keys wrong (lost writes or deleted keys back), first: %v", len(errs), len(names), errs[0])
	}
	t.Logf("%d acknowledged keys checked (%d deleted)", len(names), len(w.deleted))
}

// watchTransfers polls /admin/transfers until stopped and records the
// largest object count an active outbound transfer showed.
func watchTransfers(urls []string) (stop func() int64) {
	var max atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			default:
			}
			for _, u := range urls {
				tj, err := transfersOf(nil, u)
				if err != nil {
					continue
				}
				for _, st := range tj.Nodes {
					for _, pr := range st.Active {
						if pr.Direction == riakhttp.Outbound && pr.Objects > max.Load() {
							max.Store(pr.Objects)
						}
					}
				}
			}
		}
	}()
	return func() int64 { close(done); <-finished; return max.Load() }
}

// A fourth node joins under continuous writes and deletes, then leaves
// again: the transfers complete and show progress while running, no
// acknowledged write is lost and no deleted key comes back.
func TestJoinAndLeaveUnderWritesRealProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	nodes, gossip, _, _ := formCluster(t)
	dumpOnFailure(t, &nodes)
	n1, n2, n3 := nodes[0].url, nodes[1].url, nodes[2].url
	big := strings.Repeat("x", 4096)
	if errs := parallel(4000, func(i int) error {
		code, err := put(fmt.Sprintf("%s/buckets/pre/keys/p%04d?w=3", n1, i), big)
		if err != nil || code != 204 {
			return fmt.Errorf("preload %d: %d %v", i, code, err)
		}
		return nil
	}); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	nodes = append(nodes, startNode(t, t.TempDir(), "--name", "riakgo4@127.0.0.1", "--gossip", freePort(t)))
	n4 := nodes[3].url

	w := &writer{urls: []string{n1, n2, n3}, prefix: "join"}
	w.start()
	watch := watchTransfers([]string{n1, n2, n3})
	adminOK(t, n4, "cluster", "join", gossip[0])
	deadline := time.Now().Add(120 * time.Second)
	pollAdmin(t, "plan with the join", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "'riakgo4@127.0.0.1'")
	}, n1, "cluster", "plan")
	adminOK(t, n1, "cluster", "commit")
	pollAdmin(t, "4 valid members, nothing pending", deadline, func(out string, code int) bool {
		return code == 0 && strings.Count(out, "valid ") == 4 && !strings.Contains(out, "%      25.0%") &&
			strings.Contains(out, "Valid:4 / Leaving:0 / Exiting:0 / Joining:0 / Down:0") && strings.Count(out, "  --  ") == 4
	}, n1, "member-status")
	testwait.Until(t, time.Until(deadline), func() error {
		tj, err := transfersOf(t, n1)
		if err != nil {
			return err
		}
		return idle(tj, 4)
	})
	w.finish()
	if seen := watch(); seen == 0 {
		t.Error("admin transfers never showed a transfer in progress")
	} else {
		t.Logf("largest transfer progress seen: %d objects", seen)
	}
	w.check(t, n4)
	for i := 0; i < 4000; i += 7 {
		code, body, err := get(fmt.Sprintf("%s/buckets/pre/keys/p%04d?pr=3", n4, i))
		if err != nil || code != 200 || body != big {
			t.Fatalf("preloaded key %d at PR=3 after the join: %d %v", i, code, err)
		}
	}

	// And the fourth node leaves.
	w2 := &writer{urls: []string{n1, n2, n3}, prefix: "leave"}
	w2.start()
	watch = watchTransfers([]string{n1, n4})
	adminOK(t, n4, "cluster", "leave")
	pollAdmin(t, "plan with the leave", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "leave") && strings.Contains(out, "'riakgo4@127.0.0.1'")
	}, n1, "cluster", "plan")
	adminOK(t, n1, "cluster", "commit")
	deadline = time.Now().Add(120 * time.Second)
	pollAdmin(t, "3 valid members after the leave", deadline, func(out string, code int) bool {
		return code == 0 && !strings.Contains(out, "riakgo4@") && strings.Contains(out, "Valid:3 / Leaving:0 / Exiting:0 / Joining:0 / Down:0")
	}, n1, "member-status")
	testwait.Until(t, time.Until(deadline), func() error {
		tj, err := transfersOf(t, n1)
		if err != nil {
			return err
		}
		return idle(tj, 3)
	})
	w2.finish()
	if seen := watch(); seen == 0 {
		t.Error("admin transfers never showed the leave's transfers in progress")
	}
	w.check(t, n2)
	w2.check(t, n3)
	for i := 0; i < 4000; i += 7 {
		code, _, err := get(fmt.Sprintf("%s/buckets/pre/keys/p%04d?pr=3", n1, i))
		if err != nil || code != 200 {
			t.Fatalf("preloaded key %d at PR=3 after the leave: %d %v", i, code, err)
		}
	}
}

// The receiver of a transfer is killed in the middle: the senders free
// their slots, and once it is back the transfers complete.
func TestReceiverKilledRealProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	nodes, gossip, _, _ := formCluster(t)
	dumpOnFailure(t, &nodes)
	n1 := nodes[0].url
	big := strings.Repeat("y", 16384)
	if errs := parallel(6000, func(i int) error {
		code, err := put(fmt.Sprintf("%s/buckets/pre/keys/p%04d?w=3", n1, i), big)
		if err != nil || code != 204 {
			return fmt.Errorf("preload %d: %d %v", i, code, err)
		}
		return nil
	}); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	dir4, g4, c4 := t.TempDir(), freePort(t), freePort(t)
	nodes = append(nodes, startNode(t, dir4, "--name", "riakgo4@127.0.0.1", "--gossip", g4, "--cluster", c4))
	adminOK(t, nodes[3].url, "cluster", "join", gossip[0])
	deadline := time.Now().Add(120 * time.Second)
	pollAdmin(t, "plan with the join", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "'riakgo4@127.0.0.1'")
	}, n1, "cluster", "plan")
	adminOK(t, n1, "cluster", "commit")
	// Kill node 4 as soon as a transfer to it has moved something.
	testwait.Until(t, time.Until(deadline), func() error {
		for _, n := range nodes[:3] {
			tj, err := transfersOf(t, n.url)
			if err != nil {
				continue
			}
			for _, st := range tj.Nodes {
				for _, pr := range st.Active {
					if pr.To == "riakgo4@127.0.0.1" && pr.Direction == riakhttp.Outbound && pr.Objects > 0 {
						return nil
					}
				}
			}
		}
		return fmt.Errorf("no transfer to node 4 in progress yet")
	})
	nodes[3].cmd.Process.Kill()
	nodes[3].cmd.Wait()
	// The senders give up and free their slots.
	testwait.Until(t, time.Until(deadline), func() error {
		for i, n := range nodes[:3] {
			m, err := statsOf(n.url)
			if err != nil {
				return err
			}
			if a := statNum(m, "riakgo_handoff_outbound") + statNum(m, "riakgo_handoff_inbound"); a > 0 {
				return fmt.Errorf("node %d still runs %d transfers", i+1, a)
			}
		}
		return nil
	})
	var failed int64
	for _, n := range nodes[:3] {
		m, _ := statsOf(n.url)
		failed += statNum(m, "riakgo_handoff_failed")
	}
	if failed == 0 {
		t.Error("no transfer failed although its receiver was killed")
	}
	nodes[3] = startNode(t, dir4, "--name", "riakgo4@127.0.0.1", "--gossip", g4, "--cluster", c4)
	pollAdmin(t, "4 valid members, nothing pending", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "Valid:4 / Leaving:0 / Exiting:0 / Joining:0 / Down:0") && strings.Count(out, "  --  ") == 4
	}, n1, "member-status")
	testwait.Until(t, time.Until(deadline), func() error {
		tj, err := transfersOf(t, n1)
		if err != nil {
			return err
		}
		return idle(tj, 4)
	})
	n4 := nodes[3].url
	if errs := parallel(6000, func(i int) error {
		code, body, err := get(fmt.Sprintf("%s/buckets/pre/keys/p%04d?pr=3", n4, i))
		if err != nil || code != 200 || body != big {
			return fmt.Errorf("key %d at PR=3: %d %v", i, code, err)
		}
		return nil
	}); len(errs) > 0 {
		t.Fatalf("%d keys not readable at PR=3 after the interrupted join, first: %v", len(errs), errs[0])
	}
}

// A node whose data directory is wiped is restarted under its name and
// takes its membership back (cluster join recovers it); anti-entropy then
// restores every key on it with no client read: read through it alone,
// once the other nodes are stopped, every key is there.
func TestWipedNodeRestoredByAAE(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	nodes, gossip, cluster, dirs := formCluster(t, "--aae-interval", "200ms")
	dumpOnFailure(t, &nodes)
	n1 := nodes[0].url
	const keys = 3000
	if errs := parallel(keys, func(i int) error {
		code, err := put(fmt.Sprintf("%s/buckets/aae/keys/k%04d?w=3", n1, i), fmt.Sprint(i))
		if err != nil || code != 204 {
			return fmt.Errorf("put %d: %d %v", i, code, err)
		}
		return nil
	}); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	nodes[2].cmd.Process.Kill()
	nodes[2].cmd.Wait()
	if err := os.RemoveAll(dirs[2]); err != nil {
		t.Fatal(err)
	}
	var before int64
	for _, n := range nodes[:2] {
		m, _ := statsOf(n.url)
		before += statNum(m, "riakgo_aae_keys_repaired")
	}
	nodes[2] = startNode(t, dirs[2], "--name", "riakgo3@127.0.0.1", "--gossip", gossip[2], "--cluster", cluster[2], "--aae-interval", "200ms",
		"--repair-on-recover", "off") // this test is about anti-entropy alone
	n3 := nodes[2].url
	out := adminOK(t, n3, "cluster", "join", gossip[0])
	t.Logf("join of the wiped node: %s", strings.TrimSpace(out))
	deadline := time.Now().Add(180 * time.Second)
	pollAdmin(t, "node 3 back as a valid member", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "Valid:3 / Leaving:0 / Exiting:0 / Joining:0 / Down:0")
	}, n3, "member-status")
	// Every key has a replica on node 3 (N=3 on three nodes): anti-entropy
	// repairs them (the count may differ from the number of keys: an
	// exchange can find a key another exchange is repairing).
	testwait.Until(t, time.Until(deadline), func() error {
		var n int64
		for _, p := range nodes {
			m, err := statsOf(p.url)
			if err != nil {
				return err
			}
			n += statNum(m, "riakgo_aae_keys_repaired")
		}
		if n-before < keys/2 {
			return fmt.Errorf("anti-entropy repaired %d keys so far", n-before)
		}
		return nil
	})
	// Then anti-entropy finds nothing more: the repaired total stays the
	// same while every node runs more than a full round of its exchanges.
	snapshot := func() (repaired int64, exchanges []int64, err error) {
		for _, p := range nodes {
			m, err := statsOf(p.url)
			if err != nil {
				return 0, nil, err
			}
			repaired += statNum(m, "riakgo_aae_keys_repaired")
			exchanges = append(exchanges, statNum(m, "riakgo_aae_exchanges"))
		}
		return repaired, exchanges, nil
	}
	baseRep, baseEx, err := snapshot()
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, time.Until(deadline), func() error {
		rep, ex, err := snapshot()
		if err != nil {
			return err
		}
		for i := range ex {
			if ex[i] < baseEx[i]+2*64 {
				return fmt.Errorf("node %d: %d exchanges since the last repair count", i+1, ex[i]-baseEx[i])
			}
		}
		if rep != baseRep {
			baseRep, baseEx = rep, ex
			return fmt.Errorf("still repairing: %d keys", rep)
		}
		return nil
	})
	// The keys with a primary replica on node 3 (most: N=3 on three
	// nodes, but the ring's wrap-around can put a preference list on two).
	var mine []int
	var mu sync.Mutex
	if errs := parallel(keys, func(i int) error {
		code, body, err := get(fmt.Sprintf("%s/buckets/aae/keys/k%04d/preflist", n1, i))
		if err != nil || code != 200 {
			return fmt.Errorf("preflist %d: %d %v", i, code, err)
		}
		var pl struct {
			Preflist []struct {
				Node    string `json:"node"`
				Primary bool   `json:"primary"`
			} `json:"preflist"`
		}
		if err := json.Unmarshal([]byte(body), &pl); err != nil {
			return err
		}
		for _, e := range pl.Preflist {
			if e.Primary && e.Node == "riakgo3@127.0.0.1" {
				mu.Lock()
				mine = append(mine, i)
				mu.Unlock()
				break
			}
		}
		return nil
	}); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if len(mine) < keys/2 {
		t.Fatalf("only %d keys have a replica on node 3", len(mine))
	}
	// Stop the other nodes; node 3 alone must hold every key it replicates.
	for _, p := range nodes[:2] {
		p.cmd.Process.Signal(os.Interrupt)
		p.cmd.Wait()
	}
	pollAdmin(t, "nodes 1 and 2 seen down", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "riakgo1@") && strings.Contains(out, "riakgo2@") && !strings.Contains(out, "All nodes are up")
	}, n3, "ring-status")
	if errs := parallel(len(mine), func(j int) error {
		i := mine[j]
		code, body, err := get(fmt.Sprintf("%s/buckets/aae/keys/k%04d?r=1&notfound_ok=false", n3, i))
		if err != nil || code != 200 || body != fmt.Sprint(i) {
			return fmt.Errorf("key %d on node 3 alone: %d %q %v", i, code, body, err)
		}
		return nil
	}); len(errs) > 0 {
		t.Fatalf("%d of %d keys missing on the wiped node, first: %v", len(errs), len(mine), errs[0])
	}
	t.Logf("node 3 alone serves all %d keys it replicates", len(mine))
	// A rebuild on request: the trees are built again from storage.
	st := adminOK(t, n3, "aae-status")
	if !strings.Contains(st, "awaiting build: none") {
		t.Errorf("aae-status before the rebuild:\n%s", st)
	}
	// The count of built trees is read before the rebuild is asked for:
	// read after, it could already include the rebuilt trees (a few
	// thousand keys rebuild in milliseconds) and the wait below would
	// never end.
	m, err := statsOf(n3)
	if err != nil {
		t.Fatal(err)
	}
	built0 := statNum(m, "riakgo_aae_trees_built")
	out = adminOK(t, n3, "aae-rebuild")
	var rebuilt int64
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "Rebuilding the anti-entropy trees of %d partitions", &rebuilt); err != nil || rebuilt == 0 {
		t.Fatalf("aae-rebuild: %q (%v)", out, err)
	}
	adminFails(t, n3, "aae-rebuild", "100000")
	testwait.Until(t, 60*time.Second, func() error {
		m, err := statsOf(n3)
		if err != nil {
			return err
		}
		out, _, _ := admin(t, n3, "aae-status")
		if statNum(m, "riakgo_aae_trees_built") < built0+rebuilt || !strings.Contains(out, "awaiting build: none") {
			return fmt.Errorf("rebuild of %d trees not done (built %d before):\n%s", rebuilt, built0, out)
		}
		return nil
	})
}

// riak-admin down: a dead member is marked down, and a force-remove of it
// can then be planned and committed; its data stays readable from the
// other replicas, and anti-entropy fills the partitions that were its.
func TestDownAndForceRemoveDeadNode(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	nodes, _, _, _ := formCluster(t, "--aae-interval", "200ms")
	dumpOnFailure(t, &nodes)
	n1, n2 := nodes[0].url, nodes[1].url
	if errs := parallel(300, func(i int) error {
		code, err := put(fmt.Sprintf("%s/buckets/d/keys/k%03d?w=3", n1, i), fmt.Sprint(i))
		if err != nil || code != 204 {
			return fmt.Errorf("put %d: %d %v", i, code, err)
		}
		return nil
	}); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if out := adminFails(t, n1, "down", "riakgo2@127.0.0.1"); !strings.Contains(out, `"riakgo2@127.0.0.1" is up`) {
		t.Errorf("down of an up node: %s", out)
	}
	nodes[2].cmd.Process.Kill()
	nodes[2].cmd.Wait()
	deadline := time.Now().Add(90 * time.Second)
	pollAdmin(t, "node 3 unreachable", deadline, func(out string, code int) bool {
		return code == 0 && !strings.Contains(out, "All nodes are up and reachable")
	}, n1, "ring-status")
	if out := adminOK(t, n1, "down", "riakgo3@127.0.0.1"); !strings.Contains(out, `Success: "riakgo3@127.0.0.1" marked as down`) {
		t.Errorf("down: %s", out)
	}
	pollAdmin(t, "node 3 down in member-status", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "Down:1")
	}, n2, "member-status")
	adminOK(t, n2, "cluster", "force-remove", "riakgo3@127.0.0.1")
	pollAdmin(t, "plan with the force-remove", deadline, func(out string, code int) bool {
		return code == 0 && strings.Contains(out, "force-remove") && strings.Contains(out, "riakgo3@127.0.0.1")
	}, n1, "cluster", "plan")
	adminOK(t, n1, "cluster", "commit")
	pollAdmin(t, "2 valid members", deadline, func(out string, code int) bool {
		return code == 0 && !strings.Contains(out, "riakgo3@") && strings.Contains(out, "Valid:2 / Leaving:0 / Exiting:0 / Joining:0 / Down:0")
	}, n1, "member-status")
	if errs := parallel(300, func(i int) error {
		code, body, err := get(fmt.Sprintf("%s/buckets/d/keys/k%03d?r=2", n2, i))
		if err != nil || code != 200 || body != fmt.Sprint(i) {
			return fmt.Errorf("get %d: %d %q %v", i, code, body, err)
		}
		return nil
	}); len(errs) > 0 {
		t.Fatalf("%d keys unreadable after the force-remove, first: %v", len(errs), errs[0])
	}
}
