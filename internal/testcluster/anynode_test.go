package testcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
)

// createType creates and activates a bucket type through node i.
func createType(t *testing.T, c *Cluster, i int, name, props string) {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(props), &raw); err != nil {
		t.Fatal(err)
	}
	if err := c.Client(i).CreateType(name, raw); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if err := c.Client(i).ActivateType(name); err != nil {
		t.Fatalf("activate %s: %v", name, err)
	}
}

// holdsReplica reports whether node id is in k's primary preference list.
func holdsReplica(c *Cluster, id ring.NodeID, k kv.Key, n int) bool {
	for _, tg := range ring.PrefList(c.Ring, ring.KeyHash(k.Type, k.Bucket, k.Key), n, nil) {
		if tg.Node == id {
			return true
		}
	}
	return false
}

// Every data type is updated through every node of a cluster larger than
// n_val, most of which hold no replica of a given key: the operation
// travels to a coordinating vnode as data, and every node reads the same
// value.
func TestDatatypesThroughEveryNode(t *testing.T) {
	c := New(t, 5, Options{RingSize: 64})
	// Bucket types are cluster metadata: made through one node, usable
	// through every node as soon as activation returns.
	createType(t, c, 1, "counters", `{"datatype":"counter"}`)
	createType(t, c, 2, "sets", `{"datatype":"set"}`)
	createType(t, c, 3, "maps", `{"datatype":"map"}`)
	createType(t, c, 4, "oplogs", `{"datatype":"oplog"}`)
	createType(t, c, 0, "bcounters", `{"datatype":"bcounter"}`)
	ol := kv.Key{Type: "oplogs", Bucket: "b", Key: "o"}
	bc := kv.Key{Type: "bcounters", Bucket: "b", Key: "c"}
	ctr := kv.Key{Type: "counters", Bucket: "b", Key: "c"}
	set := kv.Key{Type: "sets", Bucket: "b", Key: "s"}
	mp := kv.Key{Type: "maps", Bucket: "b", Key: "m"}
	nonReplica := 0
	for i, nd := range c.Nodes {
		if !holdsReplica(c, nd.ID, ctr, 3) {
			nonReplica++
		}
		for j := 0; j < 10; j++ {
			if _, err := c.Client(i).UpdateDatatype(bg, ctr, dt.KindCounter, dt.CounterOp{Delta: 1}, dt.Context{}, kv.Options{}); err != nil {
				t.Fatalf("increment through node %d: %v", i+1, err)
			}
		}
		if _, err := c.Client(i).UpdateDatatype(bg, set, dt.KindSet, dt.SetOp{}.Add(fmt.Sprint("e", i)), dt.Context{}, kv.Options{}); err != nil {
			t.Fatalf("set add through node %d: %v", i+1, err)
		}
		op := dt.MapOp{}.Update(dt.Field{Name: "n", Type: dt.KindCounter}, dt.CounterOp{Delta: 2}).
			Update(dt.Field{Name: fmt.Sprint("f", i), Type: dt.KindRegister}, dt.RegisterOp{Value: "v", Timestamp: int64(i + 1)})
		if _, err := c.Client(i).UpdateDatatype(bg, mp, dt.KindMap, op, dt.Context{}, kv.Options{}); err != nil {
			t.Fatalf("map update through node %d: %v", i+1, err)
		}
		if _, err := c.Client(i).UpdateDatatype(bg, ol, dt.KindOpLog, dt.OpLogOp{Amount: 10}, dt.Context{}, kv.Options{}); err != nil {
			t.Fatalf("oplog deposit through node %d: %v", i+1, err)
		}
		if _, err := c.Client(i).UpdateDatatype(bg, bc, dt.KindBCounter, dt.BCounterOp{Delta: 3}, dt.Context{}, kv.Options{}); err != nil {
			t.Fatalf("bcounter increment through node %d: %v", i+1, err)
		}
	}
	if nonReplica == 0 {
		t.Fatal("every node holds a replica of the counter: the test shows nothing")
	}
	for i := range c.Nodes {
		v, err := c.Client(i).FetchDatatype(bg, ctr, dt.KindCounter, kv.Options{R: quorum.ValAll})
		if err != nil || v.Value().(int64) != 50 {
			t.Fatalf("counter through node %d: %v %v", i+1, v, err)
		}
		s, err := c.Client(i).FetchDatatype(bg, set, dt.KindSet, kv.Options{R: quorum.ValAll})
		if err != nil || len(s.Value().([]string)) != 5 {
			t.Fatalf("set through node %d: %v %v", i+1, s, err)
		}
		o, err := c.Client(i).FetchDatatype(bg, ol, dt.KindOpLog, kv.Options{R: quorum.ValAll})
		if err != nil || o.(*dt.OpLog).Balance() != 50 {
			t.Fatalf("oplog through node %d: %v %v", i+1, o, err)
		}
		b, err := c.Client(i).FetchDatatype(bg, bc, dt.KindBCounter, kv.Options{R: quorum.ValAll})
		if err != nil || b.Value().(int64) != 15 {
			t.Fatalf("bcounter through node %d: %v %v", i+1, b, err)
		}
		m, err := c.Client(i).FetchDatatype(bg, mp, dt.KindMap, kv.Options{R: quorum.ValAll})
		if err != nil {
			t.Fatalf("map through node %d: %v", i+1, err)
		}
		if got := fmt.Sprint(m.Value()); got != fmt.Sprint(mustMap(t, c, mp)) {
			t.Fatalf("map differs through node %d: %s", i+1, got)
		}
	}
	// A remove of an absent element without a context fails with Riak's
	// precondition error through a node that holds no replica: the typed
	// error crosses the wire.
	for i, nd := range c.Nodes {
		if holdsReplica(c, nd.ID, set, 3) {
			continue
		}
		_, err := c.Client(i).UpdateDatatype(bg, set, dt.KindSet, dt.SetOp{}.Remove("absent"), dt.Context{}, kv.Options{})
		var pe *dt.PreconditionError
		if !errors.As(err, &pe) || pe.Element != "absent" {
			t.Fatalf("remove of an absent element through node %d: %v", i+1, err)
		}
		// And an operation a coordinator refuses as invalid is a typed
		// invalid-operation error, not a generic failure.
		_, err = c.Client(i).UpdateDatatype(bg, mp, dt.KindMap, dt.MapOp{}.Update(dt.Field{Name: "r", Type: dt.KindRegister}, dt.RegisterOp{Value: "x"}), dt.Context{}, kv.Options{})
		if !errors.Is(err, dt.ErrInvalidOp) {
			t.Fatalf("invalid map op through node %d: %v", i+1, err)
		}
		break
	}
}

func mustMap(t *testing.T, c *Cluster, k kv.Key) any {
	t.Helper()
	m, err := c.Client(0).FetchDatatype(bg, k, dt.KindMap, kv.Options{R: quorum.ValAll})
	if err != nil {
		t.Fatal(err)
	}
	return m.Value()
}
