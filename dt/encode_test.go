package dt

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

var allKinds = []Kind{KindCounter, KindSet, KindMap, KindRegister, KindFlag, KindGSet, KindHLL}

// genState builds a random value of kind k the way the harness does: three
// replicas, random operations with contexts read from any replica (so
// deferred removes occur), and merges.
func genState(r *rand.Rand, k Kind, steps int) CRDT {
	sp := specs[k]
	empty := sp.empty(r)
	reps := []CRDT{empty.Clone(), empty.Clone(), empty.Clone()}
	actors := []vclock.Actor{{ID: 1, Epoch: 1}, {ID: 1 << 40, Epoch: 7}, {ID: 3, Epoch: 1<<32 - 1}}
	var reads []CRDT
	for range steps {
		i := r.IntN(3)
		switch r.IntN(5) {
		case 0, 1, 2:
			read := reps[i]
			if len(reads) > 0 && r.IntN(2) == 0 {
				read = reads[r.IntN(len(reads))]
			}
			_ = reps[i].ApplyOp(sp.genOp(r, read), actors[i], read.Context())
		case 3:
			_ = reps[i].Merge(reps[r.IntN(3)])
		default:
			reads = append(reads, reps[i].Clone())
		}
	}
	return reps[r.IntN(3)]
}

// TestEncodingRoundTrip: random states of every type decode to themselves;
// every strict prefix and every extension by a byte is refused; every
// single-byte corruption is refused or decodes to a value whose encoding is
// exactly the corrupted input (only canonical encodings are accepted).
func TestEncodingRoundTrip(t *testing.T) {
	for _, k := range allKinds {
		t.Run(k.String(), func(t *testing.T) { checkHostileEncodings(t, k) })
	}
}

// checkHostileEncodings runs TestEncodingRoundTrip's checks on kind k; a
// corruption that decodes must also merge with itself to itself.
func checkHostileEncodings(t *testing.T, k Kind) {
	r := newRand(t)
	for i := range 80 {
		v := genState(r, k, r.IntN(60))
		roundTrip(t, v)
		b := enc(t, v)
		if Kind(b[0]) != k || b[1] != encodingVersion {
			t.Fatalf("%v: header %x", k, b[:2])
		}
		refused := func(what string, in []byte) {
			t.Helper()
			x, _ := New(k)
			if err := x.UnmarshalBinary(in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%v #%d: %s %x accepted (err %v)", k, i, what, in, err)
			}
		}
		for n := 0; n < len(b) && n < 400; n++ {
			refused("prefix", b[:n])
		}
		refused("extension", append(bytes.Clone(b), 0))
		for range 60 {
			c := bytes.Clone(b)
			c[r.IntN(len(c))] ^= byte(1 + r.IntN(255))
			x, _ := New(k)
			if err := x.UnmarshalBinary(c); err == nil {
				if !bytes.Equal(enc(t, x), c) {
					t.Fatalf("%v: accepted non-canonical %x", k, c)
				}
				sameBytes(t, "self merge", merged(t, x, x), x)
			} else if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%v: error %v does not wrap ErrMalformed", k, err)
			}
		}
	}
}

