package http

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	nethttp "net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv/pg"
)

// Security on the HTTP face (docs/security.md):
//
//   - Riak's cross-site check first: a Referer (or Origin) naming another
//     scheme, host or port than the request's is refused with 403, as is
//     Origin: null (secure_referer_check; Options.NoRefererCheck turns it
//     off).
//   - With security on, every route but /, /stats and /metrics needs TLS
//     (426 over plain HTTP, Riak's text) and Basic credentials that
//     authenticate (401 with WWW-Authenticate: Basic realm="Riak"), then
//     the permission Riak's resource checks for the route (403, Riak's
//     "Permission denied" text).
//   - Admin routes need an administrator: with security on, a user granted
//     riakgo.admin on any; with security off, a caller on the local machine
//     (a loopback address), unless Options.AdminOpen.

type principalKey struct{}

// principal returns the authenticated user of a request (nil when
// security is off).
func principal(ctx context.Context) riakapi.Principal {
	p, _ := ctx.Value(principalKey{}).(riakapi.Principal)
	return p
}

// remoteAddr is the client's address.
func remoteAddr(r *nethttp.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func forbidden(w nethttp.ResponseWriter, msg string) {
	textError(w, &apiError{status: 403, body: msg + "\n"})
}

// sameOrigin reports whether a Referer or Origin value names the scheme,
// host and port the request came to.
func sameOrigin(r *nethttp.Request, ref string) bool {
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	port := func(scheme, p string) string {
		if p != "" {
			return p
		}
		if scheme == "https" {
			return "443"
		}
		return "80"
	}
	host, p := r.Host, ""
	if h, pp, err := splitHostPortLoose(r.Host); err == nil {
		host, p = h, pp
	}
	return u.Scheme == scheme && strings.EqualFold(u.Hostname(), host) && port(u.Scheme, u.Port()) == port(scheme, p)
}

// splitHostPortLoose splits "host:port", "[v6]:port", "host" or "[v6]".
func splitHostPortLoose(hp string) (host, port string, err error) {
	u, err := url.Parse("http://" + hp)
	if err != nil {
		return "", "", err
	}
	return u.Hostname(), u.Port(), nil
}

// crossSite answers 403 if the request carries a Referer or Origin from
// another site, as Riak's secure_referer_check does.
func (h *Handler) crossSite(w nethttp.ResponseWriter, r *nethttp.Request) bool {
	if r.Header.Get("Origin") == "null" {
		forbidden(w, "Forbidden: requests with Origin: null are refused")
		return true
	}
	if h.o.NoRefererCheck {
		return false
	}
	if ref := r.Header.Get("Referer"); ref != "" && !sameOrigin(r, ref) {
		forbidden(w, "Forbidden: the Referer is another site; cross-site requests are refused")
		return true
	}
	if o := r.Header.Get("Origin"); o != "" && !sameOrigin(r, o) {
		forbidden(w, "Forbidden: the Origin is another site; cross-site requests are refused")
		return true
	}
	return false
}

// open routes answer without credentials (Riak's / and /stats have no
// is_authorized; /metrics is /stats for Prometheus).
func openRoute(kind string) bool { return kind == "root" || kind == "stats" || kind == "metrics" }

// authenticate runs the security checks of a request: it returns the
// request to serve (carrying the principal) or false after answering.
func (h *Handler) authenticate(w nethttp.ResponseWriter, r *nethttp.Request, rt route) (*nethttp.Request, bool) {
	sec := h.o.Security
	if sec == nil || !sec.Enabled() || openRoute(rt.kind) {
		if rt.kind == "admin" && !h.adminFromHere(r) {
			forbidden(w, "Forbidden: admin routes answer only the local machine while security is off (see docs/security.md)")
			return nil, false
		}
		return r, true
	}
	if r.TLS == nil {
		textError(w, &apiError{status: 426, body: riakapi.MsgInsecure, header: map[string]string{"Upgrade": "TLS/1.2, HTTP/1.1", "Connection": "Upgrade"}})
		return nil, false
	}
	user, pass, ok := basicAuth(r)
	cn := ""
	if len(r.TLS.PeerCertificates) > 0 && len(r.TLS.VerifiedChains) > 0 {
		cn = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	if !ok {
		unauthorized(w)
		return nil, false
	}
	p, err := sec.Authenticate(r.Context(), user, pass, remoteAddr(r), cn)
	if err != nil {
		h.log.Debug("authentication failed", "user", user, "remote", r.RemoteAddr, "err", err)
		unauthorized(w)
		return nil, false
	}
	if rt.kind == "admin" {
		if !p.Admin() {
			forbidden(w, fmt.Sprintf("Permission denied: User '%s' does not have '%s' on any", p.Name(), riakapi.PermAdmin))
			return nil, false
		}
	} else if perm, typ, bucket, need := permissionFor(rt, r); need {
		if err := p.Check(perm, typ, bucket); err != nil {
			forbidden(w, err.Error())
			return nil, false
		}
	}
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), true
}

// basicAuth reads Basic credentials; the password may hold colons (Riak
// splits at every colon and so refuses them; the first one separates).
func basicAuth(r *nethttp.Request) (user, pass string, ok bool) {
	auth := r.Header.Get("Authorization")
	const prefix = "Basic "
	if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(b), ":")
	return user, pass, ok && user != ""
}

