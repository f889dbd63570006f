package pg

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv"
)

// Pattern groups (cpg): in a bucket type with allow_patterns, a group name
// may hold '*' wildcards, each matching one or more characters. Members
// join the pattern itself; a read of a concrete name also returns the
// members of every pattern group of the scope that matches it. Finding the
// patterns is a coverage query over the scope's keys, so patterns cost a
// key listing per read: keep them to scopes of modest size.

func validPattern(name string) error {
	if strings.Contains(name, "**") {
		return kv.UserErrorf(ErrBadRequest, "group pattern %q has '**' (each '*' matches one or more characters)", name)
	}
	return nil
}

// matchPattern reports whether name matches pattern, where each '*'
// matches one or more bytes. It reads '*' as "any byte, then any number of
// bytes" and runs the greedy wildcard match that backtracks only to the
// last star: O(len(pattern) × len(name)), whatever the pattern.
func matchPattern(pattern, name string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == name
	}
	type tok struct {
		c         byte
		any, star bool // any: one byte; star: zero or more bytes
	}
	var t []tok
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '*' {
			t = append(t, tok{any: true}, tok{star: true})
		} else {
			t = append(t, tok{c: pattern[i]})
		}
	}
	pi, si, starP, starS := 0, 0, -1, 0
	for si < len(name) {
		switch {
		case pi < len(t) && !t[pi].star && (t[pi].any || t[pi].c == name[si]):
			pi++
			si++
		case pi < len(t) && t[pi].star:
			starP, starS = pi, si
			pi++
		case starP >= 0:
			starS++
			pi, si = starP+1, starS
		default:
			return false
		}
	}
	for pi < len(t) && t[pi].star {
		pi++
	}
	return pi == len(t)
}

// MatchPattern reports whether a concrete group name matches a pattern
// group name ('*' matches one or more characters).
func MatchPattern(pattern, name string) bool { return matchPattern(pattern, name) }

// patternsMatching returns the pattern groups of k's scope that match k's
// concrete name.
func (p *Service) patternsMatching(ctx context.Context, k kv.Key) ([]kv.Key, error) {
	var out []kv.Key
	err := p.s.ListKeys(ctx, k.Type, k.Bucket, func(ks []string) error {
		for _, g := range ks {
			if g != k.Key && strings.Contains(g, "*") && matchPattern(g, k.Key) {
				out = append(out, kv.Key{Type: k.Type, Bucket: k.Bucket, Key: g})
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b kv.Key) int { return strings.Compare(a.Key, b.Key) })
	return slices.CompactFunc(out, func(a, b kv.Key) bool { return a.Key == b.Key }), err
}

// Event is one event of a watch: a snapshot of a group when the watch
// starts (and of a group that a scope watch discovers), then the members
// that joined (or whose count grew) and left (or whose count shrank), each
// with its new count (0: gone).
type Event struct {
	Type    string       `json:"type"` // snapshot, join, leave
	Bucket  string       `json:"bucket"`
	Group   string       `json:"group"`
	Members []MemberInfo `json:"members"`
}

type pgMemberKey struct {
	node string
	inc  uint64
	id   string
}

// pgWatch is one watch of a group (group != "") or a whole scope.
type pgWatch struct {
	typ, bucket, group string

	mu     sync.Mutex // serialises refreshes and close
	last   map[string]map[pgMemberKey]MemberInfo
	ch     chan Event
	closed bool
}

// WatchBuffer is how many events a watch holds for a slow reader; a watch
// whose reader falls further behind is closed (the reader re-watches and
// gets a new snapshot).
const WatchBuffer = 1024

// Watch watches group (or, with group "", every group of the scope): the
// channel first carries a snapshot event per group (a scope with no
// members sends none), then join and leave events. Changes made through
// this node arrive at once; others when Tick next polls (every second on a
// running node). The channel is closed by cancel or when the reader falls
// WatchBuffer events behind.
func (p *Service) Watch(ctx context.Context, typ, bucket, group string) (<-chan Event, func(), error) {
	if typ == "" {
		typ = BucketType
	}
	probe := group
	if probe == "" {
		probe = "x"
	}
	if _, err := p.checkKey(kv.Key{Type: typ, Bucket: bucket, Key: probe}); err != nil {
		return nil, nil, err
	}
	if n := p.watchStreams.Load(); n >= int64(p.cfg.MaxWatches) {
		return nil, nil, kv.UserErrorf(kv.ErrOverload, "%d process-group watch streams are open on this node, the most it serves", n)
	}
	w := &pgWatch{typ: typ, bucket: bucket, group: group, last: map[string]map[pgMemberKey]MemberInfo{},
		ch: make(chan Event, WatchBuffer)}
	if err := p.refresh(ctx, w, ""); err != nil {
		return nil, nil, err
	}
	p.watchMu.Lock()
	p.watches[w] = true
	p.watchMu.Unlock()
	p.watchStreams.Add(1)
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			p.watchMu.Lock()
			delete(p.watches, w)
			p.watchMu.Unlock()
			p.watchStreams.Add(-1)
			w.mu.Lock()
			if !w.closed {
				w.closed = true
				close(w.ch)
			}
			w.mu.Unlock()
		})
	}
	return w.ch, cancel, nil
}

