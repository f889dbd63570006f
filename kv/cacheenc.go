package kv

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/fastcache"

	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/siblings"
)

// The object cache has two tiers. The decoded tier (objCache's shards) holds
// decoded objects on the Go heap: a hit costs a map lookup, but every
// cached object is a web of pointers the garbage collector marks on each
// cycle. At 5M keys, with the whole cache decoded, marking 22M objects took
// a third of the CPU. The encoded tier holds objects as their encodings in
// a fastcache.Cache: its data lives in chunks allocated outside the Go heap
// and its index is a map of integers, so the collector has nothing in it to
// mark. A hit there costs a copy and a decode. The decoded tier is kept
// small for the hottest keys; the encoded tier takes the rest of the share.
//
// The encoded tier holds two kinds of record:
//
//   - a replica record per (partition, key): what that replica holds,
//     absent, or present with the sum and size of its encoding;
//   - a content record per key: one encoding of the key, with its sum.
//     Equal replicas share it; a replica record is served from it only when
//     the sums and sizes agree, so a content record is never wrong, only
//     perhaps not the replica's (a diverged replica's reads miss it).
//
// Replica records follow the decoded tier's consistency rule (see
// objCache): they are written only under the shard lock, by writers after
// storing and by readers whose generation check passes, so they never say
// less than storage held at the last write. fastcache evicts in insertion
// order per bucket and may drop any record; a missing record is a miss.
// A record fastcache would refuse to store (too large) is deleted instead,
// so that an older one cannot stand in for it.
//
// fastcache evicts in insertion order: each of its buckets is a ring that
// overwrites its oldest records when it wraps, however often they were
// read. A key read all the time from this tier would be evicted once per
// turn of the ring and read again from storage. So every record carries
// the tier's byte count when it was written (written: the bytes appended
// so far, which tracks the rings' positions), and a record found in the
// older half of the ring is written again when it is read, as a CLOCK
// cache gives a used entry a second chance. A key read less than once per
// half turn still ages out.

const (
	encTagAbsent  = 'a'
	encTagPresent = 'p'
	encSlotLen    = 1 + 8 + 8 + 4 // tag, written, sum, size
	encAbsentLen  = 1 + 8         // tag, written
	encContentHdr = 8 + 8         // sum, written
	// encMaxRecord is fastcache's bound on key plus value plus its 4-byte
	// header: larger records are silently not stored.
	encMaxRecord = 64<<10 - 4 - 1
	// MinEncodedCacheBytes is the smallest encoded tier fastcache keeps
	// (512 buckets of at least one 64 KiB chunk).
	MinEncodedCacheBytes = 32 << 20
)

type encCache struct {
	c       *fastcache.Cache
	size    uint64        // the rings' capacity, bytes
	written atomic.Uint64 // bytes appended to the rings so far
}

func newEncCache(size int) *encCache {
	return &encCache{c: fastcache.New(size), size: uint64(size)}
}

// set stores (k, v), stamping v[at:at+8] with the tier's byte count.
func (e *encCache) set(k, v []byte, at int) {
	n := uint64(len(k) + len(v) + 4)
	binary.LittleEndian.PutUint64(v[at:], e.written.Add(n)-n)
	e.c.Set(k, v)
}

// reset empties the tier; its chunks go back to fastcache's free list.
func (e *encCache) reset() { e.c.Reset() }

// old reports whether a record stamped w is in the older half of its ring.
func (e *encCache) old(w uint64) bool {
	return e.written.Load()-w > e.size/2
}

var encKeyPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func appendSlotKey(dst []byte, p storage.Partition, key []byte) []byte {
	dst = append(dst, 's', byte(p>>8), byte(p))
	return append(dst, key...)
}

func appendContentKey(dst []byte, key []byte) []byte {
	dst = append(dst, 'c')
	return append(dst, key...)
}

// slot is what the encoded tier knows of partition p's replica of key:
// known=false if nothing; otherwise present (with its encoding's sum and
// size) or absent, and whether the record is due to be written again
// (old; see refreshSlot).
func (e *encCache) slot(p storage.Partition, key []byte) (known, present bool, sum uint64, size int, old bool) {
	kb := encKeyPool.Get().(*[]byte)
	*kb = appendSlotKey((*kb)[:0], p, key)
	var vb [encSlotLen]byte
	v, ok := e.c.HasGet(vb[:0], *kb)
	encKeyPool.Put(kb)
	switch {
	case !ok:
		return false, false, 0, 0, false
	case len(v) == encAbsentLen && v[0] == encTagAbsent:
		return true, false, 0, 0, e.old(binary.LittleEndian.Uint64(v[1:]))
	case len(v) == encSlotLen && v[0] == encTagPresent:
		return true, true, binary.LittleEndian.Uint64(v[9:]), int(binary.LittleEndian.Uint32(v[17:])), e.old(binary.LittleEndian.Uint64(v[1:]))
	}
	return false, false, 0, 0, false
}

