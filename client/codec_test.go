package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestSplitContentType(t *testing.T) {
	for _, tc := range []struct{ in, ctype, charset string }{
		{"text/plain", "text/plain", ""},
		{"text/plain; charset=utf-8", "text/plain", "utf-8"},
		{"text/plain;charset=\"x\"", "text/plain", "\"x\""},
		{"application/x; a=1; Charset=latin1; b=2", "application/x; a=1; b=2", "latin1"},
		{"", "", ""},
	} {
		ct, cs := splitContentType(tc.in)
		if ct != tc.ctype || cs != tc.charset {
			t.Errorf("splitContentType(%q) = %q, %q; want %q, %q", tc.in, ct, cs, tc.ctype, tc.charset)
		}
	}
}

func TestParseLinks(t *testing.T) {
	h := `</buckets/b>; rel="up", </buckets/users/keys/bob>; riaktag="friend", </riak/old/k1>; riaktag="v1",` +
		` </types/t/buckets/b%2Fx/keys/k%20y%2Bz>; riaktag="odd+tag", </types/default/buckets/d/keys/k>; riaktag="dflt",` +
		` </elsewhere>; riaktag="x", </buckets/a,b/keys/c>; riaktag="comma, inside", </buckets/n/keys/t>; rel="next", <broken; riaktag="y"`
	want := []Link{
		{Bucket: "users", Key: "bob", Tag: "friend"},
		{Bucket: "old", Key: "k1", Tag: "v1"},
		{Type: "t", Bucket: "b/x", Key: "k y+z", Tag: "odd tag"},
		{Bucket: "d", Key: "k", Tag: "dflt"},
		{Bucket: "a,b", Key: "c", Tag: "comma, inside"},
	}
	if got := parseLinks(h); !reflect.DeepEqual(got, want) {
		t.Errorf("parseLinks:\n got %+v\nwant %+v", got, want)
	}
	out, err := formatLinks(want[:3])
	if err != nil {
		t.Fatal(err)
	}
	if back := parseLinks(out); !reflect.DeepEqual(back, want[:3]) {
		t.Errorf("format/parse round trip: %q → %+v", out, back)
	}
	if _, err := formatLinks([]Link{{Bucket: "b"}}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("link without key: %v", err)
	}
}

func TestKeyFromLocation(t *testing.T) {
	for in, want := range map[string]string{
		"/buckets/b/keys/AbC123":                "AbC123",
		"/types/t/buckets/b/keys/a%2Fb":         "a/b",
		"http://host:8098/buckets/b/keys/x%2By": "x+y",
		"/riak/b/k%20z":                         "k z",
	} {
		if got, err := keyFromLocation(in); err != nil || got != want {
			t.Errorf("keyFromLocation(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/buckets/b/keys/"} {
		if _, err := keyFromLocation(bad); !errors.Is(err, ErrBadResponse) {
			t.Errorf("keyFromLocation(%q): %v", bad, err)
		}
	}
}

func TestSegmentEscaping(t *testing.T) {
	if got := (Loc{Type: "t t", Bucket: "a/b", Key: "x+y%z"}).objectPath(); got != "/types/t%20t/buckets/a%2Fb/keys/x%2By%25z" {
		t.Errorf("objectPath = %q", got)
	}
	if got := (Loc{Bucket: "b", Key: "k"}).objectPath(); got != "/buckets/b/keys/k" {
		t.Errorf("default-type objectPath = %q", got)
	}
}

func TestQuorum(t *testing.T) {
	for _, ok := range []Quorum{"", One, Majority, All, DefaultQuorum, N(0), N(5)} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []Quorum{"two", "-1", "1.5", "ALL "} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%q accepted", bad)
		}
	}
	var q struct{ A, B Quorum }
	if err := json.Unmarshal([]byte(`{"A":3,"B":"quorum"}`), &q); err != nil || q.A != N(3) || q.B != Majority {
		t.Errorf("unmarshal: %+v, %v", q, err)
	}
	b, _ := json.Marshal(q)
	if string(b) != `{"A":3,"B":"quorum"}` {
		t.Errorf("marshal: %s", b)
	}
}

func TestPropsAreLenient(t *testing.T) {
	var p Props
	err := json.Unmarshal([]byte(`{"n_val":"three","allow_mult":true,"r":2,"w":"all","custom":[1,2],"claimant":"riak@x"}`), &p)
	if err != nil {
		t.Fatal(err)
	}
	if p.NVal != 0 || !p.AllowMult || p.R != N(2) || p.W != All || p.Claimant != "riak@x" || string(p.Raw["custom"]) != "[1,2]" || string(p.Raw["n_val"]) != `"three"` {
		t.Errorf("props %+v", p)
	}
}

