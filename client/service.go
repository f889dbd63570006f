package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
)

// Ping checks that the node answers GET /ping with OK.
func (c *Client) Ping(ctx context.Context) error {
	r := &request{method: "GET", path: "/ping"}
	rep, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if rep.status != http.StatusOK || string(bytes.TrimSpace(rep.body)) != "OK" {
		return r.fail(rep.status, rep.header, rep.body)
	}
	return nil
}

// Stats returns the node's /stats. Numbers are json.Number values, so
// that large counters keep every digit; riak_kv_version is among the
// fields.
func (c *Client) Stats(ctx context.Context) (map[string]any, error) {
	h := http.Header{}
	h.Set("Accept", "application/json")
	r := &request{method: "GET", path: "/stats", header: h}
	rep, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if rep.status != http.StatusOK {
		return nil, r.fail(rep.status, rep.header, rep.body)
	}
	dec := json.NewDecoder(bytes.NewReader(rep.body))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil || out == nil {
		return nil, fmt.Errorf("riakgo/client: %s %s: %w: not a JSON object", r.method, r.path, ErrBadResponse)
	}
	return out, nil
}

// PreflistEntry is one vnode of a key's preference list.
type PreflistEntry struct {
	// Partition is the partition's index on the ring (a 160-bit number).
	Partition *big.Int
	// Node is the name of the node that serves it.
	Node string
	// Primary is false for a fallback standing in for a down primary.
	Primary bool
}

// Preflist returns the vnodes that hold the object at loc.
func (c *Client) Preflist(ctx context.Context, loc Loc) ([]PreflistEntry, error) {
	if err := loc.check(true); err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Accept", "application/json")
	r := &request{method: "GET", path: loc.objectPath() + "/preflist", header: h}
	rep, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if rep.status != http.StatusOK {
		return nil, r.fail(rep.status, rep.header, rep.body)
	}
	var doc struct {
		Preflist []struct {
			Partition json.Number `json:"partition"`
			Node      string      `json:"node"`
			Primary   bool        `json:"primary"`
		} `json:"preflist"`
	}
	dec := json.NewDecoder(bytes.NewReader(rep.body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("riakgo/client: %s %s: %w: %v", r.method, r.path, ErrBadResponse, err)
	}
	out := make([]PreflistEntry, len(doc.Preflist))
	for i, e := range doc.Preflist {
		p, ok := new(big.Int).SetString(e.Partition.String(), 10)
		if !ok {
			return nil, fmt.Errorf("riakgo/client: %s %s: %w: partition %q", r.method, r.path, ErrBadResponse, e.Partition)
		}
		out[i] = PreflistEntry{Partition: p, Node: e.Node, Primary: e.Primary}
	}
	return out, nil
}
