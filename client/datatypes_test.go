package client_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/client"
)

// dtExchange is one request the fake data-type server expects and its
// answer, as §11 of the Riak HTTP reference documents them.
type dtExchange struct {
	method, path string
	query        string // the raw query expected
	body         string // expected request JSON ("" for none)
	status       int
	header       map[string]string
	answer       string
}

// fakeDatatypes serves the exchanges in order, checking each request.
func fakeDatatypes(t *testing.T, exchanges []dtExchange) *client.Client {
	t.Helper()
	next := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if next >= len(exchanges) {
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			http.Error(w, "unexpected", 500)
			return
		}
		ex := exchanges[next]
		next++
		if r.Method != ex.method || r.URL.EscapedPath() != ex.path || r.URL.RawQuery != ex.query {
			t.Errorf("request %d: %s %s?%s, want %s %s?%s", next, r.Method, r.URL.EscapedPath(), r.URL.RawQuery, ex.method, ex.path, ex.query)
		}
		body, _ := io.ReadAll(r.Body)
		if ex.body != "" {
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				// Riak answers 406 (sic) to a data-type update that is not JSON.
				w.WriteHeader(406)
				return
			}
			var got, want any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Errorf("request %d: body %q is not JSON: %v", next, body, err)
			}
			json.Unmarshal([]byte(ex.body), &want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("request %d: body %s, want %s", next, body, ex.body)
			}
		} else if len(body) != 0 {
			t.Errorf("request %d: unexpected body %q", next, body)
		}
		for k, v := range ex.header {
			w.Header().Set(k, v)
		}
		if ex.answer != "" && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(ex.status)
		io.WriteString(w, ex.answer)
	}))
	t.Cleanup(func() {
		srv.Close()
		if next != len(exchanges) {
			t.Errorf("%d of %d expected requests made", next, len(exchanges))
		}
	})
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCounters(t *testing.T) {
	c := fakeDatatypes(t, []dtExchange{
		{method: "GET", path: "/types/counters/buckets/c/datatypes/k", status: 200, answer: `{"type":"counter","value":5}`},
		{method: "POST", path: "/types/counters/buckets/c/datatypes/k", body: `{"increment":-3}`, status: 204},
		{method: "POST", path: "/types/counters/buckets/c/datatypes/k", query: "returnbody=true&w=all", body: `{"increment":1}`, status: 200, answer: `{"type":"counter","value":3}`},
		{method: "GET", path: "/types/counters/buckets/c/datatypes/gone", query: "r=one", status: 404, answer: `{"type":"counter","error":"notfound"}`},
		{method: "POST", path: "/types/counters/buckets/c/datatypes", body: `{"increment":2}`, status: 201, header: map[string]string{"Location": "/types/counters/buckets/c/keys/Gen%20Key"}},
	})
	ctx := testCtx(t)
	loc := client.Loc{Type: "counters", Bucket: "c", Key: "k"}
	d, err := c.FetchDatatype(ctx, loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Counter(); err != nil || n != 5 || d.Type != "counter" || d.Context != "" {
		t.Errorf("fetch: %+v (%d, %v)", d, n, err)
	}
	if d, err := c.UpdateCounter(ctx, loc, -3, nil); err != nil || d.Key != "k" || d.Value != nil {
		t.Errorf("decrement: %+v, %v", d, err)
	}
	d, err = c.UpdateCounter(ctx, loc, 1, &client.DatatypeOptions{ReturnBody: true, W: client.All})
	if n, _ := d.Counter(); err != nil || n != 3 || d.Key != "k" {
		t.Errorf("increment with returnbody: %+v, %v", d, err)
	}
	_, err = c.FetchDatatype(ctx, client.Loc{Type: "counters", Bucket: "c", Key: "gone"}, &client.DatatypeOptions{R: client.One})
	var nf *client.NotFoundError
	if !errors.Is(err, client.ErrNotFound) || !errors.As(err, &nf) || nf.Loc.Key != "gone" {
		t.Errorf("missing: %v", err)
	}
	d, err = c.UpdateCounter(ctx, client.Loc{Type: "counters", Bucket: "c"}, 2, nil)
	if err != nil || d.Key != "Gen Key" {
		t.Errorf("generated key: %+v, %v", d, err)
	}
	if _, err := c.UpdateCounter(ctx, client.Loc{Bucket: "c", Key: "k"}, 1, nil); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("no type: %v", err)
	}
}

