package pb

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/internal/pb/riakpb"
)

func TestPingServerInfoClientID(t *testing.T) {
	e := newEnv(t, Config{Version: "test"})
	c := e.dial()
	c.ping()
	var info riakpb.RpbGetServerInfoResp
	c.call(riakpb.CodeGetServerInfoReq, nil, riakpb.CodeGetServerInfoResp, &info)
	if string(info.Node) != "riakgo@127.0.0.1" || string(info.ServerVersion) != "riakgo test" {
		t.Fatalf("server info %q %q", info.Node, info.ServerVersion)
	}
	c.call(riakpb.CodeSetClientIDReq, &riakpb.RpbSetClientIdReq{ClientId: []byte("abcd")}, riakpb.CodeSetClientIDResp, nil)
	var id riakpb.RpbGetClientIdResp
	c.call(riakpb.CodeGetClientIDReq, nil, riakpb.CodeGetClientIDResp, &id)
	if string(id.ClientId) != "abcd" {
		t.Fatalf("client id %q", id.ClientId)
	}
}

func put(c *client, req *riakpb.RpbPutReq) *riakpb.RpbPutResp {
	c.t.Helper()
	var resp riakpb.RpbPutResp
	c.call(riakpb.CodePutReq, req, riakpb.CodePutResp, &resp)
	return &resp
}

func get(c *client, req *riakpb.RpbGetReq) *riakpb.RpbGetResp {
	c.t.Helper()
	var resp riakpb.RpbGetResp
	c.call(riakpb.CodeGetReq, req, riakpb.CodeGetResp, &resp)
	return &resp
}

