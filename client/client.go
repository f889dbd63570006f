package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultUserAgent is the User-Agent sent unless WithUserAgent changes it.
const DefaultUserAgent = "riakgo-client/1"

// Client talks to one Riak HTTP endpoint. It is safe for concurrent use.
type Client struct {
	base      string // scheme://host[:port][/prefix], no trailing slash
	hc        *http.Client
	timeout   time.Duration
	clientID  string
	userAgent string
	resolver  Resolver
	user      string // Basic credentials (security on), if set
	password  string
}

// Option configures a Client.
type Option func(*Client) error

// WithHTTPClient makes the Client send its requests through hc (its
// transport, TLS settings, proxy, cookie jar). hc.Timeout, if set, also
// bounds streamed answers; prefer WithTimeout or contexts.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("riakgo/client: WithHTTPClient: nil *http.Client")
		}
		c.hc = hc
		return nil
	}
}

// WithBasicAuth sends user and password as HTTP Basic credentials on every
// request: what a node with security on asks for (over HTTPS; with a
// plain http:// URL it answers 426).
func WithBasicAuth(user, password string) Option {
	return func(c *Client) error {
		c.user, c.password = user, password
		return nil
	}
}

// WithTimeout bounds every call, including the reading of streamed
// answers, unless the call's context has an earlier deadline. Zero (the
// default) means no bound beyond the context's.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return errors.New("riakgo/client: WithTimeout: negative timeout")
		}
		c.timeout = d
		return nil
	}
}

// WithClientID sends id as X-Riak-ClientId on object requests. Riak 2.x
// uses vnode clocks and ignores it for causality; it only shows in logs.
func WithClientID(id string) Option {
	return func(c *Client) error {
		if strings.ContainsAny(id, "\r\n") {
			return errors.New("riakgo/client: WithClientID: the id must not contain a line break")
		}
		c.clientID = id
		return nil
	}
}

// WithUserAgent sets the User-Agent header (DefaultUserAgent otherwise).
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// WithResolver sets the Resolver GetResolved and Update use when they are
// not given one (LastWriteWins otherwise).
func WithResolver(r Resolver) Option {
	return func(c *Client) error {
		c.resolver = r
		return nil
	}
}

// New returns a Client for the endpoint at baseURL, for example
// "http://127.0.0.1:8098". A path in baseURL (a proxy prefix) is kept and
// every route is appended to it.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("riakgo/client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("riakgo/client: base URL %q: the scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("riakgo/client: base URL %q has no host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("riakgo/client: base URL %q must not have a query or fragment", baseURL)
	}
	c := &Client{
		base:      strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"),
		hc:        &http.Client{},
		userAgent: DefaultUserAgent,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Loc addresses an object: its bucket type (empty for the default type),
// bucket and key.
type Loc struct {
	Type, Bucket, Key string
}

func (l Loc) String() string {
	if l.Type == "" {
		return l.Bucket + "/" + l.Key
	}
	return l.Type + "/" + l.Bucket + "/" + l.Key
}

// seg escapes one path segment the way Riak decodes it: percent-escapes,
// with '/' as %2F and '+' as %2B (a bare '+' would decode to a space).
func seg(s string) string { return strings.ReplaceAll(url.PathEscape(s), "+", "%2B") }

// bucketPath is /buckets/B or /types/T/buckets/B.
func bucketPath(typ, bucket string) string {
	if typ == "" {
		return "/buckets/" + seg(bucket)
	}
	return "/types/" + seg(typ) + "/buckets/" + seg(bucket)
}

// bucketsPath is /buckets or /types/T/buckets.
func bucketsPath(typ string) string {
	if typ == "" {
		return "/buckets"
	}
	return "/types/" + seg(typ) + "/buckets"
}

func (l Loc) objectPath() string { return bucketPath(l.Type, l.Bucket) + "/keys/" + seg(l.Key) }

// check validates the parts of l a route needs.
func (l Loc) check(needKey bool) error {
	if l.Bucket == "" {
		return fmt.Errorf("%w: the bucket name is empty", ErrInvalidArgument)
	}
	if needKey && l.Key == "" {
		return fmt.Errorf("%w: the key is empty", ErrInvalidArgument)
	}
	return nil
}

// request is one HTTP call.
type request struct {
	method string
	path   string // escaped, from the root of the API
	query  url.Values
	header http.Header
	body   []byte
	object bool // an object route: sends X-Riak-ClientId
}

// reply is a response whose body has been read.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// cancelBody cancels the call's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// open sends r and returns the response with its body unread; closing the
// body releases the call.
func (c *Client) open(ctx context.Context, r *request) (*http.Response, error) {
	cancel := context.CancelFunc(func() {})
	if c.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("riakgo/client: %s %s: %w", r.method, r.path, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	if r.object && c.clientID != "" {
		req.Header.Set("X-Riak-ClientId", c.clientID)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("riakgo/client: %s %s: %w", r.method, r.path, err)
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// do sends r and reads the whole answer.
func (c *Client) do(ctx context.Context, r *request) (*reply, error) {
	resp, err := c.open(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("riakgo/client: %s %s: reading the answer: %w", r.method, r.path, err)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// fail builds the error for an unexpected answer.
func (r *request) fail(status int, h http.Header, body []byte) *Error {
	return &Error{Method: r.method, Path: r.path, Status: status, Body: string(body), Header: h}
}

// failStream builds the error for an unexpected streamed answer, reading
// (a bounded prefix of) its body.
func (r *request) failStream(resp *http.Response) *Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return r.fail(resp.StatusCode, resp.Header, b)
}

// setQuorum adds a quorum parameter when q is set.
func setQuorum(q url.Values, name string, v Quorum) error {
	if v == "" {
		return nil
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	q.Set(name, string(v))
	return nil
}

// setBool adds a boolean parameter when b is set.
func setBool(q url.Values, name string, b *bool) {
	if b != nil {
		q.Set(name, strconv.FormatBool(*b))
	}
}

// setTimeout adds the server-side timeout parameter (milliseconds).
func setTimeout(q url.Values, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: negative timeout", ErrInvalidArgument)
	}
	if d > 0 {
		ms := d.Milliseconds()
		if ms == 0 {
			ms = 1
		}
		q.Set("timeout", strconv.FormatInt(ms, 10))
	}
	return nil
}
