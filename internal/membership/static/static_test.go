package static_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/riakgo/riakgo/internal/membership"
	"github.com/riakgo/riakgo/internal/membership/static"
)

// drain returns the events waiting on nd's channel, one line each.
func drain(nd *static.Node) []string {
	var out []string
	for {
		select {
		case e, ok := <-nd.Events():
			if !ok {
				return append(out, "closed")
			}
			out = append(out, fmt.Sprintf("%s %s %s ready=%v inc=%d", e.Type, e.Member.ID, e.Member.State, e.Member.Meta.Ready, e.Member.Meta.Incarnation))
		default:
			return out
		}
	}
}

func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// upSet is what nd sees up, as "a,b".
func upSet(nd *static.Node) string {
	var ids []string
	for _, m := range nd.Members() {
		if nd.Up(m.ID) {
			ids = append(ids, string(m.ID))
		}
	}
	return strings.Join(ids, ",")
}

// cluster starts ids, joins them and makes them ready.
func cluster(ids ...static.NodeID) (*static.Network, map[static.NodeID]*static.Node) {
	net := static.NewNetwork()
	nodes := make(map[static.NodeID]*static.Node)
	for _, id := range ids {
		nodes[id] = net.Node(id)
	}
	net.JoinAll()
	for _, id := range ids {
		net.SetUp(id, true)
	}
	for _, nd := range nodes {
		drain(nd)
	}
	return net, nodes
}

func TestUpDownAndRestart(t *testing.T) {
	net := static.NewNetwork()
	a, b, c := net.Node("a"), net.Node("b"), net.Node("c")
	net.JoinAll()
	if got := upSet(a); got != "" {
		t.Fatalf("before ready, a sees up %q", got)
	}
	net.SetUp("a", true)
	net.SetUp("b", true)
	net.SetUp("c", true)
	for _, nd := range []*static.Node{a, b, c} {
		if got := upSet(nd); got != "a,b,c" {
			t.Fatalf("%s sees up %q, want a,b,c", nd.Local().ID, got)
		}
	}
	net.SetUp("b", false)
	if m, _ := a.Member("b"); a.Up("b") || m.State != membership.StateAlive {
		t.Fatalf("b not ready: want alive but not up, got %v", m)
	}

	oldInc := c.Local().Incarnation()
	net.Kill("c")
	if a.Up("c") || b.Up("c") {
		t.Fatal("killed c still up")
	}
	if m, _ := a.Member("c"); m.State != membership.StateDead {
		t.Fatalf("a sees c %v, want dead", m.State)
	}
	if _, err := c.Join([]string{a.Local().GossipAddr}); !errors.Is(err, membership.ErrShutdown) {
		t.Fatalf("Join on killed node: %v", err)
	}

	c2 := net.Node("c") // restart: a new incarnation, taken back at once
	if c2 == c {
		t.Fatal("restart returned the killed node")
	}
	if c2.Local().Incarnation() == oldInc {
		t.Fatal("restart kept the incarnation")
	}
	m, _ := a.Member("c")
	if m.State != membership.StateAlive || m.Incarnation() != c2.Local().Incarnation() || m.Meta.Ready {
		t.Fatalf("a sees restarted c as %v", m)
	}
	net.SetUp("c", true)
	if got := upSet(c2); got != "a,c" {
		t.Fatalf("restarted c sees up %q, want a,c", got)
	}
}

func TestPartitionEachSideSeesItself(t *testing.T) {
	net, n := cluster("a", "b", "c", "d", "e")
	net.Partition([]static.NodeID{"a", "b"}, []static.NodeID{"c", "d", "e"})
	for id, want := range map[static.NodeID]string{"a": "a,b", "b": "a,b", "c": "c,d,e", "d": "c,d,e", "e": "c,d,e"} {
		if got := upSet(n[id]); got != want {
			t.Errorf("%s sees up %q, want %q", id, got, want)
		}
	}
	if net.Reachable("a", "c") || !net.Reachable("c", "e") {
		t.Fatal("Reachable disagrees with the partition")
	}
	// Nodes named in no group form a group together.
	net.Partition([]static.NodeID{"a"})
	if got := upSet(n["b"]); got != "b,c,d,e" {
		t.Fatalf("b sees up %q, want b,c,d,e", got)
	}
	net.Heal()
	net.Isolate("c")
	if got, want := upSet(n["c"]), "c"; got != want {
		t.Fatalf("isolated c sees up %q", got)
	}
	if got := upSet(n["a"]); got != "a,b,d,e" {
		t.Fatalf("a sees up %q with c isolated", got)
	}
	net.Heal()
	for id, nd := range n {
		if got := upSet(nd); got != "a,b,c,d,e" {
			t.Errorf("after heal %s sees up %q", id, got)
		}
	}
	// Meta changes across a partition arrive on heal.
	net.Partition([]static.NodeID{"a"}, []static.NodeID{"b", "c", "d", "e"})
	net.SetUp("a", false)
	if m, _ := n["b"].Member("a"); !m.Meta.Ready || m.State != membership.StateDead {
		t.Fatalf("b sees a as %v, want dead with the last meta (ready)", m)
	}
	drain(n["b"])
	net.Heal()
	wantLines(t, "b's events on heal", drain(n["b"]), []string{"join a alive ready=false inc=1"})
}

