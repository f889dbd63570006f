package memnet

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/riakgo/riakgo/internal/transport"
)

// Stepped delivery: the network as a queue that the test drains one
// message at a time, in an order that does not depend on goroutine
// scheduling (etcd raft's interaction tests deliver their messages the
// same way).
//
// In stepped mode a message that has met its faults (partition, drop,
// hook, delay) is not handed to its destination but queued. DeliverNext
// hands over one queued message, the first in canonical order: by sender,
// receiver, message type, kind (requests and one-way messages before
// responses) and body bytes. Two goroutines that send at the same time
// therefore have their messages delivered in the same order on every run,
// as long as the set of queued messages is the same; a test makes it so by
// waiting until every goroutine has finished what the last delivery
// started before it delivers the next (testing/synctest's Wait, or
// internal/testcluster's Quiesce).

// SetStepped turns stepped delivery on or off. Turning it off delivers
// every queued message at once.
func (n *Network) SetStepped(on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stepped = on
	if !on {
		q := n.queue
		n.queue = nil
		n.stats.Queued = 0
		for _, env := range q {
			n.deliverNowLocked(env)
		}
	}
	n.notifyLocked()
}

// Stepped reports whether the network is in stepped mode.
func (n *Network) Stepped() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stepped
}

// Queued returns copies of the queued messages in the order DeliverNext
// would deliver them.
func (n *Network) Queued() []transport.Envelope {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sortQueueLocked()
	out := make([]transport.Envelope, len(n.queue))
	for i, e := range n.queue {
		e.Body = append([]byte(nil), e.Body...)
		out[i] = e
	}
	return out
}

// DeliverNext delivers the first queued message in canonical order and
// returns a copy of it, or reports false if none is queued. A message whose
// destination has closed since it was queued is dropped (and returned).
func (n *Network) DeliverNext() (transport.Envelope, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.queue) == 0 {
		return transport.Envelope{}, false
	}
	n.sortQueueLocked()
	env := n.queue[0]
	n.queue = slices.Delete(n.queue, 0, 1)
	n.stats.Queued = len(n.queue)
	out := env
	out.Body = append([]byte(nil), env.Body...)
	n.deliverNowLocked(env)
	n.notifyLocked()
	return out, true
}

func (n *Network) sortQueueLocked() {
	slices.SortStableFunc(n.queue, compareEnvelopes)
}

// compareEnvelopes is the canonical delivery order; it ignores the
// envelope id and request id, which depend on the order of sends.
func compareEnvelopes(a, b transport.Envelope) int {
	if c := cmp.Compare(a.From, b.From); c != 0 {
		return c
	}
	if c := cmp.Compare(a.To, b.To); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	if ar, br := a.IsResponse(), b.IsResponse(); ar != br {
		if br {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.Body, b.Body)
}
