package memberlist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/testlog"
	"github.com/riakgo/riakgo/internal/testwait"
)

// These tests run real memberlist instances (real timers) on an in-memory
// network with DefaultLocalConfig timings. They never sleep: they wait for
// conditions or events, each with a generous deadline.

const deadline = 20 * time.Second

// start creates one node per name on tn (or on loopback UDP/TCP if tn is
// nil), each shut down at the end of the test.
func start(t *testing.T, tn *testNet, tweak func(*Config), names ...NodeID) []*Memberlist {
	t.Helper()
	var out []*Memberlist
	for _, name := range names {
		cfg := DefaultLocalConfig()
		cfg.Name = name
		cfg.Logger = testlog.New(t)
		cfg.Meta = membership.Meta{ClusterAddr: "cluster-" + string(name), HTTPAddr: "http-" + string(name)}
		if tn != nil {
			cfg.transport = tn.transport(string(name))
		}
		if tweak != nil {
			tweak(&cfg)
		}
		m, err := New(cfg)
		if err != nil {
			t.Fatalf("New(%s): %v", name, err)
		}
		t.Cleanup(func() { _ = m.Shutdown() })
		out = append(out, m)
	}
	return out
}

// joinAll joins every node to the first and waits until all see all alive.
func joinAll(t *testing.T, ms []*Memberlist) {
	t.Helper()
	seed := ms[0].Local().GossipAddr
	for _, m := range ms[1:] {
		if n, err := m.Join([]string{seed}); err != nil || n != 1 {
			t.Fatalf("%s: Join(%s) = %d, %v", m.Local().ID, seed, n, err)
		}
	}
	testwait.For(t, deadline, "all nodes see all alive", func() bool {
		for _, m := range ms {
			if aliveCount(m) != len(ms) {
				return false
			}
		}
		return true
	})
}

func aliveCount(m *Memberlist) int {
	n := 0
	for _, mem := range m.Members() {
		if mem.Alive() {
			n++
		}
	}
	return n
}

// waitEvent reads m's events until one matches, failing at the deadline.
func waitEvent(t *testing.T, m *Memberlist, typ membership.EventType, id NodeID) membership.Event {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case e, ok := <-m.Events():
			if !ok {
				t.Fatalf("%s: events closed waiting for %s %s", m.self, typ, id)
			}
			if e.Type == typ && e.Member.ID == id {
				return e
			}
		case <-timeout:
			t.Fatalf("%s: no %s event for %s", m.self, typ, id)
		}
	}
}

// recorder is a StateHandler keeping a set of tokens: its state is the
// sorted tokens joined by commas; merging unions them.
type recorder struct {
	mu     sync.Mutex
	tokens map[string]bool
	last   []byte // the last payload merged
}

func newRecorder(tokens ...string) *recorder {
	r := &recorder{tokens: map[string]bool{}}
	for _, tk := range tokens {
		r.tokens[tk] = true
	}
	return r
}

func (r *recorder) LocalState() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ts []string
	for tk := range r.tokens {
		ts = append(ts, tk)
	}
	slices.Sort(ts)
	return []byte(strings.Join(ts, ","))
}

func (r *recorder) MergeRemoteState(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = b
	for _, tk := range strings.Split(string(b), ",") {
		r.tokens[tk] = true
	}
}

func (r *recorder) has(tokens ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tk := range tokens {
		if !r.tokens[tk] {
			return false
		}
	}
	return true
}

