package http

import (
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestForgedVclockRefused: issue 12, finding 4. A PUT whose X-Riak-Vclock
// is doctored (the vnode's own actor, at an epoch it never leased, with a
// counter at 2^64-1) gets a 400, and writes after it land.
func TestForgedVclockRefused(t *testing.T) {
	e := newEnv(t, Options{})
	const path = "/buckets/b/keys/frozen"
	e.put(path, "text/plain", "v1").want(t, 204, "")
	vc, ae := decodeVclock(e.get(path).Header.Get("X-Riak-Vclock"))
	if ae != nil {
		t.Fatal(ae.body)
	}
	forged := vc.Clone()
	for i := range forged {
		forged[i].Actor.Epoch = math.MaxUint32
		forged[i].Counter = math.MaxUint64
	}
	forged = append(vc.Clone(), forged...)
	r := e.put(path, "text/plain", "forged", "X-Riak-Vclock", encodeVclock(forged))
	if r.StatusCode != 400 || !strings.HasPrefix(r.Body(), "Invalid X-Riak-Vclock header: actor") {
		t.Fatalf("forged clock: %d %q", r.StatusCode, r.Body())
	}
	for _, v := range []string{"v2", "v3"} {
		e.clk.Advance(time.Second)
		e.put(path, "text/plain", v).want(t, 204, "")
		e.get(path).want(t, 200, v)
	}
	e.clk.Advance(time.Second)
	e.do("DELETE", path, nil, nil).want(t, 204, "")
	if r := e.get(path); r.StatusCode != 404 {
		t.Fatalf("delete after the forged put: %d", r.StatusCode)
	}
}

// rawJSONString decodes a JSON string token byte for byte (the escapes
// jsonNames writes; invalid UTF-8 kept as is).
func rawJSONString(t *testing.T, tok []byte) string {
	t.Helper()
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		t.Fatalf("not a JSON string: %q", tok)
	}
	var out []byte
	for i := 1; i < len(tok)-1; i++ {
		c := tok[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch tok[i] {
		case 'u':
			v, err := strconv.ParseUint(string(tok[i+1:i+5]), 16, 16)
			if err != nil || v > 0x7f {
				t.Fatalf("unexpected escape in %q", tok)
			}
			out = append(out, byte(v))
			i += 4
		default:
			out = append(out, tok[i])
		}
	}
	return string(out)
}

// TestNonUTF8KeysRoundTripThroughListings: issue 12, finding 8. A key that
// is not UTF-8 comes back from a key listing (buffered and streamed) and
// from an index query as its own bytes, and the listed key reaches the
// object.
func TestNonUTF8KeysRoundTripThroughListings(t *testing.T) {
	e := newEnv(t, Options{})
	keys := []string{"caf\xe9", "\xff\xfe", "plain", "quo\"te"}
	for _, k := range keys {
		e.put("/buckets/nu/keys/"+url.PathEscape(k), "text/plain", "v", "X-Riak-Index-Field_bin", "x").want(t, 204, "")
	}
	check := func(what string, listed [][]byte) {
		t.Helper()
		var got []string
		for _, tok := range listed {
			k := rawJSONString(t, tok)
			got = append(got, k)
			e.get("/buckets/nu/keys/"+url.PathEscape(k)).want(t, 200, "v")
		}
		slices.Sort(got)
		want := slices.Clone(keys)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s listed %q, want %q", what, got, want)
		}
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(e.get("/buckets/nu/keys?keys=true").body, &doc); err != nil {
		t.Fatal(err)
	}
	raw := func(ms []json.RawMessage) [][]byte {
		out := make([][]byte, len(ms))
		for i, m := range ms {
			out[i] = m
		}
		return out
	}
	check("keys=true", raw(doc.Keys))
	var streamed [][]byte
	dec := json.NewDecoder(strings.NewReader(e.get("/buckets/nu/keys?keys=stream").Body()))
	for dec.More() {
		var chunk struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := dec.Decode(&chunk); err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, raw(chunk.Keys)...)
	}
	check("keys=stream", streamed)
	doc.Keys = nil
	if err := json.Unmarshal(e.get("/buckets/nu/index/field_bin/x").body, &doc); err != nil {
		t.Fatal(err)
	}
	check("index query", raw(doc.Keys))
}
