package client_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/client"
)

func TestPutGetRoundTripsEveryField(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	loc := client.Loc{Bucket: "users", Key: "ann"}
	in := client.Content{
		Value:           []byte{0x1f, 0x8b, 0, 1, 2, '\r', '\n', '-', '-'},
		ContentType:     "application/json",
		Charset:         "utf-8",
		ContentEncoding: "gzip",
		UserMeta:        map[string]string{"Team": "blue", "Shift": "night, early"},
		Indexes:         []client.Index{client.BinIndex("email", "ann@example.com"), client.IntIndex("age", 42), client.IntIndex("age", 7)},
		Links:           []client.Link{{Bucket: "users", Key: "bob", Tag: "friend"}, {Bucket: "b/x", Key: "k y+z", Tag: "odd tag"}},
	}
	if obj, err := n.c.Put(ctx, loc, in, "", nil); err != nil || obj != nil {
		t.Fatalf("Put = %v, %v; want nil, nil without ReturnBody", obj, err)
	}
	obj := n.mustGet(t, loc)
	if obj.VClock == "" || obj.HasSiblings() || obj.Loc != loc {
		t.Fatalf("object %+v: want a vclock, one sibling, loc %v", obj, loc)
	}
	got := obj.Content()
	if string(got.Value) != string(in.Value) {
		t.Errorf("Value = %q, want %q", got.Value, in.Value)
	}
	if got.ContentType != "application/json" || got.Charset != "utf-8" || got.ContentEncoding != "gzip" {
		t.Errorf("type %q charset %q encoding %q", got.ContentType, got.Charset, got.ContentEncoding)
	}
	if v, _ := got.Meta("team"); v != "blue" {
		t.Errorf("Meta(team) = %q, want blue (meta %v)", v, got.UserMeta)
	}
	if v, _ := got.Meta("Shift"); v != "night, early" {
		t.Errorf("Meta(Shift) = %q (meta %v)", v, got.UserMeta)
	}
	wantIdx := []client.Index{{Field: "age_int", Value: "42"}, {Field: "age_int", Value: "7"}, {Field: "email_bin", Value: "ann@example.com"}}
	if !reflect.DeepEqual(got.Indexes, wantIdx) {
		t.Errorf("Indexes = %v, want %v", got.Indexes, wantIdx)
	}
	if !reflect.DeepEqual(got.Links, in.Links) {
		t.Errorf("Links = %+v, want %+v", got.Links, in.Links)
	}
	if got.VTag == "" || obj.ETag != got.VTag {
		t.Errorf("VTag %q, ETag %q: want the vtag as the ETag", got.VTag, obj.ETag)
	}
	if !got.LastModified.Equal(testStart) {
		t.Errorf("LastModified = %v, want %v", got.LastModified, testStart)
	}
	if got.Deleted {
		t.Error("Deleted on a live object")
	}
}

func TestNamesAreEscaped(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	bucket := "b/x y+z"
	keys := []string{"a/b", "a+b", "a b", "100%", "ü€", "q?x#y", "semi;colon,comma", "..", "%2F"}
	for _, k := range keys {
		n.mustPut(t, client.Loc{Bucket: bucket, Key: k}, text("v:"+k))
	}
	for _, k := range keys {
		if got := string(n.mustGet(t, client.Loc{Bucket: bucket, Key: k}).Content().Value); got != "v:"+k {
			t.Errorf("key %q: value %q", k, got)
		}
	}
	listed, err := n.c.ListKeys(ctx, "", bucket)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(listed)
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("ListKeys = %q, want %q", listed, want)
	}
	buckets, err := n.c.ListBuckets(ctx, "")
	if err != nil || !slices.Equal(buckets, []string{bucket}) {
		t.Errorf("ListBuckets = %q, %v", buckets, err)
	}
}

