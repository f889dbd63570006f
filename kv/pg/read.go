package pg

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
)

// fetch reads group k from every replica in its preference list (R = all:
// a membership read merges every copy, as riak_pg's members FSM does),
// falling back to the bucket's R when not all of them answer within
// ReadAllTimeout (a node that failure detection has not yet seen down).
func (p *Service) fetch(ctx context.Context, k kv.Key) (*dt.PG, error) {
	v, err := p.s.FetchDatatype(ctx, k, dt.KindPG, kv.Options{R: quorum.ValAll, Timeout: p.cfg.ReadAllTimeout})
	var qe *quorum.Error
	if errors.As(err, &qe) && !qe.ClientError() {
		v, err = p.s.FetchDatatype(ctx, k, dt.KindPG, kv.Options{})
	}
	if errors.Is(err, kv.ErrNotFound) {
		return &dt.PG{}, nil
	}
	if err != nil {
		return nil, err
	}
	g, ok := v.(*dt.PG)
	if !ok {
		return nil, kv.UserErrorf(kv.ErrNotDatatype, "%s", v.Kind())
	}
	return g, nil
}

// live converts g's members into infos, leaving out (and scheduling the
// prune of) the members of dead owners.
func (p *Service) live(k kv.Key, g *dt.PG) []MemberInfo {
	var out []MemberInfo
	dead := false
	for _, e := range g.Members() {
		if p.dead(e.Node, e.Incarnation) {
			dead = true
			continue
		}
		joined, meta := decodePGMeta(e.Meta)
		v := p.view(e.Node)
		out = append(out, MemberInfo{Node: e.Node, Incarnation: e.Incarnation, ID: e.ID, Count: e.Count,
			Meta: meta, JoinedAt: joined, Local: e.Node == p.self, Connected: v.Up})
	}
	if dead {
		p.prune(k)
	}
	return out
}

func (f Filter) keep(m MemberInfo) bool {
	switch f.Kind {
	case "", "all":
		return true
	case "local":
		return m.Local
	case "remote":
		return !m.Local
	case "connected":
		return m.Connected
	case "node":
		return m.Node == f.Node
	}
	return false
}

func (f Filter) validate() error {
	switch f.Kind {
	case "", "all", "local", "remote", "connected":
		return nil
	case "node":
		if f.Node == "" {
			return kv.UserErrorf(ErrBadRequest, "filter node needs a node name")
		}
		return nil
	}
	return kv.UserErrorf(ErrBadRequest, "unknown filter %q (all, local, remote, connected, node)", f.Kind)
}

