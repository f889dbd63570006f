package jepsen

import "testing"

// The checkers on hand-made histories: what counts as lost, unexpected
// or fine for each workload (table test of a pure function).
func TestJudge(t *testing.T) {
	op := func(k Kind, v string, o Outcome) Op { return Op{Kind: k, Key: "k", Value: v, Outcome: o} }
	cases := []struct {
		name             string
		kind             Kind
		ops              []Op
		final            []string
		count            int64
		lost, unexpected int
	}{
		{"set: every ack present", KindSet, []Op{op(KindSet, "a", OK), op(KindSet, "b", OK)}, []string{"a", "b"}, 0, 0, 0},
		{"set: ack missing", KindSet, []Op{op(KindSet, "a", OK), op(KindSet, "b", OK)}, []string{"a"}, 0, 1, 0},
		{"set: indeterminate may be absent or present", KindSet, []Op{op(KindSet, "a", Indeterminate), op(KindSet, "b", Indeterminate)}, []string{"b"}, 0, 0, 0},
		{"set: a failed add must be absent", KindSet, []Op{op(KindSet, "a", Fail)}, []string{"a"}, 0, 0, 1},
		{"set: an element nobody wrote", KindDTSet, []Op{op(KindDTSet, "a", OK)}, []string{"a", "zz"}, 0, 0, 1},
		{"counter: in range", KindCounter, []Op{op(KindCounter, "1", OK), op(KindCounter, "1", Indeterminate), op(KindCounter, "1", Fail)}, nil, 2, 0, 0},
		{"counter: below acks", KindCounter, []Op{op(KindCounter, "1", OK), op(KindCounter, "1", OK)}, nil, 1, 1, 0},
		{"counter: above acks + indeterminate", KindCounter, []Op{op(KindCounter, "1", OK), op(KindCounter, "1", Fail)}, nil, 2, 0, 1},
		{"lww: ack read back", KindLWW, []Op{op(KindLWW, "v", OK)}, []string{"v"}, 0, 0, 0},
		{"lww: ack lost", KindLWW, []Op{op(KindLWW, "v", OK)}, nil, 0, 1, 0},
		{"lww: indeterminate absent", KindLWW, []Op{op(KindLWW, "v", Indeterminate)}, nil, 0, 0, 0},
		{"lww: another value", KindLWW, []Op{op(KindLWW, "v", OK)}, []string{"w"}, 0, 0, 1},
		{"lww: siblings", KindLWW, []Op{op(KindLWW, "v", OK)}, []string{"v", "v"}, 0, 0, 1},
		{"lww: a failed write is there", KindLWW, []Op{op(KindLWW, "v", Fail)}, []string{"v"}, 0, 0, 1},
	}
	for _, tc := range cases {
		s := &Stat{}
		judge(s, tc.kind, "k", tc.ops, tc.final, tc.count)
		if s.Lost != tc.lost || s.Unexpected != tc.unexpected {
			t.Errorf("%s: lost %d unexpected %d, want %d %d (%v)", tc.name, s.Lost, s.Unexpected, tc.lost, tc.unexpected, s.Examples)
		}
	}
}
