package siblings_test

import (
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// seedFlag replays a failing property run: go test -run X -seed N ./siblings/
var seedFlag = flag.Uint64("seed", 0, "base seed for property tests (0 picks one from the time)")

var baseSeed = uint64(time.Now().UnixNano())

// newRand returns a seeded generator for t and logs the seed.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = baseSeed
	}
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

const t0 = int64(1_700_000_000)

var (
	dvvOn  = siblings.UpdateOptions{DVV: true}
	dvvOff = siblings.UpdateOptions{DVV: false}

	actA = vclock.Actor{ID: 0xA, Epoch: 1}
	actB = vclock.Actor{ID: 0xB, Epoch: 1}
	actC = vclock.Actor{ID: 0xC, Epoch: 7}
)

// val makes a put of value v with a vtag and timestamp derived from it.
func val(v string) siblings.Sibling {
	return siblings.Sibling{
		Value: []byte(v),
		Meta:  siblings.Meta{ContentType: "text/plain", VTag: "tag-" + v, LastModified: t0 * 1e6},
	}
}

// clk builds a clock from actor/counter pairs.
func clk(pairs ...any) vclock.VClock {
	var es []vclock.Entry
	for i := 0; i < len(pairs); i += 2 {
		es = append(es, vclock.Entry{Actor: pairs[i].(vclock.Actor), Counter: uint64(pairs[i+1].(int))})
	}
	return vclock.Normalize(es)
}

func dot(a vclock.Actor, n uint64) vclock.Dot { return vclock.Dot{Actor: a, Counter: n} }

// values returns o's sibling values sorted, for order-insensitive checks.
func values(o *siblings.Object) []string {
	if o == nil {
		return nil
	}
	out := make([]string, len(o.Siblings))
	for i, s := range o.Siblings {
		out[i] = string(s.Value)
	}
	slices.Sort(out)
	return out
}

// describe renders o as "[clock] v1@dot, v2@dot" for failure messages.
func describe(o *siblings.Object) string {
	if o == nil {
		return "<nil>"
	}
	parts := make([]string, len(o.Siblings))
	for i, s := range o.Siblings {
		parts[i] = fmt.Sprintf("%s@%v", s.Value, s.Dot)
		if s.Meta.Deleted {
			parts[i] += "(del)"
		}
	}
	return fmt.Sprintf("%v {%s}", o.Clock, strings.Join(parts, ", "))
}

// deepCopy returns an object sharing nothing with o, to detect mutation.
func deepCopy(o *siblings.Object) *siblings.Object {
	if o == nil {
		return nil
	}
	c := &siblings.Object{Clock: o.Clock.Clone(), Siblings: make([]siblings.Sibling, len(o.Siblings))}
	for i, s := range o.Siblings {
		s.Value = slices.Clone(s.Value)
		c.Siblings[i] = s
	}
	return c
}

// identical is Equal plus clock timestamps and full metadata.
func identical(a, b *siblings.Object) bool {
	if !siblings.Equal(a, b) {
		return false
	}
	if a == nil {
		return true
	}
	if !slices.Equal(a.Clock, b.Clock) {
		return false
	}
	for i := range a.Siblings {
		if fmt.Sprintf("%+v", a.Siblings[i].Meta) != fmt.Sprintf("%+v", b.Siblings[i].Meta) {
			return false
		}
	}
	return true
}

// findDot returns the sibling of o with dot d, or nil.
func findDot(o *siblings.Object, d vclock.Dot) *siblings.Sibling {
	for i := range o.Siblings {
		if o.Siblings[i].Dot == d {
			return &o.Siblings[i]
		}
	}
	return nil
}

// checkInvariants asserts what every object produced under DVV satisfies:
// a valid clock, every sibling dotted, dots distinct and covered by the
// object's own clock, siblings in canonical order.
func checkInvariants(t testing.TB, o *siblings.Object) {
	t.Helper()
	if o == nil {
		return
	}
	if !o.Clock.Valid() {
		t.Fatalf("invalid clock in %s", describe(o))
	}
	seen := map[vclock.Dot]bool{}
	for _, s := range o.Siblings {
		if s.Dot.IsZero() {
			t.Fatalf("undotted sibling under DVV: %s", describe(o))
		}
		if seen[s.Dot] {
			t.Fatalf("dot %v twice in %s", s.Dot, describe(o))
		}
		seen[s.Dot] = true
		if !o.Clock.Covers(s.Dot) {
			t.Fatalf("sibling dot %v not covered by its clock: %s", s.Dot, describe(o))
		}
	}
	if !slices.IsSortedFunc(o.Siblings, func(a, b siblings.Sibling) int {
		if a.Dot.Actor != b.Dot.Actor {
			if a.Dot.Actor.Less(b.Dot.Actor) {
				return -1
			}
			return 1
		}
		return int(a.Dot.Counter) - int(b.Dot.Counter)
	}) {
		t.Fatalf("siblings not in canonical order: %s", describe(o))
	}
}
