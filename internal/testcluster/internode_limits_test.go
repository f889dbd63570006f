package testcluster

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/internal/transport"
	"github.com/riakgo/riakgo/internal/wire"
	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/ring"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// kvPutReq is kv's MsgKVPut body as it crosses the wire (the fields this
// test needs; the encoding is kv's vnodeReq).
type kvPutReq struct {
	Partition int    `msgpack:"p"`
	Type      string `msgpack:"t"`
	Bucket    string `msgpack:"b"`
	Key       string `msgpack:"k"`
	Obj       []byte `msgpack:"o,omitempty"`
}

// TestInternodePutLimits: issue 12, finding 1's second part. A peer on the
// internode transport (here one with the cluster's credentials: the memnet
// network does not authenticate) sends kv_put an object with 10,000
// siblings; the vnode refuses it, as the HTTP path refuses a write that
// would leave more than 100.
func TestInternodePutLimits(t *testing.T) {
	c := New(t, 2, Options{RingSize: 16})
	k := kv.Key{Type: "default", Bucket: "b", Key: "victim"}
	p := c.Ring.Partition(ring.KeyHash(k.Type, k.Bucket, k.Key))
	owner := c.Ring.Owner(p)
	var o siblings.Object
	actor := vclock.Actor{ID: 0xbad, Epoch: 1}
	for i := 1; i <= 10000; i++ {
		o.Clock, _ = o.Clock.Increment(actor, 1)
		o.Siblings = append(o.Siblings, siblings.Sibling{Dot: vclock.Dot{Actor: actor, Counter: uint64(i)},
			Value: []byte(fmt.Sprint(i)), Meta: siblings.Meta{ContentType: "text/plain", VTag: fmt.Sprint("v", i)}})
	}
	intruder := c.Net.Endpoint("intruder")
	defer intruder.Close()
	err := intruder.Call(context.Background(), owner, wire.MsgKVPut,
		&kvPutReq{Partition: p, Type: k.Type, Bucket: k.Bucket, Key: k.Key, Obj: wire.EncodeObject(&o)}, nil)
	var re *transport.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("a 10,000-sibling object was merged: %v", err)
	}
	for i := range c.Nodes {
		v := c.node(i).N.Service().Vnode(p)
		if v == nil {
			continue
		}
		if got, _ := v.Get(k); got != nil {
			t.Fatalf("%s stored %d siblings", c.Nodes[i].ID, len(got.Siblings))
		}
	}
	// An object within the bound (a repair) still merges.
	small := siblings.Object{Clock: o.Clock[:1], Siblings: o.Siblings[:3]}
	small.Clock = vclock.VClock{{Actor: actor, Counter: 3, Timestamp: 1}}
	if err := intruder.Call(context.Background(), owner, wire.MsgKVPut,
		&kvPutReq{Partition: p, Type: k.Type, Bucket: k.Bucket, Key: k.Key, Obj: wire.EncodeObject(&small)}, nil); err != nil {
		t.Fatalf("a 3-sibling repair: %v", err)
	}
}
