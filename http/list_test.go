package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/siblings"
)

// Listing over HTTP: ?buckets= and ?keys= true|stream on every URL family.

// makeType creates and activates a bucket type on the env's service.
func (e *env) makeType(name, props string) {
	e.t.Helper()
	var raw map[string]json.RawMessage
	if props != "" {
		if err := json.Unmarshal([]byte(props), &raw); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.svc.CreateType(name, raw); err != nil {
		e.t.Fatalf("CreateType(%s): %v", name, err)
	}
	if err := e.svc.ActivateType(name); err != nil {
		e.t.Fatalf("ActivateType(%s): %v", name, err)
	}
}

// store writes a value straight to the service (faster than HTTP for bulk
// set-up).
func (e *env) store(typ, bucket, key string) {
	e.t.Helper()
	k := kv.Key{Type: typ, Bucket: bucket, Key: key}
	if _, err := e.svc.Put(context.Background(), k, []byte("v"), siblings.Meta{ContentType: "text/plain"}, nil, kv.Options{}); err != nil {
		e.t.Fatalf("Put(%s): %v", k, err)
	}
}

// jsonSeq splits a body of concatenated JSON objects.
func jsonSeq(t *testing.T, body []byte) []map[string]json.RawMessage {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	var out []map[string]json.RawMessage
	for {
		var m map[string]json.RawMessage
		err := d.Decode(&m)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("stream body %q: object %d: %v", body, len(out), err)
		}
		out = append(out, m)
	}
}

// names reads a JSON array of strings.
func names(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil || out == nil {
		t.Fatalf("%s: want a JSON array of strings (%v)", raw, err)
	}
	return out
}

// listed decodes a buffered listing {"<field>":[…]} with no other member.
func listed(t *testing.T, r *resp, field string) []string {
	t.Helper()
	r.want(t, 200, "-").wantHeader(t, "Content-Type", "application/json")
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%s: body %q: %v", r.Request.URL, r.body, err)
	}
	if len(m) != 1 || m[field] == nil {
		t.Fatalf("%s: body %s, want only %q", r.Request.URL, r.body, field)
	}
	return names(t, m[field])
}

