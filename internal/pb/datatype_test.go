package pb

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/internal/pb/riakpb"
)

func mkType(t *testing.T, e *env, name, datatype string) {
	t.Helper()
	if err := e.svc.CreateType(name, map[string]json.RawMessage{"datatype": json.RawMessage(`"` + datatype + `"`)}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ActivateType(name); err != nil {
		t.Fatal(err)
	}
}

func dtUpdate(c *client, req *riakpb.DtUpdateReq) *riakpb.DtUpdateResp {
	c.t.Helper()
	var r riakpb.DtUpdateResp
	c.call(riakpb.CodeDtUpdateReq, req, riakpb.CodeDtUpdateResp, &r)
	return &r
}

func dtFetch(c *client, req *riakpb.DtFetchReq) *riakpb.DtFetchResp {
	c.t.Helper()
	var r riakpb.DtFetchResp
	c.call(riakpb.CodeDtFetchReq, req, riakpb.CodeDtFetchResp, &r)
	return &r
}

func TestDatatypes(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial()
	for _, x := range [][2]string{{"counters", "counter"}, {"sets", "set"}, {"maps", "map"}, {"hlls", "hll"}, {"gsets", "gset"}} {
		mkType(t, e, x[0], x[1])
	}
	b := []byte("b")

	// Counter: not found, then increments (absent increment means 1).
	if r := dtFetch(c, &riakpb.DtFetchReq{Bucket: b, Key: []byte("c"), Type: []byte("counters")}); r.Value != nil || r.GetType() != riakpb.DtFetchResp_COUNTER {
		t.Fatalf("missing counter: %v", r)
	}
	dtUpdate(c, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("c"), Type: []byte("counters"), Op: &riakpb.DtOp{CounterOp: &riakpb.CounterOp{Increment: ptr(int64(10))}}})
	r := dtUpdate(c, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("c"), Type: []byte("counters"), Op: &riakpb.DtOp{CounterOp: &riakpb.CounterOp{}}, ReturnBody: ptr(true)})
	if r.GetCounterValue() != 11 {
		t.Fatalf("counter %d", r.GetCounterValue())
	}
	// Generated key.
	if r := dtUpdate(c, &riakpb.DtUpdateReq{Bucket: b, Type: []byte("counters"), Op: &riakpb.DtOp{CounterOp: &riakpb.CounterOp{}}}); len(r.Key) == 0 {
		t.Fatal("no generated key")
	}

	// Set: adds, a remove with the context, a remove of an absent element.
	dtUpdate(c, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("s"), Type: []byte("sets"), Op: &riakpb.DtOp{SetOp: &riakpb.SetOp{Adds: [][]byte{[]byte("a"), []byte("b")}}}})
	f := dtFetch(c, &riakpb.DtFetchReq{Bucket: b, Key: []byte("s"), Type: []byte("sets")})
	if len(f.Context) == 0 || !slices.Equal(strs(f.Value.SetValue), []string{"a", "b"}) {
		t.Fatalf("set %v", f)
	}
	r = dtUpdate(c, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("s"), Type: []byte("sets"), Context: f.Context,
		Op: &riakpb.DtOp{SetOp: &riakpb.SetOp{Removes: [][]byte{[]byte("a")}}}, ReturnBody: ptr(true)})
	if !slices.Equal(strs(r.SetValue), []string{"b"}) || len(r.Context) == 0 {
		t.Fatalf("after remove %v", r)
	}
	if msg := c.callErr(riakpb.CodeDtUpdateReq, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("s"), Type: []byte("sets"),
		Op: &riakpb.DtOp{SetOp: &riakpb.SetOp{Removes: [][]byte{[]byte("zz")}}}}); !strings.Contains(msg, "precondition") {
		t.Fatalf("remove absent: %q", msg)
	}
	if f := dtFetch(c, &riakpb.DtFetchReq{Bucket: b, Key: []byte("s"), Type: []byte("sets"), IncludeContext: ptr(false)}); f.Context != nil {
		t.Fatal("include_context=false sent a context")
	}

	// Map: counter, register, flag, set and a nested map; then a removal.
	op := &riakpb.MapOp{Updates: []*riakpb.MapUpdate{
		{Field: &riakpb.MapField{Name: []byte("visits"), Type: riakpb.MapField_COUNTER.Enum()}, CounterOp: &riakpb.CounterOp{Increment: ptr(int64(3))}},
		{Field: &riakpb.MapField{Name: []byte("name"), Type: riakpb.MapField_REGISTER.Enum()}, RegisterOp: []byte("Ann")},
		{Field: &riakpb.MapField{Name: []byte("vip"), Type: riakpb.MapField_FLAG.Enum()}, FlagOp: riakpb.MapUpdate_ENABLE.Enum()},
		{Field: &riakpb.MapField{Name: []byte("tags"), Type: riakpb.MapField_SET.Enum()}, SetOp: &riakpb.SetOp{Adds: [][]byte{[]byte("x")}}},
		{Field: &riakpb.MapField{Name: []byte("addr"), Type: riakpb.MapField_MAP.Enum()}, MapOp: &riakpb.MapOp{Updates: []*riakpb.MapUpdate{
			{Field: &riakpb.MapField{Name: []byte("city"), Type: riakpb.MapField_REGISTER.Enum()}, RegisterOp: []byte("Oslo")}}}},
	}}
	dtUpdate(c, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("m"), Type: []byte("maps"), Op: &riakpb.DtOp{MapOp: op}})
	f = dtFetch(c, &riakpb.DtFetchReq{Bucket: b, Key: []byte("m"), Type: []byte("maps")})
	got := map[string]*riakpb.MapEntry{}
	for _, me := range f.Value.MapValue {
		got[string(me.Field.Name)+"/"+me.Field.GetType().String()] = me
	}
	if got["visits/COUNTER"].GetCounterValue() != 3 || string(got["name/REGISTER"].RegisterValue) != "Ann" || !got["vip/FLAG"].GetFlagValue() ||
		len(got["tags/SET"].SetValue) != 1 || string(got["addr/MAP"].MapValue[0].RegisterValue) != "Oslo" || len(f.Context) == 0 {
		t.Fatalf("map %v", f.Value.MapValue)
	}
	r = dtUpdate(c, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("m"), Type: []byte("maps"), Context: f.Context, ReturnBody: ptr(true),
		Op: &riakpb.DtOp{MapOp: &riakpb.MapOp{Removes: []*riakpb.MapField{{Name: []byte("vip"), Type: riakpb.MapField_FLAG.Enum()}}}}})
	if len(r.MapValue) != 4 {
		t.Fatalf("after removal: %v", r.MapValue)
	}

	// HLL and GSet.
	r = dtUpdate(c, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("h"), Type: []byte("hlls"), ReturnBody: ptr(true),
		Op: &riakpb.DtOp{HllOp: &riakpb.HllOp{Adds: [][]byte{[]byte("a"), []byte("b"), []byte("a")}}}})
	if r.GetHllValue() != 2 {
		t.Fatalf("hll %d", r.GetHllValue())
	}
	dtUpdate(c, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("g"), Type: []byte("gsets"), Op: &riakpb.DtOp{GsetOp: &riakpb.GSetOp{Adds: [][]byte{[]byte("z")}}}})
	if f := dtFetch(c, &riakpb.DtFetchReq{Bucket: b, Key: []byte("g"), Type: []byte("gsets")}); f.GetType() != riakpb.DtFetchResp_GSET || len(f.Value.GsetValue) != 1 {
		t.Fatalf("gset %v", f)
	}

	// Errors: an op of the wrong type, a bucket without a datatype, a bad context.
	if msg := c.callErr(riakpb.CodeDtUpdateReq, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("x"), Type: []byte("sets"),
		Op: &riakpb.DtOp{CounterOp: &riakpb.CounterOp{}}}); !strings.Contains(msg, "Operation type is `counter`") {
		t.Fatalf("wrong op: %q", msg)
	}
	if msg := c.callErr(riakpb.CodeDtFetchReq, &riakpb.DtFetchReq{Bucket: b, Key: []byte("x"), Type: []byte("default")}); !strings.Contains(msg, "is not a supported type") {
		t.Fatalf("plain bucket: %q", msg)
	}
	if msg := c.callErr(riakpb.CodeDtUpdateReq, &riakpb.DtUpdateReq{Bucket: b, Key: []byte("s"), Type: []byte("sets"), Context: []byte("junk"),
		Op: &riakpb.DtOp{SetOp: &riakpb.SetOp{Adds: [][]byte{[]byte("q")}}}}); !strings.Contains(msg, "Invalid context") {
		t.Fatalf("bad context: %q", msg)
	}
	// A plain put into a datatype bucket is refused.
	if msg := c.callErr(riakpb.CodePutReq, &riakpb.RpbPutReq{Bucket: b, Key: []byte("p"), Type: []byte("sets"), Content: &riakpb.RpbContent{Value: []byte("v")}}); !strings.Contains(msg, "DtUpdateReq") {
		t.Fatalf("put into a set bucket: %q", msg)
	}
}

