package tcp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/secret"
	"github.com/riakgo/riakgo/internal/testcerts"
	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/tcp"
	"github.com/riakgo/riakgo/internal/wire"
)

func secrets(t *testing.T, s ...string) secret.Set {
	t.Helper()
	set, err := secret.New(s...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func withSecret(s secret.Set) func(*tcp.Config) {
	return func(c *tcp.Config) { c.Secret = s }
}

// counted registers an echo handler on tr that counts its calls.
func counted(tr transport.Transport) *atomic.Int64 {
	var n atomic.Int64
	tr.Handle(wire.MsgTest1, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		n.Add(1)
		return &echo{Seq: 1}, nil
	})
	return &n
}

func call(a transport.Transport, to transport.NodeID) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out echo
	return a.Call(ctx, to, wire.MsgTest1, &echo{}, &out)
}

func TestSecretHandshake(t *testing.T) {
	s1, s2 := secret.Generate(), secret.Generate()
	cases := []struct {
		name   string
		a, b   []string // secrets of a (dialer) and b (acceptor); nil: none
		ok     bool
		reason error
	}{
		{"same secret", []string{s1}, []string{s1}, true, nil},
		{"no secret on either", nil, nil, true, nil},
		{"different secrets", []string{s1}, []string{s2}, false, wire.ErrAuth},
		{"dialer without secret", nil, []string{s1}, false, wire.ErrAuth},
		{"acceptor without secret", []string{s1}, nil, false, wire.ErrAuth},
		{"rotation: new primary, old accepted (dial old)", []string{s2, s1}, []string{s1}, true, nil},
		{"rotation: new primary, old accepted (dial new)", []string{s1}, []string{s2, s1}, true, nil},
		{"rotation finished on one side only", []string{s2}, []string{s1}, false, wire.ErrAuth},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bk := newBook()
			var sa, sb secret.Set
			if c.a != nil {
				sa = secrets(t, c.a...)
			}
			if c.b != nil {
				sb = secrets(t, c.b...)
			}
			a := start(t, bk, "a", "127.0.0.1:0", withSecret(sa))
			b := start(t, bk, "b", "127.0.0.1:0", withSecret(sb))
			na, nb := counted(a), counted(b)
			errAB, errBA := call(a, "b"), call(b, "a")
			if c.ok {
				if errAB != nil || errBA != nil {
					t.Fatalf("calls failed: %v / %v", errAB, errBA)
				}
				return
			}
			for _, err := range []error{errAB, errBA} {
				if err == nil || !errors.Is(err, transport.ErrUnreachable) {
					t.Fatalf("call succeeded or failed wrongly: %v", err)
				}
			}
			if !errors.Is(errAB, c.reason) {
				t.Fatalf("a->b: %v, want %v", errAB, c.reason)
			}
			if na.Load() != 0 || nb.Load() != 0 {
				t.Fatalf("a handler ran for an unauthenticated peer (%d, %d)", na.Load(), nb.Load())
			}
			// A node without a secret accepts a hello and only then
			// hears the dialer drop it: wait for that.
			testwait.For(t, 5*time.Second, "no connection kept", func() bool {
				return a.Stats().Inbound == 0 && b.Stats().Inbound == 0
			})
		})
	}
}

// rawHello dials addr and sends a hello built by the caller; it returns
// the first answer frame (or the error reading it).
func rawExchange(t *testing.T, addr string, frames ...[]byte) (wire.Frame, net.Conn, error) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	for _, f := range frames {
		if _, err := nc.Write(f); err != nil {
			return wire.Frame{}, nc, err
		}
	}
	f, err := wire.ReadFrame(bufio.NewReader(nc), wire.MaxHelloSize)
	return f, nc, err
}

