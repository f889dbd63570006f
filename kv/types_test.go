package kv_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/siblings"
)

// Bucket types: riak-admin's lifecycle (create → ready → active),
// validation, persistence, and how bucket props inherit from the type.

func raw(t testing.TB, js string) map[string]json.RawMessage {
	t.Helper()
	if js == "" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return m
}

func (e *env) createType(name, props string) {
	e.t.Helper()
	if err := e.svc.CreateType(name, raw(e.t, props)); err != nil {
		e.t.Fatalf("CreateType(%s, %s): %v", name, props, err)
	}
}

func (e *env) activateType(name string) {
	e.t.Helper()
	if err := e.svc.ActivateType(name); err != nil {
		e.t.Fatalf("ActivateType(%s): %v", name, err)
	}
}

func typed(typ, bucket, k string) kv.Key { return kv.Key{Type: typ, Bucket: bucket, Key: k} }

// propsErr checks that err is a *kv.PropsError with a reason for each
// name, the reason containing the given text when not empty.
func propsErr(t *testing.T, what string, err error, reasons map[string]string) {
	t.Helper()
	var pe *kv.PropsError
	if !errors.As(err, &pe) {
		t.Errorf("%s: %v, want a PropsError", what, err)
		return
	}
	if !errors.Is(err, kv.ErrBadProps) {
		t.Errorf("%s: %v does not wrap ErrBadProps", what, err)
	}
	for name, text := range reasons {
		got, ok := pe.Reasons[name]
		if !ok {
			t.Errorf("%s: reasons %v, want one for %s", what, pe.Reasons, name)
		} else if !strings.Contains(got, text) {
			t.Errorf("%s: reason for %s is %q, want it to contain %q", what, name, got, text)
		}
	}
}

func TestBucketTypeLifecycle(t *testing.T) {
	e := newEnv(t)
	if info := e.svc.TypeInfo("maps"); info.Status != kv.TypeUndefined {
		t.Errorf("TypeInfo of an unknown type: %+v, want undefined", info)
	}
	e.createType("maps", `{"datatype":"map"}`)
	info := e.svc.TypeInfo("maps")
	if info.Status != kv.TypeReady || info.Name != "maps" {
		t.Errorf("after create: %+v, want status ready", info)
	}
	if info.Props.Datatype != "map" || !info.Props.AllowMult || !info.Props.DVVEnabled || info.Props.NVal != 3 {
		t.Errorf("created props %s datatype %q, want the typed defaults with datatype map", info.Props, info.Props.Datatype)
	}

	// Inactive: client requests see no such type.
	k := typed("maps", "b", "k")
	if _, err := e.svc.Put(bg, k, []byte("v"), siblings.Meta{}, nil, kv.Options{}); !errors.Is(err, kv.ErrUnknownType) {
		t.Errorf("Put under a created type: %v, want ErrUnknownType", err)
	}
	if _, err := e.svc.Get(bg, k, kv.Options{}); !errors.Is(err, kv.ErrUnknownType) {
		t.Errorf("Get under a created type: %v, want ErrUnknownType", err)
	}
	if _, err := e.svc.BucketProps("maps", "b"); !errors.Is(err, kv.ErrUnknownType) {
		t.Errorf("BucketProps under a created type: %v, want ErrUnknownType", err)
	}
	if err := e.svc.SetBucketProps("maps", "b", raw(t, `{"n_val":2}`)); !errors.Is(err, kv.ErrUnknownType) {
		t.Errorf("SetBucketProps under a created type: %v, want ErrUnknownType", err)
	}
	if err := e.svc.UpdateType("maps", raw(t, `{"n_val":2}`)); !errors.Is(err, kv.ErrTypeNotActive) {
		t.Errorf("UpdateType of an inactive type: %v, want ErrTypeNotActive", err)
	}

	// Re-creating before activation replaces the definition.
	e.createType("maps", `{"datatype":"map","n_val":2}`)
	if info := e.svc.TypeInfo("maps"); info.Props.NVal != 2 || info.Status != kv.TypeReady {
		t.Errorf("re-created: %+v, want n_val 2, still ready", info)
	}

	e.activateType("maps")
	info = e.svc.TypeInfo("maps")
	if info.Status != kv.TypeActive || info.Props.NVal != 2 || info.Props.Datatype != "map" {
		t.Errorf("after activate: %+v, want active with n_val 2", info)
	}
	if err := e.svc.ActivateType("maps"); err != nil {
		t.Errorf("activating an active type again: %v, want no error", err)
	}
	if err := e.svc.CreateType("maps", raw(t, `{"datatype":"map"}`)); !errors.Is(err, kv.ErrTypeExists) {
		t.Errorf("create after activation: %v, want ErrTypeExists", err)
	}
	if err := e.svc.ActivateType("nope"); !errors.Is(err, kv.ErrUnknownType) {
		t.Errorf("activate an unknown type: %v, want ErrUnknownType", err)
	}
	if err := e.svc.UpdateType("nope", raw(t, `{"n_val":2}`)); !errors.Is(err, kv.ErrUnknownType) {
		t.Errorf("update an unknown type: %v, want ErrUnknownType", err)
	}

	// Datatype is fixed.
	propsErr(t, "update datatype", e.svc.UpdateType("maps", raw(t, `{"datatype":"set"}`)),
		map[string]string{"datatype": "Cannot update datatype on existing bucket"})
	propsErr(t, "datatype type with allow_mult false", e.svc.UpdateType("maps", raw(t, `{"allow_mult":false}`)),
		map[string]string{"allow_mult": "Data Type buckets must be allow_mult=true"})
	if err := e.svc.UpdateType("maps", raw(t, `{"datatype":"map","n_val":4}`)); err != nil {
		t.Errorf("update restating the same datatype: %v", err)
	}
	if info := e.svc.TypeInfo("maps"); info.Props.NVal != 4 || info.Props.Datatype != "map" || info.Status != kv.TypeActive {
		t.Errorf("after update: %+v, want n_val 4", info)
	}
	propsErr(t, "update default", e.svc.UpdateType(kv.DefaultType, raw(t, `{"n_val":2}`)),
		map[string]string{"default": "no_default_update"})

	list := e.svc.ListTypes()
	if len(list) != 2 || list[0].Name != kv.DefaultType || list[0].Status != kv.TypeActive || list[1].Name != "maps" || list[1].Status != kv.TypeActive {
		t.Errorf("ListTypes = %+v, want default then maps, both active", list)
	}
}

