package lab

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Kind is what a scenario's key holds.
type Kind string

// Scenario kinds.
const (
	KindBalance Kind = "balance" // deposits and withdrawals on one number
	KindSet     Kind = "set"     // adds and removes on a set of strings (a cart)
)

// StepKind is what one scenario line does.
type StepKind int

// Steps.
const (
	StepRead      StepKind = iota // WRITER read REPLICA
	StepWrite                     // WRITER deposit|withdraw|add|remove ARG [REPLICA]
	StepResolve                   // WRITER resolve [REPLICA]: read, resolve, write back, no op
	StepPartition                 // partition 1 2 | 3
	StepHeal                      // heal
	StepSync                      // sync: replicas exchange within their groups
)

// Step is one line of a scenario.
type Step struct {
	Kind    StepKind
	Line    int
	Writer  string
	Op      string // deposit, withdraw, add, remove
	Amount  int64  // deposit/withdraw
	Elem    string // add/remove
	Replica int    // 1-based; 0: the writer's last replica (1 at first)
	Groups  [][]int
}

// Scenario is a concurrent history to replay under each strategy.
type Scenario struct {
	Name       string
	Kind       Kind
	Replicas   int
	Strategies []string // empty: every strategy of the kind
	Steps      []Step
}

// Parse reads a scenario file. The format is line based; # starts a
// comment. Header lines are "name: …", "kind: balance|set", "replicas: N"
// and "strategies: a, b"; every other line is a step (see docs/lab.md).
func Parse(r io.Reader) (*Scenario, error) {
	sc := &Scenario{Replicas: 3}
	in := bufio.NewScanner(r)
	n := 0
	for in.Scan() {
		n++
		line := in.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.Contains(k, " ") {
			v = strings.TrimSpace(v)
			switch k {
			case "name":
				sc.Name = v
			case "kind":
				sc.Kind = Kind(v)
				if sc.Kind != KindBalance && sc.Kind != KindSet {
					return nil, fmt.Errorf("line %d: kind must be balance or set, not %q", n, v)
				}
			case "replicas":
				r, err := strconv.Atoi(v)
				if err != nil || r < 1 || r > 9 {
					return nil, fmt.Errorf("line %d: replicas must be 1..9", n)
				}
				sc.Replicas = r
			case "strategies":
				for _, s := range strings.Split(v, ",") {
					if s = strings.TrimSpace(s); s != "" {
						sc.Strategies = append(sc.Strategies, s)
					}
				}
			default:
				return nil, fmt.Errorf("line %d: unknown header %q", n, k)
			}
			continue
		}
		st, err := parseStep(strings.Fields(line), n)
		if err != nil {
			return nil, err
		}
		sc.Steps = append(sc.Steps, st)
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if sc.Kind == "" {
		return nil, fmt.Errorf("the scenario has no kind: line")
	}
	for _, st := range sc.Steps {
		if st.Replica > sc.Replicas {
			return nil, fmt.Errorf("line %d: replica %d, but the scenario has %d", st.Line, st.Replica, sc.Replicas)
		}
		for _, g := range st.Groups {
			for _, r := range g {
				if r < 1 || r > sc.Replicas {
					return nil, fmt.Errorf("line %d: no replica %d", st.Line, r)
				}
			}
		}
		if st.Kind == StepWrite {
			balanceOp := st.Op == "deposit" || st.Op == "withdraw"
			if balanceOp != (sc.Kind == KindBalance) {
				return nil, fmt.Errorf("line %d: %s is not an operation on a %s", st.Line, st.Op, sc.Kind)
			}
		}
	}
	return sc, nil
}

func parseReplica(s string, line int) (int, error) {
	r, err := strconv.Atoi(s)
	if err != nil || r < 1 {
		return 0, fmt.Errorf("line %d: %q is not a replica number", line, s)
	}
	return r, nil
}

func parseStep(f []string, line int) (Step, error) {
	st := Step{Line: line}
	switch f[0] {
	case "heal":
		st.Kind = StepHeal
		return st, nil
	case "sync":
		st.Kind = StepSync
		return st, nil
	case "partition":
		st.Kind = StepPartition
		var g []int
		for _, w := range f[1:] {
			if w == "|" {
				st.Groups = append(st.Groups, g)
				g = nil
				continue
			}
			r, err := parseReplica(w, line)
			if err != nil {
				return st, err
			}
			g = append(g, r)
		}
		st.Groups = append(st.Groups, g)
		return st, nil
	}
	if len(f) < 2 {
		return st, fmt.Errorf("line %d: expected WRITER ACTION ...", line)
	}
	st.Writer = f[0]
	rest := f[2:]
	switch f[1] {
	case "read", "resolve":
		st.Kind = StepRead
		if f[1] == "resolve" {
			st.Kind = StepResolve
		}
	case "deposit", "withdraw":
		st.Kind, st.Op = StepWrite, f[1]
		if len(rest) == 0 {
			return st, fmt.Errorf("line %d: %s needs an amount", line, f[1])
		}
		n, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil || n <= 0 {
			return st, fmt.Errorf("line %d: amount %q must be a positive integer", line, rest[0])
		}
		st.Amount = n
		if f[1] == "withdraw" {
			st.Amount = -n
		}
		rest = rest[1:]
	case "add", "remove":
		st.Kind, st.Op = StepWrite, f[1]
		if len(rest) == 0 {
			return st, fmt.Errorf("line %d: %s needs an element", line, f[1])
		}
		st.Elem, rest = rest[0], rest[1:]
	default:
		return st, fmt.Errorf("line %d: unknown action %q", line, f[1])
	}
	if len(rest) > 1 {
		return st, fmt.Errorf("line %d: unexpected %q", line, rest[1])
	}
	if len(rest) == 1 {
		r, err := parseReplica(rest[0], line)
		if err != nil {
			return st, err
		}
		st.Replica = r
	}
	return st, nil
}
