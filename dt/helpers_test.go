package dt

import (
	"bytes"
	"flag"
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/riakgo/riakgo/vclock"
)

// seedFlag replays a failing property run: go test ./dt/ -run X -seed N
// (the package must come before -seed).
var seedFlag = flag.Uint64("seed", 0, "base seed for property tests (0 picks one from the time)")

var baseSeed = uint64(time.Now().UnixNano())

// newRand returns a generator seeded from -seed (or the time) and the test
// name, and logs the seed so that a failure can be replayed.
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

// Actors used by hand-written tests.
var (
	aA = vclock.Actor{ID: 0xA, Epoch: 1}
	aB = vclock.Actor{ID: 0xB, Epoch: 1}
	aC = vclock.Actor{ID: 0xC, Epoch: 1}
)

func enc(t testing.TB, v CRDT) []byte {
	t.Helper()
	b, err := v.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustApply(t testing.TB, v CRDT, op Op, a vclock.Actor, ctx Context) {
	t.Helper()
	if err := v.ApplyOp(op, a, ctx); err != nil {
		t.Fatalf("apply %#v at %s: %v", op, a, err)
	}
}

func mustMerge(t testing.TB, dst, src CRDT) {
	t.Helper()
	if err := dst.Merge(src); err != nil {
		t.Fatal(err)
	}
}

// merged returns a ⊔ b without changing either, and checks that b is
// unchanged by the merge.
func merged(t testing.TB, a, b CRDT) CRDT {
	t.Helper()
	before := enc(t, b)
	m, err := Merged(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, enc(t, b)) {
		t.Fatalf("merge modified its argument")
	}
	return m
}

func sameBytes(t testing.TB, what string, a, b CRDT) {
	t.Helper()
	x, y := enc(t, a), enc(t, b)
	if !bytes.Equal(x, y) {
		t.Fatalf("%s: encodings differ\n a=%x %v\n b=%x %v", what, x, a.Value(), y, b.Value())
	}
	if !a.Equal(b) || !b.Equal(a) {
		t.Fatalf("%s: equal encodings but Equal is false", what)
	}
	if !reflect.DeepEqual(a.Value(), b.Value()) {
		t.Fatalf("%s: equal encodings but values differ: %v vs %v", what, a.Value(), b.Value())
	}
}

func wantValue(t testing.TB, v CRDT, want any) {
	t.Helper()
	if got := v.Value(); !reflect.DeepEqual(got, want) {
		t.Fatalf("value = %#v, want %#v", got, want)
	}
}

// roundTrip checks that v decodes from its encoding to an equal value that
// re-encodes to the same bytes, through the typed and generic decoders.
func roundTrip(t testing.TB, v CRDT) {
	t.Helper()
	b := enc(t, v)
	w, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("decoding %x: %v", b, err)
	}
	sameBytes(t, "round trip", v, w)
	x, _ := New(v.Kind())
	if err := x.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "typed round trip", v, x)
}

func setOf(v CRDT) *Set { return v.(*Set) }
