package wire

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// ObjectFormatV1 is the first byte of a stored object in format 1. Format
// numbers are append-only: a new layout takes a new number and decoders keep
// reading the old ones.
const ObjectFormatV1 byte = 1

// ErrMalformed is returned for bytes that do not decode to a valid value.
var ErrMalformed = errors.New("riakgo/wire: malformed encoding")

// maxItems bounds every decoded array length, so hostile input cannot make
// the decoder allocate without limit.
const maxItems = 1 << 20

type encState struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var encPool = sync.Pool{New: func() any {
	s := &encState{}
	s.enc = msgpack.NewEncoder(&s.buf)
	return s
}}

// AppendObject appends the stored form of o to dst.
func AppendObject(dst []byte, o *siblings.Object) []byte {
	s := encPool.Get().(*encState)
	s.buf.Reset()
	s.buf.WriteByte(ObjectFormatV1)
	e := s.enc
	_ = e.EncodeArrayLen(2)
	_ = e.EncodeArrayLen(len(o.Clock) * 4)
	for _, c := range o.Clock {
		_ = e.EncodeUint(c.Actor.ID)
		_ = e.EncodeUint(uint64(c.Actor.Epoch))
		_ = e.EncodeUint(c.Counter)
		_ = e.EncodeInt(c.Timestamp)
	}
	_ = e.EncodeArrayLen(len(o.Siblings))
	for i := range o.Siblings {
		sb := &o.Siblings[i]
		m := &sb.Meta
		_ = e.EncodeArrayLen(14)
		_ = e.EncodeUint(sb.Dot.Actor.ID)
		_ = e.EncodeUint(uint64(sb.Dot.Actor.Epoch))
		_ = e.EncodeUint(sb.Dot.Counter)
		_ = e.EncodeBytes(sb.Value)
		_ = e.EncodeString(m.ContentType)
		_ = e.EncodeString(m.Charset)
		_ = e.EncodeString(m.ContentEncoding)
		_ = e.EncodeString(m.VTag)
		_ = e.EncodeInt(m.LastModified)
		_ = e.EncodeBool(m.Deleted)
		_ = e.EncodeArrayLen(len(m.UserMeta) * 2)
		for _, p := range m.UserMeta {
			_ = e.EncodeString(p.Key)
			_ = e.EncodeString(p.Value)
		}
		_ = e.EncodeArrayLen(len(m.Indexes) * 2)
		for _, x := range m.Indexes {
			_ = e.EncodeString(x.Field)
			_ = e.EncodeString(x.Value)
		}
		_ = e.EncodeArrayLen(len(m.Links) * 4)
		for _, l := range m.Links {
			_ = e.EncodeString(l.Type)
			_ = e.EncodeString(l.Bucket)
			_ = e.EncodeString(l.Key)
			_ = e.EncodeString(l.Tag)
		}
		_ = e.EncodeNil() // reserved for future metadata (extension map)
	}
	dst = append(dst, s.buf.Bytes()...)
	if s.buf.Cap() <= 1<<20 {
		encPool.Put(s)
	}
	return dst
}

// EncodeObject returns the stored form of o.
func EncodeObject(o *siblings.Object) []byte { return AppendObject(nil, o) }

type decState struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var decPool = sync.Pool{New: func() any {
	s := &decState{}
	s.dec = msgpack.NewDecoder(&s.r)
	return s
}}

// DecodeObject decodes a stored object. The result does not alias b.
func DecodeObject(b []byte) (o *siblings.Object, err error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if b[0] != ObjectFormatV1 {
		return nil, fmt.Errorf("%w: unknown object format %d", ErrMalformed, b[0])
	}
	s := decPool.Get().(*decState)
	defer decPool.Put(s)
	s.r.Reset(b[1:])
	s.dec.Reset(&s.r)
	d := &decoder{d: s.dec, remain: len(b)}
	o = d.object()
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, d.err)
	}
	if s.r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, s.r.Len())
	}
	if !o.Clock.Valid() {
		return nil, fmt.Errorf("%w: invalid clock", ErrMalformed)
	}
	return o, nil
}

