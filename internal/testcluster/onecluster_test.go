package testcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/handoff"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/pg"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
)

// The cluster is one system: whatever is true through one node is true
// through every node. These scenarios run on clusters larger than n_val
// (5 and 7 nodes, n_val 3), where most nodes hold no replica of a key.

// serving returns the indexes of the nodes that serve the cluster: alive
// and members of node 0's cluster.
func serving(c *Cluster) []int {
	var out []int
	name := ""
	for i := range c.Nodes {
		nd := c.node(i)
		if !c.isAlive(nd) {
			continue
		}
		st := nd.N.ClusterState()
		if name == "" {
			name = st.ClusterName()
		}
		if st.ClusterName() == name && st.Status(nd.ID) != ring.StatusInvalid && st.Status(nd.ID) != 0 {
			out = append(out, i)
		}
	}
	return out
}

// allowedDuringChange reports whether err is one a client may see while
// ownership moves: Riak's documented quorum failures and unreachable
// replicas (503), never a 4xx or a 500 for a valid request.
func allowedDuringChange(err error) bool {
	var qe *quorum.Error
	return errors.As(err, &qe) && !qe.ClientError() || errors.Is(err, kv.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

type oneClusterWorkload struct {
	t        *testing.T
	c        *Cluster
	siblings map[string]int // allow_mult key → acknowledged blind writes
	counter  int64          // acknowledged increments
	setElems map[string]bool
	pgIDs    map[string]bool
	maybeSet map[string]bool // adds whose answer was an allowed failure (may or may not have applied)
	maybeCtr int64
	seq      int
	failures int
	leaving  map[int]bool // nodes whose leave was staged
}

func newWorkload(t *testing.T, c *Cluster) *oneClusterWorkload {
	return &oneClusterWorkload{t: t, c: c, siblings: map[string]int{}, setElems: map[string]bool{}, pgIDs: map[string]bool{}, maybeSet: map[string]bool{}, leaving: map[int]bool{}}
}

// check fails the test on an error a client must never see; allowed ones
// are counted.
func (w *oneClusterWorkload) check(what string, i int, err error) bool {
	w.t.Helper()
	if err == nil {
		return true
	}
	if allowedDuringChange(err) {
		w.failures++
		return false
	}
	// Errorf, not Fatalf: rounds also run in a goroutine of their own.
	w.t.Errorf("%s through node %d: %v", what, i+1, err)
	return false
}

// round does one of each operation through node i.
func (w *oneClusterWorkload) round(i int) {
	w.seq++
	svc := w.c.Client(i)
	// A blind write to the shared allow_mult key: a sibling each.
	if _, err := svc.Put(bg, kv.Key{Type: kv.DefaultType, Bucket: "cart", Key: "shared"}, []byte(fmt.Sprint("w", w.seq)),
		siblings.Meta{ContentType: "text/plain"}, nil, kv.Options{}); w.check("allow_mult put", i, err) {
		w.siblings["shared"]++
	}
	// Counter, set, map, hll and gset updates.
	_, err := svc.UpdateDatatype(bg, kv.Key{Type: "counters", Bucket: "b", Key: "c"}, dt.KindCounter, dt.CounterOp{Delta: 1}, dt.Context{}, kv.Options{})
	if w.check("counter", i, err) {
		w.counter++
	} else {
		w.maybeCtr++
	}
	e := fmt.Sprint("e", w.seq)
	_, err = svc.UpdateDatatype(bg, kv.Key{Type: "sets", Bucket: "b", Key: "s"}, dt.KindSet, dt.SetOp{}.Add(e), dt.Context{}, kv.Options{})
	if w.check("set", i, err) {
		w.setElems[e] = true
	} else {
		w.maybeSet[e] = true
	}
	op := dt.MapOp{}.Update(dt.Field{Name: "n", Type: dt.KindCounter}, dt.CounterOp{Delta: 1}).
		Update(dt.Field{Name: "f", Type: dt.KindFlag}, dt.FlagOp{Enable: true})
	_, err = svc.UpdateDatatype(bg, kv.Key{Type: "maps", Bucket: "b", Key: "m"}, dt.KindMap, op, dt.Context{}, kv.Options{})
	w.check("map", i, err)
	_, err = svc.UpdateDatatype(bg, kv.Key{Type: "hlls", Bucket: "b", Key: "h"}, dt.KindHLL, dt.HLLOp{Elements: []string{e}}, dt.Context{}, kv.Options{})
	w.check("hll", i, err)
	_, err = svc.UpdateDatatype(bg, kv.Key{Type: "gsets", Bucket: "b", Key: "g"}, dt.KindGSet, dt.GSetOp{Elements: []string{e}}, dt.Context{}, kv.Options{})
	w.check("gset", i, err)
	// A process-group join through this node. A node the cluster has
	// just removed (a leave completing) has its members refused as stale,
	// as process groups prune the members of nodes that left.
	id := fmt.Sprint("m", w.seq)
	_, err = w.c.node(i).PG.Join(bg, pgKey("svc"), id, pg.JoinOpts{})
	if errors.Is(err, pg.ErrStale) && w.leaving[i] {
		err = nil
		id = ""
	}
	if w.check("pg join", i, err) && id != "" {
		w.pgIDs[string(w.c.node(i).ID)+"/"+id] = true
	}
}

// verify reads everything back through every serving node.
func (w *oneClusterWorkload) verify() {
	w.t.Helper()
	for _, i := range serving(w.c) {
		svc := w.c.Client(i)
		o, err := svc.Get(bg, kv.Key{Type: kv.DefaultType, Bucket: "cart", Key: "shared"}, kv.Options{R: quorum.ValAll})
		if err != nil {
			w.t.Fatalf("read through node %d: %v", i+1, err)
		}
		if got := len(values(o)); got < w.siblings["shared"] {
			w.t.Fatalf("allow_mult key through node %d: %d siblings, %d acknowledged writes", i+1, got, w.siblings["shared"])
		}
		v, err := svc.FetchDatatype(bg, kv.Key{Type: "counters", Bucket: "b", Key: "c"}, dt.KindCounter, kv.Options{R: quorum.ValAll})
		if err != nil {
			w.t.Fatalf("counter through node %d: %v", i+1, err)
		}
		if n := v.Value().(int64); n < w.counter || n > w.counter+w.maybeCtr {
			w.t.Fatalf("counter through node %d: %d, acknowledged %d (+%d indeterminate)", i+1, n, w.counter, w.maybeCtr)
		}
		s, err := svc.FetchDatatype(bg, kv.Key{Type: "sets", Bucket: "b", Key: "s"}, dt.KindSet, kv.Options{R: quorum.ValAll})
		if err != nil {
			w.t.Fatalf("set through node %d: %v", i+1, err)
		}
		have := map[string]bool{}
		for _, e := range s.Value().([]string) {
			have[e] = true
			if !w.setElems[e] && !w.maybeSet[e] {
				w.t.Fatalf("set through node %d holds %q, which nobody added", i+1, e)
			}
		}
		for e := range w.setElems {
			if !have[e] {
				w.t.Fatalf("set through node %d lost the acknowledged add of %q", i+1, e)
			}
		}
		ms, err := w.c.node(i).PG.Members(bg, pgKey("svc"), pg.Filter{})
		if err != nil {
			w.t.Fatalf("pg members through node %d: %v", i+1, err)
		}
		got := map[string]bool{}
		for _, m := range ms {
			got[m.Node+"/"+m.ID] = true
		}
		for id := range w.pgIDs {
			if !got[id] && serves(w.c, strings.SplitN(id, "/", 2)[0]) {
				w.t.Fatalf("pg members through node %d lack %s: %v", i+1, id, ms)
			}
		}
	}
	// Every data type reads the same through every node.
	for _, k := range []struct {
		key  kv.Key
		kind dt.Kind
	}{{kv.Key{Type: "maps", Bucket: "b", Key: "m"}, dt.KindMap}, {kv.Key{Type: "hlls", Bucket: "b", Key: "h"}, dt.KindHLL},
		{kv.Key{Type: "gsets", Bucket: "b", Key: "g"}, dt.KindGSet}, {kv.Key{Type: "sets", Bucket: "b", Key: "s"}, dt.KindSet}} {
		var first string
		for _, i := range serving(w.c) {
			v, err := w.c.Client(i).FetchDatatype(bg, k.key, k.kind, kv.Options{R: quorum.ValAll})
			if err != nil {
				w.t.Fatalf("%s through node %d: %v", k.kind, i+1, err)
			}
			got := fmt.Sprint(v.Value())
			if first == "" {
				first = got
			} else if got != first {
				w.t.Fatalf("%s differs through node %d: %s vs %s", k.kind, i+1, got, first)
			}
		}
	}
}

// serves reports whether the node named id still serves the cluster (its
// members are pruned once it has left).
func serves(c *Cluster, id string) bool {
	for _, i := range serving(c) {
		if string(c.node(i).ID) == id {
			return true
		}
	}
	return false
}

func setupTypes(t *testing.T, c *Cluster) {
	t.Helper()
	// Each type through a different node; each is usable through every
	// node as soon as its activation returns.
	createType(t, c, 1, "counters", `{"datatype":"counter"}`)
	createType(t, c, 2, "sets", `{"datatype":"set"}`)
	createType(t, c, 3, "maps", `{"datatype":"map"}`)
	createType(t, c, 4, "hlls", `{"datatype":"hll","hll_precision":12}`)
	createType(t, c, 0, "gsets", `{"datatype":"gset"}`)
	if err := c.Client(2).SetBucketProps(kv.DefaultType, "cart", map[string]json.RawMessage{"allow_mult": json.RawMessage("true")}); err != nil {
		t.Fatal(err)
	}
	for i := range c.Nodes {
		p, err := c.Client(i).BucketProps("hlls", "b")
		if err != nil || p.HLLPrecision != 12 {
			t.Fatalf("hll type through node %d: %+v %v", i+1, p.HLLPrecision, err)
		}
		if p, _ := c.Client(i).BucketProps(kv.DefaultType, "cart"); !p.AllowMult {
			t.Fatalf("allow_mult set through node 3 is not seen by node %d", i+1)
		}
	}
}

func testEveryFeatureThroughEveryNode(t *testing.T, nodes int) {
	c := New(t, nodes, Options{RingSize: 64})
	setupTypes(t, c)
	w := newWorkload(t, c)
	for i := range c.Nodes {
		w.round(i)
	}
	if w.failures > 0 {
		t.Fatalf("%d operations failed on a healthy cluster", w.failures)
	}
	// Every write through every node is a sibling of the shared key.
	if w.siblings["shared"] != nodes {
		t.Fatalf("%d allow_mult writes acknowledged, want %d", w.siblings["shared"], nodes)
	}
	w.verify()
	// The truth about the cluster in /stats, through every node.
	for i := range c.Nodes {
		rec := httptest.NewRecorder()
		c.HTTP(i).ServeHTTP(rec, httptest.NewRequest("GET", "/stats", nil))
		var st struct {
			Members    []string `json:"ring_members"`
			Connected  []string `json:"connected_nodes"`
			Ownership  string   `json:"ring_ownership"`
			Partitions int      `json:"ring_num_partitions"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Members) != nodes || len(st.Connected) != nodes-1 || st.Partitions != 64 || strings.Count(st.Ownership, "{'") != nodes {
			t.Fatalf("/stats through node %d: %+v", i+1, st)
		}
	}
}

func TestEveryFeatureThroughEveryNode5(t *testing.T) { testEveryFeatureThroughEveryNode(t, 5) }
func TestEveryFeatureThroughEveryNode7(t *testing.T) { testEveryFeatureThroughEveryNode(t, 7) }

// The same operations run through every node while a node joins and
// another leaves; clients see no failure other than documented quorum
// errors, and afterwards every acknowledged write reads through every
// node.
func TestEveryFeatureWhileJoiningAndLeaving(t *testing.T) {
	c := New(t, 5, Options{RingSize: 64, Handoff: func(i int, hc *handoff.Config) { hc.BatchCount = 50 }})
	setupTypes(t, c)
	w := newWorkload(t, c)
	for i := range c.Nodes {
		w.round(i)
	}
	// Enough data that the transfers take several ticks of batches.
	const preload = 3000
	for k := 0; k < preload; k++ {
		if err := put(t, c.Client(k%5), key("pre", fmt.Sprint(k)), fmt.Sprint("v", k), kv.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	j := c.AddNode()
	c.Join(j)
	c.Leave(1)
	w.leaving[1] = true
	c.PlanCommit()
	// The workload runs through every serving node while the transfers
	// run (they move in their own goroutines between ticks).
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		rounds := 0
		for {
			select {
			case <-stop:
				done <- rounds
				return
			default:
			}
			if t.Failed() {
				<-stop
				done <- rounds
				return
			}
			for _, i := range serving(c) {
				w.round(i)
			}
			rounds++
		}
	}()
	c.SettleUnderLoad(120 * time.Second)
	close(stop)
	rounds := <-done
	if rounds < 2 {
		t.Fatalf("only %d workload rounds ran during the changes", rounds)
	}
	t.Logf("%d workload rounds ran during the changes", rounds)
	if got := serving(c); slices.Contains(got, 1) || !slices.Contains(got, j) {
		t.Fatalf("after the changes the serving nodes are %v", got)
	}
	for _, i := range serving(c) {
		w.round(i)
	}
	t.Logf("%d operations answered with an allowed failure during the changes", w.failures)
	w.verify()
	live := serving(c)
	for k := 0; k < preload; k++ {
		i := live[k%len(live)]
		o, err := c.Client(i).Get(bg, key("pre", fmt.Sprint(k)), kv.Options{})
		if err != nil || values(o)[0] != fmt.Sprint("v", k) {
			t.Fatalf("preloaded key %d through node %d: %v", k, i+1, err)
		}
	}
}

// A node that left can join again, under its name, without losing its
// data directory.
func TestLeaveThenJoinAgain(t *testing.T) {
	c := New(t, 5, Options{RingSize: 32})
	for k := 0; k < 500; k++ {
		if err := put(t, c.Client(k%5), key("before", fmt.Sprint(k)), "v", kv.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	c.Leave(4)
	c.PlanCommit()
	// Writes through every node, the leaving one included, while its
	// partitions move.
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			_ = put(t, c.Client(n%5), key("during", fmt.Sprint(n)), "v", kv.Options{})
			n++
		}
	}()
	c.SettleUnderLoad(60 * time.Second)
	close(stop)
	t.Logf("%d writes during the leave", <-done)
	c.Settle(60)
	left := c.State(4)
	if left.ClusterName() == c.State(0).ClusterName() || len(left.Members()) != 1 {
		t.Fatalf("the node that left is not a cluster of its own: %v", left)
	}
	// It became a cluster of its own only after handing everything off:
	// none of the old cluster's data is served as its own.
	for p := 0; p < 32; p++ {
		if empty, err := c.Client(4).PartitionEmpty(p); err != nil || !empty {
			t.Fatalf("the node that left still holds data of partition %d", p)
		}
	}
	for k := 0; k < 500; k++ {
		if _, err := c.Client(0).Get(bg, key("before", fmt.Sprint(k)), kv.Options{R: quorum.ValAll}); err != nil {
			t.Fatalf("key %d after the leave: %v", k, err)
		}
	}
	// Until it joins a cluster, it refuses client requests instead of
	// taking writes into its own one-node cluster.
	if err := put(t, c.Client(4), key("after", "leave"), "v", kv.Options{}); !errors.Is(err, kv.ErrDetached) {
		t.Fatalf("a write through the node that left: %v", err)
	}
	if st := c.State(0); st.Status(c.node(4).ID) != ring.StatusInvalid {
		t.Fatalf("the cluster still lists the node that left as %v", st.Status(c.node(4).ID))
	}
	c.Join(4)
	c.PlanCommit()
	c.Settle(60)
	st := c.State(0)
	if st.Status(c.node(4).ID) != ring.StatusValid {
		t.Fatalf("the node that left did not join again: %v", st.Status(c.node(4).ID))
	}
	own := 0
	for _, o := range st.Owners() {
		if o == c.node(4).ID {
			own++
		}
	}
	if own == 0 {
		t.Fatal("the node that joined again owns no partition")
	}
	// It serves like any other member.
	k := key("after", "rejoin")
	if err := put(t, c.Client(4), k, "v", kv.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, i := range serving(c) {
		if o, err := c.Client(i).Get(bg, k, kv.Options{}); err != nil || values(o)[0] != "v" {
			t.Fatalf("read through node %d: %v", i+1, err)
		}
	}
}

// A props change made during a partition reaches the other side by
// anti-entropy once it heals; concurrent changes on both sides resolve to
// the same props everywhere, and bucket-type status names the members
// that hold a type.
func TestMetadataAcrossAPartition(t *testing.T) {
	c := New(t, 5, Options{RingSize: 32})
	c.Partition([]int{0, 1, 2}, []int{3, 4})
	raw := func(s string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		_ = json.Unmarshal([]byte(s), &m)
		return m
	}
	if err := c.Client(0).SetBucketProps(kv.DefaultType, "p", raw(`{"n_val":5}`)); err != nil {
		t.Fatal(err)
	}
	c.Clock.Advance(time.Second)
	if err := c.Client(3).SetBucketProps(kv.DefaultType, "p", raw(`{"allow_mult":true}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Client(3).CreateType("minority", nil); err != nil {
		t.Fatal(err)
	}
	// The members on the other side count as lacking the type (Riak's
	// rule): it is not ready, and cannot be activated, on this side.
	st := c.Client(3).TypeStatus("minority")
	if st.Status != kv.TypeCreated || len(st.Have) != 2 || len(st.Lack) != 3 {
		t.Fatalf("status on the minority side: %+v", st)
	}
	var nr *kv.NotReadyError
	if err := c.Client(3).ActivateType("minority"); !errors.As(err, &nr) || len(nr.Missing) != 3 {
		t.Fatalf("activation on the minority side: %v, want not ready for the 3 unreachable members", err)
	}
	c.Heal()
	c.Settle(60)
	var want kv.Props
	for i := range c.Nodes {
		p, err := c.Client(i).BucketProps(kv.DefaultType, "p")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			want = p
		} else if !reflect.DeepEqual(p, want) {
			t.Fatalf("props through node %d differ after the heal: %+v vs %+v", i+1, p, want)
		}
	}
	// Both sides wrote the same entry concurrently: the changes merge
	// property by property (Riak's rule), so both survive everywhere.
	if !want.AllowMult || want.NVal != 5 {
		t.Fatalf("after the heal: allow_mult %v n_val %d", want.AllowMult, want.NVal)
	}
	st = c.Client(0).TypeStatus("minority")
	sort.Slice(st.Have, func(a, b int) bool { return st.Have[a] < st.Have[b] })
	if st.Status != kv.TypeReady || len(st.Have) != 5 || len(st.Lack) != 0 {
		t.Fatalf("status after the heal: %+v", st)
	}
	if err := c.Client(1).ActivateType("minority"); err != nil {
		t.Fatal(err)
	}
	for i := range c.Nodes {
		if c.Client(i).TypeInfo("minority").Status != kv.TypeActive {
			t.Fatalf("activation through node 2 not seen by node %d", i+1)
		}
	}
}

func httpDo(c *Cluster, i int, method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "text/plain")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	c.HTTP(i).ServeHTTP(rec, req)
	return rec
}

// Conditional writes and deletes through every node of a 5-node cluster,
// over the HTTP API: If-None-Match: * creates once whichever node is
// asked, If-Match takes the ETag another node returned, and a delete
// through any node is seen by every node.
func TestConditionalWritesAndDeletesThroughEveryNode(t *testing.T) {
	c := New(t, 5, Options{RingSize: 64})
	for i := range c.Nodes {
		path := fmt.Sprintf("/buckets/cond/keys/k%d", i)
		if rec := httpDo(c, i, "PUT", path, "first", map[string]string{"If-None-Match": "*"}); rec.Code != 204 {
			t.Fatalf("create through node %d: %d %s", i+1, rec.Code, rec.Body)
		}
		other := (i + 2) % 5
		if rec := httpDo(c, other, "PUT", path, "again", map[string]string{"If-None-Match": "*"}); rec.Code != 412 {
			t.Fatalf("second create through node %d: %d %s", other+1, rec.Code, rec.Body)
		}
		get := httpDo(c, (i+3)%5, "GET", path, "", nil)
		etag := get.Header().Get("ETag")
		if get.Code != 200 || etag == "" {
			t.Fatalf("read through node %d: %d %q", (i+3)%5+1, get.Code, etag)
		}
		vc := get.Header().Get("X-Riak-Vclock")
		if rec := httpDo(c, (i+1)%5, "PUT", path, "second", map[string]string{"If-Match": etag, "X-Riak-Vclock": vc}); rec.Code != 204 {
			t.Fatalf("If-Match with another node's ETag through node %d: %d %s", (i+1)%5+1, rec.Code, rec.Body)
		}
		if rec := httpDo(c, (i+4)%5, "GET", path+"?r=all", "", nil); rec.Body.String() != "second" {
			t.Fatalf("after the conditional write through node %d: %q", (i+1)%5+1, rec.Body)
		}
		if rec := httpDo(c, (i+4)%5, "PUT", path, "third", map[string]string{"If-Match": etag, "X-Riak-Vclock": vc}); rec.Code != 412 {
			t.Fatalf("If-Match with a stale ETag through node %d: %d", (i+4)%5+1, rec.Code)
		}
		if rec := httpDo(c, (i+4)%5, "DELETE", path, "", nil); rec.Code != 204 {
			t.Fatalf("delete through node %d: %d %s", (i+4)%5+1, rec.Code, rec.Body)
		}
		for j := range c.Nodes {
			if rec := httpDo(c, j, "GET", path+"?r=all", "", nil); rec.Code != 404 {
				t.Fatalf("read of a deleted key through node %d: %d", j+1, rec.Code)
			}
		}
	}
}
