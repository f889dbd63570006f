package http

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv"
)

// Riak's data-type curl examples (reference §11) and their answers.

func (e *env) dtPost(path, body string) *resp {
	e.t.Helper()
	return e.do("POST", path, hdr("Content-Type", "application/json"), []byte(body))
}

func decodeDT(t *testing.T, r *resp) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("data-type body %q: %v", r.body, err)
	}
	return m
}

func datatypeEnv(t *testing.T) *env {
	e := newEnv(t, Options{})
	e.makeType("counters", `{"datatype":"counter"}`)
	e.makeType("sets", `{"datatype":"set"}`)
	e.makeType("maps", `{"datatype":"map"}`)
	e.makeType("hlls", `{"datatype":"hll"}`)
	e.makeType("gsets", `{"datatype":"gset"}`)
	e.makeType("plain", "")
	return e
}

func TestDatatypeCounter(t *testing.T) {
	e := datatypeEnv(t)
	p := "/types/counters/buckets/c/datatypes/k"
	e.get(p).want(t, 404, `{"error":"notfound","type":"counter"}`)
	for _, op := range []string{`{"increment":5}`, `5`, `"increment"`, `{"decrement":2}`, `"decrement"`, `-3`} {
		e.dtPost(p, op).want(t, 204, "")
	}
	e.get(p).want(t, 200, `{"type":"counter","value":5}`)
	e.dtPost(p+"?returnbody=true", `{"increment":1}`).want(t, 200, `{"type":"counter","value":6}`)
	for _, bad := range []string{`{"add":1}`, `{"increment":1,"decrement":1}`, `"up"`, `[1]`, `{"increment":"x"}`} {
		r := e.dtPost(p, bad)
		if r.StatusCode != 400 || !strings.HasPrefix(r.Body(), "Invalid operation on datatype 'counter': ") {
			t.Errorf("op %s: %d %q", bad, r.StatusCode, r.Body())
		}
	}
}

func TestDatatypeSetWithContext(t *testing.T) {
	e := datatypeEnv(t)
	p := "/types/sets/buckets/s/datatypes/k"
	e.dtPost(p, `{"add_all":["b","a","c"]}`).want(t, 204, "")
	m := decodeDT(t, e.get(p).want(t, 200, "-"))
	if got := m["value"].([]any); len(got) != 3 || got[0] != "a" || got[2] != "c" {
		t.Fatalf("set value %v, want sorted [a b c]", got)
	}
	ctx, _ := m["context"].(string)
	if ctx == "" {
		t.Fatal("set fetch has no context")
	}
	// A remove with the fetched context; members applied in the order sent.
	r := e.dtPost(p+"?returnbody=true", `{"remove":"b","add":"d","context":"`+ctx+`"}`).want(t, 200, "-")
	if v := decodeDT(t, r)["value"].([]any); len(v) != 3 || v[0] != "a" || v[1] != "c" || v[2] != "d" {
		t.Fatalf("after remove b, add d: %v", v)
	}
	// Removing an absent element without a context fails the precondition
	// (Riak's text; Riak answers 500, riakgo 412: docs/differences.md).
	e.dtPost(p, `{"remove":"zzz"}`).want(t, 412, "Error:\n{precondition,{not_present,<<\"zzz\">>}}\n")
	e.get(p+"?include_context=false").want(t, 200, `{"type":"set","value":["a","c","d"]}`)
	e.dtPost(p, `{"context":"!!!","add":"x"}`).want(t, 400, "Invalid context: send back the context of an earlier fetch unchanged\n")
}

// dtValue fetches a data type and returns its value as JSON and its context.
func (e *env) dtValue(path string) (string, string) {
	e.t.Helper()
	m := decodeDT(e.t, e.get(path).want(e.t, 200, "-"))
	v, _ := json.Marshal(m["value"])
	ctx, _ := m["context"].(string)
	return string(v), ctx
}

