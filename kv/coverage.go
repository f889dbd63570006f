package kv

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"regexp"
	"sync"

	"github.com/riakgo/riakgo/internal/clock"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv/storage"
	"github.com/riakgo/riakgo/ring"
)

// Coverage queries. Key listing, bucket listing and secondary-index
// queries must see every key once. They run on a coverage plan
// (ring.Coverage): the fewest up primary vnodes that between them hold a
// replica of every key, each answering only for the keys whose home
// partition is one of its filter's (Homes). The node that takes the query
// plans it, reads its own planned vnodes directly and the others through
// the transport (MsgKVCoverage), and merges: index results and bucket
// names in order (a k-way merge), keys as they come.
//
// A coverage request is stateless and cursor-paged: it names the vnode,
// the filter, the query and a cursor (After), and the vnode answers with at
// most Limit items (≤ covBatch) strictly after the cursor, in storage
// order, and a new cursor. The invariant of a reply: every match in
// (After, Next] is among Items; with Done, every match after After is.
// So no reply is unbounded, no vnode keeps state between requests, and a
// page of a paginated 2i query asks each vnode only for what the page can
// use.
//
// If no plan exists (some home partition has all its primaries down) or a
// planned vnode fails, the query fails with ErrInsufficientVnodes: a
// partial answer would look complete.

// ErrInsufficientVnodes: a coverage query (listing, 2i) cannot reach a
// vnode for every partition (Riak's insufficient_vnodes_available). It is
// ring.ErrInsufficientVnodes, which plan errors wrap.
var ErrInsufficientVnodes = ring.ErrInsufficientVnodes

// What a coverage request reads.
const (
	covKeys    uint8 = 1 // the keys of a bucket (data space)
	covBuckets uint8 = 2 // the buckets of a type (data space), unfiltered
	covIndex   uint8 = 3 // entries of a field (index space), or $bucket / $key over the data space
)

const (
	// covBatch bounds the items of one coverage reply.
	covBatch = 1000
	// covScanBudget bounds the entries one request examines, so that a
	// filter that rejects most of them (another home partition,
	// term_regex) still answers soon, with a cursor.
	covScanBudget = 16 * covBatch
	// covMaxHops bounds how often a request is forwarded (a vnode that
	// handed its partition off, a ring view behind the sender's).
	covMaxHops = 2
	// covParallel bounds the vnodes a query asks at once.
	covParallel = 16
)

// covReq is the body of MsgKVCoverage.
type covReq struct {
	Partition int `msgpack:"p"`
	// Homes are the home partitions the vnode answers for (keys and
	// index kinds); a key of another home partition is skipped.
	Homes []int  `msgpack:"h,omitempty"`
	Kind  uint8  `msgpack:"k"`
	Type  string `msgpack:"t"`
	// Bucket is the bucket of covKeys and covIndex; Field the index field
	// of covIndex ($bucket and $key read the data space).
	Bucket string `msgpack:"b,omitempty"`
	Field  string `msgpack:"f,omitempty"`
	// Lo and Hi bound the entries' suffixes (after the bucket or field
	// prefix): Lo inclusive, Hi exclusive when HiSet (else the prefix's
	// end).
	Lo    []byte `msgpack:"lo,omitempty"`
	Hi    []byte `msgpack:"hi,omitempty"`
	HiSet bool   `msgpack:"hs,omitempty"`
	// After is the cursor: only suffixes strictly after it (nil: from Lo).
	// For covBuckets the suffix is the length-prefixed bucket name.
	After []byte `msgpack:"a,omitempty"`
	// Limit is the most items to return (clamped to 1..covBatch).
	Limit int `msgpack:"l"`
	// Regex filters index terms (term_regex).
	Regex string `msgpack:"re,omitempty"`
	// Hops counts forwards.
	Hops int `msgpack:"hop,omitempty"`
}

