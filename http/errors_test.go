package http

import (
	"bytes"
	"encoding/base64"
	"io"
	nethttp "net/http"
	"strings"
	"testing"
	"time"
)

const quorumHelp = " query parameter must be an integer or one of the following words: 'one', 'quorum' or 'all'\n"

// TestRequestErrors: every client mistake is a 4xx with Riak's text, and
// the node keeps answering afterwards.
func TestRequestErrors(t *testing.T) {
	e := newEnv(t, Options{})
	e.put("/buckets/e/keys/k", "text/plain", "v").want(t, 204, "")
	notB64 := "!!!not base64!!!"
	garbage := base64.StdEncoding.EncodeToString([]byte("garbage clock"))
	for _, tc := range []struct {
		name   string
		method string
		path   string
		h      []string
		body   string
		status int
		want   string // "-" for any body
	}{
		{"missing content type", "PUT", "/buckets/e/keys/k", nil, "v", 400, "Missing Content-Type request header\n"},
		{"missing content type on POST", "POST", "/buckets/e/keys", nil, "v", 400, "Missing Content-Type request header\n"},
		{"bad media type", "PUT", "/buckets/e/keys/k", []string{"Content-Type", "textplain"}, "v", 415, "\"textplain\" is not a valid media type for the Content-type header.\n"},
		{"bad media type slash", "PUT", "/buckets/e/keys/k", []string{"Content-Type", "text/"}, "v", 415, "-"},
		{"vclock not base64", "PUT", "/buckets/e/keys/k", []string{"Content-Type", "text/plain", "X-Riak-Vclock", notB64}, "v", 400, "-"},
		{"vclock garbage", "PUT", "/buckets/e/keys/k", []string{"Content-Type", "text/plain", "X-Riak-Vclock", garbage}, "v", 400, "-"},
		{"vclock garbage on delete", "DELETE", "/buckets/e/keys/k", []string{"X-Riak-Vclock", garbage}, "", 400, "-"},
		{"r banana", "GET", "/buckets/e/keys/k?r=banana", nil, "", 400, "r" + quorumHelp},
		{"pr banana", "GET", "/buckets/e/keys/k?pr=banana", nil, "", 400, "pr" + quorumHelp},
		{"w banana on GET", "GET", "/buckets/e/keys/k?w=banana", nil, "", 400, "w" + quorumHelp},
		{"dw banana", "PUT", "/buckets/e/keys/k?dw=1.5", []string{"Content-Type", "text/plain"}, "v", 400, "dw" + quorumHelp},
		{"rw banana", "DELETE", "/buckets/e/keys/k?rw=x", nil, "", 400, "rw" + quorumHelp},
		{"notfound_ok maybe", "GET", "/buckets/e/keys/k?notfound_ok=maybe", nil, "", 400, "notfound_ok query parameter must be true or false\n"},
		{"basic_quorum 2", "GET", "/buckets/e/keys/k?basic_quorum=2", nil, "", 400, "basic_quorum query parameter must be true or false\n"},
		{"timeout abc", "GET", "/buckets/e/keys/k?timeout=abc", nil, "", 400, "Bad timeout value \"abc\"\n"},
		{"timeout abc on PUT", "PUT", "/buckets/e/keys/k?timeout=abc", []string{"Content-Type", "text/plain"}, "v", 400, "Bad timeout value \"abc\"\n"},
		{"r over n", "GET", "/buckets/e/keys/k?r=4", nil, "", 400, "Specified w/dw/pw values invalid for bucket n value of 3\n"},
		{"pr over n", "GET", "/buckets/e/keys/k?pr=4", nil, "", 400, "Specified w/dw/pw values invalid for bucket n value of 3\n"},
		{"w over n", "PUT", "/buckets/e/keys/k?w=5", []string{"Content-Type", "text/plain"}, "v", 400, "Specified w/dw/pw values invalid for bucket n value of 3\n"},
		{"pw over n", "PUT", "/buckets/e/keys/k?pw=4", []string{"Content-Type", "text/plain"}, "v", 400, "Specified w/dw/pw values invalid for bucket n value of 3\n"},
		{"dw over n", "PUT", "/buckets/e/keys/k?dw=4", []string{"Content-Type", "text/plain"}, "v", 400, "Specified w/dw/pw values invalid for bucket n value of 3\n"},
		{"w over n on delete", "DELETE", "/buckets/e/keys/k?w=4", nil, "", 400, "Specified w/dw/pw values invalid for bucket n value of 3\n"},
		{"rw over n on delete", "DELETE", "/buckets/e/keys/k?rw=4", nil, "", 400, "Specified w/dw/pw values invalid for bucket n value of 3\n"},
		{"r zero", "GET", "/buckets/e/keys/k?r=0", nil, "", 400, "-"},
		{"negative r", "GET", "/buckets/e/keys/k?r=-1", nil, "", 400, "r" + quorumHelp},
		{"unknown route", "GET", "/nosuch/route", nil, "", 404, "-"},
		{"too deep", "GET", "/buckets/e/keys/k/extra/more", nil, "", 404, "-"},
		{"empty bucket", "GET", "/buckets//keys/k", nil, "", 400, "-"},
		{"empty bucket PUT", "PUT", "/buckets//keys/k", []string{"Content-Type", "text/plain"}, "v", 400, "-"},
		{"origin null", "GET", "/buckets/e/keys/k", []string{"Origin", "null"}, "", 403, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			e.do(tc.method, tc.path, hdr(tc.h...), body).want(t, tc.status, tc.want)
			e.alive()
		})
	}
	// None of the refused writes changed the object.
	e.get("/buckets/e/keys/k").want(t, 200, "v")
}