func TestBucketTypeTypedDefaults(t *testing.T) {
	e := newEnv(t)
	e.createType("plain", "")
	e.activateType("plain")
	p, err := e.svc.BucketProps("plain", "b")
	if err != nil {
		t.Fatal(err)
	}
	if !p.AllowMult || !p.DVVEnabled || p.Datatype != "" || p.NVal != 3 {
		t.Errorf("typed bucket props %s, want allow_mult and dvv_enabled true", p)
	}
	// The default type is unchanged.
	if dp, _ := e.svc.BucketProps(kv.DefaultType, "b"); dp.AllowMult || dp.DVVEnabled {
		t.Errorf("default bucket props %s, want allow_mult and dvv_enabled false", dp)
	}
	// allow_mult: two blind writes are siblings under the type, and the
	// same bucket name under the default type is a separate bucket.
	k := typed("plain", "b", "k")
	for _, v := range []string{"x", "y"} {
		if _, err := e.svc.Put(bg, k, []byte(v), siblings.Meta{}, nil, kv.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	o, err := e.svc.Get(bg, k, kv.Options{})
	if err != nil || len(values(o)) != 2 {
		t.Errorf("two blind writes under the typed bucket: %s, %v; want two siblings", describe(o), err)
	}
	if _, err := e.svc.Get(bg, key("b", "k"), kv.Options{}); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("default/b/k: %v, want ErrNotFound (types are separate key spaces)", err)
	}
}

func TestBucketTypeNames(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"", "default", "any", "a/b"} {
		if err := e.svc.CreateType(name, nil); !errors.Is(err, kv.ErrTypeName) {
			t.Errorf("CreateType(%q): %v, want ErrTypeName", name, err)
		}
	}
	if err := e.svc.CreateType("any", nil); err == nil || !strings.Contains(err.Error(), "The name 'any' may not be used for bucket types") {
		t.Errorf("CreateType(any): %v, want riak-admin's message", err)
	}
	if list := e.svc.ListTypes(); len(list) != 1 {
		t.Errorf("ListTypes after refused creates: %+v, want only default", list)
	}
}