// TestDatatypeSetObservedRemove holds issue 13's three cases over HTTP,
// from riak_kv_wm_crdt and riak_dt_orswot: a remove with a context takes
// away only what the context saw and never answers a precondition failure.
func TestDatatypeSetObservedRemove(t *testing.T) {
	e := datatypeEnv(t)
	p := "/types/sets/buckets/s/datatypes/k"
	e.dtPost(p, `{"add_all":["X","Y"]}`).want(t, 204, "")
	v, c := e.dtValue(p)
	if v != `["X","Y"]` || c == "" {
		t.Fatalf("fetch: %s %q", v, c)
	}
	// 1. Add X and remove X in one update with context C, in either order:
	// the add's new dot is not in C, so X stays.
	for _, body := range []string{`{"add":"X","remove":"X","context":"` + c + `"}`, `{"remove":"X","add":"X","context":"` + c + `"}`} {
		e.dtPost(p, body).want(t, 204, "")
		if v, _ := e.dtValue(p); v != `["X","Y"]` {
			t.Fatalf("%s: value %s, want X kept", body, v)
		}
	}
	// 2. Another client adds Z; removing Z with C (which never saw Z)
	// succeeds and Z stays.
	e.dtPost(p, `{"add":"Z"}`).want(t, 204, "")
	e.dtPost(p, `{"remove":"Z","context":"`+c+`"}`).want(t, 204, "")
	if v, _ := e.dtValue(p); v != `["X","Y","Z"]` {
		t.Fatalf("after removing an unseen Z: %s", v)
	}
	// 3. Removing an element that never existed, with C: a successful no-op.
	e.dtPost(p+"?returnbody=true", `{"remove":"bogus","context":"`+c+`"}`).want(t, 200, "-")
	if v, _ := e.dtValue(p); v != `["X","Y","Z"]` {
		t.Fatalf("after removing bogus: %s", v)
	}
	// The context still removes what it saw: Y.
	e.dtPost(p, `{"remove_all":["Y","Z"],"context":"`+c+`"}`).want(t, 204, "")
	if v, _ := e.dtValue(p); v != `["X","Z"]` {
		t.Fatalf("after removing Y and Z with C: %s", v)
	}
	// Only a remove without a context of an absent element fails.
	e.dtPost(p, `{"remove":"bogus"}`).want(t, 412, "Error:\n{precondition,{not_present,<<\"bogus\">>}}\n")
	// Without a context a set update sees its own add: add then remove
	// takes X away, remove then add keeps it (riak_dt's batch order).
	e.dtPost(p, `{"add":"Q","remove":"Q"}`).want(t, 204, "")
	e.dtPost(p, `{"remove":"X","add":"X"}`).want(t, 204, "")
	if v, _ := e.dtValue(p); v != `["X","Z"]` {
		t.Fatalf("context-free batches: %s", v)
	}
}

// TestDatatypeMapObservedRemove: the same rules for map fields and the
// sets inside a map; a map update's removes apply before its updates, as
// riak_kv_crdt_json orders them.
func TestDatatypeMapObservedRemove(t *testing.T) {
	e := datatypeEnv(t)
	p := "/types/maps/buckets/m/datatypes/k"
	e.dtPost(p, `{"update":{"s_set":{"add_all":["X","Y"]},"n_counter":1}}`).want(t, 204, "")
	_, c := e.dtValue(p)
	// A set in the map: add and remove of X in one update with C keep X.
	e.dtPost(p, `{"update":{"s_set":{"add":"X","remove":"X"}},"context":"`+c+`"}`).want(t, 204, "")
	// Another client adds a register field; removing it with C succeeds
	// and keeps it; so does removing a field that never existed.
	e.dtPost(p, `{"update":{"r_register":"v"}}`).want(t, 204, "")
	e.dtPost(p, `{"remove":["r_register","nope_flag"],"update":{"s_set":{"remove":"bogus"}},"context":"`+c+`"}`).want(t, 204, "")
	if v, _ := e.dtValue(p); v != `{"n_counter":1,"r_register":"v","s_set":["X","Y"]}` {
		t.Fatalf("map after context removes: %s", v)
	}
	// Without a context an absent field or element is the precondition.
	e.dtPost(p, `{"remove":"nope_flag"}`).want(t, 412, "Error:\n{precondition,{not_present,<<\"nope_flag\">>}}\n")
	e.dtPost(p, `{"update":{"s_set":{"remove":"bogus"}}}`).want(t, 412, "Error:\n{precondition,{not_present,<<\"bogus\">>}}\n")
	// Removes go first whatever the member order: the field is removed,
	// then the update re-creates it with Q only.
	e.dtPost(p, `{"update":{"s_set":{"add":"Q"}},"remove":"s_set"}`).want(t, 204, "")
	if v, _ := e.dtValue(p); v != `{"n_counter":1,"r_register":"v","s_set":["Q"]}` {
		t.Fatalf("map after update+remove of s_set: %s", v)
	}
}

