package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Special index fields every bucket has.
const (
	FieldBucket = "$bucket" // every key of the bucket (Value is ignored)
	FieldKey    = "$key"    // a range of keys (Start, End)
)

// IndexQuery is a secondary-index query.
type IndexQuery struct {
	Type, Bucket string
	// Field is name_bin, name_int, FieldBucket or FieldKey.
	Field string
	// Value is the term of an exact-match query.
	Value string
	// Start and End bound a range query (both inclusive). The query is a
	// range query when either is set.
	Start, End string
	// ReturnTerms asks for (term, key) pairs; Riak honours it on range
	// queries over ordinary fields only.
	ReturnTerms bool
	// MaxResults is the page size; a full page carries a continuation.
	MaxResults int
	// Continuation resumes after the page that returned it.
	Continuation string
	// TermRegex filters the terms of a _bin range query.
	TermRegex string
	// Stream makes the server send results as they are found (multipart);
	// Query still returns them together, StreamQuery hands them over one
	// batch at a time.
	Stream bool
	// PaginationSort sorts results even without MaxResults.
	PaginationSort bool
	// Timeout is the server-side timeout (the server's default if zero).
	Timeout time.Duration
}

// IndexTerm is one (term, key) result of a ReturnTerms query.
type IndexTerm struct {
	Term, Key string
}

// IndexPage is the answer to a query, or one batch of a streamed one.
type IndexPage struct {
	// Keys are the matching keys in the server's order (possibly with
	// duplicates when an object has several matching terms). They are
	// also filled for ReturnTerms queries.
	Keys []string
	// Terms are the (term, key) pairs when the server returned terms.
	Terms []IndexTerm
	// Continuation fetches the next page. As in Riak, every page that holds
	// max_results results has one, even when nothing follows (the next page
	// is then empty); a page that is not full has none.
	Continuation string
}

func (q *IndexQuery) request(stream bool) (*request, error) {
	if q.Bucket == "" {
		return nil, fmt.Errorf("%w: the bucket name is empty", ErrInvalidArgument)
	}
	if q.Field == "" {
		return nil, fmt.Errorf("%w: the index field is empty", ErrInvalidArgument)
	}
	if q.MaxResults < 0 {
		return nil, fmt.Errorf("%w: negative MaxResults", ErrInvalidArgument)
	}
	path := bucketPath(q.Type, q.Bucket) + "/index/" + seg(q.Field) + "/"
	switch {
	case q.Start != "" || q.End != "":
		path += seg(q.Start) + "/" + seg(q.End)
	case q.Value != "":
		path += seg(q.Value)
	case q.Field == FieldBucket:
		path += "_"
	default:
		return nil, fmt.Errorf("%w: an index query needs a Value or a Start and End", ErrInvalidArgument)
	}
	v := url.Values{}
	if q.ReturnTerms {
		v.Set("return_terms", "true")
	}
	if q.MaxResults > 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	if q.Continuation != "" {
		v.Set("continuation", q.Continuation)
	}
	if q.TermRegex != "" {
		v.Set("term_regex", q.TermRegex)
	}
	if q.PaginationSort {
		v.Set("pagination_sort", "true")
	}
	if stream {
		v.Set("stream", "true")
	}
	if err := setTimeout(v, q.Timeout); err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Accept", "application/json, multipart/mixed")
	return &request{method: "GET", path: path, query: v, header: h}, nil
}

// indexBody is one JSON object of an index answer.
type indexBody struct {
	Keys         []string            `json:"keys"`
	Results      []map[string]string `json:"results"`
	Continuation string              `json:"continuation"`
	Error        json.RawMessage     `json:"error"`
}

func (b *indexBody) page() *IndexPage {
	p := &IndexPage{Keys: b.Keys, Continuation: b.Continuation}
	if b.Results != nil {
		p.Terms = make([]IndexTerm, 0, len(b.Results))
		p.Keys = make([]string, 0, len(b.Results))
		for _, m := range b.Results {
			for term, key := range m { // one member each
				p.Terms = append(p.Terms, IndexTerm{Term: term, Key: key})
				p.Keys = append(p.Keys, key)
			}
		}
	}
	return p
}

