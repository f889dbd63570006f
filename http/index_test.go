package http

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// Secondary-index queries over HTTP: /buckets/B/index/F/V[/E].

// putIndexed stores a value with X-Riak-Index headers (name, value pairs).
func (e *env) putIndexed(path string, idx ...string) {
	e.t.Helper()
	h := hdr(idx...)
	h.Set("Content-Type", "text/plain")
	e.do("PUT", path, h, []byte("v")).want(e.t, 204, "")
}

// indexDoc is a buffered index answer.
type indexDoc struct {
	Keys         []string            `json:"keys"`
	Results      []map[string]string `json:"results"`
	Continuation string              `json:"continuation"`
}

func decodeIndex(t *testing.T, r *resp) indexDoc {
	t.Helper()
	r.want(t, 200, "-").wantHeader(t, "Content-Type", "application/json")
	var doc indexDoc
	d := json.NewDecoder(strings.NewReader(r.Body()))
	d.DisallowUnknownFields()
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("%s: body %q: %v", r.Request.URL, r.body, err)
	}
	return doc
}

// pairs renders return_terms results as "term=key".
func pairs(t *testing.T, res []map[string]string) []string {
	t.Helper()
	out := []string{}
	for _, m := range res {
		if len(m) != 1 {
			t.Fatalf("result %v: want a single-member object", m)
		}
		for term, key := range m {
			out = append(out, term+"="+key)
		}
	}
	return out
}

func indexEnv(t *testing.T) *env {
	e := newEnv(t, Options{})
	people := []struct{ key, age, name string }{
		{"ann", "30", "ann"},
		{"bob", "25", "bob"},
		{"cat", "30", "cat smith"},
		{"dan", "-7", "dan"},
		{"eve", "41", "eve"},
		{"fay", "0", "fay, the elder"}, // ", " splits index values: two terms
	}
	for _, p := range people {
		e.putIndexed("/buckets/people/keys/"+p.key, "X-Riak-Index-Age_Int", p.age, "X-Riak-Index-name_bin", p.name)
	}
	e.makeType("t", "")
	e.putIndexed("/types/t/buckets/people/keys/zed", "X-Riak-Index-age_int", "30")
	e.putIndexed("/buckets/other/keys/ann", "X-Riak-Index-age_int", "30")
	return e
}

