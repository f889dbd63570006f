package kv

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"regexp"
	"sort"

	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/ring"
)

// Coverage. Each object is stored on N consecutive partitions from its
// primary partition. Listing and index queries visit every partition and
// keep only the entries whose key's primary partition is the one visited,
// so each key is reported once whatever the bucket's n_val. (With
// clustering the visited partitions come from a coverage plan over the
// nodes.)

// listChunk is how many names a listing emits at a time.
const listChunk = 1000

// primaryOf reports whether partition p is the primary partition of the
// object (typ, bucket, key).
func (s *Service) primaryOf(p int, typ, bucket string, key []byte) bool {
	return s.ring.Load().Partition(ring.KeyHash(typ, bucket, string(key))) == p
}

// appendBucketPrefix appends the storage-key prefix of a bucket's objects.
func appendBucketPrefix(dst []byte, typ, bucket string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(typ)))
	dst = append(dst, typ...)
	dst = binary.AppendUvarint(dst, uint64(len(bucket)))
	return append(dst, bucket...)
}

// ListKeys streams the keys of a bucket to emit in chunks, in no
// particular order. It holds at most one chunk in memory. Keys whose
// tombstone has not been reaped are listed, as in Riak. A listing whose ctx
// ends (its timeout) stops at the next key or partition with ctx's error,
// never emitting the rest: a listing that did not finish in time fails, as
// Riak's {error,timeout}.
func (s *Service) ListKeys(ctx context.Context, typ, bucket string, emit func(keys []string) error) error {
	if _, err := s.buckets.typeProps(typ); err != nil {
		return err
	}
	chunk := make([]string, 0, listChunk)
	add := func(key string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk = append(chunk, key)
		if len(chunk) == listChunk {
			if err := emit(chunk); err != nil {
				return err
			}
			// A new chunk: emit may keep the one it was given.
			chunk = make([]string, 0, listChunk)
		}
		return nil
	}
	r := s.Ring()
	for p := range s.vnodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if owner := r.Owner(p); s.tr != nil && owner != s.cfg.Node {
			// Coverage: the owner lists its partition's keys.
			keys, err := s.remoteList(ctx, wire.MsgKVListKeys, owner, p, typ, bucket)
			if err != nil {
				return cmp.Or(ctx.Err(), err) // a call cut by the timeout is the timeout
			}
			for _, k := range keys {
				if err := add(k); err != nil {
					return err
				}
			}
			continue
		}
		if err := s.partitionKeys(p, typ, bucket, add); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(chunk) > 0 {
		return emit(chunk)
	}
	return nil
}

// partitionKeys calls fn for every key of a bucket whose primary partition
// is p, from this node's vnode of p.
func (s *Service) partitionKeys(p int, typ, bucket string, fn func(string) error) error {
	if s.Vnode(p) == nil {
		return nil
	}
	prefix := appendBucketPrefix(nil, typ, bucket)
	it, err := s.cfg.Engine.NewIterator(storage.SpaceData, storage.Partition(p), prefix, prefixEnd(prefix))
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		key := it.Key()[len(prefix):]
		if !s.primaryOf(p, typ, bucket, key) {
			continue
		}
		if err := fn(string(key)); err != nil {
			return err
		}
	}
	return it.Err()
}

// listReq asks a node for the keys (or buckets) of one partition.
type listReq struct {
	Partition int    `msgpack:"p"`
	Type      string `msgpack:"t"`
	Bucket    string `msgpack:"b,omitempty"`
}

// listResp carries the names.
type listResp struct {
	Names []string `msgpack:"n"`
}

