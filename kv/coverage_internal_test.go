package kv

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/kv/storage/memstore"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
)

// Internal tests of the coverage protocol: a vnode's cursor-paged replies
// against a model of what it stores, and the union a forwarding vnode
// answers with. The cluster behaviour (plans through every node, nodes
// down, joins and leaves) is tested in internal/testcluster.

func bs(xs ...string) [][]byte {
	out := make([][]byte, len(xs))
	for i, x := range xs {
		out[i] = []byte(x)
	}
	return out
}

func TestUnionCoverage(t *testing.T) {
	tests := []struct {
		name  string
		a, b  covResp
		limit int
		want  covResp
	}{
		{"both done", covResp{Items: bs("a", "c"), Done: true}, covResp{Items: bs("b", "c"), Done: true}, 10,
			covResp{Items: bs("a", "b", "c"), Done: true}},
		{"one unfinished bounds the other", covResp{Items: bs("a", "c", "e"), Next: []byte("e")}, covResp{Items: bs("b", "c", "d", "f", "g"), Done: true}, 10,
			covResp{Items: bs("a", "b", "c", "d", "e"), Next: []byte("e")}},
		{"the smaller cursor wins", covResp{Items: bs("a", "c"), Next: []byte("c")}, covResp{Items: bs("b", "i"), Next: []byte("i")}, 10,
			covResp{Items: bs("a", "b", "c"), Next: []byte("c")}},
		{"an empty budget-cut reply", covResp{Next: []byte("b")}, covResp{Items: bs("a", "e"), Done: true}, 10,
			covResp{Items: bs("a"), Next: []byte("b")}},
		{"the limit cuts", covResp{Items: bs("a", "b", "c"), Done: true}, covResp{Items: bs("d", "e"), Done: true}, 3,
			covResp{Items: bs("a", "b", "c"), Next: []byte("c")}},
		{"both empty and done", covResp{Done: true}, covResp{Done: true}, 5, covResp{Done: true}},
	}
	for _, tt := range tests {
		got := unionCoverage(tt.a, tt.b, tt.limit)
		if fmt.Sprintf("%q %q %v", got.Items, got.Next, got.Done) != fmt.Sprintf("%q %q %v", tt.want.Items, tt.want.Next, tt.want.Done) {
			t.Errorf("%s: got %q next %q done %v, want %q next %q done %v", tt.name, got.Items, got.Next, got.Done, tt.want.Items, tt.want.Next, tt.want.Done)
		}
	}
}

// pageOf answers a request over a sorted set the way a vnode does: at most
// limit items after after, examining at most budget entries.
func pageOf(set []string, after []byte, limit, budget int) covResp {
	var out covResp
	scanned := 0
	for _, x := range set {
		if after != nil && x <= string(after) {
			continue
		}
		scanned++
		if len(x)%3 != 0 { // the filter keeps two thirds
			out.Items = append(out.Items, []byte(x))
			if len(out.Items) == limit {
				out.Next = []byte(x)
				return out
			}
		}
		if scanned == budget {
			out.Next = []byte(x)
			return out
		}
	}
	out.Done = true
	return out
}

// TestUnionCoveragePaging: paging through the union of two vnodes' replies
// (each cut by its own limit and budget) yields each item of either once,
// in order.
func TestUnionCoveragePaging(t *testing.T) {
	rnd := indexRand(t)
	for iter := 0; iter < 2000; iter++ {
		gen := func() []string {
			var s []string
			for range rnd.IntN(30) {
				s = append(s, fmt.Sprint(rnd.IntN(1000)))
			}
			slices.Sort(s)
			return slices.Compact(s)
		}
		a, b := gen(), gen()
		var want []string
		for _, x := range slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a), b...)))) {
			if len(x)%3 != 0 {
				want = append(want, x)
			}
		}
		var got []string
		var after []byte
		for pages := 0; ; pages++ {
			if pages > 1000 {
				t.Fatalf("iter %d: no progress", iter)
			}
			limit := 1 + rnd.IntN(5)
			r := unionCoverage(pageOf(a, after, 1+rnd.IntN(5), 1+rnd.IntN(5)), pageOf(b, after, 1+rnd.IntN(5), 1+rnd.IntN(5)), limit)
			if len(r.Items) > limit {
				t.Fatalf("iter %d: %d items, limit %d", iter, len(r.Items), limit)
			}
			for _, x := range r.Items {
				got = append(got, string(x))
			}
			if r.Done {
				break
			}
			if after != nil && bytes.Compare(r.Next, after) <= 0 {
				t.Fatalf("iter %d: cursor %q does not move past %q", iter, r.Next, after)
			}
			after = r.Next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("iter %d: a=%v b=%v: paged union %v, want %v", iter, a, b, got, want)
		}
	}
}

// covModel is a single-node service with a known set of objects.
type covModel struct {
	s    *Service
	objs map[Key][]siblings.IndexEntry
}

