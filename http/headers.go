package http

import (
	"encoding/base64"
	"mime"
	nethttp "net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

const (
	hdrVclock    = "X-Riak-Vclock"
	metaPrefix   = "X-Riak-Meta-"
	indexPrefix  = "X-Riak-Index-"
	lastModified = "Last-Modified"
)

// decodeVclock parses an X-Riak-Vclock header (base64 of the binary clock).
func decodeVclock(h string) (vclock.VClock, *apiError) {
	h = strings.TrimSpace(h)
	if h == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(h); err != nil {
			return nil, badRequest("Invalid X-Riak-Vclock header: not base64. Send back the X-Riak-Vclock value of an earlier response unchanged.\n")
		}
	}
	var vc vclock.VClock
	if err := vc.UnmarshalBinary(raw); err != nil {
		return nil, badRequest("Invalid X-Riak-Vclock header: not a riakgo vector clock. Send back the X-Riak-Vclock value of an earlier response unchanged.\n")
	}
	if err := riakapi.CheckClock(vc); err != nil {
		return nil, badRequest("Invalid X-Riak-Vclock header: %v. Send back the X-Riak-Vclock value of an earlier response unchanged.\n", err)
	}
	return vc, nil
}

// encodeVclock renders a clock for the X-Riak-Vclock header.
func encodeVclock(vc vclock.VClock) string {
	var buf [128]byte
	return base64.StdEncoding.EncodeToString(vc.AppendBinary(buf[:0]))
}

// parseContentType splits a Content-Type header into the stored media type
// and charset, as Riak does: the type must look like type/subtype.
func parseContentType(h string) (ctype, charset string, e *apiError) {
	if strings.TrimSpace(h) == "" {
		return "", "", badRequest("Missing Content-Type request header\n")
	}
	parts := strings.Split(h, ";")
	ctype = strings.TrimSpace(parts[0])
	if i := strings.IndexByte(ctype, '/'); i <= 0 || i == len(ctype)-1 || strings.ContainsAny(ctype, " \t,") {
		return "", "", &apiError{status: 415, body: "\"" + ctype + "\" is not a valid media type for the Content-type header.\n"}
	}
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
	return ctype, charset, nil
}

