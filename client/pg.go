package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Process groups (riakgo's pg bucket type, docs/pg.md): services register
// members in named groups of a scope and find each other. A member is
// owned by the node it joined through; only that node can leave it, so a
// member should always be joined, left and heartbeated through the same
// Client (the same node).

// PGMember is one member of a group.
type PGMember struct {
	Node        string    `json:"node"`        // the owner node
	Incarnation uint64    `json:"incarnation"` // the owner's boot incarnation
	ID          string    `json:"id"`          // the member's id on its owner
	Count       int       `json:"count"`       // join count
	Meta        string    `json:"meta,omitempty"`
	JoinedAt    time.Time `json:"joined_at"`
	Local       bool      `json:"local"`     // owned by the node answering
	Connected   bool      `json:"connected"` // the owner is reachable from it
}

// PGEvent is one event of a watch: "snapshot" (the group's members when
// the watch starts or discovers it), "join" (members that joined or whose
// count grew) or "leave" (members that left, Count 0, or whose count
// shrank), each member with its new count.
type PGEvent struct {
	Type    string     `json:"type"`
	Bucket  string     `json:"bucket"`
	Group   string     `json:"group"`
	Members []PGMember `json:"members"`
}

// PGJoinOptions tune a join. The zero value joins once, without metadata
// or lease.
type PGJoinOptions struct {
	Count int           // instances to add (default 1)
	Meta  string        // the member's metadata, e.g. its address
	TTL   time.Duration // a lease that PGHeartbeat must renew within TTL
}

// PGScope names a pg scope: a bucket of a pg-typed bucket type ("pg" when
// Type is empty).
type PGScope struct {
	Type   string
	Bucket string
}

func (s PGScope) check() error {
	if s.Bucket == "" {
		return fmt.Errorf("%w: the scope (bucket) is empty", ErrInvalidArgument)
	}
	return nil
}

func (s PGScope) query() url.Values {
	q := url.Values{}
	if s.Type != "" {
		q.Set("type", s.Type)
	}
	return q
}

func pgPath(s PGScope, group string, rest ...string) string {
	p := "/pg/" + url.PathEscape(s.Bucket)
	if group != "" {
		p += "/" + url.PathEscape(group)
	}
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

func (c *Client) pgCall(ctx context.Context, method, path string, q url.Values, into any) error {
	h := http.Header{}
	h.Set("Accept", "application/json")
	r := &request{method: method, path: path, query: q, header: h}
	rep, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if rep.status != http.StatusOK {
		return r.fail(rep.status, rep.header, rep.body)
	}
	if into != nil {
		if err := json.Unmarshal(rep.body, into); err != nil {
			return fmt.Errorf("riakgo/client: %s %s: %w: %v", method, path, ErrBadResponse, err)
		}
	}
	return nil
}

func checkPG(s PGScope, group, id string) error {
	if err := s.check(); err != nil {
		return err
	}
	if group == "" {
		return fmt.Errorf("%w: the group is empty", ErrInvalidArgument)
	}
	if id == "" {
		return fmt.Errorf("%w: the member id is empty", ErrInvalidArgument)
	}
	return nil
}

// PGJoin joins member id to group, owned by the node this Client talks
// to, and returns its join count.
func (c *Client) PGJoin(ctx context.Context, s PGScope, group, id string, o *PGJoinOptions) (int, error) {
	if err := checkPG(s, group, id); err != nil {
		return 0, err
	}
	q := s.query()
	q.Set("id", id)
	if o != nil {
		if o.Count != 0 {
			q.Set("count", strconv.Itoa(o.Count))
		}
		if o.Meta != "" {
			q.Set("meta", o.Meta)
		}
		if o.TTL != 0 {
			q.Set("ttl", o.TTL.String())
		}
	}
	var out struct {
		Count int `json:"count"`
	}
	err := c.pgCall(ctx, "POST", pgPath(s, group, "join"), q, &out)
	return out.Count, err
}

// PGJoinHeld joins member id to group for as long as the returned
// connection stays open (a lease bound to the connection): Close leaves
// it. ctx bounds the whole membership.
func (c *Client) PGJoinHeld(ctx context.Context, s PGScope, group, id string) (io.Closer, error) {
	if err := checkPG(s, group, id); err != nil {
		return nil, err
	}
	q := s.query()
	q.Set("id", id)
	q.Set("lease", "connection")
	r := &request{method: "POST", path: pgPath(s, group, "join"), query: q, header: http.Header{}}
	resp, err := c.open(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, r.failStream(resp)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("riakgo/client: %s %s: %w: %v", r.method, r.path, ErrBadResponse, err)
	}
	return resp.Body, nil
}

// PGLeave removes count instances (0: all) of member id from group and
// returns the count left.
func (c *Client) PGLeave(ctx context.Context, s PGScope, group, id string, count int) (int, error) {
	if err := checkPG(s, group, id); err != nil {
		return 0, err
	}
	q := s.query()
	q.Set("id", id)
	if count != 0 {
		q.Set("count", strconv.Itoa(count))
	}
	var out struct {
		Count int `json:"count"`
	}
	err := c.pgCall(ctx, "POST", pgPath(s, group, "leave"), q, &out)
	return out.Count, err
}

// PGLeaveAll removes member id from every group it is in on the node and
// ends its lease.
func (c *Client) PGLeaveAll(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("%w: the member id is empty", ErrInvalidArgument)
	}
	return c.pgCall(ctx, "POST", "/pg-member/"+url.PathEscape(id)+"/leave-all", nil, nil)
}

// PGHeartbeat renews member id's lease.
func (c *Client) PGHeartbeat(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("%w: the member id is empty", ErrInvalidArgument)
	}
	return c.pgCall(ctx, "POST", "/pg-member/"+url.PathEscape(id)+"/heartbeat", nil, nil)
}

