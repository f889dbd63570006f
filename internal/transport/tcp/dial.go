package tcp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
)

// peer is the pool of outbound connections to one node.
type peer struct {
	id    NodeID
	mu    sync.Mutex
	next  int
	slots []poolSlot
}

type poolSlot struct {
	c    *conn
	dial *dialing // the dial in progress, if any
}

// dialing is one dial attempt that several calls may wait on.
type dialing struct {
	done chan struct{}
	c    *conn
	err  error
}

// conn returns an open connection to node to, dialling one if the pool
// slot whose turn it is has none. The dial runs in its own goroutine
// (bounded by DialTimeout and HandshakeTimeout, not by ctx), so a caller
// that gives up does not fail the others waiting on the same dial.
func (t *Transport) conn(ctx context.Context, to NodeID) (*conn, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, transport.ErrClosed
	}
	p := t.peers[to]
	if p == nil {
		p = &peer{id: to, slots: make([]poolSlot, t.cfg.PoolSize)}
		t.peers[to] = p
	}
	t.mu.Unlock()

	p.mu.Lock()
	s := &p.slots[p.next]
	p.next = (p.next + 1) % len(p.slots)
	if s.c != nil && !s.c.isDead() {
		c := s.c
		p.mu.Unlock()
		return c, nil
	}
	d := s.dial
	if d == nil {
		d = &dialing{done: make(chan struct{})}
		s.dial = d
		if !t.spawn(func() {
			c, err := t.dial(to)
			p.mu.Lock()
			s.dial = nil
			if err == nil {
				s.c = c
			}
			p.mu.Unlock()
			d.c, d.err = c, err
			close(d.done)
		}) {
			s.dial = nil
			p.mu.Unlock()
			return nil, transport.ErrClosed
		}
	}
	p.mu.Unlock()
	select {
	case <-d.done:
		return d.c, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Handshake refusal codes, sent in the acceptor's error frame.
const (
	refuseMalformed uint16 = 1
	refuseVersion   uint16 = 2
	refuseCluster   uint16 = 3
	refuseAuth      uint16 = 4
)

func refusalCode(err error) uint16 {
	switch {
	case errors.Is(err, wire.ErrVersion):
		return refuseVersion
	case errors.Is(err, wire.ErrWrongCluster):
		return refuseCluster
	case errors.Is(err, wire.ErrAuth):
		return refuseAuth
	}
	return refuseMalformed
}

func refusalError(code uint16) error {
	switch code {
	case refuseVersion:
		return wire.ErrVersion
	case refuseCluster:
		return wire.ErrWrongCluster
	case refuseAuth:
		return wire.ErrAuth
	}
	return wire.ErrMalformed
}

// The parts of the handshake a proof covers. Each side's proof has its
// own label, so a proof one side sends can never be replayed as the
// other's; both challenges make it fresh; the names and the cluster bind
// it to this pair of nodes.
func proofParts(label, cluster, dialer, acceptor string, dialerNonce, acceptorNonce []byte) [][]byte {
	return [][]byte{[]byte(label), []byte(cluster), []byte(dialer), []byte(acceptor), dialerNonce, acceptorNonce}
}

const (
	labelAcceptor = "riakgo acceptor proof"
	labelDialer   = "riakgo dialer proof"
)

func newNonce() []byte {
	b := make([]byte, wire.NonceSize)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// readRefusal turns an error frame into the refusal it carries.
func readRefusal(f wire.Frame) error {
	var eb wire.ErrorBody
	if err := wire.DecodeBody(f.Body, &eb); err != nil {
		return err
	}
	return fmt.Errorf("%w: refused by the peer: %s", refusalError(eb.Code), eb.Message)
}

// dial connects to node to and performs the handshake. Errors wrap
// transport.ErrUnreachable (and the handshake's reason) or
// transport.ErrClosed.
func (t *Transport) dial(to NodeID) (*conn, error) {
	c, err := t.dialHandshake(to)
	if err != nil {
		if t.base.Err() != nil {
			return nil, transport.ErrClosed
		}
		t.st.dialFailures.Add(1)
		t.log.Debug("tcp: dial failed", "peer", string(to), "err", err)
		return nil, err
	}
	if !c.start() {
		return nil, transport.ErrClosed
	}
	t.st.dials.Add(1)
	return c, nil
}

func (t *Transport) dialHandshake(to NodeID) (*conn, error) {
	addr, ok := t.cfg.Resolve(to)
	if !ok {
		return nil, fmt.Errorf("%w: no address for %s", transport.ErrUnreachable, to)
	}
	ctx, cancel := context.WithTimeout(t.base, t.cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{KeepAlive: 15 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s at %s: %v", transport.ErrUnreachable, to, addr, err)
	}
	fail := func(err error) (*conn, error) {
		nc.Close()
		return nil, fmt.Errorf("%w: handshake with %s at %s: %w", transport.ErrUnreachable, to, addr, err)
	}
	raw := nc // the closure must not read nc, which becomes the TLS wrapper
	stop := context.AfterFunc(t.base, func() { raw.Close() })
	defer stop()
	if err := nc.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
		return fail(err)
	}
	if t.cfg.ClientTLS != nil {
		tc := tls.Client(nc, t.cfg.ClientTLS)
		nc = tc
		if err := tc.Handshake(); err != nil {
			return fail(fmt.Errorf("tls: %w", err))
		}
	}
	keys := t.keys.Load()
	hello := t.hello
	hello.Nonce = newNonce()
	hello.KeyIDs = keys.IDs()
	b, err := wire.AppendFrame(nil, wire.Header{Type: wire.MsgHello}, &hello)
	if err != nil {
		return fail(err)
	}
	if _, err := nc.Write(b); err != nil {
		return fail(err)
	}
	f, err := wire.ReadFrame(nc, wire.MaxHelloSize)
	if err != nil {
		return fail(err)
	}
	if f.Type != wire.MsgHello || f.Flags&wire.FlagResponse == 0 {
		return fail(fmt.Errorf("%w: answered hello with %s %s", wire.ErrMalformed, f.Type, f.Flags))
	}
	if f.Flags&wire.FlagError != 0 {
		return fail(readRefusal(f))
	}
	var h wire.Hello
	if err := wire.DecodeBody(f.Body, &h); err != nil {
		return fail(err)
	}
	if _, err := wire.CheckHello(t.hello, h); err != nil {
		return fail(err)
	}
	if NodeID(h.Node) != to {
		return fail(fmt.Errorf("the node at %s is %s, not %s", addr, h.Node, to))
	}
	switch {
	case keys == nil && h.Proof != nil:
		return fail(fmt.Errorf("%w: %s requires the cluster secret and this node has none", wire.ErrAuth, to))
	case keys != nil:
		// The acceptor proves first: a node that does not hold the
		// secret learns nothing from this node's proof, sent only after.
		if h.Proof == nil || !keys.Has(h.KeyID) ||
			!keys.Verify(h.KeyID, h.Proof, proofParts(labelAcceptor, t.hello.Cluster, t.hello.Node, h.Node, hello.Nonce, h.Nonce)...) {
			return fail(fmt.Errorf("%w: %s did not prove that it holds the cluster secret", wire.ErrAuth, to))
		}
		auth := wire.HelloAuth{Proof: keys.MAC(h.KeyID, proofParts(labelDialer, t.hello.Cluster, t.hello.Node, h.Node, hello.Nonce, h.Nonce)...)}
		b, err := wire.AppendFrame(nil, wire.Header{Type: wire.MsgHelloAuth}, &auth)
		if err != nil {
			return fail(err)
		}
		if _, err := nc.Write(b); err != nil {
			return fail(err)
		}
		f, err := wire.ReadFrame(nc, wire.MaxHelloSize)
		if err != nil {
			return fail(err)
		}
		if f.Type != wire.MsgHelloAuth || f.Flags&wire.FlagResponse == 0 {
			return fail(fmt.Errorf("%w: answered hello_auth with %s %s", wire.ErrMalformed, f.Type, f.Flags))
		}
		if f.Flags&wire.FlagError != 0 {
			return fail(readRefusal(f))
		}
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return fail(err)
	}
	return t.newConn(nc, to, true), nil
}

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		nc, err := t.ln.Accept()
		if err != nil {
			if t.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("tcp: accept failed", "err", err)
			select { // e.g. out of file descriptors: let some close
			case <-time.After(50 * time.Millisecond):
			case <-t.base.Done():
				return
			}
			continue
		}
		if t.shaking.Add(1) > int64(t.cfg.MaxHandshakes) {
			t.shaking.Add(-1)
			t.st.refused.Add(1)
			nc.Close()
			continue
		}
		if !t.spawn(func() { t.accept(nc) }) {
			t.shaking.Add(-1)
			nc.Close()
			return
		}
	}
}

