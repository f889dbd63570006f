package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Props are the properties of a bucket or bucket type. The common ones
// have fields; Raw holds every property exactly as the server sent it,
// including those without a field.
type Props struct {
	Name          string `json:"name"`
	NVal          int    `json:"n_val"`
	R             Quorum `json:"r"`
	W             Quorum `json:"w"`
	DW            Quorum `json:"dw"`
	RW            Quorum `json:"rw"`
	PR            Quorum `json:"pr"`
	PW            Quorum `json:"pw"`
	AllowMult     bool   `json:"allow_mult"`
	LastWriteWins bool   `json:"last_write_wins"`
	DVVEnabled    bool   `json:"dvv_enabled"`
	NotFoundOK    bool   `json:"notfound_ok"`
	BasicQuorum   bool   `json:"basic_quorum"`
	YoungVClock   int64  `json:"young_vclock"`
	OldVClock     int64  `json:"old_vclock"`
	SmallVClock   int64  `json:"small_vclock"`
	BigVClock     int64  `json:"big_vclock"`
	Datatype      string `json:"datatype"`
	Consistent    bool   `json:"consistent"`
	WriteOnce     bool   `json:"write_once"`
	Active        bool   `json:"active"`
	Claimant      string `json:"claimant"`

	Raw map[string]json.RawMessage `json:"-"`
}

// UnmarshalJSON reads a props object leniently: a property whose JSON type
// does not fit its field leaves the field zero (it is still in Raw).
func (p *Props) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	type plain Props
	var out plain
	for name, v := range raw {
		one, _ := json.Marshal(map[string]json.RawMessage{name: v})
		_ = json.Unmarshal(one, &out) // a misfit leaves its field zero
	}
	*p = Props(out)
	p.Raw = raw
	return nil
}

// propsBody decodes {"props":{…}}.
func propsBody(r *request, rep *reply) (*Props, error) {
	var doc struct {
		Props *Props `json:"props"`
	}
	if err := json.Unmarshal(rep.body, &doc); err != nil || doc.Props == nil {
		return nil, fmt.Errorf("riakgo/client: %s %s: %w: not a {\"props\":{…}} object", r.method, r.path, ErrBadResponse)
	}
	return doc.Props, nil
}

func (c *Client) getProps(ctx context.Context, path string) (*Props, error) {
	h := http.Header{}
	h.Set("Accept", "application/json")
	r := &request{method: "GET", path: path, header: h}
	rep, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if rep.status != http.StatusOK {
		return nil, r.fail(rep.status, rep.header, rep.body)
	}
	return propsBody(r, rep)
}

