package dt

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

// randomOp builds an operation of every shape, nested maps included.
func randomOp(r *rand.Rand, depth int) Op {
	strs := func() []string {
		var out []string
		for i := r.IntN(4); i > 0; i-- {
			out = append(out, string(rune('a'+r.IntN(26)))+"\x00é")
		}
		return out
	}
	actor := func() vclock.Actor { return vclock.Actor{ID: r.Uint64(), Epoch: uint32(r.IntN(5))} }
	n := 12
	if depth > 3 {
		n = 11 // no deeper maps
	}
	switch r.IntN(n) {
	case 0:
		return CounterOp{Delta: r.Int64() - r.Int64()}
	case 1:
		op := SetOp{}
		for i := r.IntN(4); i > 0; i-- {
			op.Edits = append(op.Edits, SetEdit{Remove: r.IntN(2) == 0, Elements: strs()})
		}
		return op
	case 2:
		return RegisterOp{Value: "v\x00" + string(rune(r.IntN(1000))), Timestamp: r.Int64()}
	case 3:
		return FlagOp{Enable: r.IntN(2) == 0}
	case 4:
		return GSetOp{Elements: strs()}
	case 5:
		return HLLOp{Elements: strs()}
	case 6:
		op := OpLogOp{Amount: -r.Int64(), Note: "n"}
		if r.IntN(2) == 0 {
			op.ID = OpID{Actor: actor(), Seq: r.Uint64()}
		}
		return op
	case 7:
		return BCounterOp{Delta: r.Int64()}
	case 8:
		return BTransferOp{To: actor(), Amount: r.Uint64()}
	case 9:
		op := PGOp{Node: "n@h", Incarnation: r.Uint64()}
		for i := r.IntN(3); i > 0; i-- {
			op.Edits = append(op.Edits, PGEdit{Kind: PGEditKind(1 + r.IntN(3)), ID: "m", Meta: "x"})
		}
		return op
	case 10:
		return PGPruneOp{Node: "n@h", KeepIncarnation: r.Uint64(), All: r.IntN(2) == 0}
	default:
		op := MapOp{}
		kinds := []Kind{KindCounter, KindSet, KindRegister, KindFlag, KindMap}
		if depth >= 3 {
			kinds = kinds[:4] // randomOp makes no maps below depth 3
		}
		for i := r.IntN(4); i > 0; i-- {
			k := kinds[r.IntN(len(kinds))]
			f := Field{Name: "f" + string(rune('a'+i)), Type: k}
			if r.IntN(3) == 0 {
				op.Edits = append(op.Edits, MapEdit{Field: f, Remove: true})
				continue
			}
			var sub Op
			for sub == nil || sub.Kind() != k {
				sub = randomOp(r, depth+1)
			}
			op.Edits = append(op.Edits, MapEdit{Field: f, Op: sub})
		}
		return op
	}
}

func TestOpCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 5000; i++ {
		op := randomOp(r, 0)
		b, err := MarshalOp(op)
		if err != nil {
			t.Fatalf("marshal %#v: %v", op, err)
		}
		got, err := UnmarshalOp(b)
		if err != nil {
			t.Fatalf("unmarshal %#v: %v", op, err)
		}
		if !reflect.DeepEqual(got, op) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, op)
		}
		// Every strict prefix is refused, never accepted as another op.
		for k := 0; k < len(b); k++ {
			if _, err := UnmarshalOp(b[:k]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("prefix %d of %x accepted: %v", k, b, err)
			}
		}
	}
}

func TestOpCodecRefusesDeepNesting(t *testing.T) {
	var op Op = CounterOp{Delta: 1}
	for i := 0; i <= maxOpDepth+1; i++ {
		op = MapOp{Edits: []MapEdit{{Field: Field{Name: "m", Type: KindMap}, Op: op}}}
	}
	if _, err := MarshalOp(op); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("marshal of a too-deep op: %v", err)
	}
	// A hand-built deep encoding is refused by the decoder.
	b := []byte{opTag, opVersion}
	for i := 0; i <= maxOpDepth+1; i++ {
		b = append(b, byte(KindMap), 1, 1, 'm', byte(KindMap), 0)
	}
	b = append(b, byte(KindCounter), 2)
	if _, err := UnmarshalOp(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unmarshal of a too-deep op: %v", err)
	}
}

func FuzzUnmarshalOp(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		b, _ := MarshalOp(randomOp(r, 0))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := UnmarshalOp(b)
		if err != nil {
			return
		}
		again, err := MarshalOp(op)
		if err != nil {
			t.Fatalf("decoded op does not encode: %v", err)
		}
		op2, err := UnmarshalOp(again)
		if err != nil || !reflect.DeepEqual(op, op2) {
			t.Fatalf("re-encoding does not round-trip: %v", err)
		}
	})
}
