package kv_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

func TestConfigValidate(t *testing.T) {
	e := newEnv(t)
	for name, mod := range map[string]func(*kv.Config){
		"no node":     func(c *kv.Config) { c.Node = "" },
		"no ring":     func(c *kv.Config) { c.Ring = nil },
		"no engine":   func(c *kv.Config) { c.Engine = nil },
		"n_val 0":     func(c *kv.Config) { c.Defaults.NVal = 0 },
		"neg timeout": func(c *kv.Config) { c.Timeout = -1 },
	} {
		cfg := e.cfg
		mod(&cfg)
		if _, err := kv.New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	e := newEnv(t)
	k := key("b", "k")
	meta := siblings.Meta{
		ContentType:     "application/json",
		Charset:         "utf-8",
		ContentEncoding: "gzip",
		UserMeta:        []siblings.Pair{{Key: "Colour", Value: "blue"}, {Key: "x-y", Value: "z z"}},
		Indexes:         []siblings.IndexEntry{{Field: "age_int", Value: "42"}, {Field: "email_bin", Value: "a@example.com"}},
		Links: []siblings.Link{
			{Bucket: "people", Key: "bob", Tag: "friend"},
			{Type: "maps", Bucket: "m", Key: "k", Tag: "rel"},
		},
	}
	val := []byte(`{"a":1}`)
	ret, err := e.svc.Put(bg, k, val, meta, nil, kv.Options{ReturnBody: true})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, o *siblings.Object) {
		t.Helper()
		if o == nil || len(o.Siblings) != 1 || len(o.Clock) == 0 {
			t.Fatalf("%s: %s, want one value with a clock", what, describe(o))
		}
		s := o.Siblings[0]
		if string(s.Value) != string(val) {
			t.Errorf("%s: value %q", what, s.Value)
		}
		want := meta
		want.VTag = s.Meta.VTag
		want.LastModified = t0.UnixMicro()
		if !reflect.DeepEqual(s.Meta, want) {
			t.Errorf("%s: meta\n  %+v\nwant\n  %+v", what, s.Meta, want)
		}
		if len(s.Meta.VTag) != 22 {
			t.Errorf("%s: vtag %q, want 22 base62 digits", what, s.Meta.VTag)
		}
	}
	check("returnbody", ret)
	got := e.get(k)
	check("get", got)
	if !siblings.Equal(got, ret) {
		t.Errorf("get %s differs from returnbody %s", describe(got), describe(ret))
	}

	// Without returnbody Put returns nothing; a second write gets a new vtag.
	o, err := e.svc.Put(bg, k, []byte("2"), siblings.Meta{}, got.Clock, kv.Options{})
	if err != nil || o != nil {
		t.Fatalf("Put without returnbody = %s, %v; want nil, nil", describe(o), err)
	}
	if g := e.get(k); string(g.Siblings[0].Value) != "2" || g.Siblings[0].Meta.VTag == ret.Siblings[0].Meta.VTag || !g.Clock.Dominates(ret.Clock) {
		t.Errorf("after update: %s (vtag %q), want value 2, a new vtag and a later clock", describe(g), g.Siblings[0].Meta.VTag)
	}

	if _, err := e.svc.Get(bg, key("b", "absent"), kv.Options{}); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get of an absent key: %v, want ErrNotFound", err)
	}
	for _, bad := range []kv.Key{key("", "k"), key("b", ""), key("b", strings.Repeat("k", kv.MaxKeySize+1))} {
		if _, err := e.svc.Put(bg, bad, []byte("x"), siblings.Meta{}, nil, kv.Options{}); !errors.Is(err, kv.ErrBadKey) {
			t.Errorf("Put(%.20q/%.20q): %v, want ErrBadKey", bad.Bucket, bad.Key, err)
		}
		if _, err := e.svc.Get(bg, bad, kv.Options{}); !errors.Is(err, kv.ErrBadKey) {
			t.Errorf("Get(%.20q/%.20q): %v, want ErrBadKey", bad.Bucket, bad.Key, err)
		}
	}
}

func TestClosedService(t *testing.T) {
	e := newEnv(t)
	e.closeSvc()
	k := key("b", "k")
	if _, err := e.svc.Get(bg, k, kv.Options{}); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	if _, err := e.svc.Put(bg, k, nil, siblings.Meta{}, nil, kv.Options{}); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Put after Close: %v", err)
	}
	if err := e.svc.Delete(bg, k, nil, kv.Options{}); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Delete after Close: %v", err)
	}
}