// TestQuorumParamsAccepted: the words and integers within n_val work.
func TestQuorumParamsAccepted(t *testing.T) {
	e := newEnv(t, Options{})
	e.put("/buckets/q/keys/k?w=all&dw=one&pw=quorum&timeout=5000", "text/plain", "v").want(t, 204, "")
	for _, q := range []string{"r=1", "r=all", "r=QUORUM", "r=default", "pr=3", "notfound_ok=TRUE", "basic_quorum=false", "notfound_ok=default", "timeout=1000", "w=banana&vtag="} {
		want := 200
		if strings.HasPrefix(q, "w=banana") {
			want = 400
		}
		e.get("/buckets/q/keys/k?"+q).want(t, want, "-")
	}
	e.do("DELETE", "/buckets/q/keys/k?rw=all", nil, nil).want(t, 204, "")
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		method, path string
		allow        []string
	}{
		{"PATCH", "/buckets/b/keys/k", []string{"GET", "HEAD", "PUT", "POST", "DELETE"}},
		{"GET", "/buckets/b/keys", nil},
		{"PUT", "/buckets/b/keys", []string{"GET", "HEAD", "POST"}},
		{"DELETE", "/types/default/buckets/b/keys", []string{"GET", "HEAD", "POST"}},
		{"PATCH", "/riak/b", []string{"GET", "HEAD", "PUT", "POST"}},
		{"POST", "/buckets/b/props", []string{"GET", "HEAD", "PUT", "DELETE"}},
		{"PATCH", "/buckets/b/props", []string{"GET", "HEAD", "PUT", "DELETE"}},
		{"DELETE", "/riak/b", []string{"GET", "HEAD", "PUT", "POST"}},
		{"POST", "/types/default/props", []string{"GET", "HEAD", "PUT"}},
		{"DELETE", "/types/default/props", []string{"GET", "HEAD", "PUT"}},
		{"POST", "/ping", []string{"GET", "HEAD"}},
		{"PUT", "/buckets/b/keys/k/preflist", []string{"GET", "HEAD"}},
		{"DELETE", "/", []string{"GET", "HEAD"}},
	} {
		r := e.do(tc.method, tc.path, hdr("Content-Type", "application/json"), []byte("{}"))
		if tc.method == "GET" && tc.path == "/buckets/b/keys" {
			// Key listing has its own answer (501 until it exists); a
			// plain GET with no keys param must not be a server crash
			// of the object resource, at least.
			if r.StatusCode != 405 && r.StatusCode != 501 && r.StatusCode != 200 {
				t.Errorf("GET /buckets/b/keys: %d", r.StatusCode)
			}
			continue
		}
		r.want(t, 405, "-")
		got := strings.Split(r.Header.Get("Allow"), ", ")
		if !sameSet(got, tc.allow) {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, r.Header.Get("Allow"), tc.allow)
		}
		e.alive()
	}
}