func (c *Client) putProps(ctx context.Context, path string, props map[string]any) error {
	if len(props) == 0 {
		return fmt.Errorf("%w: no properties to set", ErrInvalidArgument)
	}
	body, err := json.Marshal(map[string]any{"props": props})
	if err != nil {
		return fmt.Errorf("%w: props: %v", ErrInvalidArgument, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	r := &request{method: "PUT", path: path, header: h, body: body}
	rep, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if rep.status != http.StatusNoContent && rep.status != http.StatusOK {
		return r.fail(rep.status, rep.header, rep.body)
	}
	return nil
}

// BucketProps returns a bucket's properties (typ "" for the default type).
func (c *Client) BucketProps(ctx context.Context, typ, bucket string) (*Props, error) {
	if bucket == "" {
		return nil, fmt.Errorf("%w: the bucket name is empty", ErrInvalidArgument)
	}
	return c.getProps(ctx, bucketPath(typ, bucket)+"/props")
}

// SetBucketProps changes the named properties of a bucket, for example
// {"allow_mult": true, "n_val": 5}. Properties not named keep their
// values. Invalid values answer an *Error with status 400 whose Body is the
// server's JSON object of reasons, such as {"n_val":"not_integer"}.
func (c *Client) SetBucketProps(ctx context.Context, typ, bucket string, props map[string]any) error {
	if bucket == "" {
		return fmt.Errorf("%w: the bucket name is empty", ErrInvalidArgument)
	}
	return c.putProps(ctx, bucketPath(typ, bucket)+"/props", props)
}

// ResetBucketProps drops a bucket's own properties, so that it follows its
// type's again.
func (c *Client) ResetBucketProps(ctx context.Context, typ, bucket string) error {
	if bucket == "" {
		return fmt.Errorf("%w: the bucket name is empty", ErrInvalidArgument)
	}
	r := &request{method: "DELETE", path: bucketPath(typ, bucket) + "/props"}
	rep, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if rep.status != http.StatusNoContent && rep.status != http.StatusOK {
		return r.fail(rep.status, rep.header, rep.body)
	}
	return nil
}

// TypeProps returns a bucket type's properties ("default" for the default
// type).
func (c *Client) TypeProps(ctx context.Context, typ string) (*Props, error) {
	if typ == "" {
		typ = "default"
	}
	return c.getProps(ctx, "/types/"+seg(typ)+"/props")
}

// SetTypeProps changes properties of an existing, active bucket type
// (riak-admin bucket-type update).
func (c *Client) SetTypeProps(ctx context.Context, typ string, props map[string]any) error {
	if typ == "" {
		return fmt.Errorf("%w: the bucket type name is empty", ErrInvalidArgument)
	}
	return c.putProps(ctx, "/types/"+seg(typ)+"/props", props)
}

// Bucket type states reported by TypeStatus.
const (
	TypeUndefined = "undefined" // no such type
	TypeCreated   = "created"   // created; not yet known to every node
	TypeReady     = "ready"     // created and may be activated
	TypeActive    = "active"
)

// TypeInfo describes a bucket type, as riakgo's admin routes report it.
type TypeInfo struct {
	Name   string `json:"name"`
	Status string `json:"status"` // TypeUndefined, TypeCreated, TypeReady or TypeActive
	Active bool   `json:"active"`
	Props  *Props `json:"props,omitempty"`
}

// adminType calls one of riakgo's /admin/bucket-types routes.
func (c *Client) adminType(ctx context.Context, method, path string, body []byte, into any) (*reply, error) {
	h := http.Header{}
	h.Set("Accept", "application/json")
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	r := &request{method: method, path: "/admin/bucket-types" + path, header: h, body: body}
	rep, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if rep.status != http.StatusOK {
		return rep, r.fail(rep.status, rep.header, rep.body)
	}
	if err := json.Unmarshal(rep.body, into); err != nil {
		return rep, fmt.Errorf("riakgo/client: %s %s: %w: %v", r.method, r.path, ErrBadResponse, err)
	}
	return rep, nil
}

// CreateType creates the bucket type name with props laid over the typed
// defaults (riak-admin bucket-type create). It can be repeated, with the
// last call winning, until the type is activated. This and the other
// *Type calls use riakgo's admin routes; Riak has no HTTP route for them.
func (c *Client) CreateType(ctx context.Context, name string, props map[string]any) (*TypeInfo, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: the bucket type name is empty", ErrInvalidArgument)
	}
	if props == nil {
		props = map[string]any{}
	}
	body, err := json.Marshal(map[string]any{"props": props})
	if err != nil {
		return nil, fmt.Errorf("%w: props: %v", ErrInvalidArgument, err)
	}
	var out TypeInfo
	if _, err := c.adminType(ctx, "PUT", "/"+seg(name), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ActivateType activates a created bucket type so that clients can use it.
func (c *Client) ActivateType(ctx context.Context, name string) (*TypeInfo, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: the bucket type name is empty", ErrInvalidArgument)
	}
	var out TypeInfo
	if _, err := c.adminType(ctx, "POST", "/"+seg(name)+"/activate", []byte{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TypeStatus reports a bucket type's state and properties. A type that
// does not exist is reported with Status TypeUndefined and no error.
func (c *Client) TypeStatus(ctx context.Context, name string) (*TypeInfo, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: the bucket type name is empty", ErrInvalidArgument)
	}
	var out TypeInfo
	rep, err := c.adminType(ctx, "GET", "/"+seg(name), nil, &out)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		var undef TypeInfo
		if json.Unmarshal(rep.body, &undef) == nil && undef.Status == TypeUndefined {
			undef.Name = name
			return &undef, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTypes lists the bucket types with their states (without props).
func (c *Client) ListTypes(ctx context.Context) ([]TypeInfo, error) {
	var out struct {
		Types []TypeInfo `json:"types"`
	}
	if _, err := c.adminType(ctx, "GET", "", nil, &out); err != nil {
		return nil, err
	}
	return out.Types, nil
}