func mustFrame(t *testing.T, h wire.Header, body any) []byte {
	t.Helper()
	b, err := wire.AppendFrame(nil, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnauthenticatedPeerGetsNothing plays the attacker of issue 12's
// first finding: a hand-built client on the internode port of a node with
// a cluster secret. Whatever it sends, no handler runs and it learns
// nothing but "authentication failed".
func TestUnauthenticatedPeerGetsNothing(t *testing.T) {
	bk := newBook()
	s := secrets(t, secret.Generate())
	node := start(t, bk, "node", "127.0.0.1:0", withSecret(s))
	n := counted(node)
	addr := node.Addr().String()
	nonce := make([]byte, wire.NonceSize)

	// 1. The pre-secret protocol: a hello with the right cluster name.
	h := wire.NewHello("attacker", "riakgo")
	h.Nonce = nonce
	f, _, err := rawExchange(t, addr, mustFrame(t, wire.Header{Type: wire.MsgHello}, &h))
	if err != nil || f.Flags&wire.FlagError == 0 {
		t.Fatalf("hello without a key: %v %v, want a refusal", f.Flags, err)
	}
	var eb wire.ErrorBody
	if err := wire.DecodeBody(f.Body, &eb); err != nil || eb.Message != wire.ErrAuth.Error() {
		t.Fatalf("refusal says %q (%v); it must say no more than %q", eb.Message, err, wire.ErrAuth)
	}

	// 2. The node's public key id (it is public) and a made-up proof.
	h.KeyIDs = s.IDs()
	f, nc, err := rawExchange(t, addr, mustFrame(t, wire.Header{Type: wire.MsgHello}, &h))
	if err != nil || f.Flags&wire.FlagError != 0 {
		t.Fatalf("hello naming the key: %v %v", f.Flags, err)
	}
	br := bufio.NewReader(nc)
	nc.Write(mustFrame(t, wire.Header{Type: wire.MsgHelloAuth}, &wire.HelloAuth{Proof: make([]byte, 32)}))
	f, err = wire.ReadFrame(br, wire.MaxHelloSize)
	if err != nil || f.Type != wire.MsgHelloAuth || f.Flags&wire.FlagError == 0 {
		t.Fatalf("forged proof: %v %v %v, want a refusal", f.Type, f.Flags, err)
	}

	// 3. Skipping the proof: a request right after the hello.
	f, nc, err = rawExchange(t, addr, mustFrame(t, wire.Header{Type: wire.MsgHello}, &h),
		mustFrame(t, wire.Header{Type: wire.MsgTest1, ReqID: 1}, &echo{}))
	if err != nil {
		t.Fatal(err)
	}
	f, err = wire.ReadFrame(bufio.NewReader(nc), wire.MaxFrameSize)
	if err == nil && f.Flags&wire.FlagError == 0 {
		t.Fatalf("a request without the proof was answered: %v %v", f.Type, f.Flags)
	}

	// 4. A request as the first frame.
	if f, _, err := rawExchange(t, addr, mustFrame(t, wire.Header{Type: wire.MsgTest1, ReqID: 1}, &echo{})); err == nil && f.Flags&wire.FlagError == 0 {
		t.Fatalf("a request without a hello was answered: %v", f.Flags)
	}
	if n.Load() != 0 {
		t.Fatalf("the handler ran %d times for an unauthenticated peer", n.Load())
	}
	testwait.For(t, 5*time.Second, "unauthenticated connections closed", func() bool { return node.Stats().Inbound == 0 })
}

// TestSetSecretRotates replaces the secret of a running transport.
func TestSetSecretRotates(t *testing.T) {
	bk := newBook()
	old, next := secret.Generate(), secret.Generate()
	a := start(t, bk, "a", "127.0.0.1:0", withSecret(secrets(t, old)))
	b := start(t, bk, "b", "127.0.0.1:0", withSecret(secrets(t, old)))
	counted(a)
	counted(b)
	// Step 1 on both: the new secret is accepted. Step 2: it is primary.
	// Step 3: the old one is dropped. Calls work after every step.
	for _, step := range [][]string{{old, next}, {next, old}, {next}} {
		a.SetSecret(secrets(t, step...))
		if err := call(b, "a"); err != nil {
			t.Fatalf("after a's step %v: %v", len(step), err)
		}
		b.SetSecret(secrets(t, step...))
		if err := call(b, "a"); err != nil {
			t.Fatalf("after b's step %v: %v", len(step), err)
		}
	}
	// A node still on the old secret is now refused.
	c := start(t, bk, "c", "127.0.0.1:0", withSecret(secrets(t, old)))
	counted(c)
	if err := call(c, "a"); !errors.Is(err, wire.ErrAuth) {
		t.Fatalf("old secret after the rotation: %v", err)
	}
}

func TestMutualTLS(t *testing.T) {
	ca := testcerts.NewCA("cluster ca")
	leaf := ca.Server("node")
	cfg := func(l testcerts.Leaf, pool *testcerts.CA) func(*tcp.Config) {
		return func(c *tcp.Config) {
			c.ServerTLS = &tls.Config{Certificates: []tls.Certificate{l.TLS}, ClientCAs: pool.Pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
			c.ClientTLS = &tls.Config{Certificates: []tls.Certificate{l.TLS}, RootCAs: pool.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
		}
	}
	bk := newBook()
	a := start(t, bk, "a", "127.0.0.1:0", cfg(leaf, ca))
	b := start(t, bk, "b", "127.0.0.1:0", cfg(ca.Server("b"), ca))
	counted(a)
	counted(b)
	if err := call(a, "b"); err != nil {
		t.Fatal(err)
	}
	// A node whose certificate another CA signed is refused both ways.
	other := testcerts.NewCA("other")
	c := start(t, bk, "c", "127.0.0.1:0", cfg(other.Server("c"), other))
	nc := counted(c)
	if err := call(c, "a"); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	if err := call(a, "c"); err == nil {
		t.Fatal("dialled a node with a certificate of another CA")
	}
	// Plain TCP to a TLS port gets nowhere.
	h := wire.NewHello("plain", "riakgo")
	if f, _, err := rawExchange(t, a.Addr().String(), mustFrame(t, wire.Header{Type: wire.MsgHello}, &h)); err == nil {
		t.Fatalf("plain hello on a TLS port answered: %v", f)
	}
	if nc.Load() != 0 {
		t.Fatal("handler ran for a refused peer")
	}
}

func TestMaxHandshakes(t *testing.T) {
	bk := newBook()
	node := start(t, bk, "node", "127.0.0.1:0", func(c *tcp.Config) {
		c.MaxHandshakes = 2
		c.HandshakeTimeout = time.Minute
	})
	var idle []net.Conn
	for range 2 {
		nc, err := net.Dial("tcp", node.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		idle = append(idle, nc)
	}
	// The third is closed at once (the two idle ones hold the slots).
	testwait.For(t, 5*time.Second, "a connection over MaxHandshakes closed", func() bool {
		nc, err := net.Dial("tcp", node.Addr().String())
		if err != nil {
			return false
		}
		defer nc.Close()
		nc.SetReadDeadline(time.Now().Add(time.Second))
		_, err = nc.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, errTimeout(err))
	})
	for _, c := range idle {
		c.Close()
	}
	// Slots come back: a real peer connects.
	other := start(t, bk, "other", "", nil)
	counted(node)
	testwait.For(t, 5*time.Second, "a peer connects after the idle connections went", func() bool { return call(other, "node") == nil })
}

// errTimeout returns err if it is a timeout, so that errors.Is(err,
// errTimeout(err)) reports a timeout.
func errTimeout(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return errors.New("not a timeout")
}
