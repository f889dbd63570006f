package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"net/url"
	"strings"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/siblings"
)

// Observer records each request: the operation (get, put, delete, props,
// ping, list, index, datatype, admin, pg, other: the op label values of
// docs/operations.md), the status answered and the time taken.
// Implementations must be safe for concurrent use.
type Observer interface {
	Request(op string, status int, d time.Duration)
}

type nopObserver struct{}

func (nopObserver) Request(string, int, time.Duration) {}

// Options configure the handler.
type Options struct {
	// Logger receives request errors; nil discards.
	Logger *slog.Logger
	// Observer records requests; nil means none.
	Observer Observer
	// Metrics, if set, is served at /metrics (a Prometheus handler).
	Metrics nethttp.Handler
	// MaxBodySize bounds request bodies (default 50 MiB, Riak's
	// max_object_size); larger ones get 413.
	MaxBodySize int64
	// Rand returns random 64-bit values (generated keys, boundaries);
	// nil uses math/rand/v2.
	Rand func() uint64
	// Clock gives the time of data-type operations (a register's
	// timestamp) and runs the timeouts of listings and index queries
	// (?timeout); nil uses the wall clock. Socket deadlines and request
	// durations are wall time.
	Clock clock.Clock
	// Version is riakgo's version, reported by /stats.
	Version string
	// Cluster, if set, serves the cluster admin routes (see cluster.go),
	// and the ringready and repair routes if it is also a RepairAdmin
	// (repair.go).
	Cluster ClusterAdmin
	// ExtraStats, if set, adds entries to /stats (the node's cluster,
	// handoff, anti-entropy, memory and storage figures).
	ExtraStats func() map[string]any
	// PG, if set, serves the process-group routes (see pg.go).
	PG ProcessGroups
	// Security, if set, is the security model (see security.go): when it
	// is enabled, requests need TLS and credentials and are authorised by
	// grants.
	Security riakapi.Security
	// SecurityAdmin, if set, serves POST /admin/security (riak-admin's
	// security verbs; see admin.go).
	SecurityAdmin SecurityAdmin
	// AdminOpen lets the admin routes answer callers on other machines
	// while security is off; by default only loopback callers may use
	// them.
	AdminOpen bool
	// NoRefererCheck turns off Riak's check that a Referer or Origin
	// names this node (secure_referer_check = off).
	NoRefererCheck bool
	// MaxHeaders bounds the header fields of a request (default 1000,
	// Riak's); more get 400.
	MaxHeaders int
	// BodyTimeout bounds the reading of a request body (default 1 minute;
	// see limits.go).
	BodyTimeout time.Duration
	// WriteTimeout bounds each write of a response, streams included
	// (default 1 minute).
	WriteTimeout time.Duration
	// MaxInflight bounds the requests served at once (default 1024); more
	// get 503.
	MaxInflight int
	// MaxWalkBytes bounds a link walk's answer (default 64 MiB).
	MaxWalkBytes int
}

// DefaultMaxBodySize is Riak's max_object_size.
const DefaultMaxBodySize = 50 << 20

// DefaultMaxHeaders is mochiweb's limit on header fields, Riak's.
const DefaultMaxHeaders = 1000

// Handler serves the Riak HTTP API.
type Handler struct {
	c   kv.Client
	o   Options
	log *slog.Logger
	obs Observer

	streams      context.Context // cancelled by CloseStreams
	closeStreams context.CancelFunc
	inflight     chan struct{} // one token per request being served
}

// NewHandler returns the API handler over c.
func NewHandler(c kv.Client, o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.MaxBodySize <= 0 {
		o.MaxBodySize = DefaultMaxBodySize
	}
	if o.Rand == nil {
		o.Rand = defaultRand
	}
	o.Clock = clock.OrReal(o.Clock)
	if o.MaxHeaders <= 0 {
		o.MaxHeaders = DefaultMaxHeaders
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = DefaultMaxInflight
	}
	if o.MaxWalkBytes <= 0 {
		o.MaxWalkBytes = DefaultMaxWalkBytes
	}
	h := &Handler{c: c, o: o, log: o.Logger, obs: o.Observer, inflight: make(chan struct{}, o.MaxInflight)}
	h.streams, h.closeStreams = context.WithCancel(context.Background())
	return h
}

