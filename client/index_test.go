package client_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/client"
)

// indexed writes 25 objects p00…p24 to bucket "people": age_int = 20+i,
// team_bin = red (even i) or blue (odd i).
func indexed(t *testing.T, n *node) []string {
	t.Helper()
	var keys []string
	for i := 0; i < 25; i++ {
		key := fmt.Sprintf("p%02d", i)
		keys = append(keys, key)
		team := "red"
		if i%2 == 1 {
			team = "blue"
		}
		c := text("person")
		c.Indexes = []client.Index{client.IntIndex("age", int64(20+i)), client.BinIndex("team", team)}
		n.mustPut(t, client.Loc{Bucket: "people", Key: key}, c)
	}
	return keys
}

func TestQuery(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	keys := indexed(t, n)

	page, err := n.c.Query(ctx, client.IndexQuery{Bucket: "people", Field: "age_int", Value: "23"})
	if err != nil || !slices.Equal(page.Keys, []string{"p03"}) || page.Continuation != "" || page.Terms != nil {
		t.Fatalf("exact: %+v, %v", page, err)
	}
	page, err = n.c.Query(ctx, client.IndexQuery{Bucket: "people", Field: "age_int", Start: "40", End: "44", ReturnTerms: true})
	if err != nil {
		t.Fatal(err)
	}
	wantTerms := []client.IndexTerm{{Term: "40", Key: "p20"}, {Term: "41", Key: "p21"}, {Term: "42", Key: "p22"}, {Term: "43", Key: "p23"}, {Term: "44", Key: "p24"}}
	if !slices.Equal(page.Terms, wantTerms) || !slices.Equal(page.Keys, []string{"p20", "p21", "p22", "p23", "p24"}) {
		t.Fatalf("range with terms: %+v", page)
	}
	page, err = n.c.Query(ctx, client.IndexQuery{Bucket: "people", Field: "team_bin", Start: "a", End: "z", ReturnTerms: true, TermRegex: "^bl"})
	if err != nil || len(page.Keys) != 12 {
		t.Fatalf("term_regex: %d keys, %v", len(page.Keys), err)
	}
	for _, tm := range page.Terms {
		if tm.Term != "blue" {
			t.Errorf("term_regex let %q through", tm.Term)
		}
	}
	page, err = n.c.Query(ctx, client.IndexQuery{Bucket: "people", Field: client.FieldBucket})
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(page.Keys)
	slices.Sort(got)
	if !slices.Equal(got, keys) {
		t.Errorf("$bucket: %q", got)
	}
	page, err = n.c.Query(ctx, client.IndexQuery{Bucket: "people", Field: client.FieldKey, Start: "p10", End: "p12"})
	if err != nil || !slices.Equal(page.Keys, []string{"p10", "p11", "p12"}) {
		t.Errorf("$key range: %+v, %v", page, err)
	}
	page, err = n.c.Query(ctx, client.IndexQuery{Bucket: "people", Field: "age_int", Value: "99"})
	if err != nil || page.Keys == nil || len(page.Keys) != 0 {
		t.Errorf("no match: %+v, %v", page, err)
	}

	// Streamed: the same results, handed over in batches.
	page, err = n.c.Query(ctx, client.IndexQuery{Bucket: "people", Field: "team_bin", Value: "red", Stream: true})
	if err != nil || len(page.Keys) != 13 {
		t.Fatalf("streamed: %+v, %v", page, err)
	}
	batches := 0
	cont, err := n.c.StreamQuery(ctx, client.IndexQuery{Bucket: "people", Field: "age_int", Start: "20", End: "44", MaxResults: 10, ReturnTerms: true},
		func(p *client.IndexPage) error {
			batches++
			if len(p.Terms) != len(p.Keys) || p.Continuation != "" {
				t.Errorf("batch %+v", p)
			}
			return nil
		})
	if err != nil || cont == "" || batches == 0 {
		t.Fatalf("StreamQuery: cont %q, %d batches, %v", cont, batches, err)
	}

	// Errors: 400 with Riak's text.
	_, err = n.c.Query(ctx, client.IndexQuery{Bucket: "people", Field: "age_int", Value: "old"})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Body != "Invalid query: {field_parsing_failed,{<<\"age_int\">>,<<\"old\">>}}\n" {
		t.Errorf("bad term: %v", err)
	}
	_, err = n.c.Query(ctx, client.IndexQuery{Bucket: "people", Field: "age_int", Start: "1", End: "2", TermRegex: "x"})
	if !errors.As(err, &e) || e.Status != 400 {
		t.Errorf("regex on _int: %v", err)
	}
	if _, err := n.c.Query(ctx, client.IndexQuery{Bucket: "people", Field: "age_int"}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("no value: %v", err)
	}
}