func unauthorized(w nethttp.ResponseWriter) {
	textError(w, &apiError{status: 401, body: riakapi.MsgAuthFailed + "\n", header: map[string]string{"WWW-Authenticate": `Basic realm="Riak"`}})
}

// adminFromHere reports whether an admin route may answer this caller
// while security is off: a caller on the local machine, that is from a
// loopback address, or from the very address it called (a connection from
// 10.0.0.1 to 10.0.0.1 never left the machine: another host cannot open
// a TCP connection with the node's own address as its source).
func (h *Handler) adminFromHere(r *nethttp.Request) bool {
	if h.o.AdminOpen {
		return true
	}
	a := remoteAddr(r)
	if !a.IsValid() {
		return false
	}
	if a.IsLoopback() {
		return true
	}
	if la, ok := r.Context().Value(nethttp.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(la.String()); err == nil && ap.Addr().Unmap() == a {
			return true
		}
	}
	return false
}

// permissionFor is the permission Riak checks for a route and method, on
// type/bucket; need is false for routes that only need an authenticated
// user (ping, the pg node summary).
func permissionFor(rt route, r *nethttp.Request) (perm, typ, bucket string, need bool) {
	typ, bucket = rt.key.Type, rt.key.Bucket
	read := r.Method == "GET" || r.Method == "HEAD"
	switch rt.kind {
	case "object", "linkwalk":
		switch {
		case read:
			return riakapi.PermGet, typ, bucket, true
		case r.Method == "DELETE":
			return riakapi.PermDelete, typ, bucket, true
		}
		return riakapi.PermPut, typ, bucket, true
	case "keys":
		if r.Method == "POST" {
			return riakapi.PermPut, typ, bucket, true
		}
		return riakapi.PermListKeys, typ, bucket, true
	case "v1bucket":
		switch {
		case r.Method == "POST":
			return riakapi.PermPut, typ, bucket, true
		case read && (r.URL.Query().Get("keys") == "true" || r.URL.Query().Get("keys") == "stream"):
			return riakapi.PermListKeys, typ, bucket, true
		case read:
			return riakapi.PermGetBucket, typ, bucket, true
		}
		return riakapi.PermSetBucket, typ, bucket, true
	case "buckets":
		return riakapi.PermListBuckets, typ, "", true
	case "index":
		return riakapi.PermIndex, typ, bucket, true
	case "props":
		if read {
			return riakapi.PermGetBucket, typ, bucket, true
		}
		return riakapi.PermSetBucket, typ, bucket, true
	case "typeprops":
		if read {
			return riakapi.PermGetBucketType, typ, "", true
		}
		return riakapi.PermSetBucketType, typ, "", true
	case "counter", "datatype":
		if read {
			return riakapi.PermGet, typ, bucket, true
		}
		return riakapi.PermPut, typ, bucket, true
	case "preflist":
		return riakapi.PermGetPreflist, typ, bucket, true
	case "mapred":
		return riakapi.PermMapReduce, "", "", true
	case "pg":
		t := r.URL.Query().Get("type")
		if t == "" {
			t = pg.BucketType
		}
		switch {
		case len(rt.rest) == 0:
			return "", "", "", false
		case read:
			return riakapi.PermGet, t, rt.rest[0], true
		}
		return riakapi.PermPut, t, rt.rest[0], true
	case "pg-member":
		t := r.URL.Query().Get("type")
		if t == "" {
			t = pg.BucketType
		}
		return riakapi.PermPut, t, "", true
	}
	return "", "", "", false
}
