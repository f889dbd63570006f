package kv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/riakgo/riakgo/quorum"
	"github.com/riakgo/riakgo/vclock"
)

// Props are a bucket's properties, with Riak's names in JSON. Resolution is
// request parameter → bucket → bucket type → defaults.
type Props struct {
	NVal         int
	R, W, DW, RW quorum.Value
	PR, PW       quorum.Value
	// NodeConfirms is node_confirms (Riak 3.x, default 0): a write (or a
	// read) succeeds only with replies from this many distinct nodes.
	NodeConfirms  quorum.Value
	AllowMult     bool
	LastWriteWins bool
	DVVEnabled    bool
	NotFoundOK    bool
	BasicQuorum   bool
	WriteOnce     bool
	YoungVclock   int64
	OldVclock     int64
	SmallVclock   int
	BigVclock     int
	// SyncOnWrite is none (Riak's default: the write reaches the OS),
	// one (the coordinating vnode fsyncs) or all (every replica fsyncs).
	SyncOnWrite string
	// Datatype is the immutable data-type property of a bucket type
	// ("" for plain key-value buckets).
	Datatype string
	// HLLPrecision is hll_precision, the precision of the HyperLogLog
	// sketches of a datatype hll bucket type (4..16, default 14; it may be
	// lowered but never raised). 0 for other buckets.
	HLLPrecision int
	// Resolver (riakgo) names how reads resolve siblings: "" or
	// allow_mult (the client resolves), last_write_wins (the latest value
	// wins and is written back), datatype (the bucket's data type merges
	// them), oplog (the bucket type's op-log register), or the name of a
	// registered resolver (json_set_union,
	// numeric_max, longest, or one registered in Go), whose result is
	// written back.
	Resolver string
	// AllowPatterns (riakgo, pg bucket types): group names may hold '*'
	// wildcards that concrete names match (cpg's pattern groups).
	AllowPatterns bool
}

// DefaultProps returns the properties of the default bucket type, Riak's
// defaults: n_val 3, quorums "quorum", pr/pw 0, allow_mult false,
// dvv_enabled false, notfound_ok true, vclock pruning 20 s / 86400 s / 50 / 50.
func DefaultProps() Props {
	return Props{
		NVal: 3,
		R:    quorum.ValQuorum, W: quorum.ValQuorum, DW: quorum.ValQuorum, RW: quorum.ValQuorum,
		PR: quorum.Of(0), PW: quorum.Of(0), NodeConfirms: quorum.Of(0),
		NotFoundOK:  true,
		YoungVclock: 20, OldVclock: 86400, SmallVclock: 50, BigVclock: 50,
		SyncOnWrite: "none",
	}
}

// DefaultTypedProps returns the defaults of a newly created bucket type:
// the default type's, with allow_mult and dvv_enabled true, as in Riak.
func DefaultTypedProps() Props {
	p := DefaultProps()
	p.AllowMult = true
	p.DVVEnabled = true
	return p
}

// keepsSiblings reports whether reads keep siblings for the client
// (allow_mult without last_write_wins) rather than resolving them to the
// latest value.
func (p Props) keepsSiblings() bool { return p.AllowMult && !p.LastWriteWins }

// Prune returns the vclock pruning properties.
func (p Props) Prune() vclock.PruneProps {
	return vclock.PruneProps{Small: p.SmallVclock, Big: p.BigVclock, Young: p.YoungVclock, Old: p.OldVclock}
}

// PropsError lists per-property validation failures, as Riak's JSON error
// body {prop: reason}.
type PropsError struct {
	Reasons map[string]string
}

func (e *PropsError) Error() string {
	keys := make([]string, 0, len(e.Reasons))
	for k := range e.Reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Reasons[k]
	}
	return "invalid bucket properties: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrBadProps) true.
func (e *PropsError) Unwrap() error { return ErrBadProps }

// propSetter validates one JSON property and applies it to p.
type propSetter func(p *Props, raw json.RawMessage) string

func boolProp(f func(*Props) *bool) propSetter {
	return func(p *Props, raw json.RawMessage) string {
		b, ok := coerceBool(raw)
		if !ok {
			return "not_boolean"
		}
		*f(p) = b
		return ""
	}
}

