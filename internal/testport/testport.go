package testport

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
)

// handedOut holds the ports Free has returned in this process.
var handedOut sync.Map

// Free returns a loopback address ("127.0.0.1:PORT") whose port is free
// for both TCP and UDP (memberlist uses both on its gossip port), never
// the same one twice in a process. Ports come from below 32768: the
// kernel hands out ports from 32768 up for outgoing connections, so a port
// picked there could be taken by some connection between the pick and the
// process's bind.
func Free(t testing.TB) string {
	t.Helper()
	for i := 0; i < 200; i++ {
		port := strconv.Itoa(20000 + rand.IntN(12000))
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return addr
	}
	t.Fatal("testport: no free port")
	return ""
}
