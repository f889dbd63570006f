package metrics

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// docMetric is one row of the metrics table in docs/operations.md.
type docMetric struct {
	typ    string              // counter, gauge, histogram
	labels map[string][]string // label → listed values (nil: any)
}

// docMetrics parses the table: | `name` | type | `label` = v1, v2; `l2` (…) |.
func docMetrics(t *testing.T) map[string]docMetric {
	t.Helper()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "## Metrics")
	if i < 0 {
		t.Fatal("docs/operations.md has no Metrics section")
	}
	doc = doc[i:]
	if j := strings.Index(doc[3:], "\n## "); j >= 0 {
		doc = doc[:j+3]
	}
	tick := regexp.MustCompile("`([^`]+)`")
	out := map[string]docMetric{}
	for _, line := range strings.Split(doc, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`riakgo_") {
			continue
		}
		m := docMetric{typ: strings.TrimSpace(cells[2]), labels: map[string][]string{}}
		for _, part := range strings.Split(cells[3], ";") {
			name := tick.FindStringSubmatch(part)
			if name == nil {
				continue
			}
			var values []string
			if _, vs, ok := strings.Cut(part, "="); ok {
				for _, v := range strings.Split(vs, ",") {
					values = append(values, strings.TrimSpace(v))
				}
			}
			m.labels[name[1]] = values
		}
		for _, n := range tick.FindAllStringSubmatch(cells[1], -1) {
			out[n[1]] = m
		}
	}
	return out
}

// exercised is a registry with every documented label value used once.
func exercised(t *testing.T, doc map[string]docMetric) *Registry {
	t.Helper()
	r := New()
	r.RegisterPG(func() PGStats { return PGStats{} })
	r.RegisterStorage(func() StorageStats { return StorageStats{} })
	r.RegisterCluster(func() ClusterStats {
		return ClusterStats{Members: []string{"a", "b"}, Connected: []string{"b"}, Partitions: 8, Ownership: map[string]int{"a": 4, "b": 4}}
	})
	for _, op := range doc["riakgo_request_duration_seconds"].labels["op"] {
		r.Request(op, 200, time.Millisecond)
	}
	r.ObjectRead(1, 10)
	r.ObjectWritten(1, 10)
	r.ReadRepairs(1)
	for _, typ := range doc["riakgo_handoff_transfers_total"].labels["type"] {
		for _, res := range doc["riakgo_handoff_transfers_total"].labels["result"] {
			r.TransferDone(typ, res)
		}
		r.TransferProgress(typ, 1, 1)
	}
	for _, d := range doc["riakgo_handoff_active"].labels["direction"] {
		r.ActiveTransfers(d, 1)
	}
	for _, res := range doc["riakgo_aae_exchanges_total"].labels["result"] {
		r.Exchange(res, 1)
	}
	r.TreeBuilt(0.5)
	return r
}

// TestMetricsMatchDocs: /metrics and the table in docs/operations.md are
// one: the same riakgo_* families, of the same types, with the same label
// names, the documented op values equal to the ones the registry accepts,
// and every other documented value exported as given.
func TestMetricsMatchDocs(t *testing.T) {
	doc := docMetrics(t)
	if len(doc) == 0 {
		t.Fatal("no riakgo_ metrics found in the docs table")
	}
	if got := doc["riakgo_request_duration_seconds"].labels["op"]; !slices.Equal(got, ops) {
		t.Errorf("documented op values %q, the registry's %q", got, ops)
	}
	if got := doc["riakgo_responses_total"].labels["op"]; !slices.Equal(got, ops) {
		t.Errorf("documented op values of responses_total %q, the registry's %q", got, ops)
	}
	fams, err := exercised(t, doc).Prometheus().Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "riakgo_") {
			if !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
				t.Errorf("/metrics exports %s, outside riakgo_*, go_*, process_*", name)
			}
			continue
		}
		seen[name] = true
		d, ok := doc[name]
		if !ok {
			t.Errorf("/metrics exports %s, which docs/operations.md does not list", name)
			continue
		}
		if typ := strings.ToLower(f.GetType().String()); typ != d.typ {
			t.Errorf("%s is a %s; the docs say %s", name, typ, d.typ)
		}
		values := map[string]map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if values[lp.GetName()] == nil {
					values[lp.GetName()] = map[string]bool{}
				}
				values[lp.GetName()][lp.GetValue()] = true
			}
		}
		gotNames := sortedKeys(values)
		if wantNames := sortedKeys(d.labels); !slices.Equal(gotNames, wantNames) {
			t.Errorf("%s has labels %q; the docs say %q", name, gotNames, wantNames)
		}
		for l, want := range d.labels {
			if want == nil {
				continue
			}
			if got := sortedKeys(values[l]); !slices.Equal(got, sorted(want)) {
				t.Errorf("%s{%s}: exported values %q, documented %q", name, l, got, want)
			}
		}
	}
	for name := range doc {
		if !seen[name] {
			t.Errorf("docs/operations.md lists %s, which /metrics does not export", name)
		}
	}
}

// TestMetricNamingConventions: Prometheus' naming rules on every riakgo_*
// family: snake case, counters (and only counters) end in _total, no
// histogram or gauge ends in _total, duration histograms are _seconds,
// size histograms _bytes, no non-base units.
func TestMetricNamingConventions(t *testing.T) {
	fams, err := exercised(t, docMetrics(t)).Prometheus().Gather()
	if err != nil {
		t.Fatal(err)
	}
	valid := regexp.MustCompile(`^riakgo_[a-z][a-z0-9_]*[a-z0-9]$`)
	nonBase := regexp.MustCompile(`_(milliseconds|microseconds|nanoseconds|ms|us|kilobytes|megabytes|kib|mib|minutes|hours|percent)(_|$)`)
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "riakgo_") {
			continue
		}
		if !valid.MatchString(name) || strings.Contains(name, "__") {
			t.Errorf("%s: not a snake-case riakgo_ name", name)
		}
		if nonBase.MatchString(name) {
			t.Errorf("%s: not in base units", name)
		}
		total := strings.HasSuffix(name, "_total")
		switch f.GetType().String() {
		case "COUNTER":
			if !total {
				t.Errorf("counter %s does not end in _total", name)
			}
		case "HISTOGRAM":
			if total {
				t.Errorf("histogram %s ends in _total", name)
			}
			if strings.Contains(name, "duration") || strings.Contains(name, "time") || strings.Contains(name, "build") {
				if !strings.HasSuffix(name, "_seconds") {
					t.Errorf("duration histogram %s is not _seconds", name)
				}
			}
			if strings.Contains(name, "size") && !strings.HasSuffix(name, "_bytes") {
				t.Errorf("size histogram %s is not _bytes", name)
			}
		default:
			if total {
				t.Errorf("%s %s ends in _total", f.GetType(), name)
			}
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help text", name)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}