func TestIndexQueryHTTP(t *testing.T) {
	e := indexEnv(t)

	// Exact and range matches; paths are URL-decoded and fields lower-cased.
	e.get("/buckets/people/index/age_int/30").want(t, 200, `{"keys":["ann","cat"]}`)
	e.get("/buckets/people/index/AGE_INT/30").want(t, 200, `{"keys":["ann","cat"]}`)
	e.get("/buckets/people/index/age_int/25/30").want(t, 200, `{"keys":["bob","ann","cat"]}`)
	e.get("/buckets/people/index/age_int/-10/0").want(t, 200, `{"keys":["dan","fay"]}`)
	e.get("/buckets/people/index/age_int/31/40").want(t, 200, `{"keys":[]}`)
	e.get("/buckets/people/index/name_bin/cat%20smith").want(t, 200, `{"keys":["cat"]}`)
	e.get("/buckets/people/index/name_bin/cat+smith").want(t, 200, `{"keys":["cat"]}`)
	e.get("/buckets/people/index/name_bin/the%20elder").want(t, 200, `{"keys":["fay"]}`)
	e.get("/buckets/people/index/name_bin/a/c").want(t, 200, `{"keys":["ann","bob"]}`)
	e.get("/types/t/buckets/people/index/age_int/30").want(t, 200, `{"keys":["zed"]}`)
	e.get("/types/default/buckets/people/index/age_int/30").want(t, 200, `{"keys":["ann","cat"]}`)
	e.get("/buckets/nobody/index/age_int/30").want(t, 200, `{"keys":[]}`)

	// return_terms: single-member objects in (term, key) order; ignored on
	// exact matches.
	e.get("/buckets/people/index/age_int/0/30?return_terms=true").
		want(t, 200, `{"results":[{"0":"fay"},{"25":"bob"},{"30":"ann"},{"30":"cat"}]}`)
	e.get("/buckets/people/index/name_bin/c/e?return_terms=TRUE").
		want(t, 200, `{"results":[{"cat smith":"cat"},{"dan":"dan"}]}`)
	e.get("/buckets/people/index/age_int/30?return_terms=true").want(t, 200, `{"keys":["ann","cat"]}`)
	e.get("/buckets/people/index/age_int/0/30?return_terms=false").want(t, 200, `{"keys":["fay","bob","ann","cat"]}`)

	// $bucket and $key.
	e.get("/buckets/people/index/$bucket/_").want(t, 200, `{"keys":["ann","bob","cat","dan","eve","fay"]}`)
	e.get("/buckets/people/index/%24bucket/_").want(t, 200, `{"keys":["ann","bob","cat","dan","eve","fay"]}`)
	e.get("/buckets/people/index/$key/bob/dan").want(t, 200, `{"keys":["bob","cat","dan"]}`)
	e.get("/buckets/people/index/$key/bob/dan?return_terms=true").want(t, 200, `{"keys":["bob","cat","dan"]}`)
	e.get("/types/t/buckets/people/index/$bucket/_").want(t, 200, `{"keys":["zed"]}`)

	// term_regex filters _bin terms.
	doc := decodeIndex(t, e.get("/buckets/people/index/name_bin/a/z?return_terms=true&term_regex="+url.QueryEscape("^[a-c]")))
	if got := pairs(t, doc.Results); !slices.Equal(got, []string{"ann=ann", "bob=bob", "cat smith=cat"}) {
		t.Errorf("term_regex ^[a-c]: %q", got)
	}
	e.get("/buckets/people/index/name_bin/a/z?term_regex="+url.QueryEscape("smith$")).want(t, 200, `{"keys":["cat"]}`)

	e.alive()
}

func TestIndexQueryHTTPErrors(t *testing.T) {
	e := indexEnv(t)
	for _, tc := range []struct{ path, body string }{
		{"/buckets/people/index/age_int/0/50?max_results=0", `Invalid "max_results". "0" is not a positive integer`},
		{"/buckets/people/index/age_int/0/50?max_results=-3", `Invalid "max_results". "-3" is not a positive integer`},
		{"/buckets/people/index/age_int/0/50?max_results=abc", `Invalid "max_results". "abc" is not a positive integer`},
		{"/buckets/people/index/age_int/0/50?return_terms=maybe", `Invalid "return_terms". "maybe" is not a boolean`},
		{"/buckets/people/index/age_int/0/50?return_terms=1", `Invalid "return_terms". "1" is not a boolean`},
		{"/buckets/people/index/age_int/0/50?pagination_sort=yes", `Invalid "pagination_sort". "yes" is not a boolean`},
		{"/buckets/people/index/age_int/0/50?term_regex=.*", "Can not use term regular expressions on integer queries"},
		{"/buckets/people/index/foo/x", "Invalid query: {unknown_field_type,<<\"foo\">>}\n"},
		{"/buckets/people/index/age_str/1/2", "Invalid query: {unknown_field_type,<<\"age_str\">>}\n"},
		{"/buckets/people/index/age_int/abc", "Invalid query: {field_parsing_failed,{<<\"age_int\">>,<<\"abc\">>}}\n"},
		{"/buckets/people/index/age_int/1/x2", "Invalid query: {field_parsing_failed,{<<\"age_int\">>,<<\"x2\">>}}\n"},
		{"/buckets/people/index/age_int/0/50?timeout=soon", "Bad timeout value \"soon\". Must be a non-negative integer\n"},
		{"/buckets/people/index/age_int/0/50?timeout=-1", "Bad timeout value \"-1\". Must be a non-negative integer\n"},
	} {
		e.get(tc.path).want(t, 400, tc.body)
	}
	r := e.get("/buckets/people/index/name_bin/a/z?term_regex="+url.QueryEscape("(unclosed")).want(t, 400, "-")
	if !strings.HasPrefix(r.Body(), "Invalid term regular expression") {
		t.Errorf("bad regex: body %q", r.body)
	}
	for _, c := range []string{"!!!", "not%20base64%3F"} {
		r := e.get("/buckets/people/index/age_int/0/50?max_results=2&continuation="+c).want(t, 400, "-")
		if !strings.HasPrefix(r.Body(), "Invalid continuation") {
			t.Errorf("continuation %s: body %q", c, r.body)
		}
	}
	// The bad-query checks also apply to streams, before anything is sent.
	e.get("/buckets/people/index/age_int/abc?stream=true").want(t, 400, "Invalid query: {field_parsing_failed,{<<\"age_int\">>,<<\"abc\">>}}\n")
	e.get("/types/nope/buckets/people/index/age_int/30").want(t, 404, "-")
	e.get("/types/nope/buckets/people/index/age_int/30?stream=true").want(t, 404, "-")
	e.get("/buckets/people/index/age_int").want(t, 404, "-")
	e.get("/buckets/people/index/age_int/1/2/3").want(t, 404, "-")
	e.do("POST", "/buckets/people/index/age_int/30", nil, nil).want(t, 405, "-")
	e.get("/buckets/people/index/age_int/0/50?timeout=0").want(t, 200, "-")
	e.alive()
}

