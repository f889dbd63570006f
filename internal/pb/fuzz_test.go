package pb

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/riakgo/riakgo/internal/pb/riakpb"
)

// FuzzReadFrame: any byte stream either yields frames whose re-encoding
// is the input's prefix, or an error; never a panic or an allocation
// beyond the limit.
func FuzzReadFrame(f *testing.F) {
	f.Add(frame(1, 1, nil))
	f.Add(frame(5, 9, []byte{0x0a, 0x01, 'b', 0x12}))
	f.Add(frame(0, 0, nil))
	f.Add(frame(1<<31, 11, nil))
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 1 << 12
		br := bufio.NewReader(bytes.NewReader(in))
		var out []byte
		for {
			code, body, err := ReadFrame(br, max, nil)
			if err != nil {
				var fe *FrameError
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &fe) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if len(body) >= max {
				t.Fatalf("body of %d bytes passed the %d limit", len(body), max)
			}
			out = append(out, frame(uint32(len(body)+1), byte(code), body)...)
		}
		if !bytes.HasPrefix(in, out) {
			t.Fatalf("re-encoded frames are not the input's prefix")
		}
	})
}

// FuzzHandle: any message code with any body is answered (a response or
// RpbErrorResp) without a panic, over a real service.
func FuzzHandle(f *testing.F) {
	seeds := []struct {
		code riakpb.Code
		m    riakpb.Message
	}{
		{riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: []byte("b"), Key: []byte("k"), R: ptr(uint32(2))}},
		{riakpb.CodePutReq, &riakpb.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Content: &riakpb.RpbContent{Value: []byte("v"),
			Indexes: []*riakpb.RpbPair{{Key: []byte("a_int"), Value: []byte("1")}}}, ReturnBody: ptr(true)}},
		{riakpb.CodeDelReq, &riakpb.RpbDelReq{Bucket: []byte("b"), Key: []byte("k")}},
		{riakpb.CodeIndexReq, &riakpb.RpbIndexReq{Bucket: []byte("b"), Index: []byte("a_int"), Qtype: riakpb.RpbIndexReq_range.Enum(), RangeMin: []byte("0"), RangeMax: []byte("9"), Stream: ptr(true)}},
		{riakpb.CodeSetBucketReq, &riakpb.RpbSetBucketReq{Bucket: []byte("b"), Props: &riakpb.RpbBucketProps{NVal: ptr(uint32(2)), AllowMult: ptr(true)}}},
		{riakpb.CodeDtUpdateReq, &riakpb.DtUpdateReq{Bucket: []byte("b"), Type: []byte("maps"), Op: &riakpb.DtOp{MapOp: &riakpb.MapOp{Updates: []*riakpb.MapUpdate{
			{Field: &riakpb.MapField{Name: []byte("f"), Type: riakpb.MapField_MAP.Enum()}, MapOp: &riakpb.MapOp{}}}}}}},
		{riakpb.CodeDtFetchReq, &riakpb.DtFetchReq{Bucket: []byte("b"), Key: []byte("k"), Type: []byte("sets")}},
		{riakpb.CodeCounterUpdateReq, &riakpb.RpbCounterUpdateReq{Bucket: []byte("b"), Key: []byte("k"), Amount: ptr(int64(1))}},
		{riakpb.CodeListKeysReq, &riakpb.RpbListKeysReq{Bucket: []byte("b")}},
	}
	for _, s := range seeds {
		b, err := riakpb.Marshal(nil, s.m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(s.code), b)
	}
	svc := newService(f, 1)
	for _, x := range [][2]string{{"maps", "map"}, {"sets", "set"}} {
		svc.CreateType(x[0], map[string]json.RawMessage{"datatype": json.RawMessage(`"` + x[1] + `"`)})
		svc.ActivateType(x[0])
	}
	srv, err := New(svc, Config{Rand: lockedRand(2)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, code uint8, body []byte) {
		server, peer := net.Pipe()
		defer server.Close()
		go io.Copy(io.Discard, peer)
		defer peer.Close()
		c := &conn{s: srv, nc: server, bw: bufio.NewWriter(server)}
		if _, err := c.handle(riakpb.Code(code), body); err != nil {
			t.Fatalf("write error on a pipe: %v", err)
		}
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
	})
}