func TestBucketTypeDatatypes(t *testing.T) {
	e := newEnv(t)
	for _, dt := range []string{"counter", "set", "map", "hll", "gset"} {
		if err := e.svc.CreateType(dt+"s", raw(t, `{"datatype":"`+dt+`"}`)); err != nil {
			t.Errorf("datatype %s: %v", dt, err)
			continue
		}
		if info := e.svc.TypeInfo(dt + "s"); info.Props.Datatype != dt {
			t.Errorf("datatype %s: TypeInfo %+v", dt, info)
		}
	}
	for _, js := range []string{`{"datatype":"nope"}`, `{"datatype":"register"}`, `{"datatype":"flag"}`, `{"datatype":3}`, `{"datatype":"Map"}`} {
		err := e.svc.CreateType("bad", raw(t, js))
		propsErr(t, js, err, map[string]string{"datatype": "not supported for bucket datatype property"})
	}
	propsErr(t, "datatype with allow_mult false", e.svc.CreateType("bad", raw(t, `{"datatype":"set","allow_mult":false}`)),
		map[string]string{"allow_mult": "allow_mult=true"})
	propsErr(t, "several bad props", e.svc.CreateType("bad", raw(t, `{"n_val":"x","allow_mult":"maybe","bogus":1}`)),
		map[string]string{"n_val": "", "allow_mult": "", "bogus": ""})
	if info := e.svc.TypeInfo("bad"); info.Status != kv.TypeUndefined {
		t.Errorf("after refused creates: %+v, want undefined", info)
	}
}

