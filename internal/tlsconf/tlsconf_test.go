package tlsconf

import (
	"crypto/tls"
	"net"
	"os"
	"testing"

	"github.com/riakgo/riakgo/internal/testcerts"
)

// handshake runs a TLS handshake between a server and a client config
// over a pipe and returns the client's and server's errors.
func handshake(server, client *tls.Config) (error, error, *tls.ConnectionState) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, server)
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	cl := tls.Client(b, client)
	cerr := cl.Handshake()
	if cerr != nil {
		b.Close()
	}
	serr := <-errc
	st := srv.ConnectionState()
	return cerr, serr, &st
}

func TestPeerConfigsAndReload(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA("cluster")
	fa := ca.WriteFiles(dir, "a", ca.Server("a"))
	fb := ca.WriteFiles(dir, "b", ca.Server("b"))
	a, err := Load(Files{Cert: fa.Cert, Key: fa.Key, CA: fa.CA})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(Files{Cert: fb.Cert, Key: fb.Key, CA: fb.CA})
	if err != nil {
		t.Fatal(err)
	}
	if cerr, serr, _ := handshake(a.PeerServer(), b.PeerClient()); cerr != nil || serr != nil {
		t.Fatalf("peers of one CA: %v / %v", cerr, serr)
	}
	// A node of another CA is refused either way.
	other := testcerts.NewCA("other")
	fo := other.WriteFiles(dir, "o", other.Server("o"))
	o, _ := Load(Files{Cert: fo.Cert, Key: fo.Key, CA: fo.CA})
	if cerr, serr, _ := handshake(a.PeerServer(), o.PeerClient()); cerr == nil && serr == nil {
		t.Fatal("accepted a peer of another CA")
	}
	if cerr, serr, _ := handshake(o.PeerServer(), a.PeerClient()); cerr == nil && serr == nil {
		t.Fatal("dialled a peer of another CA")
	}
	// Reload: b's files now hold other's CA and certificate.
	for _, cp := range [][2]string{{fo.Cert, fb.Cert}, {fo.Key, fb.Key}, {fo.CA, fb.CA}} {
		data, _ := os.ReadFile(cp[0])
		os.WriteFile(cp[1], data, 0o600)
	}
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	if cerr, serr, _ := handshake(o.PeerServer(), b.PeerClient()); cerr != nil || serr != nil {
		t.Fatalf("after reload: %v / %v", cerr, serr)
	}
	// A broken file keeps the material in use.
	os.WriteFile(fb.Cert, []byte("junk"), 0o600)
	if err := b.Reload(); err == nil {
		t.Fatal("reloaded a junk certificate")
	}
	if cerr, serr, _ := handshake(o.PeerServer(), b.PeerClient()); cerr != nil || serr != nil {
		t.Fatalf("after a failed reload: %v / %v", cerr, serr)
	}
}

func TestServerVerifiesOptionalClientCert(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA("ca")
	f := ca.WriteFiles(dir, "srv", ca.Server("srv"))
	s, err := Load(Files{Cert: f.Cert, Key: f.Key, CA: f.CA})
	if err != nil {
		t.Fatal(err)
	}
	// No client certificate: fine (password sources).
	cl, err := ClientConfig(f.CA, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cl.ServerName = "localhost"
	if cerr, serr, st := handshake(s.Server(), cl); cerr != nil || serr != nil || len(st.PeerCertificates) != 0 {
		t.Fatalf("without a client cert: %v / %v", cerr, serr)
	}
	// A client certificate the CA signed: its CN is visible.
	fc := ca.WriteFiles(dir, "cl", ca.Client("riakuser"))
	cl2, _ := ClientConfig(f.CA, fc.Cert, fc.Key)
	cl2.ServerName = "localhost"
	cerr, serr, st := handshake(s.Server(), cl2)
	if cerr != nil || serr != nil || len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != "riakuser" {
		t.Fatalf("with a client cert: %v / %v", cerr, serr)
	}
	// One of another CA never counts as the client's identity (Go's
	// client does not even offer it: the server names its CA).
	other := testcerts.NewCA("x")
	fx := other.WriteFiles(dir, "x", other.Client("riakuser"))
	cl3, _ := ClientConfig(f.CA, fx.Cert, fx.Key)
	cl3.ServerName = "localhost"
	if cerr, serr, st := handshake(s.Server(), cl3); cerr == nil && serr == nil && len(st.PeerCertificates) > 0 {
		t.Fatal("accepted a client certificate of another CA")
	}
}
