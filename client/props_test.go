package client_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/riakgo/riakgo/client"
)

func TestBucketProps(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)
	p, err := n.c.BucketProps(ctx, "", "b")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "b" || p.NVal != 3 || p.R != client.Majority || p.PR != client.N(0) || p.AllowMult || p.DVVEnabled ||
		!p.NotFoundOK || p.YoungVClock != 20 || p.OldVClock != 86400 || p.SmallVClock != 50 || p.BigVClock != 50 {
		t.Fatalf("default props %+v", p)
	}
	if _, ok := p.Raw["chash_keyfun"]; !ok {
		t.Errorf("Raw lacks chash_keyfun: %v", p.Raw)
	}

	if err := n.c.SetBucketProps(ctx, "", "b", map[string]any{"n_val": 2, "allow_mult": true, "r": "one", "w": 1}); err != nil {
		t.Fatal(err)
	}
	p, err = n.c.BucketProps(ctx, "", "b")
	if err != nil {
		t.Fatal(err)
	}
	if p.NVal != 2 || !p.AllowMult || p.R != client.One || p.W != client.N(1) {
		t.Fatalf("after set: %+v", p)
	}
	if w, ok := p.W.Int(); !ok || w != 1 {
		t.Errorf("W.Int() = %d, %v", w, ok)
	}

	// Invalid values: 400 with the server's JSON reasons.
	err = n.c.SetBucketProps(ctx, "", "b", map[string]any{"n_val": "lots"})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 400 {
		t.Fatalf("bad n_val: %v", err)
	}
	var reasons map[string]string
	if json.Unmarshal([]byte(e.Body), &reasons) != nil || reasons["n_val"] != "not_integer" {
		t.Errorf("reasons %q", e.Body)
	}
	if err := n.c.SetBucketProps(ctx, "", "b", nil); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("no props: %v", err)
	}

	if err := n.c.ResetBucketProps(ctx, "", "b"); err != nil {
		t.Fatal(err)
	}
	if p, err = n.c.BucketProps(ctx, "", "b"); err != nil || p.NVal != 3 || p.AllowMult {
		t.Fatalf("after reset: %+v, %v", p, err)
	}

	tp, err := n.c.TypeProps(ctx, "default")
	if err != nil || tp.NVal != 3 || tp.AllowMult {
		t.Fatalf("default type props: %+v, %v", tp, err)
	}
}

func TestBucketTypes(t *testing.T) {
	n := newNode(t)
	ctx := testCtx(t)

	st, err := n.c.TypeStatus(ctx, "maps")
	if err != nil || st.Status != client.TypeUndefined || st.Active {
		t.Fatalf("status of a missing type: %+v, %v", st, err)
	}
	info, err := n.c.CreateType(ctx, "maps", map[string]any{"n_val": 2})
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "maps" || info.Active || (info.Status != client.TypeReady && info.Status != client.TypeCreated) {
		t.Fatalf("created: %+v", info)
	}
	// An inactive type is unknown to clients.
	if _, err := n.c.Get(ctx, client.Loc{Type: "maps", Bucket: "b", Key: "k"}, nil); !errors.Is(err, client.ErrUnknownType) {
		t.Errorf("get on an inactive type: %v", err)
	}
	info, err = n.c.ActivateType(ctx, "maps")
	if err != nil || !info.Active || info.Status != client.TypeActive {
		t.Fatalf("activate: %+v, %v", info, err)
	}
	// Typed buckets keep siblings by default.
	if info.Props == nil || info.Props.NVal != 2 || !info.Props.AllowMult || !info.Props.DVVEnabled {
		t.Fatalf("type props %+v", info.Props)
	}
	st, err = n.c.TypeStatus(ctx, "maps")
	if err != nil || st.Status != client.TypeActive || st.Props == nil || st.Props.NVal != 2 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	_, err = n.c.CreateType(ctx, "maps", nil)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 409 {
		t.Errorf("create of an active type: %v, want 409", err)
	}
	if _, err := n.c.ActivateType(ctx, "nope"); !errors.As(err, &e) || e.Status != 404 {
		t.Errorf("activate a missing type: %v", err)
	}

	types, err := n.c.ListTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ty := range types {
		names = append(names, ty.Name)
		if ty.Name == "maps" && !ty.Active {
			t.Errorf("listed %+v", ty)
		}
	}
	if !slices.Contains(names, "default") || !slices.Contains(names, "maps") {
		t.Errorf("ListTypes names %q", names)
	}

	// Type props over /types/T/props.
	if err := n.c.SetTypeProps(ctx, "maps", map[string]any{"n_val": 1}); err != nil {
		t.Fatal(err)
	}
	tp, err := n.c.TypeProps(ctx, "maps")
	if err != nil || tp.NVal != 1 || !tp.AllowMult {
		t.Fatalf("type props: %+v, %v", tp, err)
	}

	// Objects, bucket props and listing under the type.
	loc := client.Loc{Type: "maps", Bucket: "b", Key: "k"}
	n.mustPut(t, loc, text("typed"))
	if got := n.mustGet(t, loc); string(got.Content().Value) != "typed" {
		t.Errorf("typed get %q", got.Content().Value)
	}
	if _, err := n.c.Get(ctx, client.Loc{Bucket: "b", Key: "k"}, nil); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("the default type sees the typed key: %v", err)
	}
	bp, err := n.c.BucketProps(ctx, "maps", "b")
	if err != nil || bp.NVal != 1 || !bp.AllowMult {
		t.Fatalf("typed bucket props: %+v, %v", bp, err)
	}
	// Listed before n_val grows: listing plans at the bucket's current
	// n_val, as Riak does, so a key written with n_val 1 shows in it only
	// once its new replicas exist (read repair, anti-entropy).
	if keys, err := n.c.ListKeys(ctx, "maps", "b"); err != nil || !slices.Equal(keys, []string{"k"}) {
		t.Errorf("typed ListKeys %q, %v", keys, err)
	}
	if err := n.c.SetBucketProps(ctx, "maps", "b", map[string]any{"n_val": 3}); err != nil {
		t.Fatal(err)
	}
	if bp, _ = n.c.BucketProps(ctx, "maps", "b"); bp.NVal != 3 {
		t.Errorf("typed bucket n_val %d", bp.NVal)
	}
	if bs, err := n.c.ListBuckets(ctx, "maps"); err != nil || !slices.Equal(bs, []string{"b"}) {
		t.Errorf("typed ListBuckets %q, %v", bs, err)
	}
	if bs, err := n.c.ListBuckets(ctx, ""); err != nil || len(bs) != 0 {
		t.Errorf("default ListBuckets %q, %v", bs, err)
	}
}
