package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/riakgo/riakgo/internal/riakapi"
)

// fakeSecurity: user alice (password pw) may get and put on default/b;
// admin (password root) is an administrator.
type fakeSecurity struct{ off bool }

type fakeUser struct{ name string }

func (fakeSecurity) Authenticate(_ context.Context, user, pass string, _ netip.Addr, _ string) (riakapi.Principal, error) {
	switch {
	case user == "alice" && pass == "pw", user == "admin" && pass == "root":
		return fakeUser{user}, nil
	}
	return nil, errors.New("bad credentials")
}

func (f fakeSecurity) Enabled() bool { return !f.off }

func (u fakeUser) Name() string { return u.name }
func (u fakeUser) Admin() bool  { return u.name == "admin" }
func (u fakeUser) Check(perm, typ, bucket string) error {
	if u.name == "alice" && typ == "default" && bucket == "b" && (perm == riakapi.PermGet || perm == riakapi.PermPut) {
		return nil
	}
	return fmt.Errorf("Permission denied: User '%s' does not have '%s' on %s/%s", u.name, perm, typ, bucket)
}

func basic(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }

func secReq(method, target string, tlsOn bool, auth string) *nethttp.Request {
	r := httptest.NewRequest(method, target, strings.NewReader("v"))
	r.Header.Set("Content-Type", "text/plain")
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if tlsOn {
		r.TLS = &tls.ConnectionState{}
	}
	return r
}

