package metrics

import "github.com/prometheus/client_golang/prometheus"

// PGStats are the process-group figures a node exports (see kv/pg.Stats).
type PGStats struct {
	Groups, Members, Leases    int   // now: groups and member ids this node owns, TTL leases
	WatchStreams               int64 // now: open watch streams
	Joins, Leaves, LeaseLapses int64 // totals since start
	Prunes, Repairs            int64 // totals since start
}

// pgCollector reads the stats once per scrape.
type pgCollector struct {
	stats func() PGStats
	descs map[string]*prometheus.Desc
}

var pgMetrics = []struct {
	name, help string
	counter    bool
	value      func(PGStats) float64
}{
	{"pg_groups", "Process groups with members owned by this node.", false, func(s PGStats) float64 { return float64(s.Groups) }},
	{"pg_members", "Process-group member ids owned by this node.", false, func(s PGStats) float64 { return float64(s.Members) }},
	{"pg_leases", "Process-group members with a TTL lease on this node.", false, func(s PGStats) float64 { return float64(s.Leases) }},
	{"pg_watch_streams", "Open process-group watch streams.", false, func(s PGStats) float64 { return float64(s.WatchStreams) }},
	{"pg_joins_total", "Process-group join requests served.", true, func(s PGStats) float64 { return float64(s.Joins) }},
	{"pg_leaves_total", "Process-group leave requests served.", true, func(s PGStats) float64 { return float64(s.Leaves) }},
	{"pg_lease_lapses_total", "Members left because their lease lapsed.", true, func(s PGStats) float64 { return float64(s.LeaseLapses) }},
	{"pg_prunes_total", "Stored members pruned (owner restarted or left the cluster).", true, func(s PGStats) float64 { return float64(s.Prunes) }},
	{"pg_repairs_total", "Groups the owner re-synced after a mismatch or at its sweep.", true, func(s PGStats) float64 { return float64(s.Repairs) }},
}

// RegisterPG exports the process-group stats that stats returns (called
// once per scrape; it must be safe for concurrent use).
func (r *Registry) RegisterPG(stats func() PGStats) {
	c := &pgCollector{stats: stats, descs: map[string]*prometheus.Desc{}}
	for _, m := range pgMetrics {
		c.descs[m.name] = prometheus.NewDesc("riakgo_"+m.name, m.help, nil, nil)
	}
	r.reg.MustRegister(c)
}

func (c *pgCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *pgCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for _, m := range pgMetrics {
		t := prometheus.GaugeValue
		if m.counter {
			t = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(c.descs[m.name], t, m.value(s))
	}
}
