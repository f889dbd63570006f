package node

import (
	"time"

	"github.com/riakgo/riakgo/internal/metrics"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/ring"
)

// pgTickEvery is how often a node runs its process-group tick: leases
// lapse, dirty groups are repaired and watches poll at this pace.
const pgTickEvery = time.Second

// newPG builds the process-group service: its incarnation is the one this
// node publishes in the cluster state (bumped at every start), and its
// view of other nodes is the cluster state (incarnations, removed members)
// plus membership's up/down.
func (n *Node) newPG(tune func(*kv.PGConfig)) error {
	inc := n.Incarnation()
	if inc == 0 {
		inc = 1
	}
	view := func(id ring.NodeID) kv.PGNodeView {
		v := kv.PGNodeView{Up: n.ml.Up(id)}
		if m, ok := n.cl.State().Member(id); ok {
			v.Incarnation = m.Meta.Incarnation
			v.Removed = m.Status == ring.StatusInvalid
		}
		return v
	}
	cfg := kv.PGConfig{Incarnation: inc, View: view}
	if tune != nil {
		tune(&cfg)
	}
	pg, err := kv.NewPG(n.svc, cfg)
	if err != nil {
		return err
	}
	n.metrics.RegisterPG(func() metrics.PGStats {
		st := pg.Stats()
		return metrics.PGStats{Groups: st.Groups, Members: st.Members, Leases: st.Leases, WatchStreams: st.WatchStreams,
			Joins: st.Joins, Leaves: st.Leaves, LeaseLapses: st.LeaseLapses, Prunes: st.Prunes, Repairs: st.Repairs}
	})
	n.pg = pg
	return nil
}

// PG returns the node's process-group service.
func (n *Node) PG() *kv.PG { return n.pg }
