package kv

import (
	"unsafe"

	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// The object cache is accounted at what its entries cost the Go heap, so
// that a full cache stays inside its share of the memory budget and leaves
// the collector the headroom the plan gives it. (Accounting at the encoded
// size plus a fixed overhead put a 1 KiB object with three replicas at
// 1,414 bytes where it took 1,667; at 5M keys the heap then sat at its
// limit and the collector took 18% of the CPU.)

// allocClasses are the Go allocator's size classes up to 32 KiB: an
// allocation of n bytes takes the first class of at least n.
var allocClasses = [...]int{
	8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
	240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768,
	896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200,
	3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
	27264, 28672, 32768,
}

// allocSize is the heap an allocation of n bytes takes.
func allocSize(n int) int {
	if n <= 0 {
		return 0
	}
	if n > allocClasses[len(allocClasses)-1] {
		return (n + 8191) &^ 8191 // large objects take whole pages
	}
	lo, hi := 0, len(allocClasses)-1
	for lo < hi {
		m := (lo + hi) / 2
		if allocClasses[m] < n {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return allocClasses[lo]
}

func strSize(s string) int { return allocSize(len(s)) }

// objectMemSize is the heap a decoded object holds: its header, the clock
// and sibling arrays, and every value and string they point to.
func objectMemSize(o *siblings.Object) int {
	if o == nil {
		return 0
	}
	n := allocSize(int(unsafe.Sizeof(*o))) +
		allocSize(cap(o.Clock)*int(unsafe.Sizeof(vclock.Entry{}))) +
		allocSize(cap(o.Siblings)*int(unsafe.Sizeof(siblings.Sibling{})))
	for i := range o.Siblings {
		s := &o.Siblings[i]
		m := &s.Meta
		n += allocSize(cap(s.Value)) + strSize(m.ContentType) + strSize(m.Charset) +
			strSize(m.ContentEncoding) + strSize(m.VTag)
		if len(m.UserMeta) > 0 {
			n += allocSize(cap(m.UserMeta) * int(unsafe.Sizeof(siblings.Pair{})))
			for _, p := range m.UserMeta {
				n += strSize(p.Key) + strSize(p.Value)
			}
		}
		if len(m.Indexes) > 0 {
			n += allocSize(cap(m.Indexes) * int(unsafe.Sizeof(siblings.IndexEntry{})))
			for _, x := range m.Indexes {
				n += strSize(x.Field) + strSize(x.Value)
			}
		}
		if len(m.Links) > 0 {
			n += allocSize(cap(m.Links) * int(unsafe.Sizeof(siblings.Link{})))
			for _, l := range m.Links {
				n += strSize(l.Type) + strSize(l.Bucket) + strSize(l.Key) + strSize(l.Tag)
			}
		}
	}
	return n
}

// cacheMapSlot approximates what one key costs the shard's map: a string
// header and a pointer per slot, with the table between half and seven
// eighths full.
const cacheMapSlot = 40

// entryMemSize is what e costs the heap: the entry, its key, its replica
// array, its map slot, and each distinct decoded object once.
func entryMemSize(e *cacheEntry) int {
	n := allocSize(int(unsafe.Sizeof(*e))) + strSize(e.key) + cacheMapSlot +
		allocSize(cap(e.reps)*int(unsafe.Sizeof(cacheSlot{})))
	for i, r := range e.reps {
		if r.obj == nil || firstWithSum(e.reps[:i], r.sum, r.size) >= 0 {
			continue
		}
		n += r.mem
	}
	return n
}