// TestObjectLifecycle: put, get, conditional puts, return_body and
// return_head, generated keys, delete and the tombstone's vclock.
func TestObjectLifecycle(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial()
	b, k := []byte("b"), []byte("k")

	if r := get(c, &riakpb.RpbGetReq{Bucket: b, Key: k}); len(r.Content) != 0 || r.Vclock != nil {
		t.Fatalf("get of a missing key: %v", r)
	}
	content := &riakpb.RpbContent{Value: []byte("hello"), ContentType: []byte("text/plain"), Charset: []byte("utf-8"),
		Usermeta: []*riakpb.RpbPair{{Key: []byte("color"), Value: []byte("blue")}},
		Indexes:  []*riakpb.RpbPair{{Key: []byte("Age_INT"), Value: []byte("007")}, {Key: []byte("email_bin"), Value: []byte("a@b")}},
		Links:    []*riakpb.RpbLink{{Bucket: []byte("people"), Key: []byte("bob"), Tag: []byte("friend")}}}
	r := put(c, &riakpb.RpbPutReq{Bucket: b, Key: k, Content: content, ReturnBody: ptr(true), W: ptr(riakpb.QuorumAll)})
	if len(r.Content) != 1 || string(r.Content[0].Value) != "hello" || r.Vclock == nil || r.Key != nil {
		t.Fatalf("return_body: %v", r)
	}
	got := get(c, &riakpb.RpbGetReq{Bucket: b, Key: k, R: ptr(uint32(3))})
	s := got.Content[0]
	if string(s.ContentType) != "text/plain" || string(s.Charset) != "utf-8" || len(s.Vtag) == 0 || s.GetLastMod() == 0 ||
		string(s.Usermeta[0].Key) != "color" || string(s.Indexes[0].Key) != "age_int" || string(s.Indexes[0].Value) != "7" ||
		string(s.Links[0].Tag) != "friend" {
		t.Fatalf("stored content: %v", s)
	}
	// if_modified with the current clock: unchanged.
	if u := get(c, &riakpb.RpbGetReq{Bucket: b, Key: k, IfModified: got.Vclock}); !u.GetUnchanged() || len(u.Content) != 0 {
		t.Fatalf("if_modified: %v", u)
	}
	// head: no value.
	if h := get(c, &riakpb.RpbGetReq{Bucket: b, Key: k, Head: ptr(true)}); len(h.Content[0].Value) != 0 || len(h.Content[0].Vtag) == 0 {
		t.Fatalf("head: %v", h)
	}
	// if_none_match on an existing key; if_not_modified with a stale clock.
	if msg := c.callErr(riakpb.CodePutReq, &riakpb.RpbPutReq{Bucket: b, Key: k, Content: content, IfNoneMatch: ptr(true)}); msg != "match_found" {
		t.Fatalf("if_none_match: %q", msg)
	}
	r2 := put(c, &riakpb.RpbPutReq{Bucket: b, Key: k, Vclock: got.Vclock, Content: &riakpb.RpbContent{Value: []byte("v2")}, IfNotModified: ptr(true), ReturnHead: ptr(true)})
	if len(r2.Content) != 1 || len(r2.Content[0].Value) != 0 {
		t.Fatalf("return_head: %v", r2)
	}
	if msg := c.callErr(riakpb.CodePutReq, &riakpb.RpbPutReq{Bucket: b, Key: k, Vclock: got.Vclock, Content: content, IfNotModified: ptr(true)}); msg != "modified" {
		t.Fatalf("if_not_modified with a stale clock: %q", msg)
	}
	if msg := c.callErr(riakpb.CodePutReq, &riakpb.RpbPutReq{Bucket: b, Key: []byte("nope"), Vclock: got.Vclock, Content: content, IfNotModified: ptr(true)}); msg != "notfound" {
		t.Fatalf("if_not_modified on a missing key: %q", msg)
	}
	// A generated key comes back.
	gk := put(c, &riakpb.RpbPutReq{Bucket: b, Content: &riakpb.RpbContent{Value: []byte("x")}})
	if len(gk.Key) == 0 || len(get(c, &riakpb.RpbGetReq{Bucket: b, Key: gk.Key}).Content) != 1 {
		t.Fatalf("generated key %q", gk.Key)
	}
	// Quorum errors carry Riak's text.
	if msg := c.callErr(riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: b, Key: k, R: ptr(uint32(4))}); !strings.Contains(msg, "bucket n value of 3") {
		t.Fatalf("r > n_val: %q", msg)
	}
	if msg := c.callErr(riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: b, Key: k, NVal: ptr(uint32(4))}); !strings.Contains(msg, "n value of 3") {
		t.Fatalf("n_val > bucket's: %q", msg)
	}
	if r := get(c, &riakpb.RpbGetReq{Bucket: b, Key: k, NVal: ptr(uint32(1)), R: ptr(uint32(1)), SloppyQuorum: ptr(false)}); len(r.Content) != 1 {
		t.Fatalf("n_val 1, sloppy_quorum false: %v", r)
	}
	// Delete; a second delete is fine; the tombstone's clock on request.
	c.call(riakpb.CodeDelReq, &riakpb.RpbDelReq{Bucket: b, Key: k}, riakpb.CodeDelResp, nil)
	c.call(riakpb.CodeDelReq, &riakpb.RpbDelReq{Bucket: b, Key: k}, riakpb.CodeDelResp, nil)
	if r := get(c, &riakpb.RpbGetReq{Bucket: b, Key: k}); len(r.Content) != 0 || r.Vclock != nil {
		t.Fatalf("get after delete: %v", r)
	}
	if r := get(c, &riakpb.RpbGetReq{Bucket: b, Key: k, Deletedvclock: ptr(true)}); len(r.Content) != 0 || r.Vclock == nil {
		t.Fatalf("deletedvclock: %v", r)
	}
}

// TestSiblings: allow_mult keeps concurrent writes as siblings, and a put
// with the clock resolves them.
func TestSiblings(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial()
	c.call(riakpb.CodeSetBucketReq, &riakpb.RpbSetBucketReq{Bucket: []byte("s"), Props: &riakpb.RpbBucketProps{AllowMult: ptr(true)}}, riakpb.CodeSetBucketResp, nil)
	for _, v := range []string{"a", "b"} {
		put(c, &riakpb.RpbPutReq{Bucket: []byte("s"), Key: []byte("k"), Content: &riakpb.RpbContent{Value: []byte(v)}})
	}
	r := get(c, &riakpb.RpbGetReq{Bucket: []byte("s"), Key: []byte("k")})
	if len(r.Content) != 2 {
		t.Fatalf("%d siblings, want 2", len(r.Content))
	}
	w := put(c, &riakpb.RpbPutReq{Bucket: []byte("s"), Key: []byte("k"), Vclock: r.Vclock, Content: &riakpb.RpbContent{Value: []byte("c")}, ReturnBody: ptr(true)})
	if len(w.Content) != 1 || string(w.Content[0].Value) != "c" {
		t.Fatalf("resolved: %v", w.Content)
	}
}