// remoteList asks node for a partition's keys (MsgKVListKeys) or buckets
// (MsgKVListBuckets). A node that cannot answer fails the listing: a
// partial listing would look complete.
func (s *Service) remoteList(ctx context.Context, typ wire.MsgType, node ring.NodeID, p int, btype, bucket string) ([]string, error) {
	if s.cfg.Up != nil && !s.cfg.Up(node) {
		return nil, fmt.Errorf("%w: partition %d's owner %s is down; the listing would be incomplete", ErrUnavailable, p, node)
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var resp listResp
	if err := s.tr.Call(cctx, node, typ, listReq{Partition: p, Type: btype, Bucket: bucket}, &resp); err != nil {
		return nil, fmt.Errorf("%w: listing partition %d on %s: %v", ErrUnavailable, p, node, err)
	}
	return resp.Names, nil
}

// partitionBuckets calls fn for every bucket of a type with objects in this
// node's vnode of p.
func (s *Service) partitionBuckets(ctx context.Context, p int, typ string, fn func(string)) error {
	if s.Vnode(p) == nil {
		return nil
	}
	tprefix := binary.AppendUvarint(nil, uint64(len(typ)))
	tprefix = append(tprefix, typ...)
	lo, hi := tprefix, prefixEnd(tprefix)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		it, err := s.cfg.Engine.NewIterator(storage.SpaceData, storage.Partition(p), lo, hi)
		if err != nil {
			return err
		}
		var bucket []byte
		found := it.Next()
		if found {
			rest := it.Key()[len(tprefix):]
			n, k := binary.Uvarint(rest)
			if k > 0 && uint64(len(rest)-k) >= n {
				bucket = bytes.Clone(rest[k : k+int(n)])
			} else {
				found = false
			}
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return err
		}
		if !found {
			return nil
		}
		fn(string(bucket))
		if lo = prefixEnd(appendBucketPrefix(nil, typ, string(bucket))); lo == nil {
			return nil
		}
	}
}

// ListBuckets streams the names of the buckets of a type that hold at least
// one object (or unreaped tombstone). Memory is proportional to the number
// of buckets, not of keys: each bucket is skipped over with one seek per
// partition. A listing whose ctx ends fails with ctx's error, as ListKeys.
func (s *Service) ListBuckets(ctx context.Context, typ string, emit func(buckets []string) error) error {
	if _, err := s.buckets.typeProps(typ); err != nil {
		return err
	}
	seen := map[string]bool{}
	var chunk []string
	note := func(b string) {
		if !seen[b] {
			seen[b] = true
			chunk = append(chunk, b)
		}
	}
	r := s.Ring()
	for p := range s.vnodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if owner := r.Owner(p); s.tr != nil && owner != s.cfg.Node {
			names, err := s.remoteList(ctx, wire.MsgKVListBuckets, owner, p, typ, "")
			if err != nil {
				return cmp.Or(ctx.Err(), err)
			}
			for _, b := range names {
				note(b)
			}
			continue
		}
		if err := s.partitionBuckets(ctx, p, typ, note); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sort.Strings(chunk)
	for len(chunk) > 0 {
		n := min(len(chunk), listChunk)
		if err := emit(chunk[:n]); err != nil {
			return err
		}
		chunk = chunk[n:]
	}
	return nil
}

// IndexQuery is a secondary-index query.
type IndexQuery struct {
	Type, Bucket string
	// Field is a lower-case name_bin / name_int field, $bucket or $key.
	Field string
	// Start and End bound a range query (inclusive); an exact match has
	// End == Start.
	Start, End string
	// Range marks a range query (for return_terms).
	Range bool
	// ReturnTerms asks for (term, key) pairs.
	ReturnTerms bool
	// MaxResults bounds the page (0: all).
	MaxResults int
	// Continuation resumes after the last result of a previous page.
	Continuation string
	// TermRegex filters _bin terms.
	TermRegex *regexp.Regexp
}

// IndexResult is one index match.
type IndexResult struct {
	Term string
	Key  string
}

// indexScan is one partition's cursor of a query, ordered by suffix.
type indexScan struct {
	it     storage.Iterator
	p      int    // partition
	suffix []byte // encoded term + key (or key, for $bucket/$key)
}

type scanHeap []*indexScan

