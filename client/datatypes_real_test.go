package client_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/client"
)

// The typed data-type helpers against a real riakgo (the fake-server tests
// in datatypes_test.go pin the exact JSON).
func TestDatatypesAgainstRiakgo(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	for _, typ := range []struct{ name, dt string }{{"counters", "counter"}, {"sets", "set"}, {"maps", "map"}} {
		if _, err := n.c.CreateType(ctx, typ.name, map[string]any{"datatype": typ.dt}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.c.ActivateType(ctx, typ.name); err != nil {
			t.Fatal(err)
		}
	}
	ret := &client.DatatypeOptions{ReturnBody: true}
	cl := client.Loc{Type: "counters", Bucket: "b", Key: "k"}
	if _, err := n.c.UpdateCounter(ctx, cl, 7, nil); err != nil {
		t.Fatal(err)
	}
	d, err := n.c.UpdateCounter(ctx, cl, -2, ret)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := d.Counter(); err != nil || v != 5 {
		t.Fatalf("counter %d %v", v, err)
	}

	sl := client.Loc{Type: "sets", Bucket: "b", Key: "k"}
	if _, err := n.c.UpdateSet(ctx, sl, []string{"b", "a"}, nil, "", nil); err != nil {
		t.Fatal(err)
	}
	got, err := n.c.FetchDatatype(ctx, sl, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err = n.c.UpdateSet(ctx, sl, nil, []string{"a"}, got.Context, ret)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Set(); !slices.Equal(v, []string{"b"}) {
		t.Fatalf("set %v", v)
	}

	ml := client.Loc{Type: "maps", Bucket: "b", Key: "k"}
	d, err = n.c.UpdateMap(ctx, ml, map[string]any{"update": map[string]any{"n_counter": 3, "r_register": "v"}}, "", ret)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := d.Map()
	if string(m["n_counter"]) != "3" || string(m["r_register"]) != `"v"` {
		t.Fatalf("map %v", m)
	}
	if _, err := n.c.FetchDatatype(ctx, client.Loc{Type: "maps", Bucket: "b", Key: "none"}, nil); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("missing map: %v", err)
	}
}
