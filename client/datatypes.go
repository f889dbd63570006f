package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Data types (CRDTs) live in buckets of a type whose datatype property is
// counter, set, map, hll or gset; they are read and updated as JSON under
// /types/T/buckets/B/datatypes/K. Removals from sets and maps need the
// Context of an earlier fetch; additions and counter changes do not.

// Datatype is a fetched (or returned) data type.
type Datatype struct {
	// Type is counter, set, map, hll or gset.
	Type string `json:"type"`
	// Value is the value's JSON: a number for counter and hll, an array
	// of strings for set and gset, an object for map (fields named
	// <name>_<type>).
	Value json.RawMessage `json:"value,omitempty"`
	// Context is the opaque causal context removals need.
	Context string `json:"context,omitempty"`
	// Key is the key written (the generated key after an update without
	// a key); empty after a fetch.
	Key string `json:"-"`
}

// Decode unmarshals Value into v.
func (d *Datatype) Decode(v any) error {
	if len(d.Value) == 0 {
		return fmt.Errorf("%w: the data type has no value", ErrBadResponse)
	}
	return json.Unmarshal(d.Value, v)
}

// Counter returns the value of a counter (or the estimate of an hll).
func (d *Datatype) Counter() (int64, error) {
	var n int64
	err := d.Decode(&n)
	return n, err
}

// Set returns the members of a set or gset.
func (d *Datatype) Set() ([]string, error) {
	var s []string
	err := d.Decode(&s)
	return s, err
}

// Map returns the fields of a map, by <name>_<type>.
func (d *Datatype) Map() (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	err := d.Decode(&m)
	return m, err
}

// DatatypeOptions tune data-type calls. The zero value uses the bucket's
// properties, asks for the context on fetches and returns no body on
// updates.
type DatatypeOptions struct {
	R, PR, W, DW, PW Quorum
	BasicQuorum      *bool
	NotFoundOK       *bool
	// ReturnBody makes an update return the new value.
	ReturnBody bool
	// IncludeContext false leaves the context out of answers.
	IncludeContext *bool
	// Timeout is the server-side timeout (the server's default if zero).
	Timeout time.Duration
}

func (o *DatatypeOptions) values(write bool) (url.Values, error) {
	q := url.Values{}
	if o == nil {
		return q, nil
	}
	quorums := []struct {
		name string
		v    Quorum
	}{{"r", o.R}, {"pr", o.PR}}
	if write {
		quorums = []struct {
			name string
			v    Quorum
		}{{"w", o.W}, {"dw", o.DW}, {"pw", o.PW}}
		if o.ReturnBody {
			q.Set("returnbody", "true")
		}
	} else {
		setBool(q, "basic_quorum", o.BasicQuorum)
		setBool(q, "notfound_ok", o.NotFoundOK)
	}
	for _, p := range quorums {
		if err := setQuorum(q, p.name, p.v); err != nil {
			return nil, err
		}
	}
	setBool(q, "include_context", o.IncludeContext)
	if err := setTimeout(q, o.Timeout); err != nil {
		return nil, err
	}
	return q, nil
}

func datatypePath(loc Loc) string {
	p := "/types/" + seg(loc.Type) + "/buckets/" + seg(loc.Bucket) + "/datatypes"
	if loc.Key != "" {
		p += "/" + seg(loc.Key)
	}
	return p
}

func checkDatatypeLoc(loc Loc, needKey bool) error {
	if loc.Type == "" {
		return fmt.Errorf("%w: data types need a bucket type whose datatype property is set", ErrInvalidArgument)
	}
	return loc.check(needKey)
}

// FetchDatatype reads the data type at loc. A missing one answers a
// *NotFoundError.
func (c *Client) FetchDatatype(ctx context.Context, loc Loc, opts *DatatypeOptions) (*Datatype, error) {
	if err := checkDatatypeLoc(loc, true); err != nil {
		return nil, err
	}
	q, err := opts.values(false)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Accept", "application/json")
	r := &request{method: "GET", path: datatypePath(loc), query: q, header: h}
	rep, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	switch rep.status {
	case http.StatusOK:
		d, err := decodeDatatype(r, rep)
		if err != nil {
			return nil, err
		}
		return d, nil
	case http.StatusNotFound:
		var nf struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(rep.body, &nf) == nil && nf.Error == "notfound" {
			return nil, &NotFoundError{Loc: loc, Deleted: strings.EqualFold(rep.header.Get(hdrDeleted), "true")}
		}
	}
	return nil, r.fail(rep.status, rep.header, rep.body)
}