// covResp answers a coverage request.
type covResp struct {
	// Items are suffixes in increasing order, all after the request's
	// After: keys (covKeys), length-prefixed bucket names (covBuckets),
	// encoded term+key or keys (covIndex).
	Items [][]byte `msgpack:"i"`
	// Next is the cursor of the next request unless Done.
	Next []byte `msgpack:"n,omitempty"`
	Done bool   `msgpack:"d,omitempty"`
}

// serveCoverage answers a coverage request for one of this node's vnodes:
// MsgKVCoverage's handler, and the path of the planned vnodes that are
// local. A vnode that forwards (its partition is moving to another node)
// answers with the union of its own data and the new owner's, until it
// drops the partition: the new owner may still lack the keys written
// during the transfer's fold. A partition dropped here, or one this node
// neither holds nor owns, goes to its new owner.
func (s *Service) serveCoverage(ctx context.Context, req *covReq) (covResp, error) {
	p := req.Partition
	if p < 0 || p >= len(s.vnodes) {
		return covResp{}, fmt.Errorf("riakgo/kv: coverage of partition %d: no such partition", p)
	}
	canForward := s.tr != nil && req.Hops < covMaxHops
	if v := s.Vnode(p); v != nil {
		if to, fwd := v.forwarding(); fwd && canForward && to != s.cfg.Node {
			local, err := s.scanCoverage(req)
			if err != nil {
				return covResp{}, err
			}
			fw := *req
			fw.Hops++
			remote, err := s.callCoverage(ctx, to, &fw)
			if err != nil {
				return covResp{}, err
			}
			return unionCoverage(local, remote, clampLimit(req.Limit)), nil
		}
		return s.scanCoverage(req)
	}
	to := ring.NodeID("")
	if f := s.fwd[p].Load(); f != nil {
		to = *f
	} else if owner := s.Ring().Owner(p); owner != s.cfg.Node {
		to = owner
	}
	switch {
	case to == "" || to == s.cfg.Node || s.tr == nil:
		// Owned here and never written: nothing stored.
		return s.scanCoverage(req)
	case !canForward:
		return covResp{}, fmt.Errorf("riakgo/kv: coverage of partition %d: not held by %s (forwarded %d times)", p, s.cfg.Node, req.Hops)
	}
	fw := *req
	fw.Hops++
	return s.callCoverage(ctx, to, &fw)
}

// callCoverage sends a coverage request to node and returns its reply.
func (s *Service) callCoverage(ctx context.Context, node ring.NodeID, req *covReq) (covResp, error) {
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	var resp covResp
	if err := s.tr.Call(cctx, node, wire.MsgKVCoverage, req, &resp); err != nil {
		return covResp{}, err
	}
	return resp, nil
}

// callContext bounds a call to another node by the service's timeout, on
// the service's clock (a test clock ends it only when the test says so).
func (s *Service) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return clock.WithTimeout(ctx, s.cfg.Clock, s.cfg.Timeout)
}

func clampLimit(n int) int { return min(max(n, 1), covBatch) }

// unionCoverage merges the replies of two vnodes to the same request (a
// forwarding vnode and its partition's new owner) into one that keeps the
// reply invariant: items up to the smaller cursor of the unfinished ones,
// duplicates once, at most limit.
func unionCoverage(a, b covResp, limit int) covResp {
	var bound []byte
	for _, r := range []covResp{a, b} {
		if !r.Done && (bound == nil || bytes.Compare(r.Next, bound) < 0) {
			bound = r.Next
		}
	}
	var out covResp
	i, j := 0, 0
	for i < len(a.Items) || j < len(b.Items) {
		var x []byte
		switch {
		case j == len(b.Items) || i < len(a.Items) && bytes.Compare(a.Items[i], b.Items[j]) < 0:
			x = a.Items[i]
			i++
		case i == len(a.Items) || bytes.Compare(a.Items[i], b.Items[j]) > 0:
			x = b.Items[j]
			j++
		default: // on both
			x = a.Items[i]
			i++
			j++
		}
		if bound != nil && bytes.Compare(x, bound) > 0 {
			break
		}
		if len(out.Items) == limit {
			out.Next = out.Items[limit-1]
			return out
		}
		out.Items = append(out.Items, x)
	}
	if bound == nil {
		out.Done = true
	} else {
		out.Next = bound
	}
	return out
}

