package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// Frame layout (all integers big-endian):
//
//	offset  size  field
//	0       4     length: bytes after this field (header rest + body)
//	4       1     message type (MsgType)
//	5       1     flags (Flags)
//	6       8     request id
//	14      4     timeout in milliseconds the sender will wait (0: none)
//	18      …     body: one msgpack value
const (
	// HeaderSize is the size of a frame header, length prefix included.
	HeaderSize = 18
	// MaxFrameSize bounds a whole frame, length prefix included. Larger
	// frames are refused when encoding and when decoding.
	MaxFrameSize = 64 << 20
	// MaxBodySize is the largest body a frame can carry.
	MaxBodySize = MaxFrameSize - HeaderSize
)

// maxDepth bounds the nesting of msgpack arrays and maps in a body.
const maxDepth = 64

// Errors of the frame codec.
var (
	// ErrFrameTooLarge: a frame longer than MaxFrameSize (or the caller's
	// smaller bound) was encoded or announced.
	ErrFrameTooLarge = errors.New("riakgo/wire: frame too large")
	// ErrEncode: the body could not be encoded as msgpack.
	ErrEncode = errors.New("riakgo/wire: cannot encode message body")
)

// Flags qualify a frame. Exactly these combinations are valid: 0 (a request
// that expects a response), FlagOneWay, FlagResponse, and
// FlagResponse|FlagError.
type Flags uint8

const (
	// FlagResponse marks the answer to the request with the same id.
	FlagResponse Flags = 1 << 0
	// FlagError marks a response whose body is an ErrorBody.
	FlagError Flags = 1 << 1
	// FlagOneWay marks a request that expects no response.
	FlagOneWay Flags = 1 << 2
)

// Valid reports whether f is one of the valid combinations.
func (f Flags) Valid() bool {
	switch f {
	case 0, FlagOneWay, FlagResponse, FlagResponse | FlagError:
		return true
	}
	return false
}

// String names the combination: "request", "oneway", "response", "error".
func (f Flags) String() string {
	switch f {
	case 0:
		return "request"
	case FlagOneWay:
		return "oneway"
	case FlagResponse:
		return "response"
	case FlagResponse | FlagError:
		return "error"
	}
	return fmt.Sprintf("flags(%#x)", uint8(f))
}

// Header is a frame without its length prefix and body.
type Header struct {
	// Type routes the frame to a handler.
	Type MsgType
	// Flags say whether this is a request, one-way message or response.
	Flags Flags
	// ReqID pairs a response with its request on a connection; the sender
	// of a request chooses it.
	ReqID uint64
	// TimeoutMillis is how long the sender of a request will wait for the
	// response (0: unknown). The receiver may give up after it.
	TimeoutMillis uint32
}

// Frame is a decoded frame. Body is one msgpack value, decoded with
// DecodeBody by whoever owns the message type.
type Frame struct {
	Header
	// Body is the msgpack body.
	Body []byte
}

// appendWriter lets a msgpack encoder append straight to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

type frameEncoder struct {
	w   appendWriter
	enc *msgpack.Encoder
}

var frameEncPool = sync.Pool{New: func() any {
	e := &frameEncoder{}
	e.enc = msgpack.NewEncoder(&e.w)
	return e
}}

// AppendFrame appends a frame with header h and body encoded as msgpack to
// dst. body may be any value msgpack encodes (typically a pointer to a
// struct with msgpack tags); nil encodes as msgpack nil. On error dst is
// returned unchanged, with ErrEncode or ErrFrameTooLarge.
func AppendFrame(dst []byte, h Header, body any) ([]byte, error) {
	if h.Type == MsgInvalid {
		return dst, fmt.Errorf("%w: message type 0", ErrEncode)
	}
	if !h.Flags.Valid() {
		return dst, fmt.Errorf("%w: invalid flags %#x", ErrEncode, uint8(h.Flags))
	}
	start := len(dst)
	e := frameEncPool.Get().(*frameEncoder)
	e.w.b = append(dst, make([]byte, HeaderSize)...)
	e.enc.Reset(&e.w)
	err := e.enc.Encode(body)
	out := e.w.b
	e.w.b = nil
	frameEncPool.Put(e)
	if err != nil {
		return dst[:start], fmt.Errorf("%w: %s: %v", ErrEncode, h.Type, err)
	}
	n := len(out) - start
	if n > MaxFrameSize {
		return dst[:start], fmt.Errorf("%w: %s frame of %d bytes (max %d)", ErrFrameTooLarge, h.Type, n, MaxFrameSize)
	}
	putHeader(out[start:], h, n)
	return out, nil
}