func (r *recorder) lastMerged() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func TestJoinUpAndMeta(t *testing.T) {
	ms := start(t, newTestNet(), nil, "a", "b", "c")
	if e := waitEvent(t, ms[0], membership.EventJoin, "a"); e.Member.Meta.HTTPAddr != "http-a" {
		t.Fatalf("first event %v lacks the local meta", e)
	}
	joinAll(t, ms)
	for _, m := range ms {
		if m.Up("a") || m.Up("b") || m.Up("c") {
			t.Fatal("a node is up before it is ready")
		}
	}
	for _, m := range ms {
		if err := m.SetLocalMeta(membership.Meta{ClusterAddr: "cluster-" + string(m.self), HTTPAddr: "http-" + string(m.self), Ready: true}); err != nil {
			t.Fatal(err)
		}
	}
	testwait.For(t, deadline, "every node sees every node up", func() bool {
		for _, m := range ms {
			for _, id := range []NodeID{"a", "b", "c"} {
				if !m.Up(id) {
					return false
				}
			}
		}
		return true
	})
	incs := map[uint64]bool{}
	for _, m := range ms {
		inc := m.Local().Incarnation()
		if inc == 0 || incs[inc] {
			t.Fatalf("%s: incarnation %d zero or shared", m.self, inc)
		}
		incs[inc] = true
		for _, other := range ms {
			mem, ok := other.Member(m.self)
			if !ok {
				t.Fatalf("%s does not know %s", other.self, m.self)
			}
			want := membership.Meta{ClusterAddr: "cluster-" + string(m.self), HTTPAddr: "http-" + string(m.self), Incarnation: inc, Ready: true}
			if mem.Meta != want || mem.GossipAddr != m.Local().GossipAddr {
				t.Fatalf("%s sees %s as %+v at %s, want %+v at %s", other.self, m.self, mem.Meta, mem.GossipAddr, want, m.Local().GossipAddr)
			}
		}
	}
	if addr, ok := membership.Resolver(ms[0])("c"); !ok || addr != "cluster-c" {
		t.Fatalf("Resolver(c) = %q, %v", addr, ok)
	}
	// a saw b join and become ready.
	waitEvent(t, ms[0], membership.EventJoin, "b")
	if e := waitEvent(t, ms[0], membership.EventUpdate, "b"); !e.Member.Meta.Ready {
		t.Fatalf("update %v", e)
	}
}

func TestStateExchangeOnJoin(t *testing.T) {
	ms := start(t, newTestNet(), nil, "a", "b")
	ra, rb := newRecorder("a"), newRecorder("b")
	ms[0].SetStateHandler(ra)
	ms[1].SetStateHandler(rb)
	if _, err := ms[1].Join([]string{ms[0].Local().GossipAddr}); err != nil {
		t.Fatal(err)
	}
	// The joiner merges the seed's reply before Join returns.
	if !rb.has("a") {
		t.Fatal("joiner did not merge the seed's state")
	}
	testwait.For(t, deadline, "the seed merges the joiner's state", func() bool { return ra.has("b") })
}

func TestStateExchangeByPushPull(t *testing.T) {
	ms := start(t, newTestNet(), func(c *Config) { c.PushPullInterval = 100 * time.Millisecond }, "a", "b", "c")
	joinAll(t, ms)
	// Handlers registered after the join: only periodic push/pull (no
	// broadcast is made) can spread the tokens.
	rs := []*recorder{newRecorder("a"), newRecorder("b"), newRecorder("c")}
	for i, m := range ms {
		m.SetStateHandler(rs[i])
	}
	testwait.For(t, deadline, "push/pull spreads every state", func() bool {
		for _, r := range rs {
			if !r.has("a", "b", "c") {
				return false
			}
		}
		return true
	})
}

func TestBroadcastReachesAll(t *testing.T) {
	ms := start(t, newTestNet(), func(c *Config) { c.PushPullInterval = time.Hour }, "a", "b", "c")
	joinAll(t, ms)
	rs := []*recorder{newRecorder(), newRecorder(), newRecorder()}
	for i, m := range ms {
		m.SetStateHandler(rs[i])
	}
	small := []byte("small")
	if err := ms[0].Broadcast(small); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, deadline, "the small broadcast reaches b and c", func() bool { return rs[1].has("small") && rs[2].has("small") })

	// Larger than a gossip packet: sent over reliable streams.
	big := bytes.Repeat([]byte("x"), 5000)
	big = append(big, ",big"...)
	if err := ms[1].Broadcast(big); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, deadline, "the large broadcast reaches a and c", func() bool { return rs[0].has("big") && rs[2].has("big") })
	if !bytes.Equal(rs[0].lastMerged(), big) {
		t.Fatalf("a merged %d bytes, want the %d-byte payload intact", len(rs[0].lastMerged()), len(big))
	}
	if rs[1].has("big") {
		t.Fatal("a broadcast was delivered to its sender")
	}
}

