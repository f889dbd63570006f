package pb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/riakgo/riakgo/internal/pb/riakpb"
)

// A frame is Riak's: a 4-byte big-endian length of what follows, a 1-byte
// message code, then the protobuf body (length-1 bytes).

// DefaultMaxFrame bounds a request frame: Riak's largest object (50 MiB)
// plus room for its metadata.
const DefaultMaxFrame = 64 << 20

// FrameError is a frame that cannot be read as one: it is empty or longer
// than the limit. The stream cannot be resynchronised after it.
type FrameError struct {
	Length uint32 // the announced length
	Max    int    // the limit in force
}

func (e *FrameError) Error() string {
	if e.Length == 0 {
		return "riakgo/pb: empty frame (length 0 leaves no message code)"
	}
	return fmt.Sprintf("riakgo/pb: frame of %d bytes exceeds the limit of %d bytes", e.Length, e.Max)
}

// ReadHeader reads a frame's length and code. It returns a *FrameError for
// a length of 0 or one above max (the code and body are not read then).
func ReadHeader(r io.Reader, max int) (riakpb.Code, int, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return 0, 0, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n == 0 || uint64(n) > uint64(max) {
		return 0, 0, &FrameError{Length: n, Max: max}
	}
	if _, err := io.ReadFull(r, hdr[4:5]); err != nil {
		return 0, 0, unexpected(err)
	}
	return riakpb.Code(hdr[4]), int(n) - 1, nil
}

// ReadFrame reads one frame: its code and body. buf is reused for the
// body when it is large enough. A stream that ends inside a frame gives
// io.ErrUnexpectedEOF; one that ends between frames io.EOF.
func ReadFrame(r *bufio.Reader, max int, buf []byte) (riakpb.Code, []byte, error) {
	code, n, err := ReadHeader(r, max)
	if err != nil {
		return 0, nil, err
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, unexpected(err)
	}
	return code, buf, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendFrame appends a frame of code and m's encoding (m may be nil for a
// message without body) to b.
func AppendFrame(b []byte, code riakpb.Code, m riakpb.Message) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0, byte(code))
	if m != nil {
		var err error
		if b, err = riakpb.Marshal(b, m); err != nil {
			return b[:start], err
		}
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b, nil
}