func (h scanHeap) Len() int           { return len(h) }
func (h scanHeap) Less(i, j int) bool { return bytes.Compare(h[i].suffix, h[j].suffix) < 0 }
func (h scanHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *scanHeap) Push(x any)        { *h = append(*h, x.(*indexScan)) }
func (h *scanHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Query runs a secondary-index query and streams results in (term, key)
// order, as Riak sorts paginated results. It returns the continuation of
// the next page whenever the page holds MaxResults results, even if no more
// exist (Riak's rule), and "" otherwise.
func (s *Service) Query(ctx context.Context, q IndexQuery, emit func([]IndexResult) error) (string, error) {
	if _, err := s.buckets.typeProps(q.Type); err != nil {
		return "", err
	}
	space := storage.SpaceIndex
	var prefix, lo, hi []byte
	var err error
	switch q.Field {
	case "$bucket":
		space = storage.SpaceData
		prefix = appendBucketPrefix(nil, q.Type, q.Bucket)
		lo, hi = prefix, prefixEnd(prefix)
	case "$key":
		space = storage.SpaceData
		prefix = appendBucketPrefix(nil, q.Type, q.Bucket)
		lo = append(bytes.Clone(prefix), q.Start...)
		hi = append(append(bytes.Clone(prefix), q.End...), 0)
	default:
		if !isIntField(q.Field) && !bytesHasSuffix(q.Field, "_bin") {
			return "", fmt.Errorf("%w: {unknown_field_type,<<\"%s\">>}", ErrBadIndex, q.Field)
		}
		prefix = appendIndexPrefix(nil, q.Type, q.Bucket, q.Field)
		if lo, err = appendTerm(bytes.Clone(prefix), q.Field, q.Start); err != nil {
			return "", fmt.Errorf("%w: {field_parsing_failed,{<<\"%s\">>,<<\"%s\">>}}", ErrBadIndex, q.Field, q.Start)
		}
		if isIntField(q.Field) {
			lo = lo[:len(prefix)+8]
			end, err := appendTerm(bytes.Clone(prefix), q.Field, q.End)
			if err != nil {
				return "", fmt.Errorf("%w: {field_parsing_failed,{<<\"%s\">>,<<\"%s\">>}}", ErrBadIndex, q.Field, q.End)
			}
			hi = prefixEnd(end)
		} else {
			lo = lo[:len(lo)-2] // the term without its terminator
			end, _ := appendTerm(bytes.Clone(prefix), q.Field, q.End)
			hi = append(end[:len(end)-1], 2) // past every key of term End
		}
	}
	if q.Continuation != "" {
		after, err := base64.StdEncoding.DecodeString(q.Continuation)
		if err != nil || len(after) == 0 {
			return "", fmt.Errorf("%w: invalid continuation %q", ErrBadIndex, q.Continuation)
		}
		start := append(append(bytes.Clone(prefix), after...), 0) // strictly after the last result
		if bytes.Compare(start, lo) > 0 {
			lo = start
		}
	}
	if bytes.Compare(lo, hi) >= 0 {
		return "", nil
	}
	h := &scanHeap{}
	defer func() {
		for _, sc := range *h {
			sc.it.Close()
		}
	}()
	// next moves sc to its next entry whose key belongs to sc's partition.
	next := func(sc *indexScan) (bool, error) {
		for sc.it.Next() {
			suffix := sc.it.Key()[len(prefix):]
			key := suffix
			if space == storage.SpaceIndex {
				_, k, err := decodeTerm(q.Field, suffix)
				if err != nil {
					continue
				}
				key = []byte(k)
			}
			if !s.primaryOf(sc.p, q.Type, q.Bucket, key) {
				continue
			}
			sc.suffix = append(sc.suffix[:0], suffix...)
			return true, nil
		}
		return false, sc.it.Err()
	}
	for p := range s.vnodes {
		v := s.Vnode(p)
		if v == nil {
			continue
		}
		it, err := s.cfg.Engine.NewIterator(space, storage.Partition(p), lo, hi)
		if err != nil {
			return "", err
		}
		sc := &indexScan{it: it, p: p}
		ok, err := next(sc)
		if !ok {
			it.Close()
			if err != nil {
				return "", err
			}
			continue
		}
		heap.Push(h, sc)
	}
	var (
		chunk []IndexResult
		count int
		last  []byte
	)
	for h.Len() > 0 {
		if q.MaxResults > 0 && count == q.MaxResults {
			break // the page is full
		}
		sc := (*h)[0]
		var r IndexResult
		if space == storage.SpaceIndex {
			term, key, _ := decodeTerm(q.Field, sc.suffix)
			r = IndexResult{Term: term, Key: key}
		} else {
			r = IndexResult{Term: string(sc.suffix), Key: string(sc.suffix)}
		}
		if q.TermRegex == nil || q.TermRegex.MatchString(r.Term) {
			chunk = append(chunk, r)
			count++
			last = append(last[:0], sc.suffix...)
			if len(chunk) == listChunk {
				if err := ctx.Err(); err != nil {
					return "", err
				}
				if err := emit(chunk); err != nil {
					return "", err
				}
				chunk = nil
			}
		}
		ok, err := next(sc)
		if err != nil {
			return "", err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
			sc.it.Close()
		}
	}
	if q.MaxResults > 0 && count == q.MaxResults {
		// A full page carries a continuation even when nothing follows,
		// as Riak's make_continuation does; the next page is then empty.
		return base64.StdEncoding.EncodeToString(last), flush(emit, chunk)
	}
	return "", flush(emit, chunk)
}

func flush(emit func([]IndexResult) error, chunk []IndexResult) error {
	if len(chunk) == 0 {
		return nil
	}
	return emit(chunk)
}

func bytesHasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}
