package http

import (
	"crypto/sha1"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	nethttp "net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

func defaultRand() uint64 { return rand.Uint64() }

// serveObject handles GET/HEAD/PUT/POST/DELETE on an object, and POST on a
// bucket's keys (create with a generated key).
func (h *Handler) serveObject(w *statusWriter, r *nethttp.Request, rt route) string {
	switch r.Method {
	case "GET", "HEAD":
		if !rt.hasKey {
			allow(w, r, "POST")
			return "other"
		}
		h.getObject(w, r, rt)
		return "get"
	case "PUT", "POST":
		if r.Method == "PUT" && !rt.hasKey {
			allow(w, r, "POST")
			return "other"
		}
		h.putObject(w, r, rt)
		return "put"
	case "DELETE":
		if !rt.hasKey {
			allow(w, r, "POST")
			return "other"
		}
		h.deleteObject(w, r, rt)
		return "delete"
	}
	allow(w, r, "GET", "HEAD", "PUT", "POST", "DELETE")
	return "other"
}

func (h *Handler) getObject(w *statusWriter, r *nethttp.Request, rt route) {
	q := r.URL.Query()
	opts, ae := requestOptions(q)
	if ae != nil {
		textError(w, ae)
		return
	}
	obj, err := h.c.Get(r.Context(), rt.key, opts)
	if err != nil {
		h.notFoundOrError(w, err, obj, rt)
		return
	}
	if ae := checkConditions(r, obj, true); ae != nil {
		if ae.status == 304 {
			writeObjectHeaders(w.Header(), rt, obj, nil)
			w.WriteHeader(304)
			return
		}
		textError(w, ae)
		return
	}
	h.renderObject(w, r, rt, obj, 200, q.Get("vtag"))
}

// notFoundOrError answers a failed read: a tombstone gets 404 with its
// clock and X-Riak-Deleted, as Riak's HTTP API does.
func (h *Handler) notFoundOrError(w nethttp.ResponseWriter, err error, obj *siblings.Object, rt route) {
	if errors.Is(err, kv.ErrNotFound) && obj != nil {
		hd := w.Header()
		hd.Set("X-Riak-Deleted", "true")
		hd.Set(hdrVclock, encodeVclock(obj.Clock))
	}
	textError(w, mapError(err, rt.key))
}

// renderObject writes an object: one sibling as 200 (or the one named by
// vtag), several as 300 in text/plain or multipart/mixed per Accept.
func (h *Handler) renderObject(w nethttp.ResponseWriter, r *nethttp.Request, rt route, obj *siblings.Object, status int, vtag string) {
	hd := w.Header()
	var sib *siblings.Sibling
	switch {
	case vtag != "":
		for i := range obj.Siblings {
			if obj.Siblings[i].Meta.VTag == vtag {
				sib = &obj.Siblings[i]
			}
		}
		if sib == nil {
			textError(w, &apiError{status: 404, body: "not found: no sibling has vtag " + vtag + "\n"})
			return
		}
	case len(obj.Siblings) == 1:
		sib = &obj.Siblings[0]
	}
	if sib != nil {
		mt := mediaType(&sib.Meta)
		if !acceptable(r.Header.Get("Accept"), mt) {
			textError(w, &apiError{status: 406, body: "Not Acceptable: the object's content type is " + mt + "\n"})
			return
		}
		writeObjectHeaders(hd, rt, obj, sib)
		hd["Content-Length"] = []string{strconv.Itoa(len(sib.Value))}
		w.WriteHeader(status)
		if r.Method != "HEAD" {
			w.Write(sib.Value)
		}
		return
	}
	// Siblings.
	hd[hdrVclock] = []string{encodeVclock(obj.Clock)}
	hd["Etag"] = []string{`"` + clockETag(obj.Clock) + `"`}
	hd[lastModified] = []string{httpTime(obj.LastModified())}
	hd["Vary"] = []string{"Accept, Accept-Encoding"}
	if prefersMultipart(r.Header.Get("Accept")) {
		boundary := kv.Base62(h.o.Rand(), h.o.Rand())
		hd["Content-Type"] = []string{"multipart/mixed; boundary=" + boundary}
		w.WriteHeader(300)
		if r.Method == "HEAD" {
			return
		}
		var b strings.Builder
		for i := range obj.Siblings {
			s := &obj.Siblings[i]
			b.WriteString("\r\n--" + boundary + "\r\n")
			b.WriteString("Content-Type: " + contentTypeOf(&s.Meta) + "\r\n")
			if s.Meta.ContentEncoding != "" {
				b.WriteString("Content-Encoding: " + s.Meta.ContentEncoding + "\r\n")
			}
			b.WriteString("Link: " + linkHeader(rt.api, rt.key, s.Meta.Links) + "\r\n")
			b.WriteString("Etag: " + s.Meta.VTag + "\r\n")
			b.WriteString("Last-Modified: " + httpTime(s.Meta.LastModified) + "\r\n")
			if s.Meta.Deleted {
				b.WriteString("X-Riak-Deleted: true\r\n")
			}
			for _, m := range s.Meta.UserMeta {
				b.WriteString(metaPrefix + m.Key + ": " + m.Value + "\r\n")
			}
			for _, x := range s.Meta.Indexes {
				b.WriteString(indexPrefix + x.Field + ": " + x.Value + "\r\n")
			}
			b.WriteString("\r\n")
			b.Write(s.Value)
		}
		b.WriteString("\r\n--" + boundary + "--\r\n")
		w.Write([]byte(b.String()))
		return
	}
	hd["Content-Type"] = []string{"text/plain"}
	w.WriteHeader(300)
	if r.Method == "HEAD" {
		return
	}
	var b strings.Builder
	b.WriteString("Siblings:\n")
	for i := range obj.Siblings {
		b.WriteString(obj.Siblings[i].Meta.VTag + "\n")
	}
	w.Write([]byte(b.String()))
}

// writeObjectHeaders sets the headers of a single-value response (sib may
// be nil for a 304, which carries only the validators).
func writeObjectHeaders(hd nethttp.Header, rt route, obj *siblings.Object, sib *siblings.Sibling) {
	hd[hdrVclock] = []string{encodeVclock(obj.Clock)}
	hd["Vary"] = []string{"Accept-Encoding"}
	if sib == nil {
		if len(obj.Siblings) == 1 {
			sib = &obj.Siblings[0]
			hd["Etag"] = []string{`"` + sib.Meta.VTag + `"`}
			hd[lastModified] = []string{httpTime(sib.Meta.LastModified)}
		}
		return
	}
	m := &sib.Meta
	hd["Content-Type"] = []string{contentTypeOf(m)}
	if m.ContentEncoding != "" {
		hd["Content-Encoding"] = []string{m.ContentEncoding}
	}
	hd["Etag"] = []string{`"` + m.VTag + `"`}
	hd[lastModified] = []string{httpTime(m.LastModified)}
	hd["Link"] = []string{linkHeader(rt.api, rt.key, m.Links)}
	if m.Deleted {
		hd["X-Riak-Deleted"] = []string{"true"}
	}
	for _, p := range m.UserMeta {
		hd[nethttp.CanonicalHeaderKey(metaPrefix+p.Key)] = append(hd[nethttp.CanonicalHeaderKey(metaPrefix+p.Key)], p.Value)
	}
	for i := 0; i < len(m.Indexes); {
		j := i
		var vals []string
		for j < len(m.Indexes) && m.Indexes[j].Field == m.Indexes[i].Field {
			vals = append(vals, m.Indexes[j].Value)
			j++
		}
		hd[indexPrefix+m.Indexes[i].Field] = []string{strings.Join(vals, ", ")}
		i = j
	}
}

func httpTime(micros int64) string {
	return time.UnixMicro(micros).UTC().Format(nethttp.TimeFormat)
}

// clockETag is the ETag of a sibling response: a digest of the clock.
func clockETag(vc vclock.VClock) string {
	sum := sha1.Sum(vc.AppendBinary(nil))
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(sum[i])
		lo = lo<<8 | uint64(sum[8+i])
	}
	return kv.Base62(hi, lo)
}

