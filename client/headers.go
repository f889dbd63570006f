package client

import (
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// The object codec: Riak's object metadata travels as HTTP headers, on an
// answer and on each part of a multipart/mixed sibling answer
// (Content-Type with charset, Content-Encoding, Etag, Last-Modified,
// X-Riak-Deleted, X-Riak-Meta-*, X-Riak-Index-*, Link).

// parseSiblings reads a multipart/mixed sibling answer.
func parseSiblings(body io.Reader, boundary string) ([]Content, error) {
	if boundary == "" {
		return nil, fmt.Errorf("%w: multipart answer without a boundary", ErrBadResponse)
	}
	mr := multipart.NewReader(body, boundary)
	var out []Content
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: multipart: %w", ErrBadResponse, err)
		}
		value, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("%w: multipart part: %w", ErrBadResponse, err)
		}
		out = append(out, contentFromHeader(http.Header(p.Header), value))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: multipart answer without parts", ErrBadResponse)
	}
	return out, nil
}

// contentFromHeader builds a Content from an answer's (or a part's)
// headers.
func contentFromHeader(h http.Header, value []byte) Content {
	c := Content{Value: value}
	c.ContentType, c.Charset = splitContentType(h.Get("Content-Type"))
	c.ContentEncoding = h.Get("Content-Encoding")
	c.VTag = unquote(h.Get("Etag"))
	if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		c.LastModified = t.UTC()
	}
	c.Deleted = strings.EqualFold(h.Get(hdrDeleted), "true")
	for name, vals := range h {
		switch {
		case hasPrefixFold(name, metaPrefix):
			if c.UserMeta == nil {
				c.UserMeta = map[string]string{}
			}
			c.UserMeta[name[len(metaPrefix):]] = strings.Join(vals, ", ")
		case hasPrefixFold(name, indexPrefix):
			field := strings.ToLower(name[len(indexPrefix):])
			for _, v := range vals {
				for _, x := range strings.Split(v, ", ") {
					c.Indexes = append(c.Indexes, Index{Field: field, Value: x})
				}
			}
		}
	}
	sort.Slice(c.Indexes, func(i, j int) bool {
		if c.Indexes[i].Field != c.Indexes[j].Field {
			return c.Indexes[i].Field < c.Indexes[j].Field
		}
		return c.Indexes[i].Value < c.Indexes[j].Value
	})
	c.Links = parseLinks(strings.Join(h.Values("Link"), ", "))
	return c
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) > len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// splitContentType separates the charset parameter from a Content-Type,
// keeping the media type and any other parameters as sent.
func splitContentType(h string) (ctype, charset string) {
	parts := strings.Split(h, ";")
	ctype = strings.TrimSpace(parts[0])
	var rest []string
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), "charset") {
			charset = strings.TrimSpace(v)
			continue
		}
		if p != "" {
			rest = append(rest, p)
		}
	}
	if len(rest) > 0 {
		ctype += "; " + strings.Join(rest, "; ")
	}
	return ctype, charset
}

func quote(etag string) string {
	if etag == "*" || strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, `W/"`) {
		return etag
	}
	return `"` + etag + `"`
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// parseLinks reads a Link header, dropping the rel="up" link and anything
// that is not a riaktag link to an object.
func parseLinks(h string) []Link {
	var out []Link
	for _, part := range splitLinks(h) {
		part = strings.TrimSpace(part)
		if len(part) == 0 || part[0] != '<' {
			continue
		}
		gt := strings.IndexByte(part, '>')
		if gt < 0 {
			continue
		}
		target, params := part[1:gt], part[gt+1:]
		tag, ok := linkParam(params, "riaktag")
		if !ok {
			continue
		}
		segs := strings.Split(strings.TrimPrefix(target, "/"), "/")
		for i, s := range segs {
			d, err := url.QueryUnescape(s)
			if err != nil {
				d = s
			}
			segs[i] = d
		}
		var l Link
		switch {
		case len(segs) == 4 && segs[0] == "buckets" && segs[2] == "keys":
			l = Link{Bucket: segs[1], Key: segs[3]}
		case len(segs) == 3 && segs[0] == "riak":
			l = Link{Bucket: segs[1], Key: segs[2]}
		case len(segs) == 6 && segs[0] == "types" && segs[2] == "buckets" && segs[4] == "keys":
			l = Link{Type: segs[1], Bucket: segs[3], Key: segs[5]}
			if l.Type == "default" {
				l.Type = ""
			}
		default:
			continue
		}
		if t, err := url.QueryUnescape(tag); err == nil {
			tag = t
		}
		l.Tag = tag
		out = append(out, l)
	}
	return out
}

// splitLinks splits a Link header on commas outside <> and quotes.
func splitLinks(h string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(h); i++ {
		switch h[i] {
		case '"':
			quoted = !quoted
		case '<':
			if !quoted {
				depth++
			}
		case '>':
			if !quoted && depth > 0 {
				depth--
			}
		case ',':
			if !quoted && depth == 0 {
				out = append(out, h[start:i])
				start = i + 1
			}
		}
	}
	return append(out, h[start:])
}

func linkParam(params, name string) (string, bool) {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.Trim(strings.TrimSpace(v), `"`), true
		}
	}
	return "", false
}

// formatLinks renders links for a Link request header.
func formatLinks(links []Link) (string, error) {
	parts := make([]string, len(links))
	for i, l := range links {
		if l.Bucket == "" || l.Key == "" {
			return "", fmt.Errorf("%w: link %d has an empty bucket or key", ErrInvalidArgument, i)
		}
		parts[i] = "<" + Loc{Type: l.Type, Bucket: l.Bucket, Key: l.Key}.objectPath() + `>; riaktag="` + url.QueryEscape(l.Tag) + `"`
	}
	return strings.Join(parts, ", "), nil
}

// contentHeader renders a Content's metadata as request headers.
func contentHeader(c *Content) (http.Header, error) {
	h := http.Header{}
	ct := c.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	if c.Charset != "" {
		ct += "; charset=" + c.Charset
	}
	h.Set("Content-Type", ct)
	if c.ContentEncoding != "" {
		h.Set("Content-Encoding", c.ContentEncoding)
	}
	for k, v := range c.UserMeta {
		if k == "" {
			return nil, fmt.Errorf("%w: user metadata with an empty name", ErrInvalidArgument)
		}
		h.Set(metaPrefix+k, v)
	}
	byField := map[string][]string{}
	var fields []string
	for _, x := range c.Indexes {
		f := strings.ToLower(x.Field)
		if strings.Contains(x.Value, ", ") {
			return nil, fmt.Errorf("%w: index %s value %q contains \", \", which the HTTP API splits on", ErrInvalidArgument, x.Field, x.Value)
		}
		if _, ok := byField[f]; !ok {
			fields = append(fields, f)
		}
		byField[f] = append(byField[f], x.Value)
	}
	for _, f := range fields {
		h.Set(indexPrefix+f, strings.Join(byField[f], ", "))
	}
	if len(c.Links) > 0 {
		lh, err := formatLinks(c.Links)
		if err != nil {
			return nil, err
		}
		h.Set("Link", lh)
	}
	return h, nil
}