// parseMeta reads the X-Riak-Meta-* headers.
func parseMeta(h nethttp.Header) []siblings.Pair {
	var out []siblings.Pair
	for name, vals := range h {
		if len(name) > len(metaPrefix) && strings.EqualFold(name[:len(metaPrefix)], metaPrefix) {
			for _, v := range vals {
				out = append(out, siblings.Pair{Key: name[len(metaPrefix):], Value: v})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// parseIndexes reads the X-Riak-Index-* headers: values split on ", ",
// then checked and normalised by riakapi.Indexes (names lower-cased, _int
// values checked, duplicates dropped, sorted).
func parseIndexes(h nethttp.Header) ([]siblings.IndexEntry, *apiError) {
	var in []siblings.IndexEntry
	for name, vals := range h {
		if len(name) <= len(indexPrefix) || !strings.EqualFold(name[:len(indexPrefix)], indexPrefix) {
			continue
		}
		for _, hv := range vals {
			for _, v := range strings.Split(hv, ", ") {
				in = append(in, siblings.IndexEntry{Field: name[len(indexPrefix):], Value: v})
			}
		}
	}
	out, err := riakapi.Indexes(in)
	if err != nil {
		return nil, badRequest("%s\n", err.Error())
	}
	return out, nil
}

const linkHelp = "Invalid Link header. Links must be of the form\n</buckets/BUCKET/keys/KEY>; riaktag=\"TAG\"\n"

// parseLinks reads a Link header (every Link line of the request joined
// with commas): comma-separated </buckets/B/keys/K>; riaktag="T" (or
// </riak/B/K>; riaktag="T", or the typed form), any number of them. The
// rel=up link to the object's own bucket is accepted and ignored.
func parseLinks(h string, bucket string) ([]siblings.Link, *apiError) {
	h = strings.TrimSpace(h)
	if h == "" {
		return nil, nil
	}
	var out []siblings.Link
	for _, part := range splitLinks(h) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lt := strings.IndexByte(part, '<')
		gt := strings.IndexByte(part, '>')
		if lt != 0 || gt < 0 {
			return nil, badRequest(linkHelp)
		}
		target := part[1:gt]
		params := part[gt+1:]
		segs := strings.Split(strings.TrimPrefix(target, "/"), "/")
		for i := range segs {
			s, err := url.QueryUnescape(segs[i]) // as splitPath: + is a space
			if err != nil {
				return nil, badRequest(linkHelp)
			}
			segs[i] = s
		}
		tag, rel := linkParam(params, "riaktag"), linkParam(params, "rel")
		var l siblings.Link
		switch {
		case rel == "up":
			continue
		case len(segs) == 4 && segs[0] == "buckets" && segs[2] == "keys":
			l = siblings.Link{Bucket: segs[1], Key: segs[3]}
		case len(segs) == 3 && segs[0] == "riak":
			l = siblings.Link{Bucket: segs[1], Key: segs[2]}
		case len(segs) == 6 && segs[0] == "types" && segs[2] == "buckets" && segs[4] == "keys":
			l = siblings.Link{Type: segs[1], Bucket: segs[3], Key: segs[5]}
			if l.Type == kv.DefaultType {
				l.Type = "" // siblings.Link's spelling of the default type
			}
		default:
			return nil, badRequest(linkHelp)
		}
		if tag == "" && !strings.Contains(params, "riaktag") {
			return nil, badRequest(linkHelp)
		}
		// Riak URL-decodes the tag (and quote_plus-encodes it on output).
		if tag, err := url.QueryUnescape(tag); err == nil {
			l.Tag = tag
		} else {
			return nil, badRequest(linkHelp)
		}
		out = append(out, l)
	}
	return out, nil
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

func linkParam(params, name string) string {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// api is the URL family a request came in on; it shapes Link and Location.
type api int

const (
	apiV1 api = iota // /riak/B/K
	apiV2            // /buckets/B/keys/K
	apiV3            // /types/T/buckets/B/keys/K
)

// esc escapes one path segment so that splitPath decodes it back: a '+'
// is escaped too, since a path segment's '+' decodes to a space.
func esc(s string) string { return strings.ReplaceAll(url.PathEscape(s), "+", "%2B") }

// bucketURL returns the parent-bucket link target for k. As in Riak, every
// API version from 2 on uses the /buckets/B form, also under /types/T
// (riak_kv_wm_utils:format_links).
func bucketURL(a api, k kv.Key) string {
	if a == apiV1 {
		return "/riak/" + esc(k.Bucket)
	}
	return "/buckets/" + esc(k.Bucket)
}

// objectURL returns the URL of an object in the request's URL family.
func objectURL(a api, k kv.Key) string {
	switch a {
	case apiV1:
		return "/riak/" + esc(k.Bucket) + "/" + esc(k.Key)
	case apiV3:
		return "/types/" + esc(k.Type) + "/buckets/" + esc(k.Bucket) + "/keys/" + esc(k.Key)
	}
	return "/buckets/" + esc(k.Bucket) + "/keys/" + esc(k.Key)
}

// linkHeader renders the Link header of a sibling.
func linkHeader(a api, k kv.Key, links []siblings.Link) string {
	var b strings.Builder
	b.WriteString("<" + bucketURL(a, k) + ">; rel=\"up\"")
	for _, l := range links {
		lk := kv.Key{Type: l.Type, Bucket: l.Bucket, Key: l.Key}
		la := a
		if l.Type != "" && l.Type != kv.DefaultType {
			la = apiV3
		} else if la == apiV3 {
			la = apiV2
		}
		b.WriteString(", <" + objectURL(la, lk) + ">; riaktag=\"" + url.QueryEscape(l.Tag) + "\"")
	}
	return b.String()
}

// contentTypeOf renders a sibling's Content-Type with its charset.
func contentTypeOf(m *siblings.Meta) string {
	ct := m.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	if m.Charset != "" {
		ct += "; charset=" + m.Charset
	}
	return ct
}

// mediaType returns the bare media type (no parameters) of a sibling.
func mediaType(m *siblings.Meta) string {
	ct := m.ContentType
	if ct == "" {
		return "application/octet-stream"
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		return strings.TrimSpace(ct[:i])
	}
	return ct
}