func TestShutdownDetectedAsFailed(t *testing.T) {
	ms := start(t, newTestNet(), nil, "a", "b", "c")
	joinAll(t, ms)
	for _, m := range ms {
		_ = m.SetLocalMeta(membership.Meta{Ready: true})
	}
	testwait.For(t, deadline, "a and b see c up", func() bool { return ms[0].Up("c") && ms[1].Up("c") })
	if err := ms[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		e := waitEvent(t, m, membership.EventFail, "c")
		if e.Member.State != membership.StateDead {
			t.Fatalf("%s: fail event %v", m.self, e)
		}
		if m.Up("c") {
			t.Fatalf("%s sees failed c up", m.self)
		}
		if mem, _ := m.Member("c"); mem.State != membership.StateDead {
			t.Fatalf("%s sees c %v", m.self, mem.State)
		}
	}
	// The shut-down node: events closed, operations refused.
	for range ms[2].Events() {
	}
	if err := ms[2].Broadcast([]byte("x")); !errors.Is(err, membership.ErrShutdown) {
		t.Fatalf("Broadcast after Shutdown: %v", err)
	}
	if _, err := ms[2].Join([]string{"127.0.0.1:1"}); !errors.Is(err, membership.ErrShutdown) {
		t.Fatalf("Join after Shutdown: %v", err)
	}
	if err := ms[2].Leave(time.Second); !errors.Is(err, membership.ErrShutdown) {
		t.Fatalf("Leave after Shutdown: %v", err)
	}
	if got := ms[2].Local().State; got != membership.StateDead {
		t.Fatalf("shut-down node sees itself %v", got)
	}
	if err := ms[2].Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestLeaveSeenAsLeft(t *testing.T) {
	ms := start(t, newTestNet(), nil, "a", "b", "c")
	joinAll(t, ms)
	if err := ms[2].Leave(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		e := waitEvent(t, m, membership.EventLeave, "c")
		if e.Member.State != membership.StateLeft {
			t.Fatalf("%s: leave event %v", m.self, e)
		}
		if mem, _ := m.Member("c"); mem.State != membership.StateLeft {
			t.Fatalf("%s sees c %v", m.self, mem.State)
		}
	}
	if got := ms[2].Local().State; got != membership.StateLeft {
		t.Fatalf("left node sees itself %v", got)
	}
	if err := ms[2].Broadcast([]byte("x")); !errors.Is(err, membership.ErrLeft) {
		t.Fatalf("Broadcast after Leave: %v", err)
	}
	if err := ms[2].SetLocalMeta(membership.Meta{}); !errors.Is(err, membership.ErrLeft) {
		t.Fatalf("SetLocalMeta after Leave: %v", err)
	}
	if err := ms[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	if got := ms[2].Local().State; got != membership.StateLeft {
		t.Fatalf("left and shut-down node sees itself %v", got)
	}
}

func TestMetaTooLarge(t *testing.T) {
	huge := membership.Meta{HTTPAddr: strings.Repeat("h", 600)}
	cfg := DefaultLocalConfig()
	cfg.Name = "a"
	cfg.Meta = huge
	cfg.transport = newTestNet().transport("a")
	if _, err := New(cfg); !errors.Is(err, membership.ErrMetaTooLarge) || !errors.Is(err, ErrConfig) {
		t.Fatalf("New with huge meta: %v", err)
	}
	ms := start(t, newTestNet(), nil, "a")
	err := ms[0].SetLocalMeta(huge)
	if !errors.Is(err, membership.ErrMetaTooLarge) {
		t.Fatalf("SetLocalMeta(huge) = %v", err)
	}
	if !strings.Contains(err.Error(), "limit is 512") {
		t.Fatalf("error does not state the limit: %v", err)
	}
	if got := ms[0].Local().Meta.HTTPAddr; got != "http-a" {
		t.Fatalf("refused meta changed the local meta: %q", got)
	}
}

func TestSlowConsumerDoesNotBlockGossip(t *testing.T) {
	tn := newTestNet()
	ms := start(t, tn, func(c *Config) { c.EventBuffer = 1 }, "a", "b", "c")
	// Nobody reads a's events: its one-slot buffer holds its own join.
	joinAll(t, ms)
	for _, m := range ms[1:] {
		_ = m.SetLocalMeta(membership.Meta{Ready: true})
	}
	testwait.For(t, deadline, "a sees b and c up despite its full event channel", func() bool { return ms[0].Up("b") && ms[0].Up("c") })
	// b's and c's joins waited behind a's own (one of them held by the
	// pump), so at least one ready update replaced a waiting join.
	if ms[0].EventsCoalesced() == 0 {
		t.Fatal("no event was coalesced")
	}
	// Reading now, the newest event of each member carries its ready meta.
	latest := map[NodeID]membership.Event{}
	testwait.For(t, deadline, "a's events catch up", func() bool {
		for {
			select {
			case e := <-ms[0].Events():
				latest[e.Member.ID] = e
				continue
			default:
			}
			return latest["b"].Member.Meta.Ready && latest["c"].Member.Meta.Ready
		}
	})
	if e := latest["a"]; e.Type != membership.EventJoin {
		t.Fatalf("a's own event %v", e)
	}
}

func TestLoopback(t *testing.T) {
	ms := start(t, nil, nil, "a", "b")
	if addr := ms[0].Local().GossipAddr; !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("gossip address %q", addr)
	}
	joinAll(t, ms)
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Name = "a"
	if err := ok.Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	local := DefaultLocalConfig()
	local.Name = "a"
	if err := local.Validate(); err != nil {
		t.Fatalf("DefaultLocalConfig: %v", err)
	}
	if err := (Config{Name: "a"}).Validate(); err != nil {
		t.Fatalf("zero config with a name: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no name", func(c *Config) { c.Name = "" }, "Name is required"},
		{"host name", func(c *Config) { c.BindAddr = "localhost:7946" }, "must be an IP"},
		{"no port", func(c *Config) { c.BindAddr = "127.0.0.1" }, "BindAddr"},
		{"bad port", func(c *Config) { c.BindAddr = "127.0.0.1:70000" }, "bad port"},
		{"bad advertise", func(c *Config) { c.AdvertiseAddr = "nope" }, "AdvertiseAddr"},
		{"negative", func(c *Config) { c.ProbeInterval = -time.Second }, "ProbeInterval must not be negative"},
		{"negative int", func(c *Config) { c.GossipNodes = -1 }, "GossipNodes must not be negative"},
		{"timeout over interval", func(c *Config) { c.ProbeTimeout = 2 * c.ProbeInterval }, "must not exceed ProbeInterval"},
		{"label", func(c *Config) { c.Label = strings.Repeat("l", 256) }, "Label"},
		{"meta", func(c *Config) { c.Meta.ClusterAddr = strings.Repeat("c", 600) }, "too large"},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want ErrConfig mentioning %q", tc.name, err, tc.want)
		}
	}
}