// MarshalBody encodes v as a msgpack body, the form DecodeBody reads: for
// a value that travels inside another message's body as bytes (a
// serialised operation, say). Errors wrap ErrEncode.
func MarshalBody(v any) ([]byte, error) {
	e := frameEncPool.Get().(*frameEncoder)
	e.w.b = nil
	e.enc.Reset(&e.w)
	err := e.enc.Encode(v)
	out := e.w.b
	e.w.b = nil
	frameEncPool.Put(e)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncode, err)
	}
	return out, nil
}

// AppendRawFrame appends a frame whose body is already msgpack (for
// example a body received earlier and forwarded). body is not validated.
func AppendRawFrame(dst []byte, h Header, body []byte) ([]byte, error) {
	if h.Type == MsgInvalid || !h.Flags.Valid() {
		return dst, fmt.Errorf("%w: invalid header %s %s", ErrEncode, h.Type, h.Flags)
	}
	n := HeaderSize + len(body)
	if n > MaxFrameSize {
		return dst, fmt.Errorf("%w: %s frame of %d bytes (max %d)", ErrFrameTooLarge, h.Type, n, MaxFrameSize)
	}
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = append(dst, body...)
	putHeader(dst[start:], h, n)
	return dst, nil
}

func putHeader(b []byte, h Header, n int) {
	binary.BigEndian.PutUint32(b[0:4], uint32(n-4))
	b[4] = byte(h.Type)
	b[5] = byte(h.Flags)
	binary.BigEndian.PutUint64(b[6:14], h.ReqID)
	binary.BigEndian.PutUint32(b[14:18], h.TimeoutMillis)
}

// parseHeader checks and decodes the 18 header bytes; it returns the
// whole frame length.
func parseHeader(b []byte, max int) (Header, int, error) {
	n := int(binary.BigEndian.Uint32(b[0:4])) + 4
	if n > max {
		return Header{}, 0, fmt.Errorf("%w: %d bytes announced (max %d)", ErrFrameTooLarge, n, max)
	}
	if n < HeaderSize {
		return Header{}, 0, fmt.Errorf("%w: frame length %d below header size", ErrMalformed, n)
	}
	h := Header{
		Type:          MsgType(b[4]),
		Flags:         Flags(b[5]),
		ReqID:         binary.BigEndian.Uint64(b[6:14]),
		TimeoutMillis: binary.BigEndian.Uint32(b[14:18]),
	}
	if h.Type == MsgInvalid {
		return Header{}, 0, fmt.Errorf("%w: message type 0", ErrMalformed)
	}
	if !h.Flags.Valid() {
		return Header{}, 0, fmt.Errorf("%w: invalid flags %#x", ErrMalformed, uint8(h.Flags))
	}
	return h, n, nil
}

// DecodeFrame decodes the frame at the start of b and returns it with the
// number of bytes it used. The body aliases b. The body's msgpack is not
// checked here (DecodeBody does that); an incomplete frame is ErrMalformed.
func DecodeFrame(b []byte) (Frame, int, error) {
	if len(b) < HeaderSize {
		return Frame{}, 0, fmt.Errorf("%w: %d bytes, short of a header", ErrMalformed, len(b))
	}
	h, n, err := parseHeader(b, MaxFrameSize)
	if err != nil {
		return Frame{}, 0, err
	}
	if len(b) < n {
		return Frame{}, 0, fmt.Errorf("%w: truncated frame (%d of %d bytes)", ErrMalformed, len(b), n)
	}
	return Frame{Header: h, Body: b[HeaderSize:n:n]}, n, nil
}

// readChunk is how much ReadFrame allocates ahead of the bytes that have
// actually arrived, so a peer announcing a huge frame and sending nothing
// cannot make it allocate the whole announced size.
const readChunk = 1 << 20

// ReadFrame reads one frame from r. max bounds the frame (≤ 0 or above
// MaxFrameSize means MaxFrameSize). The frame's body is freshly allocated
// and owned by the caller. It returns io.EOF if r ends before the first
// byte and io.ErrUnexpectedEOF if it ends inside a frame.
func ReadFrame(r io.Reader, max int) (Frame, error) {
	if max <= 0 || max > MaxFrameSize {
		max = MaxFrameSize
	}
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Frame{}, err
	}
	h, n, err := parseHeader(hdr[:], max)
	if err != nil {
		return Frame{}, err
	}
	size := n - HeaderSize
	body := make([]byte, 0, min(size, readChunk))
	for len(body) < size {
		if len(body) == cap(body) {
			// Grow only once the bytes so far have arrived.
			grown := make([]byte, len(body), min(size, 2*cap(body)))
			copy(grown, body)
			body = grown
		}
		m, err := io.ReadFull(r, body[len(body):cap(body)])
		body = body[:len(body)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Frame{}, err
		}
	}
	return Frame{Header: h, Body: body}, nil
}

type bodyDecoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var bodyDecPool = sync.Pool{New: func() any {
	d := &bodyDecoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}}

// DecodeBody decodes a frame body into v (a pointer), as msgpack.Unmarshal
// would, after checking that body is exactly one well-formed msgpack value
// whose announced lengths fit in the bytes present and whose nesting is
// bounded, so hostile input cannot make the decoder allocate beyond a
// small multiple of len(body). Unknown struct fields are skipped (newer
// senders may add fields). If v is nil the body is only checked. Decoded
// values do not alias body. Errors wrap ErrMalformed.
func DecodeBody(body []byte, v any) (err error) {
	if err := checkMsgpack(body); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if v == nil {
		return nil
	}
	d := bodyDecPool.Get().(*bodyDecoder)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: decoder panic: %v", ErrMalformed, p)
			return // the decoder's state is suspect; do not pool it
		}
		bodyDecPool.Put(d)
	}()
	d.r.Reset(body)
	d.dec.Reset(&d.r)
	if err := d.dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// checkMsgpack walks b as one msgpack value without allocating: every
// announced length must fit in the remaining bytes (an array or map element
// takes at least one byte), nesting is at most maxDepth, and nothing may
// follow the value.
func checkMsgpack(b []byte) error {
	var stack [maxDepth]int // items still expected at each open level
	depth := 0
	need := 1 // items expected at the current level (top level: one value)
	i := 0
	for {
		for need == 0 {
			if depth == 0 {
				if i != len(b) {
					return fmt.Errorf("%d trailing bytes", len(b)-i)
				}
				return nil
			}
			depth--
			need = stack[depth]
		}
		if i >= len(b) {
			return io.ErrUnexpectedEOF
		}
		c := b[i]
		i++
		need--
		var skip, items int // payload bytes to skip; child items to open
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			items = int(c&0x0f) * 2
		case c >= 0x90 && c <= 0x9f:
			items = int(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = int(c & 0x1f)
		case c == 0xcc, c == 0xd0:
			skip = 1
		case c == 0xcd, c == 0xd1:
			skip = 2
		case c == 0xca, c == 0xce, c == 0xd2:
			skip = 4
		case c == 0xcb, c == 0xcf, c == 0xd3:
			skip = 8
		case c == 0xd4:
			skip = 2
		case c == 0xd5:
			skip = 3
		case c == 0xd6:
			skip = 5
		case c == 0xd7:
			skip = 9
		case c == 0xd8:
			skip = 17
		case c == 0xc4, c == 0xd9: // bin8, str8
			n, err := lenAt(b, i, 1)
			if err != nil {
				return err
			}
			i, skip = i+1, n
		case c == 0xc5, c == 0xda: // bin16, str16
			n, err := lenAt(b, i, 2)
			if err != nil {
				return err
			}
			i, skip = i+2, n
		case c == 0xc6, c == 0xdb: // bin32, str32
			n, err := lenAt(b, i, 4)
			if err != nil {
				return err
			}
			i, skip = i+4, n
		case c == 0xc7, c == 0xc8, c == 0xc9: // ext8/16/32: length, type, data
			w := 1 << (c - 0xc7)
			n, err := lenAt(b, i, w)
			if err != nil {
				return err
			}
			i, skip = i+w, n+1
		case c == 0xdc, c == 0xdd: // array16/32
			w := 2 << (c - 0xdc)
			n, err := lenAt(b, i, w)
			if err != nil {
				return err
			}
			i, items = i+w, n
		case c == 0xde, c == 0xdf: // map16/32
			w := 2 << (c - 0xde)
			n, err := lenAt(b, i, w)
			if err != nil {
				return err
			}
			i, items = i+w, 2*n
		default: // 0xc1 is never used
			return fmt.Errorf("invalid msgpack byte %#x at %d", c, i-1)
		}
		if skip > len(b)-i {
			return fmt.Errorf("length %d at %d exceeds the input", skip, i)
		}
		i += skip
		if items > 0 {
			if items > len(b)-i {
				return fmt.Errorf("%d items at %d exceed the input", items, i)
			}
			if depth == maxDepth {
				return fmt.Errorf("nesting deeper than %d", maxDepth)
			}
			stack[depth] = need
			depth++
			need = items
		}
	}
}

// lenAt reads a big-endian length of w bytes at b[i:].
func lenAt(b []byte, i, w int) (int, error) {
	if len(b)-i < w {
		return 0, io.ErrUnexpectedEOF
	}
	var n uint64
	for _, x := range b[i : i+w] {
		n = n<<8 | uint64(x)
	}
	if n > uint64(len(b)) {
		return 0, fmt.Errorf("length %d at %d exceeds the input", n, i)
	}
	return int(n), nil
}
