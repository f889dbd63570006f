package http

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	nethttp "net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/kv"
)

// etagRE matches a quoted base62 vtag as the top-level ETag.
var etagRE = regexp.MustCompile(`^"[0-9A-Za-z]{1,27}"$`)

// objectAPIs are the three URL families an object is reachable by: the
// object path, the parent-bucket link they answer, and how a link to
// another object in the default type is rendered.
var objectAPIs = []struct {
	name   string
	object func(b, k string) string
	keys   func(b string) string // POST target that generates a key
	up     func(b string) string
	link   func(b, k string) string
}{
	{
		name:   "buckets",
		object: func(b, k string) string { return "/buckets/" + b + "/keys/" + k },
		keys:   func(b string) string { return "/buckets/" + b + "/keys" },
		up:     func(b string) string { return `</buckets/` + b + `>; rel="up"` },
		link:   func(b, k string) string { return "</buckets/" + b + "/keys/" + k + ">" },
	},
	{
		name:   "types/default",
		object: func(b, k string) string { return "/types/default/buckets/" + b + "/keys/" + k },
		keys:   func(b string) string { return "/types/default/buckets/" + b + "/keys" },
		// Riak writes the parent link in the /buckets form on every API
		// version ≥ 2 (riak_kv_wm_utils:format_links).
		up:   func(b string) string { return `</buckets/` + b + `>; rel="up"` },
		link: func(b, k string) string { return "</buckets/" + b + "/keys/" + k + ">" },
	},
	{
		name:   "riak",
		object: func(b, k string) string { return "/riak/" + b + "/" + k },
		keys:   func(b string) string { return "/riak/" + b },
		up:     func(b string) string { return `</riak/` + b + `>; rel="up"` },
		link:   func(b, k string) string { return "</riak/" + b + "/" + k + ">" },
	},
}

// TestCurlExamples replays Riak's store/fetch curl examples on each URL
// family: the headers written on PUT come back on GET and HEAD.
func TestCurlExamples(t *testing.T) {
	for _, a := range objectAPIs {
		t.Run(a.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			path := a.object("test", "doc")
			link := a.link("b2", "k2") + `; riaktag="friend"`
			e.put(path, "application/json; charset=utf-8", `{"bar":"baz"}`,
				"X-Riak-Meta-Color", "blue",
				"X-Riak-Index-Email_BIN", "ann@example.com, bob@example.com",
				"X-Riak-Index-age_int", "42",
				"Link", link,
			).want(t, 204, "")

			wantLM := testStart.Format(nethttp.TimeFormat)
			for _, method := range []string{"GET", "HEAD"} {
				r := e.do(method, path, nil, nil)
				body := `{"bar":"baz"}`
				if method == "HEAD" {
					body = ""
				}
				r.want(t, 200, body).
					wantHeader(t, "Content-Type", "application/json; charset=utf-8").
					wantHeader(t, "Last-Modified", wantLM).
					wantHeader(t, "Link", a.up("test")+", "+link).
					wantHeader(t, "Vary", "Accept-Encoding").
					wantHeader(t, "X-Riak-Meta-Color", "blue").
					wantHeader(t, "X-Riak-Index-email_bin", "ann@example.com, bob@example.com").
					wantHeader(t, "X-Riak-Index-age_int", "42")
				if et := r.Header.Get("Etag"); !etagRE.MatchString(et) {
					t.Errorf("%s: ETag %q is not a quoted vtag", method, et)
				}
				if lm, err := nethttp.ParseTime(r.Header.Get("Last-Modified")); err != nil || !strings.HasSuffix(r.Header.Get("Last-Modified"), " GMT") || !lm.Equal(testStart) {
					t.Errorf("%s: Last-Modified %q is not RFC 1123 GMT of %v (%v)", method, r.Header.Get("Last-Modified"), testStart, err)
				}
				vc := r.Header.Get("X-Riak-Vclock")
				if _, err := base64.StdEncoding.DecodeString(vc); vc == "" || err != nil {
					t.Errorf("%s: X-Riak-Vclock %q is not base64: %v", method, vc, err)
				}
				if method == "HEAD" && r.ContentLength != int64(len(`{"bar":"baz"}`)) {
					t.Errorf("HEAD Content-Length = %d, want the body's length", r.ContentLength)
				}
			}
			e.alive()
		})
	}
}

func TestUnknownBucketType(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		method string
		body   []byte
	}{{"GET", nil}, {"HEAD", nil}, {"PUT", []byte("x")}, {"DELETE", nil}} {
		r := e.do(tc.method, "/types/nope/buckets/b/keys/k", hdr("Content-Type", "text/plain"), tc.body)
		want := "Unknown bucket type: nope"
		if tc.method == "HEAD" {
			want = ""
		}
		r.want(t, 404, want)
	}
	e.do("POST", "/types/nope/buckets/b/keys", hdr("Content-Type", "text/plain"), []byte("x")).want(t, 404, "Unknown bucket type: nope")
	e.get("/types/nope/buckets/b/props").want(t, 404, "-")
	e.get("/types/nope/props").want(t, 404, "-")
	e.get("/types/nope/buckets/b/keys/k/preflist").want(t, 404, "-")
	e.alive()
}