// capture is a slog handler keeping records.
type capture struct {
	mu   sync.Mutex
	recs []string
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	attrs := ""
	r.Attrs(func(a slog.Attr) bool { attrs += " " + a.String(); return true })
	c.recs = append(c.recs, fmt.Sprintf("%s %s%s", r.Level, r.Message, attrs))
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }

func TestLogLevels(t *testing.T) {
	c := &capture{}
	l := newStdLogger(slog.New(c))
	l.Printf("[DEBUG] memberlist: Stream connection from=x")
	l.Printf("[WARN] memberlist: Refuting a suspect message")
	l.Printf("[ERR] memberlist: Failed to send")
	l.Printf("plain line")
	want := []string{
		"DEBUG Stream connection from=x component=memberlist",
		"WARN Refuting a suspect message component=memberlist",
		"ERROR Failed to send component=memberlist",
		"INFO plain line component=memberlist",
	}
	if !slices.Equal(c.recs, want) {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(c.recs, "\n"), strings.Join(want, "\n"))
	}
}

// A leaving note that arrives after memberlist reported the node gone
// turns the failure into a leave; a note for another incarnation does not.
func TestLateLeavingNote(t *testing.T) {
	ms := start(t, newTestNet(), nil, "a")
	m := ms[0]
	waitEvent(t, m, membership.EventJoin, "a")
	m.mu.Lock()
	m.table["c"] = membership.Member{ID: "c", State: membership.StateDead, Meta: membership.Meta{Incarnation: 7}}
	m.mu.Unlock()
	note := func(inc byte) []byte { return append([]byte{msgLeaving, 0, 0, 0, 0, 0, 0, 0, inc}, "c"...) }
	d := &delegate{m}
	d.NotifyMsg(note(6))
	if mem, _ := m.Member("c"); mem.State != membership.StateDead {
		t.Fatalf("note of another incarnation changed c to %v", mem.State)
	}
	d.NotifyMsg(note(7))
	if mem, _ := m.Member("c"); mem.State != membership.StateLeft {
		t.Fatalf("c is %v after its leaving note", mem.State)
	}
	if e := <-m.Events(); e.Type != membership.EventLeave || e.Member.ID != "c" {
		t.Fatalf("event %v, want leave c", e)
	}
	d.NotifyMsg(nil)                 // ignored
	d.NotifyMsg([]byte{msgLeaving})  // too short: ignored
	d.NotifyMsg([]byte{99, 1, 2, 3}) // unknown type: ignored
}
