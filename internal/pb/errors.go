package pb

import (
	"context"
	"errors"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/siblings"
)

// kvErrorText renders an error of the service as the errmsg of an
// RpbErrorResp. Riak's texts are used where Riak has one (notfound,
// quorum failures, timeouts); the rest say what went wrong in words, as
// kv.UserMessage and kv.UserDetail give them (pb never takes error
// strings apart). A bad key is "Invalid bucket or key: " and what is
// wrong with it (the bare sentinel, which kv does not return, repeats
// its words).
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
		return "Invalid bucket type: " + kv.UserMessage(err)
	case errors.Is(err, kv.ErrBadKey):
		if d, _ := kv.UserDetail(err, kv.ErrBadKey); d != "" {
			return "Invalid bucket or key: " + d
		}
		return "Invalid bucket or key: " + kv.UserMessage(err)
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
		return kv.UserMessage(ir)
	case errors.Is(err, kv.ErrNotDatatype):
		return "The stored object is not a data type value of this bucket: " + kv.UserMessage(err)
	case errors.Is(err, dt.ErrInvalidOp), errors.Is(err, dt.ErrOverflow):
		return kv.UserMessage(err)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "The request was cancelled: the node is shutting down"
	case errors.Is(err, kv.ErrClosed), errors.Is(err, kv.ErrOverload), errors.Is(err, kv.ErrUnavailable):
		return kv.UserMessage(err)
	}
	return "Error: " + err.Error()
}

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