// TestDecodeRefusesInvalidStates builds encodings that are well formed but
// break an invariant.
func TestDecodeRefusesInvalidStates(t *testing.T) {
	s := &Set{}
	mustApply(t, s, add("x"), aA, Context{})
	good := enc(t, s) // S 1 | 1 actor (0a 01) | clock 1 | 1 elem "x" | 1 dot (0,1) | 0 deferred
	want := []byte{'S', 1, 1, 0x0a, 1, 1, 1, 1, 'x', 1, 0, 1, 0}
	if !bytes.Equal(good, want) {
		t.Fatalf("set encoding %x, want %x", good, want)
	}
	mk := func(b ...byte) []byte { return append([]byte{'S', 1}, b...) }
	ctxA5 := []byte{1, 0, 5} // deferred ctx {actor 0: 5}
	for name, in := range map[string][]byte{
		"dot beyond clock":       mk(1, 0x0a, 1, 1, 1, 1, 'x', 1, 0, 2, 0),
		"dot actor out of range": mk(1, 0x0a, 1, 1, 1, 1, 'x', 1, 1, 1, 0),
		"empty dot set":          mk(1, 0x0a, 1, 1, 1, 1, 'x', 0, 0),
		"unsorted elements":      mk(1, 0x0a, 1, 2, 2, 1, 'y', 1, 0, 1, 1, 'x', 1, 0, 1, 0),
		"duplicate elements":     mk(1, 0x0a, 1, 2, 2, 1, 'x', 1, 0, 1, 1, 'x', 1, 0, 1, 0),
		"unused actor":           mk(2, 0x0a, 1, 0x0b, 1, 1, 0, 1, 1, 'x', 1, 0, 1, 0),
		"unsorted actor table":   mk(2, 0x0b, 1, 0x0a, 1, 1, 1, 0),
		"zero actor":             mk(1, 0, 0, 1, 0, 0),
		"settled deferred":       append(mk(1, 0x0a, 1, 5, 0, 1), append(ctxA5, 1, 0, 'e', 1, 'x')...),
		"deferred map target":    append(mk(1, 0x0a, 1, 0, 0, 1), append(ctxA5, 1, 1, 1, 'a', 'S', 'e', 1, 'x')...),
		"deferred no targets":    append(mk(1, 0x0a, 1, 0, 0, 1), append(ctxA5, 0)...),
		"riak orswot tag":        {75, 2, 131, 104, 3},
		"future version":         {'S', 2, 0, 0, 0},
	} {
		if _, err := Unmarshal(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %x accepted (%v)", name, in, err)
		}
		x := &Set{}
		if err := x.UnmarshalBinary(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %x accepted by Set (%v)", name, in, err)
		}
	}
	// A valid empty map is not a set.
	if err := (&Set{}).UnmarshalBinary([]byte{'M', 1, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("a map accepted as a set: %v", err)
	}
	// A pending deferred remove is fine.
	ok := append(mk(1, 0x0a, 1, 0, 0, 1), append(ctxA5, 1, 0, 'e', 1, 'x')...)
	if _, err := Unmarshal(ok); err != nil {
		t.Fatalf("pending deferred refused: %v", err)
	}
	// The receiver is unchanged by a refused input.
	before := enc(t, s)
	_ = s.UnmarshalBinary(mk(9))
	if !bytes.Equal(before, enc(t, s)) {
		t.Fatal("refused input changed the receiver")
	}
	// MaxDepth levels of maps decode; one more is refused.
	nested := func(d int) []byte {
		in := []byte{'M', 1, 1, 0x0a, 1, 1}
		for range d { // a field "m" of type map with presence {0:1}
			in = append(in, 1, 1, 'm', 'M', 1, 0, 1)
		}
		return append(in, 0, 0) // innermost: no fields; no deferred
	}
	if v, err := Unmarshal(nested(MaxDepth - 1)); err != nil {
		t.Fatalf("depth %d refused: %v", MaxDepth, err)
	} else {
		roundTrip(t, v)
	}
	if _, err := Unmarshal(nested(MaxDepth)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "deeper") {
		t.Fatalf("depth %d: %v", MaxDepth+1, err)
	}
}

// fuzzDecoder fuzzes one type's UnmarshalBinary. Accepted inputs must be
// canonical, and the decoded value must behave: merge with itself is a
// no-op, operations apply without panicking and keep it valid.
func fuzzDecoder(f *testing.F, k Kind) {
	r := rand.New(rand.NewPCG(uint64(k), 99))
	for range 24 {
		b, _ := genState(r, k, r.IntN(30)).MarshalBinary()
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{byte(k), 1})
	f.Add([]byte{byte(k), 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		v, _ := New(k)
		if err := v.UnmarshalBinary(in); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if out := enc(t, v); !bytes.Equal(out, in) {
			t.Fatalf("accepted non-canonical input\n in=%x\nout=%x", in, out)
		}
		sameBytes(t, "self merge", merged(t, v, v), v)
		_ = v.Stats()
		if _, err := ParseContext(v.Context().Bytes()); err != nil {
			t.Fatalf("own context does not parse: %v", err)
		}
		rr := rand.New(rand.NewPCG(uint64(len(in)), 1))
		for range 4 {
			_ = v.ApplyOp(specs[k].genOp(rr, v), aA, v.Context())
			_ = v.ApplyOp(specs[k].genOp(rr, v), aB, Context{})
			roundTrip(t, v)
		}
	})
}

func FuzzUnmarshalCounter(f *testing.F)  { fuzzDecoder(f, KindCounter) }
func FuzzUnmarshalSet(f *testing.F)      { fuzzDecoder(f, KindSet) }
func FuzzUnmarshalMap(f *testing.F)      { fuzzDecoder(f, KindMap) }
func FuzzUnmarshalRegister(f *testing.F) { fuzzDecoder(f, KindRegister) }
func FuzzUnmarshalFlag(f *testing.F)     { fuzzDecoder(f, KindFlag) }
func FuzzUnmarshalGSet(f *testing.F)     { fuzzDecoder(f, KindGSet) }
func FuzzUnmarshalHLL(f *testing.F)      { fuzzDecoder(f, KindHLL) }

// FuzzUnmarshal fuzzes the dispatching decoder across all types.
func FuzzUnmarshal(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, k := range allKinds {
		b, _ := genState(r, k, 20).MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Unmarshal(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(enc(t, v), in) {
			t.Fatalf("accepted non-canonical input %x", in)
		}
		_ = v.Value()
	})
}

// FuzzParseContext fuzzes the context decoder.
func FuzzParseContext(f *testing.F) {
	r := rand.New(rand.NewPCG(8, 8))
	for range 8 {
		f.Add(genState(r, KindMap, 30).Context().Bytes())
	}
	f.Add([]byte{})
	f.Add([]byte{'X', 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseContext(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(c.Bytes(), in) && len(in) > 0 {
			t.Fatalf("accepted non-canonical context %x", in)
		}
		if !c.Clock().Valid() {
			t.Fatal("accepted an invalid clock")
		}
		// Any context is safe to remove with.
		s := genState(rand.New(rand.NewPCG(1, uint64(len(in)))), KindSet, 20).(*Set)
		_ = s.Apply(remove("a", "b"), aA, c)
		roundTrip(t, s)
	})
}