// TestLegacyCounters: Riak 1.4's counters on the default type need
// allow_mult.
func TestLegacyCounters(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial()
	b := []byte("c14")
	if msg := c.callErr(riakpb.CodeCounterUpdateReq, &riakpb.RpbCounterUpdateReq{Bucket: b, Key: []byte("k"), Amount: ptr(int64(1))}); !strings.Contains(msg, "allow_mult=true") {
		t.Fatalf("without allow_mult: %q", msg)
	}
	c.call(riakpb.CodeSetBucketReq, &riakpb.RpbSetBucketReq{Bucket: b, Props: &riakpb.RpbBucketProps{AllowMult: ptr(true)}}, riakpb.CodeSetBucketResp, nil)
	var g riakpb.RpbCounterGetResp
	c.call(riakpb.CodeCounterGetReq, &riakpb.RpbCounterGetReq{Bucket: b, Key: []byte("k")}, riakpb.CodeCounterGetResp, &g)
	if g.Value != nil {
		t.Fatalf("missing counter has value %d", g.GetValue())
	}
	var u riakpb.RpbCounterUpdateResp
	c.call(riakpb.CodeCounterUpdateReq, &riakpb.RpbCounterUpdateReq{Bucket: b, Key: []byte("k"), Amount: ptr(int64(5))}, riakpb.CodeCounterUpdateResp, &u)
	c.call(riakpb.CodeCounterUpdateReq, &riakpb.RpbCounterUpdateReq{Bucket: b, Key: []byte("k"), Amount: ptr(int64(-2)), Returnvalue: ptr(true)}, riakpb.CodeCounterUpdateResp, &u)
	if u.GetValue() != 3 {
		t.Fatalf("returnvalue %d", u.GetValue())
	}
	c.call(riakpb.CodeCounterGetReq, &riakpb.RpbCounterGetReq{Bucket: b, Key: []byte("k")}, riakpb.CodeCounterGetResp, &g)
	if g.GetValue() != 3 {
		t.Fatalf("value %d", g.GetValue())
	}
}
