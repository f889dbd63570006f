package testcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riakgo/riakgo/kv"
	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/ring"
)

// Regression tests for issue 16's findings, in one process. Each failed
// on the code before its fix.

// keyAvoiding returns a key of bucket b whose n primaries are all on nodes
// other than avoid.
func keyAvoiding(t *testing.T, c *Cluster, b string, n int, avoid ring.NodeID) kv.Key {
	t.Helper()
	for i := range 10000 {
		k := key(b, fmt.Sprintf("k%d", i))
		ok := true
		for _, tg := range ring.PrefList(c.Ring, ring.KeyHash(k.Type, k.Bucket, k.Key), n, nil) {
			if tg.Node == avoid {
				ok = false
			}
		}
		if ok {
			return k
		}
	}
	t.Fatalf("no key of %s avoids %s", b, avoid)
	return kv.Key{}
}

func setNVal(t *testing.T, c *Cluster, bucket string, n int) {
	t.Helper()
	if err := c.Client(0).SetBucketProps(kv.DefaultType, bucket, map[string]json.RawMessage{"n_val": json.RawMessage(fmt.Sprint(n))}); err != nil {
		t.Fatal(err)
	}
	c.Settle(30 * time.Second)
	for i := range c.Nodes {
		if p, err := c.Client(i).BucketProps(kv.DefaultType, bucket); err != nil || p.NVal != n {
			t.Fatalf("node %d: n_val %d %v", i+1, p.NVal, err)
		}
	}
}

// Finding 1: data a node holds as a fallback is handed home after that
// node restarts. Nodes 1 and 2 die; a write through node 3 lands on
// fallback vnodes of node 3 only; node 3 restarts (its fallback vnodes are
// not open after a start); nodes 1 and 2 come back. The write must reach
// its primaries, and until they are up node 3 counts the partition as
// waiting to hand off.
func TestHintsSurviveARestartOfTheirHolder(t *testing.T) {
	c := New(t, 3, Options{RingSize: 16})
	setNVal(t, c, "hint", 2)
	k := keyAvoiding(t, c, "hint", 2, c.Nodes[2].ID)
	c.Kill(0)
	c.Kill(1)
	if err := put(t, c.Client(2), k, "hinted", kv.Options{}); err != nil {
		t.Fatal(err)
	}
	c.Kill(2)
	c.Restart(2)
	c.Tick()
	if st := c.Nodes[2].Mgr.Status(); st.Waiting == 0 {
		t.Fatalf("node 3 holds hinted data for down owners but reports nothing waiting: %+v", st)
	}
	c.Restart(0)
	c.Restart(1)
	c.Settle(60 * time.Second)
	for i := range c.Nodes {
		o, err := c.Client(i).Get(bg, k, kv.Options{R: quorum.ValAll, PR: quorum.ValAll})
		if err != nil || len(values(o)) != 1 || values(o)[0] != "hinted" {
			t.Fatalf("read at r=all&pr=all through node %d: %v %v", i+1, o, err)
		}
	}
	c.checkFallbacksEmpty(t)
}

// errIs reports whether err is (or wraps) target, for quorum errors too.
func errIs(err, target error) bool { return errors.Is(err, target) }