// TestContentTypeVariants checks how the stored media type and charset
// come back.
func TestContentTypeVariants(t *testing.T) {
	e := newEnv(t, Options{})
	for i, tc := range []struct{ sent, want string }{
		{"text/plain", "text/plain"},
		{"text/plain; charset=utf-8", "text/plain; charset=utf-8"},
		{`application/json; charset="ISO-8859-1"`, `application/json; charset="ISO-8859-1"`}, // Python client form; quotes kept
		{"text/html;charset=utf-8", "text/html; charset=utf-8"},
		{"application/x-custom; version=2", "application/x-custom; version=2"},
		{"image/png", "image/png"},
	} {
		path := "/buckets/ct/keys/k" + string(rune('a'+i))
		e.put(path, tc.sent, "v").want(t, 204, "")
		e.get(path).want(t, 200, "v").wantHeader(t, "Content-Type", tc.want)
	}
}

func TestIndexes(t *testing.T) {
	e := newEnv(t, Options{})
	// Several headers of one field, duplicates and upper case.
	req, _ := nethttp.NewRequest("PUT", e.srv.URL+"/buckets/ix/keys/k", strings.NewReader("v"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Add("X-Riak-Index-Tag_BIN", "b, a")
	req.Header.Add("X-Riak-Index-Tag_BIN", "a, c")
	req.Header.Add("X-Riak-Index-Score_Int", "7, -3, 007")
	e.send(req).want(t, 204, "")
	r := e.get("/buckets/ix/keys/k").want(t, 200, "v")
	got := r.Header.Values("X-Riak-Index-Tag_bin")
	if len(got) != 1 {
		t.Fatalf("tag_bin headers %q, want one comma-joined header", got)
	}
	if vals := strings.Split(got[0], ", "); !sameSet(vals, []string{"a", "b", "c"}) {
		t.Errorf("tag_bin = %q, want a, b, c once each", got[0])
	}
	if vals := strings.Split(r.Header.Get("X-Riak-Index-Score_int"), ", "); !sameSet(vals, []string{"-3", "7"}) {
		t.Errorf("score_int = %q, want -3 and 7 (007 is 7)", r.Header.Get("X-Riak-Index-Score_int"))
	}
	// The wire names are lower-cased.
	rawNames := rawHeaderNames(t, e, "/buckets/ix/keys/k")
	for _, n := range []string{"X-Riak-Index-tag_bin", "X-Riak-Index-score_int"} {
		if !rawNames[n] {
			t.Errorf("raw header %q missing; got %v", n, rawNames)
		}
	}

	for _, tc := range []struct{ name, value, body string }{
		{"X-Riak-Index-age_int", "x", "Could not parse field 'age_int', value 'x'.\n"},
		{"X-Riak-Index-Age_INT", "1, two", "Could not parse field 'age_int', value 'two'.\n"},
		{"X-Riak-Index-age_int", "1.5", "Could not parse field 'age_int', value '1.5'.\n"},
		{"X-Riak-Index-foo", "bar", "Unknown field type for field: 'foo'.\n"},
		{"X-Riak-Index-foo_str", "bar", "Unknown field type for field: 'foo_str'.\n"},
	} {
		e.put("/buckets/ix/keys/bad", "text/plain", "v", tc.name, tc.value).want(t, 400, tc.body)
	}
	e.get("/buckets/ix/keys/bad").want(t, 404, "not found\n")
	e.alive()
}

// rawHeaderNames returns the header names exactly as the server wrote
// them (net/http canonicalises names on the client side).
func rawHeaderNames(t *testing.T, e *env, path string) map[string]bool {
	t.Helper()
	rec := newRecorder()
	req, _ := nethttp.NewRequest("GET", path, nil)
	NewHandler(e.svc, Options{}).ServeHTTP(rec, req)
	names := map[string]bool{}
	for n := range rec.Header() {
		names[n] = true
	}
	return names
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLinks(t *testing.T) {
	e := newEnv(t, Options{})
	// Accepted forms; the rel="up" link is accepted and not stored.
	for _, tc := range []struct{ path, sent, want string }{
		{"/buckets/lk/keys/a", `</buckets/b2/keys/k2>; riaktag="friend"`,
			`</buckets/lk>; rel="up", </buckets/b2/keys/k2>; riaktag="friend"`},
		{"/buckets/lk/keys/b", `</buckets/lk>; rel="up", </buckets/b2/keys/k2>; riaktag="friend", </riak/b3/k3>; riaktag="x"`,
			`</buckets/lk>; rel="up", </buckets/b2/keys/k2>; riaktag="friend", </buckets/b3/keys/k3>; riaktag="x"`},
		{"/riak/lk/c", `</buckets/b2/keys/k2>; riaktag="friend"`,
			`</riak/lk>; rel="up", </riak/b2/k2>; riaktag="friend"`},
		// Names and tags are URL-decoded on input; tags are written back
		// quote_plus-encoded, as Riak does.
		{"/buckets/lk/keys/d", `</buckets/b%20two/keys/k%2F2>; riaktag="a tag"`,
			`</buckets/lk>; rel="up", </buckets/b%20two/keys/k%2F2>; riaktag="a+tag"`},
		{"/buckets/lk/keys/e", `</buckets/b+two/keys/k2>; riaktag="x%2C%22y%22%3B"`,
			`</buckets/lk>; rel="up", </buckets/b%20two/keys/k2>; riaktag="x%2C%22y%22%3B"`},
		{"/types/default/buckets/lk/keys/f", `</types/default/buckets/b2/keys/k2>; riaktag="t", </types/other/buckets/b3/keys/k3>; riaktag="u"`,
			`</buckets/lk>; rel="up", </buckets/b2/keys/k2>; riaktag="t", </types/other/buckets/b3/keys/k3>; riaktag="u"`},
	} {
		e.put(tc.path, "text/plain", "v", "Link", tc.sent).want(t, 204, "")
		e.get(tc.path).want(t, 200, "v").wantHeader(t, "Link", tc.want)
	}

	const help = "Invalid Link header. Links must be of the form\n</buckets/BUCKET/keys/KEY>; riaktag=\"TAG\"\n"
	for _, bad := range []string{
		`garbage`,
		`</buckets/b2/keys/k2>`,
		`</buckets/b2/keys/k2>; rel="next"`,
		`</buckets/b2>; riaktag="t"`,
		`</other/b2/k2/x>; riaktag="t"`,
		`<http://example.com/>; riaktag="t"`,
		`</buckets/b2/keys/k2; riaktag="t"`,
		`</buckets/b2/keys/k%ZZ>; riaktag="t"`,
		`</buckets/b2/keys/k2>; riaktag="100%"`,
	} {
		e.put("/buckets/lk/keys/bad", "text/plain", "v", "Link", bad).want(t, 400, help)
	}
	e.alive()
}

// TestManyLinksRoundTrip: every link a client stores comes back, however
// many and however the client spreads them over Link lines: one line, one
// line per link (up to Riak's 1000 header fields), or lines of at most 8184
// bytes as the Python client splits them for mochiweb (which joins them
// again).
func TestManyLinksRoundTrip(t *testing.T) {
	e := newEnv(t, Options{})
	for _, n := range []int{300, 2000} {
		var links []string
		for i := range n {
			links = append(links, fmt.Sprintf(`</buckets/target/keys/key-%04d>; riaktag="tag%d"`, i, i%7))
		}
		var chunked []string // lines of at most 8184 bytes
		line := ""
		for _, l := range links {
			if line != "" && len(line)+2+len(l) > 8192-8 {
				chunked = append(chunked, line)
				line = ""
			}
			if line != "" {
				line += ", "
			}
			line += l
		}
		chunked = append(chunked, line)
		for name, lines := range map[string][]string{
			"one line":        {strings.Join(links, ", ")},
			"a line per link": links,
			"8 KiB lines":     chunked,
		} {
			path := fmt.Sprintf("/buckets/many/keys/%d-%s", n, strings.ReplaceAll(name, " ", "-"))
			h := hdr("Content-Type", "text/plain")
			for _, l := range lines {
				h.Add("Link", l)
			}
			if len(lines) > DefaultMaxHeaders-2 {
				// More header fields than mochiweb's (and Riak's) 1000.
				e.do("PUT", path, h, []byte("v")).want(t, 400, "Too many header fields: 2004, at most 1000\n")
				continue
			}
			e.do("PUT", path, h, []byte("v")).want(t, 204, "")
			r := e.get(path).want(t, 200, "v")
			var got []string
			for _, v := range r.Header.Values("Link") {
				for _, part := range splitLinks(v) {
					if part = strings.TrimSpace(part); !strings.HasSuffix(part, `rel="up"`) {
						got = append(got, part)
					}
				}
			}
			if len(got) != n || !slices.Equal(got, links) {
				t.Errorf("%d links sent as %s (%d lines): %d came back", n, name, len(lines), len(got))
			}
		}
	}
}

// TestLinkToKeyWithPlus: a link target is a URL and is decoded like a
// request path (+ is a space, %2B a plus), and the rendered link, followed
// as a URL, reaches the same object.
func TestLinkToKeyWithPlus(t *testing.T) {
	e := newEnv(t, Options{})
	e.put("/buckets/b2/keys/a%2Bb", "text/plain", "plus").want(t, 204, "")
	e.put("/buckets/b2/keys/a+b", "text/plain", "space").want(t, 204, "")
	e.put("/buckets/lp/keys/k", "text/plain", "v", "Link", `</buckets/b2/keys/a%2Bb>; riaktag="p", </buckets/b2/keys/a+b>; riaktag="s"`).want(t, 204, "")
	r := e.get("/buckets/lp/keys/k").want(t, 200, "v")
	targets := map[string]string{}
	for _, part := range splitLinks(r.Header.Get("Link")) {
		part = strings.TrimSpace(part)
		if tag := linkParam(part[strings.IndexByte(part, '>')+1:], "riaktag"); tag != "" {
			targets[tag] = part[1:strings.IndexByte(part, '>')]
		}
	}
	for tag, want := range map[string]string{"p": "plus", "s": "space"} {
		e.get(targets[tag]).want(t, 200, want)
	}
}

func TestPostCreatesKey(t *testing.T) {
	for _, a := range objectAPIs {
		t.Run(a.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			r := e.do("POST", a.keys("gen"), hdr("Content-Type", "text/plain"), []byte("hello")).want(t, 201, "")
			loc := r.Header.Get("Location")
			key := loc[strings.LastIndexByte(loc, '/')+1:]
			if !regexp.MustCompile(`^[0-9A-Za-z]{1,27}$`).MatchString(key) {
				t.Fatalf("Location %q: key %q is not base62", loc, key)
			}
			if loc != a.object("gen", key) {
				t.Errorf("Location %q, want %q", loc, a.object("gen", key))
			}
			if r.Header.Get("X-Riak-Vclock") != "" {
				t.Errorf("201 without returnbody has X-Riak-Vclock")
			}
			e.get(loc).want(t, 200, "hello")
			e.get(a.object("gen", key)).want(t, 200, "hello")

			// returnbody=true: 201 with the object.
			r = e.do("POST", a.keys("gen")+"?returnbody=true", hdr("Content-Type", "text/plain", "X-Riak-Meta-M", "1"), []byte("again")).
				want(t, 201, "again").wantHeader(t, "Content-Type", "text/plain").wantHeader(t, "X-Riak-Meta-M", "1")
			loc2 := r.Header.Get("Location")
			if loc2 == "" || loc2 == loc {
				t.Fatalf("second Location %q (first %q): want a new key", loc2, loc)
			}
			if r.Header.Get("X-Riak-Vclock") == "" || !etagRE.MatchString(r.Header.Get("Etag")) {
				t.Errorf("returnbody 201 lacks X-Riak-Vclock or ETag: %v", r.Header)
			}
			e.get(loc2).want(t, 200, "again")
		})
	}
}

func TestPutReturnBody(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.put("/buckets/rb/keys/k", "text/plain", "one").want(t, 204, "")
	if r.Header.Get("X-Riak-Vclock") != "" || r.Header.Get("Etag") != "" {
		t.Errorf("204 carries object headers: %v", r.Header)
	}
	// Riak's 204s carry a Content-Type, and clients (nodiak) parse it.
	if r.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("204 Content-Type %q, want the stored media type", r.Header.Get("Content-Type"))
	}
	// The manual clock stands still; blind writes on an allow_mult=false
	// bucket are resolved by Last-Modified, so move it on between writes.
	e.clk.Advance(time.Second)
	r = e.put("/buckets/rb/keys/k?returnbody=true", "text/plain; charset=utf-8", "two", "X-Riak-Meta-A", "b").
		want(t, 200, "two").
		wantHeader(t, "Content-Type", "text/plain; charset=utf-8").
		wantHeader(t, "X-Riak-Meta-A", "b").
		wantHeader(t, "Link", `</buckets/rb>; rel="up"`).
		wantHeader(t, "Last-Modified", testStart.Add(time.Second).Format(nethttp.TimeFormat))
	if !etagRE.MatchString(r.Header.Get("Etag")) || r.Header.Get("X-Riak-Vclock") == "" {
		t.Errorf("returnbody lacks ETag/X-Riak-Vclock: %v", r.Header)
	}
	g := e.get("/buckets/rb/keys/k").want(t, 200, "two")
	if g.Header.Get("Etag") != r.Header.Get("Etag") || g.Header.Get("X-Riak-Vclock") != r.Header.Get("X-Riak-Vclock") {
		t.Errorf("GET after returnbody: ETag/vclock %q %q, PUT said %q %q", g.Header.Get("Etag"), g.Header.Get("X-Riak-Vclock"), r.Header.Get("Etag"), r.Header.Get("X-Riak-Vclock"))
	}
	// returnbody takes exactly "true".
	e.clk.Advance(time.Second)
	e.put("/buckets/rb/keys/k?returnbody=yes", "text/plain", "three").want(t, 204, "")
	// POST to a key behaves like PUT.
	e.clk.Advance(time.Second)
	e.do("POST", "/buckets/rb/keys/k", hdr("Content-Type", "text/plain"), []byte("four")).want(t, 204, "")
	e.get("/buckets/rb/keys/k").want(t, 200, "four")
}

// siblingsEnv makes bucket sb allow siblings and writes two blind values
// to key k.
func siblingsEnv(t *testing.T) *env {
	e := newEnv(t, Options{})
	e.setProps("/buckets/sb/props", `{"props":{"allow_mult":true}}`)
	e.put("/buckets/sb/keys/k", "text/plain", "one", "X-Riak-Meta-N", "1", "X-Riak-Index-n_int", "1",
		"Link", `</buckets/o/keys/x>; riaktag="t"`).want(t, 204, "")
	e.clk.Advance(2 * time.Second)
	e.put("/buckets/sb/keys/k", "application/json; charset=utf-8", `"two"`).want(t, 204, "")
	return e
}

// vtags returns the vtags of the text/plain sibling listing.
func vtags(t *testing.T, r *resp) []string {
	t.Helper()
	l := lines(r.Body())
	if l[0] != "Siblings:" {
		t.Fatalf("sibling body %q does not start with Siblings:", r.Body())
	}
	return l[1:]
}

func TestSiblingsText(t *testing.T) {
	e := siblingsEnv(t)
	for _, accept := range []string{"", "text/plain", "*/*"} {
		r := e.get("/buckets/sb/keys/k", "Accept", accept).want(t, 300, "-").
			wantHeader(t, "Content-Type", "text/plain").
			wantHeader(t, "Last-Modified", testStart.Add(2*time.Second).Format(nethttp.TimeFormat))
		if !regexp.MustCompile(`^Siblings:\n[0-9A-Za-z]+\n[0-9A-Za-z]+\n$`).MatchString(r.Body()) {
			t.Errorf("Accept %q: body %q", accept, r.Body())
		}
		if r.Header.Get("X-Riak-Vclock") == "" || !etagRE.MatchString(r.Header.Get("Etag")) {
			t.Errorf("300 lacks X-Riak-Vclock or quoted ETag: %v", r.Header)
		}
		if v := r.Header.Get("Vary"); !strings.Contains(v, "Accept") {
			t.Errorf("300 Vary = %q, want Accept", v)
		}
	}
	r := e.do("HEAD", "/buckets/sb/keys/k", nil, nil).want(t, 300, "")
	if r.Header.Get("X-Riak-Vclock") == "" {
		t.Errorf("HEAD 300 lacks X-Riak-Vclock")
	}
}

func TestSiblingsMultipart(t *testing.T) {
	e := siblingsEnv(t)
	text := e.get("/buckets/sb/keys/k").want(t, 300, "-")
	tags := vtags(t, text)

	for _, accept := range []string{
		"multipart/mixed",
		"multipart/mixed, application/json, */*;q=0.5", // the Python client's
	} {
		r := e.get("/buckets/sb/keys/k", "Accept", accept).want(t, 300, "-")
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/mixed" {
			t.Fatalf("Accept %q: Content-Type %q (%v)", accept, r.Header.Get("Content-Type"), err)
		}
		b := params["boundary"]
		if !regexp.MustCompile(`^[0-9A-Za-z]{1,27}$`).MatchString(b) {
			t.Errorf("boundary %q is not base62", b)
		}
		if r.Header.Get("X-Riak-Vclock") != text.Header.Get("X-Riak-Vclock") {
			t.Errorf("multipart vclock differs from text/plain one")
		}
		body := r.Body()
		if !strings.HasPrefix(body, "\r\n--"+b+"\r\n") || !strings.HasSuffix(body, "\r\n--"+b+"--\r\n") || strings.Count(body, "\r\n--"+b) != 3 {
			t.Fatalf("multipart body layout: %q", body)
		}
		// Exact layout of each part, in Riak's header order.
		parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(body, "\r\n--"+b+"\r\n"), "\r\n--"+b+"--\r\n"), "\r\n--"+b+"\r\n")
		lm1, lm2 := testStart.Format(nethttp.TimeFormat), testStart.Add(2*time.Second).Format(nethttp.TimeFormat)
		want := map[string]string{
			"one": "Content-Type: text/plain\r\n" +
				`Link: </buckets/sb>; rel="up", </buckets/o/keys/x>; riaktag="t"` + "\r\n" +
				"Etag: %s\r\nLast-Modified: " + lm1 + "\r\nX-Riak-Meta-N: 1\r\nX-Riak-Index-n_int: 1\r\n\r\none",
			`"two"`: "Content-Type: application/json; charset=utf-8\r\n" +
				`Link: </buckets/sb>; rel="up"` + "\r\n" +
				"Etag: %s\r\nLast-Modified: " + lm2 + "\r\n\r\n\"two\"",
		}
		seenTags := []string{}
		for _, p := range parts {
			val := p[strings.Index(p, "\r\n\r\n")+4:]
			tmpl, ok := want[val]
			if !ok {
				t.Fatalf("unexpected part %q", p)
			}
			m := regexp.MustCompile(`\r\nEtag: ([^\r]*)\r\n`).FindStringSubmatch(p)
			if m == nil {
				t.Fatalf("part without Etag: %q", p)
			}
			seenTags = append(seenTags, m[1])
			if exp := strings.Replace(tmpl, "%s", m[1], 1); p != exp {
				t.Errorf("part\n%q\nwant\n%q", p, exp)
			}
		}
		if !sameSet(seenTags, tags) {
			t.Errorf("part Etags %q (must be unquoted) differ from text/plain vtags %q", seenTags, tags)
		}

		// And a standard multipart reader agrees.
		mr := multipart.NewReader(strings.NewReader(body), b)
		var vals []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			v, _ := io.ReadAll(p)
			vals = append(vals, string(v))
			if p.Header.Get("Etag") == "" || strings.Contains(p.Header.Get("Etag"), `"`) {
				t.Errorf("part Etag %q", p.Header.Get("Etag"))
			}
		}
		if !sameSet(vals, []string{"one", `"two"`}) {
			t.Errorf("multipart values %q", vals)
		}
	}
	// A multipart-only Accept on a single value is not acceptable (406).
	e.put("/buckets/plain/keys/k", "text/plain", "v").want(t, 204, "")
	e.get("/buckets/plain/keys/k", "Accept", "multipart/mixed").want(t, 406, "-")
	e.get("/buckets/plain/keys/k", "Accept", "multipart/mixed, application/json, */*;q=0.5").want(t, 200, "v")
	e.get("/buckets/plain/keys/k", "Accept", "application/json").want(t, 406, "-")
	e.get("/buckets/plain/keys/k", "Accept", "text/*").want(t, 200, "v")
}