// Members returns the members of group k that f selects, sorted by owner
// node, incarnation and id. With patterns enabled, the members of every
// pattern group matching k's name are included (see Patterns).
func (p *Service) Members(ctx context.Context, k kv.Key, f Filter) ([]MemberInfo, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	props, err := p.checkKey(k)
	if err != nil {
		return nil, err
	}
	if k.Type == "" {
		k.Type = BucketType
	}
	keys := []kv.Key{k}
	if props.AllowPatterns && !strings.Contains(k.Key, "*") {
		pats, err := p.patternsMatching(ctx, k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, pats...)
	}
	var out []MemberInfo
	for _, key := range keys {
		g, err := p.fetch(ctx, key)
		if err != nil {
			return nil, err
		}
		for _, m := range p.live(key, g) {
			if f.keep(m) {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// Pick strategies.
const (
	PickRandom   = "random"   // any connected member, weighted by count
	PickClosest  = "closest"  // a local member if any, else a remote one
	PickFurthest = "furthest" // a remote member if any, else a local one
	PickOldest   = "oldest"   // the earliest joined
	PickNewest   = "newest"   // the latest joined
	PickHash     = "hash"     // rendezvous hash of the key over the members
)

// Pick chooses one connected member of group k by strategy (key is the
// hash strategy's input).
func (p *Service) Pick(ctx context.Context, k kv.Key, strategy, key string) (MemberInfo, error) {
	switch strategy {
	case "":
		strategy = PickRandom
	case PickRandom, PickClosest, PickFurthest, PickOldest, PickNewest:
	case PickHash:
		if key == "" {
			return MemberInfo{}, kv.UserErrorf(ErrBadRequest, "pick by hash needs a key")
		}
	default:
		return MemberInfo{}, kv.UserErrorf(ErrBadRequest, "unknown pick strategy %q (random, closest, furthest, oldest, newest, hash)", strategy)
	}
	ms, err := p.Members(ctx, k, Filter{Kind: "connected"})
	if err != nil {
		return MemberInfo{}, err
	}
	if len(ms) == 0 {
		return MemberInfo{}, fmt.Errorf("%w in group %q of %q", ErrNoMember, k.Key, k.Bucket)
	}
	return p.pickFrom(ms, strategy, key), nil
}

func (p *Service) pickFrom(ms []MemberInfo, strategy, key string) MemberInfo {
	split := func(local bool) []MemberInfo {
		var out []MemberInfo
		for _, m := range ms {
			if m.Local == local {
				out = append(out, m)
			}
		}
		if len(out) == 0 {
			return ms
		}
		return out
	}
	switch strategy {
	case PickClosest:
		return p.weighted(split(true))
	case PickFurthest:
		return p.weighted(split(false))
	case PickOldest, PickNewest:
		best := ms[0]
		for _, m := range ms[1:] {
			older := m.JoinedAt.Before(best.JoinedAt)
			if strategy == PickNewest {
				older = m.JoinedAt.After(best.JoinedAt)
			}
			if older {
				best = m
			}
		}
		return best
	case PickHash:
		var best MemberInfo
		var bestH uint64
		for i, m := range ms {
			h := fnv.New64a()
			fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s", key, m.Node, m.Incarnation, m.ID)
			if v := h.Sum64(); i == 0 || v > bestH {
				best, bestH = m, v
			}
		}
		return best
	}
	return p.weighted(ms)
}

// weighted picks a member at random, a member with count c being c times
// as likely as one with count 1 (cpg).
func (p *Service) weighted(ms []MemberInfo) MemberInfo {
	total := 0
	for _, m := range ms {
		total += m.Count
	}
	r := int(p.cfg.Rand() % uint64(max(total, 1)))
	for _, m := range ms {
		if r < m.Count {
			return m
		}
		r -= m.Count
	}
	return ms[len(ms)-1]
}

// Groups returns the non-empty groups of a scope (bucket) in sorted order:
// a coverage query (every key of the bucket, each read once) that leaves
// out groups whose members are all gone.
func (p *Service) Groups(ctx context.Context, typ, bucket string) ([]string, error) {
	return p.groupsWith(ctx, typ, bucket, nil)
}

// pollCache holds what one poll of the watches read, so that every watch
// of a scope or group shares one listing and one read of each group
// however many watches there are (issue 12: each idle watch re-listed its
// scope every second).
type pollCache struct {
	groups map[[2]string][]string
	vals   map[kv.Key]*dt.PG
}

func (p *Service) fetchWith(ctx context.Context, k kv.Key, pc *pollCache) (*dt.PG, error) {
	if pc == nil {
		return p.fetch(ctx, k)
	}
	if v, ok := pc.vals[k]; ok {
		return v, nil
	}
	v, err := p.fetch(ctx, k)
	if err == nil {
		pc.vals[k] = v
	}
	return v, err
}

func (p *Service) groupsWith(ctx context.Context, typ, bucket string, pc *pollCache) ([]string, error) {
	if typ == "" {
		typ = BucketType
	}
	if pc != nil {
		if gs, ok := pc.groups[[2]string{typ, bucket}]; ok {
			return slices.Clone(gs), nil
		}
	}
	if _, err := p.checkKey(kv.Key{Type: typ, Bucket: bucket, Key: "x"}); err != nil {
		return nil, err
	}
	var keys []string
	if err := p.s.ListKeys(ctx, typ, bucket, func(ks []string) error {
		keys = append(keys, ks...)
		return nil
	}); err != nil {
		return nil, err
	}
	slices.Sort(keys)
	var out []string
	for _, g := range slices.Compact(keys) {
		k := kv.Key{Type: typ, Bucket: bucket, Key: g}
		v, err := p.fetchWith(ctx, k, pc)
		if err != nil {
			return nil, err
		}
		if len(p.live(k, v)) > 0 {
			out = append(out, g)
		}
	}
	if pc != nil {
		pc.groups[[2]string{typ, bucket}] = slices.Clone(out)
	}
	return out, nil
}
