package siblings

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// A Resolver merges the live siblings of an object into one value, for
// buckets whose `resolver` property names it: reads then answer one value
// and write it back, so siblings do not pile up. A resolver must be
// deterministic (every replica and every reader must pick the same value
// from the same siblings) and must not modify its argument.
type Resolver interface {
	// Name is the resolver's name in bucket properties.
	Name() string
	// Resolve returns the merged value; its metadata is taken from the
	// caller's choice of sibling unless the resolver sets it.
	Resolve(sibs []Sibling) (Sibling, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc struct {
	N string
	F func(sibs []Sibling) (Sibling, error)
}

// Name implements Resolver.
func (r ResolverFunc) Name() string { return r.N }

// Resolve implements Resolver.
func (r ResolverFunc) Resolve(sibs []Sibling) (Sibling, error) { return r.F(sibs) }

// ErrUnresolvable is wrapped by a resolver that cannot merge the siblings
// it was given (e.g. a value that is not of the expected form).
var ErrUnresolvable = errors.New("riakgo/siblings: siblings cannot be resolved")

// Registry holds named resolvers. It is not safe for concurrent
// registration; register everything before use.
type Registry struct{ m map[string]Resolver }

// NewRegistry returns a registry holding the built-in resolvers:
// json_set_union, numeric_max and longest.
func NewRegistry() *Registry {
	r := &Registry{m: map[string]Resolver{}}
	r.Register(ResolverFunc{"json_set_union", jsonSetUnion})
	r.Register(ResolverFunc{"numeric_max", numericMax})
	r.Register(ResolverFunc{"longest", longest})
	return r
}

// Register adds (or replaces) a resolver under its name.
func (r *Registry) Register(res Resolver) { r.m[res.Name()] = res }

// Get returns the resolver named name.
func (r *Registry) Get(name string) (Resolver, bool) {
	res, ok := r.m[name]
	return res, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.m))
	for n := range r.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// newest returns the sibling that last-write-wins would keep; resolvers
// take its metadata.
func newestOf(sibs []Sibling) Sibling {
	best := 0
	for i := 1; i < len(sibs); i++ {
		if newer(&sibs[i], &sibs[best]) {
			best = i
		}
	}
	return sibs[best]
}

// jsonSetUnion treats each value as a JSON array of strings and returns
// their union, sorted (a shopping cart that never loses an add — and never
// honours a concurrent remove, which is what the lab shows).
func jsonSetUnion(sibs []Sibling) (Sibling, error) {
	set := map[string]bool{}
	for _, s := range sibs {
		var items []string
		if len(strings.TrimSpace(string(s.Value))) > 0 {
			if err := json.Unmarshal(s.Value, &items); err != nil {
				return Sibling{}, fmt.Errorf("%w: json_set_union: value is not a JSON array of strings: %v", ErrUnresolvable, err)
			}
		}
		for _, it := range items {
			set[it] = true
		}
	}
	out := make([]string, 0, len(set))
	for it := range set {
		out = append(out, it)
	}
	sort.Strings(out)
	b, _ := json.Marshal(out)
	res := newestOf(sibs)
	res.Value = b
	res.Meta.ContentType = "application/json"
	return res, nil
}

// numericMax treats each value as a decimal number and keeps the largest.
func numericMax(sibs []Sibling) (Sibling, error) {
	var best *big.Rat
	bi := -1
	for i, s := range sibs {
		v, ok := new(big.Rat).SetString(strings.TrimSpace(string(s.Value)))
		if !ok {
			return Sibling{}, fmt.Errorf("%w: numeric_max: %q is not a number", ErrUnresolvable, s.Value)
		}
		if best == nil || v.Cmp(best) > 0 || (v.Cmp(best) == 0 && newer(&sibs[i], &sibs[bi])) {
			best, bi = v, i
		}
	}
	return sibs[bi], nil
}

// longest keeps the longest value (ties: the newest).
func longest(sibs []Sibling) (Sibling, error) {
	bi := 0
	for i := 1; i < len(sibs); i++ {
		if len(sibs[i].Value) > len(sibs[bi].Value) || (len(sibs[i].Value) == len(sibs[bi].Value) && newer(&sibs[i], &sibs[bi])) {
			bi = i
		}
	}
	return sibs[bi], nil
}

// LiveSiblings returns o's siblings that are not tombstones.
func LiveSiblings(o *Object) []Sibling {
	out := make([]Sibling, 0, len(o.Siblings))
	for _, s := range o.Siblings {
		if !s.Meta.Deleted {
			out = append(out, s)
		}
	}
	return out
}