func TestBucketTypeWriteOnce(t *testing.T) {
	e := newEnv(t)
	e.createType("wo", `{"write_once":true}`)
	info := e.svc.TypeInfo("wo")
	if !info.Props.WriteOnce {
		t.Errorf("write_once type: %s write_once %t", info.Props, info.Props.WriteOnce)
	}
	if info.Props.AllowMult {
		t.Errorf("write_once type keeps siblings: %s", info.Props)
	}
	e.activateType("wo")
	propsErr(t, "write_once with datatype", e.svc.CreateType("wo2", raw(t, `{"write_once":true,"datatype":"set"}`)),
		map[string]string{"write_once": "Write once buckets must not have datatype defined"})
	propsErr(t, "write_once not boolean", e.svc.CreateType("wo3", raw(t, `{"write_once":"maybe"}`)),
		map[string]string{"write_once": "not_boolean"})
	propsErr(t, "unset write_once", e.svc.UpdateType("wo", raw(t, `{"write_once":false}`)),
		map[string]string{"write_once": "write_once"})
	e.createType("plain", "")
	e.activateType("plain")
	propsErr(t, "set write_once on an existing type", e.svc.UpdateType("plain", raw(t, `{"write_once":true}`)),
		map[string]string{"write_once": "write_once"})
	propsErr(t, "set write_once on a bucket", e.svc.SetBucketProps("plain", "b", raw(t, `{"write_once":true}`)),
		map[string]string{"write_once": "write_once"})

	// Writes work and never make siblings.
	k := typed("wo", "b", "k")
	for _, v := range []string{"x", "y"} {
		if _, err := e.svc.Put(bg, k, []byte(v), siblings.Meta{}, nil, kv.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if o, err := e.svc.Get(bg, k, kv.Options{}); err != nil || len(o.Siblings) != 1 {
		t.Errorf("write_once bucket after two writes: %s, %v; want one value", describe(o), err)
	}
}

func TestBucketTypesPersist(t *testing.T) {
	e := newEnv(t)
	e.createType("ready", `{"n_val":2}`)
	e.createType("live", `{"datatype":"set"}`)
	e.activateType("live")
	if err := e.svc.UpdateType("live", raw(t, `{"n_val":5}`)); err != nil {
		t.Fatal(err)
	}
	e.createType("plain", "")
	e.activateType("plain")
	k := typed("plain", "b", "k")
	e.put(k, "v", nil)
	if err := e.svc.SetBucketProps("plain", "b", raw(t, `{"allow_mult":false}`)); err != nil {
		t.Fatal(err)
	}

	e.restart()

	if info := e.svc.TypeInfo("ready"); info.Status != kv.TypeReady || info.Props.NVal != 2 {
		t.Errorf("after restart, ready: %+v", info)
	}
	if info := e.svc.TypeInfo("live"); info.Status != kv.TypeActive || info.Props.NVal != 5 || info.Props.Datatype != "set" {
		t.Errorf("after restart, live: %+v, want active, n_val 5, datatype set", info)
	}
	if got := e.get(k); len(values(got)) != 1 || values(got)[0] != "v" {
		t.Errorf("after restart, %s: %s", k, describe(got))
	}
	if p, err := e.svc.BucketProps("plain", "b"); err != nil || p.AllowMult {
		t.Errorf("after restart, plain/b props %s, %v; want allow_mult false", p, err)
	}
	if err := e.svc.CreateType("live", nil); !errors.Is(err, kv.ErrTypeExists) {
		t.Errorf("create of an active type after restart: %v, want ErrTypeExists", err)
	}
	list := e.svc.ListTypes()
	names := make([]string, len(list))
	for i, ti := range list {
		names[i] = ti.Name + ":" + string(ti.Status)
	}
	if strings.Join(names, " ") != "default:active live:active plain:active ready:ready" {
		t.Errorf("ListTypes after restart = %v", names)
	}
	// The ready type can still be activated.
	e.activateType("ready")
	if _, err := e.svc.Put(bg, typed("ready", "b", "k"), []byte("v"), siblings.Meta{}, nil, kv.Options{}); err != nil {
		t.Errorf("put under a type activated after restart: %v", err)
	}
}

func TestBucketPropsOverlayType(t *testing.T) {
	e := newEnv(t)
	e.createType("t", `{"n_val":2,"notfound_ok":false}`)
	e.activateType("t")
	if err := e.svc.SetBucketProps("t", "b", raw(t, `{"allow_mult":false}`)); err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.BucketProps("t", "b")
	if err != nil {
		t.Fatal(err)
	}
	if p.NVal != 2 || p.NotFoundOK || p.AllowMult || !p.DVVEnabled {
		t.Errorf("t/b props %s, want n_val 2 and notfound_ok false from the type, allow_mult false from the bucket", p)
	}
	other, _ := e.svc.BucketProps("t", "other")
	if other.NVal != 2 || !other.AllowMult {
		t.Errorf("t/other props %s, want the type's", other)
	}
	// The same bucket name under the default type is unaffected.
	if dp, _ := e.svc.BucketProps(kv.DefaultType, "b"); dp.NVal != 3 {
		t.Errorf("default/b props %s", dp)
	}

	// UpdateType changes what existing buckets inherit, not what they set.
	if err := e.svc.UpdateType("t", raw(t, `{"n_val":4,"allow_mult":true,"notfound_ok":true}`)); err != nil {
		t.Fatal(err)
	}
	p, _ = e.svc.BucketProps("t", "b")
	if p.NVal != 4 || !p.NotFoundOK || p.AllowMult {
		t.Errorf("t/b after UpdateType: %s, want n_val 4 and notfound_ok true inherited, allow_mult false kept", p)
	}
	other, _ = e.svc.BucketProps("t", "other")
	if other.NVal != 4 {
		t.Errorf("t/other after UpdateType: %s, want n_val 4", other)
	}
	// Writes use the inherited n_val.
	k := typed("t", "other", "k")
	if _, err := e.svc.Put(bg, k, []byte("v"), siblings.Meta{}, nil, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	pl, err := e.svc.Preflist(k)
	if err != nil || len(pl) != 4 {
		t.Errorf("preflist under n_val 4: %d entries, %v", len(pl), err)
	}
	// Resetting the bucket brings back the type's values.
	if err := e.svc.ResetBucketProps("t", "b"); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.svc.BucketProps("t", "b"); !p.AllowMult || p.NVal != 4 {
		t.Errorf("t/b after reset: %s, want the type's props", p)
	}
}

// TestTypeHLLPrecision: riak_kv_bucket:hll_precision/3's rules on types.
func TestTypeHLLPrecision(t *testing.T) {
	e := newEnv(t)
	e.createType("h", `{"datatype":"hll"}`)
	if p := e.svc.TypeInfo("h").Props; p.HLLPrecision != 14 || p.JSON("h")["hll_precision"] != 14 {
		t.Fatalf("default: %d", p.HLLPrecision)
	}
	e.createType("s", `{"datatype":"set","hll_precision":3}`) // ignored: not an hll type
	if p := e.svc.TypeInfo("s").Props; p.HLLPrecision != 0 || p.JSON("s")["hll_precision"] != nil {
		t.Fatalf("set type: %d", p.HLLPrecision)
	}
	for _, bad := range []string{`{"datatype":"hll","hll_precision":3}`, `{"datatype":"hll","hll_precision":17}`, `{"datatype":"hll","hll_precision":"8"}`} {
		propsErr(t, bad, e.svc.CreateType("bad", raw(t, bad)), map[string]string{"hll_precision": "between 4 and 16"})
	}
	e.createType("h10", `{"datatype":"hll","hll_precision":10}`)
	e.activateType("h10")
	for _, c := range []struct {
		props string
		ok    bool
		want  int
	}{
		{`{"hll_precision":10}`, true, 10},
		{`{"hll_precision":11}`, false, 10},
		{`{"hll_precision":4}`, true, 4},
		{`{"hll_precision":"5"}`, false, 4},
		{`{"hll_precision":"4"}`, true, 4},
		{`{"hll_precision":3}`, false, 4},
	} {
		err := e.svc.UpdateType("h10", raw(t, c.props))
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.props, err)
		}
		if !c.ok {
			propsErr(t, c.props, err, map[string]string{"hll_precision": "never increased"})
		}
		if got := e.svc.TypeInfo("h10").Props.HLLPrecision; got != c.want {
			t.Errorf("after %s: precision %d, want %d", c.props, got, c.want)
		}
	}
}
