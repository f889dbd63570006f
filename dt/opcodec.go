package dt

import (
	"fmt"
	"math"

	"github.com/riakgo/riakgo/vclock"
)

// Operations travel between nodes: a node that holds no replica of a key
// hands the operation to a coordinating vnode elsewhere, which applies it
// with its own actor. MarshalOp and UnmarshalOp are that operation's wire
// form (all integers minimal varints):
//
//	'o' | version byte | op
//	op = tag byte | fields
//
// The tag of an operation is its Kind's tag, except for the second
// operation of a kind (BTransferOp 'b', PGPruneOp 'p'). A map operation's
// nested operations are ops in the same form, at most maxOpDepth deep.

const (
	opTag     = 'o'
	opVersion = 1
	// maxOpDepth bounds the nesting of map operations a decoder accepts
	// (Riak sets no limit; a hostile input must not exhaust the stack).
	maxOpDepth = 64
)

const (
	tagBTransfer = 'b'
	tagPGPrune   = 'p'
)

// MarshalOp encodes an operation for another node (see UnmarshalOp).
func MarshalOp(op Op) ([]byte, error) {
	e := &encoder{b: make([]byte, 0, 32)}
	e.byte(opTag)
	e.byte(opVersion)
	if err := e.op(op, 0); err != nil {
		return nil, err
	}
	return e.b, nil
}

func (e *encoder) strs(ss []string) {
	e.uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) flag(b bool) {
	if b {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

func (e *encoder) op(op Op, depth int) error {
	if depth > maxOpDepth {
		return fmt.Errorf("%w: map operation nested deeper than %d", ErrInvalidOp, maxOpDepth)
	}
	switch o := op.(type) {
	case CounterOp:
		e.byte(byte(KindCounter))
		e.varint(o.Delta)
	case SetOp:
		e.byte(byte(KindSet))
		e.uvarint(uint64(len(o.Edits)))
		for _, ed := range o.Edits {
			e.flag(ed.Remove)
			e.strs(ed.Elements)
		}
	case MapOp:
		e.byte(byte(KindMap))
		e.uvarint(uint64(len(o.Edits)))
		for _, ed := range o.Edits {
			e.str(ed.Field.Name)
			e.byte(byte(ed.Field.Type))
			e.flag(ed.Remove)
			if ed.Remove {
				continue
			}
			if ed.Op == nil {
				return fmt.Errorf("%w: update of map field %s without an operation", ErrInvalidOp, ed.Field)
			}
			if err := e.op(ed.Op, depth+1); err != nil {
				return err
			}
		}
	case RegisterOp:
		e.byte(byte(KindRegister))
		e.str(o.Value)
		e.varint(o.Timestamp)
	case FlagOp:
		e.byte(byte(KindFlag))
		e.flag(o.Enable)
	case GSetOp:
		e.byte(byte(KindGSet))
		e.strs(o.Elements)
	case HLLOp:
		e.byte(byte(KindHLL))
		e.strs(o.Elements)
	case OpLogOp:
		e.byte(byte(KindOpLog))
		e.varint(o.Amount)
		e.str(o.Note)
		e.actor(o.ID.Actor)
		e.uvarint(o.ID.Seq)
	case BCounterOp:
		e.byte(byte(KindBCounter))
		e.varint(o.Delta)
	case BTransferOp:
		e.byte(tagBTransfer)
		e.actor(o.To)
		e.uvarint(o.Amount)
	case PGOp:
		e.byte(byte(KindPG))
		e.str(o.Node)
		e.uvarint(o.Incarnation)
		e.uvarint(uint64(len(o.Edits)))
		for _, ed := range o.Edits {
			e.byte(byte(ed.Kind))
			e.str(ed.ID)
			e.str(ed.Meta)
		}
	case PGPruneOp:
		e.byte(tagPGPrune)
		e.str(o.Node)
		e.uvarint(o.KeepIncarnation)
		e.flag(o.All)
	default:
		return fmt.Errorf("%w: operation %T has no wire form", ErrInvalidOp, op)
	}
	return nil
}

// UnmarshalOp decodes what MarshalOp produced. It checks the form only
// (the applying value validates the operation itself); errors wrap
// ErrMalformed.
func UnmarshalOp(b []byte) (Op, error) {
	d := &decoder{b: b}
	if d.byte() != opTag || d.byte() != opVersion {
		if d.err == nil {
			d.fail("not an operation of a known version")
		}
		return nil, d.err
	}
	op := d.op(0)
	if err := d.finish(); err != nil {
		return nil, err
	}
	return op, nil
}

func (d *decoder) strs() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.str())
	}
	return out
}

func (d *decoder) flag() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad boolean")
	return false
}

func (d *decoder) op(depth int) Op {
	if depth > maxOpDepth {
		d.fail("map operation nested deeper than %d", maxOpDepth)
		return nil
	}
	tag := d.byte()
	if d.err != nil {
		return nil
	}
	switch tag {
	case byte(KindCounter):
		return CounterOp{Delta: d.varint()}
	case byte(KindSet):
		n := d.count(2)
		op := SetOp{}
		for i := 0; i < n && d.err == nil; i++ {
			op.Edits = append(op.Edits, SetEdit{Remove: d.flag(), Elements: d.strs()})
		}
		return op
	case byte(KindMap):
		n := d.count(4)
		op := MapOp{}
		for i := 0; i < n && d.err == nil; i++ {
			f := d.field()
			ed := MapEdit{Field: f, Remove: d.flag()}
			if !ed.Remove {
				ed.Op = d.op(depth + 1)
			}
			op.Edits = append(op.Edits, ed)
		}
		return op
	case byte(KindRegister):
		return RegisterOp{Value: d.str(), Timestamp: d.varint()}
	case byte(KindFlag):
		return FlagOp{Enable: d.flag()}
	case byte(KindGSet):
		return GSetOp{Elements: d.strs()}
	case byte(KindHLL):
		return HLLOp{Elements: d.strs()}
	case byte(KindOpLog):
		op := OpLogOp{Amount: d.varint(), Note: d.str()}
		op.ID.Actor = d.rawActor()
		op.ID.Seq = d.uvarint()
		return op
	case byte(KindBCounter):
		return BCounterOp{Delta: d.varint()}
	case tagBTransfer:
		op := BTransferOp{To: d.rawActor()}
		op.Amount = d.uvarint()
		return op
	case byte(KindPG):
		op := PGOp{Node: d.str(), Incarnation: d.uvarint()}
		n := d.count(3)
		for i := 0; i < n && d.err == nil; i++ {
			op.Edits = append(op.Edits, PGEdit{Kind: PGEditKind(d.byte()), ID: d.str(), Meta: d.str()})
		}
		return op
	case tagPGPrune:
		return PGPruneOp{Node: d.str(), KeepIncarnation: d.uvarint(), All: d.flag()}
	}
	d.fail("unknown operation tag %d", tag)
	return nil
}

// rawActor reads an actor that may be zero (an operation's optional id).
func (d *decoder) rawActor() vclock.Actor {
	id := d.uvarint()
	ep := d.uvarint()
	if d.err != nil {
		return vclock.Actor{}
	}
	if ep > math.MaxUint32 {
		d.fail("epoch out of range")
		return vclock.Actor{}
	}
	return vclock.Actor{ID: id, Epoch: uint32(ep)}
}