// accept performs the acceptor's side of the handshake and starts the
// connection.
func (t *Transport) accept(raw net.Conn) {
	// The closure keeps the raw connection: acceptHandshake may return a
	// TLS wrapper, and the closure must not read a variable that changes.
	stop := context.AfterFunc(t.base, func() { raw.Close() })
	peer, nc, err := t.acceptHandshake(raw)
	stop()
	t.shaking.Add(-1)
	if err != nil {
		nc.Close()
		if t.base.Err() == nil {
			t.st.refused.Add(1)
			t.log.Warn("tcp: refused connection", "remote", nc.RemoteAddr().String(), "err", err)
		}
		return
	}
	t.newConn(nc, peer, false).start()
}

func (t *Transport) acceptHandshake(nc net.Conn) (NodeID, net.Conn, error) {
	if err := nc.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
		return "", nc, err
	}
	if t.cfg.ServerTLS != nil {
		tc := tls.Server(nc, t.cfg.ServerTLS)
		nc = tc
		if err := tc.Handshake(); err != nil {
			return "", nc, fmt.Errorf("tls: %w", err)
		}
	}
	f, err := wire.ReadFrame(nc, wire.MaxHelloSize)
	if err != nil {
		return "", nc, fmt.Errorf("reading hello: %w", err)
	}
	refuse := func(typ wire.MsgType, err error) (NodeID, net.Conn, error) {
		msg := err.Error()
		if errors.Is(err, wire.ErrAuth) {
			msg = wire.ErrAuth.Error() // say nothing more to whoever this is
		}
		b, encErr := wire.AppendFrame(nil, wire.Header{Type: typ, Flags: wire.FlagResponse | wire.FlagError},
			&wire.ErrorBody{Code: refusalCode(err), Message: msg})
		if encErr == nil {
			_, _ = nc.Write(b)
		}
		return "", nc, err
	}
	if f.Type != wire.MsgHello || f.Flags != 0 {
		return refuse(wire.MsgHello, fmt.Errorf("%w: expected hello, got %s %s", wire.ErrMalformed, f.Type, f.Flags))
	}
	var h wire.Hello
	if err := wire.DecodeBody(f.Body, &h); err != nil {
		return refuse(wire.MsgHello, err)
	}
	if _, err := wire.CheckHello(t.hello, h); err != nil {
		return refuse(wire.MsgHello, err)
	}
	keys := t.keys.Load()
	answer := t.hello
	var kid []byte
	if keys != nil {
		var ok bool
		if kid, ok = keys.Pick(h.KeyIDs); !ok || len(h.Nonce) != wire.NonceSize {
			return refuse(wire.MsgHello, fmt.Errorf("%w: %q from %s holds none of this cluster's secrets", wire.ErrAuth, h.Node, nc.RemoteAddr()))
		}
		answer.Nonce = newNonce()
		answer.KeyID = kid
		answer.Proof = keys.MAC(kid, proofParts(labelAcceptor, t.hello.Cluster, h.Node, t.hello.Node, h.Nonce, answer.Nonce)...)
	}
	b, err := wire.AppendFrame(nil, wire.Header{Type: wire.MsgHello, Flags: wire.FlagResponse}, &answer)
	if err != nil {
		return "", nc, err
	}
	if _, err := nc.Write(b); err != nil {
		return "", nc, err
	}
	if keys != nil {
		f, err := wire.ReadFrame(nc, wire.MaxHelloSize)
		if err != nil {
			return "", nc, fmt.Errorf("%w: reading hello_auth from %q: %w", wire.ErrAuth, h.Node, err)
		}
		var auth wire.HelloAuth
		if f.Type != wire.MsgHelloAuth || f.Flags != 0 || wire.DecodeBody(f.Body, &auth) != nil ||
			!keys.Verify(kid, auth.Proof, proofParts(labelDialer, t.hello.Cluster, h.Node, t.hello.Node, h.Nonce, answer.Nonce)...) {
			return refuse(wire.MsgHelloAuth, fmt.Errorf("%w: %q from %s did not prove that it holds the cluster secret", wire.ErrAuth, h.Node, nc.RemoteAddr()))
		}
		b, err := wire.AppendFrame(nil, wire.Header{Type: wire.MsgHelloAuth, Flags: wire.FlagResponse}, nil)
		if err != nil {
			return "", nc, err
		}
		if _, err := nc.Write(b); err != nil {
			return "", nc, err
		}
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return "", nc, err
	}
	return NodeID(h.Node), nc, nil
}