// coerceBool accepts true/false, "true"/"false" in any case, and 0/1, as
// Riak's bucket validator does.
func coerceBool(raw json.RawMessage) (bool, bool) {
	s := strings.ToLower(strings.Trim(string(bytes.TrimSpace(raw)), `"`))
	switch s {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

func posIntProp(f func(*Props) *int) propSetter {
	return func(p *Props, raw json.RawMessage) string {
		n, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
		if err != nil || n <= 0 {
			return "not_integer"
		}
		*f(p) = n
		return ""
	}
}

func posInt64Prop(f func(*Props) *int64) propSetter {
	return func(p *Props, raw json.RawMessage) string {
		n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err != nil || n <= 0 {
			return "not_integer"
		}
		*f(p) = n
		return ""
	}
}

// quorumProp accepts an integer (> 0, or ≥ 0 when zeroOK) or a symbol.
func quorumProp(zeroOK bool, f func(*Props) *quorum.Value) propSetter {
	return func(p *Props, raw json.RawMessage) string {
		var v quorum.Value
		if err := v.UnmarshalJSON(bytes.TrimSpace(raw)); err != nil || v.Sym == quorum.Default {
			return "not_valid_quorum"
		}
		if v.Sym == quorum.Int && (v.N < 0 || (v.N == 0 && !zeroOK)) {
			return "not_valid_quorum"
		}
		*f(p) = v
		return ""
	}
}

// ignoredProp accepts and ignores a property: read-only ones (name,
// active, claimant) that clients echo back, and Riak features riakgo has
// not got whose default value is harmless.
func ignoredProp(p *Props, raw json.RawMessage) string { return "" }

// emptyListProp accepts only an empty list (commit hooks are not supported).
func emptyListProp(p *Props, raw json.RawMessage) string {
	var l []json.RawMessage
	if err := json.Unmarshal(raw, &l); err != nil {
		return "not_a_list"
	}
	if len(l) > 0 {
		return "commit hooks are not supported by riakgo"
	}
	return ""
}

var propSetters = map[string]propSetter{
	"n_val":           posIntProp(func(p *Props) *int { return &p.NVal }),
	"r":               quorumProp(false, func(p *Props) *quorum.Value { return &p.R }),
	"w":               quorumProp(false, func(p *Props) *quorum.Value { return &p.W }),
	"rw":              quorumProp(false, func(p *Props) *quorum.Value { return &p.RW }),
	"dw":              quorumProp(true, func(p *Props) *quorum.Value { return &p.DW }),
	"pr":              quorumProp(true, func(p *Props) *quorum.Value { return &p.PR }),
	"pw":              quorumProp(true, func(p *Props) *quorum.Value { return &p.PW }),
	"node_confirms":   quorumProp(true, func(p *Props) *quorum.Value { return &p.NodeConfirms }),
	"allow_mult":      boolProp(func(p *Props) *bool { return &p.AllowMult }),
	"last_write_wins": boolProp(func(p *Props) *bool { return &p.LastWriteWins }),
	"dvv_enabled":     boolProp(func(p *Props) *bool { return &p.DVVEnabled }),
	"allow_patterns":  boolProp(func(p *Props) *bool { return &p.AllowPatterns }),
	"notfound_ok":     boolProp(func(p *Props) *bool { return &p.NotFoundOK }),
	"basic_quorum":    boolProp(func(p *Props) *bool { return &p.BasicQuorum }),
	"young_vclock":    posInt64Prop(func(p *Props) *int64 { return &p.YoungVclock }),
	"old_vclock":      posInt64Prop(func(p *Props) *int64 { return &p.OldVclock }),
	"small_vclock":    posIntProp(func(p *Props) *int { return &p.SmallVclock }),
	"big_vclock":      posIntProp(func(p *Props) *int { return &p.BigVclock }),
	"sync_on_write": func(p *Props, raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "must be one of none, one, all"
		}
		switch s {
		case "none", "one", "all":
			p.SyncOnWrite = s
			return ""
		case "backend": // Riak 2.9's name for "as the backend is configured"
			p.SyncOnWrite = "none"
			return ""
		}
		return "must be one of none, one, all"
	},
	"write_once": func(p *Props, raw json.RawMessage) string {
		b, ok := coerceBool(raw)
		if !ok {
			return "not_boolean"
		}
		if b != p.WriteOnce {
			return "write_once can only be set when a bucket type is created"
		}
		return ""
	},
	"hll_precision": func(p *Props, raw json.RawMessage) string {
		n, msg := checkHLLPrecision(p.Datatype, p.HLLPrecision, raw)
		if msg == "" && n != 0 {
			p.HLLPrecision = n
		}
		return msg
	},
	"datatype": func(p *Props, raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		if s != p.Datatype {
			return "Cannot update datatype on existing bucket"
		}
		return ""
	},
	"resolver": func(p *Props, raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "must be a string naming a resolver"
		}
		for _, c := range s {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return "resolver names use a-z, 0-9 and _"
			}
		}
		p.Resolver = s
		return ""
	},
	"consistent": func(p *Props, raw json.RawMessage) string {
		if b, ok := coerceBool(raw); !ok || b {
			return "strongly consistent buckets are not supported by riakgo"
		}
		return ""
	},
	"precommit":    emptyListProp,
	"postcommit":   emptyListProp,
	"name":         ignoredProp,
	"active":       ignoredProp,
	"claimant":     ignoredProp,
	"chash_keyfun": ignoredProp,
	"linkfun":      ignoredProp,
	"search":       ignoredProp,
	"search_index": ignoredProp,
	"backend":      ignoredProp,
	"stat_tracked": ignoredProp,
}

