package node

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestPBListener: a node serves the Protocol Buffers API beside HTTP
// (RpbPingReq → RpbPingResp) and closes it when it stops.
func TestPBListener(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "pb@127.0.0.1")
	addr := n.PBAddr()
	if addr == "" {
		t.Fatal("no PB address")
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte{0, 0, 0, 1, 1}); err != nil { // RpbPingReq
		t.Fatal(err)
	}
	resp := make([]byte, 5)
	if _, err := io.ReadFull(c, resp); err != nil || resp[3] != 1 || resp[4] != 2 {
		t.Fatalf("ping answer %v %v, want RpbPingResp", resp, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(resp); err == nil {
		t.Fatal("the PB connection is still open after Stop")
	}
}
