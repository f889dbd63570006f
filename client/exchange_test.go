package client_test

import (
	"testing"

	"github.com/riakgo/riakgo/client"
)

func TestExchange(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	loc := client.Loc{Bucket: "ex", Key: "k"}
	if st, _, err := n.c.Exchange(ctx, "GET", loc, nil, "", ""); err != nil || st != 404 {
		t.Fatalf("GET missing: %d %v", st, err)
	}
	if st, _, err := n.c.Exchange(ctx, "PUT", loc, []byte("v1"), "text/plain", ""); err != nil || st != 204 {
		t.Fatalf("PUT: %d %v", st, err)
	}
	st, vc, err := n.c.Exchange(ctx, "GET", loc, nil, "", "")
	if err != nil || st != 200 || vc == "" {
		t.Fatalf("GET: %d %q %v", st, vc, err)
	}
	if st, _, err := n.c.Exchange(ctx, "PUT", loc, []byte("v2"), "text/plain", vc); err != nil || st != 204 {
		t.Fatalf("PUT with vclock: %d %v", st, err)
	}
	o := n.mustGet(t, loc)
	if len(o.Siblings) != 1 || string(o.Siblings[0].Value) != "v2" {
		t.Fatalf("after the update: %+v", o.Siblings)
	}
	if _, _, err := n.c.Exchange(ctx, "GET", client.Loc{Bucket: "ex"}, nil, "", ""); err == nil {
		t.Fatal("a location without a key was accepted")
	}
}
