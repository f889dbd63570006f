package bench

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Key generator names accepted in Config.KeyGen.
const (
	// KeyGenPareto draws keys from basho_bench's truncated_pareto_int
	// distribution: most operations hit a small set of low-numbered keys.
	KeyGenPareto = "pareto"
	// KeyGenUniform draws keys uniformly from 1..Keys.
	KeyGenUniform = "uniform"
)

// Op is one kind of benchmark operation.
type Op int

// The operations a Mix can contain.
const (
	// OpGet fetches a key; 200, 300 and 404 are all successes.
	OpGet Op = iota
	// OpUpdate fetches a key and writes it back with the vclock returned by
	// the fetch (read-modify-write). It counts as one operation.
	OpUpdate
	// OpPut writes a key blindly, without a vclock.
	OpPut
	// OpDelete deletes a key; 2xx and 404 are successes.
	OpDelete

	numOps = iota
)

var opNames = [numOps]string{"get", "update", "put", "delete"}

// String returns the operation's name as used in mixes and reports.
func (o Op) String() string {
	if o < 0 || int(o) >= numOps {
		return "op(" + strconv.Itoa(int(o)) + ")"
	}
	return opNames[o]
}

// ParseOp returns the Op named s ("get", "update", "put" or "delete").
func ParseOp(s string) (Op, error) {
	for i, n := range opNames {
		if s == n {
			return Op(i), nil
		}
	}
	return 0, fmt.Errorf("unknown operation %q (want one of %s)", s, strings.Join(opNames[:], ", "))
}

// MixEntry is one weighted operation of a Mix.
type MixEntry struct {
	Op     Op
	Weight int
}

// Mix is a weighted set of operations, written as "op:weight,op:weight",
// e.g. "get:5,update:1". Each worker picks its next operation at random with
// probability proportional to the weights. Mix implements flag.Value.
type Mix []MixEntry

// DefaultMix is the mix used by DefaultConfig, five gets per update.
const DefaultMix = "get:5,update:1"

// ParseMix parses a mix such as "get:5,update:1,put:1,delete:1". Spaces
// around items are ignored; each operation may appear only once, weights must
// be non-negative integers and at least one must be positive.
func ParseMix(s string) (Mix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty mix")
	}
	var m Mix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		name, weight, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("mix item %q: want op:weight", item)
		}
		op, err := ParseOp(strings.TrimSpace(name))
		if err != nil {
			return nil, fmt.Errorf("mix item %q: %w", item, err)
		}
		w, err := strconv.Atoi(strings.TrimSpace(weight))
		if err != nil || w < 0 {
			return nil, fmt.Errorf("mix item %q: weight must be a non-negative integer", item)
		}
		m = append(m, MixEntry{Op: op, Weight: w})
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// validate checks that m has no duplicate operations and a positive total
// weight that cannot overflow.
func (m Mix) validate() error {
	var seen [numOps]bool
	total := 0
	for _, e := range m {
		if e.Op < 0 || int(e.Op) >= numOps {
			return fmt.Errorf("mix: invalid operation %d", int(e.Op))
		}
		if seen[e.Op] {
			return fmt.Errorf("mix: operation %s listed twice", e.Op)
		}
		seen[e.Op] = true
		if e.Weight < 0 || e.Weight > 1<<30 {
			return fmt.Errorf("mix: weight of %s out of range", e.Op)
		}
		total += e.Weight
	}
	if total <= 0 {
		return errors.New("mix: total weight must be positive")
	}
	return nil
}

// String formats m in the syntax accepted by ParseMix.
func (m Mix) String() string {
	var b strings.Builder
	for i, e := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e.Op.String())
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Weight))
	}
	return b.String()
}

// Set replaces m with the parsed value of s, so a *Mix can be a flag.
func (m *Mix) Set(s string) error {
	p, err := ParseMix(s)
	if err != nil {
		return err
	}
	*m = p
	return nil
}

// has reports whether op has a positive weight in m.
func (m Mix) has(op Op) bool {
	for _, e := range m {
		if e.Op == op && e.Weight > 0 {
			return true
		}
	}
	return false
}

