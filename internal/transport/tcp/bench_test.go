package tcp_test

import (
	"context"
	"testing"

	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/tcp"
	"github.com/riakgo/riakgo/internal/wire"
)

// BenchmarkTCPCall measures request/response round trips with 1 KiB
// bodies each way over loopback, from parallel callers (GOMAXPROCS of
// them) sharing the pool.
func BenchmarkTCPCall(b *testing.B) { benchCall(b, 1) }

// BenchmarkTCPCall16 is BenchmarkTCPCall with 16 callers per CPU, as a
// coordinator fanning out many requests would be: frames coalesce into
// fewer writes.
func BenchmarkTCPCall16(b *testing.B) { benchCall(b, 16) }

func benchCall(b *testing.B, parallelism int) {
	bk := newBook()
	mk := func(id transport.NodeID, addr string) *tcp.Transport {
		cfg := tcp.DefaultConfig()
		cfg.Node, cfg.ListenAddr, cfg.Resolve = id, addr, bk.resolve
		tr, err := tcp.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if addr != "" {
			bk.set(id, tr.Addr().String())
		}
		return tr
	}
	srv := mk("b", "127.0.0.1:0")
	defer srv.Close()
	handleEcho(srv)
	cli := mk("a", "")
	defer cli.Close()
	payload := make([]byte, 1024)
	if err := cli.Call(context.Background(), "b", wire.MsgTest1, &echo{Data: payload}, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(2 * 1024)
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		var r echo
		for pb.Next() {
			if err := cli.Call(ctx, "b", wire.MsgTest1, &echo{Seq: 1, Data: payload}, &r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
