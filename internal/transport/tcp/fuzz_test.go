package tcp

import (
	"net"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/secret"
	"github.com/riakgo/riakgo/internal/wire"
)

// FuzzAcceptHandshake plays an unauthenticated dialer: whatever bytes it
// sends, the acceptor of a cluster with a secret never accepts it and never
// panics.
func FuzzAcceptHandshake(f *testing.F) {
	s, _ := secret.New("0123456789abcdef0123456789abcdef")
	h := wire.NewHello("intruder", "riakgo")
	h.Nonce = make([]byte, wire.NonceSize)
	h.KeyIDs = s.IDs()
	hello, _ := wire.AppendFrame(nil, wire.Header{Type: wire.MsgHello}, &h)
	auth, _ := wire.AppendFrame(nil, wire.Header{Type: wire.MsgHelloAuth}, &wire.HelloAuth{Proof: make([]byte, 32)})
	f.Add(hello, auth)
	f.Add([]byte{0, 0, 0, 1}, []byte(nil))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		tr := &Transport{cfg: Config{HandshakeTimeout: time.Second}.withDefaults(), hello: wire.NewHello("node", "riakgo")}
		tr.keys.Store(s.Keyring())
		a, b := net.Pipe()
		defer a.Close()
		go func() {
			defer b.Close()
			b.SetDeadline(time.Now().Add(time.Second))
			b.Write(first)
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := b.Read(buf); err != nil {
						return
					}
				}
			}()
			b.Write(second)
		}()
		if peer, _, err := tr.acceptHandshake(a); err == nil {
			t.Fatalf("accepted %q without the secret", peer)
		}
	})
}