func (h *Handler) putObject(w *statusWriter, r *nethttp.Request, rt route) {
	q := r.URL.Query()
	opts, ae := requestOptions(q)
	if ae != nil {
		textError(w, ae)
		return
	}
	ctype, charset, ae := parseContentType(r.Header.Get("Content-Type"))
	if ae != nil {
		textError(w, ae)
		return
	}
	vc, ae := decodeVclock(r.Header.Get(hdrVclock))
	if ae != nil {
		textError(w, ae)
		return
	}
	idx, ae := parseIndexes(r.Header)
	if ae != nil {
		textError(w, ae)
		return
	}
	// Every Link line counts: clients split long link lists over several
	// (Riak's mochiweb joins them; the Python client splits at 8 KiB).
	links, ae := parseLinks(strings.Join(r.Header.Values("Link"), ", "), rt.key.Bucket)
	if ae != nil {
		textError(w, ae)
		return
	}
	body, ae := h.readBody(r)
	if ae != nil {
		textError(w, ae)
		return
	}
	if props, err := h.c.BucketProps(rt.key.Type, rt.key.Bucket); err == nil && props.Datatype != "" {
		textError(w, &apiError{status: 403, body: "Bucket datatype '" + props.Datatype + "': write its values through /types/" +
			rt.key.Type + "/buckets/" + rt.key.Bucket + "/datatypes/KEY with a data-type operation\n"})
		return
	}
	created := !rt.hasKey
	if created {
		rt.key.Key = kv.Base62(h.o.Rand(), h.o.Rand())
		rt.hasKey = true
	}
	if hasConditions(r) {
		cur, err := h.c.Get(r.Context(), rt.key, opts)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			textError(w, mapError(err, rt.key))
			return
		}
		if errors.Is(err, kv.ErrNotFound) {
			cur = nil
		}
		if ae := checkConditions(r, cur, false); ae != nil {
			textError(w, ae)
			return
		}
	}
	meta := siblings.Meta{
		ContentType:     ctype,
		Charset:         charset,
		ContentEncoding: r.Header.Get("Content-Encoding"),
		UserMeta:        parseMeta(r.Header),
		Indexes:         idx,
		Links:           links,
	}
	obj, err := h.c.Put(r.Context(), rt.key, body, meta, vc, opts)
	if err != nil {
		textError(w, mapError(err, rt.key))
		return
	}
	if created {
		w.Header().Set("Location", objectURL(rt.api, rt.key))
	}
	if opts.ReturnBody && obj != nil {
		status := 200
		if created {
			status = 201
		}
		h.renderObject(w, r, rt, obj, status, "")
		return
	}
	if created {
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(201)
		return
	}
	// Riak's 204s carry a Content-Type (clients parse it); for a write it
	// is the stored media type.
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(204)
}

