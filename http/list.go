package http

import (
	"context"
	"encoding/json"
	"errors"
	nethttp "net/http"
	"strconv"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
)

// Listing follows Riak (riak_kv_wm_keylist, riak_kv_wm_buckets):
// ?buckets=true / ?keys=true answer one JSON object; =stream sends a chunked
// sequence of {"buckets":[…]} / {"keys":[…]} objects ending with an empty
// list. A listing that does not finish within its timeout ends with
// {"error":"timeout"}: a stream sends it as its last object (200, even if
// the timeout passed before the first chunk), keys=true answers it as the
// 200 body, as Riak does; buckets=true answers 503 (Riak crashes: 500).
// Nothing holds more than one chunk of names in memory while streaming.

// listTimeout parses ?timeout (ms) with a default.
func listTimeout(r *nethttp.Request, def time.Duration) (time.Duration, *apiError) {
	s := r.URL.Query().Get("timeout")
	if s == "" {
		return def, nil
	}
	ms, err := strconv.Atoi(s)
	if err != nil || ms < 0 {
		return 0, badRequest("Bad timeout value %q\n", s)
	}
	if ms == 0 {
		return def, nil
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// streamer writes chunked JSON objects.
type streamer struct {
	w     nethttp.ResponseWriter
	field string
	wrote bool
}

func (s *streamer) start() {
	if s.wrote {
		return
	}
	s.wrote = true
	s.w.Header().Set("Content-Type", "application/json")
	s.w.WriteHeader(200)
}

func (s *streamer) chunk(names []string) error {
	s.start()
	b, err := json.Marshal(map[string]jsonNames{s.field: names})
	if err != nil {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	if f, ok := s.w.(nethttp.Flusher); ok {
		f.Flush()
	}
	return nil
}

func (h *Handler) serveBuckets(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	if !allow(w, r, "GET", "HEAD") {
		return
	}
	mode := r.URL.Query().Get("buckets")
	if mode != "true" && mode != "stream" {
		textError(w, badRequest("List buckets with ?buckets=true or ?buckets=stream\n"))
		return
	}
	timeout, ae := listTimeout(r, 5*time.Minute)
	if ae != nil {
		textError(w, ae)
		return
	}
	t, cancel := h.withTimeout(r.Context(), timeout)
	defer cancel()
	h.list(w, t, rt, "buckets", mode == "stream", func(emit func([]string) error) error {
		return h.c.ListBuckets(t.ctx, rt.key.Type, emit)
	})
}

func (h *Handler) serveKeys(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	q := r.URL.Query()
	mode := q.Get("keys")
	if mode != "true" && mode != "stream" {
		// Riak answers {} without a keys parameter (new API).
		writeJSON(w, 200, map[string]any{})
		return
	}
	def := 8 * time.Minute
	if mode == "stream" {
		def = time.Minute
	}
	timeout, ae := listTimeout(r, def)
	if ae != nil {
		textError(w, ae)
		return
	}
	if rt.api == apiV1 && q.Get("props") != "false" {
		// The old API puts the bucket's props first.
		p, err := h.c.BucketProps(rt.key.Type, rt.key.Bucket)
		if err != nil {
			textError(w, mapError(err, rt.key))
			return
		}
		if mode == "true" {
			var keys []string
			t, cancel := h.withTimeout(r.Context(), timeout)
			defer cancel()
			err := h.c.ListKeys(t.ctx, rt.key.Type, rt.key.Bucket, func(c []string) error { keys = append(keys, c...); return nil })
			if t.timedOut(err) {
				writeJSON(w, 200, map[string]string{"error": "timeout"})
				return
			}
			if err != nil {
				textError(w, mapError(err, rt.key))
				return
			}
			if keys == nil {
				keys = []string{}
			}
			writeJSON(w, 200, map[string]any{"props": p.JSON(rt.key.Bucket), "keys": jsonNames(keys)})
			return
		}
		b, _ := json.Marshal(map[string]any{"props": p.JSON(rt.key.Bucket)})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.Write(b)
	}
	t, cancel := h.withTimeout(r.Context(), timeout)
	defer cancel()
	h.list(w, t, rt, "keys", mode == "stream", func(emit func([]string) error) error {
		return h.c.ListKeys(t.ctx, rt.key.Type, rt.key.Bucket, emit)
	})
}

// requestTimeout is the context of a listing or index query: the
// request's, with the request's own timeout (?timeout) on the handler's
// clock.
type requestTimeout struct {
	ctx context.Context // ends when the timeout passes, or with the request's
}

// withTimeout returns parent with the timeout d on the handler's clock
// (clock.WithTimeout: it ends with DeadlineExceeded once d has passed, on
// the wall clock or any other).
func (h *Handler) withTimeout(parent context.Context, d time.Duration) (requestTimeout, context.CancelFunc) {
	ctx, cancel := clock.WithTimeout(parent, h.o.Clock, d)
	return requestTimeout{ctx: ctx}, cancel
}

// expired reports whether the request's own timeout ended its context. A
// client that went away ends it with Canceled, which is never the
// request's timeout.
func (t requestTimeout) expired() bool {
	return errors.Is(t.ctx.Err(), context.DeadlineExceeded)
}

// timedOut reports whether a listing or query under t failed with err
// because its timeout passed (whatever error the step that noticed it
// returned).
func (t requestTimeout) timedOut(err error) bool {
	return err != nil && (errors.Is(err, context.DeadlineExceeded) || t.expired())
}

// list runs a listing, buffered or streamed.
func (h *Handler) list(w nethttp.ResponseWriter, t requestTimeout, rt route, field string, stream bool, run func(func([]string) error) error) {
	if !stream {
		all := []string{}
		err := run(func(c []string) error { all = append(all, c...); return nil })
		switch {
		case t.timedOut(err) && field == "keys":
			writeJSON(w, 200, map[string]string{"error": "timeout"})
		case t.timedOut(err):
			textError(w, &apiError{status: 503, body: "request timed out\n"})
		case err != nil:
			textError(w, mapError(err, rt.key))
		default:
			writeJSON(w, 200, map[string]any{field: jsonNames(all)})
		}
		return
	}
	st := &streamer{w: w, field: field}
	if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
		st.wrote = true // the v1 props chunk went first
	}
	err := run(st.chunk)
	switch {
	case err == nil:
		st.chunk([]string{})
	case t.timedOut(err):
		st.start()
		w.Write([]byte(`{"error":"timeout"}`))
	case !st.wrote:
		textError(w, mapError(err, rt.key))
	default:
		b, _ := json.Marshal(map[string]string{"error": errorText(err)})
		w.Write(b)
	}
}

// jsonNames renders keys and bucket names as JSON strings whose bytes are
// the names' own: a name that is not UTF-8 is written byte for byte (JSON
// escapes only for '"', '\\' and control characters), so a client that
// reads the listing's bytes reaches the object again; encoding/json would
// turn each invalid byte into U+FFFD, a different key (issue 12). Riak's
// mochijson2 fails on such names (500); valid UTF-8 names read the same as
// encoding/json writes them.
type jsonNames []string

// MarshalJSON implements json.Marshaler.
func (ns jsonNames) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 16*len(ns)+2)
	b = append(b, '[')
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONBytes(b, n)
	}
	return append(b, ']'), nil
}

const hexDigits = "0123456789abcdef"

func appendJSONBytes(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