func TestErrorIs(t *testing.T) {
	for _, tc := range []struct {
		e    *Error
		is   []error
		isnt []error
	}{
		{&Error{Status: 404, Body: "not found\n"}, []error{ErrNotFound}, []error{ErrUnknownType}},
		{&Error{Status: 404, Body: "Unknown bucket type: t"}, []error{ErrUnknownType}, []error{ErrNotFound}},
		{&Error{Status: 412}, []error{ErrPreconditionFailed}, []error{ErrNotFound}},
		{&Error{Status: 304}, []error{ErrNotModified}, nil},
		{&Error{Status: 503, Body: "R-value unsatisfied: 1/2\n"}, []error{ErrUnavailable}, []error{ErrPreconditionFailed}},
		{&Error{Status: 500}, nil, []error{ErrNotFound, ErrUnavailable}},
	} {
		for _, s := range tc.is {
			if !errors.Is(tc.e, s) {
				t.Errorf("%v is not %v", tc.e, s)
			}
		}
		for _, s := range tc.isnt {
			if errors.Is(tc.e, s) {
				t.Errorf("%v is %v", tc.e, s)
			}
		}
	}
	long := &Error{Method: "GET", Path: "/x", Status: 500, Body: strings.Repeat("x", 1000)}
	if len(long.Error()) > 400 {
		t.Errorf("Error() is %d bytes long", len(long.Error()))
	}
}

func TestParseSiblingsEdgeCases(t *testing.T) {
	body := "\r\n--B\r\nContent-Type: text/plain\r\nEtag: one\r\nLast-Modified: Tue, 05 Mar 2024 14:30:15 GMT\r\n" +
		"X-Riak-Index-Tag_bin: a, b\r\nX-Riak-Index-tag_bin: c\r\nX-Riak-Meta-Colour: red\r\n\r\n" +
		"line1\r\n--not-a-boundary\r\n" +
		"\r\n--B\r\nContent-Type: text/plain\r\nEtag: two\r\nX-Riak-Deleted: true\r\n\r\n" +
		"\r\n--B--\r\n"
	sibs, err := parseSiblings(strings.NewReader(body), "B")
	if err != nil {
		t.Fatal(err)
	}
	if len(sibs) != 2 {
		t.Fatalf("%d siblings", len(sibs))
	}
	a, b := sibs[0], sibs[1]
	if string(a.Value) != "line1\r\n--not-a-boundary\r\n" || a.VTag != "one" || a.LastModified.IsZero() {
		t.Errorf("first sibling %+v (value %q)", a, a.Value)
	}
	if got := a.IndexValues("tag_bin"); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("indexes %+v", a.Indexes)
	}
	if v, ok := a.Meta("colour"); !ok || v != "red" {
		t.Errorf("meta %v", a.UserMeta)
	}
	if len(b.Value) != 0 || !b.Deleted || b.VTag != "two" {
		t.Errorf("tombstone sibling %+v", b)
	}
	for _, bad := range []struct{ body, boundary string }{{body, ""}, {"garbage", "B"}, {"\r\n--B--\r\n", "B"}} {
		if _, err := parseSiblings(strings.NewReader(bad.body), bad.boundary); !errors.Is(err, ErrBadResponse) {
			t.Errorf("parseSiblings(%q, %q): %v", bad.body, bad.boundary, err)
		}
	}
}

// A server that answers a 300 in text/plain (ignoring Accept) still gets
// every sibling: the client fetches each by vtag.
func TestTextSiblingsFallback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Riak-Vclock", "clock")
		switch vt := r.URL.Query().Get("vtag"); vt {
		case "":
			if r.URL.Query().Get("r") != "all" {
				t.Errorf("the first read lost its options: %s", r.URL.RawQuery)
			}
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(300)
			w.Write([]byte("Siblings:\nv1\nv2\n"))
		case "v1", "v2":
			if r.URL.Query().Get("r") != "all" {
				t.Errorf("a vtag read lost its options: %s", r.URL.RawQuery)
			}
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Etag", `"`+vt+`"`)
			w.Write([]byte("value " + vt))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := c.Get(context.Background(), Loc{Bucket: "b", Key: "k"}, &GetOptions{R: All})
	if err != nil {
		t.Fatal(err)
	}
	if len(obj.Siblings) != 2 || string(obj.Siblings[0].Value) != "value v1" || obj.Siblings[1].VTag != "v2" || obj.VClock != "clock" {
		t.Errorf("object %+v", obj)
	}
}
