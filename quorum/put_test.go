package quorum_test

import (
	"fmt"
	"testing"

	"github.com/riakgo/riakgo/quorum"
)

func TestPutValidate(t *testing.T) {
	const nvalText = "Specified w/dw/pw values invalid for bucket n value of 3"
	cases := []struct {
		name            string
		p               quorum.Put
		primUp, prefLen int
		want            *quorum.Error
		text            string
	}{
		{"ok", quorum.Put{N: 3, W: 2, DW: 2}, 3, 3, nil, ""},
		{"ok dw=0 accepted", quorum.Put{N: 3, W: 1, DW: 0}, 3, 3, nil, ""},
		{"ok all", quorum.Put{N: 3, W: 3, DW: 3, PW: 3}, 3, 3, nil, ""},
		{"ok sloppy", quorum.Put{N: 3, W: 3, DW: 3, PW: 1}, 1, 3, nil, ""},

		// Invalid values, in Riak's order: pw, w, dw.
		{"pw<0", quorum.Put{N: 3, W: 2, DW: 2, PW: -1}, 3, 3, &quorum.Error{Kind: quorum.Violation, Param: "pw", Need: -1}, ""},
		{"w=0", quorum.Put{N: 3, W: 0, DW: 1}, 3, 3, &quorum.Error{Kind: quorum.Violation, Param: "w", Need: 0}, ""},
		{"w<0", quorum.Put{N: 3, W: -2, DW: 1}, 3, 3, &quorum.Error{Kind: quorum.Violation, Param: "w", Need: -2}, ""},
		{"dw<0", quorum.Put{N: 3, W: 2, DW: -1}, 3, 3, &quorum.Error{Kind: quorum.Violation, Param: "dw", Need: -1}, ""},
		{"pw invalid before w invalid", quorum.Put{N: 3, W: 0, DW: -1, PW: -1}, 3, 3, &quorum.Error{Kind: quorum.Violation, Param: "pw", Need: -1}, ""},
		{"w invalid before dw invalid", quorum.Put{N: 3, W: 0, DW: -1}, 3, 3, &quorum.Error{Kind: quorum.Violation, Param: "w", Need: 0}, ""},
		{"invalid before n_val", quorum.Put{N: 3, W: 4, DW: -1}, 3, 3, &quorum.Error{Kind: quorum.Violation, Param: "dw", Need: -1}, ""},

		// W, DW or PW > N.
		{"w>n", quorum.Put{N: 3, W: 4, DW: 1}, 3, 3, &quorum.Error{Kind: quorum.NValViolation, Param: "w", N: 3}, nvalText},
		{"dw>n", quorum.Put{N: 3, W: 2, DW: 4}, 3, 3, &quorum.Error{Kind: quorum.NValViolation, Param: "dw", N: 3}, nvalText},
		{"pw>n", quorum.Put{N: 3, W: 2, DW: 2, PW: 4}, 3, 3, &quorum.Error{Kind: quorum.NValViolation, Param: "pw", N: 3}, nvalText},
		{"n_val before pw unsatisfied", quorum.Put{N: 3, W: 4, DW: 1, PW: 2}, 0, 0, &quorum.Error{Kind: quorum.NValViolation, Param: "w", N: 3}, nvalText},

		// PW > primaries up.
		{"pw>primaries", quorum.Put{N: 3, W: 2, DW: 2, PW: 2}, 1, 3, &quorum.Error{Kind: quorum.Unsatisfied, Param: "pw", Need: 2, Got: 1}, "PW-value unsatisfied: 1/2"},
		{"pw>primaries before insufficient", quorum.Put{N: 3, W: 3, DW: 1, PW: 1}, 0, 1, &quorum.Error{Kind: quorum.Unsatisfied, Param: "pw", Need: 1, Got: 0}, "PW-value unsatisfied: 0/1"},

		// Preflist shorter than max(1, W, DW, PW).
		{"insufficient w", quorum.Put{N: 3, W: 2, DW: 1}, 1, 1, &quorum.Error{Kind: quorum.InsufficientVnodes, Param: "w", Need: 2, Got: 1}, ""},
		{"insufficient dw", quorum.Put{N: 3, W: 1, DW: 3}, 2, 2, &quorum.Error{Kind: quorum.InsufficientVnodes, Param: "w", Need: 3, Got: 2}, ""},
		{"insufficient pw", quorum.Put{N: 3, W: 1, DW: 1, PW: 2}, 2, 1, &quorum.Error{Kind: quorum.InsufficientVnodes, Param: "w", Need: 2, Got: 1}, ""},
		{"insufficient: at least one vnode", quorum.Put{N: 3, W: 1, DW: 0}, 0, 0, &quorum.Error{Kind: quorum.InsufficientVnodes, Param: "w", Need: 1, Got: 0}, ""},
	}
	for _, tc := range cases {
		err := tc.p.Validate(tc.primUp, tc.prefLen)
		wantErr(t, fmt.Sprintf("%s: %+v.Validate(%d, %d)", tc.name, tc.p, tc.primUp, tc.prefLen), err, tc.want, tc.text)
	}
}

func TestPutNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want quorum.Put }{
		{quorum.Put{N: 3, W: 2, DW: 0}, quorum.Put{N: 3, W: 2, DW: 1}},
		{quorum.Put{N: 3, W: 2, DW: 1}, quorum.Put{N: 3, W: 2, DW: 1}},
		{quorum.Put{N: 3, W: 1, DW: 2, PW: 1}, quorum.Put{N: 3, W: 1, DW: 2, PW: 1}},
	} {
		if got := tc.in.Normalize(); got != tc.want {
			t.Errorf("%+v.Normalize() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	// NewPutCore normalizes: with dw=0 one durable write is still needed.
	c := quorum.NewPutCore(quorum.Put{N: 3, W: 1, DW: 0})
	c.Add(true, quorum.PutW)
	if c.Enough() {
		t.Fatal("dw=0: Enough after one w; DW must be forced to 1")
	}
	c.Add(true, quorum.PutDW)
	if !c.Enough() || c.Response() != nil {
		t.Fatalf("dw=0: after w+dw Enough=%v Response=%v", c.Enough(), c.Response())
	}
}

// prep is one vnode reply to a write.
type prep struct {
	r       quorum.PutReply
	primary bool
}

func (x prep) String() string {
	s := [...]string{"w", "dw", "fail"}[x.r]
	if x.primary {
		return s + "/p"
	}
	return s + "/f"
}

var (
	wP    = prep{quorum.PutW, true}
	wF    = prep{quorum.PutW, false}
	dwP   = prep{quorum.PutDW, true}
	dwF   = prep{quorum.PutDW, false}
	pfail = prep{quorum.PutFail, true}
	ffail = prep{quorum.PutFail, false}
)

func TestPutCoreScenarios(t *testing.T) {
	timeout := &quorum.Error{Kind: quorum.Timeout}
	cases := []struct {
		name    string
		p       quorum.Put
		replies []prep
		enough  []bool
		err     *quorum.Error
		text    string
	}{
		{
			name: "w and dw met",
			p:    quorum.Put{N: 3, W: 2, DW: 2}, replies: []prep{wP, wF, dwP, dwF},
			enough: []bool{false, false, false, true},
		},
		{
			name: "dw from fallbacks counts for dw",
			p:    quorum.Put{N: 3, W: 2, DW: 2}, replies: []prep{wF, dwF, wF, dwF},
			enough: []bool{false, false, false, true},
		},
		{
			name: "w only: waits for dw",
			p:    quorum.Put{N: 3, W: 2, DW: 1}, replies: []prep{wP, wP, wP},
			enough: []bool{false, false, false},
			err:    timeout, text: "request timed out",
		},
		// PW counts only primary dw replies.
		{
			name: "pw: primary w does not count, fallback dw does not count",
			p:    quorum.Put{N: 3, W: 1, DW: 1, PW: 2}, replies: []prep{wF, dwF, wP, dwP, wP, dwP},
			enough: []bool{false, false, false, false, false, true},
		},
		// Failure paths (§14.4 table).
		{
			name: "all quora except PW met → pw unsatisfied",
			p:    quorum.Put{N: 3, W: 2, DW: 2, PW: 2}, replies: []prep{wP, dwP, wF, dwF, wF, dwF},
			enough: []bool{false, false, false, false, false, true},
			err:    &quorum.Error{Kind: quorum.Unsatisfied, Param: "pw", Need: 2, Got: 1}, text: "PW-value unsatisfied: 1/2",
		},
		{
			name: "fails > N-PW, PW ≥ DW → pw unsatisfied",
			p:    quorum.Put{N: 3, W: 1, DW: 1, PW: 2}, replies: []prep{pfail, pfail},
			enough: []bool{false, true},
			err:    &quorum.Error{Kind: quorum.Unsatisfied, Param: "pw", Need: 2, Got: 0}, text: "PW-value unsatisfied: 0/2",
		},
		{
			name: "fails > N-PW, PW = DW → pw unsatisfied (riak_kv_put_core test)",
			p:    quorum.Put{N: 3, W: 1, DW: 3, PW: 3}, replies: []prep{wP, dwP, wP, dwP, pfail},
			enough: []bool{false, false, false, false, true},
			err:    &quorum.Error{Kind: quorum.Unsatisfied, Param: "pw", Need: 3, Got: 2}, text: "PW-value unsatisfied: 2/3",
		},
		{
			name: "fails > N-DW → dw unsatisfied",
			p:    quorum.Put{N: 3, W: 1, DW: 2}, replies: []prep{wP, ffail, pfail},
			enough: []bool{false, false, true},
			err:    &quorum.Error{Kind: quorum.Unsatisfied, Param: "dw", Need: 2, Got: 0}, text: "DW-value unsatisfied: 0/2",
		},
		{
			name: "fails > N-DW with DW > PW → dw unsatisfied (riak_kv_put_core test)",
			p:    quorum.Put{N: 3, W: 1, DW: 3, PW: 2}, replies: []prep{wP, dwP, wF, dwF, pfail},
			enough: []bool{false, false, false, false, true},
			err:    &quorum.Error{Kind: quorum.Unsatisfied, Param: "dw", Need: 3, Got: 2}, text: "DW-value unsatisfied: 2/3",
		},
		{
			name: "one fail with N=3 DW=2 does not decide",
			p:    quorum.Put{N: 3, W: 2, DW: 2}, replies: []prep{pfail, wP, dwP, wP, dwP},
			enough: []bool{false, false, false, false, true},
		},
		{
			name: "all closed, W unmet → too many fails",
			p:    quorum.Put{N: 3, W: 3, DW: 1}, replies: []prep{wP, dwP, wP, dwP, pfail},
			enough: []bool{false, false, false, false, true},
			err:    &quorum.Error{Kind: quorum.TooManyFails}, text: "Too Many write failures to satisfy W/DW",
		},
		{
			name: "W on its own never fails early",
			p:    quorum.Put{N: 3, W: 3, DW: 1}, replies: []prep{wP, dwP, pfail},
			enough: []bool{false, false, false},
			err:    timeout, text: "request timed out",
		},
		{
			name: "N=1 fail",
			p:    quorum.Put{N: 1, W: 1, DW: 1}, replies: []prep{pfail},
			enough: []bool{true},
			err:    &quorum.Error{Kind: quorum.Unsatisfied, Param: "dw", Need: 1, Got: 0}, text: "DW-value unsatisfied: 0/1",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.enough) != len(tc.replies) {
				t.Fatalf("bad case: %d replies, %d enough", len(tc.replies), len(tc.enough))
			}
			c := quorum.NewPutCore(tc.p)
			if c.Enough() {
				t.Fatal("fresh core is Enough")
			}
			for i, r := range tc.replies {
				c.Add(r.primary, r.r)
				if got := c.Enough(); got != tc.enough[i] {
					t.Fatalf("after %v: Enough() = %v, want %v", tc.replies[:i+1], got, tc.enough[i])
				}
			}
			wantErr(t, "Response()", c.Response(), tc.err, tc.text)
		})
	}
}