func TestDefaultBucketLatestWins(t *testing.T) {
	e := newEnv(t)
	k := key("b", "k")
	e.put(k, "first", nil)
	e.clk.Advance(time.Second)
	e.put(k, "second", nil)
	if got := e.get(k); !slices.Equal(values(got), []string{"second"}) {
		t.Errorf("two blind writes: %s, want only the later one", describe(got))
	}
	for i, o := range e.replicas(k) {
		if !slices.Equal(values(o), []string{"second"}) {
			t.Errorf("replica %d: %s", i, describe(o))
		}
	}
}

func TestAllowMultSiblings(t *testing.T) {
	e := newEnv(t)
	e.setProps("mult", map[string]any{"allow_mult": true})
	k := key("mult", "k")
	e.put(k, "a", nil)
	e.clk.Advance(time.Second)
	e.put(k, "b", nil)
	got := e.get(k)
	if !slices.Equal(values(got), []string{"a", "b"}) {
		t.Fatalf("two blind writes: %s, want siblings a and b", describe(got))
	}
	e.put(k, "c", got.Clock)
	if got := e.get(k); !slices.Equal(values(got), []string{"c"}) {
		t.Errorf("a write with the read's clock: %s, want only c", describe(got))
	}
}

// TestSiblingExplosion runs Riak's sibling-explosion schedule: two writers
// interleave read-modify-write cycles, each writing with the clock it last
// read (the returnbody of its own previous write). With dotted version
// vectors each write replaces exactly what its writer had seen, so there
// are never more than two siblings; with plain vector clocks (Riak 1.x)
// every write is concurrent with the stored object and adds a sibling.
func TestSiblingExplosion(t *testing.T) {
	const cycles = 100
	for _, dvv := range []bool{true, false} {
		t.Run(fmt.Sprintf("dvv_enabled=%v", dvv), func(t *testing.T) {
			e := newEnv(t, func(c *kv.Config) { c.Limits = siblings.Limits{} })
			e.setProps("b", map[string]any{"allow_mult": true, "dvv_enabled": dvv})
			k := key("b", "k")
			var ctx [2]vclock.VClock
			most := 0
			for i := range cycles {
				for w := range 2 {
					o := e.put(k, fmt.Sprintf("w%d-%d", w, i), ctx[w])
					ctx[w] = o.Clock
					most = max(most, len(o.Siblings))
					if dvv && len(o.Siblings) > 2 {
						t.Fatalf("cycle %d writer %d: %d siblings: %s", i, w, len(o.Siblings), describe(o))
					}
				}
			}
			final := e.get(k)
			if dvv {
				want := []string{fmt.Sprintf("w0-%d", cycles-1), fmt.Sprintf("w1-%d", cycles-1)}
				if !slices.Equal(values(final), want) {
					t.Errorf("final %v, want each writer's last value %v", values(final), want)
				}
				return
			}
			if len(final.Siblings) != 2*cycles {
				t.Errorf("without dvv: %d siblings after %d writes (most seen %d), want one per write", len(final.Siblings), 2*cycles, most)
			}
		})
	}
}

func TestReplicasHoldObject(t *testing.T) {
	e := newEnv(t)
	for i := range 20 {
		k := key("b", fmt.Sprintf("k%d", i))
		ret := e.put(k, "v", nil)
		reps := e.replicas(k)
		for j, o := range reps {
			if !siblings.Equal(o, ret) {
				t.Errorf("%s replica %d: %s, want %s", k, j, describe(o), describe(ret))
			}
		}
		// The next partition past the preference list does not hold it.
		pl := ring.PrefList(e.ring, ring.KeyHash(k.Type, k.Bucket, k.Key), 3, nil)
		outside := e.svc.Vnode((pl[2].Partition + 1) % 64)
		if o := e.vget(outside, k); o != nil {
			t.Errorf("%s: partition %d outside the preference list holds %s", k, outside.Partition(), describe(o))
		}
	}
}

type countingMetrics struct{ repairs, reads, writes atomic.Int64 }

func (m *countingMetrics) ObjectRead(int, int)    { m.reads.Add(1) }
func (m *countingMetrics) ObjectWritten(int, int) { m.writes.Add(1) }
func (m *countingMetrics) ReadRepairs(n int)      { m.repairs.Add(int64(n)) }