func TestIndexPaginationHTTP(t *testing.T) {
	e := newEnv(t, Options{})
	var want []string // "term=key" in (term, key) order
	for i := 0; i < 23; i++ {
		k := fmt.Sprintf("k%02d", i)
		term := fmt.Sprintf("t%d", i%4)
		e.putIndexed("/buckets/pg/keys/"+k, "X-Riak-Index-grp_bin", term)
		want = append(want, term+"="+k)
	}
	slices.SortFunc(want, func(a, b string) int {
		ta, ka, _ := strings.Cut(a, "=")
		tb, kb, _ := strings.Cut(b, "=")
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
		return strings.Compare(ka, kb)
	})

	for _, n := range []int{1, 4, 10, 22, 23, 50} {
		var got []string
		cont := ""
		for page := 0; ; page++ {
			if page > 30 {
				t.Fatalf("max_results %d: pagination does not end", n)
			}
			path := fmt.Sprintf("/buckets/pg/index/grp_bin/t0/t9?return_terms=true&max_results=%d", n)
			if cont != "" {
				path += "&continuation=" + url.QueryEscape(cont)
			}
			doc := decodeIndex(t, e.get(path))
			ps := pairs(t, doc.Results)
			if len(ps) > n {
				t.Fatalf("max_results %d: page of %d", n, len(ps))
			}
			if doc.Continuation != "" && len(ps) != n {
				t.Fatalf("max_results %d: partial page of %d with a continuation", n, len(ps))
			}
			got = append(got, ps...)
			if doc.Continuation == "" {
				break
			}
			cont = doc.Continuation
		}
		if !slices.Equal(got, want) {
			t.Errorf("max_results %d: pages gave\n %q\nwant\n %q", n, got, want)
		}
	}

	// Keys without terms page the same way; $bucket too.
	var keys []string
	cont := ""
	for {
		path := "/buckets/pg/index/$bucket/_?max_results=5"
		if cont != "" {
			path += "&continuation=" + url.QueryEscape(cont)
		}
		doc := decodeIndex(t, e.get(path))
		if doc.Results != nil {
			t.Fatalf("$bucket page has results: %+v", doc)
		}
		keys = append(keys, doc.Keys...)
		if cont = doc.Continuation; cont == "" {
			break
		}
	}
	if len(keys) != 23 || !slices.IsSorted(keys) {
		t.Errorf("$bucket pages: %q, want the 23 keys in order", keys)
	}
	// A continuation alone (no max_results) gives the rest.
	first := decodeIndex(t, e.get("/buckets/pg/index/$bucket/_?max_results=20"))
	rest := decodeIndex(t, e.get("/buckets/pg/index/$bucket/_?continuation="+url.QueryEscape(first.Continuation)))
	if got := append(first.Keys, rest.Keys...); !slices.Equal(got, keys) || rest.Continuation != "" {
		t.Errorf("max_results 20 then the rest: %q (continuation %q)", got, rest.Continuation)
	}
}

