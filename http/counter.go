package http

import (
	"context"
	"errors"
	"io"
	nethttp "net/http"
	"strconv"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
)

// DatatypeClient is the part of the service the data-type routes need.
// kv.Service implements it.
type DatatypeClient interface {
	FetchDatatype(ctx context.Context, k kv.Key, kind dt.Kind, o kv.Options) (dt.CRDT, error)
	UpdateDatatype(ctx context.Context, k kv.Key, kind dt.Kind, op dt.Op, dctx dt.Context, o kv.Options) (dt.CRDT, error)
}

// serveCounter answers Riak 1.4's counters on the default type:
// POST /buckets/B/counters/K with a signed integer body increments (204,
// or 200 with the new value when returnvalue=true); GET reads it.
func (h *Handler) serveCounter(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	dc, ok := h.c.(DatatypeClient)
	if !ok {
		textError(w, &apiError{status: 501, body: "Counters are not available on this node\n"})
		return
	}
	if r.Method != "GET" && r.Method != "HEAD" && r.Method != "POST" {
		allow(w, r, "GET", "HEAD", "POST")
		return
	}
	opts, ae := requestOptions(r.URL.Query())
	if ae != nil {
		textError(w, ae)
		return
	}
	props, err := h.c.BucketProps(rt.key.Type, rt.key.Bucket)
	if err != nil {
		textError(w, mapError(err, rt.key))
		return
	}
	if err := riakapi.CounterBucket(props); err != nil {
		textError(w, &apiError{status: 409, body: err.Error() + "\n"})
		return
	}
	if r.Method == "POST" {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64))
		if err != nil {
			textError(w, badRequest("Could not read the request body: %v\n", err))
			return
		}
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			textError(w, badRequest("The body must be a signed integer, e.g. 1 or -5; got %q\n", body))
			return
		}
		v, err := dc.UpdateDatatype(r.Context(), rt.key, dt.KindCounter, dt.CounterOp{Delta: n}, dt.Context{}, opts)
		if err != nil {
			h.datatypeError(w, err, rt)
			return
		}
		if r.URL.Query().Get("returnvalue") == "true" {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(strconv.FormatInt(v.Value().(int64), 10)))
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(204)
		return
	}
	v, err := dc.FetchDatatype(r.Context(), rt.key, dt.KindCounter, opts)
	if err != nil {
		h.datatypeError(w, err, rt)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	if r.Method != "HEAD" {
		w.Write([]byte(strconv.FormatInt(v.Value().(int64), 10)))
	}
}

func (h *Handler) datatypeError(w nethttp.ResponseWriter, err error, rt route) {
	var pe *dt.PreconditionError
	var ir *dt.InsufficientRightsError
	switch {
	case errors.As(err, &ir):
		textError(w, &apiError{status: 409, body: kv.UserMessage(ir) + "\n"})
	case errors.Is(err, kv.ErrNotDatatype):
		textError(w, &apiError{status: 409, body: "The stored object is not a " + "data type value of this bucket: " + err.Error() + "\n"})
	case errors.As(err, &pe):
		// Riak: 500 Error:\n{precondition,{not_present,<<"x">>}}; riakgo
		// keeps the text and answers 412 (the client's context is stale).
		textError(w, &apiError{status: 412, body: "Error:\n{precondition,{not_present,<<" + strconv.Quote(pe.Element) + ">>}}\n"})
	case errors.Is(err, dt.ErrInvalidOp):
		textError(w, badRequest("%s\n", err.Error()))
	case errors.Is(err, dt.ErrOverflow):
		// Riak's counters never wrap (bignums); riakgo's refuse to.
		textError(w, badRequest("%s\n", kv.UserMessage(err)))
	default:
		textError(w, mapError(err, rt.key))
	}
}