func TestReadRepair(t *testing.T) {
	for _, damage := range []string{"missing", "stale"} {
		for idx := range 3 {
			t.Run(fmt.Sprintf("%s replica %d", damage, idx), func(t *testing.T) {
				m := &countingMetrics{}
				e := newEnv(t, func(c *kv.Config) { c.Metrics = m })
				k := key("b", "k")
				o1 := e.put(k, "v1", nil)
				e.clk.Advance(time.Second)
				o2 := e.put(k, "v2", o1.Clock)
				v := e.vnodes(k)[idx]
				switch damage {
				case "missing":
					if err := v.WipeForTest(k); err != nil {
						t.Fatal(err)
					}
				case "stale":
					if err := v.StoreForTest(k, o1); err != nil {
						t.Fatal(err)
					}
				}
				if got := e.get(k); !siblings.Equal(got, o2) {
					t.Fatalf("Get: %s, want %s", describe(got), describe(o2))
				}
				e.closeSvc() // waits for the read repair
				for j, o := range e.replicas(k) {
					if !siblings.Equal(o, o2) {
						t.Errorf("replica %d after read repair: %s, want %s", j, describe(o), describe(o2))
					}
				}
				if n := m.repairs.Load(); n != 1 {
					t.Errorf("ReadRepairs counted %d, want 1", n)
				}
			})
		}
	}

	t.Run("concurrent replicas are merged everywhere", func(t *testing.T) {
		e := newEnv(t)
		e.setProps("mult", map[string]any{"allow_mult": true, "dvv_enabled": true})
		k := key("mult", "k")
		props, _ := e.svc.BucketProps(kv.DefaultType, "mult")
		vs := e.vnodes(k)
		// Two replicas coordinate concurrent writes nobody replicated.
		a := e.coordPut(vs[1], k, "a", nil, props)
		b := e.coordPut(vs[2], k, "b", nil, props)
		// R=all: with R=2 the notfound and "a" would decide (notfound_ok).
		got, err := e.svc.Get(bg, k, kv.Options{R: quorum.ValAll})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(values(got), []string{"a", "b"}) || !got.Clock.Dominates(a.Clock) || !got.Clock.Dominates(b.Clock) {
			t.Fatalf("Get: %s", describe(got))
		}
		e.closeSvc()
		for j, o := range e.replicas(k) {
			if !siblings.Equal(o, got) {
				t.Errorf("replica %d: %s, want %s", j, describe(o), describe(got))
			}
		}
	})
}

