package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// Files names a node's TLS material. Cert and Key are PEM files; CA is a
// PEM file of the certificates that sign clients and peers (optional for
// a node that only serves TLS).
type Files struct {
	Cert, Key, CA string
}

// Empty reports whether no file is named.
func (f Files) Empty() bool { return f.Cert == "" && f.Key == "" && f.CA == "" }

type material struct {
	cert *tls.Certificate
	pool *x509.CertPool // nil without a CA file
}

// Store holds the current material. Its methods are safe for concurrent
// use.
type Store struct {
	files Files
	cur   atomic.Pointer[material]
}

// Load reads the files.
func Load(f Files) (*Store, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("riakgo/tlsconf: a certificate and a key file are needed")
	}
	s := &Store{files: f}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the files again; on error the material in use stays.
func (s *Store) Reload() error {
	cert, err := tls.LoadX509KeyPair(s.files.Cert, s.files.Key)
	if err != nil {
		return fmt.Errorf("riakgo/tlsconf: %s, %s: %w", s.files.Cert, s.files.Key, err)
	}
	m := &material{cert: &cert}
	if s.files.CA != "" {
		b, err := os.ReadFile(s.files.CA)
		if err != nil {
			return fmt.Errorf("riakgo/tlsconf: %w", err)
		}
		m.pool = x509.NewCertPool()
		if !m.pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("riakgo/tlsconf: %s holds no PEM certificate", s.files.CA)
		}
	}
	s.cur.Store(m)
	return nil
}

// HasCA reports whether a CA file is loaded.
func (s *Store) HasCA() bool { return s.cur.Load().pool != nil }

// Certificate returns the current certificate.
func (s *Store) Certificate() *tls.Certificate { return s.cur.Load().cert }

// Server returns the config of a client-facing listener: TLS 1.2 or
// later, the current certificate, and client certificates verified
// against the CA when a client offers one.
func (s *Store) Server() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := s.cur.Load()
			c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*m.cert}}
			if m.pool != nil {
				c.ClientCAs = m.pool
				c.ClientAuth = tls.VerifyClientCertIfGiven
			}
			return c, nil
		},
	}
}

// PeerServer returns the internode acceptor's config: the peer must
// present a certificate the CA signed.
func (s *Store) PeerServer() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := s.cur.Load()
			if m.pool == nil {
				return nil, errors.New("riakgo/tlsconf: no CA to verify peers with")
			}
			return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*m.cert},
				ClientCAs: m.pool, ClientAuth: tls.RequireAndVerifyClientCert}, nil
		},
	}
}

// PeerClient returns the internode dialer's config: it presents this
// node's certificate and accepts a peer whose certificate the CA signed,
// whatever its host name.
func (s *Store) PeerClient() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.cur.Load().cert, nil
		},
		// Chains are verified below against the cluster CA; host names
		// mean nothing between nodes.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return s.verifyPeer(raw)
		},
	}
}

func (s *Store) verifyPeer(raw [][]byte) error {
	m := s.cur.Load()
	if m.pool == nil {
		return errors.New("riakgo/tlsconf: no CA to verify peers with")
	}
	if len(raw) == 0 {
		return errors.New("riakgo/tlsconf: the peer sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: m.pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// ClientConfig returns a config for a client of riakgo (the admin CLI,
// bench): the CA file's certificates are the roots (the system's if
// caFile is empty) and certFile/keyFile, if given, the client
// certificate.
func ClientConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