// setSlot records partition p's replica of key (present or absent); the
// caller holds key's shard lock, and what it records is current (a writer
// after storing, or a reader whose generation check passed).
func (e *encCache) setSlot(p storage.Partition, key []byte, present bool, sum uint64, size int) {
	kb := encKeyPool.Get().(*[]byte)
	*kb = appendSlotKey((*kb)[:0], p, key)
	var vb [encSlotLen]byte
	v := vb[:encAbsentLen]
	v[0] = encTagAbsent
	if present {
		v = vb[:]
		v[0] = encTagPresent
		binary.LittleEndian.PutUint64(v[9:], sum)
		binary.LittleEndian.PutUint32(v[17:], uint32(size))
	}
	if len(*kb)+len(v) > encMaxRecord {
		e.c.Del(*kb)
	} else {
		e.set(*kb, v, 1)
	}
	encKeyPool.Put(kb)
}

// delSlot forgets partition p's replica of key.
func (e *encCache) delSlot(p storage.Partition, key []byte) {
	kb := encKeyPool.Get().(*[]byte)
	*kb = appendSlotKey((*kb)[:0], p, key)
	e.c.Del(*kb)
	encKeyPool.Put(kb)
}

// setContent stores enc, whose sum is sum, as key's content record,
// unless the record holds that encoding already. A write stores each of a
// key's N local replicas in turn, and a cold key's replicas are read
// together: without the check each would append its own copy, and
// fastcache's ring, which reclaims space only by wrapping, would fill with
// dead copies (at 5M keys, most of the tier within ten minutes).
func (e *encCache) setContent(key, enc []byte, sum uint64) {
	if 1+len(key)+encContentHdr+len(enc) > encMaxRecord {
		return // a content record is checked against the replica's sum: an older one does no harm
	}
	kb := encKeyPool.Get().(*[]byte)
	*kb = appendContentKey((*kb)[:0], key)
	vb := valBufPool.Get().(*[]byte)
	v, ok := e.c.HasGet((*vb)[:0], *kb)
	if !ok || len(v) != encContentHdr+len(enc) || binary.LittleEndian.Uint64(v) != sum {
		v = binary.LittleEndian.AppendUint64(v[:0], sum)
		v = append(v, make([]byte, 8)...)
		v = append(v, enc...)
		e.set(*kb, v, 8)
	}
	if cap(v) <= 1<<20 {
		*vb = v
		valBufPool.Put(vb)
	}
	encKeyPool.Put(kb)
}

// hasContent reports whether the tier holds a content record for key.
func (e *encCache) hasContent(key []byte) bool {
	kb := encKeyPool.Get().(*[]byte)
	*kb = appendContentKey((*kb)[:0], key)
	ok := e.c.Has(*kb)
	encKeyPool.Put(kb)
	return ok
}

// object decodes key's content record if its encoding has this sum and
// size. A record in the older half of its ring is written again.
func (e *encCache) object(key []byte, sum uint64, size int) (*siblings.Object, bool) {
	kb := encKeyPool.Get().(*[]byte)
	defer encKeyPool.Put(kb)
	*kb = appendContentKey((*kb)[:0], key)
	vb := valBufPool.Get().(*[]byte)
	v, ok := e.c.HasGet((*vb)[:0], *kb)
	defer func() {
		if cap(v) <= 1<<20 {
			*vb = v
			valBufPool.Put(vb)
		}
	}()
	if !ok || len(v) != encContentHdr+size || binary.LittleEndian.Uint64(v) != sum {
		return nil, false
	}
	o, err := wire.DecodeObject(v[encContentHdr:])
	if err != nil {
		return nil, false // cannot happen for a stored encoding; a miss reads storage
	}
	if e.old(binary.LittleEndian.Uint64(v[8:])) {
		e.set(*kb, v, 8) // a content record is never wrong: no lock needed
	}
	return o, true
}

// stats returns the tier's entries (both kinds of record) and the bytes
// of its allocated chunks.
func (e *encCache) stats() (entries, bytes int64) {
	var s fastcache.Stats
	e.c.UpdateStats(&s)
	return int64(s.EntriesCount), int64(s.BytesSize)
}