func TestDelete(t *testing.T) {
	t.Run("tombstone, then reaped after 3000 ms", func(t *testing.T) {
		e := newEnv(t)
		k := key("b", "k")
		o := e.put(k, "v", nil)
		if err := e.svc.Delete(bg, k, nil, kv.Options{}); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Get(bg, k, kv.Options{})
		if !errors.Is(err, kv.ErrNotFound) || got == nil || !got.IsTombstone() {
			t.Fatalf("Get after Delete: %s, %v; want the tombstone and ErrNotFound", describe(got), err)
		}
		if !got.Clock.Dominates(o.Clock) {
			t.Errorf("tombstone clock %s does not descend the write's %s", got.Clock, o.Clock)
		}
		e.settle()
		for j, r := range e.replicas(k) {
			if !r.IsTombstone() {
				t.Fatalf("replica %d before the delay: %s, want the tombstone", j, describe(r))
			}
		}
		e.clk.Advance(2999 * time.Millisecond)
		for j, r := range e.replicas(k) {
			if r == nil {
				t.Fatalf("replica %d reaped before 3000 ms", j)
			}
		}
		e.clk.Advance(time.Millisecond)
		for j, r := range e.replicas(k) {
			if r != nil {
				t.Errorf("replica %d after 3000 ms: %s, want reaped", j, describe(r))
			}
		}
		if got, err := e.svc.Get(bg, k, kv.Options{}); !errors.Is(err, kv.ErrNotFound) || got != nil {
			t.Errorf("Get after reaping: %s, %v; want nil, ErrNotFound", describe(got), err)
		}
	})

	t.Run("delete_mode immediate reaps all three replicas", func(t *testing.T) {
		e := newEnv(t, func(c *kv.Config) { c.DeleteMode = kv.DeleteMode{Immediate: true} })
		k := key("b", "k")
		e.put(k, "v", nil)
		if err := e.svc.Delete(bg, k, nil, kv.Options{}); err != nil {
			t.Fatal(err)
		}
		e.closeSvc() // waits for the background reap check
		for j, r := range e.replicas(k) {
			if r != nil {
				t.Errorf("replica %d: %s, want reaped", j, describe(r))
			}
		}
	})

	t.Run("delete_mode keep never reaps", func(t *testing.T) {
		e := newEnv(t, func(c *kv.Config) { c.DeleteMode = kv.DeleteMode{Keep: true} })
		k := key("b", "k")
		e.put(k, "v", nil)
		if err := e.svc.Delete(bg, k, nil, kv.Options{}); err != nil {
			t.Fatal(err)
		}
		e.closeSvc()
		e.clk.Advance(time.Hour)
		for j, r := range e.replicas(k) {
			if !r.IsTombstone() {
				t.Errorf("replica %d: %s, want the tombstone kept", j, describe(r))
			}
		}
	})

	t.Run("a replica without the tombstone delays the reap", func(t *testing.T) {
		e := newEnv(t, func(c *kv.Config) { c.DeleteMode = kv.DeleteMode{Immediate: true} })
		k := key("b", "k")
		o := e.put(k, "v", nil)
		// The tombstone reaches two replicas only; the third keeps the
		// value. A read repairs it instead of reaping.
		props, _ := e.svc.BucketProps(kv.DefaultType, "b")
		vs := e.vnodes(k)
		d := siblings.Sibling{Value: []byte{}, Meta: siblings.Meta{Deleted: true, VTag: "del"}}
		tomb, err := vs[0].CoordPut(k, d, o.Clock, props, false)
		if err != nil {
			t.Fatal(err)
		}
		e.vput(vs[1], k, tomb, props)
		got, err := e.svc.Get(bg, k, kv.Options{R: quorum.ValAll})
		if !errors.Is(err, kv.ErrNotFound) || !got.IsTombstone() {
			t.Fatalf("Get: %s, %v", describe(got), err)
		}
		e.settle()
		for j, r := range e.replicas(k) {
			if !r.IsTombstone() {
				t.Fatalf("replica %d after the repairing read: %s, want the tombstone", j, describe(r))
			}
		}
		// Now every primary holds it: the next read reaps.
		e.svc.Get(bg, k, kv.Options{})
		e.settle()
		for j, r := range e.replicas(k) {
			if r != nil {
				t.Errorf("replica %d after the second read: %s, want reaped", j, describe(r))
			}
		}
	})

	t.Run("delete of a missing key", func(t *testing.T) {
		e := newEnv(t)
		if err := e.svc.Delete(bg, key("b", "absent"), nil, kv.Options{}); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("Delete of a missing key: %v, want ErrNotFound", err)
		}
		k := key("b", "k")
		e.put(k, "v", nil)
		if err := e.svc.Delete(bg, k, nil, kv.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Delete(bg, k, nil, kv.Options{}); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("second Delete: %v, want ErrNotFound", err)
		}
	})

	t.Run("write after delete with the tombstone's clock", func(t *testing.T) {
		e := newEnv(t)
		e.setProps("mult", map[string]any{"allow_mult": true})
		k := key("mult", "k")
		o := e.put(k, "v", nil)
		if err := e.svc.Delete(bg, k, o.Clock, kv.Options{}); err != nil {
			t.Fatal(err)
		}
		ts, err := e.svc.Get(bg, k, kv.Options{})
		if !errors.Is(err, kv.ErrNotFound) || !ts.IsTombstone() {
			t.Fatalf("Get after Delete: %s, %v", describe(ts), err)
		}
		e.put(k, "again", ts.Clock)
		got := e.get(k)
		if len(got.Siblings) != 1 || string(got.Siblings[0].Value) != "again" {
			t.Errorf("write with the tombstone's clock: %s, want one value", describe(got))
		}
		// A blind write after a delete, in contrast, sits beside the
		// tombstone as a sibling (Riak's behaviour).
		k2 := key("mult", "k2")
		e.put(k2, "v", nil)
		if err := e.svc.Delete(bg, k2, nil, kv.Options{}); err != nil {
			t.Fatal(err)
		}
		e.put(k2, "blind", nil)
		got = e.get(k2)
		if len(got.Siblings) != 2 || got.Live() != 1 {
			t.Errorf("blind write after delete: %s, want the value and the tombstone", describe(got))
		}
	})
}

