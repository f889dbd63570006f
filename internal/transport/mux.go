package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/riakgo/riakgo/internal/wire"
)

// Mux maps message types to handlers and runs them: the dispatch half of a
// Transport, shared by implementations. The zero value is ready to use and
// safe for concurrent use.
type Mux struct {
	mu sync.RWMutex
	h  map[wire.MsgType]Handler
}

// Handle registers h for typ (nil removes it).
func (m *Mux) Handle(typ wire.MsgType, h Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h == nil {
		delete(m.h, typ)
		return
	}
	if m.h == nil {
		m.h = make(map[wire.MsgType]Handler)
	}
	m.h[typ] = h
}

// Serve runs the handler for typ on body and returns its result. A missing
// handler is a RemoteError with CodeUnknownType (MsgPing without a handler
// answers nil); a panicking handler is recovered, logged on log with its
// stack, and reported as CodeHandler.
func (m *Mux) Serve(ctx context.Context, log *slog.Logger, from NodeID, typ wire.MsgType, body []byte) (resp any, err error) {
	m.mu.RLock()
	h := m.h[typ]
	m.mu.RUnlock()
	if h == nil {
		if typ == wire.MsgPing {
			return nil, nil
		}
		return nil, &RemoteError{Code: CodeUnknownType, Message: "no handler for message type " + typ.String()}
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error("transport: handler panicked", "type", typ.String(), "from", string(from), "panic", p, "stack", string(debug.Stack()))
			resp, err = nil, &RemoteError{Code: CodeHandler, Message: fmt.Sprintf("handler for %s panicked: %v", typ, p)}
		}
	}()
	return h(ctx, from, Body(body))
}

// EncodeResponse appends the response frame for request reqID of type typ
// to dst: resp, or an error frame if err is non-nil or resp cannot be
// encoded.
func EncodeResponse(dst []byte, reqID uint64, typ wire.MsgType, resp any, err error) []byte {
	h := wire.Header{Type: typ, Flags: wire.FlagResponse, ReqID: reqID}
	if err == nil {
		out, encErr := wire.AppendFrame(dst, h, resp)
		if encErr == nil {
			return out
		}
		err = &RemoteError{Code: CodeBadResponse, Message: encErr.Error()}
	}
	h.Flags |= wire.FlagError
	out, encErr := wire.AppendFrame(dst, h, errorBody(err))
	if encErr != nil { // only if the message itself is absurdly long
		out, _ = wire.AppendFrame(dst, h, &wire.ErrorBody{Code: uint16(CodeHandler), Message: "error too large to send"})
	}
	return out
}

func errorBody(err error) *wire.ErrorBody {
	code := CodeHandler
	var re *RemoteError
	switch {
	case errors.As(err, &re):
		code = re.Code
	case errors.Is(err, ErrBadRequest):
		code = CodeBadRequest
	}
	msg := err.Error()
	if len(msg) > 64<<10 {
		msg = msg[:64<<10]
	}
	return &wire.ErrorBody{Code: uint16(code), Message: msg}
}

// DecodeResponse turns a response frame from node from into the caller's
// result: nil after decoding the body into resp (nil resp skips the body),
// a *RemoteError for an error frame, or an error wrapping ErrBadResponse.
func DecodeResponse(from NodeID, f wire.Frame, resp any) error {
	if f.Flags&wire.FlagError != 0 {
		var eb wire.ErrorBody
		if err := wire.DecodeBody(f.Body, &eb); err != nil {
			return fmt.Errorf("%w: error body from %s: %w", ErrBadResponse, from, err)
		}
		return &RemoteError{Node: from, Type: f.Type, Code: Code(eb.Code), Message: eb.Message}
	}
	if resp == nil {
		return nil
	}
	if err := wire.DecodeBody(f.Body, resp); err != nil {
		return fmt.Errorf("%w: %s from %s: %w", ErrBadResponse, f.Type, from, err)
	}
	return nil
}