func decodeDatatype(r *request, rep *reply) (*Datatype, error) {
	var d Datatype
	if err := json.Unmarshal(rep.body, &d); err != nil || d.Type == "" {
		return nil, fmt.Errorf("riakgo/client: %s %s: %w: not a data type object", r.method, r.path, ErrBadResponse)
	}
	return &d, nil
}

// UpdateDatatype sends one data-type operation (the JSON of §11.2 of the
// Riak HTTP reference, e.g. {"increment":1} or {"add_all":["a"]}) with an
// optional context. With an empty loc.Key the server generates the key,
// returned in Datatype.Key. The result carries the new value only with
// opts.ReturnBody.
func (c *Client) UpdateDatatype(ctx context.Context, loc Loc, op any, dtContext string, opts *DatatypeOptions) (*Datatype, error) {
	if err := checkDatatypeLoc(loc, false); err != nil {
		return nil, err
	}
	if dtContext != "" {
		m, ok := op.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: a context goes with an object operation (a JSON object), not %T", ErrInvalidArgument, op)
		}
		withCtx := make(map[string]any, len(m)+1)
		for k, v := range m {
			withCtx[k] = v
		}
		withCtx["context"] = dtContext
		op = withCtx
	}
	body, err := json.Marshal(op)
	if err != nil {
		return nil, fmt.Errorf("%w: operation: %v", ErrInvalidArgument, err)
	}
	q, err := opts.values(true)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	r := &request{method: "POST", path: datatypePath(loc), query: q, header: h, body: body}
	rep, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	out := &Datatype{Key: loc.Key}
	switch rep.status {
	case http.StatusNoContent:
	case http.StatusOK, http.StatusCreated:
		if rep.status == http.StatusCreated {
			key, err := keyFromLocation(rep.header.Get("Location"))
			if err != nil {
				return nil, fmt.Errorf("riakgo/client: %s %s: %w", r.method, r.path, err)
			}
			out.Key = key
		}
		if len(strings.TrimSpace(string(rep.body))) > 0 {
			d, err := decodeDatatype(r, rep)
			if err != nil {
				return nil, err
			}
			d.Key = out.Key
			out = d
		}
	default:
		return nil, r.fail(rep.status, rep.header, rep.body)
	}
	return out, nil
}

// UpdateCounter adds delta (negative to decrement) to the counter at loc:
// {"increment":delta}.
func (c *Client) UpdateCounter(ctx context.Context, loc Loc, delta int64, opts *DatatypeOptions) (*Datatype, error) {
	return c.UpdateDatatype(ctx, loc, map[string]any{"increment": delta}, "", opts)
}

// UpdateSet adds and removes members of the set at loc:
// {"add_all":[…],"remove_all":[…],"context":"…"}. Removals need the
// context of an earlier fetch.
func (c *Client) UpdateSet(ctx context.Context, loc Loc, adds, removes []string, dtContext string, opts *DatatypeOptions) (*Datatype, error) {
	if len(adds) == 0 && len(removes) == 0 {
		return nil, fmt.Errorf("%w: a set update needs members to add or remove", ErrInvalidArgument)
	}
	op := map[string]any{}
	if len(adds) > 0 {
		op["add_all"] = adds
	}
	if len(removes) > 0 {
		op["remove_all"] = removes
	}
	return c.UpdateDatatype(ctx, loc, op, dtContext, opts)
}

// UpdateHLL adds elements to the HyperLogLog at loc: {"add_all":[…]}.
func (c *Client) UpdateHLL(ctx context.Context, loc Loc, adds []string, opts *DatatypeOptions) (*Datatype, error) {
	if len(adds) == 0 {
		return nil, fmt.Errorf("%w: an hll update needs elements to add", ErrInvalidArgument)
	}
	return c.UpdateDatatype(ctx, loc, map[string]any{"add_all": adds}, "", opts)
}

// UpdateMap applies a map operation, {"update":{"<name>_<type>": op, …},
// "remove":["<name>_<type>", …]}, with the context of an earlier fetch
// (needed for removals). Embedded operations follow the top-level ones:
// {"increment":n} for a counter, {"add_all":[…]} for a set, {"assign":v}
// for a register, "enable"/"disable" for a flag, a nested map operation
// for a map.
func (c *Client) UpdateMap(ctx context.Context, loc Loc, op map[string]any, dtContext string, opts *DatatypeOptions) (*Datatype, error) {
	if len(op) == 0 {
		return nil, fmt.Errorf("%w: an empty map operation", ErrInvalidArgument)
	}
	return c.UpdateDatatype(ctx, loc, op, dtContext, opts)
}
