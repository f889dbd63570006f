package pg

import (
	"context"
	"errors"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/kv"
)

func (p *Service) lock(k pgKey) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(k.typ))
	h.Write([]byte{0})
	h.Write([]byte(k.bucket))
	h.Write([]byte{0})
	h.Write([]byte(k.group))
	return &p.locks[h.Sum32()%uint32(len(p.locks))]
}

// Join adds o.Count instances of the member id (owned by this node) to
// group k and returns its count. Metadata replaces the member's previous
// metadata; a TTL starts or renews the member's lease (Heartbeat).
func (p *Service) Join(ctx context.Context, k kv.Key, id string, o JoinOpts) (int, error) {
	if err := validName("member id", id); err != nil {
		return 0, err
	}
	if o.Count == 0 {
		o.Count = 1
	}
	switch {
	case o.Count < 0 || o.Count > MaxCount:
		return 0, kv.UserErrorf(ErrBadRequest, "count must be 1..%d", MaxCount)
	case len(o.Meta) > MaxMeta:
		return 0, kv.UserErrorf(ErrBadRequest, "metadata over %d bytes", MaxMeta)
	case o.TTL < 0 || (o.TTL > 0 && o.TTL < minTTL):
		return 0, kv.UserErrorf(ErrBadRequest, "ttl must be at least %s", minTTL)
	}
	if _, err := p.checkKey(k); err != nil {
		return 0, err
	}
	gk := pgk(k)
	l := p.lock(gk)
	l.Lock()
	defer l.Unlock()
	p.joins.Add(1)
	now := p.s.Clock().Now()
	p.mu.Lock()
	want := maps.Clone(p.owned[gk])
	if want == nil {
		want = map[string]pgOwned{}
	}
	m, had := want[id]
	if !had {
		m.joined = now
	}
	if m.count+o.Count > MaxCount {
		p.mu.Unlock()
		return 0, kv.UserErrorf(ErrBadRequest, "the count would exceed %d", MaxCount)
	}
	m.count += o.Count
	if o.Meta != "" || !had {
		m.meta = o.Meta
	}
	want[id] = m
	p.mu.Unlock()
	if err := p.sync(ctx, gk, want, nil, false); err != nil {
		return 0, err
	}
	p.mu.Lock()
	if o.TTL > 0 {
		p.leases[id] = &pgLease{ttl: o.TTL, expires: now.Add(o.TTL)}
	}
	p.mu.Unlock()
	p.notify(ctx, gk)
	return m.count, nil
}

// Leave removes count instances (0 or more than it has: all) of the member
// id from group k and returns the count left.
func (p *Service) Leave(ctx context.Context, k kv.Key, id string, count int) (int, error) {
	if err := validName("member id", id); err != nil {
		return 0, err
	}
	if count < 0 {
		return 0, kv.UserErrorf(ErrBadRequest, "count must not be negative")
	}
	if _, err := p.checkKey(k); err != nil {
		return 0, err
	}
	gk := pgk(k)
	l := p.lock(gk)
	l.Lock()
	defer l.Unlock()
	return p.leaveLocked(ctx, gk, id, count)
}

func (p *Service) leaveLocked(ctx context.Context, gk pgKey, id string, count int) (int, error) {
	p.leaves.Add(1)
	p.mu.Lock()
	want := maps.Clone(p.owned[gk])
	m, ok := want[id]
	if !ok {
		p.mu.Unlock()
		return 0, kv.UserErrorf(ErrNotMember, "%q is not in group %q of %q on this node", id, gk.group, gk.bucket)
	}
	if count == 0 || count >= m.count {
		delete(want, id)
		m.count = 0
	} else {
		m.count -= count
		want[id] = m
	}
	p.mu.Unlock()
	if err := p.sync(ctx, gk, want, nil, true); err != nil {
		return 0, err
	}
	p.notify(ctx, gk)
	return m.count, nil
}

// LeaveAll removes the member id from every group it is in on this node
// and drops its lease; it returns the groups it left.
func (p *Service) LeaveAll(ctx context.Context, id string) ([]kv.Key, error) {
	if err := validName("member id", id); err != nil {
		return nil, err
	}
	p.mu.Lock()
	gks := slices.Collect(maps.Keys(p.groups[id]))
	delete(p.leases, id)
	p.mu.Unlock()
	if len(gks) == 0 {
		return nil, kv.UserErrorf(ErrNotMember, "%q is in no group on this node", id)
	}
	slices.SortFunc(gks, compareKey)
	var out []kv.Key
	var errs []error
	for _, gk := range gks {
		l := p.lock(gk)
		l.Lock()
		_, err := p.leaveLocked(ctx, gk, id, 0)
		l.Unlock()
		if err != nil && !errors.Is(err, ErrNotMember) {
			errs = append(errs, err)
			continue
		}
		out = append(out, gk.key())
	}
	return out, errors.Join(errs...)
}

