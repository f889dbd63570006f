package quorum_test

import (
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/quorum"
)

func TestGetValidate(t *testing.T) {
	const nvalText = "Specified w/dw/pw values invalid for bucket n value of 3"
	cases := []struct {
		name            string
		p               quorum.Get
		primUp, prefLen int
		want            *quorum.Error
		text            string
	}{
		{"ok", quorum.Get{N: 3, R: 2}, 3, 3, nil, ""},
		{"ok pr=all", quorum.Get{N: 3, R: 2, PR: 3}, 3, 3, nil, ""},
		{"ok r=n=1", quorum.Get{N: 1, R: 1, PR: 1}, 1, 1, nil, ""},
		{"ok sloppy: fallbacks fill the preflist", quorum.Get{N: 3, R: 3}, 1, 3, nil, ""},

		// 1. R invalid.
		{"r=0", quorum.Get{N: 3, R: 0}, 3, 3, &quorum.Error{Kind: quorum.Violation, Param: "r", Need: 0}, ""},
		{"r<0", quorum.Get{N: 3, R: -1}, 3, 3, &quorum.Error{Kind: quorum.Violation, Param: "r", Need: -1}, ""},
		// R invalid wins over every later check.
		{"r invalid before pr invalid", quorum.Get{N: 3, R: 0, PR: -1}, 0, 0, &quorum.Error{Kind: quorum.Violation, Param: "r", Need: 0}, ""},

		// 2. R > N.
		{"r>n", quorum.Get{N: 3, R: 4}, 3, 3, &quorum.Error{Kind: quorum.NValViolation, Param: "r", N: 3}, nvalText},
		{"r>n before pr invalid", quorum.Get{N: 3, R: 4, PR: -1}, 3, 3, &quorum.Error{Kind: quorum.NValViolation, Param: "r", N: 3}, nvalText},

		// 3. PR invalid.
		{"pr<0", quorum.Get{N: 3, R: 2, PR: -1}, 3, 3, &quorum.Error{Kind: quorum.Violation, Param: "pr", Need: -1}, ""},
		{"pr invalid before pr>primaries", quorum.Get{N: 3, R: 2, PR: -1}, 0, 0, &quorum.Error{Kind: quorum.Violation, Param: "pr", Need: -1}, ""},

		// 4. PR > N.
		{"pr>n", quorum.Get{N: 3, R: 2, PR: 4}, 3, 3, &quorum.Error{Kind: quorum.NValViolation, Param: "pr", N: 3}, nvalText},
		{"pr>n before pr>primaries", quorum.Get{N: 3, R: 2, PR: 4}, 0, 3, &quorum.Error{Kind: quorum.NValViolation, Param: "pr", N: 3}, nvalText},

		// 5. PR > primaries up → {pr_val_unsatisfied, PR, NumPrimaries}.
		{"pr>primaries", quorum.Get{N: 3, R: 1, PR: 3}, 0, 3, &quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 3, Got: 0}, "PR-value unsatisfied: 0/3"},
		{"pr>primaries 1/2", quorum.Get{N: 3, R: 1, PR: 2}, 1, 3, &quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 2, Got: 1}, "PR-value unsatisfied: 1/2"},
		{"pr>primaries before insufficient", quorum.Get{N: 3, R: 3, PR: 2}, 1, 1, &quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 2, Got: 1}, "PR-value unsatisfied: 1/2"},

		// 6. R > preflist → {insufficient_vnodes, NumVnodes, need, R}.
		{"r>preflist", quorum.Get{N: 3, R: 2}, 1, 1, &quorum.Error{Kind: quorum.InsufficientVnodes, Param: "r", Need: 2, Got: 1}, ""},
		{"empty preflist", quorum.Get{N: 3, R: 1}, 0, 0, &quorum.Error{Kind: quorum.InsufficientVnodes, Param: "r", Need: 1, Got: 0}, ""},
		{"r=all preflist 2", quorum.Get{N: 3, R: 3, PR: 2}, 2, 2, &quorum.Error{Kind: quorum.InsufficientVnodes, Param: "r", Need: 3, Got: 2}, ""},
	}
	for _, tc := range cases {
		err := tc.p.Validate(tc.primUp, tc.prefLen)
		wantErr(t, fmt.Sprintf("%s: %+v.Validate(%d, %d)", tc.name, tc.p, tc.primUp, tc.prefLen), err, tc.want, tc.text)
	}
}