// PG member filters for PGMembers.
const (
	PGAll       = "all"       // every member the cluster has not proved gone
	PGLocal     = "local"     // members owned by the node answering
	PGRemote    = "remote"    // members owned by other nodes
	PGConnected = "connected" // members whose owner is reachable
)

// PGMembers returns the members of group selected by filter (PGAll,
// PGLocal, PGRemote, PGConnected, or "node:NAME" for one owner's).
func (c *Client) PGMembers(ctx context.Context, s PGScope, group, filter string) ([]PGMember, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if group == "" {
		return nil, fmt.Errorf("%w: the group is empty", ErrInvalidArgument)
	}
	q := s.query()
	if len(filter) > 5 && filter[:5] == "node:" {
		q.Set("filter", "node")
		q.Set("node", filter[5:])
	} else if filter != "" {
		q.Set("filter", filter)
	}
	var out struct {
		Members []PGMember `json:"members"`
	}
	err := c.pgCall(ctx, "GET", pgPath(s, group), q, &out)
	return out.Members, err
}

// PG pick strategies for PGPick.
const (
	PGPickRandom   = "random"   // weighted by join count
	PGPickClosest  = "closest"  // a member of the answering node if any
	PGPickFurthest = "furthest" // a member of another node if any
	PGPickOldest   = "oldest"
	PGPickNewest   = "newest"
	PGPickHash     = "hash" // rendezvous hash of key: stable per key
)

// PGPick chooses one connected member of group. key is the input of
// PGPickHash. No member answers an error matching ErrNotFound.
func (c *Client) PGPick(ctx context.Context, s PGScope, group, strategy, key string) (PGMember, error) {
	var m PGMember
	if err := s.check(); err != nil {
		return m, err
	}
	if group == "" {
		return m, fmt.Errorf("%w: the group is empty", ErrInvalidArgument)
	}
	q := s.query()
	if strategy != "" {
		q.Set("strategy", strategy)
	}
	if key != "" {
		q.Set("key", key)
	}
	err := c.pgCall(ctx, "GET", pgPath(s, group, "pick"), q, &m)
	return m, err
}

// PGGroups returns the non-empty groups of a scope.
func (c *Client) PGGroups(ctx context.Context, s PGScope) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var out struct {
		Groups []string `json:"groups"`
	}
	err := c.pgCall(ctx, "GET", pgPath(s, ""), s.query(), &out)
	return out.Groups, err
}

// PGWatch watches group (every group of the scope when group is empty)
// and calls fn with each event, a snapshot first, until ctx ends, fn
// returns an error (returned) or the server ends the stream (nil).
func (c *Client) PGWatch(ctx context.Context, s PGScope, group string, fn func(PGEvent) error) error {
	if err := s.check(); err != nil {
		return err
	}
	q := s.query()
	q.Set("watch", "true")
	r := &request{method: "GET", path: pgPath(s, group), query: q, header: http.Header{}}
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
		var ev PGEvent
		if err := dec.Decode(&ev); err != nil {
			if err == io.EOF || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("riakgo/client: %s %s: %w: %v", r.method, r.path, ErrStreamAborted, err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

// PGNodeStats are a node's process-group counters (GET /pg).
type PGNodeStats struct {
	Node        string           `json:"node"`
	Incarnation uint64           `json:"incarnation"`
	Stats       map[string]int64 `json:"stats"`
}

// PGStats returns the answering node's name, incarnation and pg counters.
func (c *Client) PGStats(ctx context.Context) (*PGNodeStats, error) {
	var out PGNodeStats
	if err := c.pgCall(ctx, "GET", "/pg", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
