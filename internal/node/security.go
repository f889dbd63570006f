package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/riakgo/riakgo/internal/metadata"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/internal/secret"
	"github.com/riakgo/riakgo/internal/security"
	"github.com/riakgo/riakgo/internal/tlsconf"
)

// validateSecurity checks the security settings.
func (c Config) validateSecurity() []error {
	var errs []error
	if c.ClusterName == "" {
		errs = append(errs, errors.New("cluster-name must not be empty"))
	}
	if len(c.ClusterName) > 200 {
		errs = append(errs, fmt.Errorf("cluster-name is %d bytes, at most 200", len(c.ClusterName)))
	}
	if c.SecretFile == "" && !c.InsecureCluster {
		for _, a := range []struct{ flag, v string }{{"cluster", c.Cluster}, {"gossip", c.Gossip}} {
			if !loopbackAddr(a.v) {
				errs = append(errs, fmt.Errorf("%s address %q is not a loopback address: give the cluster a secret (cluster-secret-file, see docs/security.md), or set insecure-cluster to let anyone who reaches it read, write and join", a.flag, a.v))
			}
		}
	}
	tlsFiles := c.TLSCert != "" || c.TLSKey != ""
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls-cert and tls-key go together"))
	}
	if c.HTTPS != "" {
		if _, _, err := net.SplitHostPort(c.HTTPS); err != nil {
			errs = append(errs, fmt.Errorf("https address %q: %v", c.HTTPS, err))
		}
		if !tlsFiles {
			errs = append(errs, errors.New("https needs tls-cert and tls-key"))
		}
	}
	if c.InternodeTLS && (!tlsFiles || c.TLSCA == "") {
		errs = append(errs, errors.New("internode-tls needs tls-cert, tls-key and tls-ca (the CA that signs every member)"))
	}
	return errs
}

// loopbackAddr reports whether a listen address is on loopback only.
func loopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// secAdapter presents a security.Service to the client faces.
type secAdapter struct{ s *security.Service }

func (a secAdapter) Enabled() bool { return a.s.Enabled() }

func (a secAdapter) Authenticate(ctx context.Context, user, password string, peer netip.Addr, cn string) (riakapi.Principal, error) {
	c, err := a.s.Authenticate(ctx, user, password, peer, cn)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Command runs a security verb for the admin route; a change stored here
// that some member did not confirm is reported, not failed (it spreads
// by anti-entropy).
func (a secAdapter) Command(ctx context.Context, args []string) (string, error) {
	out, err := a.s.Command(ctx, args)
	if errors.Is(err, metadata.ErrUnconfirmed) {
		return out + "Warning: " + err.Error() + "\n", nil
	}
	return out, err
}

// Security returns the node's security service.
func (n *Node) Security() *security.Service { return n.sec }

// loadSecret reads the cluster secret file (an empty set without one).
func loadSecret(cfg Config) (secret.Set, error) {
	if cfg.SecretFile == "" {
		return secret.Set{}, nil
	}
	return secret.Load(cfg.SecretFile)
}

// loadTLS reads the TLS files (nil without them).
func loadTLS(cfg Config) (*tlsconf.Store, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	return tlsconf.Load(tlsconf.Files{Cert: cfg.TLSCert, Key: cfg.TLSKey, CA: cfg.TLSCA})
}

// Reload rereads the cluster secret and the TLS files (SIGHUP): new
// internode connections and gossip use the new secrets at once (old ones
// the file still lists stay accepted), new TLS connections the new
// certificates. On error nothing changes.
func (n *Node) Reload() error {
	var errs []error
	if n.cfg.SecretFile != "" {
		s, err := loadSecret(n.cfg)
		switch {
		case err != nil:
			errs = append(errs, err)
		case n.secretApply != nil:
			if err := n.secretApply(s); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if n.tls != nil {
		if err := n.tls.Reload(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		n.log.Error("reload failed; the previous secrets and certificates stay", "err", err)
		return err
	}
	n.log.Info("reloaded the cluster secret and TLS files")
	return nil
}
