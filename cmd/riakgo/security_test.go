package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/membership/memberlist"
	"github.com/riakgo/riakgo/internal/secret"
	"github.com/riakgo/riakgo/internal/testcerts"
	"github.com/riakgo/riakgo/internal/testlog"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/tcp"
	"github.com/riakgo/riakgo/internal/wire"
)

// Issue 12's attacks, against running processes.

func secretFile(t *testing.T, dir string, secrets ...string) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("secret-%d", time.Now().UnixNano()))
	if err := os.WriteFile(p, []byte(strings.Join(secrets, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// kvReq is kv's vnode request as it crosses the wire (the fields used).
type kvReq struct {
	Partition int    `msgpack:"p"`
	Type      string `msgpack:"t"`
	Bucket    string `msgpack:"b"`
	Key       string `msgpack:"k"`
	Obj       []byte `msgpack:"o,omitempty"`
}

// TestUnauthenticatedPeerRealProcesses: a cluster of three processes with
// a cluster secret. A peer without it (or with another one) connects to
// the internode and gossip ports and can neither read, write, list nor
// join; a node started with another secret cannot join either.
func TestUnauthenticatedPeerRealProcesses(t *testing.T) {
	dir := t.TempDir()
	good := secret.Generate()
	sf := secretFile(t, dir, good)
	nodes, gossip, cluster, _ := formCluster(t, "--cluster-secret-file", sf)
	if code, err := put(nodes[0].url+"/buckets/b/keys/k", "secret data"); err != nil || code != 204 {
		t.Fatalf("put: %d %v", code, err)
	}

	// The internode port: without a secret, with another one, and with
	// the old protocol's hello (the cluster name only).
	for _, tc := range []struct {
		name   string
		secret []string
	}{{"no secret", nil}, {"another secret", []string{secret.Generate()}}} {
		var s secret.Set
		if tc.secret != nil {
			s, _ = secret.New(tc.secret...)
		}
		cfg := tcp.DefaultConfig()
		cfg.Node, cfg.ListenAddr, cfg.Secret, cfg.Logger = "intruder", "", s, testlog.New(t)
		cfg.Resolve = func(id transport.NodeID) (string, bool) { return cluster[0], true }
		tr, err := tcp.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for _, m := range []struct {
			typ wire.MsgType
			req any
		}{
			{wire.MsgKVGet, &kvReq{Type: "default", Bucket: "b", Key: "k"}},
			{wire.MsgKVPut, &kvReq{Type: "default", Bucket: "b", Key: "k", Obj: []byte{1}}},
			{wire.MsgKVListKeys, &kvReq{Type: "default", Bucket: "b"}},
			{wire.MsgMetaSync, &struct{}{}},
			{wire.MsgClusterAdmin, &struct {
				V string `msgpack:"v"`
			}{"commit"}},
		} {
			err := tr.Call(ctx, "riakgo1@127.0.0.1", m.typ, m.req, nil)
			if !errors.Is(err, wire.ErrAuth) {
				t.Errorf("%s: %s answered: %v", tc.name, m.typ, err)
			}
		}
		cancel()
	}

	// The gossip port: a memberlist without the key, or with another one.
	for i, keys := range [][][]byte{nil, {make([]byte, 32)}} {
		mc := memberlist.DefaultConfig()
		mc.Name = membership.NodeID(fmt.Sprintf("intruder%d@127.0.0.1", i))
		mc.BindAddr = freePort(t)
		mc.SecretKeys = keys
		mc.Label = "riakgo"
		mc.Logger = testlog.New(t)
		ml, err := memberlist.New(mc)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := ml.Join([]string{gossip[0]}); err == nil || n != 0 {
			t.Errorf("gossip intruder %d joined (%d, %v)", i, n, err)
		}
		if len(ml.Members()) != 1 {
			t.Errorf("gossip intruder %d learned the members: %v", i, ml.Members())
		}
		ml.Shutdown()
	}

	// A node with another secret tries to join: refused, and told nothing.
	other := startNode(t, filepath.Join(dir, "other"), "--name", "other@127.0.0.1", "--gossip", freePort(t), "--cluster", freePort(t),
		"--cluster-secret-file", secretFile(t, dir, secret.Generate()))
	out := adminFails(t, other.url, "cluster", "join", gossip[0])
	if !strings.Contains(out, "is not reachable") {
		t.Errorf("join with another secret: %s", out)
	}
	ms := adminOK(t, nodes[0].url, "member-status")
	if strings.Contains(ms, "other@") || len(memberRowRE.FindAllString(ms, -1)) != 3 {
		t.Errorf("member-status after the refused join:\n%s", ms)
	}
	if code, body, err := get(nodes[2].url + "/buckets/b/keys/k"); err != nil || code != 200 || body != "secret data" {
		t.Errorf("the cluster lost its data: %d %q %v", code, body, err)
	}
}

// nonLoopbackIP returns an address of this machine that is not loopback.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address to call from")
	return ""
}

// TestAdminFromAnotherAddressRealProcess: issue 12, finding 3. A node whose
// HTTP port listens on every address answers no admin verb to a caller from
// another address (played here by a connection whose source is the
// machine's network address and whose destination is 127.0.0.1: the node
// sees a caller that is neither loopback nor itself), and answers the local
// machine as before.
func TestAdminFromAnotherAddressRealProcess(t *testing.T) {
	ip := nonLoopbackIP(t)
	n := startNode(t, t.TempDir(), "--http", "0.0.0.0:0")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(n.url, "http://"))
	local := "http://127.0.0.1:" + port
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	remote := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	for _, rt := range []struct{ method, path, body string }{
		{"POST", "/admin/cluster/join", `{"seed":"127.0.0.1:1"}`},
		{"GET", "/admin/cluster/plan", ""},
		{"POST", "/admin/cluster/commit", ""},
		{"POST", "/admin/cluster/leave", ""},
		{"POST", "/admin/cluster/force-remove", `{"node":"x@y"}`},
		{"GET", "/admin/member-status", ""},
		{"GET", "/admin/ring-status", ""},
		{"GET", "/admin/transfers", ""},
		{"POST", "/admin/aae-rebuild", ""},
		{"PUT", "/admin/bucket-types/t", `{"props":{}}`},
		{"POST", "/admin/security", `{"args":["enable"]}`},
		{"POST", "/admin/security", `{"args":["add-user","eve","password=x"]}`},
	} {
		req, _ := http.NewRequest(rt.method, local+rt.path, strings.NewReader(rt.body))
		resp, err := remote.Do(req)
		if err != nil {
			t.Fatalf("%s %s from %s: %v", rt.method, rt.path, ip, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%s %s from %s: %d %s", rt.method, rt.path, ip, resp.StatusCode, body)
		}
	}
	// Data requests from there are served as before.
	req, _ := http.NewRequest("PUT", local+"/buckets/b/keys/k", strings.NewReader("v"))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := remote.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("put from %s: %v %v", ip, resp, err)
	}
	// The local machine: loopback, and the machine's address calling itself.
	adminOK(t, local, "member-status")
	adminOK(t, "http://"+net.JoinHostPort(ip, port), "member-status")
	if out := adminOK(t, local, "security", "status"); out != "Disabled\n" {
		t.Errorf("security status: %q", out)
	}
	// A node started with --admin-open answers everyone (deliberately).
	o := startNode(t, t.TempDir(), "--http", "0.0.0.0:0", "--admin-open", "true")
	_, oport, _ := net.SplitHostPort(strings.TrimPrefix(o.url, "http://"))
	resp, err := remote.Get("http://127.0.0.1:" + oport + "/admin/member-status")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin-open node: %v %v", resp, err)
	}
}