func TestPagesWalkEveryPage(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	keys := indexed(t, n)

	for _, tc := range []struct {
		name string
		q    client.IndexQuery
		want []string
	}{
		{"range", client.IndexQuery{Bucket: "people", Field: "age_int", Start: "0", End: "100", MaxResults: 7}, keys},
		{"range, streamed", client.IndexQuery{Bucket: "people", Field: "age_int", Start: "0", End: "100", MaxResults: 7, Stream: true}, keys},
		{"$bucket", client.IndexQuery{Bucket: "people", Field: client.FieldBucket, MaxResults: 5}, keys},
		{"exact, last page full", client.IndexQuery{Bucket: "people", Field: "team_bin", Value: "blue", MaxResults: 4}, oddKeys(keys)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var sizes []int
			for page, err := range n.c.Pages(ctx, tc.q) {
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(page.Keys))
				got = append(got, page.Keys...)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("walked %q, want %q", got, tc.want)
			}
			for i, s := range sizes {
				if s > tc.q.MaxResults || (i < len(sizes)-1 && s != tc.q.MaxResults) {
					t.Errorf("page sizes %v with MaxResults %d", sizes, tc.q.MaxResults)
				}
			}
			if wantPages := (len(tc.want) + tc.q.MaxResults - 1) / tc.q.MaxResults; len(sizes) < wantPages || len(sizes) > wantPages+1 {
				t.Errorf("%d pages, want %d", len(sizes), wantPages)
			}
		})
	}

	// Stopping the loop stops fetching.
	pages := 0
	for _, err := range n.c.Pages(ctx, client.IndexQuery{Bucket: "people", Field: client.FieldBucket, MaxResults: 5}) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
		break
	}
	if pages != 1 {
		t.Errorf("%d pages after break", pages)
	}
	// An error ends the walk.
	var errs int
	for p, err := range n.c.Pages(ctx, client.IndexQuery{Bucket: "people", Field: "nosuffix", Value: "x"}) {
		if err == nil || p != nil {
			t.Fatalf("page %v, err %v", p, err)
		}
		errs++
	}
	if errs != 1 {
		t.Errorf("%d errors yielded", errs)
	}
}

func oddKeys(keys []string) []string {
	var out []string
	for i, k := range keys {
		if i%2 == 1 {
			out = append(out, k)
		}
	}
	return out
}

func TestStreamQueryAgainstOtherServers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("continuation") {
		case "": // Riak's multipart stream, ending in an error part
			if r.URL.Query().Get("stream") != "true" {
				t.Errorf("query %s", r.URL.RawQuery)
			}
			w.Header().Set("Content-Type", "multipart/mixed;boundary=XyZ")
			io.WriteString(w, "\r\n--XyZ\r\nContent-Type: application/json\r\n\r\n"+`{"results":[{"a":"k1"},{"b":"k2"}]}`+
				"\r\n--XyZ\r\nContent-Type: application/json\r\n\r\n"+`{"error":"timeout"}`+"\r\n--XyZ--\r\n")
		case "c1": // a server that ignores stream=true
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"keys":["k3"],"continuation":"c2"}`)
		}
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL)
	ctx := testCtx(t)
	var got []client.IndexTerm
	_, err := c.StreamQuery(ctx, client.IndexQuery{Bucket: "b", Field: "f_bin", Start: "a", End: "z", ReturnTerms: true},
		func(p *client.IndexPage) error { got = append(got, p.Terms...); return nil })
	if !errors.Is(err, client.ErrStreamAborted) || !slices.Equal(got, []client.IndexTerm{{Term: "a", Key: "k1"}, {Term: "b", Key: "k2"}}) {
		t.Errorf("error part: %v, terms %v", err, got)
	}
	var keys []string
	cont, err := c.StreamQuery(ctx, client.IndexQuery{Bucket: "b", Field: "f_bin", Value: "x", Continuation: "c1"},
		func(p *client.IndexPage) error { keys = append(keys, p.Keys...); return nil })
	if err != nil || cont != "c2" || !slices.Equal(keys, []string{"k3"}) {
		t.Errorf("unstreamed answer: %q, %q, %v", keys, cont, err)
	}
}
