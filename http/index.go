package http

import (
	"context"
	"encoding/json"
	"errors"
	nethttp "net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
)

// serveIndex answers a secondary-index query:
// [/types/T]/buckets/B/index/<field>/<value>[/<end>].
func (h *Handler) serveIndex(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	if !allow(w, r, "GET", "HEAD") {
		return
	}
	qs := r.URL.Query()
	field := strings.ToLower(rt.rest[0])
	q := kv.IndexQuery{Type: rt.key.Type, Bucket: rt.key.Bucket, Field: field, Start: rt.rest[1], End: rt.rest[1]}
	if len(rt.rest) == 3 {
		q.End, q.Range = rt.rest[2], true
	}
	if err := riakapi.IndexField(field); err != nil {
		textError(w, badRequest("%s\n", err.Error()))
		return
	}
	boolParam := func(name string) (bool, *apiError) {
		switch v := qs.Get(name); strings.ToLower(v) {
		case "", "false":
			return false, nil
		case "true":
			return true, nil
		default:
			// Riak's text, without a newline (riak_kv_wm_index).
			return false, badRequest("Invalid %q. %q is not a boolean", name, qs.Get(name))
		}
	}
	var ae *apiError
	if q.ReturnTerms, ae = boolParam("return_terms"); ae != nil {
		textError(w, ae)
		return
	}
	stream, ae := boolParam("stream")
	if ae != nil {
		textError(w, ae)
		return
	}
	if _, ae = boolParam("pagination_sort"); ae != nil {
		textError(w, ae)
		return
	}
	if !riakapi.QueryReturnsTerms(q) {
		q.ReturnTerms = false // Riak ignores it for exact matches and $key
	}
	if v := qs.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			textError(w, badRequest("Invalid \"max_results\". \"%s\" is not a positive integer", v))
			return
		}
		q.MaxResults = n
	}
	q.Continuation = qs.Get("continuation")
	if re := qs.Get("term_regex"); re != "" {
		rx, err := riakapi.TermRegex(field, re)
		var rerr *riakapi.Error
		switch {
		case errors.As(err, &rerr) && rerr.Bare:
			textError(w, badRequest("%s", err.Error()))
			return
		case err != nil:
			textError(w, badRequest("%s\n", err.Error()))
			return
		}
		q.TermRegex = rx
	}
	timeout := time.Minute
	if v := qs.Get("timeout"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			textError(w, badRequest("Bad timeout value %q. Must be a non-negative integer\n", v))
			return
		}
		if ms > 0 {
			timeout = time.Duration(ms) * time.Millisecond
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	render := func(res []kv.IndexResult) any {
		if q.ReturnTerms {
			out := make([]map[string]string, len(res))
			for i, x := range res {
				out[i] = map[string]string{x.Term: x.Key}
			}
			return map[string]any{"results": out}
		}
		keys := make(jsonNames, len(res))
		for i, x := range res {
			keys[i] = x.Key
		}
		return map[string]any{"keys": keys}
	}

	if !stream {
		var all []kv.IndexResult
		cont, err := h.c.Query(ctx, q, func(c []kv.IndexResult) error { all = append(all, c...); return nil })
		if listTimedOut(ctx, err) {
			err = context.DeadlineExceeded // 503 request timed out, as Riak
		}
		if err != nil {
			h.indexError(w, err, rt)
			return
		}
		body := render(all).(map[string]any)
		if cont != "" {
			body["continuation"] = cont
		}
		writeJSON(w, 200, body)
		return
	}
	boundary := kv.Base62(h.o.Rand(), h.o.Rand())
	started := false
	part := func(v any) {
		if !started {
			started = true
			w.Header().Set("Content-Type", "multipart/mixed;boundary="+boundary)
			w.WriteHeader(200)
		}
		b, _ := json.Marshal(v)
		w.Write([]byte("\r\n--" + boundary + "\r\nContent-Type: application/json\r\n\r\n"))
		w.Write(b)
		if f, ok := w.(nethttp.Flusher); ok {
			f.Flush()
		}
	}
	cont, err := h.c.Query(ctx, q, func(c []kv.IndexResult) error { part(render(c)); return nil })
	timedOut := listTimedOut(ctx, err)
	if err != nil && !started && !timedOut {
		h.indexError(w, err, rt)
		return
	}
	switch {
	case timedOut:
		// Riak's stream_error({error,timeout}): a part, even as the first.
		part(map[string]string{"error": "timeout"})
	case err != nil:
		part(map[string]string{"error": errorText(err)})
	case cont != "":
		part(map[string]string{"continuation": cont})
	}
	if !started {
		part(render(nil))
	}
	w.Write([]byte("\r\n--" + boundary + "--\r\n"))
}

func (h *Handler) indexError(w nethttp.ResponseWriter, err error, rt route) {
	switch {
	case errors.Is(err, kv.ErrBadIndex):
		if c, ok := kv.UserDetail(err, kv.ErrBadContinuation); ok {
			textError(w, badRequest("Invalid continuation: %s\n", c))
			return
		}
		d, _ := kv.UserDetail(err, kv.ErrBadIndex)
		textError(w, badRequest("Invalid query: %s\n", d))
	case errors.Is(err, context.DeadlineExceeded):
		textError(w, &apiError{status: 503, body: "request timed out\n"})
	default:
		textError(w, mapError(err, rt.key))
	}
}
