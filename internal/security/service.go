package security

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Authentication errors. Callers must not tell clients which one
// happened (riak_api answers "Authentication failed" to all).
var (
	ErrUnknownUser    = errors.New("riakgo/security: unknown user")
	ErrNoSource       = errors.New("riakgo/security: no matching source")
	ErrBadPassword    = errors.New("riakgo/security: bad password")
	ErrNoPassword     = errors.New("riakgo/security: user has no password")
	ErrCommonName     = errors.New("riakgo/security: certificate common name does not match the user")
	ErrNoCertificate  = errors.New("riakgo/security: no client certificate")
	ErrUnknownSource  = errors.New("riakgo/security: unknown authentication source")
	ErrAuthBusy       = errors.New("riakgo/security: too many password checks in progress")
	ErrNotAuthorised  = errors.New("riakgo/security: permission denied")
	errUnknownCommand = errors.New("riakgo/security: unknown command")
)

// DeniedError is a failed permission check; its text is Riak's.
type DeniedError struct {
	User, Perm string
	Bucket     Bucket
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("Permission denied: User '%s' does not have '%s' on %s", e.User, e.Perm, e.Bucket)
}

// Unwrap makes errors.Is(err, ErrNotAuthorised) true.
func (e *DeniedError) Unwrap() error { return ErrNotAuthorised }

// Options tune a Service.
type Options struct {
	// Logger receives authentication failures at debug level.
	Logger *slog.Logger
	// MaxPasswordChecks bounds the Argon2id checks running at once
	// (default GOMAXPROCS); more wait for a slot until their context ends.
	MaxPasswordChecks int
	// CacheTTL is how long a successful password check is remembered
	// (default 10 minutes); any change to the user forgets it at once.
	CacheTTL time.Duration
	// Now is the clock of the cache (default time.Now).
	Now func() time.Time
	// kdf overrides the hashing cost (tests).
	kdf *kdfParams
}

// Service is the security model of one node over its replica of the
// cluster metadata. Its methods are safe for concurrent use.
type Service struct {
	md   Metadata
	log  *slog.Logger
	opts Options
	kdf  kdfParams

	snap  atomic.Pointer[snapshot]
	epoch atomic.Uint64 // bumped by every security change seen
	mu    sync.Mutex    // rebuilds the snapshot

	checks  chan struct{} // password-check slots
	cacheMu sync.Mutex
	cache   map[[32]byte]cached
	macKey  []byte
}

type cached struct {
	user, phc string
	until     time.Time
}

const maxCache = 10000

// New returns the service over md; it subscribes to md's changes.
func New(md Metadata, o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxPasswordChecks <= 0 {
		o.MaxPasswordChecks = runtime.GOMAXPROCS(0)
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{md: md, log: o.Logger, opts: o, kdf: defaultKDF,
		checks: make(chan struct{}, o.MaxPasswordChecks), cache: map[[32]byte]cached{}, macKey: make([]byte, 32)}
	if o.kdf != nil {
		s.kdf = *o.kdf
	}
	if _, err := rand.Read(s.macKey); err != nil {
		panic(err)
	}
	md.Subscribe(func(prefix, key string) {
		if isSecurityPrefix(prefix) {
			s.epoch.Add(1)
			s.snap.Store(nil)
		}
	})
	return s
}

// current returns the snapshot, rebuilding it after a change.
func (s *Service) current() *snapshot {
	if sn := s.snap.Load(); sn != nil {
		return sn
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sn := s.snap.Load(); sn != nil {
		return sn
	}
	for {
		e := s.epoch.Load()
		sn := readSnapshot(s.md)
		if s.epoch.Load() == e {
			s.snap.Store(sn)
			return sn
		}
	}
}

// Enabled reports whether security is on (the cluster-wide flag).
func (s *Service) Enabled() bool { return s.current().enabled }

// Context is an authenticated user. Its checks follow grant changes
// made after the authentication.
type Context struct {
	s     *Service
	user  string
	mu    sync.Mutex
	epoch uint64
	perms permissions
}

// Name returns the user's name.
func (c *Context) Name() string { return c.user }

func (c *Context) permissions() permissions {
	e := c.s.epoch.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.perms == nil || c.epoch != e {
		c.perms = c.s.current().permissionsOf(c.user)
		c.epoch = e
	}
	return c.perms
}

// Check returns nil if the user holds perm on the bucket typ/bucket
// (bucket empty: on the type; both empty: on any), or a *DeniedError with
// Riak's text.
func (c *Context) Check(perm, typ, bucket string) error {
	b := Bucket{Type: typ, Bucket: bucket, Any: typ == ""}
	if c.permissions().allows(perm, b) {
		return nil
	}
	return &DeniedError{User: c.user, Perm: perm, Bucket: b}
}

// Admin reports whether the user may run admin verbs: riakgo.admin
// granted on any.
func (c *Context) Admin() bool { return c.permissions().allows(PermAdmin, Bucket{Any: true}) }

// Authenticate checks a user's credentials as riak_core_security does:
// the first source that matches the user and peer decides (trust,
// password, or certificate: commonName, the verified TLS client
// certificate's, must be the user's name). User names are
// case-insensitive.
func (s *Service) Authenticate(ctx context.Context, user, password string, peer netip.Addr, commonName string) (*Context, error) {
	name := strings.ToLower(user)
	sn := s.current()
	rec, ok := sn.users[name]
	if !ok {
		return nil, ErrUnknownUser
	}
	src, ok := sn.matchSource(name, peer)
	if !ok {
		return nil, ErrNoSource
	}
	switch src.Source {
	case SourceTrust:
	case SourcePassword:
		if rec.Password == "" {
			s.log.Warn("user is configured for password authentication but has no password", "user", name)
			return nil, ErrNoPassword
		}
		if err := s.checkPassword(ctx, name, rec.Password, password); err != nil {
			return nil, err
		}
	case SourceCertificate:
		if commonName == "" {
			return nil, ErrNoCertificate
		}
		if strings.ToLower(commonName) != name {
			return nil, ErrCommonName
		}
	default:
		return nil, ErrUnknownSource
	}
	return &Context{s: s, user: name}, nil
}

func (s *Service) cacheKey(user, password string) [32]byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

func (s *Service) checkPassword(ctx context.Context, user, phc, password string) error {
	k := s.cacheKey(user, password)
	now := s.opts.Now()
	s.cacheMu.Lock()
	c, hit := s.cache[k]
	s.cacheMu.Unlock()
	if hit && c.user == user && c.phc == phc && now.Before(c.until) {
		return nil
	}
	select {
	case s.checks <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrAuthBusy, ctx.Err())
	}
	ok, err := checkPassword(phc, password)
	<-s.checks
	if err != nil {
		s.log.Warn("unreadable password hash", "user", user, "err", err)
		return ErrBadPassword
	}
	if !ok {
		return ErrBadPassword
	}
	s.cacheMu.Lock()
	if len(s.cache) >= maxCache {
		clear(s.cache)
	}
	s.cache[k] = cached{user: user, phc: phc, until: now.Add(s.opts.CacheTTL)}
	s.cacheMu.Unlock()
	return nil
}
