package client_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riakgo/riakgo/client"
)

func TestLastWriteWins(t *testing.T) {
	t0 := testStart
	t1 := t0.Add(time.Second)
	for _, tc := range []struct {
		name string
		sibs []client.Content
		want string // VTag of the winner
	}{
		{"newest wins", []client.Content{{VTag: "a", LastModified: t1}, {VTag: "b", LastModified: t0}}, "a"},
		{"newest wins, any order", []client.Content{{VTag: "b", LastModified: t0}, {VTag: "a", LastModified: t1}}, "a"},
		{"tie: live beats tombstone", []client.Content{{VTag: "z", LastModified: t0, Deleted: true}, {VTag: "a", LastModified: t0}}, "a"},
		{"tie: greatest vtag", []client.Content{{VTag: "m", LastModified: t0}, {VTag: "x", LastModified: t0}, {VTag: "c", LastModified: t0}}, "x"},
		{"single", []client.Content{{VTag: "only"}}, "only"},
	} {
		got, err := client.LastWriteWins(tc.sibs)
		if err != nil || got.VTag != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got.VTag, err, tc.want)
		}
	}
	if _, err := client.LastWriteWins(nil); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("no siblings: %v", err)
	}
}

func TestGetResolvedLastWriteWins(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	n.allowMult(t, "b")
	loc := client.Loc{Bucket: "b", Key: "k"}
	n.mustPut(t, loc, text("older"))
	n.clk.Advance(2 * time.Second)
	n.mustPut(t, loc, text("newer"))
	n.mustPut(t, client.Loc{Bucket: "b", Key: "single"}, text("alone"))

	if obj := n.mustGet(t, loc); len(obj.Siblings) != 2 {
		t.Fatalf("want 2 siblings, got %d", len(obj.Siblings))
	}
	res, err := n.c.GetResolved(ctx, loc, nil, nil) // default: LastWriteWins
	if err != nil || string(res.Content().Value) != "newer" || !res.Content().LastModified.Equal(testStart.Add(2*time.Second)) {
		t.Fatalf("GetResolved = %+v, %v", res, err)
	}
	// A resolver is not called for a single value.
	called := false
	boom := func([]client.Content) (client.Content, error) {
		called = true
		return client.Content{}, errors.New("boom")
	}
	if obj, err := n.c.GetResolved(ctx, client.Loc{Bucket: "b", Key: "single"}, boom, nil); err != nil || called || string(obj.Content().Value) != "alone" {
		t.Errorf("single value: %v, %v, called %v", obj, err, called)
	}
	// A resolver's error comes back wrapped.
	if _, err := n.c.GetResolved(ctx, loc, boom, nil); err == nil || err.Error() == "boom" || !called {
		t.Errorf("resolver error: %v", err)
	}
	// The client's default resolver applies when none is given.
	oldest := func(sibs []client.Content) (client.Content, error) {
		return slices.MinFunc(sibs, func(a, b client.Content) int { return a.LastModified.Compare(b.LastModified) }), nil
	}
	c2, err := client.New(n.url, client.WithResolver(oldest))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c2.GetResolved(ctx, loc, nil, nil); err != nil || string(res.Content().Value) != "older" {
		t.Errorf("WithResolver: %+v, %v", res, err)
	}
	if _, err := n.c.GetResolved(ctx, client.Loc{Bucket: "b", Key: "missing"}, nil, nil); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
}

