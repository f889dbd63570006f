package pg_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/pg"
	"github.com/riakgo/riakgo/quorum"
)

var pgctx = context.Background()

func newPG(t testing.TB) (*env, *pg.Service) {
	t.Helper()
	e := newEnv(t)
	p, err := pg.New(e.svc, pg.Config{Incarnation: 1})
	if err != nil {
		t.Fatal(err)
	}
	return e, p
}

func gk(group string) kv.Key { return kv.Key{Type: pg.BucketType, Bucket: "scope", Key: group} }

func pgNames(ms []pg.MemberInfo) string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s×%d", m.ID, m.Count))
	}
	return strings.Join(out, " ")
}

func TestPGTypeExistsByDefault(t *testing.T) {
	e, _ := newPG(t)
	ti := e.svc.TypeInfo(pg.BucketType)
	if ti.Status != kv.TypeActive || ti.Props.Datatype != "pg" || !ti.Props.AllowMult {
		t.Fatalf("pg type: %+v", ti)
	}
	// A restart finds it and does not recreate it.
	e.restart()
	if _, err := pg.New(e.svc, pg.Config{Incarnation: 2}); err != nil {
		t.Fatal(err)
	}
}

func TestPGJoinLeaveCounts(t *testing.T) {
	_, p := newPG(t)
	k := gk("g")
	for i, want := range []int{1, 3} {
		n, err := p.Join(pgctx, k, "a", pg.JoinOpts{Count: []int{1, 2}[i], Meta: "m1"})
		if err != nil || n != want {
			t.Fatalf("join %d: %d %v", i, n, err)
		}
	}
	if _, err := p.Join(pgctx, k, "b", pg.JoinOpts{}); err != nil {
		t.Fatal(err)
	}
	ms, err := p.Members(pgctx, k, pg.Filter{})
	if err != nil || pgNames(ms) != "a×3 b×1" || ms[0].Meta != "m1" || !ms[0].Local || !ms[0].Connected {
		t.Fatalf("members: %+v %v", ms, err)
	}
	// New metadata replaces the old one and keeps the count.
	if n, err := p.Join(pgctx, k, "a", pg.JoinOpts{Meta: "m2"}); err != nil || n != 4 {
		t.Fatalf("join with new meta: %d %v", n, err)
	}
	ms, _ = p.Members(pgctx, k, pg.Filter{Kind: "local"})
	if pgNames(ms) != "a×4 b×1" || ms[0].Meta != "m2" {
		t.Fatalf("after the meta change: %+v", ms)
	}
	if n, err := p.Leave(pgctx, k, "a", 1); err != nil || n != 3 {
		t.Fatalf("leave 1: %d %v", n, err)
	}
	if n, err := p.Leave(pgctx, k, "a", 10); err != nil || n != 0 {
		t.Fatalf("leave more than the count: %d %v", n, err)
	}
	if _, err := p.Leave(pgctx, k, "a", 1); !errors.Is(err, pg.ErrNotMember) {
		t.Fatalf("leave of a non-member: %v", err)
	}
	if _, err := p.Join(pgctx, gk("h"), "b", pg.JoinOpts{Count: 2}); err != nil {
		t.Fatal(err)
	}
	if g := p.GroupsOf("b"); len(g) != 2 || g[gk("h")] != 2 || g[gk("g")] != 1 {
		t.Fatalf("groups of b: %v", g)
	}
	left, err := p.LeaveAll(pgctx, "b")
	if err != nil || len(left) != 2 {
		t.Fatalf("leave-all: %v %v", left, err)
	}
	for _, g := range []string{"g", "h"} {
		if ms, _ := p.Members(pgctx, gk(g), pg.Filter{}); len(ms) != 0 {
			t.Fatalf("%s after leave-all: %+v", g, ms)
		}
	}
	if gs, err := p.Groups(pgctx, pg.BucketType, "scope"); err != nil || len(gs) != 0 {
		t.Fatalf("which groups omits empty groups: %v %v", gs, err)
	}
	st := p.Stats()
	if st.Groups != 0 || st.Members != 0 || st.Joins != 5 || st.Leaves != 5 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestPGRefusesBadInput(t *testing.T) {
	e, p := newPG(t)
	if err := e.svc.CreateType("sets", rawProps(t, map[string]any{"datatype": "set"})); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ActivateType("sets"); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"empty id", join(p, gk("g"), "", pg.JoinOpts{}), pg.ErrBadRequest},
		{"long id", join(p, gk("g"), long, pg.JoinOpts{}), pg.ErrBadRequest},
		{"negative count", join(p, gk("g"), "a", pg.JoinOpts{Count: -1}), pg.ErrBadRequest},
		{"huge count", join(p, gk("g"), "a", pg.JoinOpts{Count: pg.MaxCount + 1}), pg.ErrBadRequest},
		{"long meta", join(p, gk("g"), "a", pg.JoinOpts{Meta: strings.Repeat("m", pg.MaxMeta+1)}), pg.ErrBadRequest},
		{"tiny ttl", join(p, gk("g"), "a", pg.JoinOpts{TTL: time.Millisecond}), pg.ErrBadRequest},
		{"empty group", join(p, gk(""), "a", pg.JoinOpts{}), kv.ErrBadKey},
		{"pattern without allow_patterns", join(p, gk("svc.*"), "a", pg.JoinOpts{}), pg.ErrBadRequest},
		{"not a pg type", join(p, kv.Key{Type: "sets", Bucket: "b", Key: "g"}, "a", pg.JoinOpts{}), pg.ErrNotPG},
		{"unknown type", join(p, kv.Key{Type: "nope", Bucket: "b", Key: "g"}, "a", pg.JoinOpts{}), kv.ErrUnknownType},
		{"negative leave", func() error { _, err := p.Leave(pgctx, gk("g"), "a", -1); return err }(), pg.ErrBadRequest},
		{"bad filter", func() error { _, err := p.Members(pgctx, gk("g"), pg.Filter{Kind: "some"}); return err }(), pg.ErrBadRequest},
		{"node filter without node", func() error { _, err := p.Members(pgctx, gk("g"), pg.Filter{Kind: "node"}); return err }(), pg.ErrBadRequest},
		{"bad strategy", func() error { _, err := p.Pick(pgctx, gk("g"), "best", ""); return err }(), pg.ErrBadRequest},
		{"hash without key", func() error { _, err := p.Pick(pgctx, gk("g"), pg.PickHash, ""); return err }(), pg.ErrBadRequest},
		{"pick in an empty group", func() error { _, err := p.Pick(pgctx, gk("g"), pg.PickRandom, ""); return err }(), pg.ErrNoMember},
		{"heartbeat without lease", p.Heartbeat("a"), pg.ErrNotMember},
		{"leave-all of nobody", func() error { _, err := p.LeaveAll(pgctx, "a"); return err }(), pg.ErrNotMember},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

func join(p *pg.Service, k kv.Key, id string, o pg.JoinOpts) error {
	_, err := p.Join(pgctx, k, id, o)
	return err
}

func TestPGPick(t *testing.T) {
	e, p := newPG(t)
	k := gk("g")
	for i, id := range []string{"m1", "m2", "m3", "m4"} {
		if _, err := p.Join(pgctx, k, id, pg.JoinOpts{Count: i + 1}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Second)
	}
	pick := func(strategy, key string) string {
		t.Helper()
		m, err := p.Pick(pgctx, k, strategy, key)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	if got := pick(pg.PickOldest, ""); got != "m1" {
		t.Fatalf("oldest: %s", got)
	}
	if got := pick(pg.PickNewest, ""); got != "m4" {
		t.Fatalf("newest: %s", got)
	}
	// Hash: the same key always picks the same member, and removing
	// another member does not move it (rendezvous hashing).
	byKey := map[string]string{}
	for i := range 50 {
		key := fmt.Sprint("user", i)
		byKey[key] = pick(pg.PickHash, key)
		if again := pick(pg.PickHash, key); again != byKey[key] {
			t.Fatalf("hash pick of %s moved: %s then %s", key, byKey[key], again)
		}
	}
	if _, err := p.Leave(pgctx, k, "m2", 0); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for key, was := range byKey {
		got := pick(pg.PickHash, key)
		if was != "m2" && got != was {
			t.Fatalf("hash pick of %s moved from %s to %s when m2 left", key, was, got)
		}
		if was == "m2" {
			moved++
		}
	}
	// Random picks follow the join counts (m1×1, m3×3, m4×4).
	seen := map[string]int{}
	for range 800 {
		seen[pick(pg.PickRandom, "")]++
	}
	if seen["m2"] != 0 || seen["m1"] == 0 || seen["m4"] <= seen["m1"] {
		t.Fatalf("random picks: %v", seen)
	}
	if got := pick(pg.PickClosest, ""); got == "m2" {
		t.Fatalf("closest picked a member that left")
	}
}

// 100,000 join/leave cycles of one member on one group leave the stored
// value bounded: one object, no tombstones, well under 200 bytes.
func TestPGStoredStateBounded(t *testing.T) {
	e, p := newPG(t)
	k := gk("busy")
	cycles := 100_000
	if raceEnabled {
		cycles = 10_000 // the same loop, shorter under the race detector
	}
	if _, err := p.Join(pgctx, k, "stays", pg.JoinOpts{Meta: "10.0.0.9:80"}); err != nil {
		t.Fatal(err)
	}
	for i := range cycles {
		if _, err := p.Join(pgctx, k, "m", pg.JoinOpts{Meta: "10.0.0.1:80"}); err != nil {
			t.Fatal(i, err)
		}
		if _, err := p.Leave(pgctx, k, "m", 1); err != nil {
			t.Fatal(i, err)
		}
	}
	e.settle()
	o, err := e.svc.Get(pgctx, k, kv.Options{R: quorum.ValAll})
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, s := range o.Siblings {
		size += len(s.Value)
	}
	t.Logf("after %d cycles: %d siblings, %d bytes stored", cycles, len(o.Siblings), size)
	if len(o.Siblings) != 1 || size > 200 {
		t.Fatalf("after %d cycles: %d siblings, %d bytes", cycles, len(o.Siblings), size)
	}
	ms, _ := p.Members(pgctx, k, pg.Filter{})
	if pgNames(ms) != "stays×1" {
		t.Fatalf("members: %s", pgNames(ms))
	}
}

func TestPGPatterns(t *testing.T) {
	e, p := newPG(t)
	if err := e.svc.CreateType("routes", rawProps(t, map[string]any{"datatype": "pg", "allow_patterns": true})); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ActivateType("routes"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.CreateType("badpat", rawProps(t, map[string]any{"datatype": "set", "allow_patterns": true})); err == nil {
		t.Fatal("allow_patterns on a set type was accepted")
	}
	rk := func(g string) kv.Key { return kv.Key{Type: "routes", Bucket: "api", Key: g} }
	for g, id := range map[string]string{"/users/*": "users-svc", "/users/*/avatar": "avatar-svc", "/orders": "orders-svc"} {
		if _, err := p.Join(pgctx, rk(g), id, pg.JoinOpts{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{
		"/users/42":        "users-svc×1",
		"/users/42/avatar": "users-svc×1 avatar-svc×1", // '*' also matches "42/avatar"
		"/users/":          "",                         // '*' needs one character
		"/orders":          "orders-svc×1",
	} {
		ms, err := p.Members(pgctx, rk(name), pg.Filter{})
		if err != nil || pgNames(ms) != want {
			t.Errorf("members of %s: %q %v, want %q", name, pgNames(ms), err, want)
		}
	}
	if _, err := p.Join(pgctx, rk("/a/**"), "x", pg.JoinOpts{}); !errors.Is(err, pg.ErrBadRequest) {
		t.Fatalf("'**' accepted: %v", err)
	}
	for _, tc := range []struct {
		pat, name string
		ok        bool
	}{
		{"a*", "ab", true}, {"a*", "a", false}, {"*b*", "abc", true}, {"*b*", "bc", false}, {"a*c", "abbc", true},
		{"x", "x", true}, {"a*c", "ac", false}, {"a*c", "abcx", false}, {"*", "", false}, {"*", "z", true},
		{"a*b*c", "aXbYc", true}, {"a*b*c", "abc", false}, {"*.svc", "web.svc", true}, {"*.svc", ".svc", false},
		// A pattern that makes naive backtracking exponential.
		{strings.Repeat("*a", 40) + "b", strings.Repeat("a", 200), false},
	} {
		if pg.MatchPattern(tc.pat, tc.name) != tc.ok {
			t.Errorf("match(%q, %q) != %v", tc.pat, tc.name, tc.ok)
		}
	}
}

func TestPGWatch(t *testing.T) {
	e, p := newPG(t)
	if _, err := p.Join(pgctx, gk("g"), "a", pg.JoinOpts{}); err != nil {
		t.Fatal(err)
	}
	ch, cancel, err := p.Watch(pgctx, pg.BucketType, "scope", "g")
	if err != nil {
		t.Fatal(err)
	}
	scope, cancelScope, err := p.Watch(pgctx, pg.BucketType, "scope", "")
	if err != nil {
		t.Fatal(err)
	}
	next := func(ch <-chan pg.Event) string {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				return "closed"
			}
			return fmt.Sprintf("%s %s: %s", ev.Type, ev.Group, pgNames(ev.Members))
		default:
			return "nothing"
		}
	}
	if got := next(ch); got != "snapshot g: a×1" {
		t.Fatalf("first event: %s", got)
	}
	if got := next(scope); got != "snapshot g: a×1" {
		t.Fatalf("first scope event: %s", got)
	}
	if _, err := p.Join(pgctx, gk("g"), "b", pg.JoinOpts{Count: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Leave(pgctx, gk("g"), "a", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Join(pgctx, gk("h"), "c", pg.JoinOpts{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"join g: b×2", "leave g: a×0", "nothing"} {
		if got := next(ch); got != want {
			t.Fatalf("group watch: %s, want %s", got, want)
		}
	}
	for _, want := range []string{"join g: b×2", "leave g: a×0", "snapshot h: c×1", "nothing"} {
		if got := next(scope); got != want {
			t.Fatalf("scope watch: %s, want %s", got, want)
		}
	}
	if st := p.Stats(); st.WatchStreams != 2 {
		t.Fatalf("watch streams: %d", st.WatchStreams)
	}
	// Tick polls: nothing changed, nothing sent.
	e.clk.Advance(time.Second)
	p.Tick(pgctx)
	if got := next(ch); got != "nothing" {
		t.Fatalf("after a quiet tick: %s", got)
	}
	cancel()
	cancelScope()
	if got := next(ch); got != "closed" {
		t.Fatalf("after cancel: %s", got)
	}
	if st := p.Stats(); st.WatchStreams != 0 {
		t.Fatalf("watch streams after cancel: %d", st.WatchStreams)
	}
}

// The owner's sweep finds a group whose stored state lost its members
// (here: the object deleted through the key-value API) and restores them
// from its table.
func TestPGSweepRestoresOwnerState(t *testing.T) {
	e, p := newPG(t)
	k := gk("g")
	if _, err := p.Join(pgctx, k, "a", pg.JoinOpts{Count: 2}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Delete(pgctx, k, nil, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if ms, _ := p.Members(pgctx, k, pg.Filter{}); len(ms) != 0 {
		t.Fatalf("after the delete: %s", pgNames(ms))
	}
	e.clk.Advance(5 * time.Minute)
	p.Tick(pgctx)
	if ms, _ := p.Members(pgctx, k, pg.Filter{}); pgNames(ms) != "a×2" {
		t.Fatalf("after the sweep: %q", pgNames(ms))
	}
	if st := p.Stats(); st.Repairs != 1 {
		t.Fatalf("repairs: %d", st.Repairs)
	}
}

// A sync whose caller has given up is not applied, and a failed join is
// not kept in the owner's table (the client may retry it).
func TestPGAbandonedSyncIsNotApplied(t *testing.T) {
	_, p := newPG(t)
	ctx, cancel := context.WithCancel(pgctx)
	cancel()
	if _, err := p.Join(ctx, gk("g"), "a", pg.JoinOpts{}); !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("join with an abandoned context: %v", err)
	}
	if ms, _ := p.Members(pgctx, gk("g"), pg.Filter{}); len(ms) != 0 {
		t.Fatalf("members: %s", pgNames(ms))
	}
	if g := p.GroupsOf("a"); len(g) != 0 {
		t.Fatalf("the failed join stayed in the table: %v", g)
	}
	if n, err := p.Join(pgctx, gk("g"), "a", pg.JoinOpts{}); err != nil || n != 1 {
		t.Fatalf("retry: %d %v", n, err)
	}
}
