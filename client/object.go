package client

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	hdrVclock      = "X-Riak-Vclock"
	hdrDeleted     = "X-Riak-Deleted"
	metaPrefix     = "X-Riak-Meta-"
	indexPrefix    = "X-Riak-Index-"
	objectAccept   = "multipart/mixed, */*;q=0.5"
	objectEncoding = "identity, *;q=0.5"
)

// Content is one value of an object (one sibling) with its metadata.
type Content struct {
	Value []byte
	// ContentType is the media type, with any parameters other than
	// charset (application/octet-stream if empty on a write).
	ContentType string
	// Charset is the charset parameter of the Content-Type, if any.
	Charset string
	// ContentEncoding is stored and echoed; the client does not decode it.
	ContentEncoding string
	// UserMeta holds the X-Riak-Meta-* headers, by name without the
	// prefix. Header names travel case-insensitively; Meta looks one up.
	UserMeta map[string]string
	// Indexes are the secondary-index entries (X-Riak-Index-*).
	Indexes []Index
	// Links are Riak links to other objects.
	Links []Link

	// VTag identifies this value (set by the server; ignored on writes).
	VTag string
	// LastModified is when the value was written (second resolution over
	// HTTP; ignored on writes).
	LastModified time.Time
	// Deleted marks a tombstone sibling (ignored on writes).
	Deleted bool
}

// Meta returns the user metadata named name, compared case-insensitively.
func (c *Content) Meta(name string) (string, bool) {
	if v, ok := c.UserMeta[name]; ok {
		return v, true
	}
	for k, v := range c.UserMeta {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// IndexValues returns the values of the index field (lower-case, with its
// _bin or _int suffix).
func (c *Content) IndexValues(field string) []string {
	var out []string
	for _, x := range c.Indexes {
		if x.Field == field {
			out = append(out, x.Value)
		}
	}
	return out
}

// Index is one secondary-index entry: a field named name_bin or name_int
// and one value. Riak stores field names in lower case.
type Index struct {
	Field, Value string
}

// BinIndex returns the entry name_bin = value.
func BinIndex(name, value string) Index { return Index{Field: name + "_bin", Value: value} }

// IntIndex returns the entry name_int = value.
func IntIndex(name string, value int64) Index {
	return Index{Field: name + "_int", Value: strconv.FormatInt(value, 10)}
}

// Link is a Riak link to another object, with a tag. An empty Type is the
// default bucket type.
type Link struct {
	Type, Bucket, Key, Tag string
}

// Object is a fetched object: its causal context and its siblings.
type Object struct {
	Loc Loc
	// VClock is the opaque causal context. Send it back unchanged with the
	// next write of this key so that the write replaces what was read.
	VClock string
	// ETag is the answer's entity tag, unquoted: the vtag of a single
	// value, or a digest of the clock when there are siblings. Update uses
	// it for If-Match.
	ETag string
	// Siblings holds every value; one unless the bucket keeps siblings and
	// writes were concurrent.
	Siblings []Content
}

// HasSiblings reports whether the object has more than one value.
func (o *Object) HasSiblings() bool { return len(o.Siblings) > 1 }

// Content returns the object's only value, or nil if it has none or
// several (resolve them with a Resolver).
func (o *Object) Content() *Content {
	if len(o.Siblings) != 1 {
		return nil
	}
	return &o.Siblings[0]
}

// GetOptions tune a Get. The zero value uses the bucket's properties.
type GetOptions struct {
	R, PR       Quorum
	BasicQuorum *bool
	NotFoundOK  *bool
	// VTag fetches only the sibling with this vtag.
	VTag string
	// Timeout is the server-side timeout (the server's default if zero).
	Timeout time.Duration
	// IfNoneMatch is an ETag (unquoted); an unchanged object answers
	// ErrNotModified.
	IfNoneMatch string
	// IfModifiedSince: an object not modified since then answers
	// ErrNotModified.
	IfModifiedSince time.Time
}

func (o *GetOptions) values() (url.Values, error) {
	q := url.Values{}
	if o == nil {
		return q, nil
	}
	if err := setQuorum(q, "r", o.R); err != nil {
		return nil, err
	}
	if err := setQuorum(q, "pr", o.PR); err != nil {
		return nil, err
	}
	setBool(q, "basic_quorum", o.BasicQuorum)
	setBool(q, "notfound_ok", o.NotFoundOK)
	if o.VTag != "" {
		q.Set("vtag", o.VTag)
	}
	if err := setTimeout(q, o.Timeout); err != nil {
		return nil, err
	}
	return q, nil
}

// Get fetches the object at loc with every sibling. A missing key answers
// a *NotFoundError (matching ErrNotFound) that carries the tombstone's
// VClock when the key was deleted.
func (c *Client) Get(ctx context.Context, loc Loc, opts *GetOptions) (*Object, error) {
	if err := loc.check(true); err != nil {
		return nil, err
	}
	q, err := opts.values()
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Accept", objectAccept)
	h.Set("Accept-Encoding", objectEncoding)
	if opts != nil {
		if opts.IfNoneMatch != "" {
			h.Set("If-None-Match", quote(opts.IfNoneMatch))
		}
		if !opts.IfModifiedSince.IsZero() {
			h.Set("If-Modified-Since", opts.IfModifiedSince.UTC().Format(http.TimeFormat))
		}
	}
	r := &request{method: "GET", path: loc.objectPath(), query: q, header: h, object: true}
	resp, err := c.open(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusMultipleChoices:
		return c.readObject(ctx, r, loc, resp)
	case http.StatusNotFound:
		return nil, notFound(r, loc, resp)
	}
	return nil, r.failStream(resp)
}

// notFound turns a 404 into a *NotFoundError, or an *Error when the
// bucket type is unknown.
func notFound(r *request, loc Loc, resp *http.Response) error {
	e := r.failStream(resp)
	if e.unknownType() {
		return e
	}
	return &NotFoundError{
		Loc:     loc,
		Deleted: strings.EqualFold(resp.Header.Get(hdrDeleted), "true"),
		VClock:  resp.Header.Get(hdrVclock),
	}
}

// readObject parses a 200 or 300 object answer.
func (c *Client) readObject(ctx context.Context, r *request, loc Loc, resp *http.Response) (*Object, error) {
	obj := &Object{Loc: loc, VClock: resp.Header.Get(hdrVclock), ETag: unquote(resp.Header.Get("Etag"))}
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusMultipleChoices && mt == "multipart/mixed":
		sibs, err := parseSiblings(resp.Body, params["boundary"])
		if err != nil {
			return nil, fmt.Errorf("riakgo/client: %s %s: %w", r.method, r.path, err)
		}
		obj.Siblings = sibs
	case resp.StatusCode == http.StatusMultipleChoices:
		// A server that ignored our Accept sent the text/plain vtag list:
		// fetch each sibling by vtag.
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("riakgo/client: %s %s: reading the answer: %w", r.method, r.path, err)
		}
		sibs, err := c.fetchByVTag(ctx, r, loc, string(body))
		if err != nil {
			return nil, err
		}
		obj.Siblings = sibs
	default:
		value, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("riakgo/client: %s %s: reading the answer: %w", r.method, r.path, err)
		}
		obj.Siblings = []Content{contentFromHeader(resp.Header, value)}
	}
	return obj, nil
}

