package dt

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/vclock"
)

// PG joins the shared property harness, genState and fuzzDecoder.
func init() {
	specs[KindPG] = spec{
		empty:    func(*rand.Rand) CRDT { return &PG{} },
		genOp:    func(r *rand.Rand, read CRDT) Op { return genPGOp(r, read.(*PG)) },
		newModel: func(_ *int, _ CRDT) model { return newPGModel() },
		runs:     300,
	}
}

var (
	pgNodes = []string{"n1", "n2"}
	pgIDs   = []string{"a", "b", "c"}
	pgMetas = []string{"", "x", "y"}
)

// genPGOp draws an owner's batch of joins and leaves (leaves mostly of
// members the read showed), or now and then a prune.
func genPGOp(r *rand.Rand, read *PG) Op {
	node := pick(r, pgNodes)
	inc := 1 + r.Uint64N(2)
	if r.IntN(10) == 0 {
		return PGPruneOp{Node: node, KeepIncarnation: 1 + r.Uint64N(3), All: r.IntN(3) == 0}
	}
	op := PGOp{Node: node, Incarnation: inc}
	seen := read.MembersOf(node)
	for range 1 + r.IntN(3) {
		id := pick(r, pgIDs)
		if len(seen) > 0 && r.IntN(3) != 0 {
			e := seen[r.IntN(len(seen))]
			op.Incarnation, id = e.Incarnation, e.ID
		}
		switch r.IntN(6) {
		case 0, 1, 2:
			op = op.Join(id, pick(r, pgMetas))
		case 3, 4:
			op = op.Leave(id)
		default:
			op = op.LeaveAll(id)
		}
	}
	return op
}

// pgModel is the reference model: a multiset of joins. Each join is an
// event (minting actor, per-actor sequence number, member, metadata); a
// member's count is its live events; a leave kills the member's least live
// event this replica knows, a leave-all or a prune all of them; merging
// unites known and killed events, so a leave only removes joins it
// observed.
type pgModel struct {
	events map[vclock.Dot]pgEv
	killed map[vclock.Dot]bool
}

type pgEv struct {
	m    PGMember
	meta string
}

func newPGModel() *pgModel {
	return &pgModel{events: map[vclock.Dot]pgEv{}, killed: map[vclock.Dot]bool{}}
}

func (m *pgModel) clone() model {
	c := newPGModel()
	for k, v := range m.events {
		c.events[k] = v
	}
	for k := range m.killed {
		c.killed[k] = true
	}
	return c
}

func (m *pgModel) live(mem PGMember) []vclock.Dot {
	var out []vclock.Dot
	for d, e := range m.events {
		if e.m == mem && !m.killed[d] {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b vclock.Dot) int {
		if dotLess(a, b) {
			return -1
		}
		return 1
	})
	return out
}

func (m *pgModel) apply(op Op, actor vclock.Actor, _ model) bool {
	if p, ok := op.(PGPruneOp); ok {
		for d, e := range m.events {
			if e.m.Node == p.Node && (p.All || e.m.Incarnation < p.KeepIncarnation) {
				m.killed[d] = true
			}
		}
		return false
	}
	o := op.(PGOp)
	var next uint64
	for d := range m.events {
		if d.Actor == actor {
			next = max(next, d.Counter)
		}
	}
	for _, e := range o.Edits {
		mem := PGMember{o.Node, o.Incarnation, e.ID}
		switch e.Kind {
		case PGJoin:
			next++
			m.events[vclock.Dot{Actor: actor, Counter: next}] = pgEv{m: mem, meta: e.Meta}
		case PGLeave, PGLeaveAll:
			l := m.live(mem)
			if len(l) == 0 {
				return true
			}
			if e.Kind == PGLeave {
				l = l[:1]
			}
			for _, d := range l {
				m.killed[d] = true
			}
		}
	}
	return false
}

func (m *pgModel) merge(o model) {
	om := o.(*pgModel)
	for k, v := range om.events {
		m.events[k] = v
	}
	for k := range om.killed {
		m.killed[k] = true
	}
}

func (m *pgModel) value() any {
	byMember := map[PGMember]bool{}
	for d, e := range m.events {
		if !m.killed[d] {
			byMember[e.m] = true
		}
	}
	out := []PGEntry{}
	for mem := range byMember {
		l := m.live(mem)
		out = append(out, PGEntry{Node: mem.Node, Incarnation: mem.Incarnation, ID: mem.ID,
			Count: len(l), Meta: m.events[l[len(l)-1]].meta})
	}
	slices.SortFunc(out, func(a, b PGEntry) int { return comparePGMember(a.Member(), b.Member()) })
	return out
}

func TestLawsPG(t *testing.T) { checkLaws(t, specs[KindPG]) }

func FuzzUnmarshalPG(f *testing.F) { fuzzDecoder(f, KindPG) }

