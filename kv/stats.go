package kv

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a node's request counters, the source of Riak's
// /stats fields. One-minute figures cover the last 60 seconds.
type Stats struct {
	Node                         string
	RingSize                     int
	Members                      []string
	NodeGets, NodePuts           int64 // last minute
	NodeGetsTotal, NodePutsTotal int64 // since start
	VnodeGets, VnodePuts         int64 // last minute
	VnodeGetsTotal               int64
	VnodePutsTotal               int64
	ReadRepairs                  int64 // last minute
	ReadRepairsTotal             int64
	// Latencies in microseconds, sibling counts and object sizes of the
	// last minute's coordinated gets and puts.
	GetTime, PutTime         Summary
	GetSiblings, GetObjSize  Summary
	VnodeIndex, VnodeIndexes int64 // reserved
	// CoordRedirsTotal counts writes whose coordinating vnode was on
	// another node (Riak's coord_redirs_total); GetsRemoteTotal counts
	// reads answered with no replica on this node.
	CoordRedirsTotal, GetsRemoteTotal int64
	// ObjectCache is the decoded-object cache's use and hit counts.
	ObjectCache CacheStats
}

// Summary is the distribution of a one-minute sample window.
type Summary struct {
	Mean, Median, P95, P99, Max int64
}

// spiral counts events over the last 60 seconds in one-second slots, plus
// a total.
type spiral struct {
	mu    sync.Mutex
	slots [60]int64
	sec   [60]int64 // the second each slot counts
	total atomic.Int64
}

func (s *spiral) add(now time.Time, n int64) {
	s.total.Add(n)
	sec := now.Unix()
	i := sec % 60
	s.mu.Lock()
	if s.sec[i] != sec {
		s.sec[i], s.slots[i] = sec, 0
	}
	s.slots[i] += n
	s.mu.Unlock()
}

func (s *spiral) minute(now time.Time) int64 {
	cutoff := now.Unix() - 60
	var n int64
	s.mu.Lock()
	for i := range s.slots {
		if s.sec[i] > cutoff {
			n += s.slots[i]
		}
	}
	s.mu.Unlock()
	return n
}

// window keeps a uniform sample (at most windowCap values) of the last
// minute's observations, in two half-minute generations.
type window struct {
	mu       sync.Mutex
	cur, old []int64
	seen     int
	start    int64 // unix second the current generation began
}

const windowCap = 1024

func (w *window) add(now time.Time, v int64) {
	w.mu.Lock()
	w.rotate(now.Unix())
	w.seen++
	if len(w.cur) < windowCap {
		w.cur = append(w.cur, v)
	} else if j := rand.IntN(w.seen); j < windowCap {
		w.cur[j] = v
	}
	w.mu.Unlock()
}

func (w *window) rotate(sec int64) {
	switch {
	case sec-w.start >= 60:
		w.old, w.cur, w.seen, w.start = nil, w.cur[:0], 0, sec
	case sec-w.start >= 30:
		w.old, w.cur, w.seen, w.start = w.cur, nil, 0, sec
	}
}

func (w *window) summary(now time.Time) Summary {
	w.mu.Lock()
	w.rotate(now.Unix())
	vals := append(slices.Clone(w.old), w.cur...)
	w.mu.Unlock()
	if len(vals) == 0 {
		return Summary{}
	}
	slices.Sort(vals)
	var sum int64
	for _, v := range vals {
		sum += v
	}
	at := func(q float64) int64 { return vals[min(len(vals)-1, int(q*float64(len(vals))))] }
	return Summary{Mean: sum / int64(len(vals)), Median: at(0.5), P95: at(0.95), P99: at(0.99), Max: vals[len(vals)-1]}
}

// stats holds the service's counters.
type stats struct {
	gets, puts, vgets, vputs, repairs spiral
	getTime, putTime, sibs, size      window
	coordRedirs, getsRemote           atomic.Int64
}

// CacheStats is the decoded-object cache's use and hit counts (what
// Stats reports as ObjectCache, without the rest).
func (s *Service) CacheStats() CacheStats { return s.vcfg.cache.stats() }

// Stats implements Client.
func (s *Service) Stats() Stats {
	now := s.cfg.Clock.Now()
	st := &s.stats
	return Stats{
		Node: string(s.cfg.Node), RingSize: s.ring.Load().Size(), Members: []string{string(s.cfg.Node)},
		NodeGets: st.gets.minute(now), NodeGetsTotal: st.gets.total.Load(),
		NodePuts: st.puts.minute(now), NodePutsTotal: st.puts.total.Load(),
		VnodeGets: st.vgets.minute(now), VnodeGetsTotal: st.vgets.total.Load(),
		VnodePuts: st.vputs.minute(now), VnodePutsTotal: st.vputs.total.Load(),
		ReadRepairs: st.repairs.minute(now), ReadRepairsTotal: st.repairs.total.Load(),
		GetTime: st.getTime.summary(now), PutTime: st.putTime.summary(now),
		GetSiblings: st.sibs.summary(now), GetObjSize: st.size.summary(now),
		CoordRedirsTotal: st.coordRedirs.Load(), GetsRemoteTotal: st.getsRemote.Load(),
		ObjectCache: s.vcfg.cache.stats(),
	}
}