func TestSiblingsVtagAndResolve(t *testing.T) {
	e := siblingsEnv(t)
	text := e.get("/buckets/sb/keys/k").want(t, 300, "-")
	vc := text.Header.Get("X-Riak-Vclock")
	seen := map[string]bool{}
	for _, tag := range vtags(t, text) {
		r := e.get("/buckets/sb/keys/k?vtag="+tag).want(t, 200, "-").
			wantHeader(t, "Etag", `"`+tag+`"`).
			wantHeader(t, "X-Riak-Vclock", vc)
		seen[r.Body()] = true
		if r.Body() == "one" {
			r.wantHeader(t, "X-Riak-Meta-N", "1").wantHeader(t, "Content-Type", "text/plain")
		}
	}
	if !seen["one"] || !seen[`"two"`] {
		t.Errorf("?vtag= picked %v, want both values", seen)
	}
	e.get("/buckets/sb/keys/k?vtag=nosuchvtag").want(t, 404, "-")

	// PUT with the 300's clock resolves the siblings.
	e.put("/buckets/sb/keys/k?returnbody=true", "text/plain", "merged", "X-Riak-Vclock", vc).want(t, 200, "merged")
	e.get("/buckets/sb/keys/k").want(t, 200, "merged")
	e.get("/buckets/sb/keys/k", "Accept", "multipart/mixed, application/json, */*;q=0.5").want(t, 200, "merged")
}