// TestIndexPaginationFullPage: as riak_kv_wm_index's make_continuation, a
// page that holds exactly max_results results carries a continuation even
// when no more results exist, and the next page is empty: 4 matches paged
// by 2 are 3 pages (2, 2, 0), buffered and streamed.
func TestIndexPaginationFullPage(t *testing.T) {
	e := newEnv(t, Options{})
	for _, k := range []string{"a", "b", "c", "d"} {
		e.putIndexed("/buckets/fp/keys/"+k, "X-Riak-Index-g_bin", "x")
	}
	e.putIndexed("/buckets/fp/keys/z", "X-Riak-Index-g_bin", "y") // outside the query
	base := "/buckets/fp/index/g_bin/x?max_results=2"

	// Buffered.
	var pages [][]string
	cont := ""
	for len(pages) < 5 {
		path := base
		if cont != "" {
			path += "&continuation=" + url.QueryEscape(cont)
		}
		doc := decodeIndex(t, e.get(path))
		pages = append(pages, doc.Keys)
		if cont = doc.Continuation; cont == "" {
			break
		}
	}
	if got := fmt.Sprint(pages); got != "[[a b] [c d] []]" {
		t.Errorf("buffered pages %s, want [[a b] [c d] []]", got)
	}
	// The last, empty page is {"keys":[]} without a continuation.
	e.get(base+"&continuation="+url.QueryEscape(mustCont(t, e, base, 1))).want(t, 200, `{"keys":[]}`)

	// Streamed: each page's results, then a continuation part after a full
	// page; the third page has no results and no continuation.
	pages, cont = nil, ""
	for len(pages) < 5 {
		path := base + "&stream=true"
		if cont != "" {
			path += "&continuation=" + url.QueryEscape(cont)
		}
		var keys []string
		cont = ""
		for _, p := range multipartParts(t, e.get(path)) {
			if c, ok := p["continuation"]; ok {
				if err := json.Unmarshal(c, &cont); err != nil || len(p) != 1 {
					t.Fatalf("continuation part %v", p)
				}
				continue
			}
			keys = append(keys, names(t, p["keys"])...)
		}
		pages = append(pages, keys)
		if cont == "" {
			break
		}
	}
	if got := fmt.Sprint(pages); got != "[[a b] [c d] []]" {
		t.Errorf("streamed pages %s, want [[a b] [c d] []]", got)
	}
	// A page that is not full has no continuation.
	if doc := decodeIndex(t, e.get("/buckets/fp/index/g_bin/x?max_results=3&continuation="+url.QueryEscape(mustCont(t, e, base, 0)))); doc.Continuation != "" || fmt.Sprint(doc.Keys) != "[c d]" {
		t.Errorf("partial page %+v", doc)
	}
}

// mustCont returns the continuation after page n (from 0) of a buffered
// paginated query.
func mustCont(t *testing.T, e *env, base string, n int) string {
	t.Helper()
	cont := ""
	for i := 0; i <= n; i++ {
		path := base
		if cont != "" {
			path += "&continuation=" + url.QueryEscape(cont)
		}
		if cont = decodeIndex(t, e.get(path)).Continuation; cont == "" {
			t.Fatalf("page %d of %s has no continuation", i, base)
		}
	}
	return cont
}

