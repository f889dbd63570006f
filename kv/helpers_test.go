package kv_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// seedFlag replays a failing run: go test -run X -seed N ./kv/
var seedFlag = flag.Uint64("seed", 0, "base seed for randomised tests (0 picks one from the time)")

var baseSeed = uint64(time.Now().UnixNano())

// newRand returns a generator seeded for t, and logs the seed.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = baseSeed
	}
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// newRandFrom returns a generator for one goroutine of a test, seeded from
// the test's generator.
func newRandFrom(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// lockedRand makes r safe for the service's concurrent use.
func lockedRand(r *rand.Rand) func() uint64 {
	var mu sync.Mutex
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Uint64()
	}
}

var bg = context.Background()

const node = ring.NodeID("riakgo@127.0.0.1")

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// ---- objects for the tests (the step-machine tests have their own in kv/coord) ----

// sib is a live sibling v with a vtag and timestamp derived from it.
func sib(v string, lm int64) siblings.Sibling {
	return siblings.Sibling{Value: []byte(v), Meta: siblings.Meta{VTag: "tag-" + v, LastModified: lm}}
}

// tomb is a tombstone object.
func tomb(c vclock.VClock) *siblings.Object {
	s := sib("", 2)
	s.Meta.Deleted = true
	s.Meta.VTag = "tag-del"
	return &siblings.Object{Clock: c, Siblings: []siblings.Sibling{s}}
}

// describe renders o as "{v1,v2}[clock]" (tombstone siblings as <del>),
// independent of sibling order.
func describe(o *siblings.Object) string {
	if o == nil {
		return "nil"
	}
	vals := make([]string, len(o.Siblings))
	for i, s := range o.Siblings {
		if s.Meta.Deleted {
			vals[i] = "<del>"
		} else {
			vals[i] = string(s.Value)
		}
	}
	slices.Sort(vals)
	return "{" + strings.Join(vals, ",") + "}" + describeClock(o.Clock)
}

