package quorum_test

import (
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/quorum"
)

// node_confirms (Riak 3.x): a write succeeds only once its durable
// replies come from that many distinct nodes; a read likewise for its ok
// replies. The cases follow riak_kv_put_core's tests.
func TestNodeConfirmsPut(t *testing.T) {
	type reply struct {
		node    string
		r       quorum.PutReply
		primary bool
	}
	dw := func(node string) reply { return reply{node, quorum.PutDW, true} }
	w := func(node string) reply { return reply{node, quorum.PutW, true} }
	fail := func(node string) reply { return reply{node, quorum.PutFail, true} }
	cases := []struct {
		name    string
		p       quorum.Put
		replies []reply
		enough  []bool
		text    string // "" for success
	}{
		{"three vnodes on three nodes", quorum.Put{N: 3, W: 2, DW: 2, NodeConfirms: 2},
			[]reply{w("a"), dw("a"), w("b"), dw("b")}, []bool{false, false, false, true}, ""},
		{"quorum met on one node waits for a second node", quorum.Put{N: 3, W: 2, DW: 2, NodeConfirms: 2},
			[]reply{w("a"), dw("a"), w("a"), dw("a"), w("b"), dw("b")}, []bool{false, false, false, false, false, true}, ""},
		{"every vnode on one node: unsatisfied once all replied", quorum.Put{N: 3, W: 2, DW: 2, NodeConfirms: 2},
			[]reply{w("a"), dw("a"), w("a"), dw("a"), w("a"), dw("a")}, []bool{false, false, false, false, false, true},
			"node_confirms-value unsatisfied: 1/2"},
		{"fails > N - node_confirms decide early", quorum.Put{N: 3, W: 1, DW: 1, NodeConfirms: 3},
			[]reply{w("a"), dw("a"), fail("b")}, []bool{false, false, true}, "node_confirms-value unsatisfied: 1/3"},
		{"node_confirms 0 is no check", quorum.Put{N: 3, W: 2, DW: 2},
			[]reply{w("a"), dw("a"), w("a"), dw("a")}, []bool{false, false, false, true}, ""},
		{"node_confirms all on three nodes", quorum.Put{N: 3, W: 1, DW: 1, NodeConfirms: 3},
			[]reply{w("a"), dw("a"), w("b"), dw("b"), w("c"), dw("c")}, []bool{false, false, false, false, false, true}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := quorum.NewPutCore(tc.p)
			for i, r := range tc.replies {
				c.AddFrom(r.primary, r.node, r.r)
				if got := c.Enough(); got != tc.enough[i] {
					t.Fatalf("after reply %d: Enough %v, want %v", i+1, got, tc.enough[i])
				}
			}
			err := c.Response()
			switch {
			case tc.text == "" && err != nil:
				t.Fatalf("Response: %v, want success", err)
			case tc.text != "" && (err == nil || err.Error() != tc.text):
				t.Fatalf("Response: %v, want %q", err, tc.text)
			}
		})
	}
}

func TestNodeConfirmsValidate(t *testing.T) {
	for _, tc := range []struct {
		p    quorum.Put
		text string
	}{
		{quorum.Put{N: 3, W: 2, DW: 2, NodeConfirms: 3}, ""},
		{quorum.Put{N: 3, W: 2, DW: 2, NodeConfirms: 4}, "Specified w/dw/pw values invalid for bucket n value of 3"},
		{quorum.Put{N: 3, W: 2, DW: 2, NodeConfirms: -1}, "Invalid node_confirms value -1: must not be negative"},
	} {
		err := tc.p.Validate(3, 3)
		if got := fmt.Sprint(err); (tc.text == "" && err != nil) || (tc.text != "" && got != tc.text) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.text)
		}
		g := quorum.Get{N: 3, R: 2, NodeConfirms: tc.p.NodeConfirms}
		if err := g.Validate(3, 3); (tc.text == "") != (err == nil) {
			t.Errorf("get %+v: %v", g, err)
		}
	}
}

func TestNodeConfirmsGet(t *testing.T) {
	c := quorum.NewGetCore(quorum.Get{N: 3, R: 2, NotFoundOK: true, NodeConfirms: 2})
	c.AddFrom(true, "a", quorum.ReplyOK)
	c.AddFrom(false, "a", quorum.ReplyOK)
	if c.Enough() {
		t.Fatal("R met on one node: Enough before a second node answered")
	}
	c.AddFrom(true, "b", quorum.ReplyNotFound)
	if !c.Enough() {
		t.Fatal("not Enough with replies from two nodes")
	}
	if o, err := c.Response(); o != quorum.OutcomeMerge || err != nil {
		t.Fatalf("Response %v %v", o, err)
	}
	c = quorum.NewGetCore(quorum.Get{N: 3, R: 2, NotFoundOK: true, NodeConfirms: 2})
	for range 3 {
		c.AddFrom(false, "a", quorum.ReplyOK)
	}
	if o, err := c.Response(); !c.Enough() || o != quorum.OutcomeError || err == nil || err.Error() != "node_confirms-value unsatisfied: 1/2" {
		t.Fatalf("every replica on one node: %v %v", o, err)
	}
}
