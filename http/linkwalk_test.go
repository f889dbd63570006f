package http

import (
	"io"
	"mime"
	"mime/multipart"
	nethttp "net/http"
	"slices"
	"strings"
	"testing"
)

// Legacy link walking: /riak/B/K/<bucket>,<tag>,<keep>/… and
// /buckets/B/keys/K/<…>/…, answered as nested multipart/mixed.

// walkObject is one object of a walk answer.
type walkObject struct {
	location string
	header   nethttp.Header
	body     string
}

// parseWalkAnswer reads a walk answer: one outer part per kept step, each a
// multipart/mixed of objects.
func parseWalkAnswer(t *testing.T, r *resp) [][]walkObject {
	t.Helper()
	r.want(t, 200, "-")
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		t.Fatalf("walk Content-Type %q: %v", r.Header.Get("Content-Type"), err)
	}
	outer := multipart.NewReader(strings.NewReader(r.Body()), params["boundary"])
	var steps [][]walkObject
	for {
		p, err := outer.NextPart()
		if err == io.EOF {
			return steps
		}
		if err != nil {
			t.Fatalf("walk body %q: outer part %d: %v", r.body, len(steps), err)
		}
		imt, iparams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil || imt != "multipart/mixed" || iparams["boundary"] == "" {
			t.Fatalf("outer part %d Content-Type %q: %v", len(steps), p.Header.Get("Content-Type"), err)
		}
		inner := multipart.NewReader(p, iparams["boundary"])
		objs := []walkObject{}
		for {
			q, err := inner.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("walk body %q: step %d object %d: %v", r.body, len(steps), len(objs), err)
			}
			b, _ := io.ReadAll(q)
			objs = append(objs, walkObject{location: q.Header.Get("Location"), header: nethttp.Header(q.Header), body: string(b)})
		}
		steps = append(steps, objs)
	}
}

// locations renders a walk as "loc loc | loc" (objects sorted per step).
func locations(steps [][]walkObject) string {
	var parts []string
	for _, objs := range steps {
		var ls []string
		for _, o := range objs {
			ls = append(ls, o.location)
		}
		slices.Sort(ls)
		parts = append(parts, strings.Join(ls, " "))
	}
	return strings.Join(parts, " | ")
}

func walkEnv(t *testing.T) *env {
	e := newEnv(t, Options{})
	// people/a → friend people/b, pet pets/x; people/b → friend people/c.
	e.put("/riak/people/a", "text/plain", "A", "Link", `</riak/people/b>; riaktag="friend", </riak/pets/x>; riaktag="pet"`).want(t, 204, "")
	e.put("/buckets/people/keys/b", "text/plain", "B", "Link", `</buckets/people/keys/c>; riaktag="friend"`).want(t, 204, "")
	e.put("/riak/people/c", "application/json", `{"c":1}`, "X-Riak-Meta-Age", "3").want(t, 204, "")
	e.put("/riak/pets/x", "text/plain", "X").want(t, 204, "")
	return e
}