// multipartParts reads a stream=true answer: multipart/mixed with a
// boundary and no space, JSON parts.
func multipartParts(t *testing.T, r *resp) []map[string]json.RawMessage {
	t.Helper()
	r.want(t, 200, "-")
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "multipart/mixed;boundary=") {
		t.Fatalf("Content-Type %q, want multipart/mixed;boundary=…", ct)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q: %v", ct, err)
	}
	if !strings.HasSuffix(r.Body(), "\r\n--"+params["boundary"]+"--\r\n") {
		t.Errorf("stream does not end with the closing boundary: %q", r.body)
	}
	mr := multipart.NewReader(strings.NewReader(r.Body()), params["boundary"])
	var out []map[string]json.RawMessage
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("stream %q: part %d: %v", r.body, len(out), err)
		}
		if got := p.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("part %d Content-Type %q", len(out), got)
		}
		b, _ := io.ReadAll(p)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("part %d %q: %v", len(out), b, err)
		}
		out = append(out, m)
	}
}

func TestIndexStreamHTTP(t *testing.T) {
	e := indexEnv(t)

	parts := multipartParts(t, e.get("/buckets/people/index/age_int/0/50?stream=true"))
	var keys []string
	for _, p := range parts {
		if len(p) != 1 || p["keys"] == nil {
			t.Fatalf("part %v, want only keys", p)
		}
		keys = append(keys, names(t, p["keys"])...)
	}
	if !slices.Equal(keys, []string{"fay", "bob", "ann", "cat", "eve"}) {
		t.Errorf("streamed keys %q", keys)
	}

	parts = multipartParts(t, e.get("/buckets/people/index/age_int/0/50?stream=true&return_terms=true"))
	var res []string
	for _, p := range parts {
		var rs []map[string]string
		if err := json.Unmarshal(p["results"], &rs); err != nil || len(p) != 1 {
			t.Fatalf("part %v, want only results", p)
		}
		res = append(res, pairs(t, rs)...)
	}
	if !slices.Equal(res, []string{"0=fay", "25=bob", "30=ann", "30=cat", "41=eve"}) {
		t.Errorf("streamed results %q", res)
	}

	// Paginated: the results, then a final part with the continuation,
	// which resumes where the page ended.
	parts = multipartParts(t, e.get("/buckets/people/index/age_int/0/50?stream=true&max_results=3"))
	if len(parts) < 2 {
		t.Fatalf("paginated stream: %d parts, want results then a continuation", len(parts))
	}
	last := parts[len(parts)-1]
	var cont string
	if len(last) != 1 || json.Unmarshal(last["continuation"], &cont) != nil || cont == "" {
		t.Fatalf("last part %v, want only a continuation", last)
	}
	keys = nil
	for _, p := range parts[:len(parts)-1] {
		keys = append(keys, names(t, p["keys"])...)
	}
	if !slices.Equal(keys, []string{"fay", "bob", "ann"}) {
		t.Errorf("first streamed page %q", keys)
	}
	parts = multipartParts(t, e.get("/buckets/people/index/age_int/0/50?stream=true&max_results=3&continuation="+url.QueryEscape(cont)))
	keys = nil
	for _, p := range parts {
		if p["continuation"] != nil {
			t.Errorf("second page has a continuation %s; only 2 results remain", p["continuation"])
		}
		keys = append(keys, names(t, p["keys"])...)
	}
	if !slices.Equal(keys, []string{"cat", "eve"}) {
		t.Errorf("second streamed page %q", keys)
	}

	// No results: one empty part.
	parts = multipartParts(t, e.get("/buckets/people/index/age_int/100/200?stream=true"))
	if len(parts) != 1 || string(parts[0]["keys"]) != "[]" {
		t.Errorf("empty stream parts %v, want one {\"keys\":[]}", parts)
	}
	// stream=false is the buffered answer.
	e.get("/buckets/people/index/age_int/30?stream=false").want(t, 200, `{"keys":["ann","cat"]}`)
}