// CloseStreams ends the requests that stay open (pg watches and
// connection-leased joins) so that a server shutdown need not wait for
// them.
func (h *Handler) CloseStreams() { h.closeStreams() }

// statusWriter remembers the status written, and gives every write (and
// flush) WriteTimeout to complete.
type statusWriter struct {
	nethttp.ResponseWriter
	status  int
	rc      *nethttp.ResponseController
	timeout time.Duration
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) deadline() {
	if w.rc != nil {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.deadline()
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming responses flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(nethttp.Flusher); ok {
		w.deadline()
		f.Flush()
	}
}

// Unwrap gives net/http's ResponseController the connection's writer.
func (w *statusWriter) Unwrap() nethttp.ResponseWriter { return w.ResponseWriter }

// route is a parsed request path.
type route struct {
	kind   string // object, keys, props, typeprops, preflist, ping, metrics, root, ...
	api    api
	key    kv.Key
	hasKey bool
	rest   []string // remaining segments (index terms, link-walk steps, admin path)
}

// splitPath splits the raw path into segments and decodes each as Riak
// does (percent-decoding, and + as a space).
func splitPath(raw string) ([]string, error) {
	raw = strings.TrimPrefix(raw, "/")
	raw = strings.TrimSuffix(raw, "/")
	if raw == "" {
		return nil, nil
	}
	segs := strings.Split(raw, "/")
	for i, s := range segs {
		if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
			continue
		}
		d, err := url.QueryUnescape(s)
		if err != nil {
			return nil, err
		}
		segs[i] = d
	}
	return segs, nil
}

func parseRoute(segs []string) (route, bool) {
	n := len(segs)
	if n == 0 {
		return route{kind: "root"}, true
	}
	switch segs[0] {
	case "ping", "metrics", "stats", "mapred":
		return route{kind: segs[0]}, n == 1
	case "search", "solr":
		return route{kind: "search"}, true
	case "admin":
		return route{kind: "admin", rest: segs[1:]}, true
	case "pg", "pg-member":
		return route{kind: segs[0], rest: segs[1:]}, true
	case "riak":
		switch {
		case n == 1:
			return route{kind: "buckets", api: apiV1, key: kv.Key{Type: kv.DefaultType}}, true
		case n == 2:
			return route{kind: "v1bucket", api: apiV1, key: kv.Key{Type: kv.DefaultType, Bucket: segs[1]}}, true
		case n == 3:
			return route{kind: "object", api: apiV1, key: kv.Key{Type: kv.DefaultType, Bucket: segs[1], Key: segs[2]}, hasKey: true}, true
		default:
			if !isWalk(segs[3:]) {
				return route{}, false
			}
			return route{kind: "linkwalk", api: apiV1, key: kv.Key{Type: kv.DefaultType, Bucket: segs[1], Key: segs[2]}, hasKey: true, rest: segs[3:]}, true
		}
	case "buckets":
		if n == 1 {
			return route{kind: "buckets", api: apiV2, key: kv.Key{Type: kv.DefaultType}}, true
		}
		return parseBucketRoute(segs[1:], apiV2, kv.DefaultType)
	case "types":
		if n < 2 {
			return route{}, false
		}
		if n == 3 && segs[2] == "props" {
			return route{kind: "typeprops", api: apiV3, key: kv.Key{Type: segs[1]}}, true
		}
		if n == 3 && segs[2] == "buckets" {
			return route{kind: "buckets", api: apiV3, key: kv.Key{Type: segs[1]}}, true
		}
		if n >= 4 && segs[2] == "buckets" {
			return parseBucketRoute(segs[3:], apiV3, segs[1])
		}
	}
	return route{}, false
}