// decoder wraps a msgpack decoder with a sticky error.
type decoder struct {
	d      *msgpack.Decoder
	err    error
	remain int // upper bound on items: the input length
}

func (d *decoder) arrayLen(mult int) int {
	if d.err != nil {
		return 0
	}
	n, err := d.d.DecodeArrayLen()
	if err != nil {
		d.err = err
		return 0
	}
	if n < 0 || n > maxItems || n > d.remain || n%mult != 0 {
		d.err = fmt.Errorf("bad array length %d", n)
		return 0
	}
	return n
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := d.d.DecodeUint64()
	d.err = err
	return v
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, err := d.d.DecodeInt64()
	d.err = err
	return v
}

func (d *decoder) uint32() uint32 {
	v := d.uint()
	if v > 1<<32-1 && d.err == nil {
		d.err = fmt.Errorf("epoch out of range")
	}
	return uint32(v)
}

func (d *decoder) str() string {
	if d.err != nil {
		return ""
	}
	v, err := d.d.DecodeString()
	d.err = err
	return v
}

func (d *decoder) bytes() []byte {
	if d.err != nil {
		return nil
	}
	v, err := d.d.DecodeBytes()
	d.err = err
	if v == nil && err == nil {
		v = []byte{}
	}
	return v
}

func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	v, err := d.d.DecodeBool()
	d.err = err
	return v
}

func (d *decoder) skip() {
	if d.err != nil {
		return
	}
	d.err = d.d.Skip()
}

func (d *decoder) object() *siblings.Object {
	if n := d.arrayLen(1); n != 2 {
		if d.err == nil {
			d.err = fmt.Errorf("object has %d fields", n)
		}
		return nil
	}
	o := &siblings.Object{}
	n := d.arrayLen(4)
	if n > 0 {
		o.Clock = make(vclock.VClock, 0, n/4)
	}
	for i := 0; i < n/4 && d.err == nil; i++ {
		var e vclock.Entry
		e.Actor.ID = d.uint()
		e.Actor.Epoch = d.uint32()
		e.Counter = d.uint()
		e.Timestamp = d.int()
		o.Clock = append(o.Clock, e)
	}
	ns := d.arrayLen(1)
	if ns > 0 {
		o.Siblings = make([]siblings.Sibling, 0, ns)
	}
	for i := 0; i < ns && d.err == nil; i++ {
		if f := d.arrayLen(1); f < 14 {
			if d.err == nil {
				d.err = fmt.Errorf("sibling has %d fields", f)
			}
			break
		} else {
			var s siblings.Sibling
			m := &s.Meta
			s.Dot.Actor.ID = d.uint()
			s.Dot.Actor.Epoch = d.uint32()
			s.Dot.Counter = d.uint()
			s.Value = d.bytes()
			m.ContentType = d.str()
			m.Charset = d.str()
			m.ContentEncoding = d.str()
			m.VTag = d.str()
			m.LastModified = d.int()
			m.Deleted = d.bool()
			if k := d.arrayLen(2); k > 0 {
				m.UserMeta = make([]siblings.Pair, k/2)
				for j := range m.UserMeta {
					m.UserMeta[j] = siblings.Pair{Key: d.str(), Value: d.str()}
				}
			}
			if k := d.arrayLen(2); k > 0 {
				m.Indexes = make([]siblings.IndexEntry, k/2)
				for j := range m.Indexes {
					m.Indexes[j] = siblings.IndexEntry{Field: d.str(), Value: d.str()}
				}
			}
			if k := d.arrayLen(4); k > 0 {
				m.Links = make([]siblings.Link, k/4)
				for j := range m.Links {
					m.Links[j] = siblings.Link{Type: d.str(), Bucket: d.str(), Key: d.str(), Tag: d.str()}
				}
			}
			// Fields after the 13th are reserved for later formats; skip them.
			for j := 13; j < f; j++ {
				d.skip()
			}
			o.Siblings = append(o.Siblings, s)
		}
	}
	return o
}
