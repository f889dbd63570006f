package http

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

// props decodes a {"props":{...}} answer.
func (r *resp) props(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("props Content-Type %q", ct)
	}
	var doc struct {
		Props map[string]any `json:"props"`
	}
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil || doc.Props == nil {
		t.Fatalf("props body %q: %v", r.body, err)
	}
	return doc.Props
}

// riakDefaults are Riak 2.2.3's default-type bucket properties (§8).
var riakDefaults = map[string]any{
	"n_val":           json.Number("3"),
	"allow_mult":      false,
	"dvv_enabled":     false,
	"last_write_wins": false,
	"notfound_ok":     true,
	"basic_quorum":    false,
	"r":               "quorum",
	"w":               "quorum",
	"dw":              "quorum",
	"rw":              "quorum",
	"pr":              json.Number("0"),
	"pw":              json.Number("0"),
	"young_vclock":    json.Number("20"),
	"old_vclock":      json.Number("86400"),
	"small_vclock":    json.Number("50"),
	"big_vclock":      json.Number("50"),
	"write_once":      false,
}

func checkProps(t *testing.T, got map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("prop %s = %#v, want %#v", k, got[k], v)
		}
	}
}

func TestBucketProps(t *testing.T) {
	e := newEnv(t, Options{})
	for _, path := range []string{"/buckets/pb/props", "/types/default/buckets/pb/props", "/riak/pb"} {
		p := e.get(path).want(t, 200, "-").props(t)
		checkProps(t, p, riakDefaults)
		checkProps(t, p, map[string]any{"name": "pb"})
		if _, ok := p["chash_keyfun"].(map[string]any); !ok {
			t.Errorf("%s: chash_keyfun %#v, want a {mod,fun} object", path, p["chash_keyfun"])
		}
		if l, ok := p["precommit"].([]any); !ok || len(l) != 0 {
			t.Errorf("%s: precommit %#v, want []", path, p["precommit"])
		}
	}
	e.do("HEAD", "/buckets/pb/props", nil, nil).want(t, 200, "")

	// Set, read back on every path, reset.
	e.setProps("/buckets/pb/props", `{"props":{"n_val":5,"allow_mult":"TRUE","r":"one","pr":2,"last_write_wins":0,"name":"ignored"}}`)
	for _, path := range []string{"/buckets/pb/props", "/types/default/buckets/pb/props", "/riak/pb"} {
		checkProps(t, e.get(path).want(t, 200, "-").props(t), map[string]any{
			"n_val": json.Number("5"), "allow_mult": true, "r": "one", "pr": json.Number("2"), "name": "pb",
			"dvv_enabled": false, "w": "quorum",
		})
	}
	// Only the listed props change; the old API can PUT too.
	e.do("PUT", "/riak/pb", hdr("Content-Type", "application/json"), []byte(`{"props":{"w":"all"}}`)).want(t, 204, "")
	checkProps(t, e.get("/buckets/pb/props").props(t), map[string]any{"n_val": json.Number("5"), "w": "all"})
	// Object quorums follow the new n_val.
	e.put("/buckets/pb/keys/k?w=5", "text/plain", "v").want(t, 204, "")
	e.get("/buckets/pb/keys/k?r=6").want(t, 400, "Specified w/dw/pw values invalid for bucket n value of 5\n")
	// Other buckets are untouched.
	checkProps(t, e.get("/buckets/other/props").props(t), riakDefaults)

	e.do("DELETE", "/buckets/pb/props", nil, nil).want(t, 204, "")
	checkProps(t, e.get("/buckets/pb/props").props(t), riakDefaults)
	e.setProps("/types/default/buckets/pb/props", `{"props":{"allow_mult":true}}`)
	e.do("DELETE", "/types/default/buckets/pb/props", nil, nil).want(t, 204, "")
	checkProps(t, e.get("/buckets/pb/props").props(t), riakDefaults)
	e.alive()
}

func TestBucketPropsErrors(t *testing.T) {
	e := newEnv(t, Options{})
	const help = "bucket PUT must be a JSON object of the form:\n{\"props\":{...bucket properties...}}"
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		want              string
	}{
		{"text content type", "text/plain", `{"props":{"n_val":2}}`, 415, "-"},
		{"no content type", "", `{"props":{"n_val":2}}`, 415, "-"},
		{"json with charset", "application/json; charset=utf-8", `{"props":{"n_val":2}}`, 204, ""},
		{"not json", "application/json", `n_val=2`, 400, help},
		{"no props key", "application/json", `{"n_val":2}`, 400, help},
		{"props null", "application/json", `{"props":null}`, 400, help},
		{"array", "application/json", `[1,2]`, 400, help},
		{"empty", "application/json", ``, 400, help},
		{"n_val string", "application/json", `{"props":{"n_val":"three"}}`, 400, `{"n_val":"not_integer"}`},
		{"n_val zero", "application/json", `{"props":{"n_val":0}}`, 400, `{"n_val":"not_integer"}`},
		{"allow_mult junk", "application/json", `{"props":{"allow_mult":"perhaps"}}`, 400, `{"allow_mult":"not_boolean"}`},
		{"lww with dvv", "application/json", `{"props":{"last_write_wins":true,"dvv_enabled":true}}`, 400, `{"dvv_enabled":"If last_write_wins is true, dvv_enabled must be false"}`},
		{"r junk", "application/json", `{"props":{"r":"most"}}`, 400, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			h := hdr()
			if tc.ctype != "" {
				h.Set("Content-Type", tc.ctype)
			}
			r := e.do("PUT", "/buckets/pe/props", h, []byte(tc.body)).want(t, tc.status, tc.want)
			if strings.HasPrefix(tc.want, "{") && r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("validation error Content-Type %q, want application/json", r.Header.Get("Content-Type"))
			}
			if tc.status == 400 && tc.want == "-" {
				var m map[string]string
				if err := json.Unmarshal(r.body, &m); err != nil || len(m) == 0 {
					t.Errorf("400 body %q is not a JSON {prop: reason} object", r.body)
				}
			}
			e.alive()
		})
	}
	// Only the one valid PUT changed anything.
	checkProps(t, e.get("/buckets/pe/props").props(t), map[string]any{"n_val": json.Number("2"), "allow_mult": false, "r": "quorum"})
}

