package quorum

// Get are the resolved parameters of a read.
type Get struct {
	N           int // n_val: replicas asked
	R           int // replies needed
	PR          int // primary replies needed
	NotFoundOK  bool
	BasicQuorum bool
	// NodeConfirms is node_confirms (Riak 3.x): the successful replies
	// must come from at least this many distinct nodes (0: no check).
	NodeConfirms int
}

// Validate checks a read before any I/O, in Riak's order: R valid, R ≤ N,
// PR valid, PR ≤ N, PR ≤ primaries up, R ≤ preference-list length.
func (p Get) Validate(primariesUp, prefLen int) error {
	if p.R < 1 {
		return &Error{Kind: Violation, Param: "r", Need: p.R}
	}
	if p.R > p.N {
		return &Error{Kind: NValViolation, Param: "r", N: p.N}
	}
	if p.PR < 0 {
		return &Error{Kind: Violation, Param: "pr", Need: p.PR}
	}
	if p.PR > p.N {
		return &Error{Kind: NValViolation, Param: "pr", N: p.N}
	}
	if p.NodeConfirms < 0 {
		return &Error{Kind: Violation, Param: "node_confirms", Need: p.NodeConfirms}
	}
	if p.NodeConfirms > p.N {
		return &Error{Kind: NValViolation, Param: "node_confirms", N: p.N}
	}
	if p.PR > primariesUp {
		return &Error{Kind: Unsatisfied, Param: "pr", Need: p.PR, Got: primariesUp}
	}
	if p.R > prefLen {
		return &Error{Kind: InsufficientVnodes, Param: "r", Need: p.R, Got: prefLen}
	}
	return nil
}

// Reply classifies one vnode's answer to a read.
type Reply uint8

// Read reply kinds.
const (
	ReplyOK       Reply = iota // an object
	ReplyDeleted               // an object that is a tombstone
	ReplyNotFound              // no object
	ReplyFail                  // an error
)

// GetCore counts the replies of one read (riak_kv_get_core). Not safe for
// concurrent use; a coordinator owns it.
type GetCore struct {
	p                             Get
	ok, primaryOK, notFound, fail int
	deleted, received             int
	nodes                         map[string]bool // nodes of the ok replies (node_confirms)
}

// NewGetCore returns a core for a read with parameters p.
func NewGetCore(p Get) *GetCore { return &GetCore{p: p} }

// Add counts one reply, from a primary or a fallback.
func (c *GetCore) Add(primary bool, r Reply) { c.AddFrom(primary, "", r) }

// AddFrom counts one reply from a vnode on node (for node_confirms; ""
// counts as no node).
func (c *GetCore) AddFrom(primary bool, node string, r Reply) {
	c.received++
	okReply := false
	switch r {
	case ReplyOK, ReplyDeleted:
		okReply = true
		if r == ReplyDeleted {
			c.deleted++
		}
	case ReplyNotFound:
		if c.p.NotFoundOK {
			okReply = true
		} else {
			c.notFound++
		}
	default:
		c.fail++
	}
	if okReply {
		c.ok++
		if primary {
			c.primaryOK++
		}
		if node != "" {
			if c.nodes == nil {
				c.nodes = map[string]bool{}
			}
			c.nodes[node] = true
		}
	}
}

// failThreshold is how many notfound/failed replies make R unreachable.
func (c *GetCore) failThreshold() int {
	t := c.p.N - max(c.p.R, c.p.PR) + 1
	if c.p.BasicQuorum {
		t = min(t, c.p.N/2+1)
	}
	return t
}

// Enough reports whether the read can answer: quorum met, quorum
// unreachable, or every replica has replied.
func (c *GetCore) Enough() bool {
	if c.ok >= c.p.R && c.primaryOK >= c.p.PR && len(c.nodes) >= c.p.NodeConfirms {
		return true
	}
	if c.notFound+c.fail >= c.failThreshold() {
		return true
	}
	return c.received >= c.p.N
}

// Outcome is what a read answers once Enough.
type Outcome uint8

// Read outcomes.
const (
	// OutcomeMerge: quorum met; merge the objects received (the merge may
	// still be empty or a tombstone, which the coordinator reports as not
	// found).
	OutcomeMerge Outcome = iota
	// OutcomeNotFound: quorum not met, but every reply was a notfound or a
	// tombstone and none failed.
	OutcomeNotFound
	// OutcomeError: see the error.
	OutcomeError
)

// Response decides the read's answer, in Riak's order.
func (c *GetCore) Response() (Outcome, error) {
	p := c.p
	if len(c.nodes) < p.NodeConfirms && c.ok > 0 {
		return OutcomeError, &Error{Kind: Unsatisfied, Param: "node_confirms", Need: p.NodeConfirms, Got: len(c.nodes)}
	}
	if c.ok >= p.R && c.primaryOK >= p.PR {
		return OutcomeMerge, nil
	}
	// Every reply was a notfound or a tombstone (no live object among the
	// ok replies) and none failed.
	if c.notFound+c.deleted > 0 && c.ok == c.deleted && c.fail == 0 {
		return OutcomeNotFound, nil
	}
	// R met but PR not, or PR is the more restrictive (PR ≥ R).
	if (c.ok >= p.R && c.primaryOK < p.PR) || p.PR >= p.R {
		return OutcomeError, &Error{Kind: Unsatisfied, Param: "pr", Need: p.PR, Got: c.primaryOK}
	}
	return OutcomeError, &Error{Kind: Unsatisfied, Param: "r", Need: p.R, Got: c.ok}
}

