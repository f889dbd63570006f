package testcluster

import (
	"context"
	"log/slog"

	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/transport/memnet"
	"github.com/riakgo/riakgo/ring"
)

// Faults beyond Partition, Kill and Wipe, for the nemesis (issue 16):
// paused processes, and the state of a node.

// Alive reports whether node i is running (not killed).
func (c *Cluster) Alive(i int) bool { return c.isAlive(c.node(i)) }

// Paused reports whether node i is paused.
func (c *Cluster) Paused(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused[c.Nodes[i].ID]
}

// Pause stops node i as SIGSTOP does: the messages it sends and those
// sent to it are held (nothing is lost: a stopped process's sockets keep
// them), its loops do not run (Tick skips it), and membership notices
// nothing (a pause shorter than failure detection). Pause replaces any
// hook the test installed on the network.
func (c *Cluster) Pause(i int) {
	c.mu.Lock()
	if c.paused == nil {
		c.paused = map[ring.NodeID]bool{}
	}
	c.paused[c.Nodes[i].ID] = true
	c.mu.Unlock()
	c.Net.Hook(c.pauseHook)
}

// Resume continues a paused node (SIGCONT): what was held for it or from
// it is delivered, late.
func (c *Cluster) Resume(i int) {
	c.mu.Lock()
	id := c.Nodes[i].ID
	delete(c.paused, id)
	left := len(c.paused)
	c.mu.Unlock()
	var ids []uint64
	for _, env := range c.Net.Held() {
		if env.From == id || env.To == id {
			ids = append(ids, env.ID)
		}
	}
	if left == 0 {
		c.Net.Hook(nil)
	}
	c.Net.Release(ids...)
}

// HoldWhere holds on the wire every message for which hold returns true
// (nil: none), in place of any hook installed before (Pause's too).
// Held messages wait in c.Net.Held until released or discarded.
func (c *Cluster) HoldWhere(hold func(transport.Envelope) bool) {
	if hold == nil {
		c.Net.Hook(nil)
		return
	}
	c.Net.Hook(func(env transport.Envelope) memnet.Verdict {
		if hold(env) {
			return memnet.Hold
		}
		return memnet.Deliver
	})
}

func (c *Cluster) pauseHook(env transport.Envelope) memnet.Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused[env.From] || c.paused[env.To] {
		return memnet.Hold
	}
	return memnet.Deliver
}

// levelHandler drops records below min.
type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return levelHandler{h.Handler.WithAttrs(as), h.min}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h.Handler.WithGroup(name), h.min}
}
