package pb

import (
	"crypto/tls"
	"net"
	"net/netip"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/pb/riakpb"
	"github.com/riakgo/riakgo/internal/riakapi"
)

// Security on the Protocol Buffers face, as riak_api_pb_server: with
// security on, a connection must first ask for TLS (RpbStartTls; the
// server acknowledges and the TLS handshake follows on the same socket),
// then authenticate (RpbAuthReq → RpbAuthResp); any other request before
// that gets "Security is enabled, please STARTTLS first" or "... please
// authenticate first". Each request after that is checked against the
// user's grants (Riak's permission for the message, on its bucket type and
// bucket). A failed authentication is answered after AuthFailDelay; the
// third closes the connection. With security off, RpbStartTls gets
// "Security not enabled; STARTTLS not allowed." as in Riak.

const maxAuthAttempts = 3

// Riak's texts.
const (
	msgSTARTTLSFirst = "Security is enabled, please STARTTLS first"
	msgAuthFirst     = "Security is enabled, please authenticate first"
	msgNoSTARTTLS    = "Security not enabled; STARTTLS not allowed."
)

// secured is what a connection needs to serve a request under security:
// handled is true when it answered (or must close: err).
func (c *conn) secure(code riakpb.Code, body []byte) (handled bool, err error) {
	sec := c.s.cfg.Security
	if sec == nil || !sec.Enabled() {
		if code == riakpb.CodeStartTLS || code == riakpb.CodeAuthReq {
			if code == riakpb.CodeStartTLS {
				return true, c.send(riakpb.CodeErrorResp, errorResp(msgNoSTARTTLS))
			}
			return true, c.send(riakpb.CodeErrorResp, errorResp("Unknown message code: 253"))
		}
		return false, nil
	}
	switch {
	case !c.tls:
		if code != riakpb.CodeStartTLS {
			return true, c.send(riakpb.CodeErrorResp, errorResp(msgSTARTTLSFirst))
		}
		if c.s.cfg.TLS == nil {
			return true, c.send(riakpb.CodeErrorResp, errorResp("Security is enabled but this node has no TLS certificate (tls-cert, tls-key)"))
		}
		return true, c.startTLS()
	case c.user == nil:
		if code != riakpb.CodeAuthReq {
			return true, c.send(riakpb.CodeErrorResp, errorResp(msgAuthFirst))
		}
		return true, c.auth(code, body)
	case code == riakpb.CodeStartTLS:
		return true, c.send(riakpb.CodeErrorResp, errorResp("Already using TLS"))
	case code == riakpb.CodeAuthReq:
		return true, c.send(riakpb.CodeErrorResp, errorResp("Already authenticated"))
	}
	perm, typ, bucket, need := permissionFor(code, body)
	if !need {
		return false, nil
	}
	if err := c.user.Check(perm, typ, bucket); err != nil {
		return true, c.send(riakpb.CodeErrorResp, errorResp(err.Error()))
	}
	return false, nil
}

// startTLS acknowledges RpbStartTls and runs the TLS handshake on the
// connection.
func (c *conn) startTLS() error {
	if err := c.send(riakpb.CodeStartTLS, nil); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	if c.br.Buffered() > 0 {
		// The client spoke before the acknowledgement: those bytes are
		// not TLS. Close.
		return errProtocol
	}
	c.s.mu.Lock()
	raw := c.nc
	tc := tls.Server(raw, c.s.cfg.TLS)
	c.nc = tc
	c.s.mu.Unlock()
	tc.SetDeadline(time.Now().Add(c.s.cfg.ReadTimeout))
	if err := tc.Handshake(); err != nil {
		c.s.log.Debug("pb STARTTLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		return err
	}
	tc.SetDeadline(time.Time{})
	c.br.Reset(tc)
	c.bw.Reset(tc)
	c.tls = true
	return nil
}

type protocolError struct{}

func (protocolError) Error() string { return "riakgo/pb: protocol error" }

var errProtocol error = protocolError{}

// auth answers RpbAuthReq.
func (c *conn) auth(code riakpb.Code, body []byte) error {
	var m riakpb.RpbAuthReq
	if err := decode(code, body, &m); err != nil {
		return c.send(riakpb.CodeErrorResp, errorResp(errorText(err)))
	}
	cn := ""
	if tc, ok := c.nc.(*tls.Conn); ok {
		if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 && len(st.VerifiedChains) > 0 {
			cn = st.PeerCertificates[0].Subject.CommonName
		}
	}
	var peer netip.Addr
	if ta, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		peer, _ = netip.AddrFromSlice(ta.IP)
		peer = peer.Unmap()
	}
	ctx, cancel := clock.WithTimeout(c.s.ctx, c.s.cfg.Clock, c.s.cfg.ReadTimeout)
	p, err := c.s.cfg.Security.Authenticate(ctx, string(m.User), string(m.Password), peer, cn)
	cancel()
	if err != nil {
		c.s.log.Debug("pb authentication failed", "user", string(m.User), "remote", c.nc.RemoteAddr().String(), "err", err)
		c.authFailures++
		delayed := make(chan struct{}) // make guessing slow, as Riak does (it waits 5 s)
		t := c.s.cfg.Clock.AfterFunc(c.s.cfg.AuthFailDelay, func() { close(delayed) })
		select {
		case <-delayed:
		case <-c.s.ctx.Done():
			t.Stop()
		}
		if err := c.send(riakpb.CodeErrorResp, errorResp(riakapi.MsgAuthFailed)); err != nil {
			return err
		}
		if c.authFailures >= maxAuthAttempts {
			c.flush()
			return errProtocol
		}
		return nil
	}
	c.user = p
	return c.send(riakpb.CodeAuthResp, nil)
}

