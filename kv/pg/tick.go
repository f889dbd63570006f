package pg

import (
	"context"
	"errors"
	"maps"
	"slices"
)

// Tick runs the owner's periodic work; the node calls it every second,
// tests after advancing the clock. It leaves the members whose lease
// lapsed, checks the next batch of the sweep (every group this node has
// members in, every SweepEvery), re-syncs dirty groups, and refreshes
// watches.
func (p *Service) Tick(ctx context.Context) {
	now := p.s.Clock().Now()
	p.mu.Lock()
	var lapsed []string
	for id, l := range p.leases {
		if !now.Before(l.expires) {
			lapsed = append(lapsed, id)
		}
	}
	if len(p.sweepQ) == 0 && !now.Before(p.sweep) {
		p.sweep = now.Add(p.cfg.SweepEvery)
		p.sweepQ = slices.SortedFunc(maps.Keys(p.owned), compareKey)
	}
	batch := p.sweepQ[:min(len(p.sweepQ), p.cfg.SweepBatch)]
	p.sweepQ = p.sweepQ[len(batch):]
	p.mu.Unlock()
	slices.Sort(lapsed)
	for _, id := range lapsed {
		p.lapses.Add(1)
		if _, err := p.LeaveAll(ctx, id); err != nil && !errors.Is(err, ErrNotMember) {
			p.log.Warn("pg: leaving a member whose lease lapsed", "id", id, "err", err)
		}
	}
	for _, gk := range batch {
		p.check(ctx, gk)
	}
	p.repairDirty(ctx)
	p.pollWatches(ctx)
}

// check reads group gk and marks it dirty if its stored members of this
// node disagree with the table (the sweep).
func (p *Service) check(ctx context.Context, gk pgKey) {
	l := p.lock(gk)
	l.Lock()
	defer l.Unlock()
	g, err := p.fetch(ctx, gk.key())
	p.mu.Lock()
	defer p.mu.Unlock()
	want, ok := p.owned[gk]
	if !ok {
		return
	}
	req := p.request(gk, want)
	if err != nil || !p.agrees(g, &req) {
		p.dirty[gk] = true
	}
}

// repairDirty re-syncs each dirty group with the replicas' merged state as
// the coordinator's base.
func (p *Service) repairDirty(ctx context.Context) {
	p.mu.Lock()
	gks := slices.SortedFunc(maps.Keys(p.dirty), compareKey)
	p.mu.Unlock()
	for _, gk := range gks {
		l := p.lock(gk)
		l.Lock()
		p.mu.Lock()
		want, still := maps.Clone(p.owned[gk]), p.dirty[gk]
		p.mu.Unlock()
		if still {
			p.repairs.Add(1)
			var base []byte
			if g, err := p.fetch(ctx, gk.key()); err == nil {
				base, _ = g.MarshalBinary()
			}
			if want == nil {
				want = map[string]pgOwned{}
			}
			if err := p.sync(ctx, gk, want, base, true); err != nil {
				p.log.Debug("pg: repairing a group", "key", gk.key().String(), "err", err)
			}
		}
		l.Unlock()
	}
}

// Stats returns the node's process-group counters.
func (p *Service) Stats() Stats {
	p.mu.Lock()
	st := Stats{Groups: len(p.owned), Members: len(p.groups), Leases: len(p.leases)}
	p.mu.Unlock()
	st.Joins, st.Leaves, st.LeaseLapses = p.joins.Load(), p.leaves.Load(), p.lapses.Load()
	st.Prunes, st.Syncs, st.Repairs = p.prunes.Load(), p.syncs.Load(), p.repairs.Load()
	st.WatchStreams = p.watchStreams.Load()
	return st
}
