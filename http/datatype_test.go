package http

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/dt"
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
	// Removing an element nobody saw fails the precondition (Riak's text).
	e.dtPost(p, `{"remove":"zzz"}`).want(t, 412, "Error:\n{precondition,{not_present,<<\"zzz\">>}}\n")
	e.get(p+"?include_context=false").want(t, 200, `{"type":"set","value":["a","c","d"]}`)
	e.dtPost(p, `{"context":"!!!","add":"x"}`).want(t, 400, "Invalid context: send back the context of an earlier fetch unchanged\n")
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
