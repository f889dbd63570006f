package kv_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv"
)

type extReq struct {
	Mode string `msgpack:"m"`
}

type extResp struct {
	Echo string `msgpack:"e"`
}

// A service built on kv serves its own internode message with Handle and
// reaches it with Call: an error wrapping a registered sentinel comes back
// as that sentinel (with the remote text), any other failure as
// ErrUnavailable.
func TestExtensionCallAndErrors(t *testing.T) {
	errX := errors.New("riakgo/ext: refused")
	const codeX = transport.CodeApp + 90
	net := memnet.New(memnet.Options{})
	a := newEnv(t, func(c *kv.Config) { c.Transport = net.Endpoint(node) })
	b := newEnv(t, func(c *kv.Config) { c.Node = "b@127.0.0.1"; c.Transport = net.Endpoint("b@127.0.0.1") })
	for _, e := range []*env{a, b} {
		e.svc.RegisterError(codeX, errX)
	}
	if !b.svc.Handle(wire.MsgPGSet, func(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
		var req extReq
		if err := body.Decode(&req); err != nil {
			return nil, err
		}
		switch req.Mode {
		case "coded":
			return nil, fmt.Errorf("%w: because", errX)
		case "plain":
			return nil, errors.New("something broke")
		}
		return extResp{Echo: req.Mode + " from " + string(from)}, nil
	}) {
		t.Fatal("Handle with a transport returned false")
	}
	call := func(mode string) (extResp, error) {
		var resp extResp
		err := a.svc.Call(bg, "b@127.0.0.1", wire.MsgPGSet, extReq{Mode: mode}, &resp)
		return resp, err
	}
	if resp, err := call("hello"); err != nil || resp.Echo != "hello from "+string(node) {
		t.Fatalf("call: %+v %v", resp, err)
	}
	_, err := call("coded")
	if !errors.Is(err, errX) || errors.Is(err, kv.ErrUnavailable) || !strings.Contains(err.Error(), "riakgo/ext: refused: because") {
		t.Fatalf("coded error: %v", err)
	}
	if _, err := call("plain"); !errors.Is(err, kv.ErrUnavailable) || !strings.Contains(err.Error(), "something broke") {
		t.Fatalf("uncoded error: %v", err)
	}
	if err := a.svc.Call(bg, "nobody@127.0.0.1", wire.MsgPGSet, extReq{}, &extResp{}); !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("call to an unknown node: %v", err)
	}

	// Without a transport there is nothing to serve and nobody to call.
	solo := newEnv(t)
	if solo.svc.Handle(wire.MsgPGSet, nil) {
		t.Fatal("Handle without a transport returned true")
	}
	if err := solo.svc.Call(bg, "b@127.0.0.1", wire.MsgPGSet, extReq{}, &extResp{}); !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("call without a transport: %v", err)
	}
}

// Go runs background work that Close waits for and refuses it once the
// service is closing.
func TestExtensionGo(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	ended := make(chan error, 1)
	if !e.svc.Go(func(ctx context.Context) {
		<-release
		<-ctx.Done() // Close cancels the work's context
		ended <- ctx.Err()
	}) {
		t.Fatal("Go refused work on an open service")
	}
	closed := make(chan struct{})
	go func() { e.closeSvc(); close(closed) }()
	close(release)
	<-closed
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("work ended with %v", err)
		}
	default:
		t.Fatal("Close returned before the background work ended")
	}
	if e.svc.Go(func(context.Context) { t.Error("work ran after Close") }) {
		t.Fatal("Go accepted work after Close")
	}
}
