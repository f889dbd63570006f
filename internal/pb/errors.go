package pb

import (
	"context"
	"errors"
	"strings"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/siblings"
)

// kvErrorText renders an error of the service as the errmsg of an
// RpbErrorResp. Riak's texts are used where Riak has one (notfound,
// quorum failures, timeouts); the rest say what went wrong in words.
func kvErrorText(err error) string {
	var qe *quorum.Error
	var ms *siblings.TooManySiblingsError
	var tl *siblings.TooLargeError
	var pe *kv.PropsError
	var de *riakapi.DatatypeError
	var ae *riakapi.Error
	var pre *dt.PreconditionError
	var ir *dt.InsufficientRightsError
	switch {
	case errors.As(err, &ae):
		return ae.Msg
	case errors.As(err, &de):
		return de.Error()
	case errors.Is(err, kv.ErrNotFound):
		return "notfound"
	case errors.Is(err, kv.ErrUnknownType):
		return "Invalid bucket type: " + trimKV(err)
	case errors.Is(err, kv.ErrBadKey):
		return "Invalid bucket or key: " + strings.TrimPrefix(trimKV(err), "invalid bucket or key: ")
	case errors.As(err, &qe):
		return qe.Error()
	case errors.As(err, &ms):
		return ms.Error()
	case errors.As(err, &tl):
		return tl.Error()
	case errors.As(err, &pe):
		return pe.Error()
	case errors.As(err, &pre):
		return "{precondition,{not_present,<<" + quoteErlang(pre.Element) + ">>}}"
	case errors.As(err, &ir):
		return strings.TrimPrefix(ir.Error(), "riakgo/dt: ")
	case errors.Is(err, kv.ErrNotDatatype):
		return "The stored object is not a data type value of this bucket: " + trimKV(err)
	case errors.Is(err, dt.ErrInvalidOp), errors.Is(err, dt.ErrOverflow):
		return strings.TrimPrefix(err.Error(), "riakgo/dt: ")
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "The request was cancelled: the node is shutting down"
	case errors.Is(err, kv.ErrClosed), errors.Is(err, kv.ErrOverload), errors.Is(err, kv.ErrUnavailable):
		return trimKV(err)
	}
	return "Error: " + err.Error()
}

func trimKV(err error) string { return strings.TrimPrefix(err.Error(), "riakgo/kv: ") }

// quoteErlang renders s as the inside of an Erlang binary literal.
func quoteErlang(s string) string {
	q := []byte{'"'}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			q = append(q, '\\', c)
		case c < 0x20 || c >= 0x7f:
			q = append(q, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
		default:
			q = append(q, c)
		}
	}
	return string(append(q, '"'))
}
