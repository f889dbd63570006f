package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// GET /stats: Riak's stat names, JSON or pretty text.

func statsDoc(t *testing.T, e *env) map[string]any {
	t.Helper()
	r := e.get("/stats").want(t, 200, "-").wantHeader(t, "Content-Type", "application/json")
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("/stats body %q: %v", r.body, err)
	}
	return m
}

// statInt returns an integer stat, failing if it is not a JSON integer.
func statInt(t *testing.T, m map[string]any, name string) int64 {
	t.Helper()
	n, ok := m[name].(json.Number)
	if !ok {
		t.Fatalf("stat %s = %#v, want a number", name, m[name])
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("stat %s = %s, want an integer", name, n)
	}
	return v
}

func TestStatsHTTP(t *testing.T) {
	e := newEnv(t, Options{Version: "9.8.7", ExtraStats: func() map[string]any { return map[string]any{"riakgo_handoff_completed": 4} }})
	m := statsDoc(t, e)
	if n := statInt(t, m, "riakgo_handoff_completed"); n != 4 {
		t.Errorf("riakgo_handoff_completed (from ExtraStats) = %d", n)
	}
	for name, want := range map[string]any{
		"riak_kv_version": "2.2.3",
		"nodename":        "riakgo@127.0.0.1",
		"riakgo_version":  "9.8.7",
	} {
		if m[name] != want {
			t.Errorf("%s = %#v, want %#v", name, m[name], want)
		}
	}
	if members, ok := m["ring_members"].([]any); !ok || len(members) != 1 || members[0] != "riakgo@127.0.0.1" {
		t.Errorf("ring_members = %#v, want [riakgo@127.0.0.1]", m["ring_members"])
	}
	if cn, ok := m["connected_nodes"].([]any); !ok || len(cn) != 0 {
		t.Errorf("connected_nodes = %#v, want []", m["connected_nodes"])
	}
	if n := statInt(t, m, "ring_num_partitions"); n != 64 {
		t.Errorf("ring_num_partitions = %d, want 64", n)
	}
	for _, name := range []string{"node_gets", "node_puts", "node_gets_total", "node_puts_total", "vnode_gets", "vnode_puts"} {
		if n := statInt(t, m, name); n != 0 {
			t.Errorf("%s = %d on a fresh node, want 0", name, n)
		}
	}

	// Requests are counted: 2 PUTs, 3 GETs (a miss counts too).
	e.put("/buckets/s/keys/a", "text/plain", "1").want(t, 204, "")
	e.put("/buckets/s/keys/b", "text/plain", "2").want(t, 204, "")
	e.get("/buckets/s/keys/a").want(t, 200, "1")
	e.get("/buckets/s/keys/b").want(t, 200, "2")
	e.get("/buckets/s/keys/missing").want(t, 404, "-")
	m = statsDoc(t, e)
	for name, want := range map[string]int64{
		"node_gets": 3, "node_gets_total": 3, "node_puts": 2, "node_puts_total": 2,
		"vnode_gets": 9, "vnode_puts": 6, // n_val 3
	} {
		if got := statInt(t, m, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	for _, prefix := range []string{"node_get_fsm_time", "node_put_fsm_time", "node_get_fsm_siblings", "node_get_fsm_objsize"} {
		for _, suffix := range []string{"_mean", "_median", "_95", "_99", "_100"} {
			statInt(t, m, prefix+suffix) // integers, present
		}
	}
	if n := statInt(t, m, "node_get_fsm_siblings_100"); n != 1 {
		t.Errorf("node_get_fsm_siblings_100 = %d, want 1", n)
	}
	if n := statInt(t, m, "node_get_fsm_objsize_100"); n <= 0 {
		t.Errorf("node_get_fsm_objsize_100 = %d, want the object size", n)
	}

	// The one-minute figures age out; the totals stay.
	e.clk.Advance(61 * time.Second)
	m = statsDoc(t, e)
	for name, want := range map[string]int64{"node_gets": 0, "node_puts": 0, "node_gets_total": 3, "node_puts_total": 2, "node_get_fsm_objsize_100": 0} {
		if got := statInt(t, m, name); got != want {
			t.Errorf("a minute later, %s = %d, want %d", name, got, want)
		}
	}

	// Pretty text with Accept: text/plain: the same data, one stat a line.
	r := e.get("/stats", "Accept", "text/plain").want(t, 200, "-").wantHeader(t, "Content-Type", "text/plain")
	body := r.Body()
	if !strings.HasPrefix(body, "{\n") || !strings.HasSuffix(body, "}\n") || !strings.Contains(body, "\n    \"riak_kv_version\": \"2.2.3\",\n") {
		t.Errorf("text stats:\n%s", body)
	}
	var pretty map[string]any
	if err := json.Unmarshal(r.body, &pretty); err != nil {
		t.Errorf("text stats are not JSON: %v", err)
	}
	if len(pretty) != len(m) {
		t.Errorf("text stats have %d fields, JSON %d", len(pretty), len(m))
	}
	if n := strings.Count(body, "\n"); n != len(m)+2 {
		t.Errorf("text stats have %d lines, want one per stat plus braces (%d)", n, len(m)+2)
	}

	e.do("HEAD", "/stats", nil, nil).want(t, 200, "")
	e.do("POST", "/stats", nil, nil).want(t, 405, "-")
	e.get("/stats/x").want(t, 404, "-")
}

// TestStatsHaveContentLength: /stats answers with a Content-Length, never
// chunked, as Riak's (webmachine) does, however many figures a node adds:
// nodiak's stats() reads the body of a response only when it is not
// chunked (it failed once a node's /stats passed net/http's 2 KiB
// chunking buffer).
func TestStatsHaveContentLength(t *testing.T) {
	extra := map[string]any{}
	for i := range 200 {
		extra[fmt.Sprintf("riakgo_padding_figure_%03d", i)] = i
	}
	e := newEnv(t, Options{ExtraStats: func() map[string]any { return extra }})
	for _, accept := range []string{"", "text/plain"} {
		r := e.get("/stats", "Accept", accept).want(t, 200, "-")
		if len(r.body) < 4096 {
			t.Fatalf("/stats is only %d bytes: the test needs more than the chunking buffer", len(r.body))
		}
		if len(r.TransferEncoding) != 0 || r.ContentLength != int64(len(r.body)) {
			t.Errorf("/stats (Accept %q): transfer-encoding %v, content-length %d for %d bytes", accept, r.TransferEncoding, r.ContentLength, len(r.body))
		}
	}
}
