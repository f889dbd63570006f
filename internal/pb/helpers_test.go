package pb

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/internal/testlog"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
)

func lockedRand(seed uint64) func() uint64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Uint64()
	}
}

// newService builds a single-node service over a memstore with a manual
// clock and seeded randomness.
func newService(t testing.TB, seed uint64) *kv.Service {
	t.Helper()
	rg, err := ring.New(64, "riakgo@127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := kv.DefaultConfig()
	cfg.Ring = rg
	cfg.Engine = memstore.New()
	cfg.Clock = clock.NewManual(time.Date(2024, 3, 5, 14, 30, 15, 0, time.UTC))
	cfg.Rand = lockedRand(seed)
	svc, err := kv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// env is a PB server on a loopback port over a fresh service.
type env struct {
	t    *testing.T
	svc  *kv.Service
	srv  *Server
	addr string
	done chan error
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	return newEnvOver(t, cfg, func(svc *kv.Service) kv.Client { return svc })
}

// newEnvOver is newEnv with the server over over(svc) instead of svc (a
// service with some methods replaced).
func newEnvOver(t *testing.T, cfg Config, over func(*kv.Service) kv.Client) *env {
	t.Helper()
	const seed = 20240305
	t.Logf("seed %d", seed)
	svc := newService(t, seed)
	if cfg.Rand == nil {
		cfg.Rand = lockedRand(seed + 1)
	}
	if cfg.Node == "" {
		cfg.Node = "riakgo@127.0.0.1"
	}
	cfg.Logger = testlog.New(t)
	srv, err := New(over(svc), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, svc: svc, srv: srv, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { e.done <- srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-e.done })
	return e
}

// client is a minimal PB client for tests.
type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func (e *env) dial() *client {
	e.t.Helper()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{t: e.t, nc: nc, br: bufio.NewReader(nc)}
}

// sendRaw writes raw bytes.
func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// send writes a request frame.
func (c *client) send(code riakpb.Code, m riakpb.Message) {
	c.t.Helper()
	b, err := AppendFrame(nil, code, m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

// recv reads one response frame.
func (c *client) recv() (riakpb.Code, []byte, error) {
	return ReadFrame(c.br, 1<<30, nil)
}

// call sends a request and decodes the response into resp (nil for an
// empty response), failing on RpbErrorResp or another code.
func (c *client) call(code riakpb.Code, req riakpb.Message, want riakpb.Code, resp riakpb.Message) {
	c.t.Helper()
	c.send(code, req)
	got, body, err := c.recv()
	if err != nil {
		c.t.Fatalf("%s: %v", code, err)
	}
	if got == riakpb.CodeErrorResp {
		var e riakpb.RpbErrorResp
		riakpb.Unmarshal(body, &e)
		c.t.Fatalf("%s: RpbErrorResp %q", code, e.Errmsg)
	}
	if got != want {
		c.t.Fatalf("%s: answered %s, want %s", code, got, want)
	}
	if resp != nil {
		if err := riakpb.Unmarshal(body, resp); err != nil {
			c.t.Fatalf("%s: decoding %s: %v", code, want, err)
		}
	} else if len(body) != 0 {
		c.t.Fatalf("%s: %s has a body of %d bytes", code, want, len(body))
	}
}

// callErr sends a request and returns the errmsg of the RpbErrorResp it
// must get.
func (c *client) callErr(code riakpb.Code, req riakpb.Message) string {
	c.t.Helper()
	c.send(code, req)
	return c.wantError()
}

func (c *client) wantError() string {
	c.t.Helper()
	got, body, err := c.recv()
	if err != nil {
		c.t.Fatalf("reading the error: %v", err)
	}
	if got != riakpb.CodeErrorResp {
		c.t.Fatalf("answered %s, want RpbErrorResp", got)
	}
	var e riakpb.RpbErrorResp
	if err := riakpb.Unmarshal(body, &e); err != nil {
		c.t.Fatal(err)
	}
	return string(e.Errmsg)
}

// ping checks the connection still answers.
func (c *client) ping() {
	c.t.Helper()
	c.call(riakpb.CodePingReq, nil, riakpb.CodePingResp, nil)
}

// closed checks that the server closed the connection.
func (c *client) closed() {
	c.t.Helper()
	if _, err := c.br.ReadByte(); err != io.EOF {
		c.t.Fatalf("connection still open (read: %v)", err)
	}
}

// frame builds a raw frame with any length and code.
func frame(length uint32, code byte, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, length)
	b = append(b, code)
	return append(b, body...)
}

func ptr[T any](v T) *T { return &v }
