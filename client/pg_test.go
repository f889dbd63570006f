package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/riakgo/riakgo/client"
	riakhttp "github.com/riakgo/riakgo/http"
	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/testwait"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/pg"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
)

// newPGNode starts a node with its process-group service.
func newPGNode(t *testing.T) (*client.Client, *pg.Service, *clock.Manual) {
	t.Helper()
	rg, err := ring.New(64, "riakgo@127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(testStart)
	cfg := kv.DefaultConfig()
	cfg.Ring = rg
	cfg.Engine = memstore.New()
	cfg.Clock = clk
	cfg.Rand = lockedRand(11)
	svc, err := kv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := pg.New(svc, pg.Config{Incarnation: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(riakhttp.NewHandler(svc, riakhttp.Options{PG: pg, Rand: lockedRand(12)}))
	t.Cleanup(func() { srv.Close(); svc.Close() })
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c, pg, clk
}

func TestPGHelpers(t *testing.T) {
	c, pg, clk := newPGNode(t)
	ctx := testCtx(t)
	s := client.PGScope{Bucket: "web"}
	if n, err := c.PGJoin(ctx, s, "frontends", "a", &client.PGJoinOptions{Count: 2, Meta: "10.0.0.1:80"}); err != nil || n != 2 {
		t.Fatalf("join: %d %v", n, err)
	}
	if _, err := c.PGJoin(ctx, s, "frontends", "b", &client.PGJoinOptions{TTL: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	ms, err := c.PGMembers(ctx, s, "frontends", client.PGConnected)
	if err != nil || len(ms) != 2 || ms[0].ID != "a" || ms[0].Count != 2 || ms[0].Meta != "10.0.0.1:80" || !ms[0].Local {
		t.Fatalf("members: %+v %v", ms, err)
	}
	if ms, err := c.PGMembers(ctx, s, "frontends", "node:riakgo@127.0.0.1"); err != nil || len(ms) != 2 {
		t.Fatalf("members of a node: %+v %v", ms, err)
	}
	if m, err := c.PGPick(ctx, s, "frontends", client.PGPickOldest, ""); err != nil || m.ID != "a" {
		t.Fatalf("pick: %+v %v", m, err)
	}
	if gs, err := c.PGGroups(ctx, s); err != nil || len(gs) != 1 || gs[0] != "frontends" {
		t.Fatalf("groups: %v %v", gs, err)
	}
	if err := c.PGHeartbeat(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.PGLeave(ctx, s, "frontends", "a", 1); err != nil || n != 1 {
		t.Fatalf("leave: %d %v", n, err)
	}
	if err := c.PGLeaveAll(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	pg.Tick(context.Background())
	if _, err := c.PGPick(ctx, s, "frontends", "", ""); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("pick in an empty group: %v", err)
	}
	if err := c.PGHeartbeat(ctx, "b"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("heartbeat after the lapse: %v", err)
	}
	if _, err := c.PGJoin(ctx, s, "g", "x", &client.PGJoinOptions{Count: -1}); err == nil {
		t.Fatal("a negative count was accepted")
	}
	if _, err := c.PGJoin(ctx, client.PGScope{}, "g", "x", nil); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("empty scope: %v", err)
	}
	st, err := c.PGStats(ctx)
	if err != nil || st.Incarnation != 1 || st.Stats["pg_lease_lapses"] != 1 {
		t.Fatalf("stats: %+v %v", st, err)
	}
}

func TestPGWatchAndHeldJoin(t *testing.T) {
	c, _, _ := newPGNode(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	s := client.PGScope{Bucket: "web"}
	events := make(chan client.PGEvent, 10)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- c.PGWatch(ctx, s, "g", func(ev client.PGEvent) error {
			events <- ev
			return nil
		})
	}()
	next := func() client.PGEvent {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(time.Minute): // a hung stream fails instead of hanging
			t.Fatal("no event")
			return client.PGEvent{}
		}
	}
	if ev := next(); ev.Type != "snapshot" || len(ev.Members) != 0 {
		t.Fatalf("snapshot: %+v", ev)
	}
	held, err := c.PGJoinHeld(ctx, s, "g", "h")
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Type != "join" || ev.Members[0].ID != "h" {
		t.Fatalf("join: %+v", ev)
	}
	held.Close()
	if ev := next(); ev.Type != "leave" || ev.Members[0].ID != "h" || ev.Members[0].Count != 0 {
		t.Fatalf("leave: %+v", ev)
	}
	testwait.For(t, 10*time.Second, "the held member gone", func() bool {
		ms, err := c.PGMembers(ctx, s, "g", "")
		return err == nil && len(ms) == 0
	})
	cancel()
	if err := <-watchDone; err != nil {
		t.Fatalf("watch ended with %v", err)
	}
}
