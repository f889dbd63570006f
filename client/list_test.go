package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/riakgo/riakgo/client"
)

func TestStreamKeysOf2500Keys(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	const total = 2500
	want := make([]string, total)
	for i := range want {
		want[i] = fmt.Sprintf("key-%04d", i)
	}
	want[7] = `tricky}{"keys":["x"]}` // a key that breaks naive splitters
	// Four writers.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 4 {
				if _, err := n.c.Put(ctx, client.Loc{Bucket: "many", Key: want[i]}, text("v"), "", nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var got []string
	chunks := 0
	if err := n.c.StreamKeys(ctx, "", "many", func(keys []string) error {
		chunks++
		if len(keys) == 0 {
			t.Error("empty chunk handed to the callback")
		}
		got = append(got, keys...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if chunks < 3 {
		t.Errorf("%d chunks; riakgo sends at most 1000 keys a chunk", chunks)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("streamed %d keys, want %d", len(got), len(want))
	}
	all, err := n.c.ListKeys(ctx, "", "many")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	if !slices.Equal(all, want) {
		t.Fatalf("ListKeys: %d keys", len(all))
	}

	// The callback's error stops the stream.
	stop := errors.New("enough")
	calls := 0
	err = n.c.StreamKeys(ctx, "", "many", func([]string) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("stop: %v after %d calls", err, calls)
	}

	var buckets []string
	if err := n.c.StreamBuckets(ctx, "", func(b []string) error { buckets = append(buckets, b...); return nil }); err != nil || !slices.Equal(buckets, []string{"many"}) {
		t.Errorf("StreamBuckets %q, %v", buckets, err)
	}
	if keys, err := n.c.ListKeys(ctx, "", "empty"); err != nil || keys == nil || len(keys) != 0 {
		t.Errorf("empty bucket: %q, %v", keys, err)
	}
	if err := n.c.StreamKeys(ctx, "nope", "b", func([]string) error { return nil }); !errors.Is(err, client.ErrUnknownType) && !errors.Is(err, client.ErrNotFound) {
		t.Errorf("unknown type: %v", err)
	}
}

// The stream is decoded as it arrives: the server sends its second chunk
// only after the client has handed over the first.
func TestStreamKeysIsIncremental(t *testing.T) {
	ack := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/types/t/buckets/b/keys" || r.URL.Query().Get("keys") != "stream" {
			http.Error(w, "bad request "+r.URL.String(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, `{"keys":["k%d","}"]}`, i)
			w.(http.Flusher).Flush()
			select {
			case <-ack:
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprint(w, `{"keys":[]}`)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = c.StreamKeys(testCtx(t), "t", "b", func(keys []string) error {
		got = append(got, keys...)
		ack <- struct{}{}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"k0", "}", "k1", "}", "k2", "}"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestListErrorsMidStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("keys") {
		case "stream":
			fmt.Fprint(w, `{"keys":["a"]}{"error":"timeout"}`)
		case "true": // Riak 2.2.3 answers some failures with 200
			fmt.Fprint(w, `{"error":"insufficient_vnodes_available"}`)
		default:
			fmt.Fprint(w, `{"keys":["a"]}{"keys":`) // truncated
		}
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL)
	ctx := testCtx(t)
	var got []string
	err := c.StreamKeys(ctx, "", "b", func(k []string) error { got = append(got, k...); return nil })
	if !errors.Is(err, client.ErrStreamAborted) || !slices.Equal(got, []string{"a"}) {
		t.Errorf("stream error: %v, keys %q", err, got)
	}
	if _, err := c.ListKeys(ctx, "", "b"); !errors.Is(err, client.ErrStreamAborted) {
		t.Errorf("list error: %v", err)
	}
	// Truncated stream (buckets route answers the default branch).
	err = c.StreamBuckets(ctx, "", func([]string) error { return nil })
	if !errors.Is(err, client.ErrBadResponse) {
		t.Errorf("truncated stream: %v", err)
	}
}

func TestStreamHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"keys":["a"]}`)
		w.(http.Flusher).Flush()
		select { // never finishes on its own
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c, _ := client.New(srv.URL)
	ctx, cancel := context.WithCancel(testCtx(t))
	err := c.StreamKeys(ctx, "", "b", func([]string) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled stream: %v", err)
	}
}
