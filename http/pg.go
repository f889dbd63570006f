package http

import (
	"context"
	"encoding/json"
	"errors"
	nethttp "net/http"
	"strconv"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/pg"
)

// Process groups (docs/pg.md): the /pg routes over a node's pg service.
//
//	GET  /pg                                      this node, its incarnation and pg counters
//	GET  /pg/SCOPE[?watch=true]                   non-empty groups (or a stream of events)
//	GET  /pg/SCOPE/GROUP[?filter=…&node=…]        members (or ?watch=true: a stream)
//	GET  /pg/SCOPE/GROUP/pick?strategy=…&key=…    one member
//	POST /pg/SCOPE/GROUP/join?id=…&count=…&meta=…&ttl=…[&lease=connection]
//	POST /pg/SCOPE/GROUP/leave?id=…&count=…
//	POST /pg-member/ID/heartbeat                  renew a TTL lease
//	POST /pg-member/ID/leave-all                  leave every group
//
// Every route takes ?type=T for a pg-typed bucket type other than "pg".

// ProcessGroups is what the /pg routes serve; pg.Service implements it.
type ProcessGroups interface {
	Self() (string, uint64)
	Join(ctx context.Context, k kv.Key, id string, o pg.JoinOpts) (int, error)
	Leave(ctx context.Context, k kv.Key, id string, count int) (int, error)
	LeaveAll(ctx context.Context, id string) ([]kv.Key, error)
	Heartbeat(id string) error
	Members(ctx context.Context, k kv.Key, f pg.Filter) ([]pg.MemberInfo, error)
	Pick(ctx context.Context, k kv.Key, strategy, key string) (pg.MemberInfo, error)
	Groups(ctx context.Context, typ, bucket string) ([]string, error)
	Watch(ctx context.Context, typ, bucket, group string) (<-chan pg.Event, func(), error)
	Stats() pg.Stats
}

var _ ProcessGroups = (*pg.Service)(nil)

// pgError maps process-group errors to statuses with a message.
func pgError(err error, k kv.Key) *apiError {
	msg := kv.UserMessage(err) + "\n"
	switch {
	case errors.Is(err, pg.ErrBadRequest), errors.Is(err, pg.ErrNotPG), errors.Is(err, kv.ErrBadKey):
		return &apiError{status: 400, body: msg}
	case errors.Is(err, pg.ErrNotMember), errors.Is(err, pg.ErrNoMember):
		return &apiError{status: 404, body: msg}
	case errors.Is(err, pg.ErrStale), errors.Is(err, pg.ErrFull):
		return &apiError{status: 409, body: msg}
	case errors.Is(err, kv.ErrUnknownType):
		return &apiError{status: 404, body: "Unknown bucket type: " + k.Type + "\n"}
	}
	return mapError(err, k)
}

func (h *Handler) servePG(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	p := h.o.PG
	if p == nil {
		textError(w, &apiError{status: 501, body: "Process groups are not available on this node\n"})
		return
	}
	q := r.URL.Query()
	typ := q.Get("type")
	if typ == "" {
		typ = pg.BucketType
	}
	segs := rt.rest
	switch len(segs) {
	case 0:
		if !allow(w, r, "GET", "HEAD") {
			return
		}
		node, inc := p.Self()
		writeJSON(w, 200, map[string]any{"node": node, "incarnation": inc, "stats": p.Stats()})
	case 1:
		if !allow(w, r, "GET", "HEAD") {
			return
		}
		k := kv.Key{Type: typ, Bucket: segs[0]}
		if q.Get("watch") == "true" {
			h.servePGWatch(w, r, k)
			return
		}
		groups, err := p.Groups(r.Context(), typ, segs[0])
		if err != nil {
			textError(w, pgError(err, k))
			return
		}
		if groups == nil {
			groups = []string{}
		}
		writeJSON(w, 200, map[string]any{"type": typ, "bucket": segs[0], "groups": groups})
	case 2:
		if !allow(w, r, "GET", "HEAD") {
			return
		}
		k := kv.Key{Type: typ, Bucket: segs[0], Key: segs[1]}
		if q.Get("watch") == "true" {
			h.servePGWatch(w, r, k)
			return
		}
		ms, err := p.Members(r.Context(), k, pg.Filter{Kind: q.Get("filter"), Node: q.Get("node")})
		if err != nil {
			textError(w, pgError(err, k))
			return
		}
		if ms == nil {
			ms = []pg.MemberInfo{}
		}
		writeJSON(w, 200, map[string]any{"type": typ, "bucket": segs[0], "group": segs[1], "members": ms})
	case 3:
		k := kv.Key{Type: typ, Bucket: segs[0], Key: segs[1]}
		switch segs[2] {
		case "pick":
			if !allow(w, r, "GET", "HEAD") {
				return
			}
			m, err := p.Pick(r.Context(), k, q.Get("strategy"), q.Get("key"))
			if err != nil {
				textError(w, pgError(err, k))
				return
			}
			writeJSON(w, 200, m)
		case "join":
			if !allow(w, r, "POST") {
				return
			}
			h.servePGJoin(w, r, k)
		case "leave":
			if !allow(w, r, "POST") {
				return
			}
			count, ae := intParam(q, "count", 0)
			if ae != nil {
				textError(w, ae)
				return
			}
			n, err := p.Leave(r.Context(), k, q.Get("id"), count)
			if err != nil {
				textError(w, pgError(err, k))
				return
			}
			writeJSON(w, 200, map[string]any{"id": q.Get("id"), "count": n})
		default:
			notFound(w)
		}
	default:
		notFound(w)
	}
}

