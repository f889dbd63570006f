package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/dt"
	"github.com/riakgo/riakgo/siblings"
	"github.com/riakgo/riakgo/vclock"
)

// Result is what one strategy made of a scenario.
type Result struct {
	Strategy    string
	Final       string // the value read at the end, after heal and sync
	Expected    string // what every writer's operations add up to
	Lost        int    // operations whose effect is missing
	Doubled     int    // operations applied more than once (sets: removed elements that came back)
	Exact       bool   // Lost/Doubled counted exactly (false: inferred from the values)
	MaxSiblings int    // most siblings any read saw
	Refused     int    // operations the strategy refused (e.g. a remove without context)
}

// StrategiesFor lists the strategies that apply to a kind, in table order.
func StrategiesFor(k Kind) []string {
	if k == KindBalance {
		return []string{"blog", "last_write_wins", "counter", "oplog"}
	}
	return []string{"json_set_union", "last_write_wins", "set"}
}

// model is one strategy's replicas.
type model interface {
	// read returns what a client reading replica r gets (kept as the
	// writer's context) and the number of siblings it saw.
	read(r int) (snapshot any, sibs int)
	// write applies the writer's operation through replica r, from the
	// writer's last snapshot.
	write(r int, snap any, st Step, id int) (refused bool, err error)
	// resolve writes back the resolution of snapshot through replica r.
	resolve(r int, snap any) error
	// merge copies replica src's state into dst (replication, sync).
	merge(dst, src int)
	// final returns the value at replica r and, when the value carries
	// it, which operation ids it reflects (id → times applied).
	final(r int) (value string, elems []string, prov map[int]int, sibs int)
}

type writer struct {
	replica int
	snap    any
	seen    map[int]bool // oracle: the operation ids the last read covered
}

// Run replays the scenario under one strategy.
func Run(sc *Scenario, strategy string) (*Result, error) {
	m, err := newModel(sc, strategy)
	if err != nil {
		return nil, err
	}
	n := sc.Replicas
	group := make([]int, n+1) // replica → group id
	oracle := make([]map[int]bool, n+1)
	for r := 1; r <= n; r++ {
		oracle[r] = map[int]bool{}
	}
	writers := map[string]*writer{}
	res := &Result{Strategy: strategy}
	type opRec struct {
		st       Step
		canceled map[int]bool // for removes: the add ids the remover had seen
	}
	var ops []opRec
	replicate := func(from int) {
		for r := 1; r <= n; r++ {
			if r != from && group[r] == group[from] {
				m.merge(r, from)
				for id := range oracle[from] {
					oracle[r][id] = true
				}
			}
		}
	}
	syncAll := func() {
		for r := 1; r <= n; r++ {
			replicate(r)
		}
		for r := n; r >= 1; r-- {
			replicate(r)
		}
	}
	for _, st := range sc.Steps {
		switch st.Kind {
		case StepPartition:
			for r := range group {
				group[r] = -1
			}
			for gi, g := range st.Groups {
				for _, r := range g {
					group[r] = gi
				}
			}
			for r := 1; r <= n; r++ {
				if group[r] == -1 {
					group[r] = len(st.Groups) + r // alone
				}
			}
			continue
		case StepHeal:
			for r := range group {
				group[r] = 0
			}
			continue
		case StepSync:
			syncAll()
			continue
		}
		w := writers[st.Writer]
		if w == nil {
			w = &writer{replica: 1, seen: map[int]bool{}}
			writers[st.Writer] = w
		}
		r := st.Replica
		if r == 0 {
			r = w.replica
		}
		switch st.Kind {
		case StepRead:
			snap, sibs := m.read(r)
			w.replica, w.snap = r, snap
			w.seen = map[int]bool{}
			for id := range oracle[r] {
				w.seen[id] = true
			}
			res.MaxSiblings = max(res.MaxSiblings, sibs)
		case StepResolve:
			// Resolve what the writer last read (a stale context is the
			// point); a writer that has not read reads now.
			snap := w.snap
			if snap == nil {
				var sibs int
				snap, sibs = m.read(r)
				res.MaxSiblings = max(res.MaxSiblings, sibs)
			}
			if err := m.resolve(r, snap); err != nil {
				return nil, fmt.Errorf("line %d: %w", st.Line, err)
			}
			replicate(r)
		case StepWrite:
			id := len(ops) + 1
			refused, err := m.write(r, w.snap, st, id)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", st.Line, err)
			}
			rec := opRec{st: st}
			if st.Op == "remove" {
				rec.canceled = w.seen
			}
			ops = append(ops, rec)
			if refused {
				res.Refused++
				continue
			}
			oracle[r][id] = true
			// The writer's own write is part of what it has seen.
			w.seen[id] = true
			replicate(r)
		}
	}
	// The end: every partition heals and every replica exchanges.
	for r := range group {
		group[r] = 0
	}
	syncAll()
	value, elems, prov, sibs := m.final(1)
	res.MaxSiblings = max(res.MaxSiblings, sibs)
	res.Final = value

	if sc.Kind == KindBalance {
		var want int64
		for _, o := range ops {
			want += o.st.Amount
		}
		res.Expected = strconv.FormatInt(want, 10)
		if prov != nil {
			res.Exact = true
			for id := range ops {
				switch c := prov[id+1]; {
				case c == 0:
					res.Lost++
				case c > 1:
					res.Doubled += c - 1
				}
			}
		} else if value != res.Expected {
			got, _ := strconv.ParseInt(value, 10, 64)
			if got < want {
				res.Lost = 1
			} else {
				res.Doubled = 1
			}
		}
		return res, nil
	}
	// Sets: an element is expected if one of its adds was not seen by a
	// later remove of it (add-wins observed remove, judged by an oracle
	// that knows every replica's history whatever the strategy kept).
	want := map[string]bool{}
	for i, o := range ops {
		if o.st.Op != "add" {
			continue
		}
		id := i + 1
		canceled := false
		for _, r := range ops[i+1:] {
			if r.st.Op == "remove" && r.st.Elem == o.st.Elem && r.canceled[id] {
				canceled = true
				break
			}
		}
		if !canceled {
			want[o.st.Elem] = true
		}
	}
	got := map[string]bool{}
	for _, e := range elems {
		got[e] = true
	}
	for e := range want {
		if !got[e] {
			res.Lost++
		}
	}
	for e := range got {
		if !want[e] {
			res.Doubled++ // a removed element that came back
		}
	}
	res.Exact = true
	res.Expected = setString(want)
	return res, nil
}