// isWalk reports whether segments look like link-walk steps (B,T,K).
func isWalk(segs []string) bool {
	for _, s := range segs {
		if strings.Count(s, ",") != 2 {
			return false
		}
	}
	return len(segs) > 0
}

// parseBucketRoute parses what follows /buckets or /types/T/buckets.
func parseBucketRoute(segs []string, a api, typ string) (route, bool) {
	if len(segs) < 2 {
		return route{}, false
	}
	k := kv.Key{Type: typ, Bucket: segs[0]}
	switch segs[1] {
	case "props":
		return route{kind: "props", api: a, key: k}, len(segs) == 2
	case "index":
		if len(segs) == 4 || len(segs) == 5 {
			return route{kind: "index", api: a, key: k, rest: segs[2:]}, true
		}
	case "counters":
		if len(segs) == 3 {
			k.Key = segs[2]
			return route{kind: "counter", api: a, key: k, hasKey: true}, true
		}
	case "datatypes":
		if len(segs) == 2 || len(segs) == 3 {
			if len(segs) == 3 {
				k.Key = segs[2]
			}
			return route{kind: "datatype", api: a, key: k, hasKey: len(segs) == 3}, true
		}
	case "keys":
		switch len(segs) {
		case 2:
			return route{kind: "keys", api: a, key: k}, true
		case 3:
			k.Key = segs[2]
			return route{kind: "object", api: a, key: k, hasKey: true}, true
		default:
			k.Key = segs[2]
			if len(segs) == 4 && segs[3] == "preflist" {
				return route{kind: "preflist", api: a, key: k, hasKey: true}, true
			}
			if !isWalk(segs[3:]) {
				return route{}, false
			}
			return route{kind: "linkwalk", api: a, key: k, hasKey: true, rest: segs[3:]}, true
		}
	}
	return route{}, false
}

// ServeHTTP implements net/http.Handler.
func (h *Handler) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	start := time.Now()
	rc := nethttp.NewResponseController(w)
	sw := &statusWriter{ResponseWriter: w, rc: rc, timeout: h.o.WriteTimeout}
	if hasBody(r) {
		if rc.SetReadDeadline(start.Add(h.o.BodyTimeout)) == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
	}
	op := h.serve(sw, r)
	if sw.status == 0 {
		sw.status = 200
	}
	h.obs.Request(op, sw.status, time.Since(start))
}

// serve admits a request (header count, cross-site check, path,
// authentication, the in-flight bound), then dispatches it.
func (h *Handler) serve(w *statusWriter, r *nethttp.Request) string {
	if n := headerCount(r.Header); n > h.o.MaxHeaders {
		textError(w, badRequest("Too many header fields: %d, at most %d\n", n, h.o.MaxHeaders))
		return "other"
	}
	if h.crossSite(w, r) {
		return "other"
	}
	segs, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		textError(w, badRequest("Malformed URL path: %v\n", err))
		return "other"
	}
	rt, ok := parseRoute(segs)
	if !ok {
		notFound(w)
		return "other"
	}
	if r, ok = h.authenticate(w, r, rt); !ok {
		return "other"
	}
	if rt.kind != "pg" && rt.kind != "pg-member" {
		select {
		case h.inflight <- struct{}{}:
			defer func() { <-h.inflight }()
		default:
			textError(w, mapError(fmt.Errorf("%w: %d requests in progress", kv.ErrOverload, cap(h.inflight)), rt.key))
			return "other"
		}
	}
	return h.dispatch(w, r, rt)
}