// covRange returns the storage space, the prefix of every entry the
// request may read, and the bounds of its scan.
func (s *Service) covRange(req *covReq) (space storage.Space, prefix, lo, hi []byte) {
	space = storage.SpaceData
	if req.Kind == covIndex && req.Field != "$bucket" && req.Field != "$key" {
		space = storage.SpaceIndex
		prefix = appendIndexPrefix(nil, req.Type, req.Bucket, req.Field)
	} else {
		prefix = appendBucketPrefix(nil, req.Type, req.Bucket)
	}
	lo = append(bytes.Clone(prefix), req.Lo...)
	if req.After != nil {
		if a := append(append(bytes.Clone(prefix), req.After...), 0); bytes.Compare(a, lo) > 0 {
			lo = a
		}
	}
	hi = prefixEnd(prefix)
	if req.HiSet {
		hi = append(bytes.Clone(prefix), req.Hi...)
	}
	return space, prefix, lo, hi
}

// scanCoverage reads one page of a coverage request from this node's
// storage of the partition.
func (s *Service) scanCoverage(req *covReq) (covResp, error) {
	return s.scanPage(req, clampLimit(req.Limit), covScanBudget)
}

// scanPage reads at most limit matching items, examining at most budget
// entries.
func (s *Service) scanPage(req *covReq, limit, budget int) (covResp, error) {
	if req.Kind == covBuckets {
		return s.scanBuckets(req, limit)
	}
	if req.Kind != covKeys && req.Kind != covIndex {
		return covResp{}, fmt.Errorf("riakgo/kv: coverage request of unknown kind %d", req.Kind)
	}
	var re *regexp.Regexp
	if req.Regex != "" {
		var err error
		if re, err = regexp.Compile(req.Regex); err != nil {
			return covResp{}, UserErrorf(ErrBadIndex, "term_regex %q: %v", req.Regex, err)
		}
	}
	r := s.Ring()
	home := make([]bool, r.Size())
	for _, h := range req.Homes {
		if h < 0 || h >= len(home) {
			return covResp{}, fmt.Errorf("riakgo/kv: coverage filter names partition %d of a ring of %d", h, len(home))
		}
		home[h] = true
	}
	space, prefix, lo, hi := s.covRange(req)
	if hi != nil && bytes.Compare(lo, hi) >= 0 {
		return covResp{Done: true}, nil
	}
	it, err := s.cfg.Engine.NewIterator(space, storage.Partition(req.Partition), lo, hi)
	if err != nil {
		return covResp{}, err
	}
	defer it.Close()
	var out covResp
	isIndex := space == storage.SpaceIndex
	for scanned := 1; it.Next(); scanned++ {
		suffix := it.Key()[len(prefix):]
		key, term := suffix, suffix
		ok := true
		if isIndex {
			t, k, err := decodeTerm(req.Field, suffix)
			ok = err == nil
			key, term = []byte(k), []byte(t)
		}
		ok = ok && home[r.Partition(ring.KeyHash(req.Type, req.Bucket, string(key)))]
		if ok && re != nil {
			ok = re.Match(term)
		}
		if ok {
			out.Items = append(out.Items, bytes.Clone(suffix))
			if len(out.Items) == limit {
				out.Next = out.Items[limit-1]
				return out, it.Err()
			}
		}
		if scanned == budget {
			out.Next = bytes.Clone(suffix)
			return out, it.Err()
		}
	}
	if err := it.Err(); err != nil {
		return covResp{}, err
	}
	out.Done = true
	return out, nil
}

