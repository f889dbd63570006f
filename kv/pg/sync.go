package pg

import (
	"context"
	"maps"
	"slices"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// pgSetMember is one member's wanted state in a sync.
type pgSetMember struct {
	ID    string `msgpack:"i"`
	Count int    `msgpack:"c"`
	Meta  string `msgpack:"m,omitempty"` // the envelope (encodePGMeta)
}

// pgSetReq is MsgPGSet's body: bring owner Node's members (at incarnation
// Inc) in the group to Members (ids not listed: none). An empty Node is a
// prune only. Base, if set, is an encoded dt.PG merged first.
type pgSetReq struct {
	Type    string        `msgpack:"t"`
	Bucket  string        `msgpack:"b"`
	Key     string        `msgpack:"k"`
	Node    string        `msgpack:"n,omitempty"`
	Inc     uint64        `msgpack:"inc,omitempty"`
	Members []pgSetMember `msgpack:"m,omitempty"`
	Base    []byte        `msgpack:"base,omitempty"`
}

// pgSetResp answers MsgPGSet: the coordinator's resulting state.
type pgSetResp struct {
	Value []byte `msgpack:"v,omitempty"`
}

// coordinator is the node that coordinates writes of k: the first primary
// up, else this node (a fallback vnode).
func (p *Service) coordinator(k kv.Key, props kv.Props) ring.NodeID {
	return p.s.Coordinator(k, props.NVal)
}

func (p *Service) send(ctx context.Context, k kv.Key, node ring.NodeID, req *pgSetReq) (*dt.PG, error) {
	if node == p.s.Node() || !p.remote {
		return p.apply(ctx, k, req)
	}
	ctx, cancel := clock.WithTimeout(ctx, p.s.Clock(), p.s.Timeout())
	defer cancel()
	var resp pgSetResp
	if err := p.s.Call(ctx, node, wire.MsgPGSet, req, &resp); err != nil {
		return nil, err
	}
	return decodePGValue(resp.Value)
}

func decodePGValue(b []byte) (*dt.PG, error) {
	if len(b) == 0 {
		return &dt.PG{}, nil
	}
	v, err := dt.Unmarshal(b)
	if err != nil {
		return nil, err
	}
	g, ok := v.(*dt.PG)
	if !ok {
		return nil, kv.UserErrorf(kv.ErrNotDatatype, "pg value of kind %s", v.Kind())
	}
	return g, nil
}

func (p *Service) handleSet(ctx context.Context, from transport.NodeID, body transport.Body) (any, error) {
	var req pgSetReq
	if err := body.Decode(&req); err != nil {
		return nil, err
	}
	v, err := p.apply(ctx, kv.Key{Type: req.Type, Bucket: req.Bucket, Key: req.Key}, &req)
	if err != nil {
		return nil, err
	}
	b, err := v.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return pgSetResp{Value: b}, nil
}

// apply coordinates req at a local vnode of k. A sync whose caller has
// given up (ctx done: the deadline the transport carries from the owner)
// is not applied, even after waiting for the key's lock: the owner has
// seen it fail and will repair the group, and a late sync must not land
// after that repair.
func (p *Service) apply(ctx context.Context, k kv.Key, req *pgSetReq) (*dt.PG, error) {
	if _, err := p.checkKey(k); err != nil {
		return nil, err
	}
	if err := p.checkSync(req); err != nil {
		return nil, err
	}
	var pruned int
	mutate := p.syncMutation(ctx, req, &pruned)
	body, err := wire.MarshalBody(req)
	if err != nil {
		return nil, err
	}
	// Coordinated here (the usual case: this node is the key's first
	// primary), the closure runs, with its abandonment check and prune
	// count; coordinated elsewhere, the sync travels as data.
	obj, err := p.s.Update(ctx, k, kv.NewUpdate(updateKind, body, mutate), kv.Options{ReturnBody: true})
	if err != nil {
		return nil, err
	}
	p.prunes.Add(int64(pruned))
	v, err := kv.MergeDatatype(dt.KindPG, obj)
	if err != nil || v == nil {
		return &dt.PG{}, err
	}
	g := v.(*dt.PG)
	p.pruneDead(g) // what the caller sees: concurrent siblings may hold more
	return g, nil
}

// syncMutation is the mutation of a sync: merge the replica's value (and
// the request's base), prune the members of dead incarnations (counted in
// *pruned) and bring the owner's members to the request's.
func (p *Service) syncMutation(ctx context.Context, req *pgSetReq, pruned *int) kv.Mutation {
	return func(local *siblings.Object, actor vclock.Actor) (siblings.Sibling, error) {
		if err := ctx.Err(); err != nil {
			return siblings.Sibling{}, kv.UserErrorf(kv.ErrUnavailable, "pg sync abandoned by its caller: %v", err)
		}
		cur, err := kv.MergeDatatype(dt.KindPG, local)
		if err != nil {
			return siblings.Sibling{}, err
		}
		g, _ := cur.(*dt.PG)
		if g == nil {
			g = &dt.PG{}
		}
		if len(req.Base) > 0 {
			base, err := decodePGValue(req.Base)
			if err != nil {
				return siblings.Sibling{}, err
			}
			if err := g.Merge(base); err != nil {
				return siblings.Sibling{}, err
			}
		}
		*pruned = p.pruneDead(g)
		if req.Node != "" {
			if op := pgSyncOp(g, req); len(op.Edits) > 0 {
				if added := p.newMembers(g, req); added > 0 && g.Len()+added > p.cfg.MaxMembers {
					return siblings.Sibling{}, kv.UserErrorf(ErrFull, "%d members, at most %d", g.Len(), p.cfg.MaxMembers)
				}
				if err := g.Apply(op, actor, dt.Context{}); err != nil {
					return siblings.Sibling{}, err
				}
			}
		}
		b, err := g.MarshalBinary()
		if err != nil {
			return siblings.Sibling{}, err
		}
		return siblings.Sibling{Value: b, Meta: siblings.Meta{ContentType: kv.DatatypeContentType(dt.KindPG)}}, nil
	}
}

// decodeUpdate is the UpdateDecoder of syncs coordinated on another node
// than the one that received them (its ring moved meanwhile).
func (p *Service) decodeUpdate(b []byte) (kv.Mutation, error) {
	var req pgSetReq
	if err := wire.DecodeBody(b, &req); err != nil {
		return nil, err
	}
	if err := p.checkSync(&req); err != nil {
		return nil, err
	}
	var pruned int
	return p.syncMutation(context.Background(), &req, &pruned), nil
}

// checkSync refuses a sync without an owner incarnation, or from a dead
// one.
func (p *Service) checkSync(req *pgSetReq) error {
	if req.Node != "" {
		if req.Inc == 0 || validName("node", req.Node) != nil {
			return kv.UserErrorf(ErrBadRequest, "pg sync without an owner incarnation")
		}
		if p.dead(req.Node, req.Inc) {
			return kv.UserErrorf(ErrStale, "%s incarnation %d", req.Node, req.Inc)
		}
	}
	return nil
}

// newMembers counts the members req adds that g does not hold.
func (p *Service) newMembers(g *dt.PG, req *pgSetReq) int {
	have := map[string]bool{}
	for _, e := range g.MembersOf(req.Node) {
		if e.Incarnation == req.Inc {
			have[e.ID] = true
		}
	}
	n := 0
	for _, m := range req.Members {
		if !have[m.ID] {
			n++
		}
	}
	return n
}

// pgSyncOp returns the edits that bring g's members of (req.Node,
// req.Inc) to req.Members.
func pgSyncOp(g *dt.PG, req *pgSetReq) dt.PGOp {
	op := dt.PGOp{Node: req.Node, Incarnation: req.Inc}
	have := map[string]dt.PGEntry{}
	for _, e := range g.MembersOf(req.Node) {
		if e.Incarnation == req.Inc {
			have[e.ID] = e
		}
	}
	want := map[string]bool{}
	for _, m := range req.Members {
		want[m.ID] = true
		e, ok := have[m.ID]
		switch {
		case m.Count <= 0:
			if ok {
				op = op.LeaveAll(m.ID)
			}
		case ok && e.Meta != m.Meta:
			op = op.LeaveAll(m.ID)
			for range m.Count {
				op = op.Join(m.ID, m.Meta)
			}
		case m.Count > e.Count:
			for range m.Count - e.Count {
				op = op.Join(m.ID, m.Meta)
			}
		case m.Count < e.Count:
			for range e.Count - m.Count {
				op = op.Leave(m.ID)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(have)) {
		if !want[id] {
			op = op.LeaveAll(id)
		}
	}
	return op
}

// pruneDead removes from g the members that cluster membership proves
// gone and returns how many it removed.
func (p *Service) pruneDead(g *dt.PG) int {
	n := 0
	seen := map[string]bool{}
	for _, e := range g.Members() {
		if seen[e.Node] {
			continue
		}
		seen[e.Node] = true
		v := p.view(e.Node)
		switch {
		case v.Removed:
			n += g.PruneNode(e.Node)
		case v.Incarnation > 0:
			n += g.PruneIncarnation(e.Node, v.Incarnation)
		}
	}
	return n
}

// prune writes a prune of group k (a read saw members of dead owners),
// unless one is already under way.
func (p *Service) prune(k kv.Key) {
	gk := pgk(k)
	p.mu.Lock()
	if p.pruning[gk] {
		p.mu.Unlock()
		return
	}
	p.pruning[gk] = true
	p.mu.Unlock()
	started := p.s.Go(func(base context.Context) {
		defer func() {
			p.mu.Lock()
			delete(p.pruning, gk)
			p.mu.Unlock()
		}()
		props, err := p.checkKey(k)
		if err == nil {
			ctx, cancel := clock.WithTimeout(base, p.s.Clock(), p.s.Timeout())
			_, err = p.send(ctx, k, p.coordinator(k, props), &pgSetReq{Type: k.Type, Bucket: k.Bucket, Key: k.Key})
			cancel()
		}
		if err != nil {
			p.log.Debug("pg prune", "key", k.String(), "err", err)
		}
	})
	if !started {
		p.mu.Lock()
		delete(p.pruning, gk)
		p.mu.Unlock()
	}
}