func TestReturnBodyAndCreate(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	loc := client.Loc{Bucket: "b", Key: "k"}
	obj, err := n.c.Put(ctx, loc, text("one"), "", &client.PutOptions{ReturnBody: true, W: client.All, DW: client.Majority, PW: client.N(0)})
	if err != nil {
		t.Fatal(err)
	}
	if obj == nil || obj.VClock == "" || string(obj.Content().Value) != "one" {
		t.Fatalf("ReturnBody object = %+v", obj)
	}
	// Writing with the returned clock replaces the value.
	if _, err := n.c.Put(ctx, loc, text("two"), obj.VClock, nil); err != nil {
		t.Fatal(err)
	}
	if got := n.mustGet(t, loc); string(got.Content().Value) != "two" {
		t.Errorf("after put with vclock: %q", got.Content().Value)
	}

	created, cobj, err := n.c.Create(ctx, client.Loc{Bucket: "b"}, text("generated"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if created.Key == "" || created.Bucket != "b" || cobj != nil {
		t.Fatalf("Create = %v, %v", created, cobj)
	}
	if got := n.mustGet(t, created); string(got.Content().Value) != "generated" {
		t.Errorf("created object value %q", got.Content().Value)
	}
	created2, cobj2, err := n.c.Create(ctx, client.Loc{Bucket: "b"}, text("again"), &client.PutOptions{ReturnBody: true})
	if err != nil {
		t.Fatal(err)
	}
	if created2.Key == created.Key || cobj2 == nil || cobj2.Loc != created2 || string(cobj2.Content().Value) != "again" {
		t.Errorf("Create with ReturnBody = %v, %+v", created2, cobj2)
	}
	if _, _, err := n.c.Create(ctx, client.Loc{Bucket: "b", Key: "x"}, text("no"), nil); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("Create with a key: %v, want ErrInvalidArgument", err)
	}
}

func TestSiblingsComeBackMultipartAndResolve(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	n.allowMult(t, "cart")
	loc := client.Loc{Bucket: "cart", Key: "k"}
	apple := text("apple")
	apple.UserMeta = map[string]string{"Who": "ann"}
	apple.Indexes = []client.Index{client.BinIndex("fruit", "apple")}
	pear := client.Content{Value: []byte("pear"), ContentType: "application/x-fruit", Charset: "latin1"}
	n.mustPut(t, loc, apple)
	n.mustPut(t, loc, pear)

	obj := n.mustGet(t, loc)
	if !obj.HasSiblings() || len(obj.Siblings) != 2 || obj.Content() != nil {
		t.Fatalf("want 2 siblings, got %d", len(obj.Siblings))
	}
	if got := values(obj.Siblings); !slices.Equal(got, []string{"apple", "pear"}) {
		t.Fatalf("sibling values %q", got)
	}
	for _, s := range obj.Siblings {
		if s.VTag == "" || s.LastModified.IsZero() || s.Deleted {
			t.Errorf("sibling %q: vtag %q lm %v deleted %v", s.Value, s.VTag, s.LastModified, s.Deleted)
		}
		switch string(s.Value) {
		case "apple":
			if v, _ := s.Meta("who"); v != "ann" || !slices.Equal(s.IndexValues("fruit_bin"), []string{"apple"}) || s.ContentType != "text/plain" {
				t.Errorf("apple sibling %+v", s)
			}
		case "pear":
			if s.ContentType != "application/x-fruit" || s.Charset != "latin1" || len(s.UserMeta) != 0 || len(s.Indexes) != 0 {
				t.Errorf("pear sibling %+v", s)
			}
		}
	}
	if obj.Siblings[0].VTag == obj.Siblings[1].VTag {
		t.Error("siblings share a vtag")
	}

	// Each sibling can be fetched alone by its vtag.
	one, err := n.c.Get(ctx, loc, &client.GetOptions{VTag: obj.Siblings[1].VTag})
	if err != nil || one.HasSiblings() || string(one.Content().Value) != string(obj.Siblings[1].Value) {
		t.Fatalf("Get by vtag: %+v, %v", one, err)
	}

	// A resolver picks the longest value; writing it with the 300's clock
	// replaces both siblings.
	longest := func(sibs []client.Content) (client.Content, error) {
		best := sibs[0]
		for _, s := range sibs[1:] {
			if len(s.Value) > len(best.Value) {
				best = s
			}
		}
		return best, nil
	}
	res, err := n.c.GetResolved(ctx, loc, longest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.HasSiblings() || string(res.Content().Value) != "apple" || res.VClock != obj.VClock {
		t.Fatalf("GetResolved = %q (vclock same: %v)", res.Content().Value, res.VClock == obj.VClock)
	}
	if _, err := n.c.Put(ctx, loc, *res.Content(), res.VClock, nil); err != nil {
		t.Fatal(err)
	}
	after := n.mustGet(t, loc)
	if after.HasSiblings() || string(after.Content().Value) != "apple" {
		t.Fatalf("after resolving: %q", values(after.Siblings))
	}
	if v, _ := after.Content().Meta("Who"); v != "ann" {
		t.Errorf("resolved sibling lost its metadata: %v", after.Content().UserMeta)
	}

	// With ReturnBody a write that makes siblings returns them all.
	back, err := n.c.Put(ctx, loc, text("plum"), "", &client.PutOptions{ReturnBody: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := values(back.Siblings); !slices.Equal(got, []string{"apple", "plum"}) {
		t.Errorf("ReturnBody siblings = %q", got)
	}
}

func TestTombstones(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	n.allowMult(t, "b")
	loc := client.Loc{Bucket: "b", Key: "k"}
	n.mustPut(t, loc, text("v1"))
	obj := n.mustGet(t, loc)
	if err := n.c.Delete(ctx, loc, obj.VClock, nil); err != nil {
		t.Fatal(err)
	}
	_, err := n.c.Get(ctx, loc, nil)
	var nf *client.NotFoundError
	if !errors.Is(err, client.ErrNotFound) || !errors.As(err, &nf) {
		t.Fatalf("Get after delete: %v, want a *NotFoundError", err)
	}
	if !nf.Deleted || nf.VClock == "" || nf.Loc != loc || client.TombstoneVClock(err) != nf.VClock {
		t.Fatalf("NotFoundError %+v: want Deleted and the tombstone's vclock", nf)
	}
	// Deleting again is a 404 too.
	if err := n.c.Delete(ctx, loc, "", nil); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}

	// Writing with the tombstone's clock replaces it: no tombstone sibling.
	if _, err := n.c.Put(ctx, loc, text("v2"), nf.VClock, nil); err != nil {
		t.Fatal(err)
	}
	if got := n.mustGet(t, loc); got.HasSiblings() || string(got.Content().Value) != "v2" {
		t.Fatalf("after writing with the tombstone clock: %d siblings", len(got.Siblings))
	}

	// A blind write over a tombstone on an allow_mult bucket leaves the
	// tombstone as a sibling, marked Deleted in the multipart answer.
	loc2 := client.Loc{Bucket: "b", Key: "k2"}
	n.mustPut(t, loc2, text("old"))
	if err := n.c.Delete(ctx, loc2, n.mustGet(t, loc2).VClock, nil); err != nil {
		t.Fatal(err)
	}
	n.mustPut(t, loc2, text("new"))
	both := n.mustGet(t, loc2)
	if len(both.Siblings) != 2 {
		t.Fatalf("want a live and a tombstone sibling, got %d", len(both.Siblings))
	}
	deleted := 0
	for _, s := range both.Siblings {
		if s.Deleted {
			deleted++
			if len(s.Value) != 0 {
				t.Errorf("tombstone sibling value %q", s.Value)
			}
		}
	}
	if deleted != 1 {
		t.Fatalf("%d tombstone siblings, want 1", deleted)
	}
	// GetResolved drops the tombstone: the concurrent write wins.
	res, err := n.c.GetResolved(ctx, loc2, nil, nil)
	if err != nil || string(res.Content().Value) != "new" {
		t.Fatalf("GetResolved = %+v, %v", res, err)
	}
}

func TestErrorTyping(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	missing := client.Loc{Bucket: "b", Key: "nobody"}

	// 404 → ErrNotFound, no tombstone.
	_, err := n.c.Get(ctx, missing, nil)
	var nf *client.NotFoundError
	if !errors.Is(err, client.ErrNotFound) || !errors.As(err, &nf) || nf.Deleted || nf.VClock != "" {
		t.Fatalf("Get missing: %v (%+v)", err, nf)
	}
	var e *client.Error
	if errors.As(err, &e) {
		t.Errorf("a plain not-found is not an *Error: %v", e)
	}

	// 400 with Riak's text body.
	_, err = n.c.Put(ctx, client.Loc{Bucket: "b", Key: "k"}, client.Content{Value: []byte("x"), ContentType: "text/plain",
		Indexes: []client.Index{{Field: "foo", Value: "1"}}}, "", nil)
	if !errors.As(err, &e) || e.Status != 400 || e.Body != "Unknown field type for field: 'foo'.\n" {
		t.Fatalf("bad index: %v, want *Error 400 with Riak's body", err)
	}
	if e.Method != "PUT" || e.Path != "/buckets/b/keys/k" || errors.Is(err, client.ErrNotFound) {
		t.Errorf("error %+v", e)
	}
	if !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "Unknown field type") {
		t.Errorf("Error() = %q", err.Error())
	}
	_, err = n.c.Get(ctx, missing, &client.GetOptions{R: client.N(5)})
	if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(e.Body, "n value of 3") {
		t.Errorf("r=5 on n_val 3: %v", err)
	}

	// Unknown bucket type: 404, but not ErrNotFound.
	_, err = n.c.Get(ctx, client.Loc{Type: "nope", Bucket: "b", Key: "k"}, nil)
	if !errors.Is(err, client.ErrUnknownType) || errors.Is(err, client.ErrNotFound) || !errors.As(err, &e) || e.Status != 404 {
		t.Errorf("unknown type: %v", err)
	}

	// Refused before sending.
	for name, call := range map[string]func() error{
		"bad quorum": func() error { _, err := n.c.Get(ctx, missing, &client.GetOptions{R: "two"}); return err },
		"no bucket":  func() error { _, err := n.c.Get(ctx, client.Loc{Key: "k"}, nil); return err },
		"no key":     func() error { return n.c.Delete(ctx, client.Loc{Bucket: "b"}, "", nil) },
		"comma in index value": func() error {
			_, err := n.c.Put(ctx, missing, client.Content{Indexes: []client.Index{client.BinIndex("x", "a, b")}}, "", nil)
			return err
		},
	} {
		if err := call(); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	loc := client.Loc{Bucket: "b", Key: "k"}
	if _, err := n.c.Put(ctx, loc, text("v1"), "", &client.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatalf("IfNoneMatch on a missing key: %v", err)
	}
	_, err := n.c.Put(ctx, loc, text("v2"), "", &client.PutOptions{IfNoneMatch: true})
	var e *client.Error
	if !errors.Is(err, client.ErrPreconditionFailed) || !errors.As(err, &e) || e.Status != 412 {
		t.Fatalf("IfNoneMatch on an existing key: %v", err)
	}
	obj := n.mustGet(t, loc)
	if _, err := n.c.Get(ctx, loc, &client.GetOptions{IfNoneMatch: obj.ETag}); !errors.Is(err, client.ErrNotModified) {
		t.Errorf("Get If-None-Match current etag: %v, want ErrNotModified", err)
	}
	if _, err := n.c.Get(ctx, loc, &client.GetOptions{IfModifiedSince: testStart}); !errors.Is(err, client.ErrNotModified) {
		t.Errorf("Get If-Modified-Since: %v, want ErrNotModified", err)
	}
	if _, err := n.c.Put(ctx, loc, text("v3"), obj.VClock, &client.PutOptions{IfMatch: "stale"}); !errors.Is(err, client.ErrPreconditionFailed) {
		t.Errorf("IfMatch stale: %v", err)
	}
	if _, err := n.c.Put(ctx, loc, text("v3"), obj.VClock, &client.PutOptions{IfMatch: obj.ETag}); err != nil {
		t.Errorf("IfMatch current: %v", err)
	}
}