// dispatch serves an admitted request by its route's kind and returns the
// operation label it counts under.
func (h *Handler) dispatch(w *statusWriter, r *nethttp.Request, rt route) string {
	switch rt.kind {
	case "root":
		h.serveRoot(w, r)
		return "other"
	case "ping":
		if !allow(w, r, "GET", "HEAD") {
			return "ping"
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(200)
		if r.Method != "HEAD" {
			w.Write([]byte("OK"))
		}
		return "ping"
	case "metrics":
		if h.o.Metrics == nil {
			notFound(w)
			return "other"
		}
		h.o.Metrics.ServeHTTP(w, r)
		return "other"
	case "object":
		return h.serveObject(w, r, rt)
	case "keys":
		switch r.Method {
		case "POST":
			return h.serveObject(w, r, rt)
		case "GET", "HEAD":
			h.serveKeys(w, r, rt)
			return "list"
		}
		allow(w, r, "GET", "HEAD", "POST")
		return "other"
	case "buckets":
		h.serveBuckets(w, r, rt)
		return "list"
	case "index":
		h.serveIndex(w, r, rt)
		return "index"
	case "stats":
		h.serveStats(w, r)
		return "other"
	case "admin":
		h.serveAdmin(w, r, rt)
		return "admin"
	case "pg":
		h.servePG(w, r, rt)
		return "pg"
	case "pg-member":
		h.servePGMember(w, r, rt)
		return "pg"
	case "linkwalk":
		h.serveLinkWalk(w, r, rt)
		return "get"
	case "counter":
		h.serveCounter(w, r, rt)
		return "datatype"
	case "datatype":
		h.serveDatatype(w, r, rt)
		return "datatype"
	case "mapred":
		textError(w, &apiError{status: 501, body: "MapReduce is not supported by riakgo; use secondary indexes or key listing and compute in the client\n"})
		return "other"
	case "search":
		textError(w, &apiError{status: 501, body: "Riak Search (Yokozuna/Solr) is not supported by riakgo; use secondary indexes\n"})
		return "other"
	case "v1bucket":
		switch r.Method {
		case "POST":
			return h.serveObject(w, r, rt)
		case "GET", "HEAD":
			if k := r.URL.Query().Get("keys"); k == "true" || k == "stream" {
				h.serveKeys(w, r, rt)
				return "list"
			}
			h.serveProps(w, r, rt)
			return "props"
		case "PUT":
			h.serveProps(w, r, rt)
			return "props"
		}
		allow(w, r, "GET", "HEAD", "PUT", "POST")
		return "other"
	case "props":
		h.serveProps(w, r, rt)
		return "props"
	case "typeprops":
		h.serveTypeProps(w, r, rt)
		return "props"
	case "preflist":
		h.servePreflist(w, r, rt)
		return "other"
	}
	notFound(w)
	return "other"
}

func headerCount(hd nethttp.Header) int {
	n := 0
	for _, v := range hd {
		n += len(v)
	}
	return n
}

// allow answers 405 with an Allow header unless the method is listed.
func allow(w nethttp.ResponseWriter, r *nethttp.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	textError(w, &apiError{status: 405, body: fmt.Sprintf("Method %s is not allowed here; allowed: %s\n", r.Method, strings.Join(methods, ", "))})
	return false
}

func notFound(w nethttp.ResponseWriter) {
	textError(w, &apiError{status: 404, body: "not found\n"})
}

func textError(w nethttp.ResponseWriter, e *apiError) {
	hd := w.Header()
	for k, v := range e.header {
		hd.Set(k, v)
	}
	hd.Set("Content-Type", "text/plain")
	w.WriteHeader(e.status)
	w.Write([]byte(e.body))
}

// mapError turns a kv error into Riak's status and text.
func mapError(err error, k kv.Key) *apiError {
	var ae *apiError
	var qe *quorum.Error
	var ms *siblings.TooManySiblingsError
	var tl *siblings.TooLargeError
	var pe *kv.PropsError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, kv.ErrNotFound):
		return &apiError{status: 404, body: "not found\n"}
	case errors.Is(err, kv.ErrUnknownType):
		return &apiError{status: 404, body: "Unknown bucket type: " + k.Type}
	case errors.Is(err, kv.ErrBadKey):
		return badRequest("%s\n", kv.UserMessage(err))
	case errors.As(err, &qe):
		if qe.ClientError() {
			return badRequest("%s\n", qe.Error())
		}
		return &apiError{status: 503, body: qe.Error() + "\n"}
	case errors.As(err, &ms):
		return &apiError{status: 413, body: ms.Error() + "\n"}
	case errors.As(err, &tl):
		return &apiError{status: 413, body: tl.Error() + "\n"}
	case errors.As(err, &pe):
		b, _ := json.Marshal(pe.Reasons)
		return &apiError{status: 400, body: string(b), header: map[string]string{}}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: 503, body: "request timed out\n"}
	case errors.Is(err, kv.ErrInsufficientVnodes):
		// A listing or 2i query without a vnode for some partition (Riak:
		// insufficient_vnodes_available, as a 500 or a 200 with an error
		// body); never a partial answer.
		return &apiError{status: 503, body: errorText(err) + "\n"}
	case errors.Is(err, kv.ErrClosed), errors.Is(err, kv.ErrOverload), errors.Is(err, kv.ErrUnavailable), errors.Is(err, kv.ErrUnconfirmed),
		errors.Is(err, kv.ErrDetached):
		return &apiError{status: 503, body: err.Error() + "\n"}
	}
	return &apiError{status: 500, body: "Error:\n" + err.Error() + "\n"}
}

