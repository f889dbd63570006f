package kv

import (
	"testing"

	"github.com/riakgo/riakgo/siblings"
)

func TestParseStorageKeyRoundTrip(t *testing.T) {
	for _, k := range []Key{{"default", "b", "k"}, {"", "", ""}, {"t", string(make([]byte, 300)), "key with \x00 and \xff"}} {
		got, ok := parseStorageKey(appendStorageKey(nil, k))
		if !ok || got != k {
			t.Errorf("%q: got %q %v", k, got, ok)
		}
	}
	for _, bad := range [][]byte{{}, {5, 'a'}, {0x80}, {1, 'a', 9}} {
		if _, ok := parseStorageKey(bad); ok {
			t.Errorf("%v parsed", bad)
		}
	}
}

// A fallback's copy is dropped after its transfer only if no write changed
// it meanwhile.
func TestDropIfUnchanged(t *testing.T) {
	v := newInternalEnv(t).vnode
	k := Key{Type: DefaultType, Bucket: "b", Key: "k"}
	lww := Props{LastWriteWins: true, SyncOnWrite: "none"}
	mk := func(s string, ts int64) *siblings.Object {
		return &siblings.Object{Siblings: []siblings.Sibling{{Value: []byte(s), Meta: siblings.Meta{VTag: s, LastModified: ts}}}}
	}
	if _, err := v.Put(k, mk("one", 1), lww, false); err != nil {
		t.Fatal(err)
	}
	_, sent, _ := v.read(k)
	if _, err := v.Put(k, mk("two", 2), lww, false); err != nil { // a write during the transfer
		t.Fatal(err)
	}
	if v.dropIfUnchanged(k, sent) {
		t.Fatal("dropped a copy that changed after it was sent")
	}
	_, cur, _ := v.read(k)
	if !v.dropIfUnchanged(k, cur) {
		t.Fatal("did not drop an unchanged copy")
	}
	if o, err := v.Get(k); err != nil || o != nil {
		t.Fatalf("after the drop: %v %v", o, err)
	}
}