func TestDatatypeMap(t *testing.T) {
	e := datatypeEnv(t)
	p := "/types/maps/buckets/m/datatypes/k"
	r := e.dtPost(p+"?returnbody=true", `{"update":{"a_set":{"add":"x"},"b_flag":"enable","c_register":"v","d_map":{"update":{"e_counter":5}}}}`).want(t, 200, "-")
	m := decodeDT(t, r)
	want := `{"a_set":["x"],"b_flag":true,"c_register":"v","d_map":{"e_counter":5}}`
	if got, _ := json.Marshal(m["value"]); string(got) != want {
		t.Fatalf("map value %s, want %s", got, want)
	}
	ctx := m["context"].(string)
	e.dtPost(p, `{"remove":"b_flag","update":{"c_register":{"assign":"w"}},"context":"`+ctx+`"}`).want(t, 204, "")
	got, _ := json.Marshal(decodeDT(t, e.get(p).want(t, 200, "-"))["value"])
	if string(got) != `{"a_set":["x"],"c_register":"w","d_map":{"e_counter":5}}` {
		t.Fatalf("after remove/assign: %s", got)
	}
	e.dtPost(p, `{"update":{"bad":1}}`).want(t, 400, "Invalid map field name 'bad'\n")
	e.dtPost(p, `{"update":{"x_hll":{"add":"a"}}}`).want(t, 400, "Invalid map field name 'x_hll'\n")
	e.dtPost(p, `{"update":{"x_flag":"maybe"}}`).want(t, 400, `Invalid operation on datatype 'map': {"update":{"x_flag":"maybe"}}`+"\n")
}

func TestDatatypeHLLAndGSet(t *testing.T) {
	e := datatypeEnv(t)
	e.dtPost("/types/hlls/buckets/h/datatypes/k", `{"add_all":["a","b","c","a"]}`).want(t, 204, "")
	e.get("/types/hlls/buckets/h/datatypes/k").want(t, 200, `{"type":"hll","value":3}`)
	e.dtPost("/types/gsets/buckets/g/datatypes/k", `{"add":"z","add_all":["y"]}`).want(t, 204, "")
	e.get("/types/gsets/buckets/g/datatypes/k").want(t, 200, `{"type":"gset","value":["y","z"]}`)
	r := e.dtPost("/types/gsets/buckets/g/datatypes/k", `{"remove":"y"}`)
	if r.StatusCode != 400 {
		t.Errorf("remove from a gset: %d", r.StatusCode)
	}
}

func TestDatatypeCreateAndErrors(t *testing.T) {
	e := datatypeEnv(t)
	r := e.dtPost("/types/counters/buckets/c/datatypes", `1`).want(t, 201, "")
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/types/counters/buckets/c/keys/") {
		t.Fatalf("Location %q", loc)
	}
	key := loc[strings.LastIndexByte(loc, '/')+1:]
	e.get("/types/counters/buckets/c/datatypes/"+key).want(t, 200, `{"type":"counter","value":1}`)

	e.do("POST", "/types/counters/buckets/c/datatypes/k", hdr("Content-Type", "text/plain"), []byte("1")).want(t, 406, "-")
	e.dtPost("/types/counters/buckets/c/datatypes/k", `{`).want(t, 400, "Couldn't decode JSON: the body is not valid JSON\n")
	e.get("/types/nope/buckets/c/datatypes/k").want(t, 404, "Unknown bucket type: nope\n")
	e.get("/types/plain/buckets/c/datatypes/k").want(t, 403, "Bucket datatype 'undefined' is not a supported type.\n")
	// A plain write into a data-type bucket is refused.
	r = e.put("/types/maps/buckets/m/keys/k", "text/plain", "x")
	if r.StatusCode != 403 {
		t.Errorf("plain PUT into a map bucket: %d %q", r.StatusCode, r.Body())
	}
	e.alive()
}

