package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"
	"time"

	"github.com/riakgo/riakgo/client"
)

// A shopping cart on a bucket that keeps siblings: two writers who did not
// see each other leave two siblings, and Update merges them, applies a
// change and writes the result back with the causal context it read.
func Example() {
	// An in-process riakgo node for the example; against a running node
	// use its address, e.g. "http://127.0.0.1:8098".
	url, _, _, stop := startNode(1)
	defer stop()
	ctx := context.Background()

	c, err := client.New(url, client.WithTimeout(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	if err := c.SetBucketProps(ctx, "", "carts", map[string]any{"allow_mult": true}); err != nil {
		log.Fatal(err)
	}
	loc := client.Loc{Bucket: "carts", Key: "ann"}

	// Two blind writes: both are kept.
	for _, item := range []string{"pear", "apple"} {
		if _, err := c.Put(ctx, loc, client.Content{Value: []byte(item), ContentType: "text/plain"}, "", nil); err != nil {
			log.Fatal(err)
		}
	}
	obj, err := c.Get(ctx, loc, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("siblings:", len(obj.Siblings))

	// Resolve by merging the items, then add one.
	merge := client.Fold(func(a, b client.Content) (client.Content, error) {
		items := append(strings.Split(string(a.Value), ","), strings.Split(string(b.Value), ",")...)
		slices.Sort(items)
		a.Value = []byte(strings.Join(slices.Compact(items), ","))
		return a, nil
	})
	addPlum := func(cur *client.Object) (client.Content, error) {
		next := *cur.Content()
		next.Value = append(next.Value, ",plum"...)
		return next, nil
	}
	if _, err := c.Update(ctx, loc, addPlum, &client.UpdateOptions{Resolver: merge}); err != nil {
		log.Fatal(err)
	}
	obj, err = c.Get(ctx, loc, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("cart:", string(obj.Content().Value))

	// A delete leaves a tombstone; its clock comes with the not-found error.
	if err := c.Delete(ctx, loc, obj.VClock, nil); err != nil {
		log.Fatal(err)
	}
	_, err = c.Get(ctx, loc, nil)
	fmt.Println("not found:", errors.Is(err, client.ErrNotFound), "tombstone clock:", client.TombstoneVClock(err) != "")

	// Output:
	// siblings: 2
	// cart: apple,pear,plum
	// not found: true tombstone clock: true
}

// Walking a paginated secondary-index query.
func ExampleClient_Pages() {
	url, _, _, stop := startNode(2)
	defer stop()
	ctx := context.Background()
	c, err := client.New(url)
	if err != nil {
		log.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		content := client.Content{Value: []byte("x"), ContentType: "text/plain",
			Indexes: []client.Index{client.IntIndex("age", int64(30+i))}}
		if _, err := c.Put(ctx, client.Loc{Bucket: "people", Key: fmt.Sprint("p", i)}, content, "", nil); err != nil {
			log.Fatal(err)
		}
	}
	q := client.IndexQuery{Bucket: "people", Field: "age_int", Start: "0", End: "99", MaxResults: 2}
	for page, err := range c.Pages(ctx, q) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(page.Keys)
	}
	// Output:
	// [p1 p2]
	// [p3 p4]
	// [p5]
}
