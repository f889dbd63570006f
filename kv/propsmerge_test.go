package kv

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// Concurrent props changes merge property by property, with Riak's
// choice for a property both sides set.
func TestMergeProps(t *testing.T) {
	for _, c := range []struct{ name, a, b, want string }{
		{"disjoint properties both kept", `{"allow_mult":true}`, `{"n_val":2}`, `{"allow_mult":true,"n_val":2}`},
		{"allow_mult: either", `{"allow_mult":true}`, `{"allow_mult":false}`, `{"allow_mult":true}`},
		{"notfound_ok: either", `{"notfound_ok":false}`, `{"notfound_ok":true}`, `{"notfound_ok":true}`},
		{"last_write_wins: both", `{"last_write_wins":true}`, `{"last_write_wins":false}`, `{"last_write_wins":false}`},
		{"basic_quorum: both", `{"basic_quorum":true}`, `{"basic_quorum":true}`, `{"basic_quorum":true}`},
		{"n_val: the larger", `{"n_val":5}`, `{"n_val":2}`, `{"n_val":5}`},
		{"young_vclock: the larger", `{"young_vclock":20}`, `{"young_vclock":40}`, `{"young_vclock":40}`},
		{"r: a name above a number", `{"r":3}`, `{"r":"quorum"}`, `{"r":"quorum"}`},
		{"w: names alphabetically", `{"w":"all"}`, `{"w":"quorum"}`, `{"w":"quorum"}`},
		{"pw: numbers by value", `{"pw":1}`, `{"pw":2}`, `{"pw":2}`},
		{"sync_on_write: the stronger", `{"sync_on_write":"one"}`, `{"sync_on_write":"all"}`, `{"sync_on_write":"all"}`},
		{"sync_on_write: one over backend", `{"sync_on_write":"backend"}`, `{"sync_on_write":"one"}`, `{"sync_on_write":"one"}`},
		{"hooks: the union", `{"precommit":[{"name":"b"},{"name":"a"}]}`, `{"precommit":[{"name":"a"},{"name":"c"}]}`, `{"precommit":[{"name":"a"},{"name":"b"},{"name":"c"}]}`},
		{"unreadable side ignored", `{"n_val":2}`, `not json`, `{"n_val":2}`},
	} {
		for _, order := range [][]string{{c.a, c.b}, {c.b, c.a}} {
			got := string(mergeProps(nil, [][]byte{[]byte(order[0]), []byte(order[1])}))
			if got != c.want {
				t.Errorf("%s: merge(%s, %s) = %s, want %s", c.name, order[0], order[1], got, c.want)
			}
		}
	}
}

// The merge is commutative, associative and idempotent over random
// overrides, so every node reads the same properties.
func TestMergePropsLaws(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := map[string][]any{
		"allow_mult": {true, false}, "last_write_wins": {true, false}, "n_val": {1, 2, 3, 5},
		"r": {1, 2, "quorum", "all", "one"}, "sync_on_write": {"all", "one", "backend"},
		"precommit": {[]any{}, []any{map[string]any{"name": "x"}}, []any{map[string]any{"name": "y"}}},
		"name":      {"a", "b"},
	}
	random := func() []byte {
		m := map[string]any{}
		for k, vs := range values {
			if r.IntN(2) == 0 {
				m[k] = vs[r.IntN(len(vs))]
			}
		}
		b, _ := json.Marshal(m)
		return b
	}
	base := map[string]json.RawMessage{"allow_mult": json.RawMessage("false"), "n_val": json.RawMessage("3"), "r": json.RawMessage(`"quorum"`)}
	m2 := func(a, b []byte) []byte { return mergeProps(base, [][]byte{a, b}) }
	for i := 0; i < 2000; i++ {
		a, b, c := random(), random(), random()
		if x, y := m2(a, b), m2(b, a); string(x) != string(y) {
			t.Fatalf("not commutative: %s / %s", x, y)
		}
		if x, y := m2(m2(a, b), c), m2(a, m2(b, c)); string(x) != string(y) {
			t.Fatalf("not associative: %s / %s", x, y)
		}
		if x, y := string(mergeProps(base, [][]byte{a, b, c})), string(m2(m2(a, b), c)); x != y {
			t.Fatalf("three at once %s, pairwise %s", x, y)
		}
		if x := m2(a, a); string(m2(x, a)) != string(x) {
			t.Fatalf("not idempotent: %s -> %s", a, x)
		}
	}
}

// A side that did not set a property counts with the type's value for it,
// as in Riak (which stores whole property lists): a concurrent change of
// another property never turns allow_mult off, lowers n_val or turns
// last_write_wins on.
func TestMergePropsWithTheTypesValues(t *testing.T) {
	base := map[string]json.RawMessage{"allow_mult": json.RawMessage("true"), "n_val": json.RawMessage("3"),
		"last_write_wins": json.RawMessage("false"), "r": json.RawMessage(`"quorum"`)}
	for _, c := range []struct{ name, a, b, want string }{
		{"allow_mult off on one side only", `{"allow_mult":false}`, `{"n_val":5}`, `{"allow_mult":true,"n_val":5}`},
		{"n_val lowered on one side only", `{"n_val":2}`, `{"allow_mult":true}`, `{"allow_mult":true,"n_val":3}`},
		{"lww on one side only", `{"last_write_wins":true}`, `{"r":1}`, `{"last_write_wins":false,"r":"quorum"}`},
		{"a property the type does not know", `{"x":1}`, `{"n_val":4}`, `{"n_val":4,"x":1}`},
	} {
		for _, order := range [][]string{{c.a, c.b}, {c.b, c.a}} {
			got := string(mergeProps(base, [][]byte{[]byte(order[0]), []byte(order[1])}))
			if got != c.want {
				t.Errorf("%s: merge(%s, %s) = %s, want %s", c.name, order[0], order[1], got, c.want)
			}
		}
	}
}