func TestQuorumErrors(t *testing.T) {
	e := newEnv(t)
	k := key("b", "k")
	e.put(k, "v", nil)
	get := func(o kv.Options) error { _, err := e.svc.Get(bg, k, o); return err }
	put := func(o kv.Options) error {
		_, err := e.svc.Put(bg, k, []byte("x"), siblings.Meta{}, nil, o)
		return err
	}
	del := func(o kv.Options) error { return e.svc.Delete(bg, k, nil, o) }
	cases := []struct {
		name string
		do   func(kv.Options) error
		o    kv.Options
		want string // describeErr
	}{
		{"get r=4", get, kv.Options{R: quorum.Of(4)}, "n_val_violation r n=3"},
		{"get pr=4", get, kv.Options{PR: quorum.Of(4)}, "n_val_violation pr n=3"},
		{"get r=0", get, kv.Options{R: quorum.Of(0)}, "violation r 0"},
		{"put w=4", put, kv.Options{W: quorum.Of(4)}, "n_val_violation w n=3"},
		{"put dw=4", put, kv.Options{DW: quorum.Of(4)}, "n_val_violation dw n=3"},
		{"put pw=4", put, kv.Options{PW: quorum.Of(4)}, "n_val_violation pw n=3"},
		{"put w=0", put, kv.Options{W: quorum.Of(0)}, "violation w 0"},
		{"delete rw=4", del, kv.Options{RW: quorum.Of(4)}, "n_val_violation r n=3"},
		{"delete w=4", del, kv.Options{W: quorum.Of(4)}, "n_val_violation w n=3"},
	}
	for _, tc := range cases {
		err := tc.do(tc.o)
		var qe *quorum.Error
		if !errors.As(err, &qe) {
			t.Errorf("%s: %v, want a *quorum.Error", tc.name, err)
			continue
		}
		if got := describeErr(err); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
		if !qe.ClientError() {
			t.Errorf("%s: %v is not a client error", tc.name, err)
		}
	}
	// Valid symbolic and explicit values succeed and the object is intact.
	for _, o := range []kv.Options{{R: quorum.ValAll, PR: quorum.ValAll}, {R: quorum.ValOne}, {R: quorum.Of(3), PR: quorum.Of(3)}} {
		if err := get(o); err != nil {
			t.Errorf("Get %+v: %v", o, err)
		}
	}
	for _, o := range []kv.Options{{W: quorum.ValAll, DW: quorum.ValAll, PW: quorum.ValAll}, {W: quorum.ValOne, DW: quorum.Of(0)}} {
		if err := put(o); err != nil {
			t.Errorf("Put %+v: %v", o, err)
		}
	}
}

func TestLimits(t *testing.T) {
	e := newEnv(t, func(c *kv.Config) { c.Limits = siblings.Limits{MaxSiblings: 3, MaxSize: 1000} })
	e.setProps("mult", map[string]any{"allow_mult": true})
	props, _ := e.svc.BucketProps(kv.DefaultType, "mult")

	k := key("mult", "k")
	for i := range 3 {
		e.put(k, fmt.Sprintf("v%d", i), nil)
	}
	before := e.replicas(k)
	_, err := e.svc.Put(bg, k, []byte("v3"), siblings.Meta{}, nil, kv.Options{})
	var tm *siblings.TooManySiblingsError
	if !errors.As(err, &tm) || tm.Siblings != 4 || tm.Max != 3 || !errors.Is(err, siblings.ErrLimit) {
		t.Fatalf("4th sibling: %v, want TooManySiblingsError{4, 3}", err)
	}
	for j, o := range e.replicas(k) {
		if !siblings.Equal(o, before[j]) {
			t.Errorf("replica %d changed by a refused write: %s, was %s", j, describe(o), describe(before[j]))
		}
	}
	// A write with the context resolves the siblings and is accepted.
	e.put(k, "resolved", e.get(k).Clock)

	big := []byte(strings.Repeat("x", 2000))
	kb := key("mult", "big")
	var tl *siblings.TooLargeError
	if _, err := e.svc.Put(bg, kb, big, siblings.Meta{}, nil, kv.Options{}); !errors.As(err, &tl) || tl.Max != 1000 || tl.Size < 2000 {
		t.Fatalf("oversize write: %v, want TooLargeError", err)
	}
	for j, o := range e.replicas(kb) {
		if o != nil {
			t.Errorf("replica %d stored a refused object: %s", j, describe(o))
		}
	}
	e.put(kb, "small", nil)
	if _, err := e.svc.Put(bg, kb, big, siblings.Meta{}, e.get(kb).Clock, kv.Options{}); !errors.As(err, &tl) {
		t.Fatalf("oversize update: %v, want TooLargeError", err)
	}
	if got := e.get(kb); !slices.Equal(values(got), []string{"small"}) {
		t.Errorf("after a refused update: %s", describe(got))
	}

	// Replication and repair are never refused: a replica accepts an
	// object over both limits, and a read repairs the others with it.
	kr := key("mult", "repair")
	vs := e.vnodes(kr)
	over := &siblings.Object{}
	for i := range 5 {
		a := vclock.Actor{ID: uint64(0x100 + i), Epoch: 1}
		over.Clock = append(over.Clock, vclock.Entry{Actor: a, Counter: 1, Timestamp: t0.Unix()})
		over.Siblings = append(over.Siblings, siblings.Sibling{
			Dot:   vclock.Dot{Actor: a, Counter: 1},
			Value: []byte(fmt.Sprintf("s%d-%s", i, big[:300])),
			Meta:  siblings.Meta{VTag: fmt.Sprintf("tag%d", i)},
		})
	}
	if got, err := vs[1].Put(kr, over, props, false); err != nil || len(got.Siblings) != 5 {
		t.Fatalf("replica Put over the limits: %s, %v", describe(got), err)
	}
	if got := e.get(kr); len(got.Siblings) != 5 {
		t.Fatalf("Get: %d siblings, want 5", len(got.Siblings))
	}
	e.settle()
	for j, o := range e.replicas(kr) {
		if o == nil || len(o.Siblings) != 5 {
			t.Errorf("replica %d after read repair: %s, want the 5-sibling object", j, describe(o))
		}
	}
}