// FuzzDatatypeOp: any body parses to a valid operation or a clean error,
// for every data type, without panicking.
func FuzzDatatypeOp(f *testing.F) {
	for _, s := range []string{`{"increment":5}`, `-3`, `"decrement"`, `{"add_all":["a"],"remove":"b"}`,
		`{"update":{"a_set":{"add":"x"},"b_map":{"update":{"c_counter":1}}},"remove":["d_flag"]}`,
		`{"context":"WAEB","add":"x"}`, `{"update":{"r_register":{"assign":"v"}}}`, `[]`, `{`, `{"update":{"x_map":` + strings.Repeat(`{"update":{"x_map":`, 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		op, ctx, err := splitContext([]byte(body))
		if err != nil {
			return
		}
		_ = ctx
		for _, k := range []string{"counter", "set", "map", "hll", "gset"} {
			kind, _ := dtParseKind(k)
			_, _ = parseOp(kind, op, 1, 0)
		}
	})
}

func dtParseKind(s string) (dt.Kind, bool) { return dt.ParseKind(s) }

func TestDatatypeOpLogAndBCounter(t *testing.T) {
	e := datatypeEnv(t)
	e.makeType("ledgers", `{"datatype":"oplog"}`)
	e.makeType("stock", `{"datatype":"bcounter"}`)
	p := "/types/ledgers/buckets/acct/datatypes/alice"
	e.dtPost(p, `{"deposit":100,"note":"salary"}`).want(t, 204, "")
	e.dtPost(p, `{"withdraw":30}`).want(t, 204, "")
	e.dtPost(p+"?returnbody=true", `5`).want(t, 200, `{"type":"oplog","value":{"balance":75,"version":3}}`)
	r := e.dtPost(p, `{"deposit":1,"withdraw":2}`)
	if r.StatusCode != 400 {
		t.Errorf("two amounts: %d", r.StatusCode)
	}

	q := "/types/stock/buckets/w/datatypes/widgets"
	e.dtPost(q, `{"increment":3}`).want(t, 204, "")
	e.dtPost(q, `{"decrement":2}`).want(t, 204, "")
	r = e.dtPost(q, `{"decrement":2}`)
	if r.StatusCode != 409 || !strings.Contains(r.Body(), "insufficient rights") {
		t.Fatalf("overdraw: %d %q, want 409 naming the rights", r.StatusCode, r.Body())
	}
	e.get(q).want(t, 200, `{"type":"bcounter","value":1}`)
}