// bucketed is what the requests that name a bucket have.
type bucketed interface {
	riakpb.Message
	GetBucket() []byte
}

type typed interface{ GetType() []byte }

// perms is Riak's permission for each request message (riak_kv_pb_*'s
// decode/2), and how to read the bucket it applies to.
var perms = map[riakpb.Code]struct {
	perm     string
	msg      func() riakpb.Message
	typeOnly bool
}{
	riakpb.CodeGetReq:                  {riakapi.PermGet, func() riakpb.Message { return &riakpb.RpbGetReq{} }, false},
	riakpb.CodePutReq:                  {riakapi.PermPut, func() riakpb.Message { return &riakpb.RpbPutReq{} }, false},
	riakpb.CodeDelReq:                  {riakapi.PermDelete, func() riakpb.Message { return &riakpb.RpbDelReq{} }, false},
	riakpb.CodeListBucketsReq:          {riakapi.PermListBuckets, func() riakpb.Message { return &riakpb.RpbListBucketsReq{} }, true},
	riakpb.CodeListKeysReq:             {riakapi.PermListKeys, func() riakpb.Message { return &riakpb.RpbListKeysReq{} }, false},
	riakpb.CodeGetBucketReq:            {riakapi.PermGetBucket, func() riakpb.Message { return &riakpb.RpbGetBucketReq{} }, false},
	riakpb.CodeSetBucketReq:            {riakapi.PermSetBucket, func() riakpb.Message { return &riakpb.RpbSetBucketReq{} }, false},
	riakpb.CodeResetBucketReq:          {riakapi.PermSetBucket, func() riakpb.Message { return &riakpb.RpbResetBucketReq{} }, false},
	riakpb.CodeIndexReq:                {riakapi.PermIndex, func() riakpb.Message { return &riakpb.RpbIndexReq{} }, false},
	riakpb.CodeCoverageReq:             {riakapi.PermIndex, func() riakpb.Message { return &riakpb.RpbCoverageReq{} }, false},
	riakpb.CodeGetBucketTypeReq:        {riakapi.PermGetBucketType, func() riakpb.Message { return &riakpb.RpbGetBucketTypeReq{} }, true},
	riakpb.CodeSetBucketTypeReq:        {riakapi.PermSetBucketType, func() riakpb.Message { return &riakpb.RpbSetBucketTypeReq{} }, true},
	riakpb.CodeGetBucketKeyPreflistReq: {riakapi.PermGetPreflist, func() riakpb.Message { return &riakpb.RpbGetBucketKeyPreflistReq{} }, false},
	riakpb.CodeCounterUpdateReq:        {riakapi.PermPut, func() riakpb.Message { return &riakpb.RpbCounterUpdateReq{} }, false},
	riakpb.CodeCounterGetReq:           {riakapi.PermGet, func() riakpb.Message { return &riakpb.RpbCounterGetReq{} }, false},
	riakpb.CodeDtFetchReq:              {riakapi.PermGet, func() riakpb.Message { return &riakpb.DtFetchReq{} }, false},
	riakpb.CodeDtUpdateReq:             {riakapi.PermPut, func() riakpb.Message { return &riakpb.DtUpdateReq{} }, false},
	riakpb.CodeMapRedReq:               {riakapi.PermMapReduce, nil, false},
}

// permissionFor returns the permission a request needs and the bucket
// type and bucket it applies to. A body that does not decode needs
// nothing here: its handler answers it as malformed.
func permissionFor(code riakpb.Code, body []byte) (perm, typ, bucket string, need bool) {
	p, ok := perms[code]
	if !ok {
		return "", "", "", false
	}
	if p.msg == nil {
		return p.perm, "", "", true
	}
	m := p.msg()
	if riakpb.Unmarshal(body, m) != nil {
		return "", "", "", false
	}
	typ = "default"
	if t, ok := m.(typed); ok && len(t.GetType()) > 0 {
		typ = string(t.GetType())
	}
	if p.typeOnly {
		return p.perm, typ, "", true
	}
	if b, ok := m.(bucketed); ok {
		bucket = string(b.GetBucket())
	}
	return p.perm, typ, bucket, true
}
