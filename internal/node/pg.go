package node

import (
	"time"

	"github.com/riakgo/riakgo/internal/metrics"
	"github.com/riakgo/riakgo/kv/pg"
	"github.com/riakgo/riakgo/ring"
)

// pgTickEvery is how often a node runs its process-group tick: leases
// lapse, dirty groups are repaired and watches poll at this pace.
const pgTickEvery = time.Second

// newPG builds the process-group service: its incarnation is the one this
// node publishes in the cluster state (bumped at every start), and its
// view of other nodes is the cluster state (incarnations, removed members)
// plus membership's up/down.
func (n *Node) newPG(rnd func() uint64, tune func(*pg.Config)) error {
	inc := n.Incarnation()
	if inc == 0 {
		inc = 1
	}
	view := func(id ring.NodeID) pg.NodeView {
		v := pg.NodeView{Up: n.ml.Up(id)}
		if m, ok := n.cl.State().Member(id); ok {
			v.Incarnation = m.Meta.Incarnation
			v.Removed = m.Status == ring.StatusInvalid
		}
		return v
	}
	cfg := pg.Config{Incarnation: inc, View: view, Logger: n.log.With("component", "pg"), Rand: rnd}
	if tune != nil {
		tune(&cfg)
	}
	p, err := pg.New(n.svc, cfg)
	if err != nil {
		return err
	}
	n.metrics.RegisterPG(func() metrics.PGStats {
		st := p.Stats()
		return metrics.PGStats{Groups: st.Groups, Members: st.Members, Leases: st.Leases, WatchStreams: st.WatchStreams,
			Joins: st.Joins, Leaves: st.Leaves, LeaseLapses: st.LeaseLapses, Prunes: st.Prunes, Repairs: st.Repairs}
	})
	n.pg = p
	return nil
}

// PG returns the node's process-group service.
func (n *Node) PG() *pg.Service { return n.pg }