// TestHLLPrecision: the hll_precision property of datatype hll types, by
// riak_kv_bucket's rules: default 14, 4..16 at creation, an update may keep
// or lower it but never raise it; GET /types/T/props shows it; sketches are
// made at it and reduced when it is lowered.
func TestHLLPrecision(t *testing.T) {
	e := datatypeEnv(t)
	propsOf := func(path string) map[string]any {
		t.Helper()
		return e.get(path).want(t, 200, "-").props(t)
	}
	if p := propsOf("/types/hlls/props"); p["hll_precision"] != json.Number("14") {
		t.Errorf("default hll_precision: %v", p["hll_precision"])
	}
	if _, ok := propsOf("/types/sets/props")["hll_precision"]; ok {
		t.Error("a set type shows hll_precision")
	}
	// Creation: 4..16 and an integer.
	for _, bad := range []string{`3`, `17`, `0`, `"12"`, `12.5`} {
		r := e.admin("PUT", "/badhll", `{"props":{"datatype":"hll","hll_precision":`+bad+`}}`)
		if r.StatusCode != 400 || !strings.Contains(r.Body(), `"hll_precision":"`) || !strings.Contains(r.Body(), "Precision must be an integer between 4 and 16") {
			t.Errorf("create with hll_precision %s: %d %s", bad, r.StatusCode, r.Body())
		}
	}
	for _, good := range []string{"4", "16"} {
		e.admin("PUT", "/okhll"+good, `{"props":{"datatype":"hll","hll_precision":`+good+`}}`).want(t, 200, "-")
	}
	e.makeType("hll12", `{"datatype":"hll","hll_precision":12}`)
	if p := propsOf("/types/hll12/props"); p["hll_precision"] != json.Number("12") {
		t.Fatalf("created at 12: %v", p["hll_precision"])
	}
	k := kv.Key{Type: "hll12", Bucket: "h", Key: "k"}
	hllAt := func() int {
		t.Helper()
		v, err := e.svc.FetchDatatype(context.Background(), k, dt.KindHLL, kv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return v.(*dt.HLL).Precision()
	}
	e.dtPost("/types/hll12/buckets/h/datatypes/k", `{"add_all":["a","b","c"]}`).want(t, 204, "")
	if p := hllAt(); p != 12 {
		t.Fatalf("new sketch at precision %d, want 12", p)
	}
	// Update: the same value succeeds, a larger one fails, a smaller one
	// (also as a string, which Riak converts on update) succeeds.
	setTP := func(v string) *resp {
		return e.do("PUT", "/types/hll12/props", hdr("Content-Type", "application/json"), []byte(`{"props":{"hll_precision":`+v+`}}`))
	}
	setTP("12").want(t, 204, "")
	for _, bad := range []string{"13", "16", "3", `"x"`} {
		r := setTP(bad)
		if r.StatusCode != 400 || !strings.Contains(r.Body(), "can be reduced but never increased") {
			t.Errorf("update to %s: %d %s", bad, r.StatusCode, r.Body())
		}
	}
	setTP("10").want(t, 204, "")
	setTP(`"9"`).want(t, 204, "")
	if p := propsOf("/types/hll12/props"); p["hll_precision"] != json.Number("9") {
		t.Fatalf("after lowering: %v", p["hll_precision"])
	}
	// The stored sketch is read and updated at the new precision.
	if p := hllAt(); p != 9 {
		t.Errorf("sketch read at precision %d after lowering to 9", p)
	}
	e.dtPost("/types/hll12/buckets/h/datatypes/k", `{"add":"d"}`).want(t, 204, "")
	e.get("/types/hll12/buckets/h/datatypes/k").want(t, 200, `{"type":"hll","value":4}`)
	obj, err := e.svc.Get(context.Background(), k, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range obj.Siblings {
		if v, err := dt.Unmarshal(s.Value); err != nil || v.(*dt.HLL).Precision() != 9 {
			t.Errorf("stored sibling: %v (err %v), want a sketch of precision 9", v, err)
		}
	}
	// A bucket of the type may lower it further, never raise it.
	e.setProps("/types/hll12/buckets/b/props", `{"props":{"hll_precision":8}}`)
	r := e.do("PUT", "/types/hll12/buckets/b/props", hdr("Content-Type", "application/json"), []byte(`{"props":{"hll_precision":9}}`))
	if r.StatusCode != 400 || !strings.Contains(r.Body(), "hll_precision") {
		t.Errorf("raising a bucket's precision: %d %s", r.StatusCode, r.Body())
	}
	if p := propsOf("/types/hll12/buckets/b/props"); p["hll_precision"] != json.Number("8") {
		t.Errorf("bucket props: %v", p["hll_precision"])
	}
	// Types of other datatypes ignore it, as Riak's validation does.
	e.do("PUT", "/types/sets/props", hdr("Content-Type", "application/json"), []byte(`{"props":{"hll_precision":3}}`)).want(t, 204, "")
	if _, ok := propsOf("/types/sets/props")["hll_precision"]; ok {
		t.Error("a set type shows hll_precision after an update")
	}
}

// setClock is a clock the test sets; the handler only reads Now.
type setClock struct{ now atomic.Pointer[time.Time] }

func (c *setClock) set(t time.Time)                             { c.now.Store(&t) }
func (c *setClock) Now() time.Time                              { return *c.now.Load() }
func (c *setClock) AfterFunc(time.Duration, func()) clock.Timer { panic("not used") }

// TestDatatypeRegisterTimestampFromClock: a register assignment carries
// the handler's clock's time, so an assignment made "earlier" loses to the
// one already stored (last write wins by timestamp), whatever the wall
// clock says.
func TestDatatypeRegisterTimestampFromClock(t *testing.T) {
	clk := &setClock{}
	e := newEnv(t, Options{Clock: clk})
	e.makeType("maps", `{"datatype":"map"}`)
	p := "/types/maps/buckets/m/datatypes/k"
	clk.set(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	e.dtPost(p, `{"update":{"r_register":"future"}}`).want(t, 204, "")
	clk.set(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	e.dtPost(p, `{"update":{"r_register":"past"}}`).want(t, 204, "")
	got, _ := json.Marshal(decodeDT(t, e.get(p).want(t, 200, "-"))["value"])
	if string(got) != `{"r_register":"future"}` {
		t.Fatalf("register %s, want the later timestamp's value", got)
	}
}
