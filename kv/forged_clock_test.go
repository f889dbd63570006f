package kv_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// TestForgedClockCannotFreezeAKey: issue 12, finding 4. A client sends a
// doctored context: the coordinating vnode's own actor with a counter at
// 2^64-1 (and, in a second form, an epoch far beyond any the vnode
// leased). Every later write must still land: no counter wraps, and no
// actor the vnode never leased is used for new dots.
func TestForgedClockCannotFreezeAKey(t *testing.T) {
	forgeries := map[string]func(vclock.Entry) vclock.Entry{
		"counter at the top": func(e vclock.Entry) vclock.Entry { e.Counter = math.MaxUint64; return e },
		"epoch never leased": func(e vclock.Entry) vclock.Entry {
			e.Actor.Epoch = math.MaxUint32
			return e
		},
		"epoch never leased, counter at the top": func(e vclock.Entry) vclock.Entry {
			e.Actor.Epoch = math.MaxUint32
			e.Counter = math.MaxUint64
			return e
		},
		"counter one below the top": func(e vclock.Entry) vclock.Entry { e.Counter = math.MaxUint64 - 1; return e },
	}
	for name, forge := range forgeries {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			k := key("b", "frozen")
			put := func(v string, vc vclock.VClock) {
				t.Helper()
				e.clk.Advance(time.Second) // a later write wins last-modified ties
				if _, err := e.svc.Put(bg, k, []byte(v), siblings.Meta{ContentType: "text/plain"}, vc, kv.Options{}); err != nil {
					t.Fatalf("put %q: %v", v, err)
				}
			}
			value := func() string {
				t.Helper()
				o, err := e.svc.Get(bg, k, kv.Options{})
				if err != nil {
					t.Fatalf("get: %v", err)
				}
				if len(o.Siblings) != 1 {
					t.Fatalf("%d siblings", len(o.Siblings))
				}
				return string(o.Siblings[0].Value)
			}
			put("v1", nil)
			o, _ := e.svc.Get(bg, k, kv.Options{})
			// The forged entries come on top of the real ones, so that the
			// context descends what is stored (it "saw" v1).
			forged := slices.Clone(o.Clock)
			for _, en := range o.Clock {
				forged = append(forged, forge(en))
			}
			forged = vclock.Normalize(forged)
			put("v2", forged)
			if v := value(); v != "v2" {
				t.Fatalf("after the forged put: %q", v)
			}
			for _, v := range []string{"v3", "v4"} {
				put(v, nil)
				if got := value(); got != v {
					t.Fatalf("a write after the forged one was lost: read %q, want %q", got, v)
				}
			}
			cur, _ := e.svc.Get(bg, k, kv.Options{})
			put("v5", cur.Clock)
			if got := value(); got != "v5" {
				t.Fatalf("a write with the current context was lost: read %q", got)
			}
			if err := e.svc.Delete(bg, k, nil, kv.Options{}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Get(bg, k, kv.Options{}); err == nil {
				t.Fatal("the delete after the forged write was lost")
			}
		})
	}
}
