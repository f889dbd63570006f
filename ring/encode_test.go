package ring_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/riakgo/riakgo/ring"
)

// sampleStates returns states that cover every part of the encoding:
// joining, leaving, down and invalid members, pending and completed
// transfers, staged changes and replacements.
func sampleStates(t testing.TB) []ring.State {
	c := newCluster(t, 16, "a")
	out := []ring.State{c.state["a"]}
	for _, n := range nodes("b", "c", "d") {
		if err := c.join(n, "a"); err != nil {
			t.Fatal(err)
		}
	}
	c.converge()
	out = append(out, c.state["a"])
	c.planCommit()
	c.converge()
	st := c.state["b"]
	for _, tr := range st.Transfers() {
		if tr.From == "b" {
			st, _ = st.CompleteTransfer("b", tr.Partition, c.tick())
			break
		}
	}
	a := c.state["a"]
	for _, tr := range a.Transfers() {
		if tr.From == "a" {
			a, _ = a.CompleteTransfer("a", tr.Partition, c.tick())
			break
		}
	}
	out = append(out, a)
	c.state["a"] = a
	c.settle()
	if err := c.join("e", "a"); err != nil {
		t.Fatal(err)
	}
	c.converge()
	_ = c.stage("a", ring.Change{Node: "b", Action: ring.ActionReplace, Target: "e"})
	_ = c.stage("c", ring.Change{Node: "d", Action: ring.ActionLeave})
	c.converge()
	out = append(out, c.state["c"])
	c.planCommit()
	c.converge()
	out = append(out, c.state["d"])
	c.unreach["c"] = true
	down, _ := c.state["a"].MarkDown("a", "c", c.tick())
	out = append(out, down)
	c.state["a"] = down
	c.settle()
	out = append(out, c.agreed())
	return out
}

func TestMarshalRoundTrip(t *testing.T) {
	for i, st := range sampleStates(t) {
		b, err := st.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back ring.State
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("state %d: %v", i, err)
		}
		if !ring.Equal(back, st) || !sameContent(back, st) {
			t.Fatalf("state %d: round trip differs", i)
		}
		b2, _ := back.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatalf("state %d: encoding not stable", i)
		}
		// Every strict prefix is rejected.
		for n := 0; n < len(b); n++ {
			var x ring.State
			if err := x.UnmarshalBinary(b[:n]); !errors.Is(err, ring.ErrMalformed) {
				t.Fatalf("state %d: prefix of %d/%d bytes: %v", i, n, len(b), err)
			}
		}
		// Trailing bytes are rejected.
		var x ring.State
		if err := x.UnmarshalBinary(append(b, 0)); !errors.Is(err, ring.ErrMalformed) {
			t.Fatalf("state %d: trailing byte accepted", i)
		}
		// Any single flipped byte is rejected or decodes to a canonical
		// state.
		for p := 0; p < len(b); p++ {
			for _, v := range []byte{0xff, b[p] ^ 1} {
				m := bytes.Clone(b)
				m[p] = v
				checkDecoded(t, m)
			}
		}
	}
	if _, err := (ring.State{}).MarshalBinary(); !errors.Is(err, ring.ErrZeroState) {
		t.Errorf("zero state: %v", err)
	}
}

// checkDecoded: whatever decodes is canonical and safe to use.
func checkDecoded(t testing.TB, b []byte) {
	var st ring.State
	if err := st.UnmarshalBinary(b); err != nil {
		if !errors.Is(err, ring.ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
		return
	}
	again, err := st.MarshalBinary()
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("accepted a non-canonical encoding")
	}
	if m, err := ring.Merge(st, st); err != nil || !ring.Equal(m, st) {
		t.Fatalf("decoded state does not merge with itself: %v", err)
	}
	// Nothing panics on a decoded state.
	_ = st.Owners()
	_ = st.FutureOwners()
	_ = st.Transfers()
	_ = st.Staged()
	_ = st.Ready()
	_, _ = st.MemberStatus()
	_ = st.RingStatus()
	_ = st.Ring().Size()
	_, _ = st.Plan()
	for _, m := range st.Members() {
		next, _ := st.Advance(m.Node, 1)
		_, _ = next.Plan()
		_, _ = st.Commit(m.Node, nil, 1)
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	good, _ := sampleStates(t)[3].MarshalBinary()
	cases := map[string][]byte{
		"empty":           nil,
		"version 0":       append([]byte{0}, good[1:]...),
		"version 2":       append([]byte{2}, good[1:]...),
		"only a version":  {1},
		"huge count":      {1, 1, 'x', 16, 4, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"ring size 3":     {1, 1, 'x', 3, 4},
		"target_n 0":      {1, 1, 'x', 16, 0},
		"empty cluster":   {1, 0, 16, 4},
		"garbage":         bytes.Repeat([]byte{0xff}, 64),
		"zero everywhere": make([]byte, 64),
	}
	for name, b := range cases {
		var st ring.State
		if err := st.UnmarshalBinary(b); !errors.Is(err, ring.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	for _, st := range sampleStates(f) {
		b, _ := st.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecoded(t, b)
	})
}