func setString(m map[string]bool) string {
	l := make([]string, 0, len(m))
	for e := range m {
		l = append(l, e)
	}
	sort.Strings(l)
	return "[" + strings.Join(l, " ") + "]"
}

// Report runs every strategy of the scenario and prints one table.
func Report(w io.Writer, sc *Scenario, source string) error {
	strats := sc.Strategies
	if len(strats) == 0 {
		strats = StrategiesFor(sc.Kind)
	}
	fmt.Fprintf(w, "scenario: %s (%s, %d replicas, %d steps)\n", sc.Name, source, sc.Replicas, len(sc.Steps))
	fmt.Fprintf(w, "%-16s %-18s %-18s %5s %8s %9s %8s\n", "strategy", "final", "expected", "lost", "doubled", "siblings", "refused")
	for _, s := range strats {
		r, err := Run(sc, s)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		lost, dbl := strconv.Itoa(r.Lost), strconv.Itoa(r.Doubled)
		if !r.Exact && (r.Lost > 0 || r.Doubled > 0) {
			lost, dbl = ">=0", ">=0"
			if r.Lost > 0 {
				lost = ">=1"
			} else {
				dbl = ">=1"
			}
		}
		fmt.Fprintf(w, "%-16s %-18s %-18s %5s %8s %9d %8d\n", r.Strategy, r.Final, r.Expected, lost, dbl, r.MaxSiblings, r.Refused)
	}
	return nil
}

// ---- models ----

func actorOf(r int) vclock.Actor { return vclock.Actor{ID: uint64(0xA0 + r), Epoch: 1} }

func newModel(sc *Scenario, s string) (model, error) {
	n := sc.Replicas
	switch {
	case sc.Kind == KindBalance && s == "blog":
		return &sibModel{objs: make([]*siblings.Object, n+1), dvv: true, keep: true, codec: blogCodec{}}, nil
	case s == "last_write_wins":
		var c valueCodec = blogCodec{lww: true}
		if sc.Kind == KindSet {
			c = cartCodec{}
		}
		return &sibModel{objs: make([]*siblings.Object, n+1), codec: c}, nil
	case sc.Kind == KindSet && s == "json_set_union":
		return &sibModel{objs: make([]*siblings.Object, n+1), dvv: true, keep: true, codec: cartCodec{union: true}}, nil
	case sc.Kind == KindBalance && s == "counter":
		return newCRDTModel(n, dt.KindCounter)
	case sc.Kind == KindBalance && s == "oplog":
		k, ok := dt.ParseKind("oplog")
		if !ok {
			return nil, fmt.Errorf("the op-log register is not available in this build")
		}
		return newCRDTModel(n, k)
	case sc.Kind == KindSet && s == "set":
		return newCRDTModel(n, dt.KindSet)
	}
	return nil, fmt.Errorf("no strategy %q for %s scenarios (have %s)", s, sc.Kind, strings.Join(StrategiesFor(sc.Kind), ", "))
}

