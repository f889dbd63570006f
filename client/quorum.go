package client

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Quorum is a replica count for r, w, dw, pr, pw and rw: a number or one of
// the words one, quorum, all and default. The zero value sends nothing, so
// the bucket's property applies.
type Quorum string

// Symbolic quorums. Use N for a number.
const (
	One           Quorum = "one"     // 1
	Majority      Quorum = "quorum"  // n_val/2 + 1
	All           Quorum = "all"     // n_val
	DefaultQuorum Quorum = "default" // the bucket's property, sent explicitly
)

// N returns the quorum of n replicas. N(0) is meaningful for pr and pw.
func N(n int) Quorum { return Quorum(strconv.Itoa(n)) }

// Validate checks that q is empty, a word Riak knows, or a non-negative
// integer.
func (q Quorum) Validate() error {
	switch q {
	case "", One, Majority, All, DefaultQuorum:
		return nil
	}
	if n, err := strconv.Atoi(string(q)); err == nil && n >= 0 {
		return nil
	}
	return fmt.Errorf("%w: quorum %q must be a non-negative integer or one of one, quorum, all, default", ErrInvalidArgument, string(q))
}

// Int returns the number of a numeric quorum.
func (q Quorum) Int() (int, bool) {
	n, err := strconv.Atoi(string(q))
	return n, err == nil
}

// UnmarshalJSON accepts a JSON number or string, as bucket properties
// carry either.
func (q *Quorum) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*q = Quorum(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("riakgo/client: quorum: %s is neither a number nor a string", b)
	}
	*q = Quorum(s)
	return nil
}

// MarshalJSON writes a numeric quorum as a number and a word as a string.
func (q Quorum) MarshalJSON() ([]byte, error) {
	if n, ok := q.Int(); ok {
		return []byte(strconv.Itoa(n)), nil
	}
	return json.Marshal(string(q))
}

// Bool returns a pointer to b, for the optional boolean options.
func Bool(b bool) *bool { return &b }