func TestEvents(t *testing.T) {
	net := static.NewNetwork()
	a := net.Node("a")
	b := net.Node("b")
	c := net.Node("c")
	if _, err := b.Join([]string{a.Local().GossipAddr}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join([]string{b.Local().GossipAddr}); err != nil {
		t.Fatal(err)
	}
	net.SetUp("b", true)
	if err := a.SetLocalMeta(membership.Meta{HTTPAddr: "127.0.0.1:8098", Ready: true}); err != nil {
		t.Fatal(err)
	}
	net.Kill("c")
	net.Node("c")
	if err := b.Leave(0); err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, "a's events", drain(a), []string{
		"join a alive ready=false inc=1",
		"join b alive ready=false inc=2",
		"join c alive ready=false inc=3",
		"update b alive ready=true inc=2",
		"update a alive ready=true inc=1",
		"fail c dead ready=false inc=3",
		"join c alive ready=false inc=4",
		"leave b left ready=true inc=2",
	})
	wantLines(t, "b's events", drain(b), []string{
		"join b alive ready=false inc=2",
		"join a alive ready=false inc=1",
		"join c alive ready=false inc=3",
		"update b alive ready=true inc=2",
		"update a alive ready=true inc=1",
		"fail c dead ready=false inc=3",
		"join c alive ready=false inc=4",
		"leave b left ready=true inc=2",
		"closed",
	})
	if b.Up("a") {
		t.Fatal("a shut-down node sees others up")
	}
	if b.EventsCoalesced() != 0 {
		t.Fatal("no coalescing expected with room in the buffer")
	}
}

func TestJoin(t *testing.T) {
	net := static.NewNetwork()
	a, b, c := net.Node("a"), net.Node("b"), net.Node("c")
	if got := len(a.Members()); got != 1 {
		t.Fatalf("unjoined a knows %d members", got)
	}
	if n, err := a.Join(nil); n != 0 || err != nil {
		t.Fatalf("Join(nil) = %d, %v", n, err)
	}
	if n, err := b.Join([]string{"static/a"}); n != 1 || err != nil {
		t.Fatalf("Join = %d, %v", n, err)
	}
	// c joins b and learns a through b's cluster.
	if _, err := c.Join([]string{"static/b"}); err != nil {
		t.Fatal(err)
	}
	for _, nd := range []*static.Node{a, b, c} {
		if got := len(nd.Members()); got != 3 {
			t.Fatalf("%s knows %d members, want 3", nd.Local().ID, got)
		}
	}
	d := net.Node("d")
	net.Partition([]static.NodeID{"d"})
	if _, err := d.Join([]string{"static/a", "static/nope"}); !errors.Is(err, membership.ErrJoin) {
		t.Fatalf("Join across a partition: %v", err)
	}
	net.Heal()
	if _, ok := a.Member("d"); ok {
		t.Fatal("a knows d, which never joined")
	}
}