// valueCodec is how a sibling strategy turns siblings into a value and a
// value plus an operation into a new value.
type valueCodec interface {
	// resolve merges siblings into one value (the client's resolution).
	resolve(sibs []siblings.Sibling) []byte
	// apply returns the value after the operation.
	apply(v []byte, st Step, id int) []byte
	// show renders a value for the table; prov reports applied op ids.
	show(v []byte) (value string, elems []string, prov map[int]int)
}

// sibModel keeps a siblings.Object per replica: writes are coordinated
// puts with the writer's read context, replication is the replica merge.
type sibModel struct {
	objs  []*siblings.Object
	dvv   bool
	keep  bool // allow_mult: keep siblings (else the latest wins)
	codec valueCodec
	tick  int64
}

func (m *sibModel) live(o *siblings.Object) []siblings.Sibling {
	if o == nil {
		return nil
	}
	return siblings.LiveSiblings(o)
}

func (m *sibModel) read(r int) (any, int) {
	o := m.objs[r]
	if o == nil {
		return (*siblings.Object)(nil), 0
	}
	return o, len(o.Siblings)
}

func (m *sibModel) store(r int, v []byte, ctx *siblings.Object) {
	m.tick++
	var clk vclock.VClock
	if ctx != nil {
		clk = ctx.Clock
	}
	put := siblings.Sibling{Value: v, Meta: siblings.Meta{LastModified: m.tick, VTag: fmt.Sprintf("t%06d", m.tick)}}
	o := siblings.Update(m.objs[r], put, clk, actorOf(r), m.tick, siblings.UpdateOptions{DVV: m.dvv})
	if !m.keep {
		o = siblings.ChooseLatest(o)
	}
	m.objs[r] = o
}

func (m *sibModel) current(snap any) (*siblings.Object, []byte) {
	o, _ := snap.(*siblings.Object)
	if o == nil {
		return nil, nil
	}
	return o, m.codec.resolve(m.live(o))
}

func (m *sibModel) write(r int, snap any, st Step, id int) (bool, error) {
	o, v := m.current(snap)
	m.store(r, m.codec.apply(v, st, id), o)
	return false, nil
}

func (m *sibModel) resolve(r int, snap any) error {
	o, v := m.current(snap)
	if o == nil {
		return nil
	}
	m.store(r, v, o)
	return nil
}

func (m *sibModel) merge(dst, src int) {
	o := siblings.Merge(m.objs[dst], m.objs[src])
	if !m.keep {
		o = siblings.ChooseLatest(o)
	}
	m.objs[dst] = o
}

func (m *sibModel) final(r int) (string, []string, map[int]int, int) {
	o := m.objs[r]
	if o == nil {
		v, e, p := m.codec.show(nil)
		return v, e, p, 0
	}
	v, e, p := m.codec.show(m.codec.resolve(m.live(o)))
	return v, e, p, len(o.Siblings)
}

// blogCodec is the {version, balance, last_op} scheme (reference §5.1),
// carrying hidden provenance so the lab can count lost and doubled
// operations exactly: prov counts how often each operation's amount went
// into the balance, and is updated exactly as the balance is.
type blogCodec struct{ lww bool }

type blogValue struct {
	Version int64       `json:"version"`
	Balance int64       `json:"balance"`
	LastOp  int64       `json:"last_op"`
	LastID  int         `json:"last_id"`
	Prov    map[int]int `json:"prov"`
}

func decodeBlog(b []byte) blogValue {
	var v blogValue
	if len(b) > 0 {
		_ = json.Unmarshal(b, &v)
	}
	if v.Prov == nil {
		v.Prov = map[int]int{}
	}
	return v
}

func (c blogCodec) resolve(sibs []siblings.Sibling) []byte {
	switch len(sibs) {
	case 0:
		return nil
	case 1:
		return sibs[0].Value
	}
	if c.lww {
		return siblings.ChooseLatest(&siblings.Object{Siblings: sibs}).Siblings[0].Value
	}
	// Take the highest version (ties: the earlier write, as in the
	// reference's traces; the other choice is as arbitrary and fails on
	// other histories), add every other sibling's last_op, bump the
	// version.
	best := 0
	vals := make([]blogValue, len(sibs))
	for i, s := range sibs {
		vals[i] = decodeBlog(s.Value)
		if vals[i].Version > vals[best].Version || (vals[i].Version == vals[best].Version && s.Meta.VTag < sibs[best].Meta.VTag) {
			best = i
		}
	}
	out := vals[best]
	prov := map[int]int{}
	for k, n := range out.Prov {
		prov[k] = n
	}
	out.Prov = prov
	for i, v := range vals {
		if i == best {
			continue
		}
		out.Balance += v.LastOp
		if v.LastID != 0 {
			out.Prov[v.LastID]++
		}
	}
	out.Version++
	b, _ := json.Marshal(out)
	return b
}