func describeClock(c vclock.VClock) string {
	parts := make([]string, len(c))
	for i, e := range c {
		parts[i] = fmt.Sprintf("%x.%d:%d", e.Actor.ID, e.Actor.Epoch, e.Counter)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// values returns o's live sibling values, sorted.
func values(o *siblings.Object) []string {
	if o == nil {
		return nil
	}
	var out []string
	for _, s := range o.Siblings {
		if !s.Meta.Deleted {
			out = append(out, string(s.Value))
		}
	}
	slices.Sort(out)
	return out
}

// describeErr renders quorum errors structurally ("unsatisfied r 0/2"),
// others by their message.
func describeErr(err error) string {
	var qe *quorum.Error
	if !errors.As(err, &qe) {
		return err.Error()
	}
	switch qe.Kind {
	case quorum.Violation:
		return fmt.Sprintf("violation %s %d", qe.Param, qe.Need)
	case quorum.NValViolation:
		return fmt.Sprintf("n_val_violation %s n=%d", qe.Param, qe.N)
	case quorum.Unsatisfied:
		return fmt.Sprintf("unsatisfied %s %d/%d", qe.Param, qe.Got, qe.Need)
	case quorum.InsufficientVnodes:
		return fmt.Sprintf("insufficient_vnodes %d/%d", qe.Got, qe.Need)
	case quorum.TooManyFails:
		return "too_many_fails"
	case quorum.Timeout:
		return "timeout"
	}
	return qe.Error()
}

// ---- a Service on memstore ----

// env is one node's Service on a memstore with a manual clock.
type env struct {
	t       testing.TB
	cfg     kv.Config
	eng     *memstore.Store
	clk     *clock.Manual
	svc     *kv.Service
	ring    *ring.Ring
	rand    func() uint64
	running bool // svc is open
}

// newEnv builds a Service with kv.DefaultConfig, a 64-partition ring, a
// memstore, a manual clock and a seeded source; mods adjust the config.
func newEnv(t testing.TB, mods ...func(*kv.Config)) *env {
	t.Helper()
	r, err := ring.New(64, node)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, eng: memstore.New(), clk: clock.NewManual(t0), ring: r, rand: lockedRand(newRand(t))}
	cfg := kv.DefaultConfig()
	cfg.Node = node
	cfg.Ring = r
	cfg.Engine = e.eng
	cfg.Clock = e.clk
	cfg.Rand = e.rand
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

// closeSvc waits for the service's background work and stops it.
func (e *env) closeSvc() {
	e.t.Helper()
	if e.running {
		if err := e.svc.Close(); err != nil {
			e.t.Fatalf("Close: %v", err)
		}
		e.running = false
	}
}

// restart closes the service and the engine, reopens the same memstore
// ("the same disk") and opens a new Service on it.
func (e *env) restart() {
	e.t.Helper()
	e.closeSvc()
	if err := e.eng.Close(); err != nil {
		e.t.Fatalf("engine Close: %v", err)
	}
	e.eng.Reopen()
	e.open()
}

// settle waits for background work (read repair, reap checks) by closing
// the service and opening a new one on the same engine.
func (e *env) settle() {
	e.t.Helper()
	e.svc.WaitIdle()
}

func key(bucket, k string) kv.Key { return kv.Key{Type: kv.DefaultType, Bucket: bucket, Key: k} }

// vnodes returns the key's N=3 preference-list vnodes, in order.
func (e *env) vnodes(k kv.Key) []*kv.Vnode {
	e.t.Helper()
	targets := ring.PrefList(e.ring, ring.KeyHash(k.Type, k.Bucket, k.Key), 3, nil)
	pl, err := e.svc.Preflist(k)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(pl) != len(targets) {
		e.t.Fatalf("Preflist has %d entries, ring.PrefList %d", len(pl), len(targets))
	}
	out := make([]*kv.Vnode, len(targets))
	for i, tg := range targets {
		if pl[i].Partition.Cmp(e.ring.Index(tg.Partition)) != 0 || !pl[i].Primary || pl[i].Node != node {
			e.t.Fatalf("Preflist[%d] = %+v, want partition %d primary on %s", i, pl[i], tg.Partition, node)
		}
		out[i] = e.svc.Vnode(tg.Partition)
		if out[i] == nil {
			e.t.Fatalf("no vnode for partition %d", tg.Partition)
		}
	}
	return out
}

// replicas returns each preference-list vnode's stored object.
func (e *env) replicas(k kv.Key) []*siblings.Object {
	e.t.Helper()
	vs := e.vnodes(k)
	out := make([]*siblings.Object, len(vs))
	for i, v := range vs {
		o, err := v.Get(k)
		if err != nil {
			e.t.Fatalf("vnode %d Get(%s): %v", v.Partition(), k, err)
		}
		out[i] = o
	}
	return out
}

func (e *env) put(k kv.Key, v string, ctx vclock.VClock) *siblings.Object {
	e.t.Helper()
	o, err := e.svc.Put(bg, k, []byte(v), siblings.Meta{ContentType: "text/plain"}, ctx, kv.Options{ReturnBody: true})
	if err != nil {
		e.t.Fatalf("Put(%s, %q): %v", k, v, err)
	}
	return o
}

func (e *env) get(k kv.Key) *siblings.Object {
	e.t.Helper()
	o, err := e.svc.Get(bg, k, kv.Options{})
	if err != nil {
		e.t.Fatalf("Get(%s): %v", k, err)
	}
	return o
}

func (e *env) setProps(bucket string, props map[string]any) {
	e.t.Helper()
	if err := e.svc.SetBucketProps(kv.DefaultType, bucket, rawProps(e.t, props)); err != nil {
		e.t.Fatalf("SetBucketProps(%s, %v): %v", bucket, props, err)
	}
}

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
