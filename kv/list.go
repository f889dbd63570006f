package kv

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"regexp"
	"slices"
)

// Listing and secondary indexes run on a coverage plan (coverage.go):
// each object is stored on N consecutive partitions from its home
// partition, and each planned vnode reports only the keys whose home
// partition is one of those it answers for, so every key is reported once
// whatever the bucket's n_val.

// listChunk is how many names a listing emits at a time.
const listChunk = 1000

// appendBucketPrefix appends the storage-key prefix of a bucket's objects.
func appendBucketPrefix(dst []byte, typ, bucket string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(typ)))
	dst = append(dst, typ...)
	dst = binary.AppendUvarint(dst, uint64(len(bucket)))
	return append(dst, bucket...)
}

// ListKeys streams the keys of a bucket to emit in chunks of at most
// listChunk, in no particular order, from a coverage plan at the bucket's
// n_val. Keys whose tombstone has not been reaped are listed, as in Riak.
// The vnodes' batches are gathered into chunks of listChunk, so memory is a
// chunk plus the batches in flight. A listing whose ctx ends (its timeout)
// stops at the next batch with ctx's error, never emitting the rest: a
// listing that did not finish in time fails, as Riak's {error,timeout}.
func (s *Service) ListKeys(ctx context.Context, typ, bucket string, emit func(keys []string) error) error {
	if _, err := s.buckets.typeProps(typ); err != nil {
		return err
	}
	props, err := s.buckets.props(typ, bucket)
	if err != nil {
		return err
	}
	cov, err := s.newCoverage(ctx, props.NVal, covReq{Kind: covKeys, Type: typ, Bucket: bucket})
	if err != nil {
		return err
	}
	defer cov.close()
	chunk := make([]string, 0, listChunk)
	err = cov.stream(func(items [][]byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, k := range items {
			chunk = append(chunk, string(k))
			if len(chunk) == listChunk {
				if err := emit(chunk); err != nil {
					return err
				}
				// A new chunk: emit may keep the one it was given.
				chunk = make([]string, 0, listChunk)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // not finished in time: the rest is not emitted
	}
	if len(chunk) > 0 {
		return emit(chunk)
	}
	return nil
}

// ListBuckets streams the names of the buckets of a type that hold at least
// one object (or unreaped tombstone), sorted, each once. It reads every up
// primary vnode, and fails unless a coverage plan exists at the smallest
// n_val a bucket of the type may have (buckets.minNVal: a bucket with a
// smaller n_val has fewer replicas to be found on); each vnode skips
// over a bucket with one seek, and a merge of their replies (in storage
// order, where a name reported by several vnodes comes up together) drops
// the duplicates. Storage orders names by length first, so the names are
// gathered and sorted before they are emitted: memory is proportional to
// the number of buckets, not of keys. A listing whose ctx ends fails with
// ctx's error, as ListKeys.
func (s *Service) ListBuckets(ctx context.Context, typ string, emit func(buckets []string) error) error {
	n, err := s.buckets.minNVal(typ)
	if err != nil {
		return err
	}
	cov, err := s.newCoverage(ctx, n, covReq{Kind: covBuckets, Type: typ})
	if err != nil {
		return err
	}
	defer cov.close()
	m, err := cov.merged(func() int { return covBatch })
	if err != nil {
		return err
	}
	var names []string
	var last []byte
	for {
		item, ok := m.peek()
		if !ok {
			break
		}
		if last == nil || !bytes.Equal(item, last) {
			names = append(names, bucketName(item))
			last = item
		}
		if err := m.pop(); err != nil {
			return err
		}
		if len(names)%listChunk == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err // not finished in time: nothing is emitted
	}
	slices.Sort(names)
	for len(names) > 0 {
		n := min(len(names), listChunk)
		if err := emit(names[:n]); err != nil {
			return err
		}
		names = names[n:]
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

// Query runs a secondary-index query on a coverage plan at the bucket's
// n_val and streams results in (term, key) order, as Riak sorts paginated
// results: a k-way merge of the planned vnodes' sorted entries. It returns
// the continuation of the next page whenever the page holds MaxResults
// results, even if no more exist (Riak's rule), and "" otherwise. The
// continuation is the last result's encoded term and key, so a page
// continues the same way through any node.
func (s *Service) Query(ctx context.Context, q IndexQuery, emit func([]IndexResult) error) (string, error) {
	if _, err := s.buckets.typeProps(q.Type); err != nil {
		return "", err
	}
	r, err := indexRange(q)
	if err != nil {
		return "", err
	}
	if r.hi != nil && bytes.Compare(r.lo, r.hi) >= 0 {
		return "", nil
	}
	props, err := s.buckets.props(q.Type, q.Bucket)
	if err != nil {
		return "", err
	}
	cov, err := s.newCoverage(ctx, props.NVal, r.request(q))
	if err != nil {
		return "", err
	}
	defer cov.close()
	return mergeIndexPage(ctx, cov, q, emit)
}

// indexScan is the part of the index space a query reads: entries under
// prefix (the bucket's keys, or the field's entries), from lo, below hi
// (nil: to the prefix's end), strictly after after (a continuation).
type indexScan struct {
	prefix, lo, hi, after []byte
}

// indexRange turns a query's field, range and continuation into the
// storage range it scans. Its errors are Riak's texts for a bad query.
func indexRange(q IndexQuery) (indexScan, error) {
	var r indexScan
	switch q.Field {
	case "$bucket":
		r.prefix = appendBucketPrefix(nil, q.Type, q.Bucket)
		r.lo, r.hi = r.prefix, prefixEnd(r.prefix)
	case "$key":
		r.prefix = appendBucketPrefix(nil, q.Type, q.Bucket)
		r.lo = append(bytes.Clone(r.prefix), q.Start...)
		r.hi = append(append(bytes.Clone(r.prefix), q.End...), 0)
	default:
		if !isIntField(q.Field) && !bytesHasSuffix(q.Field, "_bin") {
			return r, UserErrorf(ErrBadIndex, "{unknown_field_type,<<\"%s\">>}", q.Field)
		}
		r.prefix = appendIndexPrefix(nil, q.Type, q.Bucket, q.Field)
		lo, err := appendTerm(bytes.Clone(r.prefix), q.Field, q.Start)
		if err != nil {
			return r, UserErrorf(ErrBadIndex, "{field_parsing_failed,{<<\"%s\">>,<<\"%s\">>}}", q.Field, q.Start)
		}
		if isIntField(q.Field) {
			r.lo = lo[:len(r.prefix)+8]
			end, err := appendTerm(bytes.Clone(r.prefix), q.Field, q.End)
			if err != nil {
				return r, UserErrorf(ErrBadIndex, "{field_parsing_failed,{<<\"%s\">>,<<\"%s\">>}}", q.Field, q.End)
			}
			r.hi = prefixEnd(end)
		} else {
			r.lo = lo[:len(lo)-2] // the term without its terminator
			end, _ := appendTerm(bytes.Clone(r.prefix), q.Field, q.End)
			r.hi = append(end[:len(end)-1], 2) // past every key of term End
		}
	}
	if q.Continuation != "" {
		after, err := base64.StdEncoding.DecodeString(q.Continuation)
		if err != nil || len(after) == 0 {
			return r, UserErrorf(ErrBadContinuation, "%q", q.Continuation)
		}
		r.after = after
		if start := append(append(bytes.Clone(r.prefix), after...), 0); bytes.Compare(start, r.lo) > 0 {
			r.lo = start // strictly after the last result
		}
	}
	return r, nil
}

// request is the coverage request that scans r for q on each vnode.
func (r indexScan) request(q IndexQuery) covReq {
	req := covReq{Kind: covIndex, Type: q.Type, Bucket: q.Bucket, Field: q.Field, Lo: r.lo[len(r.prefix):], After: r.after}
	if r.hi != nil && bytes.HasPrefix(r.hi, r.prefix) { // else the scan runs to the prefix's end
		req.Hi, req.HiSet = r.hi[len(r.prefix):], true
	}
	if q.TermRegex != nil {
		req.Regex = q.TermRegex.String()
	}
	return req
}

// mergeIndexPage merges the planned vnodes' sorted entries into one page of
// results, emitted in chunks, and returns the page's continuation.
func mergeIndexPage(ctx context.Context, cov *coverage, q IndexQuery, emit func([]IndexResult) error) (string, error) {
	var (
		chunk []IndexResult
		count int
		last  []byte
	)
	// Each vnode is asked for no more than the page can still use.
	batch := func() int {
		if q.MaxResults > 0 {
			return min(covBatch, q.MaxResults-count)
		}
		return covBatch
	}
	m, err := cov.merged(batch)
	if err != nil {
		return "", err
	}
	for {
		suffix, ok := m.peek()
		if !ok {
			break
		}
		r, err := indexResult(q.Field, suffix)
		if err != nil {
			return "", err
		}
		chunk = append(chunk, r)
		count++
		last = append(last[:0], suffix...)
		if len(chunk) == listChunk {
			if err := ctx.Err(); err != nil {
				return "", err
			}
			if err := emit(chunk); err != nil {
				return "", err
			}
			chunk = nil
		}
		if q.MaxResults > 0 && count == q.MaxResults {
			break // the page is full
		}
		if err := m.pop(); err != nil {
			return "", err
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err // not finished in time
	}
	if q.MaxResults > 0 && count == q.MaxResults {
		// The page cut. A full page carries a continuation even when
		// nothing follows, as Riak's make_continuation does; the next
		// page is then empty.
		return base64.StdEncoding.EncodeToString(last), flush(emit, chunk)
	}
	return "", flush(emit, chunk)
}

// indexResult decodes one entry (its suffix after the scan's prefix).
func indexResult(field string, suffix []byte) (IndexResult, error) {
	if field == "$bucket" || field == "$key" {
		return IndexResult{Term: string(suffix), Key: string(suffix)}, nil
	}
	term, key, err := decodeTerm(field, suffix)
	if err != nil {
		return IndexResult{}, err
	}
	return IndexResult{Term: term, Key: key}, nil
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