// errorText is an error's text for a client: a coverage failure starts
// with Riak's insufficient_vnodes_available, then says why.
func errorText(err error) string {
	if errors.Is(err, kv.ErrInsufficientVnodes) {
		msg := kv.UserMessage(kv.ErrInsufficientVnodes)
		if d, ok := kv.UserDetail(err, kv.ErrInsufficientVnodes); ok && d != "" {
			msg += ": " + d
		}
		return msg
	}
	return err.Error()
}

// serveRoot lists the resources, as Riak's GET / does.
func (h *Handler) serveRoot(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !allow(w, r, "GET", "HEAD") {
		return
	}
	// Names with several prefixes appear several times, as in Riak; JSON
	// readers keep the last, so the /buckets form comes last.
	res := [][2]string{
		{"riak_kv_wm_bucket_type", "/types"},
		{"riak_kv_wm_buckets", "/riak"},
		{"riak_kv_wm_buckets", "/buckets"},
		{"riak_kv_wm_counter", "/buckets"},
		{"riak_kv_wm_index", "/buckets"},
		{"riak_kv_wm_keylist", "/buckets"},
		{"riak_kv_wm_link_walker", "/riak"},
		{"riak_kv_wm_link_walker", "/buckets"},
		{"riak_kv_wm_object", "/riak"},
		{"riak_kv_wm_object", "/types"},
		{"riak_kv_wm_object", "/buckets"},
		{"riak_kv_wm_ping", "/ping"},
		{"riak_kv_wm_preflist", "/buckets"},
		{"riak_kv_wm_props", "/buckets"},
		{"riak_kv_wm_stats", "/stats"},
	}
	links := make([]string, len(res))
	for i, e := range res {
		links[i] = "<" + e[1] + ">; rel=\"" + e[0] + "\""
	}
	w.Header().Set("Link", strings.Join(links, ", "))
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		var b strings.Builder
		b.WriteByte('{')
		for i, e := range res {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%q", e[0], e[1])
		}
		b.WriteByte('}')
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(b.String()))
		return
	}
	w.Header().Set("Content-Type", "text/html")
	var b strings.Builder
	b.WriteString("<html><body><ul>")
	for _, e := range res {
		fmt.Fprintf(&b, "<li><a href=%q>%s</a></li>", e[1], e[0])
	}
	b.WriteString("</ul></body></html>")
	w.Write([]byte(b.String()))
}
