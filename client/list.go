package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Listing walks every key of the cluster's storage; Riak's docs call it
// expensive and not for production request paths. The Stream variants
// decode the server's chunked sequence of {"keys":[…]} (or
// {"buckets":[…]}) objects one object at a time, so memory stays bounded
// by the largest chunk whatever the number of names.

// ListBuckets returns the names of the buckets of type typ ("" for the
// default type) that hold objects.
func (c *Client) ListBuckets(ctx context.Context, typ string) ([]string, error) {
	return c.listAll(ctx, bucketsPath(typ), "buckets")
}

// StreamBuckets calls fn with each chunk of bucket names as it arrives.
// An error from fn stops the listing and is returned.
func (c *Client) StreamBuckets(ctx context.Context, typ string, fn func(buckets []string) error) error {
	return c.stream(ctx, bucketsPath(typ), "buckets", fn)
}

// ListKeys returns the keys of a bucket. Keys of deleted objects whose
// tombstones have not been reaped are included, as in Riak.
func (c *Client) ListKeys(ctx context.Context, typ, bucket string) ([]string, error) {
	if bucket == "" {
		return nil, fmt.Errorf("%w: the bucket name is empty", ErrInvalidArgument)
	}
	return c.listAll(ctx, bucketPath(typ, bucket)+"/keys", "keys")
}

// StreamKeys calls fn with each chunk of a bucket's keys as it arrives.
// fn may keep the slice. An error from fn stops the listing (the request
// is cancelled) and is returned.
func (c *Client) StreamKeys(ctx context.Context, typ, bucket string, fn func(keys []string) error) error {
	if bucket == "" {
		return fmt.Errorf("%w: the bucket name is empty", ErrInvalidArgument)
	}
	return c.stream(ctx, bucketPath(typ, bucket)+"/keys", "keys", fn)
}

// listChunk is one object of a listing: {"keys":[…]} or {"buckets":[…]},
// or {"error":…} when the server gave up.
type listChunk struct {
	Keys    []string        `json:"keys"`
	Buckets []string        `json:"buckets"`
	Error   json.RawMessage `json:"error"`
}

func (l *listChunk) names(field string) []string {
	if field == "keys" {
		return l.Keys
	}
	return l.Buckets
}

func listRequest(path, field, mode string) *request {
	h := http.Header{}
	h.Set("Accept", "application/json")
	return &request{method: "GET", path: path, query: url.Values{field: {mode}}, header: h}
}

func (c *Client) listAll(ctx context.Context, path, field string) ([]string, error) {
	r := listRequest(path, field, "true")
	rep, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if rep.status != http.StatusOK {
		return nil, r.fail(rep.status, rep.header, rep.body)
	}
	var ch listChunk
	if err := json.Unmarshal(rep.body, &ch); err != nil {
		return nil, fmt.Errorf("riakgo/client: %s %s: %w: %v", r.method, r.path, ErrBadResponse, err)
	}
	if len(ch.Error) > 0 {
		return nil, fmt.Errorf("riakgo/client: %s %s: %w: %s", r.method, r.path, ErrStreamAborted, ch.Error)
	}
	names := ch.names(field)
	if names == nil {
		names = []string{}
	}
	return names, nil
}

func (c *Client) stream(ctx context.Context, path, field string, fn func([]string) error) error {
	if fn == nil {
		return fmt.Errorf("%w: nil callback", ErrInvalidArgument)
	}
	r := listRequest(path, field, "stream")
	resp, err := c.open(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r.failStream(resp)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var ch listChunk
		err := dec.Decode(&ch)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return r.decodeError(err)
		}
		if len(ch.Error) > 0 {
			return fmt.Errorf("riakgo/client: %s %s: %w: %s", r.method, r.path, ErrStreamAborted, ch.Error)
		}
		if names := ch.names(field); len(names) > 0 {
			if err := fn(names); err != nil {
				return err
			}
		}
	}
}

// decodeError wraps an error of a JSON decoder reading an answer: a
// malformed or truncated answer is ErrBadResponse, anything else (a
// cancelled context, a broken connection) is wrapped as it is.
func (r *request) decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("riakgo/client: %s %s: %w: %v", r.method, r.path, ErrBadResponse, err)
	}
	return fmt.Errorf("riakgo/client: %s %s: %w", r.method, r.path, err)
}