func TestBucketProps(t *testing.T) {
	e := newEnv(t)
	def := kv.DefaultProps()
	if p, err := e.svc.BucketProps(kv.DefaultType, "b"); err != nil || !reflect.DeepEqual(p, def) {
		t.Fatalf("default props: %v, %v; want %v", p, err, def)
	}

	bad := []struct {
		props map[string]any
		want  map[string]string // prop → reason (substring)
	}{
		{map[string]any{"n_val": "abc"}, map[string]string{"n_val": "not_integer"}},
		{map[string]any{"n_val": 0}, map[string]string{"n_val": "not_integer"}},
		{map[string]any{"allow_mult": "maybe"}, map[string]string{"allow_mult": "not_boolean"}},
		{map[string]any{"r": 0}, map[string]string{"r": "not_valid_quorum"}},
		{map[string]any{"w": "sometimes"}, map[string]string{"w": "not_valid_quorum"}},
		{map[string]any{"pr": -1}, map[string]string{"pr": "not_valid_quorum"}},
		{map[string]any{"bogus": 1}, map[string]string{"bogus": "unknown"}},
		{map[string]any{"last_write_wins": true, "dvv_enabled": true}, map[string]string{"dvv_enabled": "last_write_wins"}},
		{map[string]any{"n_val": "abc", "allow_mult": "maybe", "r": 0},
			map[string]string{"n_val": "not_integer", "allow_mult": "not_boolean", "r": "not_valid_quorum"}},
	}
	for _, tc := range bad {
		err := e.svc.SetBucketProps(kv.DefaultType, "b", rawProps(t, tc.props))
		var pe *kv.PropsError
		if !errors.As(err, &pe) || !errors.Is(err, kv.ErrBadProps) {
			t.Errorf("%v: %v, want a *kv.PropsError", tc.props, err)
			continue
		}
		if len(pe.Reasons) != len(tc.want) {
			t.Errorf("%v: reasons %v, want %v", tc.props, pe.Reasons, tc.want)
		}
		for prop, reason := range tc.want {
			if !strings.Contains(pe.Reasons[prop], reason) {
				t.Errorf("%v: reason for %s = %q, want %q", tc.props, prop, pe.Reasons[prop], reason)
			}
		}
		if p, _ := e.svc.BucketProps(kv.DefaultType, "b"); !reflect.DeepEqual(p, def) {
			t.Errorf("%v: a refused update changed the props to %v", tc.props, p)
		}
	}

	// Valid updates (Riak's coercions included) apply, merge with earlier
	// ones, leave other buckets alone and survive a restart.
	e.setProps("b", map[string]any{"n_val": 5, "allow_mult": "true", "r": "all"})
	e.setProps("b", map[string]any{"last_write_wins": 1, "name": "ignored"})
	want := def
	want.NVal, want.AllowMult, want.R, want.LastWriteWins = 5, true, quorum.ValAll, true
	check := func(when string) {
		t.Helper()
		if p, err := e.svc.BucketProps(kv.DefaultType, "b"); err != nil || !reflect.DeepEqual(p, want) {
			t.Errorf("%s: props %v, %v; want %v", when, p, err, want)
		}
		if p, _ := e.svc.BucketProps(kv.DefaultType, "other"); !reflect.DeepEqual(p, def) {
			t.Errorf("%s: another bucket's props changed: %v", when, p)
		}
	}
	check("after set")
	e.restart()
	check("after restart")

	// n_val takes effect: five replicas.
	k := key("b", "k")
	if pl, err := e.svc.Preflist(k); err != nil || len(pl) != 5 {
		t.Errorf("preflist with n_val 5: %d entries, %v", len(pl), err)
	}
	e.put(k, "v", nil)
	hp := ring.PrefList(e.ring, ring.KeyHash(k.Type, k.Bucket, k.Key), 5, nil)
	for _, tg := range hp {
		if o := e.vget(e.svc.Vnode(tg.Partition), k); o == nil {
			t.Errorf("n_val 5: partition %d has no copy", tg.Partition)
		}
	}

	if err := e.svc.ResetBucketProps(kv.DefaultType, "b"); err != nil {
		t.Fatal(err)
	}
	want = def
	check("after reset")
	e.restart()
	check("after reset and restart")

	// Unknown bucket types.
	nope := kv.Key{Type: "nope", Bucket: "b", Key: "k"}
	errs := map[string]error{
		"BucketProps":      func() error { _, err := e.svc.BucketProps("nope", "b"); return err }(),
		"SetBucketProps":   e.svc.SetBucketProps("nope", "b", rawProps(t, map[string]any{"n_val": 1})),
		"ResetBucketProps": e.svc.ResetBucketProps("nope", "b"),
		"Get":              func() error { _, err := e.svc.Get(bg, nope, kv.Options{}); return err }(),
		"Put":              func() error { _, err := e.svc.Put(bg, nope, nil, siblings.Meta{}, nil, kv.Options{}); return err }(),
		"Delete":           e.svc.Delete(bg, nope, nil, kv.Options{}),
		"Preflist":         func() error { _, err := e.svc.Preflist(nope); return err }(),
	}
	for op, err := range errs {
		if !errors.Is(err, kv.ErrUnknownType) {
			t.Errorf("%s on an unknown type: %v, want ErrUnknownType", op, err)
		}
	}
}

