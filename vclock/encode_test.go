package vclock_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

func mustMarshal(t testing.TB, c vclock.VClock) []byte {
	t.Helper()
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary(%v): %v", c, err)
	}
	return b
}

// encodeRaw builds an encoding by hand, without the package's validation.
func encodeRaw(version byte, count uint64, entries ...vclock.Entry) []byte {
	b := []byte{version}
	b = binary.AppendUvarint(b, count)
	for _, e := range entries {
		b = binary.AppendUvarint(b, e.Actor.ID)
		b = binary.AppendUvarint(b, uint64(e.Actor.Epoch))
		b = binary.AppendUvarint(b, e.Counter)
		b = binary.AppendVarint(b, e.Timestamp)
	}
	return b
}

func TestEncodingRoundTrip(t *testing.T) {
	r := newRand(t)
	for i := 0; i < propIters; i++ {
		c := genClock(r)
		// Cover the whole range of every field.
		for j := range c {
			switch r.IntN(4) {
			case 0:
				c[j].Timestamp = int64(r.Uint64())
			case 1:
				c[j].Counter = r.Uint64() | 1
			case 2:
				c[j].Timestamp = -c[j].Timestamp
			}
		}
		b := mustMarshal(t, c)
		var got vclock.VClock
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(Marshal(%+v)): %v", c, err)
		}
		if !sameEntries(got, c) {
			t.Fatalf("round trip: %+v → %+v", c, got)
		}
		// AppendBinary appends to whatever is there.
		prefix := []byte("hdr")
		if ab := c.AppendBinary(prefix); !bytes.Equal(ab[:3], prefix) || !bytes.Equal(ab[3:], b) {
			t.Fatalf("AppendBinary = %x, want hdr+%x", ab, b)
		}
	}
}

func TestEncodingExtremes(t *testing.T) {
	c := vclock.VClock{
		{Actor: vclock.Actor{ID: 0, Epoch: 1}, Counter: 1, Timestamp: math.MinInt64},
		{Actor: vclock.Actor{ID: math.MaxUint64, Epoch: math.MaxUint32}, Counter: math.MaxUint64, Timestamp: math.MaxInt64},
	}
	var got vclock.VClock
	if err := got.UnmarshalBinary(mustMarshal(t, c)); err != nil || !sameEntries(got, c) {
		t.Fatalf("round trip of extremes: %+v, %v", got, err)
	}
	// The empty clock.
	b := mustMarshal(t, nil)
	if !bytes.Equal(b, []byte{1, 0}) {
		t.Fatalf("empty clock encodes as %x", b)
	}
	got = vclock.VClock{{Actor: aX, Counter: 1}}
	if err := got.UnmarshalBinary(b); err != nil || len(got) != 0 {
		t.Fatalf("decoding the empty clock: %v, %v", got, err)
	}
}

