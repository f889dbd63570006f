package node

import (
	"context"
	"time"

	"github.com/riakgo/riakgo/internal/metrics"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/ring"
)

// pgTickEvery is how often a node runs its process-group tick: leases
// lapse, dirty groups are repaired and watches poll at this pace.
const pgTickEvery = time.Second

// nodePG is the node's process-group service and its tick loop.
type nodePG struct {
	pg   *kv.PG
	stop context.CancelFunc
	done chan struct{}
}

// startPG starts the process-group service: its incarnation is the one
// this node publishes in the cluster state (bumped at every start), and
// its view of other nodes is the cluster state (incarnations, removed
// members) plus membership's up/down.
func (n *Node) startPG() error {
	self := ring.NodeID(n.cfg.Name)
	inc := uint64(1)
	if m, ok := n.cl.State().Member(self); ok && m.Meta.Incarnation > 0 {
		inc = m.Meta.Incarnation
	}
	view := func(id ring.NodeID) kv.PGNodeView {
		v := kv.PGNodeView{Up: n.ml.Up(id)}
		if m, ok := n.cl.State().Member(id); ok {
			v.Incarnation = m.Meta.Incarnation
			v.Removed = m.Status == ring.StatusInvalid
		}
		return v
	}
	pg, err := kv.NewPG(n.svc, kv.PGConfig{Incarnation: inc, View: view})
	if err != nil {
		return err
	}
	n.metrics.RegisterPG(func() metrics.PGStats {
		st := pg.Stats()
		return metrics.PGStats{Groups: st.Groups, Members: st.Members, Leases: st.Leases, WatchStreams: st.WatchStreams,
			Joins: st.Joins, Leaves: st.Leaves, LeaseLapses: st.LeaseLapses, Prunes: st.Prunes, Repairs: st.Repairs}
	})
	ctx, cancel := context.WithCancel(context.Background())
	n.pg = &nodePG{pg: pg, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(n.pg.done)
		t := time.NewTicker(pgTickEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pg.Tick(ctx)
			}
		}
	}()
	return nil
}

// stopPG ends the tick loop.
func (n *Node) stopPG() {
	if n.pg != nil {
		n.pg.stop()
		<-n.pg.done
	}
}

// PG returns the node's process-group service.
func (n *Node) PG() *kv.PG { return n.pg.pg }