// readBody reads the request body up to MaxBodySize.
func (h *Handler) readBody(r *nethttp.Request) ([]byte, *apiError) {
	limit := h.o.MaxBodySize
	if r.ContentLength > limit {
		return nil, tooLarge(r.ContentLength, limit)
	}
	// A declared length up to 64 KiB is read into a buffer of exactly
	// that size (net/http ends the body there, or reports it short). The
	// stored object keeps this buffer as its value, in the object cache
	// too, so growing it for the final read of io.EOF would double a
	// 1 KiB value's memory (a 2,048-byte allocation).
	if n := r.ContentLength; n >= 0 && n <= 64<<10 {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, bodyError(err)
		}
		return buf, nil
	}
	// Otherwise the body grows as it arrives: a Content-Length is a
	// claim, and allocating it up front let headers alone take a node's
	// memory.
	buf := make([]byte, 0, min(max(r.ContentLength, 512), 64<<10))
	lr := io.LimitReader(r.Body, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bodyError(err)
		}
	}
	if int64(len(buf)) > limit {
		return nil, tooLarge(int64(len(buf)), limit)
	}
	return buf, nil
}

// bodyError answers a body that could not be read: 408 if it did not
// arrive within BodyTimeout, else 400.
func bodyError(err error) *apiError {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		// Connection: close, or net/http would wait for the rest of the
		// body to reuse the connection.
		return &apiError{status: 408, body: "Request Timeout: the request body did not arrive in time\n", header: map[string]string{"Connection": "close"}}
	}
	return badRequest("Could not read the request body: %v\n", err)
}

func tooLarge(n, max int64) *apiError {
	return &apiError{status: 413, body: "Object too large: the body is " + strconv.FormatInt(n, 10) +
		" bytes or more; the maximum object size is " + strconv.FormatInt(max, 10) + " bytes\n"}
}