// streamed decodes a streamed listing: a chunked sequence of
// {"<field>":[…]} objects ending with an empty list. It returns every name
// and the number of non-empty chunks. With props, the first object must be
// {"props":{…}} (the legacy API) and is returned.
func streamed(t *testing.T, r *resp, field string, props bool) (all []string, chunks int, first map[string]json.RawMessage) {
	t.Helper()
	r.want(t, 200, "-").wantHeader(t, "Content-Type", "application/json")
	if !slices.Contains(r.TransferEncoding, "chunked") {
		t.Errorf("%s: Transfer-Encoding %v, want chunked", r.Request.URL, r.TransferEncoding)
	}
	objs := jsonSeq(t, r.body)
	if props {
		if len(objs) == 0 || len(objs[0]) != 1 || objs[0]["props"] == nil {
			t.Fatalf("%s: stream %s, want a props object first", r.Request.URL, r.body)
		}
		first, objs = objs[0], objs[1:]
	}
	if len(objs) == 0 {
		t.Fatalf("%s: stream %s has no %s objects", r.Request.URL, r.body, field)
	}
	all = []string{}
	for i, o := range objs {
		if len(o) != 1 || o[field] == nil {
			t.Fatalf("%s: stream object %d is %v, want only %q", r.Request.URL, i, o, field)
		}
		ns := names(t, o[field])
		last := i == len(objs)-1
		if last != (len(ns) == 0) {
			t.Fatalf("%s: stream %s: want non-empty chunks ended by one empty list", r.Request.URL, r.body)
		}
		if len(ns) > 0 {
			chunks++
		}
		all = append(all, ns...)
	}
	return all, chunks, first
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestListBucketsHTTP(t *testing.T) {
	e := newEnv(t, Options{})
	e.makeType("t", "")
	e.makeType("empty", "")
	for _, b := range []string{"b2", "b1", "b1"} {
		e.store(kv.DefaultType, b, "k"+b)
	}
	e.store("t", "tb", "k")
	e.store("t", "b1", "k")

	for _, path := range []string{"/buckets?buckets=true", "/riak?buckets=true", "/types/default/buckets?buckets=true"} {
		r := e.get(path)
		if got := listed(t, r, "buckets"); !slices.Equal(got, []string{"b1", "b2"}) {
			t.Errorf("%s: %q, want [b1 b2]", path, got)
		}
	}
	e.get("/buckets?buckets=true").want(t, 200, `{"buckets":["b1","b2"]}`)
	e.get("/types/t/buckets?buckets=true").want(t, 200, `{"buckets":["b1","tb"]}`)
	e.get("/types/empty/buckets?buckets=true").want(t, 200, `{"buckets":[]}`)

	for _, path := range []string{"/buckets?buckets=stream", "/riak?buckets=stream", "/types/default/buckets?buckets=stream"} {
		got, _, _ := streamed(t, e.get(path), "buckets", false)
		if !slices.Equal(sorted(got), []string{"b1", "b2"}) {
			t.Errorf("%s: %q, want b1 b2", path, got)
		}
	}
	e.get("/buckets?buckets=stream").want(t, 200, `{"buckets":["b1","b2"]}{"buckets":[]}`)
	e.get("/types/empty/buckets?buckets=stream").want(t, 200, `{"buckets":[]}`)
	got, _, _ := streamed(t, e.get("/types/t/buckets?buckets=stream"), "buckets", false)
	if !slices.Equal(sorted(got), []string{"b1", "tb"}) {
		t.Errorf("typed stream: %q", got)
	}

	// Errors.
	e.get("/types/nope/buckets?buckets=true").want(t, 404, "-")
	e.get("/types/nope/buckets?buckets=stream").want(t, 404, "-")
	e.get("/buckets?buckets=true&timeout=abc").want(t, 400, "Bad timeout value \"abc\"\n")
	e.get("/buckets?buckets=stream&timeout=-5").want(t, 400, "Bad timeout value \"-5\"\n")
	e.get("/buckets?buckets=true&timeout=60000").want(t, 200, `{"buckets":["b1","b2"]}`)
	e.get("/buckets").want(t, 400, "-")
	e.get("/buckets?buckets=maybe").want(t, 400, "-")
	e.do("POST", "/buckets?buckets=true", nil, nil).want(t, 405, "-")
	e.alive()
}

func TestListKeysHTTP(t *testing.T) {
	e := newEnv(t, Options{})
	e.makeType("t", "")
	for _, k := range []string{"k1", "k2", "k3"} {
		e.store(kv.DefaultType, "b", k)
	}
	e.store(kv.DefaultType, "other", "z")
	e.store("t", "b", "x")
	want := []string{"k1", "k2", "k3"}

	for _, path := range []string{"/buckets/b/keys?keys=true", "/types/default/buckets/b/keys?keys=true", "/riak/b?keys=true&props=false"} {
		if got := listed(t, e.get(path), "keys"); !slices.Equal(sorted(got), want) {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
	if got := listed(t, e.get("/types/t/buckets/b/keys?keys=true"), "keys"); !slices.Equal(got, []string{"x"}) {
		t.Errorf("typed keys: %q, want [x]", got)
	}
	e.get("/buckets/empty/keys?keys=true").want(t, 200, `{"keys":[]}`)

	for _, path := range []string{"/buckets/b/keys?keys=stream", "/types/default/buckets/b/keys?keys=stream", "/riak/b?keys=stream&props=false"} {
		got, _, _ := streamed(t, e.get(path), "keys", false)
		if !slices.Equal(sorted(got), want) {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
	e.get("/types/t/buckets/b/keys?keys=stream").want(t, 200, `{"keys":["x"]}{"keys":[]}`)
	e.get("/buckets/empty/keys?keys=stream").want(t, 200, `{"keys":[]}`)

	// Without keys: {} on the new API.
	e.get("/buckets/b/keys").want(t, 200, "{}")
	e.get("/types/t/buckets/b/keys").want(t, 200, "{}")
	e.get("/buckets/b/keys?keys=false").want(t, 200, "{}")

	// The legacy API puts the props first.
	r := e.get("/riak/b?keys=true").want(t, 200, "-")
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &doc); err != nil || len(doc) != 2 || doc["props"] == nil || doc["keys"] == nil {
		t.Fatalf("/riak/b?keys=true: %s, want props and keys", r.body)
	}
	if got := names(t, doc["keys"]); !slices.Equal(sorted(got), want) {
		t.Errorf("/riak/b?keys=true keys %q", got)
	}
	var props map[string]any
	if err := json.Unmarshal(doc["props"], &props); err != nil || props["name"] != "b" || props["n_val"] != float64(3) {
		t.Errorf("/riak/b?keys=true props %s", doc["props"])
	}
	got, _, first := streamed(t, e.get("/riak/b?keys=stream"), "keys", true)
	if !slices.Equal(sorted(got), want) {
		t.Errorf("/riak/b?keys=stream keys %q", got)
	}
	if err := json.Unmarshal(first["props"], &props); err != nil || props["name"] != "b" {
		t.Errorf("/riak/b?keys=stream props %s", first["props"])
	}
	// Without keys the legacy route is the props resource.
	if p := e.get("/riak/b").want(t, 200, "-").props(t); p["name"] != "b" {
		t.Errorf("/riak/b props %v", p)
	}

	// Errors.
	e.get("/types/nope/buckets/b/keys?keys=true").want(t, 404, "-")
	e.get("/types/nope/buckets/b/keys?keys=stream").want(t, 404, "-")
	t.Run("inactive type", func(t *testing.T) {
		e := e.with(t)
		if err := e.svc.CreateType("later", nil); err != nil {
			t.Fatal(err)
		}
		e.get("/types/later/buckets/b/keys?keys=true").want(t, 404, "-")
		e.get("/types/later/buckets?buckets=true").want(t, 404, "-")
	})
	for _, path := range []string{"/buckets/b/keys?keys=true&timeout=abc", "/buckets/b/keys?keys=stream&timeout=1.5", "/riak/b?keys=true&timeout=x"} {
		r := e.get(path).want(t, 400, "-")
		if !bytes.HasPrefix(r.body, []byte("Bad timeout value ")) {
			t.Errorf("%s: body %q", path, r.body)
		}
	}
	e.get("/buckets/b/keys?keys=true&timeout=abc").want(t, 400, "Bad timeout value \"abc\"\n")
	e.do("DELETE", "/buckets/b/keys", nil, nil).want(t, 405, "-")
	e.alive()
}

func TestListKeysStreamChunks(t *testing.T) {
	e := newEnv(t, Options{})
	want := make([]string, 0, 2300)
	for i := 0; i < 2300; i++ {
		k := fmt.Sprintf("key%04d", i)
		want = append(want, k)
		e.store(kv.DefaultType, "big", k)
	}
	got, chunks, _ := streamed(t, e.get("/buckets/big/keys?keys=stream"), "keys", false)
	if !slices.Equal(sorted(got), want) {
		t.Errorf("streamed %d keys, want the 2300 written once each", len(got))
	}
	if chunks < 3 {
		t.Errorf("2300 keys in %d chunks, want at least 3 of at most 1000", chunks)
	}
	r := e.get("/buckets/big/keys?keys=stream")
	for i, o := range jsonSeq(t, r.body) {
		if n := len(names(t, o["keys"])); n > 1000 {
			t.Errorf("chunk %d has %d keys, want at most 1000", i, n)
		}
	}
	if got := listed(t, e.get("/buckets/big/keys?keys=true"), "keys"); !slices.Equal(sorted(got), want) {
		t.Errorf("keys=true: %d keys, want 2300", len(got))
	}
	got, _, _ = streamed(t, e.get("/riak/big?keys=stream"), "keys", true)
	if len(got) != 2300 {
		t.Errorf("legacy stream: %d keys, want 2300", len(got))
	}
}
