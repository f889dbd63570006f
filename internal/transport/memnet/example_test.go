package memnet_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/internal/wire"
)

// A two-node network on a manual clock: a call across a partition fails
// when the test advances the clock past its deadline.
func Example() {
	clk := clock.NewManual(time.Unix(0, 0))
	net := memnet.New(memnet.Options{Seed: 1, Clock: clk})
	a, b := net.Endpoint("a"), net.Endpoint("b")
	defer a.Close()
	defer b.Close()

	type greeting struct {
		Name string `msgpack:"name"`
	}
	b.Handle(wire.MsgTest1, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var g greeting
		if err := body.Decode(&g); err != nil {
			return nil, err
		}
		return &greeting{Name: "hello " + g.Name + " from " + string(from)}, nil
	})

	var resp greeting
	err := a.Call(context.Background(), "b", wire.MsgTest1, &greeting{Name: "b"}, &resp)
	fmt.Println(resp.Name, err)

	net.Partition([]transport.NodeID{"a"}, []transport.NodeID{"b"})
	done := make(chan error)
	go func() { done <- a.Call(context.Background(), "b", wire.MsgTest1, &greeting{}, nil) }()
	net.Wait(context.Background(), func(s memnet.Stats) bool { return s.Pending == 1 && s.Busy == 0 })
	clk.Advance(transport.DefaultCallTimeout)
	fmt.Println(errors.Is(<-done, context.DeadlineExceeded))
	// Output:
	// hello b from a <nil>
	// true
}