func TestLeaveThenShutdown(t *testing.T) {
	net, n := cluster("a", "b", "c")
	if err := n["c"].Leave(0); err != nil {
		t.Fatal(err)
	}
	if n["a"].Up("c") || n["c"].Up("c") {
		t.Fatal("left node still up")
	}
	if err := n["c"].Broadcast([]byte("x")); !errors.Is(err, membership.ErrLeft) {
		t.Fatalf("Broadcast after Leave: %v", err)
	}
	if err := n["c"].Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := n["c"].Shutdown(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, "a's events", drain(n["a"]), []string{"leave c left ready=true inc=3"})
	if m, _ := n["a"].Member("c"); m.State != membership.StateLeft {
		t.Fatalf("a sees c %v after its shutdown, want left", m.State)
	}
	if got := n["c"].Local().State; got != membership.StateLeft {
		t.Fatalf("c sees itself %v", got)
	}
	if err := n["c"].Broadcast(nil); !errors.Is(err, membership.ErrShutdown) {
		t.Fatalf("Broadcast after Shutdown: %v", err)
	}
	if err := n["c"].SetLocalMeta(membership.Meta{}); !errors.Is(err, membership.ErrShutdown) {
		t.Fatalf("SetLocalMeta after Shutdown: %v", err)
	}
	_ = net
}

func TestMetaTooLarge(t *testing.T) {
	net := static.NewNetwork()
	a := net.Node("a")
	err := a.SetLocalMeta(membership.Meta{HTTPAddr: strings.Repeat("x", membership.MetaMaxSize)})
	if !errors.Is(err, membership.ErrMetaTooLarge) {
		t.Fatalf("SetLocalMeta(huge) = %v", err)
	}
}

// recorder is a StateHandler that keeps a set of tokens: its state is the
// sorted tokens, and merging unions them. It logs every merge.
type recorder struct {
	id      static.NodeID
	log     *[]string
	mu      sync.Mutex
	tokens  map[string]bool
	rebroad membership.Membership // if set, broadcast the state when it grows
}

func newRecorder(id static.NodeID, log *[]string, tokens ...string) *recorder {
	r := &recorder{id: id, log: log, tokens: make(map[string]bool)}
	for _, tk := range tokens {
		r.tokens[tk] = true
	}
	return r
}

func (r *recorder) LocalState() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return []byte(r.stateLocked())
}

func (r *recorder) stateLocked() string {
	var ts []string
	for tk := range r.tokens {
		ts = append(ts, tk)
	}
	slices.Sort(ts)
	return strings.Join(ts, ",")
}

func (r *recorder) MergeRemoteState(b []byte) {
	r.mu.Lock()
	grew := false
	for _, tk := range strings.Split(string(b), ",") {
		if !r.tokens[tk] {
			r.tokens[tk] = true
			grew = true
		}
	}
	*r.log = append(*r.log, fmt.Sprintf("%s<-%s", r.id, b))
	state := r.stateLocked()
	r.mu.Unlock()
	if grew && r.rebroad != nil {
		_ = r.rebroad.Broadcast([]byte(state))
	}
}

func (r *recorder) state() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stateLocked()
}

func TestGossipBetweenReachablePairsOnly(t *testing.T) {
	net, n := cluster("a", "b", "c")
	var log []string
	rs := map[static.NodeID]*recorder{}
	for id, nd := range n {
		rs[id] = newRecorder(id, &log, string(id))
		nd.SetStateHandler(rs[id])
	}
	net.Partition([]static.NodeID{"a"}, []static.NodeID{"b", "c"})
	if got := net.Gossip(); got != 1 {
		t.Fatalf("Gossip exchanged %d pairs, want 1", got)
	}
	wantLines(t, "merges under partition", log, []string{"c<-b", "b<-c"})
	if rs["a"].state() != "a" || rs["b"].state() != "b,c" {
		t.Fatalf("states a=%q b=%q", rs["a"].state(), rs["b"].state())
	}

	log = nil
	net.Heal()
	if got := net.Gossip(); got != 3 {
		t.Fatalf("Gossip exchanged %d pairs, want 3", got)
	}
	// Both states are taken before either merge, pair by pair in ID order.
	wantLines(t, "merges after heal", log, []string{"b<-a", "a<-b,c", "c<-a,b,c", "a<-b,c", "c<-a,b,c", "b<-a,b,c"})

	log = nil
	net.Kill("c")
	net.Gossip()
	wantLines(t, "merges with c dead", log, []string{"b<-a,b,c", "a<-a,b,c"})
	// A node without a handler neither sends nor receives.
	n["b"].SetStateHandler(nil)
	log = nil
	net.Gossip()
	if len(log) != 0 {
		t.Fatalf("merges without b's handler: %v", log)
	}
}

func TestJoinExchangesState(t *testing.T) {
	net := static.NewNetwork()
	a, b := net.Node("a"), net.Node("b")
	var log []string
	ra, rb := newRecorder("a", &log, "a"), newRecorder("b", &log, "b")
	a.SetStateHandler(ra)
	b.SetStateHandler(rb)
	if _, err := b.Join([]string{"static/a"}); err != nil {
		t.Fatal(err)
	}
	if ra.state() != "a,b" || rb.state() != "a,b" {
		t.Fatalf("after join a=%q b=%q", ra.state(), rb.state())
	}
}