// TestBucketProps: get, set, reset, and bucket-type props.
func TestBucketProps(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial()
	var gp riakpb.RpbGetBucketResp
	c.call(riakpb.CodeGetBucketReq, &riakpb.RpbGetBucketReq{Bucket: []byte("p")}, riakpb.CodeGetBucketResp, &gp)
	if gp.Props.GetNVal() != 3 || gp.Props.GetAllowMult() || gp.Props.GetR() != riakpb.QuorumQuorum || gp.Props.GetPr() != 0 {
		t.Fatalf("default props %v", gp.Props)
	}
	c.call(riakpb.CodeSetBucketReq, &riakpb.RpbSetBucketReq{Bucket: []byte("p"), Props: &riakpb.RpbBucketProps{
		NVal: ptr(uint32(2)), AllowMult: ptr(true), R: ptr(riakpb.QuorumAll), W: ptr(uint32(1))}}, riakpb.CodeSetBucketResp, nil)
	c.call(riakpb.CodeGetBucketReq, &riakpb.RpbGetBucketReq{Bucket: []byte("p")}, riakpb.CodeGetBucketResp, &gp)
	if gp.Props.GetNVal() != 2 || !gp.Props.GetAllowMult() || gp.Props.GetR() != riakpb.QuorumAll || gp.Props.GetW() != 1 {
		t.Fatalf("set props %v", gp.Props)
	}
	if msg := c.callErr(riakpb.CodeSetBucketReq, &riakpb.RpbSetBucketReq{Bucket: []byte("p"), Props: &riakpb.RpbBucketProps{NVal: ptr(uint32(0))}}); !strings.Contains(msg, "n_val") {
		t.Fatalf("n_val 0: %q", msg)
	}
	c.call(riakpb.CodeResetBucketReq, &riakpb.RpbResetBucketReq{Bucket: []byte("p")}, riakpb.CodeResetBucketResp, nil)
	c.call(riakpb.CodeGetBucketReq, &riakpb.RpbGetBucketReq{Bucket: []byte("p")}, riakpb.CodeGetBucketResp, &gp)
	if gp.Props.GetNVal() != 3 || gp.Props.GetAllowMult() {
		t.Fatalf("reset props %v", gp.Props)
	}
	// Bucket types: the default cannot be changed; an active type can.
	if msg := c.callErr(riakpb.CodeSetBucketTypeReq, &riakpb.RpbSetBucketTypeReq{Type: []byte("default"), Props: &riakpb.RpbBucketProps{AllowMult: ptr(true)}}); !strings.Contains(msg, "default bucket type") {
		t.Fatalf("default type: %q", msg)
	}
	if err := e.svc.CreateType("plain", map[string]json.RawMessage{}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ActivateType("plain"); err != nil {
		t.Fatal(err)
	}
	c.call(riakpb.CodeSetBucketTypeReq, &riakpb.RpbSetBucketTypeReq{Type: []byte("plain"), Props: &riakpb.RpbBucketProps{AllowMult: ptr(false), NVal: ptr(uint32(4))}}, riakpb.CodeSetBucketResp, nil)
	c.call(riakpb.CodeGetBucketTypeReq, &riakpb.RpbGetBucketTypeReq{Type: []byte("plain")}, riakpb.CodeGetBucketResp, &gp)
	if gp.Props.GetNVal() != 4 || gp.Props.GetAllowMult() {
		t.Fatalf("type props %v", gp.Props)
	}
	if msg := c.callErr(riakpb.CodeGetBucketReq, &riakpb.RpbGetBucketReq{Bucket: []byte("p"), Type: []byte("nosuch")}); !strings.Contains(msg, "bucket type") {
		t.Fatalf("unknown type: %q", msg)
	}
}

// TestListingAndIndexes: list buckets (plain and streamed), list keys
// (streamed), 2i exact, range with terms, pagination, streaming, regex.
func TestListingAndIndexes(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial()
	for i := 0; i < 30; i++ {
		put(c, &riakpb.RpbPutReq{Bucket: []byte("people"), Key: []byte(fmt.Sprintf("p%02d", i)), Content: &riakpb.RpbContent{Value: []byte("x"),
			Indexes: []*riakpb.RpbPair{{Key: []byte("age_int"), Value: []byte(fmt.Sprint(i))}, {Key: []byte("name_bin"), Value: []byte(fmt.Sprintf("n%02d", i))}}}})
	}
	put(c, &riakpb.RpbPutReq{Bucket: []byte("other"), Key: []byte("k"), Content: &riakpb.RpbContent{Value: []byte("x")}})

	var lb riakpb.RpbListBucketsResp
	c.call(riakpb.CodeListBucketsReq, &riakpb.RpbListBucketsReq{}, riakpb.CodeListBucketsResp, &lb)
	if bs := strs(lb.Buckets); !slices.Contains(bs, "people") || !slices.Contains(bs, "other") || len(bs) != 2 {
		t.Fatalf("buckets %v", bs)
	}
	var streamed []string
	c.send(riakpb.CodeListBucketsReq, &riakpb.RpbListBucketsReq{Stream: ptr(true)})
	for {
		var r riakpb.RpbListBucketsResp
		recvInto(t, c, riakpb.CodeListBucketsResp, &r)
		streamed = append(streamed, strs(r.Buckets)...)
		if r.GetDone() {
			break
		}
	}
	if len(streamed) != 2 {
		t.Fatalf("streamed buckets %v", streamed)
	}
	var keys []string
	c.send(riakpb.CodeListKeysReq, &riakpb.RpbListKeysReq{Bucket: []byte("people")})
	for {
		var r riakpb.RpbListKeysResp
		recvInto(t, c, riakpb.CodeListKeysResp, &r)
		keys = append(keys, strs(r.Keys)...)
		if r.GetDone() {
			break
		}
	}
	if len(keys) != 30 {
		t.Fatalf("%d keys", len(keys))
	}

	var ir riakpb.RpbIndexResp
	c.call(riakpb.CodeIndexReq, &riakpb.RpbIndexReq{Bucket: []byte("people"), Index: []byte("age_int"), Qtype: riakpb.RpbIndexReq_eq.Enum(), Key: []byte("7")}, riakpb.CodeIndexResp, &ir)
	if ks := strs(ir.Keys); len(ks) != 1 || ks[0] != "p07" {
		t.Fatalf("eq: %v", ks)
	}
	ir = riakpb.RpbIndexResp{}
	c.call(riakpb.CodeIndexReq, &riakpb.RpbIndexReq{Bucket: []byte("people"), Index: []byte("age_int"), Qtype: riakpb.RpbIndexReq_range.Enum(),
		RangeMin: []byte("10"), RangeMax: []byte("19"), ReturnTerms: ptr(true), MaxResults: ptr(uint32(4))}, riakpb.CodeIndexResp, &ir)
	if len(ir.Results) != 4 || string(ir.Results[0].Key) != "10" || string(ir.Results[0].Value) != "p10" || len(ir.Continuation) == 0 {
		t.Fatalf("range page: %v", &ir)
	}
	// The rest, streamed, from the continuation.
	var rest []string
	c.send(riakpb.CodeIndexReq, &riakpb.RpbIndexReq{Bucket: []byte("people"), Index: []byte("age_int"), Qtype: riakpb.RpbIndexReq_range.Enum(),
		RangeMin: []byte("10"), RangeMax: []byte("19"), Continuation: ir.Continuation, Stream: ptr(true)})
	for {
		var r riakpb.RpbIndexResp
		recvInto(t, c, riakpb.CodeIndexResp, &r)
		rest = append(rest, strs(r.Keys)...)
		if r.GetDone() {
			if r.Continuation != nil {
				t.Fatalf("last page has a continuation")
			}
			break
		}
	}
	if len(rest) != 6 || rest[0] != "p14" {
		t.Fatalf("rest %v", rest)
	}
	ir = riakpb.RpbIndexResp{}
	c.call(riakpb.CodeIndexReq, &riakpb.RpbIndexReq{Bucket: []byte("people"), Index: []byte("name_bin"), Qtype: riakpb.RpbIndexReq_range.Enum(),
		RangeMin: []byte("n"), RangeMax: []byte("o"), TermRegex: []byte("^n2[0-2]$")}, riakpb.CodeIndexResp, &ir)
	if ks := strs(ir.Keys); len(ks) != 3 {
		t.Fatalf("regex: %v", ks)
	}
	ir = riakpb.RpbIndexResp{}
	c.call(riakpb.CodeIndexReq, &riakpb.RpbIndexReq{Bucket: []byte("people"), Index: []byte("$key"), Qtype: riakpb.RpbIndexReq_range.Enum(),
		RangeMin: []byte("p00"), RangeMax: []byte("p04")}, riakpb.CodeIndexResp, &ir)
	if ks := strs(ir.Keys); len(ks) != 5 {
		t.Fatalf("$key: %v", ks)
	}
	if msg := c.callErr(riakpb.CodeIndexReq, &riakpb.RpbIndexReq{Bucket: []byte("people"), Index: []byte("age"), Qtype: riakpb.RpbIndexReq_eq.Enum(), Key: []byte("1")}); !strings.Contains(msg, "unknown_field_type") {
		t.Fatalf("bad field: %q", msg)
	}
	if msg := c.callErr(riakpb.CodeIndexReq, &riakpb.RpbIndexReq{Bucket: []byte("people"), Index: []byte("age_int"), Qtype: riakpb.RpbIndexReq_range.Enum(),
		RangeMin: []byte("1"), RangeMax: []byte("2"), TermRegex: []byte("x")}); !strings.Contains(msg, "integer queries") {
		t.Fatalf("regex on _int: %q", msg)
	}
	// Coverage: one entry whose context a query accepts.
	var cov riakpb.RpbCoverageResp
	c.call(riakpb.CodeCoverageReq, &riakpb.RpbCoverageReq{Bucket: []byte("people")}, riakpb.CodeCoverageResp, &cov)
	if len(cov.Entries) != 1 || cov.Entries[0].GetPort() == 0 {
		t.Fatalf("coverage %v", &cov)
	}
	ir = riakpb.RpbIndexResp{}
	c.call(riakpb.CodeIndexReq, &riakpb.RpbIndexReq{Bucket: []byte("people"), Index: []byte("$bucket"), Qtype: riakpb.RpbIndexReq_eq.Enum(), Key: []byte("people"),
		CoverContext: cov.Entries[0].CoverContext}, riakpb.CodeIndexResp, &ir)
	if len(ir.Keys) != 30 {
		t.Fatalf("$bucket with the cover context: %d keys", len(ir.Keys))
	}
	if msg := c.callErr(riakpb.CodeIndexReq, &riakpb.RpbIndexReq{Bucket: []byte("people"), Index: []byte("$bucket"), Qtype: riakpb.RpbIndexReq_eq.Enum(), Key: []byte("people"),
		CoverContext: []byte("forged")}); !strings.Contains(msg, "cover_context") {
		t.Fatalf("forged cover context: %q", msg)
	}
	var pl riakpb.RpbGetBucketKeyPreflistResp
	c.call(riakpb.CodeGetBucketKeyPreflistReq, &riakpb.RpbGetBucketKeyPreflistReq{Bucket: []byte("people"), Key: []byte("p01")}, riakpb.CodeGetBucketKeyPreflistResp, &pl)
	if len(pl.Preflist) != 3 || pl.Preflist[0].GetPartition() < 0 || pl.Preflist[0].GetPartition() >= 64 || !pl.Preflist[0].GetPrimary() {
		t.Fatalf("preflist %v", &pl)
	}
}

func recvInto(t *testing.T, c *client, want riakpb.Code, m riakpb.Message) {
	t.Helper()
	code, body, err := c.recv()
	if err != nil || code != want {
		t.Fatalf("got %s %v, want %s", code, err, want)
	}
	if err := riakpb.Unmarshal(body, m); err != nil {
		t.Fatal(err)
	}
}

// TestUnsupported: MapReduce, search and time series answer a clear error,
// and so do STARTTLS and authentication while security is off (Riak's
// texts), and the connection goes on.
func TestUnsupported(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial()
	for code, want := range map[riakpb.Code]string{
		riakpb.CodeMapRedReq: "MapReduce is not supported", riakpb.CodeSearchQueryReq: "Riak Search",
		riakpb.CodeYokozunaIndexPutReq: "Riak Search", riakpb.CodeTsQueryReq: "time series",
		riakpb.CodeAuthReq: "Unknown message code: 253", riakpb.CodeStartTLS: "Security not enabled; STARTTLS not allowed.",
	} {
		c.sendRaw(frame(1, byte(code), nil))
		if msg := c.wantError(); !strings.Contains(msg, want) {
			t.Fatalf("%s: %q", code, msg)
		}
	}
	c.ping()
}