// Done reports whether every replica has replied (read repair may run).
func (c *GetCore) Done() bool { return c.received >= c.p.N }

// Put are the resolved parameters of a write.
type Put struct {
	N  int
	W  int
	DW int // raised to at least 1 by Validate's caller via Normalize
	PW int
	// NodeConfirms is node_confirms (Riak 3.x): the durable replies must
	// come from at least this many distinct nodes (0: no check).
	NodeConfirms int
}

// Normalize raises DW to at least 1, as Riak does.
func (p Put) Normalize() Put {
	if p.DW < 1 {
		p.DW = 1
	}
	return p
}

// Validate checks a write before any I/O, in Riak's order: values valid
// (pw, then w, then dw) and ≤ N, PW ≤
// primaries up, preference list at least max(1, W, DW, PW) long. Call it on
// the parameters as given (before Normalize), so that dw=0 is accepted.
func (p Put) Validate(primariesUp, prefLen int) error {
	if p.PW < 0 {
		return &Error{Kind: Violation, Param: "pw", Need: p.PW}
	}
	if p.W < 1 {
		return &Error{Kind: Violation, Param: "w", Need: p.W}
	}
	if p.DW < 0 {
		return &Error{Kind: Violation, Param: "dw", Need: p.DW}
	}
	if p.NodeConfirms < 0 {
		return &Error{Kind: Violation, Param: "node_confirms", Need: p.NodeConfirms}
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"w", p.W}, {"dw", p.DW}, {"pw", p.PW}, {"node_confirms", p.NodeConfirms}} {
		if v.n > p.N {
			return &Error{Kind: NValViolation, Param: v.name, N: p.N}
		}
	}
	if p.PW > primariesUp {
		return &Error{Kind: Unsatisfied, Param: "pw", Need: p.PW, Got: primariesUp}
	}
	if need := max(1, p.W, p.DW, p.PW); prefLen < need {
		return &Error{Kind: InsufficientVnodes, Param: "w", Need: need, Got: prefLen}
	}
	return nil
}

// PutReply classifies one vnode's answer to a write.
type PutReply uint8

// Write reply kinds. A vnode answers PutW when it has the object, then
// PutDW once it is written to storage, or PutFail instead of either.
const (
	PutW PutReply = iota
	PutDW
	PutFail
)

// PutCore counts the replies of one write (riak_kv_put_core).
type PutCore struct {
	p                       Put
	w, dw, pw, fail, closed int
	nodes                   map[string]bool // nodes of the durable replies (node_confirms)
}

// NewPutCore returns a core for a write with (normalized) parameters p.
func NewPutCore(p Put) *PutCore { return &PutCore{p: p.Normalize()} }

// Add counts one reply.
func (c *PutCore) Add(primary bool, r PutReply) { c.AddFrom(primary, "", r) }

// AddFrom counts one reply from a vnode on node (for node_confirms; ""
// counts as no node).
func (c *PutCore) AddFrom(primary bool, node string, r PutReply) {
	switch r {
	case PutW:
		c.w++
	case PutDW:
		c.dw++
		c.closed++
		if primary {
			c.pw++
		}
		if node != "" {
			if c.nodes == nil {
				c.nodes = map[string]bool{}
			}
			c.nodes[node] = true
		}
	default:
		c.fail++
		c.closed++
	}
}

// Enough reports whether the write can answer.
func (c *PutCore) Enough() bool {
	p := c.p
	if c.w >= p.W && c.dw >= p.DW && c.pw >= p.PW && len(c.nodes) >= p.NodeConfirms {
		return true
	}
	if c.fail > p.N-p.DW || (p.PW > 0 && c.fail > p.N-p.PW) || (p.NodeConfirms > 0 && c.fail > p.N-p.NodeConfirms) {
		return true
	}
	return c.closed >= p.N
}

// Response decides the write's answer: nil on success, else a typed error.
func (c *PutCore) Response() error {
	p := c.p
	nodes := len(c.nodes)
	switch {
	case c.w >= p.W && c.dw >= p.DW && c.pw >= p.PW && nodes >= p.NodeConfirms:
		return nil
	case c.w >= p.W && c.dw >= p.DW && c.pw < p.PW:
		return &Error{Kind: Unsatisfied, Param: "pw", Need: p.PW, Got: c.pw}
	case p.PW > 0 && c.fail > p.N-p.PW && p.PW >= p.DW:
		return &Error{Kind: Unsatisfied, Param: "pw", Need: p.PW, Got: c.pw}
	case c.w >= p.W && c.dw >= p.DW:
		return &Error{Kind: Unsatisfied, Param: "node_confirms", Need: p.NodeConfirms, Got: nodes}
	case p.NodeConfirms > 0 && c.fail > p.N-p.NodeConfirms && p.NodeConfirms >= p.DW:
		return &Error{Kind: Unsatisfied, Param: "node_confirms", Need: p.NodeConfirms, Got: nodes}
	case c.fail > p.N-p.DW:
		return &Error{Kind: Unsatisfied, Param: "dw", Need: p.DW, Got: c.dw}
	case c.closed >= p.N:
		return &Error{Kind: TooManyFails}
	}
	return ErrTimeout
}
