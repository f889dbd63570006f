package pb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"google.golang.org/protobuf/proto"
)

// TestBadInput: every kind of bad input gets RpbErrorResp or a closed
// connection, and other connections are unaffected.
func TestBadInput(t *testing.T) {
	e := newEnv(t, Config{MaxFrame: 1 << 10, ReadTimeout: 300 * time.Millisecond})
	other := e.dial()
	other.ping()

	t.Run("frame over the limit", func(t *testing.T) {
		c := e.dial()
		c.sendRaw(frame(1<<10+1, byte(riakpb.CodePingReq), nil))
		if msg := c.wantError(); !strings.Contains(msg, "more than the limit of 1024 bytes") {
			t.Fatalf("errmsg %q", msg)
		}
		c.closed()
		other.ping()
	})
	t.Run("empty frame", func(t *testing.T) {
		c := e.dial()
		c.sendRaw(frame(0, 0, nil)[:4])
		if msg := c.wantError(); !strings.Contains(msg, "length 0") {
			t.Fatalf("errmsg %q", msg)
		}
		c.closed()
	})
	t.Run("unknown message code", func(t *testing.T) {
		c := e.dial()
		c.sendRaw(frame(1, 200, nil))
		if msg := c.wantError(); msg != "Unknown message code: 200" {
			t.Fatalf("errmsg %q", msg)
		}
		c.ping() // the connection goes on
	})
	t.Run("a response code sent as a request", func(t *testing.T) {
		c := e.dial()
		c.sendRaw(frame(1, byte(riakpb.CodeGetResp), nil))
		if msg := c.wantError(); !strings.Contains(msg, "it is a response") {
			t.Fatalf("errmsg %q", msg)
		}
		c.ping()
	})
	t.Run("body not protobuf", func(t *testing.T) {
		c := e.dial()
		body := []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f} // field 1, length far beyond the body
		c.sendRaw(frame(uint32(len(body)+1), byte(riakpb.CodeGetReq), body))
		if msg := c.wantError(); !strings.Contains(msg, "not a valid protobuf message") {
			t.Fatalf("errmsg %q", msg)
		}
		c.ping()
	})
	t.Run("missing required field", func(t *testing.T) {
		c := e.dial()
		partial := func(code riakpb.Code, m riakpb.Message) string {
			b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			c.sendRaw(frame(uint32(len(b)+1), byte(code), b))
			return c.wantError()
		}
		msg := partial(riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: []byte("b")}) // no key
		if !strings.Contains(msg, "required field") || !strings.Contains(msg, "key") {
			t.Fatalf("errmsg %q", msg)
		}
		msg = partial(riakpb.CodePutReq, &riakpb.RpbPutReq{Bucket: []byte("b"), Key: []byte("k")}) // no content
		if !strings.Contains(msg, "required field") {
			t.Fatalf("errmsg %q", msg)
		}
		c.ping()
	})
	t.Run("half a frame, then silence", func(t *testing.T) {
		c := e.dial()
		c.sendRaw(frame(100, byte(riakpb.CodePutReq), []byte("only part of it"))) // 16 of 100 bytes
		start := time.Now()
		c.closed() // after ReadTimeout
		t.Logf("closed after %v", time.Since(start).Round(time.Millisecond))
		other.ping()
	})
	t.Run("half a header, then silence", func(t *testing.T) {
		c := e.dial()
		c.sendRaw([]byte{0, 0})
		c.closed()
		other.ping()
	})
	t.Run("empty bucket and key", func(t *testing.T) {
		c := e.dial()
		msg := c.callErr(riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: []byte(""), Key: []byte("k")})
		if !strings.Contains(msg, "bucket name is empty") {
			t.Fatalf("errmsg %q", msg)
		}
		msg = c.callErr(riakpb.CodePutReq, &riakpb.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Vclock: []byte("junk"),
			Content: &riakpb.RpbContent{Value: []byte("v")}})
		if !strings.Contains(msg, "Invalid vclock") {
			t.Fatalf("errmsg %q", msg)
		}
		msg = c.callErr(riakpb.CodePutReq, &riakpb.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"),
			Content: &riakpb.RpbContent{Value: []byte("v"), Indexes: []*riakpb.RpbPair{{Key: []byte("age_int"), Value: []byte("x")}}}})
		if msg != "Could not parse field 'age_int', value 'x'." {
			t.Fatalf("errmsg %q", msg)
		}
		c.ping()
	})
}

// TestConnectionLimit: a connection over MaxConns gets RpbErrorResp and is
// closed; the others are served.
func TestConnectionLimit(t *testing.T) {
	e := newEnv(t, Config{MaxConns: 1})
	a := e.dial()
	a.ping()
	b := e.dial()
	if msg := b.wantError(); !strings.Contains(msg, "Too many connections") {
		t.Fatalf("errmsg %q", msg)
	}
	b.closed()
	a.ping()
}

// TestShutdown: idle connections close, a request in progress is answered,
// Serve returns ErrServerClosed, new connections are refused.
func TestShutdown(t *testing.T) {
	e := newEnv(t, Config{})
	idle := e.dial()
	idle.ping()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	idle.closed()
	if err := <-e.done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	e.done <- ErrServerClosed // for the cleanup
	if e.srv.Conns() != 0 {
		t.Fatalf("%d connections left", e.srv.Conns())
	}
}