func (h *Handler) deleteObject(w *statusWriter, r *nethttp.Request, rt route) {
	opts, ae := requestOptions(r.URL.Query())
	if ae != nil {
		textError(w, ae)
		return
	}
	vc, ae := decodeVclock(r.Header.Get(hdrVclock))
	if ae != nil {
		textError(w, ae)
		return
	}
	if err := h.c.Delete(r.Context(), rt.key, vc, opts); err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			// Already deleted: Riak's 404 carries the tombstone's clock.
			if obj, gerr := h.c.Get(r.Context(), rt.key, opts); errors.Is(gerr, kv.ErrNotFound) {
				h.notFoundOrError(w, gerr, obj, rt)
				return
			}
		}
		textError(w, mapError(err, rt.key))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(204)
}

// hasConditions reports whether the request carries conditional headers.
func hasConditions(r *nethttp.Request) bool {
	hd := r.Header
	return hd.Get("If-None-Match") != "" || hd.Get("If-Match") != "" ||
		hd.Get("If-Modified-Since") != "" || hd.Get("If-Unmodified-Since") != ""
}

// checkConditions evaluates HTTP preconditions against the current object
// (nil if none). A satisfied If-None-Match/If-Modified-Since on a read
// gives 304; any other failed precondition 412.
func checkConditions(r *nethttp.Request, cur *siblings.Object, read bool) *apiError {
	hd := r.Header
	etag, lm := "", int64(0)
	if cur != nil && len(cur.Siblings) == 1 {
		etag = cur.Siblings[0].Meta.VTag
		lm = cur.Siblings[0].Meta.LastModified
	} else if cur != nil {
		etag = clockETag(cur.Clock)
		lm = cur.LastModified()
	}
	failed := &apiError{status: 412, body: "Precondition Failed\n"}
	if v := hd.Get("If-Match"); v != "" {
		if cur == nil || !etagMatches(v, etag) {
			return failed
		}
	}
	if v := hd.Get("If-Unmodified-Since"); v != "" && cur != nil {
		if t, err := nethttp.ParseTime(v); err == nil && time.UnixMicro(lm).Truncate(time.Second).After(t) {
			return failed
		}
	}
	if v := hd.Get("If-None-Match"); v != "" {
		if cur != nil && (strings.TrimSpace(v) == "*" || etagMatches(v, etag)) {
			if read {
				return &apiError{status: 304}
			}
			return failed
		}
	}
	if v := hd.Get("If-Modified-Since"); v != "" && read && cur != nil {
		if t, err := nethttp.ParseTime(v); err == nil && !time.UnixMicro(lm).Truncate(time.Second).After(t) {
			return &apiError{status: 304}
		}
	}
	return nil
}

// etagMatches reports whether a quoted etag list contains etag (* matches
// any).
func etagMatches(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "*" {
			return true
		}
		e = strings.TrimPrefix(e, "W/")
		if len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' && e[1:len(e)-1] == etag {
			return true
		}
	}
	return false
}

// acceptable reports whether an Accept header admits media type mt.
func acceptable(accept, mt string) bool {
	if accept == "" {
		return true
	}
	major, _, _ := strings.Cut(mt, "/")
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(strings.TrimSpace(part), ";")
		rng := strings.TrimSpace(fields[0])
		if acceptQ(fields[1:]) <= 0 {
			continue
		}
		if rng == "*/*" || strings.EqualFold(rng, mt) || strings.EqualFold(rng, major+"/*") {
			return true
		}
	}
	return false
}

// prefersMultipart reports whether a sibling response should be
// multipart/mixed: Accept names multipart/mixed with a q at least as high
// as any other type it names.
func prefersMultipart(accept string) bool {
	best, mq := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(strings.TrimSpace(part), ";")
		rng := strings.TrimSpace(fields[0])
		q := acceptQ(fields[1:])
		if strings.EqualFold(rng, "multipart/mixed") {
			mq = max(mq, q)
		} else if rng != "" {
			best = max(best, q)
		}
	}
	return mq > 0 && mq >= best
}

// acceptQ returns the q value among an Accept range's parameters (1 if
// absent or unreadable).
func acceptQ(params []string) float64 {
	q := 1.0
	for _, p := range params {
		if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
	}
	return q
}