func TestSiblingsReturnBody(t *testing.T) {
	e := siblingsEnv(t)
	e.put("/buckets/sb/keys/k?returnbody=true", "text/plain", "three").want(t, 300, "-")
	r := e.put("/buckets/sb/keys/k?returnbody=true", "text/plain", "four", "Accept", "multipart/mixed").want(t, 300, "-")
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/mixed; boundary=") {
		t.Errorf("returnbody with Accept multipart: Content-Type %q", r.Header.Get("Content-Type"))
	}
}

// rmwWriter is one read-modify-write writer: the clock it last read.
type rmwWriter struct {
	vclock string
	read   bool // has read, must write next
}

// TestReadModifyWriteBoundsSiblings: two writers interleave 100 GET/PUT
// cycles on one key; with dotted version vectors each write replaces what
// its writer read, so no read ever sees more than two siblings.
func TestReadModifyWriteBoundsSiblings(t *testing.T) {
	e := newEnv(t, Options{})
	e.setProps("/buckets/dvv/props", `{"props":{"allow_mult":true,"dvv_enabled":true}}`)
	rnd := lockedRand(7)
	var w [2]rmwWriter
	const path = "/buckets/dvv/keys/k"
	maxSib := 0
	cycles := 0
	for step := 0; cycles < 100; step++ {
		i := int(rnd() % 2)
		if step%7 == 3 {
			i = step % 2 // make sure both writers also move in lock-step
		}
		if !w[i].read {
			r := e.get(path, "Accept", "multipart/mixed, application/json, */*;q=0.5")
			switch r.StatusCode {
			case 404:
				w[i].vclock = ""
			case 200:
				w[i].vclock = r.Header.Get("X-Riak-Vclock")
				maxSib = max(maxSib, 1)
			case 300:
				n := strings.Count(r.Body(), "\r\nEtag: ")
				maxSib = max(maxSib, n)
				if n > 2 {
					t.Fatalf("cycle %d: %d siblings", cycles, n)
				}
				w[i].vclock = r.Header.Get("X-Riak-Vclock")
			default:
				t.Fatalf("GET: %d %q", r.StatusCode, r.Body())
			}
			w[i].read = true
			continue
		}
		h := []string{}
		if w[i].vclock != "" {
			h = append(h, "X-Riak-Vclock", w[i].vclock)
		}
		e.put(path, "text/plain", "w"+string(rune('0'+i)), h...).want(t, 204, "")
		w[i].read = false
		cycles++
	}
	if maxSib != 2 {
		t.Errorf("max siblings seen %d, want 2 (the writers never raced?)", maxSib)
	}
}

