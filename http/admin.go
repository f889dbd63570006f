package http

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	nethttp "net/http"
	"strings"

	"github.com/riakgo/riakgo/internal/security"
	"github.com/riakgo/riakgo/kv"
)

// Admin routes back `riakgo admin bucket-type …` (Riak has no HTTP route to
// create or activate types; riak-admin does it on the node):
//
//	GET  /admin/bucket-types                 list
//	GET  /admin/bucket-types/T               status and props
//	PUT  /admin/bucket-types/T               create, body {"props":{…}} (or empty)
//	POST /admin/bucket-types/T/activate      activate
//	PUT  /admin/bucket-types/T/props         update, body {"props":{…}}
//
// Answers are JSON (TypeJSON, TypesJSON, which cmd/riakgo decodes too);
// failures carry {"error": "..."} with a 4xx status, and invalid
// properties {"error": "...", "reasons": {property: why}}.

// TypeJSON is a bucket type as the bucket-type routes answer it.
type TypeJSON struct {
	Name   string         `json:"name"`
	Status string         `json:"status"`
	Active bool           `json:"active"`
	Props  map[string]any `json:"props,omitempty"`
	// Have and Lack (status only) are the members that hold the type's
	// current definition and those that do not yet.
	Have []string `json:"members_with,omitempty"`
	Lack []string `json:"members_without,omitempty"`
}

// TypesJSON is the answer of GET /admin/bucket-types.
type TypesJSON struct {
	Types []TypeJSON `json:"types"`
}

func typeToJSON(t kv.TypeInfo, withProps bool) TypeJSON {
	out := TypeJSON{Name: t.Name, Status: string(t.Status), Active: t.Status == kv.TypeActive}
	for _, n := range t.Have {
		out.Have = append(out.Have, string(n))
	}
	for _, n := range t.Lack {
		out.Lack = append(out.Lack, string(n))
	}
	if withProps && t.Status != kv.TypeUndefined {
		out.Props = t.Props.JSON(t.Name)
		delete(out.Props, "name")
		out.Props["active"] = out.Active
	}
	return out
}

func jsonError(w nethttp.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// SecurityAdmin runs riak-admin's security verbs (internal/security).
type SecurityAdmin interface {
	// Command runs one verb given as riak-admin's arguments and returns
	// what riak-admin prints; a refused command is a
	// *security.CommandError.
	Command(ctx context.Context, args []string) (string, error)
}

// serveSecurity is POST /admin/security, body {"args":["add-user","u",…]}:
// 200 {"output":"…"} or 400 {"error":"riak-admin's text"}.
func (h *Handler) serveSecurity(w nethttp.ResponseWriter, r *nethttp.Request) {
	if h.o.SecurityAdmin == nil {
		jsonError(w, 501, "security is not available on this node")
		return
	}
	if !allow(w, r, "POST") {
		return
	}
	var body struct {
		Args []string `json:"args"`
	}
	if !readJSONBody(w, r, &body) {
		return
	}
	out, err := h.o.SecurityAdmin.Command(r.Context(), body.Args)
	var ce *security.CommandError
	switch {
	case errors.As(err, &ce):
		jsonError(w, 400, ce.Msg)
	case err != nil:
		jsonError(w, 500, err.Error())
	default:
		writeJSON(w, 200, map[string]string{"output": out})
	}
}

func (h *Handler) serveAdmin(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	rest := rt.rest
	if len(rest) == 1 && rest[0] == "security" {
		h.serveSecurity(w, r)
		return
	}
	if len(rest) > 0 && (rest[0] == "cluster" || rest[0] == "member-status" || rest[0] == "ring-status" || rest[0] == "transfers" ||
		rest[0] == "aae-status" || rest[0] == "aae-rebuild" || rest[0] == "down") {
		h.serveCluster(w, r, rest)
		return
	}
	if isRepairRoute(rest) && h.o.Cluster != nil {
		h.serveRepair(w, r, rest)
		return
	}
	if len(rest) == 0 || rest[0] != "bucket-types" {
		notFound(w)
		return
	}
	switch len(rest) {
	case 1:
		if !allow(w, r, "GET", "HEAD") {
			return
		}
		var out TypesJSON
		for _, t := range h.c.ListTypes() {
			out.Types = append(out.Types, typeToJSON(t, false))
		}
		writeJSON(w, 200, out)
	case 2:
		name := rest[1]
		switch r.Method {
		case "GET", "HEAD":
			t := h.c.TypeStatus(name)
			if t.Status == kv.TypeUndefined {
				writeJSON(w, 404, typeToJSON(t, false))
				return
			}
			writeJSON(w, 200, typeToJSON(t, true))
		case "PUT", "POST":
			props, ok := readTypeProps(w, r, true)
			if !ok {
				return
			}
			if err := h.c.CreateType(name, props); err != nil {
				h.typeError(w, err, name)
				return
			}
			writeJSON(w, 200, typeToJSON(h.c.TypeInfo(name), true))
		default:
			allow(w, r, "GET", "HEAD", "PUT")
		}
	case 3:
		name := rest[1]
		switch {
		case rest[2] == "activate" && r.Method == "POST":
			if err := h.c.ActivateType(name); err != nil {
				h.typeError(w, err, name)
				return
			}
			writeJSON(w, 200, typeToJSON(h.c.TypeInfo(name), true))
		case rest[2] == "props" && r.Method == "PUT":
			props, ok := readTypeProps(w, r, false)
			if !ok {
				return
			}
			if err := h.c.UpdateType(name, props); err != nil {
				h.typeError(w, err, name)
				return
			}
			writeJSON(w, 200, typeToJSON(h.c.TypeInfo(name), true))
		case rest[2] == "activate":
			allow(w, r, "POST")
		case rest[2] == "props":
			allow(w, r, "PUT")
		default:
			notFound(w)
		}
	default:
		notFound(w)
	}
}

// readTypeProps reads a {"props":{…}} body; an empty body is {} when
// allowed (riak-admin bucket-type create T ”).
func readTypeProps(w nethttp.ResponseWriter, r *nethttp.Request, emptyOK bool) (map[string]json.RawMessage, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		jsonError(w, 400, "could not read the request body: "+err.Error())
		return nil, false
	}
	if len(strings.TrimSpace(string(body))) == 0 && emptyOK {
		return map[string]json.RawMessage{}, true
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		jsonError(w, 400, "invalid json: "+err.Error())
		return nil, false
	}
	raw, ok := doc["props"]
	if !ok {
		jsonError(w, 400, "no props field found in json")
		return nil, false
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil || props == nil {
		jsonError(w, 400, "props must be a JSON object")
		return nil, false
	}
	return props, true
}

func (h *Handler) typeError(w nethttp.ResponseWriter, err error, name string) {
	var pe *kv.PropsError
	var nr *kv.NotReadyError
	switch {
	case errors.As(err, &pe):
		writeJSON(w, 400, map[string]any{"error": "invalid bucket type properties", "reasons": pe.Reasons})
	case errors.Is(err, kv.ErrUnknownType):
		jsonError(w, 404, name+" is not an existing bucket type")
	case errors.Is(err, kv.ErrTypeExists), errors.Is(err, kv.ErrTypeNotActive):
		jsonError(w, 409, kv.UserMessage(err))
	case errors.Is(err, kv.ErrTypeName):
		jsonError(w, 400, kv.UserMessage(err))
	case errors.As(err, &nr):
		jsonError(w, 409, kv.UserMessage(err))
	case errors.Is(err, kv.ErrUnconfirmed):
		jsonError(w, 503, err.Error())
	default:
		jsonError(w, 500, err.Error())
	}
}
