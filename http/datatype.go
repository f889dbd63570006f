package http

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	nethttp "net/http"
	"strings"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/riakapi"
	"github.com/riakgo/riakgo/kv"
)

// Data types (reference §11): GET/POST /types/T/buckets/B/datatypes/K, and
// POST /types/T/buckets/B/datatypes to create with a generated key.

func (h *Handler) serveDatatype(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	if rt.key.Type == kv.DefaultType && rt.hasKey {
		w.Header().Set("Location", "/buckets/"+esc(rt.key.Bucket)+"/counters/"+esc(rt.key.Key))
		textError(w, &apiError{status: 301, body: "Counters in the default bucket-type should use the legacy URL\n"})
		return
	}
	dc, ok := h.c.(DatatypeClient)
	if !ok {
		textError(w, &apiError{status: 501, body: "Data types are not available on this node\n"})
		return
	}
	switch {
	case r.Method == "POST":
	case (r.Method == "GET" || r.Method == "HEAD") && rt.hasKey:
	default:
		if rt.hasKey {
			allow(w, r, "GET", "HEAD", "POST")
		} else {
			allow(w, r, "POST")
		}
		return
	}
	kind, ae := h.datatypeKind(rt)
	if ae != nil {
		textError(w, ae)
		return
	}
	q := r.URL.Query()
	opts, ae := requestOptions(q)
	if ae != nil {
		textError(w, ae)
		return
	}
	includeContext := true
	switch strings.ToLower(q.Get("include_context")) {
	case "", "true":
	case "false":
		includeContext = false
	default:
		textError(w, badRequest("include_context query parameter must be true or false\n"))
		return
	}
	if r.Method != "POST" {
		h.fetchDatatype(w, r, dc, rt, kind, opts, includeContext)
		return
	}
	h.updateDatatype(w, r, dc, rt, kind, opts, includeContext)
}

// datatypeKind is the data type of the route's bucket (its props'
// datatype), with Riak's answers when it has none.
func (h *Handler) datatypeKind(rt route) (dt.Kind, *apiError) {
	props, err := h.c.BucketProps(rt.key.Type, rt.key.Bucket)
	if err != nil {
		if errors.Is(err, kv.ErrUnknownType) {
			return 0, &apiError{status: 404, body: "Unknown bucket type: " + rt.key.Type + "\n"}
		}
		return 0, mapError(err, rt.key)
	}
	kind, err := riakapi.DatatypeKind(props)
	if err != nil {
		return 0, &apiError{status: 403, body: err.Error() + "\n"}
	}
	return kind, nil
}

// datatypeBody renders a value as Riak does: {"type", "value"} and, for
// sets and maps when asked, the base64 causal context.
func datatypeBody(kind dt.Kind, v dt.CRDT, includeContext bool) map[string]any {
	out := map[string]any{"type": kind.String(), "value": v.Value()}
	if includeContext && (kind == dt.KindSet || kind == dt.KindMap) {
		if c := v.Context(); !c.IsZero() {
			if b := c.Bytes(); len(b) > 0 {
				out["context"] = base64.StdEncoding.EncodeToString(b)
			}
		}
	}
	return out
}

func (h *Handler) fetchDatatype(w nethttp.ResponseWriter, r *nethttp.Request, dc DatatypeClient, rt route, kind dt.Kind, opts kv.Options, includeContext bool) {
	v, err := dc.FetchDatatype(r.Context(), rt.key, kind, opts)
	if errors.Is(err, kv.ErrNotFound) {
		writeJSON(w, 404, map[string]string{"type": kind.String(), "error": "notfound"})
		return
	}
	if err != nil {
		h.datatypeError(w, err, rt)
		return
	}
	writeJSON(w, 200, datatypeBody(kind, v, includeContext))
}

func (h *Handler) updateDatatype(w nethttp.ResponseWriter, r *nethttp.Request, dc DatatypeClient, rt route, kind dt.Kind, opts kv.Options, includeContext bool) {
	op, dctx, ae := h.readDatatypeOp(r, kind)
	if ae != nil {
		textError(w, ae)
		return
	}
	created := !rt.hasKey
	if created {
		rt.key.Key = kv.Base62(h.o.Rand(), h.o.Rand())
		rt.hasKey = true
	}
	v, err := dc.UpdateDatatype(r.Context(), rt.key, kind, op, dctx, opts)
	if err != nil {
		h.datatypeError(w, err, rt)
		return
	}
	if created {
		w.Header().Set("Location", "/types/"+esc(rt.key.Type)+"/buckets/"+esc(rt.key.Bucket)+"/keys/"+esc(rt.key.Key))
	}
	switch {
	case opts.ReturnBody && created:
		writeJSON(w, 201, datatypeBody(kind, v, includeContext))
	case opts.ReturnBody:
		writeJSON(w, 200, datatypeBody(kind, v, includeContext))
	case created:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(204)
	}
}

// readDatatypeOp reads a data-type update's body: the operation on kind
// (timestamped by the handler's clock) and the causal context, if any.
func (h *Handler) readDatatypeOp(r *nethttp.Request, kind dt.Kind) (dt.Op, dt.Context, *apiError) {
	if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(strings.ToLower(mt)) != "application/json" {
		// Riak answers 406 here, not 415.
		return nil, dt.Context{}, &apiError{status: 406, body: "Data type operations must be sent with Content-Type: application/json\n"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, dt.Context{}, badRequest("Could not read the request body: %v\n", err)
	}
	if !json.Valid(body) {
		return nil, dt.Context{}, badRequest("Couldn't decode JSON: the body is not valid JSON\n")
	}
	opJSON, ctxText, err := splitContext(body)
	if err != nil {
		return nil, dt.Context{}, badRequest("Couldn't decode JSON: %v\n", err)
	}
	op, err := parseOp(kind, opJSON, h.o.Clock.Now().UnixMicro(), 0)
	var fe *errField
	switch {
	case errors.As(err, &fe):
		return nil, dt.Context{}, badRequest("%s\n", fe.Error())
	case err != nil:
		return nil, dt.Context{}, badRequest("Invalid operation on datatype '%s': %s\n", kind, strings.TrimSpace(string(opJSON)))
	}
	var dctx dt.Context
	if ctxText != "" {
		raw, err := base64.StdEncoding.DecodeString(ctxText)
		if err == nil {
			dctx, err = dt.ParseContext(raw)
		}
		if err != nil {
			return nil, dt.Context{}, badRequest("Invalid context: send back the context of an earlier fetch unchanged\n")
		}
	}
	return op, dctx, nil
}