// putModel is an independent model of riak_kv_put_core (reference §14.4),
// plus riakgo's rule that a write whose N vnodes have all closed (dw or
// fail) without meeting W answers too_many_fails instead of waiting for
// the timeout.
type putModel struct {
	n, w, dw, pw                    int
	numW, numDW, numPW, fail, close int
}

func newPutModel(p quorum.Put) putModel {
	return putModel{n: p.N, w: p.W, dw: max(p.DW, 1), pw: p.PW}
}

func (m putModel) add(x prep) putModel {
	switch x.r {
	case quorum.PutW:
		m.numW++
	case quorum.PutDW:
		m.numDW++
		m.close++
		if x.primary {
			m.numPW++
		}
	case quorum.PutFail:
		m.fail++
		m.close++
	}
	return m
}

func (m putModel) met() bool { return m.numW >= m.w && m.numDW >= m.dw && m.numPW >= m.pw }

func (m putModel) enough() bool {
	pwFailThreshold := m.n - m.pw + 1
	dwFailThreshold := m.n - m.dw + 1
	return m.met() || m.fail >= pwFailThreshold || m.fail >= dwFailThreshold || m.close >= m.n
}

func (m putModel) response() *quorum.Error {
	switch {
	case m.met():
		return nil
	case m.numW >= m.w && m.numDW >= m.dw:
		return &quorum.Error{Kind: quorum.Unsatisfied, Param: "pw", Need: m.pw, Got: m.numPW}
	case m.fail > m.n-m.pw && m.pw >= m.dw:
		return &quorum.Error{Kind: quorum.Unsatisfied, Param: "pw", Need: m.pw, Got: m.numPW}
	case m.fail > m.n-m.dw:
		return &quorum.Error{Kind: quorum.Unsatisfied, Param: "dw", Need: m.dw, Got: m.numDW}
	case m.close >= m.n:
		return &quorum.Error{Kind: quorum.TooManyFails}
	}
	return &quorum.Error{Kind: quorum.Timeout}
}