func intParam(q map[string][]string, name string, def int) (int, *apiError) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badRequest("%s must be an integer, got %q\n", name, v)
	}
	return n, nil
}

func (h *Handler) servePGJoin(w nethttp.ResponseWriter, r *nethttp.Request, k kv.Key) {
	q := r.URL.Query()
	count, ae := intParam(q, "count", 1)
	if ae != nil {
		textError(w, ae)
		return
	}
	o := pg.JoinOpts{Count: count, Meta: q.Get("meta")}
	if count == 0 {
		textError(w, badRequest("count must be at least 1\n"))
		return
	}
	if s := q.Get("ttl"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			textError(w, badRequest("ttl must be a duration such as 30s, got %q\n", s))
			return
		}
		o.TTL = d
	}
	held := false
	switch q.Get("lease") {
	case "", "ttl":
	case "connection":
		held = true
		if o.TTL > 0 {
			textError(w, badRequest("lease=connection takes no ttl: the lease is the connection\n"))
			return
		}
	default:
		textError(w, badRequest("lease must be ttl or connection, got %q\n", q.Get("lease")))
		return
	}
	id := q.Get("id")
	n, err := h.o.PG.Join(r.Context(), k, id, o)
	if err != nil {
		textError(w, pgError(err, k))
		return
	}
	if !held {
		writeJSON(w, 200, map[string]any{"id": id, "count": n})
		return
	}
	// The lease is this connection: answer, then hold it open until the
	// client goes away, and leave what this request joined.
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(200)
	b, _ := json.Marshal(map[string]any{"id": id, "count": n, "lease": "connection"})
	w.Write(append(b, '\n'))
	if f, ok := w.(nethttp.Flusher); ok {
		f.Flush()
	}
	select {
	case <-r.Context().Done():
	case <-h.streams.Done():
	}
	ctx, cancel := clock.WithTimeout(clock.WithoutCancel(r.Context()), h.o.Clock, 30*time.Second)
	defer cancel()
	if _, err := h.o.PG.Leave(ctx, k, id, o.Count); err != nil && !errors.Is(err, pg.ErrNotMember) {
		h.log.Warn("pg: leaving a member whose connection closed", "id", id, "group", k.Key, "err", err)
	}
}

// servePGWatch streams a watch as newline-delimited JSON events until the
// client goes away.
func (h *Handler) servePGWatch(w nethttp.ResponseWriter, r *nethttp.Request, k kv.Key) {
	ch, cancel, err := h.o.PG.Watch(r.Context(), k.Type, k.Bucket, k.Key)
	if err != nil {
		textError(w, pgError(err, k))
		return
	}
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(200)
	f, _ := w.(nethttp.Flusher)
	if f != nil {
		f.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.streams.Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			b, _ := json.Marshal(ev)
			if _, err := w.Write(append(b, '\n')); err != nil {
				return
			}
			if f != nil {
				f.Flush()
			}
		}
	}
}

func (h *Handler) servePGMember(w nethttp.ResponseWriter, r *nethttp.Request, rt route) {
	p := h.o.PG
	if p == nil {
		textError(w, &apiError{status: 501, body: "Process groups are not available on this node\n"})
		return
	}
	if len(rt.rest) != 2 {
		notFound(w)
		return
	}
	if !allow(w, r, "POST") {
		return
	}
	id := rt.rest[0]
	switch rt.rest[1] {
	case "heartbeat":
		if err := p.Heartbeat(id); err != nil {
			textError(w, pgError(err, kv.Key{}))
			return
		}
		writeJSON(w, 200, map[string]any{"id": id})
	case "leave-all":
		left, err := p.LeaveAll(r.Context(), id)
		if err != nil && len(left) == 0 {
			textError(w, pgError(err, kv.Key{}))
			return
		}
		groups := []map[string]string{}
		for _, k := range left {
			groups = append(groups, map[string]string{"type": k.Type, "bucket": k.Bucket, "group": k.Key})
		}
		status := 200
		if err != nil {
			status = 503 // some groups could not be left yet; the owner retries
		}
		writeJSON(w, status, map[string]any{"id": id, "left": groups})
	default:
		notFound(w)
	}
}
