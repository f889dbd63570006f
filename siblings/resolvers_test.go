package siblings_test

import (
	"errors"
	"testing"

	"github.com/riakgo/riakgo/siblings"
)

func rsib(v string, lm int64, vtag string) siblings.Sibling {
	return siblings.Sibling{Value: []byte(v), Meta: siblings.Meta{LastModified: lm, VTag: vtag}}
}

func TestBuiltinResolvers(t *testing.T) {
	reg := siblings.NewRegistry()
	if got := reg.Names(); len(got) != 3 || got[0] != "json_set_union" || got[1] != "longest" || got[2] != "numeric_max" {
		t.Fatalf("built-ins %v", got)
	}
	cases := []struct {
		name string
		in   []siblings.Sibling
		want string
		err  bool
	}{
		{"json_set_union", []siblings.Sibling{rsib(`["b","a"]`, 1, "x"), rsib(`["c","a"]`, 2, "y")}, `["a","b","c"]`, false},
		{"json_set_union", []siblings.Sibling{rsib(`["a"]`, 1, "x"), rsib(``, 2, "y")}, `["a"]`, false},
		{"json_set_union", []siblings.Sibling{rsib(`{"a":1}`, 1, "x"), rsib(`["a"]`, 2, "y")}, "", true},
		{"numeric_max", []siblings.Sibling{rsib("10", 1, "x"), rsib("9.5", 2, "y"), rsib("-3", 3, "z")}, "10", false},
		{"numeric_max", []siblings.Sibling{rsib("12345678901234567890", 1, "x"), rsib("2", 2, "y")}, "12345678901234567890", false},
		{"numeric_max", []siblings.Sibling{rsib("ten", 1, "x"), rsib("2", 2, "y")}, "", true},
		{"longest", []siblings.Sibling{rsib("abc", 1, "x"), rsib("abcd", 0, "y"), rsib("ab", 5, "z")}, "abcd", false},
	}
	for _, c := range cases {
		r, _ := reg.Get(c.name)
		got, err := r.Resolve(c.in)
		if c.err {
			if !errors.Is(err, siblings.ErrUnresolvable) {
				t.Errorf("%s(%v): err %v, want ErrUnresolvable", c.name, c.in, err)
			}
			continue
		}
		if err != nil || string(got.Value) != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got.Value, err, c.want)
		}
		// Deterministic whatever the sibling order.
		rev := make([]siblings.Sibling, len(c.in))
		for i := range c.in {
			rev[len(c.in)-1-i] = c.in[i]
		}
		if again, _ := r.Resolve(rev); string(again.Value) != string(got.Value) || again.Meta.VTag != got.Meta.VTag {
			t.Errorf("%s depends on sibling order: %q/%s vs %q/%s", c.name, again.Value, again.Meta.VTag, got.Value, got.Meta.VTag)
		}
	}
	reg.Register(siblings.ResolverFunc{N: "first", F: func(s []siblings.Sibling) (siblings.Sibling, error) { return s[0], nil }})
	if _, ok := reg.Get("first"); !ok {
		t.Error("registered resolver not found")
	}
}
