package http

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
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

// TestUserErrors: a refusal's text for the client comes from the error's
// data (kv.UserError), and the errors kv still builds with fmt.Errorf or
// that come from another node read the same.
func TestUserErrors(t *testing.T) {
	svc, _ := newService(t, 7)
	c := &failingClient{Client: svc}
	srv := httptest.NewServer(NewHandler(c, Options{Rand: lockedRand(8)}))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, svc: svc}
	const obj, idx = "/buckets/b/keys/k", "/buckets/b/index/f_bin/x"
	for _, tc := range []struct {
		name   string
		err    error
		path   string
		status int
		want   string
	}{
		{"typed bad key", kv.UserErrorf(kv.ErrBadKey, "the key is empty"), obj, 400, "invalid bucket or key: the key is empty\n"},
		{"wrapped bad key", fmt.Errorf("%w: the key is empty", kv.ErrBadKey), obj, 400, "invalid bucket or key: the key is empty\n"},
		{"typed bad key, wrapped again", fmt.Errorf("get: %w", kv.UserErrorf(kv.ErrBadKey, "the key is empty")), obj, 400, "invalid bucket or key: the key is empty\n"},
		{"typed index", kv.UserErrorf(kv.ErrBadIndex, `{unknown_field_type,<<"f">>}`), idx, 400, "Invalid query: {unknown_field_type,<<\"f\">>}\n"},
		{"typed continuation", kv.UserErrorf(kv.ErrBadContinuation, "%q", "zz"), idx, 400, "Invalid continuation: \"zz\"\n"},
		{"coverage", kv.UserErrorf(kv.ErrInsufficientVnodes, "vnode 3 on b failed"), idx, 503, "insufficient_vnodes_available: vnode 3 on b failed\n"},
		{"coverage plan", &ring.CoverageError{Reason: "no plan found (n_val 3)"}, idx, 503, "insufficient_vnodes_available: no plan found (n_val 3)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.err = tc.err
			e.with(t).get(tc.path).want(t, tc.status, tc.want)
		})
	}
}

// TestUserMessage: the text for a client drops the package prefix, and a
// typed error's detail is data.
func TestUserMessage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{kv.ErrTypeExists, "bucket type already active"},
		{fmt.Errorf("%w: t", kv.ErrTypeExists), "bucket type already active: t"},
		{kv.UserErrorf(kv.ErrTypeName, "default_type"), "invalid bucket type name: default_type"},
		{&kv.NotReadyError{Type: "t", Missing: []ring.NodeID{"b", "c"}}, "bucket type t is not ready: b, c do not have it yet"},
		{fmt.Errorf("no prefix"), "no prefix"},
	} {
		if got := kv.UserMessage(tc.err); got != tc.want {
			t.Errorf("UserMessage(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	ue := kv.UserErrorf(kv.ErrBadKey, "the key is empty")
	if ue.Error() != fmt.Errorf("%w: the key is empty", kv.ErrBadKey).Error() {
		t.Errorf("UserError text %q", ue.Error())
	}
	if d, ok := kv.UserDetail(kv.ErrBadKey, kv.ErrBadIndex); ok || d != "" {
		t.Errorf("UserDetail of another sentinel: %q %v", d, ok)
	}
}
