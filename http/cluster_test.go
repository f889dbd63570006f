package http

import (
	"fmt"
	"time"

	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/riakgo/riakgo/ring"
)

// fakeCluster is a ClusterAdmin over a ring.State, for the routes alone.
type fakeCluster struct {
	mu        sync.Mutex
	st        ring.State
	forwarded bool
	joinErr   error
	staged    []string
}

func (f *fakeCluster) Self() ring.NodeID { return "a" }

func (f *fakeCluster) ClusterDown(ctx context.Context, node ring.NodeID) error {
	if node == "a" {
		return &AdminError{Status: 409, Reason: "is_up", Msg: "a is up"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.staged = append(f.staged, "down "+string(node))
	return nil
}

func (f *fakeCluster) AAEStatus() AAEJSON {
	return AAEJSON{Node: "a", Status: AAEStatusJSON{Exchanges: 9, KeysRepaired: 4}, Unbuilt: []int{3}}
}

func (f *fakeCluster) AAERebuild(p int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.staged = append(f.staged, fmt.Sprintf("aae-rebuild %d", p))
	if p < 0 {
		return 8, nil
	}
	return 1, nil
}

var transfersAt = time.Date(2026, 11, 22, 3, 0, 10, 0, time.UTC)

func (f *fakeCluster) ClusterTransfers(ctx context.Context) (TransfersJSON, error) {
	return TransfersJSON{Now: transfersAt, Down: []ring.NodeID{"c"}, Nodes: []TransferStatusJSON{{
		Node: "a", Waiting: 2, Concurrency: 2, Active: []ProgressJSON{{Kind: "ownership", Partition: 3, From: "a", To: "b",
			Direction: Outbound, Started: transfersAt.Add(-10 * time.Second), Updated: transfersAt, Objects: 500, Bytes: 5 << 20, SizeBytes: 10 << 20}},
	}}}, nil
}
func (f *fakeCluster) ClusterState() ring.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}
func (f *fakeCluster) NodeUp(n ring.NodeID) bool { return n == "a" }
func (f *fakeCluster) ClusterJoin(ctx context.Context, seed string) error {
	return f.joinErr
}
func (f *fakeCluster) ClusterLeave(ctx context.Context, node ring.NodeID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.st.Stage("a", ring.Change{Node: node, Action: ring.ActionLeave}, 2)
	f.st = st
	return err
}
func (f *fakeCluster) ClusterClear(ctx context.Context) error { return nil }
func (f *fakeCluster) ClusterStage(ctx context.Context, action string, node, target ring.NodeID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.staged = append(f.staged, action+" "+string(node)+" "+string(target))
	return nil
}
func (f *fakeCluster) ClusterPlan(ctx context.Context, forwarded bool, seen string) (PlanJSON, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forwarded = forwarded
	p, err := f.st.Plan()
	return PlanToJSON(p), err
}
func (f *fakeCluster) ClusterCommit(ctx context.Context, forwarded bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.st.Commit("a", nil, 3)
	f.st = st
	return err
}

func TestClusterRoutes(t *testing.T) {
	if r := newEnv(t, Options{}).do("GET", "/admin/member-status", nil, nil); r.StatusCode != 501 {
		t.Fatalf("without a cluster: %d %s", r.StatusCode, r.Body())
	}
	a, err := ring.NewState("c", 8, 0, "a", ring.MemberMeta{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ring.Join(ring.State{}, a, "b", ring.MemberMeta{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, _ = st.Advance("a", 1)
	fc := &fakeCluster{st: st, joinErr: &AdminError{Status: 502, Reason: "unreachable", Msg: "nope"}}
	e := newEnv(t, Options{Cluster: fc})

	r := e.do("GET", "/admin/member-status", nil, nil)
	var ms struct {
		Members []MemberJSON
		Pending bool
		Counts  map[string]int
	}
	if err := json.Unmarshal(r.body, &ms); err != nil || r.StatusCode != 200 || len(ms.Members) != 2 || ms.Counts["joining"] != 1 || ms.Members[0].RingPct != 100 {
		t.Fatalf("member-status: %d %s", r.StatusCode, r.Body())
	}
	r = e.do("GET", "/admin/transfers", nil, nil)
	var tj TransfersJSON
	if err := json.Unmarshal(r.body, &tj); err != nil || r.StatusCode != 200 || len(tj.Nodes) != 1 || tj.Nodes[0].Waiting != 2 ||
		len(tj.Nodes[0].Active) != 1 || tj.Nodes[0].Active[0].Bytes != 5<<20 || len(tj.Down) != 1 {
		t.Fatalf("transfers: %d %s", r.StatusCode, r.Body())
	}
	if r = e.do("POST", "/admin/transfers", nil, nil); r.StatusCode != 405 {
		t.Fatalf("POST transfers: %d", r.StatusCode)
	}
	if r = e.do("POST", "/admin/down", nil, []byte(`{"node":"b"}`)); r.StatusCode != 200 {
		t.Fatalf("down: %d %s", r.StatusCode, r.Body())
	}
	if r = e.do("POST", "/admin/down", nil, []byte(`{"node":"a"}`)); r.StatusCode != 409 || !strings.Contains(r.Body(), "is_up") {
		t.Fatalf("down of an up node: %d %s", r.StatusCode, r.Body())
	}
	if r = e.do("POST", "/admin/down", nil, []byte(`{}`)); r.StatusCode != 400 {
		t.Fatalf("down without a node: %d %s", r.StatusCode, r.Body())
	}
	r = e.do("GET", "/admin/aae-status", nil, nil)
	var aj AAEJSON
	if err := json.Unmarshal(r.body, &aj); err != nil || r.StatusCode != 200 || aj.Status.KeysRepaired != 4 || len(aj.Unbuilt) != 1 {
		t.Fatalf("aae-status: %d %s", r.StatusCode, r.Body())
	}
	if r = e.do("POST", "/admin/aae-rebuild?partition=2", nil, nil); r.StatusCode != 200 || !strings.Contains(r.Body(), `"partitions":1`) {
		t.Fatalf("aae-rebuild: %d %s", r.StatusCode, r.Body())
	}
	if r = e.do("POST", "/admin/aae-rebuild", nil, nil); r.StatusCode != 200 || !strings.Contains(r.Body(), `"partitions":8`) {
		t.Fatalf("aae-rebuild all: %d %s", r.StatusCode, r.Body())
	}
	if r = e.do("POST", "/admin/aae-rebuild?partition=x", nil, nil); r.StatusCode != 400 || !strings.Contains(r.Body(), "partition must be") {
		t.Fatalf("aae-rebuild bad partition: %d %s", r.StatusCode, r.Body())
	}
	r = e.do("POST", "/admin/cluster/join", nil, []byte(`{"seed":"127.0.0.1:1"}`))
	if r.StatusCode != 502 || !strings.Contains(r.Body(), `"reason":"unreachable"`) {
		t.Fatalf("join: %d %s", r.StatusCode, r.Body())
	}
	if r = e.do("POST", "/admin/cluster/join", nil, []byte(`{}`)); r.StatusCode != 400 {
		t.Fatalf("join without seed: %d", r.StatusCode)
	}
	r = e.do("GET", "/admin/cluster/plan", hdr(ForwardedHeader, "1"), nil)
	var p PlanJSON
	if err := json.Unmarshal(r.body, &p); err != nil || r.StatusCode != 200 || len(p.Changes) != 1 || p.Changes[0].Action != "join" || !fc.forwarded {
		t.Fatalf("plan: %d %s", r.StatusCode, r.Body())
	}
	if r = e.do("POST", "/admin/cluster/commit", nil, nil); r.StatusCode != 200 {
		t.Fatalf("commit: %d %s", r.StatusCode, r.Body())
	}
	// b, now valid, has not seen the committed ring: not ready.
	r = e.do("POST", "/admin/cluster/commit", nil, nil)
	if r.StatusCode != 409 || !strings.Contains(r.Body(), `"reason":"ring_not_ready"`) {
		t.Fatalf("second commit: %d %s", r.StatusCode, r.Body())
	}
	r = e.do("POST", "/admin/cluster/leave", nil, []byte(`{"node":"zzz"}`))
	if r.StatusCode != 404 || !strings.Contains(r.Body(), `"reason":"not_member"`) {
		t.Fatalf("leave of a stranger: %d %s", r.StatusCode, r.Body())
	}
	r = e.do("GET", "/admin/ring-status", nil, nil)
	var rs RingStatusJSON
	if err := json.Unmarshal(r.body, &rs); err != nil || r.StatusCode != 200 || rs.Claimant != "a" || !rs.ClaimantUp || len(rs.Handoffs) != 1 || len(rs.Unreachable) != 1 {
		t.Fatalf("ring-status: %d %s", r.StatusCode, r.Body())
	}
	if r = e.do("GET", "/admin/cluster/commit", nil, nil); r.StatusCode != 405 {
		t.Fatalf("GET commit: %d", r.StatusCode)
	}
}

func TestClusterStageRoutes(t *testing.T) {
	fc := &fakeCluster{}
	h := NewHandler(nil, Options{Cluster: fc})
	do := func(path, body string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.0.1:40000" // admin routes answer the local machine
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := do("/admin/cluster/force-remove", `{"node":"b"}`); c != 200 {
		t.Errorf("force-remove: %d", c)
	}
	if c := do("/admin/cluster/replace", `{"node":"b","target":"c"}`); c != 200 {
		t.Errorf("replace: %d", c)
	}
	if c := do("/admin/cluster/force-replace", `{"node":"b"}`); c != 400 {
		t.Errorf("force-replace without a target: %d", c)
	}
	if c := do("/admin/cluster/force-remove", `{"node":"b","target":"c"}`); c != 400 {
		t.Errorf("force-remove with a target: %d", c)
	}
	if len(fc.staged) != 2 || fc.staged[0] != "force-remove b " || fc.staged[1] != "replace b c" {
		t.Errorf("staged %q", fc.staged)
	}
}

// TestClusterRouteAnswers pins every cluster admin route's exact answer
// (status, Allow, body), so that the routing can change without the CLI
// seeing a difference.
func TestClusterRouteAnswers(t *testing.T) {
	a, err := ring.NewState("c", 8, 0, "a", ring.MemberMeta{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCluster{st: a}
	h := NewHandler(nil, Options{Cluster: fc})
	for _, tc := range []struct {
		method, path, body string
		status             int
		allow, want        string
	}{
		{"GET", "/admin/member-status", "", 200, "", `{"counts":{"valid":1},"members":[{"node":"a","status":"valid","ring_pct":100,"pending_pct":100,"claimant":true}],"pending":false}`},
		{"PUT", "/admin/member-status", "", 405, "GET, HEAD", "Method PUT is not allowed here; allowed: GET, HEAD\n"},
		{"GET", "/admin/member-status/x", "", 404, "", "not found\n"},
		{"GET", "/admin/aae-status", "", 200, "", `{"node":"a","status":{"exchanges":9,"in_sync":0,"failed":0,"keys_repaired":4,"trees_built":0,"last_exchange":"0001-01-01T00:00:00Z"},"unbuilt":[3]}`},
		{"GET", "/admin/aae-rebuild", "", 405, "POST", "Method GET is not allowed here; allowed: POST\n"},
		{"POST", "/admin/aae-rebuild?partition=3", "", 200, "", `{"partitions":1}`},
		{"POST", "/admin/down", `{"node":"b"}`, 200, "", `{"node":"b"}`},
		{"POST", "/admin/down", `{"node":`, 400, "", `{"error":"invalid json: unexpected end of JSON input"}`},
		{"POST", "/admin/cluster/join", `{"seed":"s"}`, 200, "", `{"node":"a","seed":"s"}`},
		{"POST", "/admin/cluster/leave", ``, 409, "", `{"error":"riakgo/ring: the only member of the cluster: a","reason":"only_member"}`},
		{"POST", "/admin/cluster/force-remove", `{"node":"b"}`, 200, "", `{"node":"b","target":""}`},
		{"POST", "/admin/cluster/replace", `{"node":"b","target":"c"}`, 200, "", `{"node":"b","target":"c"}`},
		{"POST", "/admin/cluster/force-replace", `{"node":"b"}`, 400, "", `{"error":"give node, and target for a replacement"}`},
		{"POST", "/admin/cluster/clear", "", 200, "", `{}`},
		{"GET", "/admin/cluster/plan", "", 409, "", `{"error":"riakgo/ring: nothing planned","reason":"nothing_planned"}`},
		{"POST", "/admin/cluster/plan", "", 405, "GET, HEAD", "Method POST is not allowed here; allowed: GET, HEAD\n"},
		{"POST", "/admin/cluster/nope", "", 404, "", "not found\n"},
		{"POST", "/admin/cluster", "", 404, "", "not found\n"},
		{"GET", "/admin/ring-status", "", 200, "", `{"claimant":"a","claimant_status":"valid","claimant_up":true,"ready":true,"handoffs":[],"down":[],"unreachable":[]}`},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		req.RemoteAddr = "127.0.0.1:40000"
		h.ServeHTTP(rec, req)
		if got := strings.TrimSuffix(rec.Body.String(), "\n"); rec.Code != tc.status || got != strings.TrimSuffix(tc.want, "\n") || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q %q\nwant %d Allow %q %q", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"), rec.Body.String(), tc.status, tc.allow, tc.want)
		}
	}
}

// TestClusterJoinRefusals: a join of the node to itself answers its own
// reason word (riak_core's self_join), which the CLI maps to riak-admin's
// message; other invalid changes stay "invalid".
func TestClusterJoinRefusals(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{ring.ErrSelfJoin, `{"error":"riakgo/ring: invalid cluster change: this node cannot join itself","reason":"self_join"}`},
		{fmt.Errorf("join: %w", ring.ErrSelfJoin), `{"error":"join: riakgo/ring: invalid cluster change: this node cannot join itself","reason":"self_join"}`},
		{fmt.Errorf("%w: empty node name", ring.ErrBadChange), `{"error":"riakgo/ring: invalid cluster change: empty node name","reason":"invalid"}`},
	} {
		h := NewHandler(nil, Options{Cluster: &fakeCluster{joinErr: tc.err}})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/admin/cluster/join", strings.NewReader(`{"seed":"a"}`))
		req.RemoteAddr = "127.0.0.1:40000"
		h.ServeHTTP(rec, req)
		if got := strings.TrimSuffix(rec.Body.String(), "\n"); rec.Code != 400 || got != tc.want {
			t.Errorf("%v: %d %s\nwant 400 %s", tc.err, rec.Code, got, tc.want)
		}
	}
}