func pgApply(t *testing.T, p *PG, a vclock.Actor, op PGOp) {
	t.Helper()
	if err := p.Apply(op, a, Context{}); err != nil {
		t.Fatal(err)
	}
}

func wantMembers(t *testing.T, got []PGEntry, want ...PGEntry) {
	t.Helper()
	if want == nil {
		want = []PGEntry{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("members\n got %+v\nwant %+v", got, want)
	}
}

func TestPGJoinLeaveCounts(t *testing.T) {
	p := &PG{}
	n1 := PGOp{Node: "n1", Incarnation: 5}
	pgApply(t, p, aA, n1.Join("w", "addr1"))
	pgApply(t, p, aA, n1.Join("w", "addr1").Join("v", ""))
	wantMembers(t, p.Members(), PGEntry{"n1", 5, "v", 1, ""}, PGEntry{"n1", 5, "w", 2, "addr1"})
	pgApply(t, p, aA, n1.Leave("w"))
	if c := p.Count(PGMember{"n1", 5, "w"}); c != 1 {
		t.Fatalf("count %d after one leave of two joins", c)
	}
	pgApply(t, p, aA, n1.Leave("w"))
	wantMembers(t, p.Members(), PGEntry{"n1", 5, "v", 1, ""})
	// Leaving an absent member is a precondition failure and changes nothing.
	before := enc(t, p)
	err := p.Apply(n1.Join("z", "").Leave("w"), aA, Context{})
	var pe *PreconditionError
	if !errors.As(err, &pe) || pe.Element != "w" || !errors.Is(err, ErrPrecondition) {
		t.Fatalf("leave of absent member: %v", err)
	}
	if !slicesEqual(before, enc(t, p)) {
		t.Fatal("a failed op changed the value")
	}
	// Leave-all drops the member whatever its count.
	pgApply(t, p, aA, n1.Join("v", "").Join("v", ""))
	pgApply(t, p, aA, n1.LeaveAll("v"))
	wantMembers(t, p.Members())
	if st := p.Stats(); st.Elements != 0 || st.Actors != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func slicesEqual(a, b []byte) bool { return slices.Equal(a, b) }

func TestPGOwnerOnly(t *testing.T) {
	p := &PG{}
	pgApply(t, p, aA, PGOp{Node: "n1", Incarnation: 1}.Join("w", ""))
	// n2 can only name its own members: its leave of "w" addresses
	// (n2, 1, w), which does not exist, and n1's member is untouched.
	err := p.Apply(PGOp{Node: "n2", Incarnation: 1}.Leave("w"), aB, Context{})
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("n2 leaving n1's member: %v", err)
	}
	wantMembers(t, p.Members(), PGEntry{"n1", 1, "w", 1, ""})
	for name, op := range map[string]Op{
		"no node":        PGOp{Incarnation: 1, Edits: []PGEdit{{Kind: PGJoin, ID: "w"}}},
		"no incarnation": PGOp{Node: "n1", Edits: []PGEdit{{Kind: PGJoin, ID: "w"}}},
		"bad edit":       PGOp{Node: "n1", Incarnation: 1, Edits: []PGEdit{{ID: "w"}}},
		"leave meta":     PGOp{Node: "n1", Incarnation: 1, Edits: []PGEdit{{Kind: PGLeave, ID: "w", Meta: "m"}}},
		"long meta":      PGOp{Node: "n1", Incarnation: 1}.Join("w", string(make([]byte, MaxPGMeta+1))),
		"prune no node":  PGPruneOp{All: true},
		"wrong kind":     SetOp{}.Add("x"),
	} {
		before := enc(t, p)
		err := p.ApplyOp(op, aA, Context{})
		if err == nil || errors.Is(err, ErrPrecondition) {
			t.Fatalf("%s: %v", name, err)
		}
		if !slicesEqual(before, enc(t, p)) {
			t.Fatalf("%s: a refused op changed the value", name)
		}
	}
	if err := p.Apply(PGOp{Node: "n1", Incarnation: 1}.Join("x", ""), vclock.Actor{}, Context{}); !errors.Is(err, ErrInvalidActor) {
		t.Fatalf("zero actor: %v", err)
	}
}

func TestPGConcurrentJoinLeave(t *testing.T) {
	n1 := PGOp{Node: "n1", Incarnation: 1}
	a := &PG{}
	pgApply(t, a, aA, n1.Join("w", "old"))
	b := a.Clone().(*PG)
	// Replica A sees a second join; replica B, not having seen it, leaves
	// the member (removing the one join it observed).
	pgApply(t, a, aA, n1.Join("w", "new"))
	pgApply(t, b, aB, n1.Leave("w"))
	wantMembers(t, b.Members())
	ab, ba := merged(t, a, b), merged(t, b, a)
	sameBytes(t, "ab/ba", ab, ba)
	wantMembers(t, ab.(*PG).Members(), PGEntry{"n1", 1, "w", 1, "new"})
	// A join concurrent with a leave-all also survives.
	c := ab.Clone().(*PG)
	d := ab.Clone().(*PG)
	pgApply(t, c, aA, n1.Join("w", "new"))
	pgApply(t, d, aB, n1.LeaveAll("w"))
	wantMembers(t, merged(t, d, c).(*PG).Members(), PGEntry{"n1", 1, "w", 1, "new"})
}

func TestPGPruneConverges(t *testing.T) {
	a := &PG{}
	pgApply(t, a, aA, PGOp{Node: "n1", Incarnation: 1}.Join("old", "").Join("old", ""))
	pgApply(t, a, aA, PGOp{Node: "n2", Incarnation: 3}.Join("x", ""))
	b := a.Clone().(*PG)
	c := a.Clone().(*PG)
	// n1 restarts as incarnation 2 and joins through replica B; replica A
	// learns of the restart and prunes incarnation < 2.
	pgApply(t, b, aB, PGOp{Node: "n1", Incarnation: 2}.Join("new", ""))
	if n := a.PruneIncarnation("n1", 2); n != 1 {
		t.Fatalf("pruned %d", n)
	}
	// Replica C learns that n2 left the cluster.
	if n := c.PruneNode("n2"); n != 1 {
		t.Fatalf("pruned %d", n)
	}
	want := []PGEntry{{"n1", 2, "new", 1, ""}}
	x := merged(t, merged(t, a, b), c)
	y := merged(t, c, merged(t, b, a))
	sameBytes(t, "merge orders", x, y)
	wantMembers(t, x.(*PG).Members(), want...)
	// Pruning through ApplyOp never fails, even when nothing is removed.
	if err := x.ApplyOp(PGPruneOp{Node: "n9", All: true}, aA, Context{}); err != nil {
		t.Fatal(err)
	}
	// A stale replica still holding the old members cannot resurrect them.
	wantMembers(t, merged(t, a.Clone(), x).(*PG).Members(), want...)
	old := &PG{}
	pgApply(t, old, aA, PGOp{Node: "n1", Incarnation: 1}.Join("old", "").Join("old", ""))
	wantMembers(t, merged(t, x, old).(*PG).Members(), want...)
}

// TestPGBoundedGrowth: 100,000 join/leave cycles of one member on one group,
// through three replicas that merge after every cycle, leave an encoded
// state under 1 KiB (measured: a few dozen bytes — three actors and their
// counters; nothing per removed join). One permanent member stays.
func TestPGBoundedGrowth(t *testing.T) {
	const cycles = 100_000
	actors := []vclock.Actor{aA, aB, {ID: 0xC, Epoch: 1}}
	reps := []*PG{{}, {}, {}}
	pgApply(t, reps[0], aA, PGOp{Node: "n0", Incarnation: 1}.Join("keep", "10.0.0.1:80"))
	n1 := PGOp{Node: "n1", Incarnation: 7}
	for i := range cycles {
		k := i % 3
		pgApply(t, reps[k], actors[k], n1.Join("w", "10.0.0.2:80"))
		pgApply(t, reps[k], actors[k], n1.Leave("w"))
		mustMerge(t, reps[(k+1)%3], reps[k])
	}
	for _, r := range reps[1:] {
		mustMerge(t, reps[0], r)
	}
	b := enc(t, reps[0])
	t.Logf("state after %d join/leave cycles: %d bytes", cycles, len(b))
	if len(b) >= 1024 {
		t.Fatalf("state grew to %d bytes", len(b))
	}
	wantMembers(t, reps[0].Members(), PGEntry{"n0", 1, "keep", 1, "10.0.0.1:80"})
}

func TestPGConnectedHidesButKeeps(t *testing.T) {
	p := &PG{}
	pgApply(t, p, aA, PGOp{Node: "n1", Incarnation: 1}.Join("a", ""))
	pgApply(t, p, aA, PGOp{Node: "n2", Incarnation: 1}.Join("b", "m"))
	up := map[string]bool{"n1": true}
	before := enc(t, p)
	wantMembers(t, p.Connected(func(n string) bool { return up[n] }), PGEntry{"n1", 1, "a", 1, ""})
	if !slicesEqual(before, enc(t, p)) {
		t.Fatal("Connected changed the state")
	}
	wantMembers(t, p.MembersOf("n2"), PGEntry{"n2", 1, "b", 1, "m"})
	up["n2"] = true
	wantMembers(t, p.Connected(func(n string) bool { return up[n] }), p.Members()...)
	if k, ok := ParseKind("pg"); !ok || k != KindPG || KindPG.String() != "pg" || KindPG.Embeddable() {
		t.Fatal("kind registration")
	}
}
