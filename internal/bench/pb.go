package bench

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/riakgo/riakgo/internal/pb/riakpb"
)

// pbConn is one worker's Protocol Buffers connection: Riak's frames (a
// 4-byte big-endian length, the message code, the body), one request at a
// time.
type pbConn struct {
	nc  net.Conn
	br  *bufio.Reader
	out []byte
	in  []byte
}

func dialPB(addr string, timeout time.Duration) (*pbConn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return &pbConn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}, nil
}

// errPB is an RpbErrorResp.
type errPB struct{ msg string }

func (e *errPB) Error() string { return "RpbErrorResp: " + e.msg }

// call sends req and reads the answer into resp (nil: no body expected).
func (c *pbConn) call(code riakpb.Code, req riakpb.Message, want riakpb.Code, resp riakpb.Message, timeout time.Duration) error {
	var err error
	c.out = append(c.out[:0], 0, 0, 0, 0, byte(code))
	if req != nil {
		if c.out, err = riakpb.Marshal(c.out, req); err != nil {
			return err
		}
	}
	n := len(c.out) - 4
	c.out[0], c.out[1], c.out[2], c.out[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	c.nc.SetDeadline(time.Now().Add(timeout))
	if _, err := c.nc.Write(c.out); err != nil {
		return err
	}
	var hdr [5]byte
	if _, err := readFull(c.br, hdr[:]); err != nil {
		return err
	}
	size := int(hdr[0])<<24 | int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	if size < 1 || size > 256<<20 {
		return fmt.Errorf("pb: bad frame length %d", size)
	}
	if cap(c.in) < size-1 {
		c.in = make([]byte, size-1)
	}
	body := c.in[:size-1]
	if _, err := readFull(c.br, body); err != nil {
		return err
	}
	switch got := riakpb.Code(hdr[4]); {
	case got == riakpb.CodeErrorResp:
		var e riakpb.RpbErrorResp
		riakpb.Unmarshal(body, &e)
		return &errPB{msg: string(e.Errmsg)}
	case got != want:
		return fmt.Errorf("pb: answered %s, want %s", got, want)
	}
	if resp != nil {
		return riakpb.Unmarshal(body, resp)
	}
	return nil
}

func readFull(br *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := br.Read(b[n:])
		n += m
		if err != nil && n < len(b) {
			return n, err
		}
	}
	return n, nil
}

// pbRoundTrip performs the HTTP-shaped operation over PB and answers the
// status HTTP would have given (200/300/404 for a get, 204 for a put or a
// delete), so that the workload and its accounting stay the same. The
// vclock travels as its raw bytes in a string.
func (w *worker) pbRoundTrip(method string, key int64, withBody bool, vclock string, wantVclock bool) (int, string, error) {
	cfg := w.run.cfg
	if w.pb == nil {
		c, err := dialPB(cfg.PB, cfg.Timeout)
		if err != nil {
			return 0, "", err
		}
		w.pb = c
	}
	var typ []byte
	if cfg.Type != "" {
		typ = []byte(cfg.Type)
	}
	k := strconv.AppendInt(nil, key, 10)
	var (
		status int
		vc     string
		err    error
	)
	switch method {
	case http.MethodGet:
		var resp riakpb.RpbGetResp
		err = w.pb.call(riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: []byte(cfg.Bucket), Key: k, Type: typ}, riakpb.CodeGetResp, &resp, cfg.Timeout)
		switch {
		case len(resp.Content) == 0:
			status = http.StatusNotFound
		case len(resp.Content) > 1:
			status = http.StatusMultipleChoices
		default:
			status = http.StatusOK
		}
		if wantVclock {
			vc = string(resp.Vclock)
		}
	case http.MethodPut:
		req := &riakpb.RpbPutReq{Bucket: []byte(cfg.Bucket), Key: k, Type: typ,
			Content: &riakpb.RpbContent{Value: w.value, ContentType: []byte("application/octet-stream")}}
		if vclock != "" {
			req.Vclock = []byte(vclock)
		}
		if !withBody {
			req.Content.Value = []byte{}
		}
		err = w.pb.call(riakpb.CodePutReq, req, riakpb.CodePutResp, nil, cfg.Timeout)
		status = http.StatusNoContent
	case http.MethodDelete:
		err = w.pb.call(riakpb.CodeDelReq, &riakpb.RpbDelReq{Bucket: []byte(cfg.Bucket), Key: k, Type: typ}, riakpb.CodeDelResp, nil, cfg.Timeout)
		status = http.StatusNoContent
	default:
		return 0, "", fmt.Errorf("pb: no %s", method)
	}
	var pe *errPB
	if errors.As(err, &pe) {
		return http.StatusServiceUnavailable, "", nil // counted as a failed operation
	}
	if err != nil {
		w.pb.nc.Close()
		w.pb = nil
		return 0, "", err
	}
	return status, vc, nil
}