// fetchByVTag reads each sibling named by a text/plain 300 body.
func (c *Client) fetchByVTag(ctx context.Context, r *request, loc Loc, body string) ([]Content, error) {
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "Siblings:" {
		return nil, fmt.Errorf("riakgo/client: %s %s: %w: a 300 answer that is neither multipart nor a vtag list", r.method, r.path, ErrBadResponse)
	}
	var out []Content
	for _, vt := range lines[1:] {
		vt = strings.TrimSpace(vt)
		if vt == "" {
			continue
		}
		q := url.Values{}
		for k, v := range r.query {
			q[k] = v
		}
		q.Set("vtag", vt)
		h := http.Header{}
		h.Set("Accept-Encoding", objectEncoding)
		sr := &request{method: "GET", path: loc.objectPath(), query: q, header: h, object: true}
		rep, err := c.do(ctx, sr)
		if err != nil {
			return nil, err
		}
		if rep.status != http.StatusOK {
			return nil, sr.fail(rep.status, rep.header, rep.body)
		}
		out = append(out, contentFromHeader(rep.header, rep.body))
	}
	return out, nil
}

// PutOptions tune a Put or Create. The zero value uses the bucket's
// properties and returns no body.
type PutOptions struct {
	W, DW, PW Quorum
	// Timeout is the server-side timeout (the server's default if zero).
	Timeout time.Duration
	// ReturnBody asks for the stored object, with every sibling.
	ReturnBody bool
	// IfNoneMatch makes the write fail with ErrPreconditionFailed when the
	// key already holds a live object (If-None-Match: *).
	IfNoneMatch bool
	// IfMatch makes the write fail with ErrPreconditionFailed unless the
	// current object's ETag is this one (unquoted).
	IfMatch string
	// IfUnmodifiedSince makes the write fail with ErrPreconditionFailed if
	// the object changed after this time.
	IfUnmodifiedSince time.Time
}

func (o *PutOptions) apply(q url.Values, h http.Header) error {
	if o == nil {
		return nil
	}
	for _, p := range []struct {
		name string
		v    Quorum
	}{{"w", o.W}, {"dw", o.DW}, {"pw", o.PW}} {
		if err := setQuorum(q, p.name, p.v); err != nil {
			return err
		}
	}
	if err := setTimeout(q, o.Timeout); err != nil {
		return err
	}
	if o.ReturnBody {
		q.Set("returnbody", "true")
		h.Set("Accept", objectAccept)
		h.Set("Accept-Encoding", objectEncoding)
	}
	if o.IfNoneMatch {
		h.Set("If-None-Match", "*")
	}
	if o.IfMatch != "" {
		h.Set("If-Match", quote(o.IfMatch))
	}
	if !o.IfUnmodifiedSince.IsZero() {
		h.Set("If-Unmodified-Since", o.IfUnmodifiedSince.UTC().Format(http.TimeFormat))
	}
	return nil
}