// TestPutCoreBruteForce runs every interleaving of N vnodes' replies (each
// vnode answers w then dw, w then fail, or just fail, from a primary or a
// fallback) for N in 1..4 and every W, DW, PW, and checks PutCore against
// the model at every prefix; that Enough holds once every vnode closed;
// that success is exactly w ≥ W ∧ dw ≥ DW ∧ pw ≥ PW; and that a failure
// answered on Enough is final (no extension succeeds).
func TestPutCoreBruteForce(t *testing.T) {
	maxN := 4
	if testing.Short() {
		maxN = 3
	}
	var checked int
	for n := 1; n <= maxN; n++ {
		for w := 1; w <= n; w++ {
			for dw := 0; dw <= n; dw++ {
				for pw := 0; pw <= n; pw++ {
					p := quorum.Put{N: n, W: w, DW: dw, PW: pw}
					if err := p.Validate(n, n); err != nil {
						t.Fatalf("%+v.Validate(n, n): %v", p, err)
					}
					// Vnode state: 0 silent, 1 sent w, 2 closed. A vnode's
					// primary flag is fixed by its first reply.
					state := make([]int, n)
					prim := make([]bool, n)
					var seq []prep
					bad := false
					report := func(format string, args ...any) {
						bad = true
						t.Errorf("%+v after %v: %s", p, seq, fmt.Sprintf(format, args...))
					}
					var walk func(c quorum.PutCore, m putModel) bool
					// walk returns whether the write succeeds at this
					// prefix or at any extension of it.
					walk = func(c quorum.PutCore, m putModel) bool {
						checked++
						if bad {
							return true
						}
						enough := c.Enough()
						if enough != m.enough() {
							report("Enough() = %v, model %v", enough, m.enough())
						}
						if m.close == n && !enough {
							report("every vnode closed but not Enough")
						}
						err := c.Response()
						if (err == nil) != m.met() {
							report("Response() = %v, quorum met %v", err, m.met())
						}
						if want := m.response(); want == nil {
							if err != nil {
								report("Response() = %v, want nil", err)
							}
						} else if qe, ok := err.(*quorum.Error); !ok || *qe != *want {
							report("Response() = %v, want %+v", err, *want)
						} else if enough && qe.Kind == quorum.Timeout {
							report("Enough but Response is a timeout")
						}
						success := m.met()
						for v := 0; v < n; v++ {
							var next []prep
							switch state[v] {
							case 0:
								// Vnodes that have not spoken yet are
								// interchangeable: only the first silent
								// one starts, which keeps the tree small
								// without losing any sequence of counts.
								if v > 0 && state[v-1] == 0 {
									continue
								}
								next = []prep{wP, wF, pfail, ffail}
							case 1:
								next = []prep{{quorum.PutDW, prim[v]}, {quorum.PutFail, prim[v]}}
							default:
								continue
							}
							for _, x := range next {
								oldS, oldP := state[v], prim[v]
								if x.r == quorum.PutW {
									state[v] = 1
								} else {
									state[v] = 2
								}
								prim[v] = x.primary
								cc := c
								cc.Add(x.primary, x.r)
								seq = append(seq, x)
								if walk(cc, m.add(x)) {
									success = true
								}
								seq = seq[:len(seq)-1]
								state[v], prim[v] = oldS, oldP
							}
						}
						if enough && !m.met() && success {
							report("answered a failure but an extension succeeds")
						}
						return success
					}
					walk(*quorum.NewPutCore(p), newPutModel(p))
				}
			}
		}
	}
	t.Logf("checked %d reply prefixes", checked)
}