func (c blogCodec) apply(b []byte, st Step, id int) []byte {
	v := decodeBlog(b)
	v.Balance += st.Amount
	v.Version++
	v.LastOp, v.LastID = st.Amount, id
	v.Prov[id]++
	out, _ := json.Marshal(v)
	return out
}

func (c blogCodec) show(b []byte) (string, []string, map[int]int) {
	v := decodeBlog(b)
	return strconv.FormatInt(v.Balance, 10), nil, v.Prov
}

// cartCodec is a cart as a JSON array of strings: union resolution (the
// json_set_union resolver) or last write wins.
type cartCodec struct{ union bool }

func (c cartCodec) items(b []byte) []string {
	var l []string
	if len(b) > 0 {
		_ = json.Unmarshal(b, &l)
	}
	return l
}

func (c cartCodec) resolve(sibs []siblings.Sibling) []byte {
	if len(sibs) == 0 {
		return nil
	}
	if !c.union {
		return siblings.ChooseLatest(&siblings.Object{Siblings: sibs}).Siblings[0].Value
	}
	r, _ := siblings.NewRegistry().Get("json_set_union")
	s, err := r.Resolve(sibs)
	if err != nil {
		return nil
	}
	return s.Value
}

func (c cartCodec) apply(b []byte, st Step, _ int) []byte {
	set := map[string]bool{}
	for _, e := range c.items(b) {
		set[e] = true
	}
	if st.Op == "add" {
		set[st.Elem] = true
	} else {
		delete(set, st.Elem)
	}
	l := make([]string, 0, len(set))
	for e := range set {
		l = append(l, e)
	}
	sort.Strings(l)
	out, _ := json.Marshal(l)
	return out
}

func (c cartCodec) show(b []byte) (string, []string, map[int]int) {
	l := c.items(b)
	return "[" + strings.Join(l, " ") + "]", l, nil
}

// crdtModel keeps a data-type value per replica; operations apply at the
// replica with its actor (Riak's action at a distance), replication merges.
type crdtModel struct {
	kind dt.Kind
	vals []dt.CRDT
}

func newCRDTModel(n int, k dt.Kind) (model, error) {
	m := &crdtModel{kind: k, vals: make([]dt.CRDT, n+1)}
	for r := 1; r <= n; r++ {
		v, err := dt.New(k)
		if err != nil {
			return nil, err
		}
		m.vals[r] = v
	}
	return m, nil
}

// crdtSnap is what a data-type read hands the client: its context.
type crdtSnap struct{ ctx dt.Context }

func (m *crdtModel) read(r int) (any, int) {
	return crdtSnap{ctx: m.vals[r].Context()}, 1
}

func (m *crdtModel) write(r int, snap any, st Step, id int) (bool, error) {
	var op dt.Op
	var ctx dt.Context
	switch st.Op {
	case "deposit", "withdraw":
		var err error
		if op, err = balanceOp(m.kind, st.Amount); err != nil {
			return false, err
		}
	case "add":
		op = dt.SetOp{}.Add(st.Elem)
	case "remove":
		op = dt.SetOp{}.Remove(st.Elem)
		if s, ok := snap.(crdtSnap); ok {
			ctx = s.ctx
		}
	}
	if err := m.vals[r].ApplyOp(op, actorOf(r), ctx); err != nil {
		return true, nil // refused (e.g. a remove the context did not cover)
	}
	return false, nil
}

func (m *crdtModel) resolve(int, any) error { return nil } // nothing to resolve

func (m *crdtModel) merge(dst, src int) { _ = m.vals[dst].Merge(m.vals[src]) }

func (m *crdtModel) final(r int) (string, []string, map[int]int, int) {
	v := m.vals[r].Value()
	switch x := v.(type) {
	case []string:
		return "[" + strings.Join(x, " ") + "]", x, nil, 1
	case int64:
		return strconv.FormatInt(x, 10), nil, nil, 1
	}
	return fmt.Sprint(balanceValue(v)), nil, nil, 1
}
