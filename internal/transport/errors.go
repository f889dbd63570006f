package transport

import (
	"errors"
	"fmt"

	"github.com/riakgo/riakgo/internal/wire"
)

// Errors returned by transports. Implementations wrap them with %w and add
// the peer and message type.
var (
	// ErrClosed: this transport has been closed; calls in flight when it
	// closed fail with it too.
	ErrClosed = errors.New("riakgo/transport: closed")
	// ErrUnreachable: the peer could not be reached (no address, dial
	// failed, handshake refused, endpoint down). The message was not
	// delivered.
	ErrUnreachable = errors.New("riakgo/transport: peer unreachable")
	// ErrConnLost: the connection failed while the call was in flight; the
	// peer may or may not have handled the request.
	ErrConnLost = errors.New("riakgo/transport: connection lost")
	// ErrRemote: the peer reported a failure; the error is a *RemoteError.
	ErrRemote = errors.New("riakgo/transport: remote error")
	// ErrUnknownType: the peer has no handler for the message type.
	ErrUnknownType = errors.New("riakgo/transport: no handler for message type")
	// ErrBadRequest: the peer could not decode the request body.
	ErrBadRequest = errors.New("riakgo/transport: malformed request body")
	// ErrBadResponse: the response body could not be decoded into the
	// caller's value.
	ErrBadResponse = errors.New("riakgo/transport: malformed response body")
)

// Code classifies a remote failure; it travels in wire.ErrorBody.
type Code uint16

// Codes the transport assigns. Owners of message types may define their
// own codes from CodeApp up and return them from handlers with Errorf.
const (
	// CodeHandler: the handler returned an error (or panicked).
	CodeHandler Code = 1
	// CodeUnknownType: no handler is registered for the message type.
	CodeUnknownType Code = 2
	// CodeBadRequest: the handler could not decode the request body.
	CodeBadRequest Code = 3
	// CodeBadResponse: the handler's response could not be encoded.
	CodeBadResponse Code = 4
	// CodeApp is the first code free for message owners.
	CodeApp Code = 100
)

// RemoteError is a failure reported by the peer that handled a call. The
// message is the remote error's text; its Go type does not cross the wire,
// but Code does.
type RemoteError struct {
	// Node is the peer that reported the failure.
	Node NodeID
	// Type is the message type of the failed call.
	Type wire.MsgType
	// Code classifies the failure.
	Code Code
	// Message is the remote error's text.
	Message string
}

// Error returns "riakgo/transport: NODE: TYPE: MESSAGE", or just the
// message for an error a handler made with Errorf (no node yet).
func (e *RemoteError) Error() string {
	if e.Node == "" {
		return e.Message
	}
	return fmt.Sprintf("riakgo/transport: %s: %s: %s", e.Node, e.Type, e.Message)
}

// Is matches ErrRemote always, ErrUnknownType and ErrBadRequest by code.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case ErrRemote:
		return true
	case ErrUnknownType:
		return e.Code == CodeUnknownType
	case ErrBadRequest:
		return e.Code == CodeBadRequest
	}
	return false
}

// Errorf returns an error a handler can return to give the caller a
// specific code: the caller receives a *RemoteError with that code and the
// formatted message.
func Errorf(code Code, format string, args ...any) error {
	return &RemoteError{Code: code, Message: fmt.Sprintf(format, args...)}
}