// TestLastWriteWins: in a last_write_wins bucket each replica takes the
// newest write as is, so a later write wins even over a stale replica
// whose clock shows more events (here of the coordinator's own actor, as
// after a vnode's amnesia), which a causal merge would let win.
func TestLastWriteWins(t *testing.T) {
	e := newEnv(t)
	e.setProps("lww", map[string]any{"last_write_wins": true})
	k := key("lww", "k")
	o1 := e.put(k, "v1", nil)
	vs := e.vnodes(k)
	coordActor := actorOf(t, o1.Clock, vs[0].ID()).Actor

	stale := &siblings.Object{
		Clock:    vclock.VClock{{Actor: coordActor, Counter: 100, Timestamp: t0.Unix()}},
		Siblings: []siblings.Sibling{{Value: []byte("stale"), Meta: siblings.Meta{VTag: "stale", LastModified: t0.Add(-time.Hour).UnixMicro()}}},
	}
	for _, idx := range []int{1, 2} {
		if err := vs[idx].StoreForTest(k, stale); err != nil {
			t.Fatal(err)
		}
	}
	e.clk.Advance(time.Second)
	e.put(k, "v2", nil)
	if got := e.get(k); !slices.Equal(values(got), []string{"v2"}) {
		t.Errorf("Get: %s, want v2", describe(got))
	}
	e.settle()
	for j, o := range e.replicas(k) {
		if !slices.Equal(values(o), []string{"v2"}) {
			t.Errorf("replica %d: %s, want v2", j, describe(o))
		}
	}

	// A stale copy with a bigger clock on the coordinator itself: the
	// write's clock covers it, so no later merge can bring it back.
	if err := vs[0].StoreForTest(k, stale); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Second)
	o3 := e.put(k, "v3", nil)
	if !o3.Clock.Descends(stale.Clock) {
		t.Errorf("write clock %s does not cover the stale %s", o3.Clock, stale.Clock)
	}
	if got := e.get(k); !slices.Equal(values(got), []string{"v3"}) {
		t.Errorf("Get: %s, want v3", describe(got))
	}
}