func TestTombstones(t *testing.T) {
	for _, a := range objectAPIs {
		t.Run(a.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			path := a.object("tb", "k")
			e.put(path, "text/plain", "v").want(t, 204, "")
			e.do("DELETE", path, nil, nil).want(t, 204, "")
			r := e.get(path).want(t, 404, "not found\n").wantHeader(t, "X-Riak-Deleted", "true")
			vc := r.Header.Get("X-Riak-Vclock")
			if vc == "" {
				t.Fatalf("tombstone 404 has no X-Riak-Vclock")
			}
			// Deleting again: 404 (Riak's pre-read finds the tombstone).
			e.do("DELETE", path, nil, nil).want(t, 404, "not found\n").
				wantHeader(t, "X-Riak-Deleted", "true").wantHeader(t, "X-Riak-Vclock", vc)
			// Deleting a key that never existed: 404.
			e.do("DELETE", a.object("tb", "never"), nil, nil).want(t, 404, "not found\n").
				wantHeader(t, "X-Riak-Deleted", "").wantHeader(t, "X-Riak-Vclock", "")
			e.get(a.object("tb", "never")).want(t, 404, "not found\n").wantHeader(t, "X-Riak-Deleted", "").wantHeader(t, "X-Riak-Vclock", "")

			// Writing after the delete with the tombstone's clock gives one
			// value, even with siblings allowed.
			e.setProps(propsPath(a.name, "tb"), `{"props":{"allow_mult":true}}`)
			e.put(path, "text/plain", "back", "X-Riak-Vclock", vc).want(t, 204, "")
			e.get(path).want(t, 200, "back")
		})
	}
}