// chunked is a reader that hides its length so the client sends the body
// chunked, without Content-Length.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestBodyTooLarge(t *testing.T) {
	const max = 1024
	e := newEnv(t, Options{MaxBodySize: max})
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"at limit", max, false, 204},
		{"at limit chunked", max, true, 204},
		{"over with length", max + 1, false, 413},
		{"far over with length", 64 * max, false, 413},
		{"over chunked", max + 1, true, 413},
		{"far over chunked", 16 * max, true, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			body := bytes.Repeat([]byte("x"), tc.size)
			req, _ := nethttp.NewRequest("PUT", e.srv.URL+"/buckets/big/keys/"+strings.ReplaceAll(tc.name, " ", "-"), nil)
			req.Header.Set("Content-Type", "application/octet-stream")
			if tc.chunked {
				req.Body = io.NopCloser(chunked{bytes.NewReader(body)})
				req.ContentLength = -1
			} else {
				req.Body = io.NopCloser(bytes.NewReader(body))
				req.ContentLength = int64(tc.size)
			}
			r := e.send(req).want(t, tc.status, "-")
			if tc.chunked && len(r.Request.TransferEncoding) == 0 && r.Request.ContentLength != -1 {
				t.Errorf("request was not chunked")
			}
			g := e.get("/buckets/big/keys/" + strings.ReplaceAll(tc.name, " ", "-"))
			if tc.status == 204 {
				g.want(t, 200, string(body))
			} else {
				g.want(t, 404, "not found\n")
			}
			e.alive()
		})
	}
	// POST with a generated key is bounded too.
	e.do("POST", "/buckets/big/keys", hdr("Content-Type", "text/plain"), bytes.Repeat([]byte("y"), max+1)).want(t, 413, "-")
	e.alive()
}

// TestTooManySiblings: a write that would leave more than 100 siblings is
// refused (riakgo answers 413 where Riak answers 500 {too_many_siblings}).
func TestTooManySiblings(t *testing.T) {
	e := newEnv(t, Options{})
	e.setProps("/buckets/many/props", `{"props":{"allow_mult":true}}`)
	for i := 0; i < 100; i++ {
		e.put("/buckets/many/keys/k", "text/plain", "v").want(t, 204, "")
	}
	r := e.put("/buckets/many/keys/k", "text/plain", "v").want(t, 413, "-")
	if !strings.Contains(r.Body(), "101") {
		t.Errorf("413 body %q does not say how many siblings", r.Body())
	}
	text := e.get("/buckets/many/keys/k").want(t, 300, "-")
	if n := len(vtags(t, text)); n != 100 {
		t.Errorf("%d siblings after the refused write, want 100", n)
	}
	// Resolving still works.
	e.put("/buckets/many/keys/k", "text/plain", "one", "X-Riak-Vclock", text.Header.Get("X-Riak-Vclock")).want(t, 204, "")
	e.get("/buckets/many/keys/k").want(t, 200, "one")
}