// rep is one vnode reply to a read: a kind and whether a primary sent it.
type rep struct {
	r       quorum.Reply
	primary bool
}

func (x rep) String() string {
	s := [...]string{"ok", "del", "nf", "fail"}[x.r]
	if x.primary {
		return s + "/p"
	}
	return s + "/f"
}

var (
	okP   = rep{quorum.ReplyOK, true}
	okF   = rep{quorum.ReplyOK, false}
	delP  = rep{quorum.ReplyDeleted, true}
	delF  = rep{quorum.ReplyDeleted, false}
	nfP   = rep{quorum.ReplyNotFound, true}
	nfF   = rep{quorum.ReplyNotFound, false}
	failP = rep{quorum.ReplyFail, true}
	failF = rep{quorum.ReplyFail, false}
)

// TestGetCoreScenarios feeds replies one by one. enough[i] is Enough()
// after reply i; the response is checked after the last reply.
func TestGetCoreScenarios(t *testing.T) {
	cases := []struct {
		name    string
		p       quorum.Get
		replies []rep
		enough  []bool
		outcome quorum.Outcome
		err     *quorum.Error
		text    string
	}{
		// §14.3, N=3 R=2, notfound_ok=true: the first two replies decide.
		{
			name: "nfok: two quick notfounds answer (merge, empty)",
			p:    quorum.Get{N: 3, R: 2, NotFoundOK: true}, replies: []rep{nfP, nfP},
			enough: []bool{false, true}, outcome: quorum.OutcomeMerge,
		},
		{
			name: "nfok: notfound and object answer",
			p:    quorum.Get{N: 3, R: 2, NotFoundOK: true}, replies: []rep{nfP, okP},
			enough: []bool{false, true}, outcome: quorum.OutcomeMerge,
		},
		// §14.3, N=3 R=2, notfound_ok=false: wait for 2 objects or fail
		// after 2 notfounds/errors.
		{
			name: "!nfok: notfound then two objects",
			p:    quorum.Get{N: 3, R: 2}, replies: []rep{nfP, okP, okP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeMerge,
		},
		{
			name: "!nfok: two notfounds → notfound",
			p:    quorum.Get{N: 3, R: 2}, replies: []rep{nfP, nfP},
			enough: []bool{false, true}, outcome: quorum.OutcomeNotFound,
		},
		{
			name: "!nfok: notfound and error → r unsatisfied",
			p:    quorum.Get{N: 3, R: 2}, replies: []rep{nfP, failP},
			enough: []bool{false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "r", Need: 2, Got: 0}, text: "R-value unsatisfied: 0/2",
		},
		{
			name: "!nfok: object, notfound, error → r unsatisfied 1/2",
			p:    quorum.Get{N: 3, R: 2}, replies: []rep{okP, nfP, failP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "r", Need: 2, Got: 1}, text: "R-value unsatisfied: 1/2",
		},
		{
			name: "!nfok: object and two notfounds → r unsatisfied, not notfound (a live object was seen)",
			p:    quorum.Get{N: 3, R: 2}, replies: []rep{okP, nfP, nfP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "r", Need: 2, Got: 1}, text: "R-value unsatisfied: 1/2",
		},
		{
			name: "!nfok R=all: one notfound is enough to fail, live object seen",
			p:    quorum.Get{N: 3, R: 3}, replies: []rep{okP, nfP},
			enough: []bool{false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "r", Need: 3, Got: 1}, text: "R-value unsatisfied: 1/3",
		},
		// §14.3, R=1 notfound_ok=false: basic_quorum stops after 2
		// notfounds instead of 3.
		{
			name: "R=1 !nfok: three notfounds without basic_quorum",
			p:    quorum.Get{N: 3, R: 1}, replies: []rep{nfP, nfP, nfP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeNotFound,
		},
		{
			name: "R=1 !nfok basic_quorum: two notfounds",
			p:    quorum.Get{N: 3, R: 1, BasicQuorum: true}, replies: []rep{nfP, nfP},
			enough: []bool{false, true}, outcome: quorum.OutcomeNotFound,
		},
		{
			name: "R=1 !nfok basic_quorum: notfound then object",
			p:    quorum.Get{N: 3, R: 1, BasicQuorum: true}, replies: []rep{nfP, okP},
			enough: []bool{false, true}, outcome: quorum.OutcomeMerge,
		},
		{
			name: "R=1 !nfok basic_quorum N=5: three notfounds",
			p:    quorum.Get{N: 5, R: 1, BasicQuorum: true}, replies: []rep{nfP, nfP, nfP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeNotFound,
		},
		// PR counts only primaries; fallbacks count for R but not PR.
		{
			name: "PR=2: fallback objects do not satisfy PR",
			p:    quorum.Get{N: 3, R: 1, PR: 2}, replies: []rep{okF, okP, okP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeMerge,
		},
		{
			name: "PR=2: R met by fallbacks, PR not → pr unsatisfied",
			p:    quorum.Get{N: 3, R: 1, PR: 2}, replies: []rep{okF, okF, okP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 2, Got: 1}, text: "PR-value unsatisfied: 1/2",
		},
		{
			name: "PR=2 nfok: notfound from a primary counts as primary ok",
			p:    quorum.Get{N: 3, R: 2, PR: 2, NotFoundOK: true}, replies: []rep{nfP, nfF, okP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeMerge,
		},
		{
			name: "PR=2 nfok: notfounds from fallbacks do not count for PR",
			p:    quorum.Get{N: 3, R: 1, PR: 2, NotFoundOK: true}, replies: []rep{nfF, nfF, nfP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 2, Got: 1}, text: "PR-value unsatisfied: 1/2",
		},
		{
			name: "PR=1: a primary tombstone counts as primary ok",
			p:    quorum.Get{N: 3, R: 1, PR: 1}, replies: []rep{delF, delP},
			enough: []bool{false, true}, outcome: quorum.OutcomeMerge,
		},
		// Tombstones count as ok.
		{
			name: "tombstones satisfy R (merge, the merged tombstone is reported by the coordinator)",
			p:    quorum.Get{N: 3, R: 2}, replies: []rep{delP, delF},
			enough: []bool{false, true}, outcome: quorum.OutcomeMerge,
		},
		{
			name: "tombstone plus notfounds, quorum failed → notfound",
			p:    quorum.Get{N: 3, R: 2}, replies: []rep{delP, nfP, nfP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeNotFound,
		},
		{
			name: "tombstone, notfound, fail → r unsatisfied (a failure)",
			p:    quorum.Get{N: 3, R: 2}, replies: []rep{delP, nfP, failP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "r", Need: 2, Got: 1}, text: "R-value unsatisfied: 1/2",
		},
		{
			name: "all tombstones from fallbacks, PR unmet → notfound",
			p:    quorum.Get{N: 3, R: 1, PR: 2}, replies: []rep{delF, delF, delP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeNotFound,
		},
		{
			name: "all notfounds (nfok) from fallbacks, PR unmet → pr unsatisfied (notfounds are oks)",
			p:    quorum.Get{N: 3, R: 1, PR: 1, NotFoundOK: true}, replies: []rep{nfF, nfF, nfF},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 1, Got: 0}, text: "PR-value unsatisfied: 0/1",
		},
		// r_val_unsatisfied vs pr_val_unsatisfied.
		{
			name: "PR>R, fail threshold → pr unsatisfied",
			p:    quorum.Get{N: 3, R: 2, PR: 3}, replies: []rep{failP},
			enough: []bool{true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 3, Got: 0}, text: "PR-value unsatisfied: 0/3",
		},
		{
			name: "PR=R → pr unsatisfied (PR ≥ R is the more restrictive)",
			p:    quorum.Get{N: 3, R: 2, PR: 2}, replies: []rep{failP, okP, failP},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 2, Got: 1}, text: "PR-value unsatisfied: 1/2",
		},
		{
			name: "R>PR → r unsatisfied",
			p:    quorum.Get{N: 3, R: 3, PR: 1}, replies: []rep{okP, failP},
			enough: []bool{false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "r", Need: 3, Got: 1}, text: "R-value unsatisfied: 1/3",
		},
		{
			name: "R>PR=0 → r unsatisfied",
			p:    quorum.Get{N: 3, R: 2}, replies: []rep{failP, failF},
			enough: []bool{false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "r", Need: 2, Got: 0}, text: "R-value unsatisfied: 0/2",
		},
		{
			name: "R met, PR not, R > PR → still pr unsatisfied",
			p:    quorum.Get{N: 3, R: 3, PR: 1}, replies: []rep{okF, okF, okF},
			enough: []bool{false, false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 1, Got: 0}, text: "PR-value unsatisfied: 0/1",
		},
		// Enough after all N replied, when neither quorum nor the fail
		// threshold decided.
		{
			name: "N=1 single notfound (nfok false) → notfound",
			p:    quorum.Get{N: 1, R: 1}, replies: []rep{nfP},
			enough: []bool{true}, outcome: quorum.OutcomeNotFound,
		},
		{
			name: "N=5 R=1 PR=3: all replied",
			p:    quorum.Get{N: 5, R: 1, PR: 3}, replies: []rep{okF, okP, okF, okP, okF},
			enough: []bool{false, false, false, false, true}, outcome: quorum.OutcomeError,
			err: &quorum.Error{Kind: quorum.Unsatisfied, Param: "pr", Need: 3, Got: 2}, text: "PR-value unsatisfied: 2/3",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.enough) != len(tc.replies) {
				t.Fatalf("bad case: %d replies, %d enough", len(tc.replies), len(tc.enough))
			}
			c := quorum.NewGetCore(tc.p)
			if c.Enough() || c.Done() {
				t.Fatalf("fresh core: Enough=%v Done=%v", c.Enough(), c.Done())
			}
			for i, r := range tc.replies {
				c.Add(r.primary, r.r)
				if got := c.Enough(); got != tc.enough[i] {
					t.Fatalf("after %v: Enough() = %v, want %v", tc.replies[:i+1], got, tc.enough[i])
				}
				if got, want := c.Done(), i+1 >= tc.p.N; got != want {
					t.Fatalf("after %v: Done() = %v, want %v", tc.replies[:i+1], got, want)
				}
			}
			out, err := c.Response()
			if out != tc.outcome {
				t.Errorf("Response() outcome = %d, want %d (err %v)", out, tc.outcome, err)
			}
			wantErr(t, "Response()", err, tc.err, tc.text)
		})
	}
}

// getModel is an independent model of riak_kv_get_core (reference §14.3).
type getModel struct {
	p                                quorum.Get
	ok, pok, notfound, fail, deleted int
	received                         int
}

func (m getModel) add(x rep) getModel {
	m.received++
	switch x.r {
	case quorum.ReplyOK, quorum.ReplyDeleted:
		m.ok++
		if x.primary {
			m.pok++
		}
		if x.r == quorum.ReplyDeleted {
			m.deleted++
		}
	case quorum.ReplyNotFound:
		if m.p.NotFoundOK {
			m.ok++
			if x.primary {
				m.pok++
			}
		} else {
			m.notfound++
		}
	case quorum.ReplyFail:
		m.fail++
	}
	return m
}

func (m getModel) quorumMet() bool { return m.ok >= m.p.R && m.pok >= m.p.PR }

func (m getModel) threshold() int {
	n, r, pr := m.p.N, m.p.R, m.p.PR
	t := n - max(r, pr) + 1
	if m.p.BasicQuorum && n/2+1 < t {
		t = n/2 + 1
	}
	return t
}

func (m getModel) enough() bool {
	return m.quorumMet() || m.notfound+m.fail >= m.threshold() || m.received >= m.p.N
}

// response returns the outcome and, for errors, (param, need, got).
func (m getModel) response() (quorum.Outcome, string, int, int) {
	p := m.p
	switch {
	case m.quorumMet():
		return quorum.OutcomeMerge, "", 0, 0
	case m.notfound+m.deleted > 0 && m.ok-m.deleted == 0 && m.fail == 0:
		return quorum.OutcomeNotFound, "", 0, 0
	case p.PR > 0 && m.pok < p.PR && m.ok >= p.R:
		return quorum.OutcomeError, "pr", p.PR, m.pok
	case p.PR >= p.R:
		return quorum.OutcomeError, "pr", p.PR, m.pok
	default:
		return quorum.OutcomeError, "r", p.R, m.ok
	}
}

var allReps = []rep{okP, okF, delP, delF, nfP, nfF, failP, failF}

// TestGetCoreBruteForce checks GetCore against the model for N in 1..5,
// every R, PR, notfound_ok and basic_quorum, and every sequence of up to N
// replies: Enough agrees at every prefix and is true after the N-th reply;
// once the quorum is met the response is a merge; wherever the model is
// enough the response agrees; and without basic_quorum, a read that gave
// up on the quorum could never have met it.
func TestGetCoreBruteForce(t *testing.T) {
	maxN := 5
	if testing.Short() {
		maxN = 4
	}
	var checked int
	for n := 1; n <= maxN; n++ {
		for r := 1; r <= n; r++ {
			for pr := 0; pr <= n; pr++ {
				for _, nfok := range []bool{false, true} {
					for _, bq := range []bool{false, true} {
						p := quorum.Get{N: n, R: r, PR: pr, NotFoundOK: nfok, BasicQuorum: bq}
						if err := p.Validate(n, n); err != nil {
							t.Fatalf("%+v.Validate(n, n): %v", p, err)
						}
						var seq []rep
						bad := false
						report := func(format string, args ...any) {
							bad = true
							t.Errorf("%+v after %v: %s", p, seq, fmt.Sprintf(format, args...))
						}
						var walk func(c quorum.GetCore, m getModel) bool
						// walk returns whether the quorum is met at this
						// prefix or at any extension of it.
						walk = func(c quorum.GetCore, m getModel) bool {
							checked++
							if bad {
								return true
							}
							enough := c.Enough()
							if enough != m.enough() {
								report("Enough() = %v, model %v", enough, m.enough())
							}
							if len(seq) == n && !enough {
								report("not Enough after all N replies")
							}
							if enough {
								out, err := c.Response()
								mo, param, need, got := m.response()
								if m.quorumMet() && out != quorum.OutcomeMerge {
									report("quorum met but outcome %d (%v)", out, err)
								}
								if out != mo {
									report("outcome %d (%v), model %d", out, err, mo)
								}
								if mo == quorum.OutcomeError {
									want := quorum.Error{Kind: quorum.Unsatisfied, Param: param, Need: need, Got: got}
									if qe, ok := err.(*quorum.Error); !ok || *qe != want {
										report("Response() error %v, want %+v", err, want)
									}
								} else if err != nil {
									report("Response() error %v, want nil", err)
								}
							}
							met := m.quorumMet()
							if len(seq) < n {
								for _, x := range allReps {
									cc := c
									cc.Add(x.primary, x.r)
									seq = append(seq, x)
									if walk(cc, m.add(x)) {
										met = true
									}
									seq = seq[:len(seq)-1]
								}
							}
							if !bq && enough && !m.quorumMet() && met {
								report("gave up on the quorum (Enough, not met) but an extension meets it")
							}
							return met
						}
						walk(*quorum.NewGetCore(p), getModel{p: p})
					}
				}
			}
		}
	}
	t.Logf("checked %d reply prefixes", checked)
}
