package pb

import (
	"context"
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// failingClient is a real service whose Get and Query fail with err.
type failingClient struct {
	kv.Client
	err error
}

func (c *failingClient) Get(context.Context, kv.Key, kv.Options) (*siblings.Object, error) {
	return nil, c.err
}

func (c *failingClient) Query(context.Context, kv.IndexQuery, func([]kv.IndexResult) error) (string, error) {
	return "", c.err
}

// TestErrorTexts pins the errmsg of the service's errors, whether kv
// gives the client's text as data (kv.UserError) or still builds the
// error with fmt.Errorf, and whether it comes from this node or another.
func TestErrorTexts(t *testing.T) {
	fc := &failingClient{}
	e := newEnvOver(t, Config{}, func(svc *kv.Service) kv.Client { fc.Client = svc; return fc })
	c := e.dial()
	rights := &dt.InsufficientRightsError{Op: "decrement", Actor: vclock.Actor{ID: 10, Epoch: 1}, Requested: 80, Local: 30, Global: 100}
	getReq := &riakpb.RpbGetReq{Bucket: []byte("b"), Key: []byte("k")}
	idxReq := &riakpb.RpbIndexReq{Bucket: []byte("b"), Index: []byte("f_bin"), Qtype: riakpb.RpbIndexReq_eq.Enum(), Key: []byte("x")}
	for _, tc := range []struct {
		name string
		err  error
		req  riakpb.Message
		want string
	}{
		{"typed bad key", kv.UserErrorf(kv.ErrBadKey, "the key is empty"), getReq, "Invalid bucket or key: the key is empty"},
		// A refusal of another node comes back from kv as a UserError whose
		// detail names the node (kv's TestRemoteRefusalIsData).
		{"remote bad key", kv.UserErrorf(kv.ErrBadKey, "the key is empty (on riakgo@b)"), getReq, "Invalid bucket or key: the key is empty (on riakgo@b)"},
		{"bare bad key", kv.ErrBadKey, getReq, "Invalid bucket or key: invalid bucket or key"},
		{"unknown type", fmt.Errorf("%w: nosuch", kv.ErrUnknownType), getReq, "Invalid bucket type: unknown bucket type: nosuch"},
		{"not a data type", fmt.Errorf("%w: sets", kv.ErrNotDatatype), getReq,
			"The stored object is not a data type value of this bucket: the object is not of the bucket's data type: sets"},
		{"invalid op", fmt.Errorf("%w: remove of an absent element", dt.ErrInvalidOp), getReq, "invalid operation: remove of an absent element"},
		{"overflow", dt.ErrOverflow, getReq, "counter overflow"},
		{"rights", rights, getReq, "insufficient rights: cannot decrement by 80 at replica " + rights.Actor.String() +
			": it holds 30 of the counter's 100 (the other 70 are held by other replicas)"},
		{"unavailable", fmt.Errorf("%w: riakgo@b did not answer", kv.ErrUnavailable), getReq, "vnode unavailable: riakgo@b did not answer"},
		{"closed", kv.ErrClosed, getReq, "service closed"},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), getReq, "timeout"},
		{"cancelled", context.Canceled, getReq, "The request was cancelled: the node is shutting down"},
		{"other", fmt.Errorf("disk on fire"), getReq, "Error: disk on fire"},
		{"typed index", kv.UserErrorf(kv.ErrBadIndex, `{unknown_field_type,<<"f">>}`), idxReq, `Invalid query: {unknown_field_type,<<"f">>}`},
		{"typed continuation", kv.UserErrorf(kv.ErrBadContinuation, "%q", "zz"), idxReq, `Invalid continuation: "zz"`},
		{"index deadline", context.DeadlineExceeded, idxReq, "timeout"},
	} {
		fc.err = tc.err
		code := riakpb.CodeGetReq
		if _, ok := tc.req.(*riakpb.RpbIndexReq); ok {
			code = riakpb.CodeIndexReq
		}
		if got := c.callErr(code, tc.req); got != tc.want {
			t.Errorf("%s: errmsg %q, want %q", tc.name, got, tc.want)
		}
	}
}
