package kv

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
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
// n_val. It holds a few chunks in memory at a time. Keys whose tombstone
// has not been reaped are listed, as in Riak.
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
	return cov.stream(func(items [][]byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		// A new slice per chunk: emit may keep the one it was given.
		keys := make([]string, len(items))
		for i, k := range items {
			keys[i] = string(k)
		}
		return emit(keys)
	})
}

// ListBuckets streams the names of the buckets of a type that hold at least
// one object (or unreaped tombstone), sorted, each once. It reads every up
// primary vnode, and fails unless a coverage plan exists at the smallest
// n_val a bucket of the type may have (buckets.listNVal); each vnode skips
// over a bucket with one seek, and a merge of their replies (in storage
// order, where a name reported by several vnodes comes up together) drops
// the duplicates. Storage orders names by length
// first, so the names are gathered and sorted before they are emitted:
// memory is proportional to the number of buckets, not of keys.
func (s *Service) ListBuckets(ctx context.Context, typ string, emit func(buckets []string) error) error {
	n, err := s.buckets.listNVal(typ)
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
// the continuation of the next page when MaxResults cut the results short
// (empty otherwise). The continuation is the last result's encoded term
// and key, so a page continues the same way through any node.
func (s *Service) Query(ctx context.Context, q IndexQuery, emit func([]IndexResult) error) (string, error) {
	if _, err := s.buckets.typeProps(q.Type); err != nil {
		return "", err
	}
	var prefix, lo, hi []byte
	var err error
	switch q.Field {
	case "$bucket":
		prefix = appendBucketPrefix(nil, q.Type, q.Bucket)
		lo, hi = prefix, prefixEnd(prefix)
	case "$key":
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
	var after []byte
	if q.Continuation != "" {
		after, err = base64.StdEncoding.DecodeString(q.Continuation)
		if err != nil || len(after) == 0 {
			return "", fmt.Errorf("%w: invalid continuation %q", ErrBadIndex, q.Continuation)
		}
		if start := append(append(bytes.Clone(prefix), after...), 0); bytes.Compare(start, lo) > 0 {
			lo = start // strictly after the last result
		}
	}
	if hi != nil && bytes.Compare(lo, hi) >= 0 {
		return "", nil
	}
	props, err := s.buckets.props(q.Type, q.Bucket)
	if err != nil {
		return "", err
	}
	req := covReq{Kind: covIndex, Type: q.Type, Bucket: q.Bucket, Field: q.Field, Lo: lo[len(prefix):], After: after}
	if hi != nil && bytes.HasPrefix(hi, prefix) { // else the scan runs to the prefix's end
		req.Hi, req.HiSet = hi[len(prefix):], true
	}
	if q.TermRegex != nil {
		req.Regex = q.TermRegex.String()
	}
	cov, err := s.newCoverage(ctx, props.NVal, req)
	if err != nil {
		return "", err
	}
	defer cov.close()
	var (
		chunk []IndexResult
		count int
		last  []byte
	)
	// Each vnode is asked for no more than the page can still use (and
	// one more, to know whether another page follows).
	batch := func() int {
		if q.MaxResults > 0 {
			return min(covBatch, q.MaxResults-count+1)
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
		if q.MaxResults > 0 && count == q.MaxResults {
			// The page cut: a page is full and at least one more result
			// exists.
			return base64.StdEncoding.EncodeToString(last), flush(emit, chunk)
		}
		r := IndexResult{Term: string(suffix), Key: string(suffix)}
		if req.Field != "$bucket" && req.Field != "$key" {
			term, key, err := decodeTerm(q.Field, suffix)
			if err != nil {
				return "", err
			}
			r = IndexResult{Term: term, Key: key}
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
		if err := m.pop(); err != nil {
			return "", err
		}
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
