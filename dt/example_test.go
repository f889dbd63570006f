package dt_test

import (
	"errors"
	"fmt"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/vclock"
)

// A set add and a remove with the context the client read. The remove
// deletes only what the read had seen: a concurrent add of the same
// element, at another replica, survives the merge (add-wins).
func ExampleSet_Apply() {
	vnodeA := vclock.Actor{ID: 0xA, Epoch: 1}
	vnodeB := vclock.Actor{ID: 0xB, Epoch: 1}

	a := &dt.Set{}
	_ = a.Apply(dt.SetOp{}.Add("apple", "pear"), vnodeA, dt.Context{})
	b := a.Clone().(*dt.Set) // replicated to B

	// A client reads at A and keeps the opaque context.
	ctx := a.Context().Bytes()
	fmt.Println("read:", a.Value())

	// Meanwhile another client adds "pear" again at B.
	_ = b.Apply(dt.SetOp{}.Add("pear"), vnodeB, dt.Context{})

	// The first client removes both fruit, sending its context back.
	c, _ := dt.ParseContext(ctx)
	if err := a.Apply(dt.SetOp{}.Remove("apple", "pear"), vnodeA, c); err != nil {
		fmt.Println(err)
	}
	fmt.Println("at A:", a.Value())

	// Removing an element the context never saw is a no-op, as in Riak;
	// without a context, an absent element fails the precondition.
	fmt.Println(a.Apply(dt.SetOp{}.Remove("plum"), vnodeA, c))
	err := a.Apply(dt.SetOp{}.Remove("plum"), vnodeA, dt.Context{})
	fmt.Println(err, errors.Is(err, dt.ErrPrecondition))

	// Replicas exchange state: B's concurrent add of "pear" wins.
	_ = a.Merge(b)
	_ = b.Merge(a)
	fmt.Println("merged:", a.Value(), b.Value(), a.Equal(b))
	// Output:
	// read: [apple pear]
	// at A: []
	// <nil>
	// riakgo/dt: precondition {not_present,<<"plum">>} true
	// merged: [pear] [pear] true
}

// A map holding a counter and a set, rendered as Riak's HTTP API does.
func ExampleMap_Apply() {
	vnode := vclock.Actor{ID: 0xA, Epoch: 1}
	likes, _ := dt.ParseField("likes_counter")
	tags := dt.Field{Name: "tags", Type: dt.KindSet}

	m := &dt.Map{}
	_ = m.Apply(dt.MapOp{}.
		Update(likes, dt.CounterOp{Delta: 3}).
		Update(tags, dt.SetOp{}.Add("go", "riak")), vnode, dt.Context{})
	fmt.Println(m.Value())

	// Remove the set field, with the context of a read.
	_ = m.Apply(dt.MapOp{}.Remove(tags), vnode, m.Context())
	fmt.Println(m.Value())
	// Output:
	// map[likes_counter:3 tags_set:[go riak]]
	// map[likes_counter:3]
}