func TestSecurityStatuses(t *testing.T) {
	svc, _ := newService(t, 1)
	h := NewHandler(svc, Options{Security: fakeSecurity{}, Cluster: &fakeCluster{}})
	for _, c := range []struct {
		method, target string
		tls            bool
		auth           string
		status         int
		body           string
	}{
		{"GET", "/buckets/b/keys/k", false, basic("alice", "pw"), 426, riakapi.MsgInsecure},
		{"GET", "/ping", false, "", 426, riakapi.MsgInsecure},
		{"GET", "/stats", false, "", 200, ""},
		{"GET", "/buckets/b/keys/k", true, "", 401, "Authentication failed\n"},
		{"GET", "/buckets/b/keys/k", true, basic("alice", "nope"), 401, "Authentication failed\n"},
		{"GET", "/buckets/b/keys/k", true, basic("alice", "pw"), 404, "not found\n"},
		{"PUT", "/buckets/b/keys/k", true, basic("alice", "pw"), 204, ""},
		{"GET", "/buckets/b/keys/k", true, basic("alice", "pw"), 200, "v"},
		{"DELETE", "/buckets/b/keys/k", true, basic("alice", "pw"), 403, "Permission denied: User 'alice' does not have 'riak_kv.delete' on default/b\n"},
		{"GET", "/buckets/c/keys/k", true, basic("alice", "pw"), 403, "Permission denied: User 'alice' does not have 'riak_kv.get' on default/c\n"},
		{"GET", "/buckets/b/keys?keys=true", true, basic("alice", "pw"), 403, "Permission denied: User 'alice' does not have 'riak_kv.list_keys' on default/b\n"},
		{"GET", "/admin/member-status", true, basic("alice", "pw"), 403, "Permission denied: User 'alice' does not have 'riakgo.admin' on any\n"},
		{"GET", "/admin/member-status", true, basic("admin", "root"), 200, ""},
		{"GET", "/admin/member-status", false, basic("admin", "root"), 426, riakapi.MsgInsecure},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, secReq(c.method, c.target, c.tls, c.auth))
		if rec.Code != c.status || (c.body != "" && rec.Body.String() != c.body) {
			t.Errorf("%s %s tls=%v %q: %d %q, want %d %q", c.method, c.target, c.tls, c.auth, rec.Code, rec.Body, c.status, c.body)
		}
		if c.status == 401 && rec.Header().Get("WWW-Authenticate") != `Basic realm="Riak"` {
			t.Errorf("401 without Riak's WWW-Authenticate: %q", rec.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestAdminOnlyFromTheLocalMachine: issue 12, finding 3. With security
// off, admin routes answer loopback callers only (or anyone with
// AdminOpen); another address gets 403 for every admin verb.
func TestAdminOnlyFromTheLocalMachine(t *testing.T) {
	svc, _ := newService(t, 1)
	fc := &fakeCluster{}
	for _, open := range []bool{false, true} {
		h := NewHandler(svc, Options{Cluster: fc, AdminOpen: open})
		for _, rt := range []struct{ method, path, body string }{
			{"POST", "/admin/cluster/join", `{"seed":"10.9.9.9:7946"}`},
			{"POST", "/admin/cluster/leave", ``},
			{"POST", "/admin/cluster/commit", ``},
			{"GET", "/admin/cluster/plan", ``},
			{"GET", "/admin/member-status", ``},
			{"PUT", "/admin/bucket-types/t", `{"props":{}}`},
			{"POST", "/admin/aae-rebuild", ``},
			{"POST", "/admin/security", `{"args":["enable"]}`},
		} {
			for _, from := range []string{"10.1.2.3:5555", "[2001:db8::1]:5555", "127.0.0.1:5555", "[::1]:5555"} {
				r := httptest.NewRequest(rt.method, rt.path, strings.NewReader(rt.body))
				r.RemoteAddr = from
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				local := strings.HasPrefix(from, "127.") || strings.HasPrefix(from, "[::1]")
				if (rec.Code == 403) == (local || open) {
					t.Errorf("open=%v %s %s from %s: %d %q", open, rt.method, rt.path, from, rec.Code, rec.Body)
				}
			}
		}
	}
}

// TestRefererCheck: Riak's secure_referer_check (and the same for Origin).
func TestRefererCheck(t *testing.T) {
	svc, _ := newService(t, 1)
	for _, c := range []struct {
		header, value string
		tls           bool
		ok            bool
	}{
		{"Referer", "http://example.com/page", false, true},
		{"Referer", "http://evil.example/page", false, false},
		{"Referer", "https://example.com/page", false, false},
		{"Referer", "http://example.com:81/", false, false},
		{"Referer", "https://example.com/", true, true},
		{"Referer", "::not a url", false, false},
		{"Origin", "http://example.com", false, true},
		{"Origin", "http://example.com:80", false, true},
		{"Origin", "http://attacker.example", false, false},
		{"Origin", "null", false, false},
	} {
		for _, off := range []bool{false, true} {
			h := NewHandler(svc, Options{NoRefererCheck: off})
			r := httptest.NewRequest("GET", "/ping", nil)
			r.Host = "example.com"
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			}
			r.Header.Set(c.header, c.value)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			want := c.ok || (off && c.value != "null")
			if (rec.Code == 200) != want {
				t.Errorf("%s: %s (tls %v, check off %v): %d", c.header, c.value, c.tls, off, rec.Code)
			}
		}
	}
}

// FuzzHandlerSecure fuzzes requests to a handler with security on:
// whatever the path, method, credentials and headers, nothing crashes, a
// protected route never answers 2xx without valid credentials over TLS,
// and plain HTTP never gets past 426.
func FuzzHandlerSecure(f *testing.F) {
	svc, _ := newService(f, 7)
	h := NewHandler(svc, Options{Security: fakeSecurity{}, MaxBodySize: 4096, Rand: lockedRand(8)})
	for _, s := range []struct {
		method, target, auth, referer string
		tls                           bool
	}{
		{"GET", "/buckets/b/keys/k", basic("alice", "pw"), "", true},
		{"PUT", "/buckets/b/keys/k", basic("alice", "pw"), "", true},
		{"GET", "/riak/b/k/_,_,1", basic("alice", "pw"), "", true},
		{"GET", "/admin/member-status", basic("admin", "root"), "", true},
		{"GET", "/buckets/b/keys/k", "Basic !!!", "", true},
		{"GET", "/buckets/b/keys/k", basic("alice", "pw"), "http://elsewhere/", true},
		{"GET", "/stats", "", "", false},
	} {
		f.Add(s.method, s.target, s.auth, s.referer, s.tls, []byte("v"))
	}
	f.Fuzz(func(t *testing.T, method, target, auth, referer string, tlsOn bool, body []byte) {
		if method == "" || strings.ContainsAny(method, " \t\r\n") {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(target, "/") {
			return
		}
		r := &nethttp.Request{Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: nethttp.Header{}, Host: "127.0.0.1:8098", Body: io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)), RemoteAddr: "10.0.0.1:1234"}
		r = r.WithContext(context.Background())
		if validHeaderValue(auth) && auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if validHeaderValue(referer) && referer != "" {
			r.Header.Set("Referer", referer)
		}
		if tlsOn {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{}}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		segs, perr := splitPath(u.EscapedPath())
		rt, ok := parseRoute(segs)
		if rec.Code >= 500 && !deliberate501(rec.Code, rec.Body.String(), perr == nil && rt.kind == "keys") {
			t.Fatalf("%s %s: %d %q", method, target, rec.Code, rec.Body.String())
		}
		if perr != nil || !ok || openRoute(rt.kind) || rec.Code == 403 && rec.Header().Get("Content-Type") == "text/plain" && strings.HasPrefix(rec.Body.String(), "Forbidden") {
			return
		}
		user, pass, _ := basicAuth(r)
		valid := (user == "alice" && pass == "pw") || (user == "admin" && pass == "root")
		switch {
		case !tlsOn && rec.Code != 426 && rec.Code != 400:
			t.Fatalf("plain HTTP %s %s: %d, want 426", method, target, rec.Code)
		case tlsOn && !valid && rec.Code < 300 && rec.Code != 0:
			t.Fatalf("%s %s without valid credentials: %d", method, target, rec.Code)
		}
	})
}
