package quorum

import (
	"fmt"
	"strconv"
	"strings"
)

// Symbol is the kind of a quorum value.
type Symbol uint8

// The symbolic quorum values, and Int for an explicit count.
const (
	Default Symbol = iota // use the bucket's value
	One                   // 1
	Quorum                // floor(N/2)+1
	All                   // N
	Int                   // an explicit count
)

// Value is a requested quorum: a symbol, or an explicit count when Sym is
// Int. The zero Value is Default.
type Value struct {
	Sym Symbol
	N   int
}

// Of returns the explicit value n.
func Of(n int) Value { return Value{Sym: Int, N: n} }

// Named values, for readability at call sites.
var (
	ValDefault = Value{Sym: Default}
	ValOne     = Value{Sym: One}
	ValQuorum  = Value{Sym: Quorum}
	ValAll     = Value{Sym: All}
)

// ParseValue parses an HTTP query or bucket-property quorum value: a
// non-negative integer or one of one, quorum, all, default (any case).
func ParseValue(s string) (Value, error) {
	switch strings.ToLower(s) {
	case "default":
		return ValDefault, nil
	case "one":
		return ValOne, nil
	case "quorum":
		return ValQuorum, nil
	case "all":
		return ValAll, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Value{}, ErrBadValue
	}
	return Of(n), nil
}

// String returns the value as Riak writes it: a word or a number.
func (v Value) String() string {
	switch v.Sym {
	case Default:
		return "default"
	case One:
		return "one"
	case Quorum:
		return "quorum"
	case All:
		return "all"
	}
	return strconv.Itoa(v.N)
}

// MarshalJSON writes symbols as strings and counts as numbers, as Riak's
// bucket props do.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.Sym == Int {
		return []byte(strconv.Itoa(v.N)), nil
	}
	return []byte(`"` + v.String() + `"`), nil
}

// UnmarshalJSON accepts a number or a symbolic string.
func (v *Value) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	p, err := ParseValue(s)
	if err != nil {
		return fmt.Errorf("%q: %w", string(b), err)
	}
	*v = p
	return nil
}

// Resolve turns v into a count for n replicas; Default takes the bucket's
// value def (which must not itself be Default; if it is, quorum is used).
func Resolve(v Value, n int, def Value) int {
	if v.Sym == Default {
		v = def
	}
	switch v.Sym {
	case One:
		return 1
	case Quorum, Default:
		return n/2 + 1
	case All:
		return n
	}
	return v.N
}
