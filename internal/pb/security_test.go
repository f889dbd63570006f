package pb

import (
	"bufio"
	"context"
	"crypto/tls"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/metadata"
	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/internal/security"
	"github.com/riakgo/riakgo/internal/testcerts"
	"github.com/riakgo/riakgo/kv/storage/memstore"
)

type secAdapter struct{ s *security.Service }

func (a secAdapter) Enabled() bool { return a.s.Enabled() }
func (a secAdapter) Authenticate(ctx context.Context, u, p string, peer netip.Addr, cn string) (riakapi.Principal, error) {
	c, err := a.s.Authenticate(ctx, u, p, peer, cn)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// secureEnv is a PB server with security on: users riakpass (password
// Test1234) and riakuser (certificate), riakpass granted riak_kv.get on
// default/readable.
func secureEnv(t *testing.T) (*env, *testcerts.CA, *security.Service) {
	t.Helper()
	md, err := metadata.New(metadata.Config{Self: "n", Engine: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	sec := security.New(md, security.Options{})
	ctx := context.Background()
	for _, args := range [][]string{
		{"add-user", "riakpass", "password=Test1234"},
		{"add-user", "riakuser"},
		{"add-source", "riakuser", "127.0.0.1/32", "certificate"},
		{"add-source", "all", "127.0.0.1/32", "password"},
		{"grant", "riak_kv.get", "on", "default", "readable", "to", "riakpass"},
		{"grant", "riak_kv.get,riak_kv.put", "on", "any", "to", "riakuser"},
		{"enable"},
	} {
		if _, err := sec.Command(ctx, args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	ca := testcerts.NewCA("pb test ca")
	leaf := ca.Server("node")
	e := newEnv(t, Config{Security: secAdapter{sec}, AuthFailDelay: time.Millisecond,
		TLS: &tls.Config{Certificates: []tls.Certificate{leaf.TLS}, ClientCAs: ca.Pool(), ClientAuth: tls.VerifyClientCertIfGiven}})
	return e, ca, sec
}

// startTLS has the client ask for TLS and switch to it.
func (c *client) startTLS(cfg *tls.Config) {
	c.t.Helper()
	c.call(riakpb.CodeStartTLS, nil, riakpb.CodeStartTLS, nil)
	tc := tls.Client(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.nc = tc
	c.br = bufio.NewReader(tc)
}

func TestSecurityRequiresSTARTTLSThenAuth(t *testing.T) {
	e, ca, _ := secureEnv(t)
	c := e.dial()
	if msg := c.callErr(riakpb.CodePingReq, nil); msg != "Security is enabled, please STARTTLS first" {
		t.Fatalf("ping before STARTTLS: %q", msg)
	}
	if msg := c.callErr(riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: []byte("readable"), Key: []byte("k")}); msg != "Security is enabled, please STARTTLS first" {
		t.Fatalf("get before STARTTLS: %q", msg)
	}
	c.startTLS(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if msg := c.callErr(riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: []byte("readable"), Key: []byte("k")}); msg != "Security is enabled, please authenticate first" {
		t.Fatalf("get before auth: %q", msg)
	}
	if msg := c.callErr(riakpb.CodeAuthReq, &riakpb.RpbAuthReq{User: []byte("riakpass"), Password: []byte("nope")}); msg != "Authentication failed" {
		t.Fatalf("bad password: %q", msg)
	}
	c.call(riakpb.CodeAuthReq, &riakpb.RpbAuthReq{User: []byte("riakpass"), Password: []byte("Test1234")}, riakpb.CodeAuthResp, nil)
	c.ping()
	// Granted: get on default/readable (not found, but allowed).
	c.send(riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: []byte("readable"), Key: []byte("k")})
	if code, _, err := c.recv(); err != nil || code != riakpb.CodeGetResp {
		t.Fatalf("granted get: %s %v", code, err)
	}
	for _, tc := range []struct {
		code riakpb.Code
		m    riakpb.Message
		want string
	}{
		{riakpb.CodePutReq, &riakpb.RpbPutReq{Bucket: []byte("readable"), Key: []byte("k"), Content: &riakpb.RpbContent{Value: []byte("v")}},
			"Permission denied: User 'riakpass' does not have 'riak_kv.put' on default/readable"},
		{riakpb.CodeGetReq, &riakpb.RpbGetReq{Bucket: []byte("other"), Key: []byte("k")},
			"Permission denied: User 'riakpass' does not have 'riak_kv.get' on default/other"},
		{riakpb.CodeListBucketsReq, &riakpb.RpbListBucketsReq{},
			"Permission denied: User 'riakpass' does not have 'riak_kv.list_buckets' on default"},
		{riakpb.CodeSetBucketTypeReq, &riakpb.RpbSetBucketTypeReq{Type: []byte("maps"), Props: &riakpb.RpbBucketProps{}},
			"Permission denied: User 'riakpass' does not have 'riak_core.set_bucket_type' on maps"},
	} {
		if msg := c.callErr(tc.code, tc.m); msg != tc.want {
			t.Errorf("%s: %q, want %q", tc.code, msg, tc.want)
		}
	}
	c.ping()
}

func TestSecurityCertificateSource(t *testing.T) {
	e, ca, _ := secureEnv(t)
	c := e.dial()
	cl := ca.Client("riakuser")
	c.startTLS(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{cl.TLS}})
	c.call(riakpb.CodeAuthReq, &riakpb.RpbAuthReq{User: []byte("riakuser"), Password: []byte("")}, riakpb.CodeAuthResp, nil)
	c.call(riakpb.CodePutReq, &riakpb.RpbPutReq{Bucket: []byte("b"), Key: []byte("k"), Content: &riakpb.RpbContent{Value: []byte("v")}}, riakpb.CodePutResp, nil)

	// Without the certificate, the same user does not get in; after three
	// failures the connection is closed.
	d := e.dial()
	d.startTLS(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	for range 3 {
		if msg := d.callErr(riakpb.CodeAuthReq, &riakpb.RpbAuthReq{User: []byte("riakuser"), Password: []byte("")}); msg != "Authentication failed" {
			t.Fatalf("no certificate: %q", msg)
		}
	}
	d.closed()
}

func TestSecurityOffAfterDisable(t *testing.T) {
	e, _, sec := secureEnv(t)
	if _, err := sec.Command(context.Background(), []string{"disable"}); err != nil {
		t.Fatal(err)
	}
	c := e.dial()
	c.ping()
	if msg := c.callErr(riakpb.CodeStartTLS, nil); !strings.Contains(msg, "Security not enabled") {
		t.Fatalf("STARTTLS with security off: %q", msg)
	}
}
