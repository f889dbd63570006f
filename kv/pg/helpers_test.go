package pg_test

import (
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
)

const node = ring.NodeID("riakgo@127.0.0.1")

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// env is one node's kv.Service on a memstore with a manual clock.
type env struct {
	t       testing.TB
	cfg     kv.Config
	eng     *memstore.Store
	clk     *clock.Manual
	svc     *kv.Service
	running bool
}

// newEnv builds a kv.Service with kv.DefaultConfig, a 64-partition ring,
// a memstore, a manual clock and a seeded source (the seed is logged);
// mods adjust the config.
func newEnv(t testing.TB, mods ...func(*kv.Config)) *env {
	t.Helper()
	r, err := ring.New(64, node)
	if err != nil {
		t.Fatal(err)
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	src := rand.New(rand.NewPCG(seed, seed))
	var mu sync.Mutex
	e := &env{t: t, eng: memstore.New(), clk: clock.NewManual(t0)}
	cfg := kv.DefaultConfig()
	cfg.Node = node
	cfg.Ring = r
	cfg.Engine = e.eng
	cfg.Clock = e.clk
	cfg.Rand = func() uint64 { mu.Lock(); defer mu.Unlock(); return src.Uint64() }
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, m := range mods {
		m(&cfg)
	}
	e.cfg = cfg
	e.open()
	t.Cleanup(func() {
		if e.running {
			e.svc.Close()
		}
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	svc, err := kv.New(e.cfg)
	if err != nil {
		e.t.Fatalf("kv.New: %v", err)
	}
	e.svc, e.running = svc, true
}

// restart closes the service and the engine, reopens the same memstore
// ("the same disk") and opens a new Service on it.
func (e *env) restart() {
	e.t.Helper()
	if err := e.svc.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.running = false
	if err := e.eng.Close(); err != nil {
		e.t.Fatalf("engine Close: %v", err)
	}
	e.eng.Reopen()
	e.open()
}

// settle waits for the service's background work.
func (e *env) settle() { e.svc.WaitIdle() }

func rawProps(t testing.TB, props map[string]any) map[string]json.RawMessage {
	t.Helper()
	raw := make(map[string]json.RawMessage, len(props))
	for k, v := range props {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		raw[k] = b
	}
	return raw
}
