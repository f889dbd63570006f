package http

import (
	"encoding/json"
	"errors"
	"io"
	nethttp "net/http"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/kv"
)

const propsHelp = "bucket PUT must be a JSON object of the form:\n{\"props\":{...bucket properties...}}"

func writeJSON(w nethttp.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		textError(w, &apiError{status: 500, body: "Error:\n" + err.Error() + "\n"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// A length, never chunked (webmachine sends one for every body it
	// holds whole; nodiak ignores a chunked body).
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// serveProps handles GET/HEAD/PUT/DELETE of a bucket's properties (and
// GET/PUT on the legacy /riak/B).
func (h *Handler) serveProps(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	k := rt.key
	if k.Bucket == "" {
		// serveTypeProps reads a type's props as those of the bucket
		// with the empty name; a bucket route must not change them.
		textError(w, badRequest("invalid bucket or key: the bucket name is empty\n"))
		return
	}
	switch r.Method {
	case "GET", "HEAD":
		p, err := h.c.BucketProps(k.Type, k.Bucket)
		if err != nil {
			textError(w, mapError(err, k))
			return
		}
		writeJSON(w, 200, map[string]any{"props": p.JSON(k.Bucket)})
	case "PUT", "POST":
		if r.Method == "POST" && rt.api != apiV1 {
			allow(w, r, "GET", "HEAD", "PUT", "DELETE")
			return
		}
		raw, ae := h.readProps(r)
		if ae != nil {
			textError(w, ae)
			return
		}
		if err := h.c.SetBucketProps(k.Type, k.Bucket, raw); err != nil {
			var pe *kv.PropsError
			if errors.As(err, &pe) {
				writeJSON(w, 400, pe.Reasons)
				return
			}
			textError(w, mapError(err, k))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(204)
	case "DELETE":
		if rt.api == apiV1 {
			allow(w, r, "GET", "HEAD", "PUT")
			return
		}
		if err := h.c.ResetBucketProps(k.Type, k.Bucket); err != nil {
			textError(w, mapError(err, k))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(204)
	default:
		allow(w, r, "GET", "HEAD", "PUT", "DELETE")
	}
}

// readProps parses a {"props":{...}} body.
func (h *Handler) readProps(r *nethttp.Request) (map[string]json.RawMessage, *apiError) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(strings.ToLower(mt)) != "application/json" {
		return nil, &apiError{status: 415, body: "Bucket properties must be sent with Content-Type: application/json\n"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, badRequest("Could not read the request body: %v\n", err)
	}
	var doc struct {
		Props map[string]json.RawMessage `json:"props"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Props == nil {
		return nil, badRequest(propsHelp)
	}
	return doc.Props, nil
}

// serveTypeProps handles GET/HEAD/PUT of /types/T/props. PUT updates an
// active type (riak-admin bucket-type update).
func (h *Handler) serveTypeProps(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	switch r.Method {
	case "GET", "HEAD":
		p, err := h.c.BucketProps(rt.key.Type, "")
		if err != nil && !errors.Is(err, kv.ErrBadKey) {
			textError(w, mapError(err, rt.key))
			return
		}
		writeJSON(w, 200, map[string]any{"props": p.JSON(rt.key.Type)})
	case "PUT":
		raw, ae := h.readProps(r)
		if ae != nil {
			textError(w, ae)
			return
		}
		if err := h.c.UpdateType(rt.key.Type, raw); err != nil {
			var pe *kv.PropsError
			switch {
			case errors.As(err, &pe):
				writeJSON(w, 400, pe.Reasons)
			case errors.Is(err, kv.ErrUnknownType), errors.Is(err, kv.ErrTypeNotActive):
				textError(w, &apiError{status: 404, body: "Cannot modify unknown or inactive bucket type: " + rt.key.Type + "\n"})
			default:
				textError(w, mapError(err, rt.key))
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(204)
	default:
		allow(w, r, "GET", "HEAD", "PUT")
	}
}

// servePreflist answers the key's annotated preference list.
func (h *Handler) servePreflist(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	if !allow(w, r, "GET", "HEAD") {
		return
	}
	pl, err := h.c.Preflist(rt.key)
	if err != nil {
		textError(w, mapError(err, rt.key))
		return
	}
	type entry struct {
		Partition json.Number `json:"partition"`
		Node      string      `json:"node"`
		Primary   bool        `json:"primary"`
	}
	out := make([]entry, len(pl))
	for i, e := range pl {
		out[i] = entry{Partition: json.Number(e.Partition.String()), Node: string(e.Node), Primary: e.Primary}
	}
	writeJSON(w, 200, map[string]any{"preflist": out})
}