func TestEncodingCanonical(t *testing.T) {
	r := newRand(t)
	for i := 0; i < propIters; i++ {
		var es []vclock.Entry
		for j := r.IntN(10); j > 0; j-- {
			es = append(es, vclock.Entry{Actor: testActors[r.IntN(len(testActors))], Counter: 1 + r.Uint64N(3), Timestamp: r.Int64N(3)})
		}
		a := vclock.Normalize(es)
		r.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		b := vclock.Normalize(es)
		if !sameEntries(a, b) {
			t.Fatalf("Normalize not canonical: %+v vs %+v", a, b)
		}
		if !bytes.Equal(mustMarshal(t, a), mustMarshal(t, b)) {
			t.Fatalf("equal clocks %+v encode differently", a)
		}
		if !bytes.Equal(mustMarshal(t, a), mustMarshal(t, a.Clone())) {
			t.Fatal("clone encodes differently")
		}
		// Clocks with different entries encode differently.
		c := genClock(r)
		if !sameEntries(a, c) && bytes.Equal(mustMarshal(t, a), mustMarshal(t, c)) {
			t.Fatalf("%+v and %+v encode to the same bytes", a, c)
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	good := mustMarshal(t, vc(e(aX, 2), e(aY, 1)))
	overlong := func(b []byte) []byte { // re-encode the count 2 as 0x82 0x00
		out := append([]byte{b[0], 0x82, 0x00}, b[2:]...)
		return out
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"version only", []byte{1}},
		{"unknown version", append([]byte{2}, good[1:]...)},
		{"version zero", append([]byte{0}, good[1:]...)},
		{"truncated last byte", good[:len(good)-1]},
		{"truncated mid entry", good[:5]},
		{"trailing byte", append(append([]byte{}, good...), 0)},
		{"count larger than entries", encodeRaw(1, 3, e(aX, 1), e(aY, 1))},
		{"count smaller than entries", encodeRaw(1, 1, e(aX, 1), e(aY, 1))},
		{"huge count", encodeRaw(1, math.MaxUint64)},
		{"count above the entry cap", encodeRaw(1, 4097)},
		{"count above cap with bytes", append(encodeRaw(1, 1<<20), make([]byte, 64)...)},
		{"unterminated count", []byte{1, 0x80}},
		{"count varint overflow", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
		{"unsorted", encodeRaw(1, 2, e(aY, 1), e(aX, 1))},
		{"duplicate actor", encodeRaw(1, 2, e(aX, 1), e(aX, 2))},
		{"zero counter", encodeRaw(1, 1, e(aX, 0))},
		{"zero actor", encodeRaw(1, 1, vclock.Entry{Counter: 1})},
		{"epoch above 32 bits", func() []byte {
			b := []byte{1, 1, 5}
			b = binary.AppendUvarint(b, 1<<32)
			return append(b, 1, 0)
		}()},
		{"overlong count varint", overlong(good)},
		{"overlong counter varint", func() []byte {
			// one entry: id 10, epoch 1, counter 1 as 0x81 0x00, ts 0
			return []byte{1, 1, 10, 1, 0x81, 0x00, 0}
		}()},
		{"overlong timestamp varint", []byte{1, 1, 10, 1, 1, 0x80, 0x80, 0x00}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sentinel := vc(e(aZ, 7))
			got := sentinel
			err := got.UnmarshalBinary(tc.in)
			if err == nil {
				t.Fatalf("UnmarshalBinary(%x) accepted %+v", tc.in, got)
			}
			if !errors.Is(err, vclock.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if !sameEntries(got, sentinel) {
				t.Fatalf("failed UnmarshalBinary changed the receiver to %+v", got)
			}
		})
	}
}

// The decoder caps a clock at 4096 entries even when the input holds them
// all, so a hostile header cannot make it allocate without bound.
func TestUnmarshalEntryCap(t *testing.T) {
	entries := func(n int) []vclock.Entry {
		es := make([]vclock.Entry, n)
		for i := range es {
			es[i] = vclock.Entry{Actor: vclock.Actor{ID: uint64(i + 1)}, Counter: 1}
		}
		return es
	}
	var c vclock.VClock
	if err := c.UnmarshalBinary(encodeRaw(1, 4096, entries(4096)...)); err != nil || len(c) != 4096 {
		t.Fatalf("4096 entries: %d decoded, %v", len(c), err)
	}
	if err := c.UnmarshalBinary(encodeRaw(1, 4097, entries(4097)...)); !errors.Is(err, vclock.ErrMalformed) {
		t.Fatalf("4097 entries: err = %v, want ErrMalformed", err)
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	for _, c := range []vclock.VClock{
		nil,
		vc(e(aX, 1)),
		vc(e(aX, 3), e(aY, 1), e(aZ, 2)),
		{{Actor: vclock.Actor{ID: math.MaxUint64, Epoch: math.MaxUint32}, Counter: math.MaxUint64, Timestamp: math.MinInt64}},
	} {
		b, _ := c.MarshalBinary()
		f.Add(b)
		f.Add(b[:len(b)-1])                 // truncated
		f.Add(append(b[:len(b):len(b)], 0)) // trailing
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{2, 0})
	f.Add(encodeRaw(1, math.MaxUint64))
	f.Add(encodeRaw(1, 4096))
	f.Add(append(encodeRaw(1, 64), make([]byte, 4*64)...)) // a full count of zero entries
	f.Add(encodeRaw(1, 2, e(aY, 1), e(aX, 1)))
	f.Add([]byte{1, 0x81, 0x00, 10, 1, 1, 0})

	f.Fuzz(func(t *testing.T, in []byte) {
		var c vclock.VClock
		if err := c.UnmarshalBinary(in); err != nil {
			if !errors.Is(err, vclock.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !c.Valid() {
			t.Fatalf("accepted %x as invalid clock %+v", in, c)
		}
		out, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("accepted %x but it re-encodes as %x", in, out)
		}
	})
}
