package http

import (
	"net/url"
	"strings"
	"testing"
)

// TestURLDecoding: bucket and key segments are percent-decoded and + is a
// space, as mochiweb's unquote does in Riak; a value stored under one
// spelling is read under any other spelling of the same name.
func TestURLDecoding(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name  string
		store string   // path segment (bucket/key) used for PUT
		reads []string // other spellings used for GET
	}{
		{"slash", "b/keys/a%2Fb", []string{"b/keys/a%2fb", "b/keys/%61%2F%62"}},
		{"plus is space", "b/keys/a+b", []string{"b/keys/a%20b", "b/keys/a+b"}},
		{"space is plus", "b/keys/c%20d", []string{"b/keys/c+d"}},
		{"literal plus", "b/keys/e%2Bf", []string{"b/keys/e%2bf"}},
		{"utf-8", "b/keys/%C3%A9t%C3%A9", []string{"b/keys/" + url.PathEscape("été"), "b/keys/%c3%a9t%c3%a9"}},
		{"utf-8 bucket", "%E6%97%A5+x/keys/k", []string{"%E6%97%A5%20x/keys/k"}},
		{"percent", "b/keys/100%25", []string{"b/keys/100%25"}},
		{"question mark", "b/keys/what%3F", []string{"b/keys/what%3f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			e.put("/buckets/"+tc.store, "text/plain", tc.name).want(t, 204, "")
			for _, p := range tc.reads {
				e.get("/buckets/"+p).want(t, 200, tc.name)
				e.get("/types/default/buckets/"+p).want(t, 200, tc.name)
			}
		})
	}
	// The legacy API decodes the same way.
	e.get("/riak/b/a%2Fb").want(t, 200, "slash")
	e.get("/riak/b/a%20b").want(t, 200, "plus is space")
	// "a+b" and "a%2Bb" are different keys.
	e.get("/buckets/b/keys/a%2Bb").want(t, 404, "not found\n")
	e.get("/buckets/b/keys/e+f").want(t, 404, "not found\n")
	// "a/b" unescaped is a different route.
	e.get("/buckets/b/keys/a/b").want(t, 404, "-")

	// Location of a generated key under an escaped bucket leads back to it.
	for _, b := range []string{"sp%20ace", "pl%2Bus", "sl%2Fash", "%C3%A9"} {
		r := e.do("POST", "/buckets/"+b+"/keys", hdr("Content-Type", "text/plain"), []byte("gen "+b)).want(t, 201, "")
		loc := r.Header.Get("Location")
		if !strings.HasPrefix(loc, "/buckets/") {
			t.Fatalf("Location %q", loc)
		}
		e.get(loc).want(t, 200, "gen "+b)
	}
}