func (p *Service) watchesOf(gk pgKey) []*pgWatch {
	p.watchMu.Lock()
	defer p.watchMu.Unlock()
	var out []*pgWatch
	for w := range p.watches {
		if w.typ == gk.typ && w.bucket == gk.bucket && (w.group == "" || w.group == gk.group) {
			out = append(out, w)
		}
	}
	return out
}

// notify refreshes the watches of group gk after a change through this
// node.
func (p *Service) notify(ctx context.Context, gk pgKey) {
	for _, w := range p.watchesOf(gk) {
		if err := p.refresh(clock.WithoutCancel(ctx), w, gk.group); err != nil {
			p.log.Debug("pg watch refresh", "err", err)
		}
	}
}

// pollWatches refreshes every watch (Tick). The watches share one read
// of each scope and group (pollCache): a thousand watches of one scope
// cost one listing and one read per group.
func (p *Service) pollWatches(ctx context.Context) {
	p.watchMu.Lock()
	ws := slices.Collect(maps.Keys(p.watches))
	p.watchMu.Unlock()
	pc := &pollCache{groups: map[[2]string][]string{}, vals: map[kv.Key]*dt.PG{}}
	for _, w := range ws {
		if err := p.refreshWith(ctx, w, "", pc); err != nil {
			p.log.Debug("pg watch poll", "err", err)
		}
	}
}

// refresh re-reads the watched group (only, if set; else the watched
// group or every group of the scope) and emits the differences.
func (p *Service) refresh(ctx context.Context, w *pgWatch, only string) error {
	return p.refreshWith(ctx, w, only, nil)
}

func (p *Service) refreshWith(ctx context.Context, w *pgWatch, only string, pc *pollCache) error {
	groups := []string{w.group}
	switch {
	case only != "":
		groups = []string{only}
	case w.group == "":
		gs, err := p.groupsWith(ctx, w.typ, w.bucket, pc)
		if err != nil {
			return err
		}
		w.mu.Lock()
		for g := range w.last {
			if !slices.Contains(gs, g) {
				gs = append(gs, g) // emptied since: emit its leaves
			}
		}
		w.mu.Unlock()
		slices.Sort(gs)
		groups = gs
	}
	for _, g := range groups {
		k := kv.Key{Type: w.typ, Bucket: w.bucket, Key: g}
		v, err := p.fetchWith(ctx, k, pc)
		if err != nil {
			return err
		}
		now := map[pgMemberKey]MemberInfo{}
		for _, m := range p.live(k, v) {
			now[pgMemberKey{m.Node, m.Incarnation, m.ID}] = m
		}
		w.emit(g, w.bucket, now)
	}
	return nil
}

// emit sends the difference between the last state of group g and now.
func (w *pgWatch) emit(g, bucket string, now map[pgMemberKey]MemberInfo) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	prev, seen := w.last[g]
	var evs []Event
	if !seen {
		if len(now) > 0 || w.group != "" {
			evs = append(evs, Event{Type: "snapshot", Bucket: bucket, Group: g, Members: sortedInfos(now)})
		}
	} else {
		var joins, leaves []MemberInfo
		for mk, m := range now {
			if old, ok := prev[mk]; !ok || m.Count > old.Count {
				joins = append(joins, m)
			} else if m.Count < old.Count {
				leaves = append(leaves, m)
			}
		}
		for mk, old := range prev {
			if _, ok := now[mk]; !ok {
				old.Count = 0
				leaves = append(leaves, old)
			}
		}
		if len(joins) > 0 {
			evs = append(evs, Event{Type: "join", Bucket: bucket, Group: g, Members: sortInfos(joins)})
		}
		if len(leaves) > 0 {
			evs = append(evs, Event{Type: "leave", Bucket: bucket, Group: g, Members: sortInfos(leaves)})
		}
	}
	if len(now) == 0 && w.group == "" {
		delete(w.last, g)
	} else {
		w.last[g] = now
	}
	for _, ev := range evs {
		select {
		case w.ch <- ev:
		default: // the reader fell behind: end the watch
			w.closed = true
			close(w.ch)
			return
		}
	}
}

func sortedInfos(m map[pgMemberKey]MemberInfo) []MemberInfo {
	return sortInfos(slices.Collect(maps.Values(m)))
}

func sortInfos(ms []MemberInfo) []MemberInfo {
	slices.SortFunc(ms, func(a, b MemberInfo) int {
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		if a.Incarnation != b.Incarnation {
			if a.Incarnation < b.Incarnation {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	if ms == nil {
		ms = []MemberInfo{}
	}
	return ms
}
