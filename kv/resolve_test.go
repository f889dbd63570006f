package kv_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/kv"
)

// TestResolverWritesBack: a bucket whose resolver is json_set_union answers
// one merged value and writes it back, so every replica holds one value
// afterwards and later writes with its clock do not revive old siblings.
func TestResolverWritesBack(t *testing.T) {
	e := newEnv(t)
	e.setProps("cart", map[string]any{"allow_mult": true, "dvv_enabled": true, "resolver": "json_set_union"})
	k := key("cart", "k")
	e.put(k, `["apple"]`, nil)
	e.put(k, `["pear"]`, nil) // blind: a concurrent sibling
	got := e.get(k)
	if len(got.Siblings) != 1 || string(got.Siblings[0].Value) != `["apple","pear"]` {
		t.Fatalf("resolved read: %s", describe(got))
	}
	e.settle()
	for i, r := range e.replicas(k) {
		if len(r.Siblings) != 1 || string(r.Siblings[0].Value) != `["apple","pear"]` {
			t.Errorf("replica %d after the write-back: %s", i, describe(r))
		}
	}
	o := e.put(k, `["apple","pear","plum"]`, got.Clock)
	if len(o.Siblings) != 1 {
		t.Errorf("write with the resolved clock left %s", describe(o))
	}
}

func TestResolverLastWriteWinsAndValidation(t *testing.T) {
	e := newEnv(t)
	e.setProps("l", map[string]any{"allow_mult": true, "resolver": "last_write_wins"})
	k := key("l", "k")
	e.put(k, "old", nil)
	e.clk.Advance(1e9)
	e.put(k, "new", nil)
	if got := e.get(k); !slices.Equal(values(got), []string{"new"}) {
		t.Fatalf("last_write_wins resolver: %s", describe(got))
	}
	err := e.svc.SetBucketProps(kv.DefaultType, "x", rawProps(t, map[string]any{"resolver": "nope"}))
	var pe *kv.PropsError
	if !errors.As(err, &pe) || pe.Reasons["resolver"] == "" {
		t.Fatalf("unknown resolver accepted: %v", err)
	}
	err = e.svc.SetBucketProps(kv.DefaultType, "x", rawProps(t, map[string]any{"resolver": "datatype"}))
	if !errors.As(err, &pe) {
		t.Fatalf("datatype resolver on a plain bucket accepted: %v", err)
	}
	// A resolver that cannot merge the values leaves the siblings to the
	// client rather than failing the read.
	e.setProps("bad", map[string]any{"allow_mult": true, "resolver": "numeric_max"})
	kb := key("bad", "k")
	e.put(kb, "one", nil)
	e.put(kb, "two", nil)
	if got := e.get(kb); len(got.Siblings) != 2 {
		t.Fatalf("unresolvable siblings: %s", describe(got))
	}
}