func TestConditionalRequests(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.put("/buckets/c/keys/k?returnbody=true", "text/plain", "v").want(t, 200, "v")
	etag := r.Header.Get("Etag")
	lm := r.Header.Get("Last-Modified")
	future := testStart.Add(time.Hour).Format(nethttp.TimeFormat)
	past := testStart.Add(-time.Hour).Format(nethttp.TimeFormat)
	unquoted := strings.Trim(etag, `"`)

	for _, tc := range []struct {
		name   string
		method string
		path   string
		h      []string
		status int
	}{
		{"GET If-None-Match etag", "GET", "/buckets/c/keys/k", []string{"If-None-Match", etag}, 304},
		{"HEAD If-None-Match etag", "HEAD", "/buckets/c/keys/k", []string{"If-None-Match", etag}, 304},
		{"GET If-None-Match list", "GET", "/buckets/c/keys/k", []string{"If-None-Match", `"zzz", ` + etag}, 304},
		{"GET If-None-Match star", "GET", "/buckets/c/keys/k", []string{"If-None-Match", "*"}, 304},
		{"GET If-None-Match other", "GET", "/buckets/c/keys/k", []string{"If-None-Match", `"other"`}, 200},
		{"GET If-None-Match unquoted never matches", "GET", "/buckets/c/keys/k", []string{"If-None-Match", unquoted}, 200},
		{"GET If-Match mismatch", "GET", "/buckets/c/keys/k", []string{"If-Match", `"other"`}, 412},
		{"GET If-Match match", "GET", "/buckets/c/keys/k", []string{"If-Match", etag}, 200},
		{"GET If-Modified-Since future", "GET", "/buckets/c/keys/k", []string{"If-Modified-Since", future}, 304},
		{"GET If-Modified-Since equal", "GET", "/buckets/c/keys/k", []string{"If-Modified-Since", lm}, 304},
		{"GET If-Modified-Since past", "GET", "/buckets/c/keys/k", []string{"If-Modified-Since", past}, 200},
		{"GET If-Unmodified-Since past", "GET", "/buckets/c/keys/k", []string{"If-Unmodified-Since", past}, 412},
		{"GET If-Unmodified-Since future", "GET", "/buckets/c/keys/k", []string{"If-Unmodified-Since", future}, 200},
		{"GET missing If-Match", "GET", "/buckets/c/keys/none", []string{"If-Match", etag}, 404},
		{"PUT If-None-Match star existing", "PUT", "/buckets/c/keys/k", []string{"If-None-Match", "*"}, 412},
		{"PUT If-None-Match etag existing", "PUT", "/buckets/c/keys/k", []string{"If-None-Match", etag}, 412},
		{"PUT If-Match mismatch", "PUT", "/buckets/c/keys/k", []string{"If-Match", `"other"`}, 412},
		{"PUT If-Match on missing key", "PUT", "/buckets/c/keys/none", []string{"If-Match", etag}, 412},
		{"PUT If-Unmodified-Since past", "PUT", "/buckets/c/keys/k", []string{"If-Unmodified-Since", past}, 412},
		{"PUT If-None-Match star missing", "PUT", "/buckets/c/keys/new", []string{"If-None-Match", "*"}, 204},
		{"PUT If-Match match", "PUT", "/buckets/c/keys/k2", nil, 204}, // setup for the next row
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			var body []byte
			if tc.method == "PUT" {
				body = []byte("changed")
			}
			r := e.do(tc.method, tc.path, hdr(append([]string{"Content-Type", "text/plain"}, tc.h...)...), body).want(t, tc.status, "-")
			if tc.status == 304 {
				if len(r.body) != 0 {
					t.Errorf("304 with a body %q", r.body)
				}
				r.wantHeader(t, "Etag", etag)
			}
		})
	}
	// None of the 412s wrote.
	e.get("/buckets/c/keys/k").want(t, 200, "v").wantHeader(t, "Etag", etag)
	e.get("/buckets/c/keys/new").want(t, 200, "changed")
	// A matching If-Match writes.
	e.clk.Advance(time.Second)
	e.put("/buckets/c/keys/k", "text/plain", "matched", "If-Match", etag).want(t, 204, "")
	e.get("/buckets/c/keys/k").want(t, 200, "matched")
	// And If-None-Match: * on a missing key under the typed API.
	e.put("/types/default/buckets/c/keys/fresh", "text/plain", "f", "If-None-Match", "*").want(t, 204, "")
	e.put("/types/default/buckets/c/keys/fresh", "text/plain", "f", "If-None-Match", "*").want(t, 412, "-")
	e.alive()
}