func compareKey(a, b pgKey) int {
	if c := strings.Compare(a.typ, b.typ); c != 0 {
		return c
	}
	if c := strings.Compare(a.bucket, b.bucket); c != 0 {
		return c
	}
	return strings.Compare(a.group, b.group)
}

// Heartbeat renews the lease of member id for its TTL.
func (p *Service) Heartbeat(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.leases[id]
	if l == nil {
		return kv.UserErrorf(ErrNotMember, "%q has no lease on this node", id)
	}
	l.expires = p.s.Clock().Now().Add(l.ttl)
	return nil
}

// GroupsOf returns the groups member id is in on this node, with counts.
func (p *Service) GroupsOf(id string) map[kv.Key]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[kv.Key]int{}
	for gk := range p.groups[id] {
		out[gk.key()] = p.owned[gk][id].count
	}
	return out
}

// sync brings the stored group gk to want (this node's members in it) and
// records want as the owner's table. base, if set, is a state the
// coordinator merges first (a dirty group's repair). If the write fails,
// the table keeps want when keep is set (a leave: the owner means it, and
// the repair of the dirty group completes it) and goes back to what it was
// otherwise (a join: the client is told it failed and may retry, so the
// repair undoes whatever part of it was stored). The caller holds gk's
// lock.
func (p *Service) sync(ctx context.Context, gk pgKey, want map[string]pgOwned, base []byte, keep bool) error {
	req := p.request(gk, want)
	req.Base = base
	p.syncs.Add(1)
	var got *dt.PG
	props, err := p.checkKey(gk.key())
	if err == nil {
		node := p.coordinator(gk.key(), props)
		p.mu.Lock()
		last, had := p.coord[gk]
		p.coord[gk] = node
		p.mu.Unlock()
		if req.Base == nil && had && last != node {
			// A new coordinator may miss what the last one stored: it
			// merges the replicas' state first.
			if g, ferr := p.fetch(ctx, gk.key()); ferr == nil {
				req.Base, _ = g.MarshalBinary()
			}
		}
		got, err = p.send(ctx, gk.key(), node, &req)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.owned[gk]
	if err != nil && !keep {
		p.dirty[gk] = true
		return err
	}
	for id := range old {
		if _, ok := want[id]; !ok {
			delete(p.groups[id], gk)
			if len(p.groups[id]) == 0 {
				delete(p.groups, id)
			}
		}
	}
	for id := range want {
		if p.groups[id] == nil {
			p.groups[id] = map[pgKey]bool{}
		}
		p.groups[id][gk] = true
	}
	p.owned[gk] = want
	if err != nil || !p.agrees(got, &req) {
		p.dirty[gk] = true
		return err
	}
	delete(p.dirty, gk)
	if len(want) == 0 {
		delete(p.owned, gk)
		delete(p.coord, gk)
	}
	return nil
}

// request is the sync of this node's members want in group gk.
func (p *Service) request(gk pgKey, want map[string]pgOwned) pgSetReq {
	req := pgSetReq{Type: gk.typ, Bucket: gk.bucket, Key: gk.group, Node: p.self, Inc: p.cfg.Incarnation}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		m := want[id]
		req.Members = append(req.Members, pgSetMember{ID: id, Count: m.count, Meta: encodePGMeta(m.joined, m.meta)})
	}
	return req
}

// agrees reports whether the stored state v holds exactly req's members of
// req's owner incarnation.
func (p *Service) agrees(v *dt.PG, req *pgSetReq) bool {
	if v == nil {
		return false
	}
	var mine []dt.PGEntry
	for _, e := range v.MembersOf(req.Node) {
		if e.Incarnation == req.Inc {
			mine = append(mine, e)
		}
	}
	if len(mine) != len(req.Members) {
		return false
	}
	for i, e := range mine { // both sorted by id
		m := req.Members[i]
		if e.ID != m.ID || e.Count != m.Count || e.Meta != m.Meta {
			return false
		}
	}
	return true
}