// TestEmptyBucketPropsDoNotAliasType: the props of a bucket with an empty
// name must not become the bucket type's props.
func TestEmptyBucketPropsDoNotAliasType(t *testing.T) {
	e := newEnv(t, Options{})
	for _, path := range []string{"/buckets//props", "/types/default/buckets//props", "/riak//"} {
		r := e.do("PUT", path, hdr("Content-Type", "application/json"), []byte(`{"props":{"n_val":1}}`))
		if r.StatusCode < 400 || r.StatusCode >= 500 {
			t.Errorf("PUT %s: %d, want a 4xx for an empty bucket name", path, r.StatusCode)
		}
	}
	checkProps(t, e.get("/types/default/props").want(t, 200, "-").props(t), riakDefaults)
	checkProps(t, e.get("/buckets/any/props").want(t, 200, "-").props(t), riakDefaults)
}

func TestTypeProps(t *testing.T) {
	e := newEnv(t, Options{})
	checkProps(t, e.get("/types/default/props").want(t, 200, "-").props(t), riakDefaults)
	e.do("HEAD", "/types/default/props", nil, nil).want(t, 200, "")
	e.get("/types/nope/props").want(t, 404, "-")
	// Bucket overrides do not leak into the type.
	e.setProps("/buckets/x/props", `{"props":{"n_val":1}}`)
	checkProps(t, e.get("/types/default/props").props(t), riakDefaults)
}

func TestPing(t *testing.T) {
	e := newEnv(t, Options{})
	e.get("/ping").want(t, 200, "OK").wantHeader(t, "Content-Type", "text/html")
	e.do("HEAD", "/ping", nil, nil).want(t, 200, "")
}

func TestRoot(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.get("/", "Accept", "application/json").want(t, 200, "-").wantHeader(t, "Content-Type", "application/json")
	var m map[string]string
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("GET / JSON %q: %v", r.body, err)
	}
	// The Python client turns features on from these names.
	for name, prefix := range map[string]string{
		"riak_kv_wm_object":      "",
		"riak_kv_wm_ping":        "/ping",
		"riak_kv_wm_bucket_type": "/types",
		"riak_kv_wm_buckets":     "/buckets",
		"riak_kv_wm_props":       "/buckets",
		"riak_kv_wm_preflist":    "/buckets",
	} {
		v, ok := m[name]
		if !ok || (prefix != "" && v != prefix) {
			t.Errorf("GET / %s = %q (present %v), want %q", name, v, ok, prefix)
		}
	}
	if l := r.Header.Get("Link"); !strings.Contains(l, `</ping>; rel="riak_kv_wm_ping"`) {
		t.Errorf("GET / Link %q", l)
	}
	// Default (no Accept) is HTML.
	h := e.get("/").want(t, 200, "-").wantHeader(t, "Content-Type", "text/html")
	if !strings.Contains(h.Body(), "riak_kv_wm_ping") {
		t.Errorf("HTML listing %q", h.Body())
	}
}

func TestPreflist(t *testing.T) {
	e := newEnv(t, Options{})
	for _, path := range []string{"/buckets/b/keys/k/preflist", "/types/default/buckets/b/keys/k/preflist"} {
		r := e.get(path).want(t, 200, "-").wantHeader(t, "Content-Type", "application/json")
		var doc struct {
			Preflist []struct {
				Partition json.Number `json:"partition"`
				Node      string      `json:"node"`
				Primary   *bool       `json:"primary"`
			} `json:"preflist"`
		}
		d := json.NewDecoder(bytes.NewReader(r.body))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			t.Fatalf("%s: %q: %v", path, r.body, err)
		}
		if len(doc.Preflist) != 3 {
			t.Fatalf("%s: %d entries, want 3: %s", path, len(doc.Preflist), r.body)
		}
		seen := map[string]bool{}
		step := new(big.Int).Lsh(big.NewInt(1), 160-6) // 2^160 / 64
		for _, p := range doc.Preflist {
			if p.Node != "riakgo@127.0.0.1" || p.Primary == nil || !*p.Primary {
				t.Errorf("%s: entry %+v, want a primary on riakgo@127.0.0.1", path, p)
			}
			n, ok := new(big.Int).SetString(p.Partition.String(), 10)
			if !ok || n.Sign() < 0 || new(big.Int).Mod(n, step).Sign() != 0 {
				t.Errorf("%s: partition %s is not a riak_core partition index", path, p.Partition)
			}
			seen[p.Partition.String()] = true
		}
		if len(seen) != 3 {
			t.Errorf("%s: partitions not distinct: %s", path, r.body)
		}
	}
	// n_val shapes the list.
	e.setProps("/buckets/n5/props", `{"props":{"n_val":5}}`)
	if r := e.get("/buckets/n5/keys/k/preflist").want(t, 200, "-"); strings.Count(r.Body(), `"primary":true`) != 5 {
		t.Errorf("n_val 5 preflist: %s", r.body)
	}
}