func propsPath(api, b string) string {
	switch api {
	case "riak":
		return "/riak/" + b
	case "types/default":
		return "/types/default/buckets/" + b + "/props"
	}
	return "/buckets/" + b + "/props"
}

// TestTombstoneSibling: a blind write racing a delete leaves a tombstone
// sibling, shown in multipart with X-Riak-Deleted.
func TestTombstoneSibling(t *testing.T) {
	e := newEnv(t, Options{})
	e.setProps("/buckets/ts/props", `{"props":{"allow_mult":true}}`)
	r := e.put("/buckets/ts/keys/k?returnbody=true", "text/plain", "v").want(t, 200, "v")
	vc := r.Header.Get("X-Riak-Vclock")
	e.put("/buckets/ts/keys/k", "text/plain", "w").want(t, 204, "") // blind: sibling of v
	e.do("DELETE", "/buckets/ts/keys/k", hdr("X-Riak-Vclock", vc), nil).want(t, 204, "")
	m := e.get("/buckets/ts/keys/k", "Accept", "multipart/mixed").want(t, 300, "-")
	if !strings.Contains(m.Body(), "\r\nX-Riak-Deleted: true\r\n") {
		t.Errorf("multipart lacks the tombstone sibling: %q", m.Body())
	}
	for _, tag := range vtags(t, e.get("/buckets/ts/keys/k").want(t, 300, "-")) {
		g := e.get("/buckets/ts/keys/k?vtag="+tag).want(t, 200, "-")
		if (g.Body() == "") != (g.Header.Get("X-Riak-Deleted") == "true") {
			t.Errorf("vtag %s: body %q, X-Riak-Deleted %q", tag, g.Body(), g.Header.Get("X-Riak-Deleted"))
		}
	}
}