func TestRestartKeepsData(t *testing.T) {
	e := newEnv(t)
	const n = 1000
	clocks := make([]*siblings.Object, n)
	for i := range n {
		clocks[i] = e.put(key("b", fmt.Sprintf("k%04d", i)), fmt.Sprintf("v%d", i), nil)
	}
	e.restart()
	for i := range n {
		k := key("b", fmt.Sprintf("k%04d", i))
		got := e.get(k)
		if !siblings.Equal(got, clocks[i]) || !reflect.DeepEqual(got.Clock, clocks[i].Clock) {
			t.Fatalf("%s after restart: %s, want %s", k, describe(got), describe(clocks[i]))
		}
	}
}

// TestConcurrentPuts runs 8 writers against shared and private keys of an
// allow_mult dvv bucket, mixing blind writes and read-modify-writes. Every
// acknowledged write must survive as a sibling, unless a later
// acknowledged write read it and replaced it with its context.
func TestConcurrentPuts(t *testing.T) {
	e := newEnv(t)
	e.setProps("c", map[string]any{"allow_mult": true, "dvv_enabled": true})
	const writers, ops = 8, 60
	shared := []string{"s0", "s1", "s2"}
	type record struct {
		acked []string            // values acknowledged, by key
		seen  map[string][]string // values read and then replaced, by key
	}
	results := make([]map[string]*record, writers)
	errs := make(chan error, writers)
	seeds := make([]uint64, writers)
	r := newRand(t)
	for w := range seeds {
		seeds[w] = r.Uint64()
	}
	done := make(chan struct{})
	for w := range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			rng := newRandFrom(seeds[w])
			recs := map[string]*record{}
			results[w] = recs
			for i := range ops {
				kname := shared[rng.IntN(len(shared))]
				if rng.IntN(4) == 0 {
					kname = fmt.Sprintf("own%d", w)
				}
				k := key("c", kname)
				rec := recs[kname]
				if rec == nil {
					rec = &record{seen: map[string][]string{}}
					recs[kname] = rec
				}
				val := fmt.Sprintf("w%d-%d", w, i)
				var ctx vclock.VClock
				var read []string
				if rng.IntN(3) > 0 { // read-modify-write
					o, err := e.svc.Get(bg, k, kv.Options{})
					if err != nil && !errors.Is(err, kv.ErrNotFound) {
						errs <- fmt.Errorf("%s: Get: %w", k, err)
						return
					}
					if o != nil {
						ctx, read = o.Clock, values(o)
					}
				}
				_, err := e.svc.Put(bg, k, []byte(val), siblings.Meta{}, ctx, kv.Options{})
				var tm *siblings.TooManySiblingsError
				switch {
				case errors.As(err, &tm):
					continue // refused, not acknowledged
				case err != nil:
					errs <- fmt.Errorf("%s: Put: %w", k, err)
					return
				}
				rec.acked = append(rec.acked, val)
				rec.seen[val] = read
			}
		}()
	}
	for range writers {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.closeSvc()
	e.open()

	keys := map[string]bool{}
	for _, recs := range results {
		for kname := range recs {
			keys[kname] = true
		}
	}
	for kname := range keys {
		k := key("c", kname)
		final := e.get(k)
		present := map[string]int{}
		for _, v := range values(final) {
			present[v]++
		}
		replaced := map[string]bool{}
		total := 0
		for _, recs := range results {
			if rec := recs[kname]; rec != nil {
				total += len(rec.acked)
				for _, read := range rec.seen {
					for _, v := range read {
						replaced[v] = true
					}
				}
			}
		}
		for v, n := range present {
			if n > 1 {
				t.Errorf("%s: value %s appears %d times: %s", k, v, n, describe(final))
			}
		}
		for _, recs := range results {
			rec := recs[kname]
			if rec == nil {
				continue
			}
			for _, v := range rec.acked {
				if present[v] == 0 && !replaced[v] {
					t.Errorf("%s: acknowledged write %s lost: neither a sibling nor read by a later write; final %s", k, v, describe(final))
				}
			}
		}
		reps := e.replicas(k)
		for j, o := range reps {
			if !siblings.Equal(o, reps[0]) {
				t.Errorf("%s: replica %d %s differs from replica 0 %s", k, j, describe(o), describe(reps[0]))
			}
		}
		t.Logf("%s: %d acknowledged writes, %d siblings at the end", k, total, len(final.Siblings))
	}
}