func newCovModel(t *testing.T, rnd *rand.Rand) *covModel {
	r, err := ring.New(8, "n@test")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Node, cfg.Ring, cfg.Engine = "n@test", r, memstore.New()
	cfg.Clock = clock.NewManual(time.Unix(1_700_000_000, 0))
	var mu sync.Mutex
	src := rand.New(rand.NewPCG(rnd.Uint64(), 1))
	cfg.Rand = func() uint64 { mu.Lock(); defer mu.Unlock(); return src.Uint64() }
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	m := &covModel{s: s, objs: map[Key][]siblings.IndexEntry{}}
	for i := 0; i < 300; i++ {
		k := Key{Type: DefaultType, Bucket: fmt.Sprintf("b%d", rnd.IntN(3)), Key: fmt.Sprintf("k%03d", rnd.IntN(400))}
		if _, dup := m.objs[k]; dup {
			continue // one write per key: the model needs no resolution
		}
		ix := []siblings.IndexEntry{
			{Field: "c_bin", Value: []string{"a", "ab", "b", "b\x00c", "z"}[rnd.IntN(5)]},
			{Field: "n_int", Value: fmt.Sprint(rnd.IntN(21) - 10)},
		}
		if _, err := s.Put(context.Background(), k, []byte("v"), siblings.Meta{Indexes: ix}, nil, Options{}); err != nil {
			t.Fatal(err)
		}
		m.objs[k] = ix
	}
	for i := 0; i < 40; i++ { // buckets of one key each, of every name length
		k := Key{Type: DefaultType, Bucket: string(make([]byte, rnd.IntN(4)+1)) + fmt.Sprint(i), Key: "x"}
		if _, err := s.Put(context.Background(), k, []byte("v"), siblings.Meta{}, nil, Options{}); err != nil {
			t.Fatal(err)
		}
		m.objs[k] = nil
	}
	return m
}

// expect is what vnode v answers for req, from the model: every match of
// a key stored on v (home within v-2…v at n_val 3) whose home is one of
// req.Homes, in storage order.
func (m *covModel) expect(req *covReq, re *regexp.Regexp) [][]byte {
	r := m.s.Ring()
	q := r.Size()
	homes := map[int]bool{}
	for _, h := range req.Homes {
		homes[h] = true
	}
	seen := map[string]bool{}
	var out [][]byte
	for k, ix := range m.objs {
		home := r.Partition(ring.KeyHash(k.Type, k.Bucket, k.Key))
		if (req.Partition-home+q)%q >= 3 {
			continue // not stored on this vnode
		}
		var items [][]byte
		switch req.Kind {
		case covBuckets:
			items = append(items, appendBucketPrefix(nil, "", k.Bucket)[1:])
		case covKeys:
			if k.Bucket == req.Bucket && homes[home] {
				items = append(items, []byte(k.Key))
			}
		case covIndex:
			if k.Bucket != req.Bucket || !homes[home] {
				continue
			}
			for _, e := range ix {
				if e.Field != req.Field {
					continue
				}
				if re != nil && !re.MatchString(e.Value) {
					continue
				}
				term, _ := appendTerm(nil, e.Field, e.Value)
				items = append(items, append(term, k.Key...))
			}
		}
		for _, it := range items {
			if !seen[string(it)] {
				seen[string(it)] = true
				out = append(out, it)
			}
		}
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

// TestCoveragePagesMatchTheModel: a vnode's replies, paged with any limit
// and budget, give exactly the entries it stores for its filter, in order,
// each reply within its cursor.
func TestCoveragePagesMatchTheModel(t *testing.T) {
	rnd := indexRand(t)
	m := newCovModel(t, rnd)
	for iter := 0; iter < 400; iter++ {
		v := rnd.IntN(8)
		req := covReq{Partition: v, Type: DefaultType, Bucket: fmt.Sprintf("b%d", rnd.IntN(3))}
		for _, d := range rnd.Perm(3)[:1+rnd.IntN(3)] {
			req.Homes = append(req.Homes, (v-d+8)%8)
		}
		var re *regexp.Regexp
		switch rnd.IntN(5) {
		case 0:
			req.Kind = covKeys
		case 1:
			req.Kind, req.Bucket, req.Homes = covBuckets, "", nil
		case 2:
			req.Kind, req.Field = covIndex, "n_int"
		default:
			req.Kind, req.Field = covIndex, "c_bin"
			if rnd.IntN(2) == 0 {
				re = regexp.MustCompile(`^(a|b\x00)`)
				req.Regex = re.String()
			}
		}
		want := m.expect(&req, re)
		all, err := m.s.scanPage(&req, 1<<30, 1<<30)
		if err != nil || !all.Done {
			t.Fatalf("iter %d: unbounded scan: %v done %v", iter, err, all.Done)
		}
		if !slices.EqualFunc(all.Items, want, bytes.Equal) {
			t.Fatalf("iter %d: %+v\n got %q\nwant %q", iter, req, all.Items, want)
		}
		var got [][]byte
		for pages := 0; ; pages++ {
			if pages > 10000 {
				t.Fatalf("iter %d: paging does not end", iter)
			}
			limit, budget := 1+rnd.IntN(4), 1+rnd.IntN(6)
			r, err := m.s.scanPage(&req, limit, budget)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Items) > limit {
				t.Fatalf("iter %d: %d items, limit %d", iter, len(r.Items), limit)
			}
			for i, x := range r.Items {
				if req.After != nil && bytes.Compare(x, req.After) <= 0 || i > 0 && bytes.Compare(r.Items[i-1], x) >= 0 || !r.Done && bytes.Compare(x, r.Next) > 0 {
					t.Fatalf("iter %d: item %q out of order (after %q, next %q)", iter, x, req.After, r.Next)
				}
			}
			got = append(got, r.Items...)
			if r.Done {
				break
			}
			req.After = r.Next
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("iter %d: paged\n got %q\nwant %q", iter, got, want)
		}
	}
}
