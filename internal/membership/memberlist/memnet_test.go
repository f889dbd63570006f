package memberlist

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	hml "github.com/hashicorp/memberlist"
)

// testNet is an in-memory network of memberlist transports, like
// memberlist's MockNetwork but safe to grow while nodes run and with
// transports that really stop: a shut-down transport refuses packets and
// streams (memberlist's MockTransport keeps accepting them and blocks the
// sender), so peers detect the failure as they would a dead process:
// packets to it vanish and dials to it are refused.
type testNet struct {
	mu     sync.Mutex
	byAddr map[string]*testTransport
	byName map[string]*testTransport
	port   int
}

func newTestNet() *testNet {
	return &testNet{byAddr: map[string]*testTransport{}, byName: map[string]*testTransport{}}
}

// transport returns a new transport for node name at a fresh address.
func (n *testNet) transport(name string) *testTransport {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.port++
	t := &testTransport{
		net:      n,
		addr:     testAddr(net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))),
		packetCh: make(chan *hml.Packet, 1024),
		streamCh: make(chan net.Conn, 64),
		done:     make(chan struct{}),
	}
	n.byAddr[string(t.addr)] = t
	n.byName[name] = t
	return t
}

func (n *testNet) peer(a hml.Address) (*testTransport, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.byAddr[a.Addr]
	if a.Name != "" {
		t, ok = n.byName[a.Name]
	}
	if !ok {
		return nil, fmt.Errorf("no route to %s", a.String())
	}
	return t, nil
}

type testAddr string

func (a testAddr) Network() string { return "testnet" }
func (a testAddr) String() string  { return string(a) }

var errStopped = errors.New("testnet: connection refused")

type testTransport struct {
	net      *testNet
	addr     testAddr
	packetCh chan *hml.Packet
	streamCh chan net.Conn
	done     chan struct{}
	once     sync.Once
}

var _ hml.NodeAwareTransport = (*testTransport)(nil)

func (t *testTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	host, port, _ := net.SplitHostPort(string(t.addr))
	p, _ := strconv.Atoi(port)
	return net.ParseIP(host), p, nil
}

func (t *testTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, hml.Address{Addr: addr})
}

// WriteToAddress delivers a packet, or drops it silently, as UDP would, if
// the receiver has stopped or its queue is full. (An error here would not
// make memberlist suspect the peer: a failed send only ends the probe.)
func (t *testTransport) WriteToAddress(b []byte, a hml.Address) (time.Time, error) {
	dest, err := t.net.peer(a)
	if err != nil {
		return time.Time{}, err
	}
	now := time.Now()
	select {
	case <-dest.done:
		return now, nil
	default:
	}
	select {
	case dest.packetCh <- &hml.Packet{Buf: append([]byte(nil), b...), From: t.addr, Timestamp: now}:
	default:
	}
	return now, nil
}

func (t *testTransport) PacketCh() <-chan *hml.Packet { return t.packetCh }

func (t *testTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(hml.Address{Addr: addr}, timeout)
}

func (t *testTransport) DialAddressTimeout(a hml.Address, timeout time.Duration) (net.Conn, error) {
	dest, err := t.net.peer(a)
	if err != nil {
		return nil, err
	}
	p1, p2 := net.Pipe()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-dest.done:
	case <-timer.C:
	default:
		select {
		case dest.streamCh <- p1:
			return p2, nil
		case <-dest.done:
		case <-timer.C:
		}
	}
	p1.Close()
	p2.Close()
	return nil, errStopped
}

func (t *testTransport) StreamCh() <-chan net.Conn { return t.streamCh }

func (t *testTransport) Shutdown() error {
	t.once.Do(func() { close(t.done) })
	return nil
}