// scanBuckets reads the buckets of a type that have at least one object
// (or unreaped tombstone) in the partition, after the cursor: one seek per
// bucket. An item is a bucket's length-prefixed name, the storage order.
func (s *Service) scanBuckets(req *covReq, limit int) (covResp, error) {
	tprefix := binary.AppendUvarint(nil, uint64(len(req.Type)))
	tprefix = append(tprefix, req.Type...)
	lo, hi := tprefix, prefixEnd(tprefix)
	if req.After != nil {
		if lo = prefixEnd(append(bytes.Clone(tprefix), req.After...)); lo == nil {
			return covResp{Done: true}, nil
		}
	}
	var out covResp
	for hi == nil || bytes.Compare(lo, hi) < 0 {
		it, err := s.cfg.Engine.NewIterator(storage.SpaceData, storage.Partition(req.Partition), lo, hi)
		if err != nil {
			return covResp{}, err
		}
		var item []byte
		if it.Next() {
			rest := it.Key()[len(tprefix):]
			if n, k := binary.Uvarint(rest); k > 0 && uint64(len(rest)-k) >= n {
				item = bytes.Clone(rest[:k+int(n)])
			}
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return covResp{}, err
		}
		if item == nil {
			break
		}
		out.Items = append(out.Items, item)
		if len(out.Items) == limit {
			out.Next = item
			return out, nil
		}
		if lo = prefixEnd(append(bytes.Clone(tprefix), item...)); lo == nil {
			break
		}
	}
	out.Done = true
	return out, nil
}

// bucketName decodes a covBuckets item.
func bucketName(item []byte) string {
	n, k := binary.Uvarint(item)
	if k <= 0 || uint64(len(item)-k) < n {
		return ""
	}
	return string(item[k : k+int(n)])
}

// coverage is one coverage query being run: a source per planned vnode.
type coverage struct {
	s      *Service
	parent context.Context // the caller's
	ctx    context.Context // parent's child, cancelled on the first failure
	cancel context.CancelFunc
	srcs   []*covSource
}

// covSource is one planned vnode: its request (whose After is the cursor)
// and the items of its last reply not yet consumed.
type covSource struct {
	node  ring.NodeID
	req   covReq
	items [][]byte
	done  bool
}

// newCoverage plans a query at n_val n. tmpl is the request every vnode
// gets, with its own partition and filter. A bucket listing (covBuckets)
// reads every up primary instead, as Riak's does (its plan is n_val 1 over
// the up vnodes): a bucket whose n_val is smaller than any this node knows
// is still found where one of its replicas is up. The plan at n still
// decides whether the answer can be complete.
func (s *Service) newCoverage(ctx context.Context, n int, tmpl covReq) (*coverage, error) {
	if err := s.refuse(); err != nil {
		return nil, err
	}
	r := s.Ring()
	plan, err := ring.Coverage(r, n, s.cfg.Up, s.cfg.Rand())
	if err != nil {
		return nil, err
	}
	if tmpl.Kind == covBuckets {
		plan = plan[:0]
		for p := range r.Size() {
			if owner := r.Owner(p); s.cfg.Up == nil || s.cfg.Up(owner) {
				plan = append(plan, ring.CoverageEntry{Partition: p, Node: owner})
			}
		}
	}
	c := &coverage{s: s, parent: ctx}
	c.ctx, c.cancel = context.WithCancel(ctx)
	for _, e := range plan {
		req := tmpl
		req.Partition = e.Partition
		req.Homes = e.Homes
		c.srcs = append(c.srcs, &covSource{node: e.Node, req: req})
	}
	return c, nil
}

func (c *coverage) close() { c.cancel() }