// Query runs a secondary-index query and returns its results (one page
// when MaxResults is set; see Pages to walk them all).
func (c *Client) Query(ctx context.Context, q IndexQuery) (*IndexPage, error) {
	if q.Stream {
		all := &IndexPage{}
		cont, err := c.StreamQuery(ctx, q, func(p *IndexPage) error {
			all.Keys = append(all.Keys, p.Keys...)
			if p.Terms != nil {
				all.Terms = append(all.Terms, p.Terms...)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		all.Continuation = cont
		return all, nil
	}
	r, err := q.request(false)
	if err != nil {
		return nil, err
	}
	rep, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if rep.status != http.StatusOK {
		return nil, r.fail(rep.status, rep.header, rep.body)
	}
	var b indexBody
	if err := json.Unmarshal(rep.body, &b); err != nil {
		return nil, fmt.Errorf("riakgo/client: %s %s: %w: %v", r.method, r.path, ErrBadResponse, err)
	}
	if len(b.Error) > 0 {
		return nil, fmt.Errorf("riakgo/client: %s %s: %w: %s", r.method, r.path, ErrStreamAborted, b.Error)
	}
	p := b.page()
	if p.Keys == nil {
		p.Keys = []string{}
	}
	return p, nil
}

// StreamQuery runs q with streaming and calls fn with each batch of
// results as it arrives (the batches carry no continuation). It returns
// the continuation of the next page, if the server sent one. An error
// from fn stops the query and is returned.
func (c *Client) StreamQuery(ctx context.Context, q IndexQuery, fn func(*IndexPage) error) (string, error) {
	if fn == nil {
		return "", fmt.Errorf("%w: nil callback", ErrInvalidArgument)
	}
	r, err := q.request(true)
	if err != nil {
		return "", err
	}
	resp, err := c.open(ctx, r)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", r.failStream(resp)
	}
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "multipart/mixed" {
		// Not streamed after all: one JSON object.
		var b indexBody
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
			return "", r.decodeError(err)
		}
		if len(b.Error) > 0 {
			return "", fmt.Errorf("riakgo/client: %s %s: %w: %s", r.method, r.path, ErrStreamAborted, b.Error)
		}
		p := b.page()
		cont := p.Continuation
		p.Continuation = ""
		if len(p.Keys) > 0 {
			if err := fn(p); err != nil {
				return "", err
			}
		}
		return cont, nil
	}
	if params["boundary"] == "" {
		return "", fmt.Errorf("riakgo/client: %s %s: %w: multipart answer without a boundary", r.method, r.path, ErrBadResponse)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	cont := ""
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return cont, nil
		}
		if err != nil {
			return "", r.decodeError(err)
		}
		var b indexBody
		if err := json.NewDecoder(part).Decode(&b); err != nil {
			return "", r.decodeError(err)
		}
		if len(b.Error) > 0 {
			return "", fmt.Errorf("riakgo/client: %s %s: %w: %s", r.method, r.path, ErrStreamAborted, b.Error)
		}
		if b.Continuation != "" {
			cont = b.Continuation
		}
		p := b.page()
		p.Continuation = ""
		if len(p.Keys) > 0 {
			if err := fn(p); err != nil {
				return "", err
			}
		}
	}
}

// Pages walks every page of q: it runs the query, yields the page, and
// follows the continuation until a page comes without one. Set
// q.MaxResults to the page size (without it there is one page). Stop the
// loop early to stop fetching. An error is yielded once, as the last
// element.
//
//	for page, err := range c.Pages(ctx, q) {
//		if err != nil { … }
//		use(page.Keys)
//	}
func (c *Client) Pages(ctx context.Context, q IndexQuery) iter.Seq2[*IndexPage, error] {
	return func(yield func(*IndexPage, error) bool) {
		for {
			p, err := c.Query(ctx, q)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(p, nil) || p.Continuation == "" {
				return
			}
			if p.Continuation == q.Continuation {
				yield(nil, fmt.Errorf("riakgo/client: index query on %s: %w: the server returned the same continuation twice", q.Field, ErrBadResponse))
				return
			}
			q.Continuation = p.Continuation
		}
	}
}