func TestLinkWalkHTTP(t *testing.T) {
	e := walkEnv(t)

	for _, tc := range []struct{ path, want string }{
		{"/riak/people/a/_,_,_", "/riak/people/b /riak/pets/x"},
		{"/riak/people/a/_,_,1", "/riak/people/b /riak/pets/x"},
		{"/riak/people/a/people,_,_", "/riak/people/b"},
		{"/riak/people/a/_,pet,_", "/riak/pets/x"},
		{"/riak/people/a/pets,friend,_", ""},
		{"/riak/people/a/_,friend,0/_,friend,_", "/riak/people/c"},
		{"/riak/people/a/_,friend,1/_,friend,_", "/riak/people/b | /riak/people/c"},
		{"/riak/people/a/_,friend,1/_,friend,0", "/riak/people/b"},
		{"/riak/people/a/_,_,1/_,_,1/_,_,1", "/riak/people/b /riak/pets/x | /riak/people/c | "},
		{"/riak/people/c/_,_,_", ""},
		// The v2 form answers with v2 Locations.
		{"/buckets/people/keys/a/_,_,_", "/buckets/people/keys/b /buckets/pets/keys/x"},
		{"/buckets/people/keys/a/_,friend,1/_,friend,1", "/buckets/people/keys/b | /buckets/people/keys/c"},
		{"/types/default/buckets/people/keys/a/_,pet,_", "/types/default/buckets/pets/keys/x"},
	} {
		steps := parseWalkAnswer(t, e.get(tc.path))
		if got := locations(steps); got != tc.want {
			t.Errorf("%s: walked %q, want %q", tc.path, got, tc.want)
		}
	}

	// Each object part carries the object's headers and value.
	steps := parseWalkAnswer(t, e.get("/riak/people/a/_,friend,1/_,friend,1"))
	if len(steps) != 2 || len(steps[0]) != 1 || len(steps[1]) != 1 {
		t.Fatalf("two kept steps: %v", steps)
	}
	b, c := steps[0][0], steps[1][0]
	if b.body != "B" || b.header.Get("Content-Type") != "text/plain" || b.header.Get("X-Riak-Vclock") == "" || b.header.Get("Etag") == "" || b.header.Get("Last-Modified") == "" {
		t.Errorf("object b part: %q %v", b.body, b.header)
	}
	if !strings.Contains(b.header.Get("Link"), `</riak/people/c>; riaktag="friend"`) || !strings.Contains(b.header.Get("Link"), `</riak/people>; rel="up"`) {
		t.Errorf("object b Link %q", b.header.Get("Link"))
	}
	if c.body != `{"c":1}` || c.header.Get("Content-Type") != "application/json" || c.header.Get("X-Riak-Meta-Age") != "3" {
		t.Errorf("object c part: %q %v", c.body, c.header)
	}
	// The vclock in the part is the object's.
	if got := e.get("/riak/people/b").Header.Get("X-Riak-Vclock"); got != b.header.Get("X-Riak-Vclock") {
		t.Errorf("walk vclock %q, object vclock %q", b.header.Get("X-Riak-Vclock"), got)
	}

	// A link to a missing object is skipped.
	e.put("/riak/people/d", "text/plain", "D", "Link", `</riak/people/gone>; riaktag="friend", </riak/people/a>; riaktag="friend"`).want(t, 204, "")
	if got := locations(parseWalkAnswer(t, e.get("/riak/people/d/_,friend,_"))); got != "/riak/people/a" {
		t.Errorf("walk with a dangling link: %q", got)
	}

	// Errors: a segment that is not a step is not a walk route (404);
	// a malformed keep is a bad walk (400); a missing start is 404.
	e.get("/riak/people/a/bad").want(t, 404, "-")
	e.get("/riak/people/a/_,_").want(t, 404, "-")
	e.get("/riak/people/a/_,_,_/x").want(t, 404, "-")
	e.get("/buckets/people/keys/a/nope").want(t, 404, "-")
	r := e.get("/riak/people/a/_,_,2").want(t, 400, "-")
	if !strings.HasPrefix(r.Body(), "Invalid link walk") {
		t.Errorf("malformed keep: %q", r.body)
	}
	e.get("/riak/people/a/_,_,yes").want(t, 400, "-")
	e.get("/riak/people/missing/_,_,_").want(t, 404, "not found\n")
	e.do("PUT", "/riak/people/a/_,_,_", nil, []byte("x")).want(t, 405, "-")
	e.alive()
}

func TestUnsupportedFeatures(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do("POST", "/mapred", hdr("Content-Type", "application/json"), []byte(`{"inputs":"b","query":[]}`)).want(t, 501, "-")
	if !strings.Contains(r.Body(), "MapReduce") {
		t.Errorf("/mapred: %q, want a message naming MapReduce", r.body)
	}
	for _, path := range []string{"/search/query/x?q=*:*", "/solr/x/select?q=*:*", "/search/index/x"} {
		r := e.get(path).want(t, 501, "-")
		if !strings.Contains(r.Body(), "Search") {
			t.Errorf("%s: %q, want a message naming Search", path, r.body)
		}
	}
	e.alive()
}