// TestSecurityEnabledRealProcess: with security on, a user granted only
// riak_kv.get on one bucket reads it over HTTPS, is refused (403) writes
// and other buckets, and plain HTTP gets 426; admin needs riakgo.admin.
func TestSecurityEnabledRealProcess(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA("riakgo test")
	f := ca.WriteFiles(dir, "node", ca.Server("node"))
	n := startNode(t, filepath.Join(dir, "data"), "--https", "127.0.0.1:0", "--tls-cert", f.Cert, "--tls-key", f.Key, "--tls-ca", f.CA)
	for _, args := range [][]string{
		{"add-user", "reader", "password=r3ad"}, {"add-user", "boss", "password=b0ss"},
		{"add-source", "all", "127.0.0.1/32", "password"},
		{"grant", "riak_kv.get", "on", "default", "open", "to", "reader"},
		{"grant", "riakgo.admin", "on", "any", "to", "boss"},
	} {
		adminOK(t, n.url, append([]string{"security"}, args...)...)
	}
	if code, err := put(n.url+"/buckets/open/keys/k", "hello"); err != nil || code != 204 {
		t.Fatalf("put before enable: %d %v", code, err)
	}
	adminOK(t, n.url, "security", "enable")

	// The HTTPS address: from the node's log line? riakgo start prints it.
	httpsURL := "https://" + httpsAddr(t, n)
	pool := ca.Pool()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(method, url, user, pass string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader("x"))
		req.Header.Set("Content-Type", "text/plain")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _, _ := get(n.url + "/buckets/open/keys/k"); code != 426 {
		t.Errorf("plain HTTP with security on: %d", code)
	}
	for _, c := range []struct {
		method, path, user, pass string
		code                     int
	}{
		{"GET", "/buckets/open/keys/k", "reader", "r3ad", 200},
		{"GET", "/buckets/open/keys/k", "reader", "wrong", 401},
		{"GET", "/buckets/open/keys/k", "", "", 401},
		{"PUT", "/buckets/open/keys/k", "reader", "r3ad", 403},
		{"DELETE", "/buckets/open/keys/k", "reader", "r3ad", 403},
		{"GET", "/buckets/closed/keys/k", "reader", "r3ad", 403},
		{"GET", "/buckets/open/keys?keys=true", "reader", "r3ad", 403},
		{"GET", "/admin/member-status", "reader", "r3ad", 403},
		{"GET", "/admin/member-status", "boss", "b0ss", 200},
	} {
		if code, body := do(c.method, httpsURL+c.path, c.user, c.pass); code != c.code {
			t.Errorf("%s %s as %q: %d %q, want %d", c.method, c.path, c.user, code, body, c.code)
		}
	}
	// The CLI over HTTPS with an administrator's credentials.
	out := adminOK(t, "", "--url", httpsURL, "--cacert", f.CA, "--user", "boss", "--password", "b0ss", "security", "status")
	if out != "Enabled\n" {
		t.Errorf("security status: %q", out)
	}
	if out := adminFails(t, "", "--url", httpsURL, "--cacert", f.CA, "--user", "reader", "--password", "r3ad", "member-status"); !strings.Contains(out, "riakgo.admin") {
		t.Errorf("member-status as a non-admin: %s", out)
	}
}

// httpsAddr reads the HTTPS address from the node's start line.
func httpsAddr(t *testing.T, p *proc) string {
	t.Helper()
	return p.https
}