func TestSets(t *testing.T) {
	c := fakeDatatypes(t, []dtExchange{
		{method: "POST", path: "/types/sets/buckets/s/datatypes/k", body: `{"add_all":["a","b"]}`, status: 204},
		{method: "GET", path: "/types/sets/buckets/s/datatypes/k", status: 200, answer: `{"type":"set","value":["a","b"],"context":"g2wAAAAB"}`},
		{method: "POST", path: "/types/sets/buckets/s/datatypes/k", query: "returnbody=true", body: `{"add_all":["c"],"remove_all":["a"],"context":"g2wAAAAB"}`,
			status: 200, answer: `{"type":"set","value":["b","c"],"context":"g2wAAAAC"}`},
		{method: "POST", path: "/types/sets/buckets/s/datatypes/k", body: `{"remove_all":["zz"]}`, status: 500, header: map[string]string{"Content-Type": "text/plain"},
			answer: "Error:\n{precondition,{not_present,<<\"zz\">>}}\n"},
		{method: "POST", path: "/types/sets/buckets/s/datatypes/k", query: "include_context=false", body: `{"add_all":["x"]}`, status: 403, header: map[string]string{"Content-Type": "text/plain"},
			answer: "Bucket must be allow_mult=true\n"},
	})
	ctx := testCtx(t)
	loc := client.Loc{Type: "sets", Bucket: "s", Key: "k"}
	if _, err := c.UpdateSet(ctx, loc, []string{"a", "b"}, nil, "", nil); err != nil {
		t.Fatal(err)
	}
	d, err := c.FetchDatatype(ctx, loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if members, _ := d.Set(); !slices.Equal(members, []string{"a", "b"}) || d.Context != "g2wAAAAB" {
		t.Fatalf("fetch %+v", d)
	}
	d, err = c.UpdateSet(ctx, loc, []string{"c"}, []string{"a"}, d.Context, &client.DatatypeOptions{ReturnBody: true})
	if err != nil {
		t.Fatal(err)
	}
	if members, _ := d.Set(); !slices.Equal(members, []string{"b", "c"}) || d.Context != "g2wAAAAC" {
		t.Errorf("after update %+v", d)
	}
	_, err = c.UpdateSet(ctx, loc, nil, []string{"zz"}, "", nil)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 500 || e.Body != "Error:\n{precondition,{not_present,<<\"zz\">>}}\n" {
		t.Errorf("remove without context: %v", err)
	}
	_, err = c.UpdateSet(ctx, loc, []string{"x"}, nil, "", &client.DatatypeOptions{IncludeContext: client.Bool(false)})
	if !errors.As(err, &e) || e.Status != 403 {
		t.Errorf("403: %v", err)
	}
	if _, err := c.UpdateSet(ctx, loc, nil, nil, "", nil); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("empty set update: %v", err)
	}
}

func TestMapsAndHLL(t *testing.T) {
	mapOp := `{"update":{"visits_counter":{"increment":1},"name_register":{"assign":"Ann"},"tags_set":{"add_all":["x"]},"vip_flag":"enable",
		"address_map":{"update":{"city_register":"Paris"}}},"remove":["old_set"],"context":"g2wAAAAB"}`
	c := fakeDatatypes(t, []dtExchange{
		{method: "GET", path: "/types/maps/buckets/m/datatypes/k", status: 200,
			answer: `{"type":"map","value":{"a_set":["x"],"b_flag":true,"c_register":"v","d_map":{"e_counter":5}},"context":"g2wAAAAB"}`},
		{method: "POST", path: "/types/maps/buckets/m/datatypes/k", query: "dw=quorum&pw=1", body: mapOp, status: 204},
		{method: "POST", path: "/types/hlls/buckets/h/datatypes/k", query: "returnbody=true", body: `{"add_all":["a","b","a"]}`, status: 200, answer: `{"type":"hll","value":2}`},
		{method: "GET", path: "/types/hlls/buckets/h/datatypes/k", query: "basic_quorum=true&include_context=false&notfound_ok=false&pr=2&r=3&timeout=100", status: 200, answer: `{"type":"hll","value":2}`},
	})
	ctx := testCtx(t)
	loc := client.Loc{Type: "maps", Bucket: "m", Key: "k"}
	d, err := c.FetchDatatype(ctx, loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Map()
	if err != nil || len(m) != 4 || string(m["b_flag"]) != "true" {
		t.Fatalf("map %v, %v", m, err)
	}
	var nested map[string]int
	if json.Unmarshal(m["d_map"], &nested) != nil || nested["e_counter"] != 5 {
		t.Errorf("nested map %s", m["d_map"])
	}
	op := map[string]any{
		"update": map[string]any{
			"visits_counter": map[string]any{"increment": 1},
			"name_register":  map[string]any{"assign": "Ann"},
			"tags_set":       map[string]any{"add_all": []string{"x"}},
			"vip_flag":       "enable",
			"address_map":    map[string]any{"update": map[string]any{"city_register": "Paris"}},
		},
		"remove": []string{"old_set"},
	}
	if _, err := c.UpdateMap(ctx, loc, op, d.Context, &client.DatatypeOptions{DW: client.Majority, PW: client.N(1)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := op["context"]; ok {
		t.Error("UpdateMap modified the caller's operation")
	}
	hll := client.Loc{Type: "hlls", Bucket: "h", Key: "k"}
	d, err = c.UpdateHLL(ctx, hll, []string{"a", "b", "a"}, &client.DatatypeOptions{ReturnBody: true})
	if n, _ := d.Counter(); err != nil || n != 2 {
		t.Errorf("hll: %+v, %v", d, err)
	}
	_, err = c.FetchDatatype(ctx, hll, &client.DatatypeOptions{R: client.N(3), PR: client.N(2), BasicQuorum: client.Bool(true),
		NotFoundOK: client.Bool(false), IncludeContext: client.Bool(false), Timeout: 100_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateDatatype(ctx, loc, "increment", "ctx", nil); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("context with a bare operation: %v", err)
	}
}