func TestAcceptNegotiation(t *testing.T) {
	for _, tc := range []struct {
		accept, mt string
		ok         bool
	}{
		{"", "text/plain", true},
		{"*/*", "application/json", true},
		{"text/*", "text/plain", true},
		{"text/*", "application/json", false},
		{"TEXT/PLAIN", "text/plain", true},
		{"application/json", "text/plain", false},
		{"multipart/mixed", "text/plain", false},
		{"multipart/mixed, application/json, */*;q=0.5", "image/png", true},
		{"text/plain;q=0", "text/plain", false},
		{"text/plain; q=0", "text/plain", false},
		{"text/plain;q=0.0", "text/plain", false},
		{"text/plain;q=0.000", "text/plain", false},
		{"text/plain;q=0.5", "text/plain", true},
		{"text/plain; q = 0.5", "text/plain", true},
		{"text/plain;q=1", "text/plain", true},
		{"text/html, text/plain;level=1", "text/plain", true},
	} {
		if got := acceptable(tc.accept, tc.mt); got != tc.ok {
			t.Errorf("acceptable(%q, %q) = %v, want %v", tc.accept, tc.mt, got, tc.ok)
		}
	}
	for _, tc := range []struct {
		accept string
		mp     bool
	}{
		{"", false},
		{"*/*", false},
		{"text/plain", false},
		{"multipart/mixed", true},
		{"MULTIPART/MIXED", true},
		{"multipart/mixed, application/json, */*;q=0.5", true},
		{"application/json, multipart/mixed;q=0.9", false},
		{"multipart/mixed;q=0", false},
		{"text/plain;q=0.5, multipart/mixed;q=0.6", true},
	} {
		if got := prefersMultipart(tc.accept); got != tc.mp {
			t.Errorf("prefersMultipart(%q) = %v, want %v", tc.accept, got, tc.mp)
		}
	}
}