// Two writers read the same version, both write (so the bucket keeps both
// as siblings), and a later Update resolves the siblings with the union
// resolver: nothing either writer added is lost.
func TestUpdateConvergesConcurrentWriters(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	n.allowMult(t, "sets")
	loc := client.Loc{Bucket: "sets", Key: "s"}
	n.mustPut(t, loc, text("base"))

	var bothRead sync.WaitGroup
	bothRead.Add(2)
	writer := func(line string) client.Mutator {
		first := true
		add := addLine(line)
		return func(cur *client.Object) (client.Content, error) {
			if first {
				// Hold the write until the other writer has read too.
				first = false
				bothRead.Done()
				bothRead.Wait()
			}
			return add(cur)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, line := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = n.c.Update(ctx, loc, writer(line), &client.UpdateOptions{Resolver: union})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	obj := n.mustGet(t, loc)
	if got := values(obj.Siblings); !slices.Equal(got, []string{"a\nbase", "b\nbase"}) {
		t.Fatalf("after two concurrent writes: siblings %q", got)
	}

	// The next update resolves both siblings and supersedes them.
	back, err := n.c.Update(ctx, loc, addLine("c"), &client.UpdateOptions{Resolver: union, Put: &client.PutOptions{ReturnBody: true}})
	if err != nil {
		t.Fatal(err)
	}
	if back.HasSiblings() || string(back.Content().Value) != "a\nb\nbase\nc" {
		t.Fatalf("after resolving: %q", values(back.Siblings))
	}
	if got := n.mustGet(t, loc); got.HasSiblings() || string(got.Content().Value) != "a\nb\nbase\nc" {
		t.Fatalf("stored: %q", values(got.Siblings))
	}
}

// On a bucket without siblings a read-modify-write that loses a race would
// lose the other write; a conditional Update sees 412 and retries instead.
func TestUpdateConditionalRetriesOnConflict(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	loc := client.Loc{Bucket: "plain", Key: "s"}
	n.mustPut(t, loc, text("base"))
	opts := &client.UpdateOptions{Resolver: union, Conditional: true}

	attempts := 0
	interfere := func(cur *client.Object) (client.Content, error) {
		attempts++
		if attempts == 1 {
			// Another client updates the key between our read and write.
			if _, err := n.c.Update(ctx, loc, addLine("theirs"), opts); err != nil {
				return client.Content{}, err
			}
		}
		return addLine("ours")(cur)
	}
	if _, err := n.c.Update(ctx, loc, interfere, opts); err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Errorf("mutator ran %d times, want 2 (one 412, one success)", attempts)
	}
	if got := n.mustGet(t, loc); got.HasSiblings() || string(got.Content().Value) != "base\nours\ntheirs" {
		t.Fatalf("stored %q", values(got.Siblings))
	}

	// A missing key is written with If-None-Match: *.
	fresh := client.Loc{Bucket: "plain", Key: "fresh"}
	seen := map[string]bool{}
	if _, err := n.c.Update(ctx, fresh, func(cur *client.Object) (client.Content, error) {
		seen["missing"] = cur.Content() == nil && len(cur.Siblings) == 0
		return addLine("x")(cur)
	}, opts); err != nil {
		t.Fatal(err)
	}
	if !seen["missing"] || string(n.mustGet(t, fresh).Content().Value) != "x" {
		t.Errorf("update of a missing key: seen %v", seen)
	}

	// Bounded: a writer that always loses gives up with 412.
	attempts = 0
	always := func(cur *client.Object) (client.Content, error) {
		attempts++
		// A newer blind write (a later timestamp wins on this bucket).
		n.clk.Advance(time.Second)
		if _, err := n.c.Put(ctx, loc, text(fmt.Sprint("interloper ", attempts)), "", nil); err != nil {
			return client.Content{}, err
		}
		return addLine("never")(cur)
	}
	_, err := n.c.Update(ctx, loc, always, &client.UpdateOptions{Conditional: true, MaxAttempts: 3})
	if !errors.Is(err, client.ErrPreconditionFailed) || attempts != 3 {
		t.Fatalf("always losing: %v after %d attempts, want ErrPreconditionFailed after 3", err, attempts)
	}
	// A mutator's error aborts without writing.
	stop := errors.New("stop")
	if _, err := n.c.Update(ctx, loc, func(*client.Object) (client.Content, error) { return client.Content{}, stop }, nil); !errors.Is(err, stop) {
		t.Errorf("mutator error: %v", err)
	}
}

// Update after a delete writes with the tombstone's clock, so the new
// value does not become a sibling of the tombstone.
func TestUpdateAfterDelete(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	n.allowMult(t, "b")
	loc := client.Loc{Bucket: "b", Key: "k"}
	n.mustPut(t, loc, text("v1"))
	if err := n.c.Delete(ctx, loc, n.mustGet(t, loc).VClock, nil); err != nil {
		t.Fatal(err)
	}
	var sawClock string
	if _, err := n.c.Update(ctx, loc, func(cur *client.Object) (client.Content, error) {
		sawClock = cur.VClock
		return text("v2"), nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if sawClock == "" {
		t.Error("the mutator did not get the tombstone's vclock")
	}
	if got := n.mustGet(t, loc); got.HasSiblings() || string(got.Content().Value) != "v2" {
		t.Fatalf("after update: %q", values(got.Siblings))
	}
}

func TestFold(t *testing.T) {
	sibs := []client.Content{text("b\nc"), text("a"), text("c\nd")}
	got, err := union(sibs)
	if err != nil || string(got.Value) != "a\nb\nc\nd" {
		t.Fatalf("union = %q, %v", got.Value, err)
	}
	if string(sibs[0].Value) != "b\nc" {
		t.Errorf("Fold modified its input: %q", sibs[0].Value)
	}
	// The order of siblings does not matter for a union.
	slices.Reverse(sibs)
	again, _ := union(sibs)
	if !maps.Equal(lineSet(again.Value), lineSet(got.Value)) {
		t.Errorf("order-dependent: %q vs %q", again.Value, got.Value)
	}
}