// Put stores content at loc. vclock is the VClock of an earlier read of
// the key ("" for a blind write, which becomes a sibling on buckets that
// keep siblings). With opts.ReturnBody the stored object is returned
// (possibly with siblings); otherwise the returned object is nil.
func (c *Client) Put(ctx context.Context, loc Loc, content Content, vclock string, opts *PutOptions) (*Object, error) {
	if err := loc.check(true); err != nil {
		return nil, err
	}
	obj, _, err := c.write(ctx, "PUT", loc, &content, vclock, opts)
	return obj, err
}

// Create stores content under a key the server generates in loc's bucket
// (loc.Key must be empty) and returns the Loc with that key. With
// opts.ReturnBody the stored object is returned too.
func (c *Client) Create(ctx context.Context, loc Loc, content Content, opts *PutOptions) (Loc, *Object, error) {
	if err := loc.check(false); err != nil {
		return Loc{}, nil, err
	}
	if loc.Key != "" {
		return Loc{}, nil, fmt.Errorf("%w: Create generates the key; use Put to write key %q", ErrInvalidArgument, loc.Key)
	}
	obj, key, err := c.write(ctx, "POST", loc, &content, "", opts)
	if err != nil {
		return Loc{}, nil, err
	}
	loc.Key = key
	if obj != nil {
		obj.Loc = loc
	}
	return loc, obj, nil
}

// write PUTs to an object, or POSTs to a bucket's keys when loc has no
// key, and returns the object (returnbody) and the generated key.
func (c *Client) write(ctx context.Context, method string, loc Loc, content *Content, vclock string, opts *PutOptions) (*Object, string, error) {
	h, err := contentHeader(content)
	if err != nil {
		return nil, "", err
	}
	q := url.Values{}
	if err := opts.apply(q, h); err != nil {
		return nil, "", err
	}
	if vclock != "" {
		h.Set(hdrVclock, vclock)
	}
	path := loc.objectPath()
	if method == "POST" {
		path = bucketPath(loc.Type, loc.Bucket) + "/keys"
	}
	value := content.Value
	if value == nil {
		value = []byte{}
	}
	r := &request{method: method, path: path, query: q, header: h, body: value, object: true}
	resp, err := c.open(ctx, r)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	key := loc.Key
	if method == "POST" {
		if resp.StatusCode != http.StatusCreated {
			return nil, "", r.failStream(resp)
		}
		if key, err = keyFromLocation(resp.Header.Get("Location")); err != nil {
			return nil, "", fmt.Errorf("riakgo/client: %s %s: %w", r.method, r.path, err)
		}
		loc.Key = key
	}
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil, key, nil
	case http.StatusOK, http.StatusCreated, http.StatusMultipleChoices:
		if opts == nil || !opts.ReturnBody {
			io.Copy(io.Discard, resp.Body)
			return nil, key, nil
		}
		obj, err := c.readObject(ctx, r, loc, resp)
		return obj, key, err
	}
	return nil, "", r.failStream(resp)
}

// keyFromLocation returns the decoded last segment of a Location header.
func keyFromLocation(loc string) (string, error) {
	if loc == "" {
		return "", fmt.Errorf("%w: 201 without a Location header", ErrBadResponse)
	}
	if u, err := url.Parse(loc); err == nil {
		loc = u.EscapedPath()
	}
	i := strings.LastIndexByte(loc, '/')
	raw := loc[i+1:]
	key, err := url.QueryUnescape(raw)
	if err != nil || key == "" {
		return "", fmt.Errorf("%w: Location %q has no key", ErrBadResponse, loc)
	}
	return key, nil
}

// DeleteOptions tune a Delete. The zero value uses the bucket's
// properties.
type DeleteOptions struct {
	R, PR, W, DW, PW, RW Quorum
	// Timeout is the server-side timeout (the server's default if zero).
	Timeout time.Duration
}

// Delete writes a tombstone at loc. vclock is the VClock of an earlier
// read ("" lets the server read it first). Deleting a missing key answers
// a *NotFoundError, which callers that want idempotent deletes ignore with
// errors.Is(err, ErrNotFound).
func (c *Client) Delete(ctx context.Context, loc Loc, vclock string, opts *DeleteOptions) error {
	if err := loc.check(true); err != nil {
		return err
	}
	q := url.Values{}
	if opts != nil {
		for _, p := range []struct {
			name string
			v    Quorum
		}{{"r", opts.R}, {"pr", opts.PR}, {"w", opts.W}, {"dw", opts.DW}, {"pw", opts.PW}, {"rw", opts.RW}} {
			if err := setQuorum(q, p.name, p.v); err != nil {
				return err
			}
		}
		if err := setTimeout(q, opts.Timeout); err != nil {
			return err
		}
	}
	h := http.Header{}
	if vclock != "" {
		h.Set(hdrVclock, vclock)
	}
	r := &request{method: "DELETE", path: loc.objectPath(), query: q, header: h, object: true}
	resp, err := c.open(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		return nil
	case http.StatusNotFound:
		return notFound(r, loc, resp)
	}
	return r.failStream(resp)
}