// TestBoundaryFromOptionsRand: the multipart boundary, like generated
// keys, comes from Options.Rand, so a seeded test is reproducible.
func TestBoundaryFromOptionsRand(t *testing.T) {
	e := newEnv(t, Options{Rand: func() uint64 { return 42 }})
	e.setProps("/buckets/sb/props", `{"props":{"allow_mult":true}}`)
	e.put("/buckets/sb/keys/k", "text/plain", "one").want(t, 204, "")
	e.put("/buckets/sb/keys/k", "text/plain", "two").want(t, 204, "")
	r := e.get("/buckets/sb/keys/k", "Accept", "multipart/mixed").want(t, 300, "-")
	want := "multipart/mixed; boundary=" + kv.Base62(42, 42)
	if got := r.Header.Get("Content-Type"); got != want {
		t.Errorf("Content-Type %q, want %q", got, want)
	}
}

// TestConcurrentReadModifyWrite: the same bound holds when two writers
// really run at once, each doing 50 GET-then-PUT-with-that-clock cycles.
func TestConcurrentReadModifyWrite(t *testing.T) {
	e := newEnv(t, Options{})
	e.setProps("/buckets/dvv/props", `{"props":{"allow_mult":true,"dvv_enabled":true}}`)
	url := e.srv.URL + "/buckets/dvv/keys/k"
	client := e.srv.Client()
	errs := make(chan error, 2)
	for w := 0; w < 2; w++ {
		go func() {
			errs <- func() error {
				for i := 0; i < 50; i++ {
					req, _ := nethttp.NewRequest("GET", url, nil)
					req.Header.Set("Accept", "multipart/mixed, application/json, */*;q=0.5")
					r, err := client.Do(req)
					if err != nil {
						return err
					}
					body, _ := io.ReadAll(r.Body)
					r.Body.Close()
					if n := strings.Count(string(body), "\r\nEtag: "); r.StatusCode == 300 && n > 2 {
						return fmt.Errorf("writer %d cycle %d: %d siblings", w, i, n)
					}
					if r.StatusCode != 200 && r.StatusCode != 300 && r.StatusCode != 404 {
						return fmt.Errorf("GET: %d %q", r.StatusCode, body)
					}
					req, _ = nethttp.NewRequest("PUT", url, strings.NewReader(fmt.Sprintf("w%d-%d", w, i)))
					req.Header.Set("Content-Type", "text/plain")
					if vc := r.Header.Get("X-Riak-Vclock"); vc != "" {
						req.Header.Set("X-Riak-Vclock", vc)
					}
					r, err = client.Do(req)
					if err != nil {
						return err
					}
					r.Body.Close()
					if r.StatusCode != 204 {
						return fmt.Errorf("PUT: %d", r.StatusCode)
					}
				}
				return nil
			}()
		}()
	}
	for w := 0; w < 2; w++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	r := e.get("/buckets/dvv/keys/k")
	if r.StatusCode == 300 && len(vtags(t, r)) > 2 {
		t.Errorf("final object has %d siblings", len(vtags(t, r)))
	}
}

// A body of declared length is read into a buffer of exactly that size:
// the stored object (and the object cache) keeps it as the value, and a
// spare byte for the final read would double a 1 KiB value's allocation.
func TestReadBodyExactSize(t *testing.T) {
	h := &Handler{o: Options{MaxBodySize: 100 << 10}}
	body := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
	r := httptest.NewRequest("PUT", "/buckets/b/keys/k", bytes.NewReader(body))
	got, ae := h.readBody(r)
	if ae != nil || !bytes.Equal(got, body) || cap(got) != len(body) {
		t.Fatalf("declared 1 KiB: %d bytes (cap %d), %v; want the body in a buffer of exactly its size", len(got), cap(got), ae)
	}

	// Undeclared length (chunked): read as it arrives.
	long := bytes.Repeat(body, 3)
	r = httptest.NewRequest("PUT", "/buckets/b/keys/k", io.MultiReader(bytes.NewReader(long)))
	r.ContentLength = -1
	if got, ae := h.readBody(r); ae != nil || !bytes.Equal(got, long) {
		t.Fatalf("chunked: %d bytes, %v", len(got), ae)
	}

	// Shorter than declared: 400; longer than the limit: 413.
	r = httptest.NewRequest("PUT", "/buckets/b/keys/k", bytes.NewReader(body[:5]))
	r.ContentLength = 10
	if _, ae := h.readBody(r); ae == nil || ae.status != 400 {
		t.Fatalf("short body: %v, want 400", ae)
	}
	r = httptest.NewRequest("PUT", "/buckets/b/keys/k", bytes.NewReader(make([]byte, 101<<10)))
	if _, ae := h.readBody(r); ae == nil || ae.status != 413 {
		t.Fatalf("body over the limit: %v, want 413", ae)
	}
	r = httptest.NewRequest("PUT", "/buckets/b/keys/k", io.MultiReader(bytes.NewReader(make([]byte, 101<<10))))
	r.ContentLength = -1
	if _, ae := h.readBody(r); ae == nil || ae.status != 413 {
		t.Fatalf("chunked body over the limit: %v, want 413", ae)
	}
}