// fetch replaces src's items with its vnode's next batch of at most limit
// items; it asks again while the vnode returns none but is not done.
func (c *coverage) fetch(src *covSource, limit int) error {
	for {
		// A query whose deadline passed stops with it, even between
		// local batches (Riak's {error,timeout}). The caller's ctx is
		// asked first: its Err is the truth, whatever reached the
		// derived one.
		if err := cmp.Or(c.parent.Err(), c.ctx.Err()); err != nil {
			return err
		}
		req := src.req
		req.Limit = limit
		var resp covResp
		var err error
		if src.node == c.s.cfg.Node || c.s.tr == nil {
			resp, err = c.s.serveCoverage(c.ctx, &req)
		} else {
			resp, err = c.s.callCoverage(c.ctx, src.node, &req)
		}
		if err != nil {
			if cerr := c.ctx.Err(); cerr != nil {
				return cerr
			}
			return UserErrorf(ErrInsufficientVnodes, "vnode %d on %s failed, so the answer would be incomplete: %v", req.Partition, src.node, err)
		}
		if !resp.Done && (len(resp.Next) == 0 || req.After != nil && bytes.Compare(resp.Next, req.After) <= 0) {
			return UserErrorf(ErrInsufficientVnodes, "vnode %d on %s answered without progress", req.Partition, src.node)
		}
		src.items, src.done = resp.Items, resp.Done
		src.req.After = resp.Next
		if len(src.items) > 0 || src.done {
			return nil
		}
	}
}

// fetchAll fetches the first batch of every source, covParallel at a
// time; the first failure cancels the rest.
func (c *coverage) fetchAll(limit int) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, covParallel)
	)
	for _, src := range c.srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if c.ctx.Err() != nil {
				return
			}
			if err := c.fetch(src, limit); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					c.cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = c.ctx.Err()
	}
	return first
}

// stream pages through every source, covParallel at a time, and hands
// each non-empty batch to emit as it comes (no order across vnodes). It
// returns when every source is done or on the first error (of a vnode or
// of emit), once its goroutines have stopped.
func (c *coverage) stream(emit func([][]byte) error) error {
	work := make(chan *covSource, len(c.srcs))
	for _, src := range c.srcs {
		work <- src
	}
	close(work)
	batches := make(chan [][]byte, covParallel)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
			c.cancel()
		}
		mu.Unlock()
	}
	for range min(len(c.srcs), covParallel) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for src := range work {
				for !src.done {
					if err := c.fetch(src, covBatch); err != nil {
						fail(err)
						return
					}
					if len(src.items) == 0 {
						continue
					}
					select {
					case batches <- src.items:
					case <-c.ctx.Done():
						return
					}
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(batches)
	}()
	for b := range batches {
		if err := emit(b); err != nil {
			fail(err)
			break
		}
	}
	for range batches { // the workers stop on the cancel
	}
	if first == nil {
		first = c.ctx.Err()
	}
	return first
}

// merged returns the sources' items as one increasing sequence. limit
// gives the batch size of each fetch (it may shrink as a page fills).
func (c *coverage) merged(limit func() int) (*covMerge, error) {
	if err := c.fetchAll(limit()); err != nil {
		return nil, err
	}
	m := &covMerge{c: c, limit: limit}
	for _, src := range c.srcs {
		if len(src.items) > 0 {
			m.h = append(m.h, src)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

// covMerge is a k-way merge of the sources' items. Every source in the
// heap holds at least one item, and a source leaves the heap only when it
// is done, so the heap's top is the smallest item not yet consumed.
type covMerge struct {
	c     *coverage
	h     covHeap
	limit func() int
}

// peek returns the smallest item left (nil, false at the end).
func (m *covMerge) peek() ([]byte, bool) {
	if len(m.h) == 0 {
		return nil, false
	}
	return m.h[0].items[0], true
}

// pop consumes the smallest item, fetching its source's next batch when
// it runs out.
func (m *covMerge) pop() error {
	src := m.h[0]
	src.items = src.items[1:]
	if len(src.items) == 0 && !src.done {
		if err := m.c.fetch(src, m.limit()); err != nil {
			return err
		}
	}
	if len(src.items) == 0 {
		heap.Pop(&m.h)
	} else {
		heap.Fix(&m.h, 0)
	}
	return nil
}

type covHeap []*covSource

func (h covHeap) Len() int           { return len(h) }
func (h covHeap) Less(i, j int) bool { return bytes.Compare(h[i].items[0], h[j].items[0]) < 0 }
func (h covHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *covHeap) Push(x any)        { *h = append(*h, x.(*covSource)) }
func (h *covHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
