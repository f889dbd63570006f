package http

import (
	"context"
	"encoding/json"
	"errors"
	nethttp "net/http"
	"net/url"
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
	iq, ae := parseIndexQuery(rt, r.URL.Query())
	if ae != nil {
		textError(w, ae)
		return
	}
	t, cancel := h.withTimeout(r.Context(), iq.timeout)
	defer cancel()
	if iq.stream {
		h.streamIndex(w, t, iq.q, rt)
		return
	}
	h.indexPage(w, t, iq.q, rt)
}

// indexRequest is a parsed index query with how to answer it.
type indexRequest struct {
	q       kv.IndexQuery
	stream  bool
	timeout time.Duration
}

// parseIndexQuery reads an index query from the route and the query
// parameters, with Riak's texts for what is wrong (some without a
// trailing newline, as riak_kv_wm_index sends them).
func parseIndexQuery(rt route, qs url.Values) (indexRequest, *apiError) {
	field := strings.ToLower(rt.rest[0])
	q := kv.IndexQuery{Type: rt.key.Type, Bucket: rt.key.Bucket, Field: field, Start: rt.rest[1], End: rt.rest[1]}
	if len(rt.rest) == 3 {
		q.End, q.Range = rt.rest[2], true
	}
	if err := riakapi.IndexField(field); err != nil {
		return indexRequest{}, badRequest("%s\n", err.Error())
	}
	var ae *apiError
	if q.ReturnTerms, ae = boolParam(qs, "return_terms"); ae != nil {
		return indexRequest{}, ae
	}
	stream, ae := boolParam(qs, "stream")
	if ae != nil {
		return indexRequest{}, ae
	}
	if _, ae = boolParam(qs, "pagination_sort"); ae != nil {
		return indexRequest{}, ae
	}
	if !riakapi.QueryReturnsTerms(q) {
		q.ReturnTerms = false // Riak ignores it for exact matches and $key
	}
	if v := qs.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return indexRequest{}, badRequest("Invalid \"max_results\". \"%s\" is not a positive integer", v)
		}
		q.MaxResults = n
	}
	q.Continuation = qs.Get("continuation")
	if re := qs.Get("term_regex"); re != "" {
		rx, err := riakapi.TermRegex(field, re)
		var rerr *riakapi.Error
		switch {
		case errors.As(err, &rerr) && rerr.Bare:
			return indexRequest{}, badRequest("%s", err.Error())
		case err != nil:
			return indexRequest{}, badRequest("%s\n", err.Error())
		}
		q.TermRegex = rx
	}
	timeout := time.Minute
	if v := qs.Get("timeout"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return indexRequest{}, badRequest("Bad timeout value %q. Must be a non-negative integer\n", v)
		}
		if ms > 0 {
			timeout = time.Duration(ms) * time.Millisecond
		}
	}
	return indexRequest{q: q, stream: stream, timeout: timeout}, nil
}

// boolParam reads an index query's boolean parameter ("" is false).
func boolParam(qs url.Values, name string) (bool, *apiError) {
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

// indexBody renders results as Riak does: {"results":[{term:key},…]} with
// return_terms, {"keys":[…]} without.
func indexBody(returnTerms bool, res []kv.IndexResult) map[string]any {
	if returnTerms {
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

// indexPage answers a query with one JSON body (and the continuation of
// the next page, if any).
func (h *Handler) indexPage(w nethttp.ResponseWriter, t requestTimeout, q kv.IndexQuery, rt route) {
	var all []kv.IndexResult
	cont, err := h.c.Query(t.ctx, q, func(c []kv.IndexResult) error { all = append(all, c...); return nil })
	if t.timedOut(err) {
		err = context.DeadlineExceeded // 503 request timed out, as Riak
	}
	if err != nil {
		h.indexError(w, err, rt)
		return
	}
	body := indexBody(q.ReturnTerms, all)
	if cont != "" {
		body["continuation"] = cont
	}
	writeJSON(w, 200, body)
}

// streamIndex answers a query as a multipart/mixed stream, one part per
// batch of results, then the continuation or the error that ended it.
func (h *Handler) streamIndex(w nethttp.ResponseWriter, t requestTimeout, q kv.IndexQuery, rt route) {
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
	cont, err := h.c.Query(t.ctx, q, func(c []kv.IndexResult) error { part(indexBody(q.ReturnTerms, c)); return nil })
	timedOut := t.timedOut(err)
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
		part(indexBody(q.ReturnTerms, nil))
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