// ApplyJSON validates the properties in raw and applies them to base. It
// returns the new properties, or a *PropsError naming each bad property
// (unknown names included).
func ApplyJSON(base Props, raw map[string]json.RawMessage) (Props, error) {
	p := base
	reasons := map[string]string{}
	for name, v := range raw {
		set, ok := propSetters[name]
		if !ok {
			reasons[name] = "unknown property"
			continue
		}
		if msg := set(&p, v); msg != "" {
			reasons[name] = msg
		}
	}
	if p.LastWriteWins && p.DVVEnabled {
		reasons["dvv_enabled"] = "If last_write_wins is true, dvv_enabled must be false"
	}
	if p.Datatype != "" && !p.AllowMult {
		reasons["allow_mult"] = "Data Type buckets must be allow_mult=true"
	}
	if p.AllowPatterns && p.Datatype != "pg" {
		reasons["allow_patterns"] = "allow_patterns needs a bucket type with datatype pg"
	}
	if len(reasons) > 0 {
		return base, &PropsError{Reasons: reasons}
	}
	return p, nil
}

// JSON returns the properties as Riak's props object, with name set to the
// bucket's name.
func (p Props) JSON(name string) map[string]any {
	m := map[string]any{
		"name":            name,
		"n_val":           p.NVal,
		"r":               p.R,
		"w":               p.W,
		"dw":              p.DW,
		"rw":              p.RW,
		"pr":              p.PR,
		"pw":              p.PW,
		"node_confirms":   p.NodeConfirms,
		"allow_mult":      p.AllowMult,
		"last_write_wins": p.LastWriteWins,
		"dvv_enabled":     p.DVVEnabled,
		"notfound_ok":     p.NotFoundOK,
		"basic_quorum":    p.BasicQuorum,
		"write_once":      p.WriteOnce,
		"young_vclock":    p.YoungVclock,
		"old_vclock":      p.OldVclock,
		"small_vclock":    p.SmallVclock,
		"big_vclock":      p.BigVclock,
		"sync_on_write":   p.SyncOnWrite,
		"precommit":       []any{},
		"postcommit":      []any{},
		"chash_keyfun":    map[string]string{"mod": "riak_core_util", "fun": "chash_std_keyfun"},
		"linkfun":         map[string]string{"mod": "riak_kv_wm_link_walker", "fun": "mapreduce_linkfun"},
	}
	if p.Datatype != "" {
		m["datatype"] = p.Datatype
	}
	if p.Datatype == "hll" {
		m["hll_precision"] = p.hllPrecision()
	}
	if p.Resolver != "" {
		m["resolver"] = p.Resolver
	}
	if p.AllowPatterns {
		m["allow_patterns"] = true
	}
	return m
}

// Riak's HyperLogLog precision bounds and default (riak_kv_hll).
const (
	minHLLPrecision     = 4
	maxHLLPrecision     = 16
	defaultHLLPrecision = 14
)

// hllPrecision returns hll_precision, with the default when it is unset.
func (p Props) hllPrecision() int {
	if p.HLLPrecision == 0 {
		return defaultHLLPrecision
	}
	return p.HLLPrecision
}

// checkHLLPrecision validates a new hll_precision for a bucket (type) of
// datatype dt whose current precision is cur (0 while the type is being
// created), as riak_kv_bucket:hll_precision/3 does: only hll types have the
// property (for other types it is ignored: n is 0); it must be an integer
// in 4..16, and an update may keep or lower it but never raise it. An
// integer in a string is accepted on update, as Riak does. It returns the
// precision, or Riak's error text.
func checkHLLPrecision(dt string, cur int, raw json.RawMessage) (n int, msg string) {
	if dt != "hll" {
		return 0, ""
	}
	text := string(bytes.TrimSpace(raw))
	if cur != 0 && strings.HasPrefix(text, `"`) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			text = s
		}
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < minHLLPrecision || n > maxHLLPrecision || (cur != 0 && n > cur) {
		return 0, text + " not supported for Hyperloglog precision property for bucket type. " +
			"Precision must be an integer between 4 and 16, inclusive (3 < p < 17) and " +
			"precision can be reduced but never increased after initial setting"
	}
	return n, ""
}

// String is for logs.
func (p Props) String() string {
	return fmt.Sprintf("n_val=%d r=%s w=%s dw=%s pr=%s pw=%s allow_mult=%t lww=%t dvv=%t",
		p.NVal, p.R, p.W, p.DW, p.PR, p.PW, p.AllowMult, p.LastWriteWins, p.DVVEnabled)
}
