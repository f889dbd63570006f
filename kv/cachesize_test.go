package kv

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

func TestAllocSize(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{0, 0}, {1, 8}, {8, 8}, {9, 16}, {1024, 1024}, {1025, 1152}, {1139, 1152},
		{32768, 32768}, {32769, 40960},
	} {
		if got := allocSize(c.n); got != c.want {
			t.Errorf("allocSize(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

// TestObjCacheAccountsTheHeap fills a cache with decoded objects of the
// shapes the store holds and checks that what the cache is accounted at is
// what it costs the Go heap, within a tenth. (The previous accounting, at
// the encoded size plus a fixed overhead, put a 1 KiB object with three
// replicas at 1,414 bytes where it took 1,667.)
func TestObjCacheAccountsTheHeap(t *testing.T) {
	clock3 := func() vclock.VClock {
		var c vclock.VClock
		for a := range 3 {
			c = append(c, vclock.Entry{Actor: vclock.Actor{ID: uint64(a*7919 + 1), Epoch: 3}, Counter: 5, Timestamp: 1e15})
		}
		return c
	}
	shapes := []struct {
		name     string
		replicas int
		make     func(i int) *siblings.Object
	}{
		{"1KiB, 3 equal replicas", 3, func(i int) *siblings.Object {
			return &siblings.Object{Clock: clock3(), Siblings: []siblings.Sibling{{
				Dot: vclock.Dot{Actor: vclock.Actor{ID: 1, Epoch: 3}, Counter: 5}, Value: make([]byte, 1024),
				Meta: siblings.Meta{ContentType: "application/octet-stream", VTag: fmt.Sprintf("%022d", i), LastModified: 1e15},
			}}}
		}},
		{"100B JSON with metadata, 1 replica", 1, func(i int) *siblings.Object {
			return &siblings.Object{Clock: clock3()[:1], Siblings: []siblings.Sibling{{
				Dot: vclock.Dot{Actor: vclock.Actor{ID: 1, Epoch: 3}, Counter: 5}, Value: make([]byte, 100),
				Meta: siblings.Meta{ContentType: "application/json", Charset: "utf-8", VTag: fmt.Sprintf("%022d", i), LastModified: 1e15,
					UserMeta: []siblings.Pair{{Key: "x-riak-meta-owner", Value: fmt.Sprintf("user%d", i)}},
					Indexes:  []siblings.IndexEntry{{Field: "email_bin", Value: fmt.Sprintf("u%d@example.com", i)}}},
			}}}
		}},
		{"3 siblings of 300B", 2, func(i int) *siblings.Object {
			o := &siblings.Object{Clock: clock3()}
			for s := range 3 {
				o.Siblings = append(o.Siblings, siblings.Sibling{
					Dot: vclock.Dot{Actor: vclock.Actor{ID: uint64(s), Epoch: 1}, Counter: 2}, Value: make([]byte, 300),
					Meta: siblings.Meta{ContentType: "text/plain", VTag: fmt.Sprintf("%022d", i*3+s), LastModified: 1e15}})
			}
			return o
		}},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			const n = 20000
			encs := make([][]byte, n)
			keys := make([][]byte, n)
			for i := range encs {
				encs[i] = wire.EncodeObject(sh.make(i))
				keys[i] = fmt.Appendf(nil, "bench\x00key%010d", i)
			}
			c := newObjCache(1<<40, 0)
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			for i := range n {
				// As the vnodes do: each replica decodes its own read.
				for p := range sh.replicas {
					o, err := wire.DecodeObject(encs[i])
					if err != nil {
						t.Fatal(err)
					}
					c.set(storage.Partition(p), keys[i], o, len(encs[i]), objSum(encs[i]))
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			heap := float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / n
			acct := float64(c.stats().Bytes) / n
			t.Logf("per key: heap %.0f B, accounted %.0f B, encoded %d B", heap, acct, len(encs[0]))
			if r := acct / heap; r < 0.9 || r > 1.1 {
				t.Errorf("accounted at %.0f B per key, the heap holds %.0f B (ratio %.2f)", acct, heap, r)
			}
			runtime.KeepAlive(c)
		})
	}
}
