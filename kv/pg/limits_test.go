package pg_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/kv/pg"
	"github.com/riakgo/riakgo/kv/storage"
)

// countingEngine counts the range reads (listings) made on an engine.
type countingEngine struct {
	storage.Engine
	scans atomic.Int64
}

func (c *countingEngine) NewIterator(space storage.Space, p storage.Partition, lo, hi []byte) (storage.Iterator, error) {
	c.scans.Add(1)
	return c.Engine.NewIterator(space, p, lo, hi)
}

func (c *countingEngine) Scan(p storage.Partition, prefix []byte, fn func(key, value []byte) error) error {
	c.scans.Add(1)
	return c.Engine.Scan(p, prefix, fn)
}

// TestPGWatchesSharePolls: issue 12, finding 7. Idle watches of one scope
// must not each re-list the scope every second: a poll of fifty watches
// costs what a poll of one does.
func TestPGWatchesSharePolls(t *testing.T) {
	var ce *countingEngine
	e := newEnv(t, func(c *kv.Config) {
		ce = &countingEngine{Engine: c.Engine}
		c.Engine = ce
	})
	p, err := pg.New(e.svc, pg.Config{Incarnation: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"a", "b", "c"} {
		if _, err := p.Join(pgctx, gk(g), "m", pg.JoinOpts{}); err != nil {
			t.Fatal(err)
		}
	}
	poll := func() int64 {
		before := ce.scans.Load()
		p.Tick(pgctx)
		return ce.scans.Load() - before
	}
	var cancels []func()
	_, c1, err := p.Watch(pgctx, pg.BucketType, "scope", "")
	if err != nil {
		t.Fatal(err)
	}
	cancels = append(cancels, c1)
	one := poll()
	for range 49 {
		_, c, err := p.Watch(pgctx, pg.BucketType, "scope", "")
		if err != nil {
			t.Fatal(err)
		}
		cancels = append(cancels, c)
	}
	fifty := poll()
	for _, c := range cancels {
		c()
	}
	if fifty > one+2 {
		t.Fatalf("a poll of 50 scope watches made %d range reads, a poll of one %d", fifty, one)
	}
}

// TestPGMemberCap: issue 12, finding 7. A group holds at most 1000 members
// (each join costs O(members)): the next join fails with ErrPGFull and
// changes nothing; members already in it still join again and leave.
func TestPGMemberCap(t *testing.T) {
	_, p := newPG(t)
	k := gk("big")
	for i := range 1000 {
		if _, err := p.Join(pgctx, k, fmt.Sprintf("m%04d", i), pg.JoinOpts{}); err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
	}
	if _, err := p.Join(pgctx, k, "one-too-many", pg.JoinOpts{}); !errors.Is(err, pg.ErrFull) {
		t.Fatalf("member 1001: %v", err)
	}
	ms, err := p.Members(pgctx, k, pg.Filter{})
	if err != nil || len(ms) != 1000 {
		t.Fatalf("members after the refused join: %d %v", len(ms), err)
	}
	if n, err := p.Join(pgctx, k, "m0000", pg.JoinOpts{}); err != nil || n != 2 {
		t.Fatalf("a member joining again: %d %v", n, err)
	}
	if _, err := p.Leave(pgctx, k, "m0001", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Join(pgctx, k, "one-too-many", pg.JoinOpts{}); err != nil {
		t.Fatalf("a join after a leave: %v", err)
	}
}

// TestPGWatchCap: at most MaxWatches watch streams; one more is refused
// with ErrOverload (HTTP 503) until one closes.
func TestPGWatchCap(t *testing.T) {
	e := newEnv(t)
	p, err := pg.New(e.svc, pg.Config{Incarnation: 1, MaxWatches: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, c1, err1 := p.Watch(pgctx, pg.BucketType, "scope", "g")
	_, c2, err2 := p.Watch(pgctx, pg.BucketType, "scope", "")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	defer c2()
	if _, _, err := p.Watch(pgctx, pg.BucketType, "scope", "h"); !errors.Is(err, kv.ErrOverload) {
		t.Fatalf("third watch: %v", err)
	}
	c1()
	_, c3, err := p.Watch(pgctx, pg.BucketType, "scope", "h")
	if err != nil {
		t.Fatalf("a watch after one closed: %v", err)
	}
	c3()
}