func TestBroadcast(t *testing.T) {
	net, n := cluster("a", "b", "c")
	var log []string
	for id, nd := range n {
		nd.SetStateHandler(newRecorder(id, &log))
	}
	if err := n["a"].Broadcast([]byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := n["a"].Broadcast([]byte("2")); err != nil { // supersedes "1"
		t.Fatal(err)
	}
	if len(log) != 0 {
		t.Fatal("broadcast delivered before Deliver")
	}
	if got := net.Deliver(); got != 2 {
		t.Fatalf("Deliver merged %d payloads, want 2", got)
	}
	wantLines(t, "deliveries", log, []string{"b<-2", "c<-2"})

	log = nil
	net.Partition([]static.NodeID{"a", "b"})
	_ = n["a"].Broadcast([]byte("3"))
	net.Deliver()
	wantLines(t, "deliveries under partition", log, []string{"b<-3"})
	net.Heal()

	// Handlers that rebroadcast what they learn converge and stop.
	log = nil
	rs := map[static.NodeID]*recorder{}
	for id, nd := range n {
		rs[id] = newRecorder(id, &log, string(id))
		rs[id].rebroad = nd
		nd.SetStateHandler(rs[id])
	}
	_ = n["a"].Broadcast([]byte("a"))
	net.Deliver()
	for id, r := range rs {
		if got := r.state(); got != "a,b,c" {
			t.Errorf("after rebroadcasts %s has %q, want a,b,c", id, got)
		}
	}
}

func TestResolver(t *testing.T) {
	net := static.NewNetwork()
	a, b := net.Node("a"), net.Node("b")
	net.JoinAll()
	if err := b.SetLocalMeta(membership.Meta{ClusterAddr: "127.0.0.1:8099"}); err != nil {
		t.Fatal(err)
	}
	resolve := membership.Resolver(a)
	if addr, ok := resolve("b"); !ok || addr != "127.0.0.1:8099" {
		t.Fatalf("resolve(b) = %q, %v", addr, ok)
	}
	if _, ok := resolve("a"); ok {
		t.Fatal("a has no cluster address")
	}
	if _, ok := resolve("zz"); ok {
		t.Fatal("unknown node resolved")
	}
}

func TestUnknownNodePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("SetUp of an unknown node did not panic")
		}
	}()
	static.NewNetwork().SetUp("nope", true)
}

// With ForgetDead, a healed partition does not merge by itself (as with
// memberlist once both sides declared the other dead): the sides see each
// other again only after one joins the other. A restarted node likewise
// comes back only by joining.
func TestForgetDead(t *testing.T) {
	net := static.NewNetwork()
	net.ForgetDead(true)
	a, b, c := net.Node("a"), net.Node("b"), net.Node("c")
	net.JoinAll()
	net.Partition([]static.NodeID{"a", "b"}, []static.NodeID{"c"})
	if m, _ := a.Member("c"); m.State != membership.StateDead {
		t.Fatalf("a sees c %v during the partition", m.State)
	}
	net.Heal()
	if m, _ := a.Member("c"); m.State != membership.StateDead {
		t.Fatalf("a sees c %v after the heal, want still dead", m.State)
	}
	if m, _ := c.Member("b"); m.State != membership.StateDead {
		t.Fatalf("c sees b %v after the heal, want still dead", m.State)
	}
	if _, err := c.Join([]string{b.Local().GossipAddr}); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]*static.Node{{a, c}, {c, a}, {b, c}} {
		if m, _ := pair[0].Member(pair[1].Local().ID); m.State != membership.StateAlive {
			t.Fatalf("%s sees %s %v after the join", pair[0].Local().ID, pair[1].Local().ID, m.State)
		}
	}
	net.Kill("b")
	b = net.Node("b")
	if m, _ := a.Member("b"); m.State != membership.StateDead {
		t.Fatalf("a sees the restarted b %v before it joins", m.State)
	}
	if _, err := b.Join([]string{a.Local().GossipAddr}); err != nil {
		t.Fatal(err)
	}
	if m, _ := c.Member("b"); m.State != membership.StateAlive {
		t.Fatalf("c sees b %v after b joined a", m.State)
	}
}