// Config describes one benchmark run. Start from DefaultConfig and override
// fields; Run calls Validate.
type Config struct {
	// URL is the base URL of the server's HTTP interface. A path in it is
	// kept as a prefix of every request path.
	URL string
	// Bucket is the bucket all keys live in.
	Bucket string
	// Type is the optional bucket type. When set, objects are addressed as
	// /types/Type/buckets/Bucket/keys/K, otherwise /buckets/Bucket/keys/K.
	Type string

	// Workers is the number of concurrent closed-loop workers, each with at
	// most one request in flight.
	Workers int
	// Duration is how long the timed part of the run lasts.
	Duration time.Duration
	// Interval is how often a progress line (and CSV rows) is written.
	Interval time.Duration

	// Keys is the size of the key space; keys are the decimal integers
	// 1..Keys.
	Keys int
	// KeyGen selects the key distribution, KeyGenPareto or KeyGenUniform.
	KeyGen string
	// ValueSize is the size in bytes of the values written by update and
	// put. Each worker generates one random value and re-uses it.
	ValueSize int
	// Mix is the weighted set of operations.
	Mix Mix

	// Seed seeds the key, operation and value generators; 0 means derive
	// one from the clock. Runs with equal seeds and worker counts issue the
	// same per-worker sequences of operations.
	Seed int64
	// CSV is the path of a CSV file to write per-interval rows to; empty
	// means none.
	CSV string
	// Timeout bounds each HTTP request, including reading its response.
	Timeout time.Duration
	// Preload is the number of keys (1..Preload) written before the timed
	// run starts, so that gets and updates find existing objects. 0 skips
	// the preload.
	Preload int
	// PB, when set, is the host:port of a Protocol Buffers API: the same
	// workload then runs over PB (one connection per worker: RpbGetReq,
	// RpbPutReq with the vclock, RpbDelReq) instead of over URL.
	PB string
	// User and Password, if set, are sent as Basic credentials (a node
	// with security on; URL is then https://).
	User, Password string
	// CACert is a PEM file of the CA that signed the node's certificate
	// (https:// URLs); empty: the system's roots.
	CACert string
}

// DefaultConfig returns the default configuration: 50 workers for 60s
// against http://127.0.0.1:8098, bucket "bench", 100000 Pareto-distributed
// keys, 1 KiB values and a get:5,update:1 mix, reporting every 10s.
func DefaultConfig() Config {
	mix, err := ParseMix(DefaultMix)
	if err != nil {
		panic(err) // DefaultMix is a constant known to parse.
	}
	return Config{
		URL:       "http://127.0.0.1:8098",
		Bucket:    "bench",
		Workers:   50,
		Duration:  60 * time.Second,
		Interval:  10 * time.Second,
		Keys:      100000,
		KeyGen:    KeyGenPareto,
		ValueSize: 1024,
		Mix:       mix,
		Timeout:   5 * time.Second,
	}
}

// maxValueSize bounds Config.ValueSize; every worker holds one value.
const maxValueSize = 64 << 20

// Validate reports the first problem with c, or nil if c can be run.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return fmt.Errorf("url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("url %q: scheme must be http or https", c.URL)
	case u.Host == "":
		return fmt.Errorf("url %q: missing host", c.URL)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("url %q: must not have a query or fragment", c.URL)
	case c.Bucket == "":
		return errors.New("bucket must not be empty")
	case c.PB != "" && !validHostPort(c.PB):
		return fmt.Errorf("pb address %q: want host:port", c.PB)
	case c.Workers < 1:
		return fmt.Errorf("workers must be at least 1, got %d", c.Workers)
	case c.Duration <= 0:
		return fmt.Errorf("duration must be positive, got %v", c.Duration)
	case c.Interval <= 0:
		return fmt.Errorf("interval must be positive, got %v", c.Interval)
	case c.Keys < 1:
		return fmt.Errorf("keys must be at least 1, got %d", c.Keys)
	case c.KeyGen != KeyGenPareto && c.KeyGen != KeyGenUniform:
		return fmt.Errorf("keygen %q: want %q or %q", c.KeyGen, KeyGenPareto, KeyGenUniform)
	case c.ValueSize < 0 || c.ValueSize > maxValueSize:
		return fmt.Errorf("value size must be in [0, %d], got %d", maxValueSize, c.ValueSize)
	case c.Timeout <= 0:
		return fmt.Errorf("timeout must be positive, got %v", c.Timeout)
	case c.Preload < 0 || c.Preload > c.Keys:
		return fmt.Errorf("preload must be in [0, keys=%d], got %d", c.Keys, c.Preload)
	}
	if len(c.Mix) == 0 {
		return errors.New("mix: no operations")
	}
	return c.Mix.validate()
}

func validHostPort(a string) bool {
	_, port, err := net.SplitHostPort(a)
	return err == nil && port != ""
}
