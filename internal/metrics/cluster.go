package metrics

import "github.com/prometheus/client_golang/prometheus"

// ClusterStats is the cluster as one node sees it, from its live cluster
// state and membership.
type ClusterStats struct {
	// Members are the ring members (every status but removed).
	Members []string
	// Connected are the other members membership reports up.
	Connected []string
	// Down counts the other members that are not up.
	Down int
	// Partitions is the ring size.
	Partitions int
	// Ownership is the number of partitions each node owns.
	Ownership map[string]int
	// PendingTransfers counts the ownership transfers still planned.
	PendingTransfers int
}

type clusterCollector struct {
	stats                                       func() ClusterStats
	members, connected, down, partitions, owned *prometheus.Desc
	pending                                     *prometheus.Desc
}

// RegisterCluster exports the cluster figures that stats returns (called
// once per scrape; it must be safe for concurrent use).
func (r *Registry) RegisterCluster(stats func() ClusterStats) {
	r.reg.MustRegister(&clusterCollector{
		stats:      stats,
		members:    prometheus.NewDesc("riakgo_ring_members", "Members of the ring (joining, valid, leaving) as this node sees it.", nil, nil),
		connected:  prometheus.NewDesc("riakgo_connected_nodes", "Other ring members this node sees up.", nil, nil),
		down:       prometheus.NewDesc("riakgo_ring_members_down", "Other ring members this node sees down.", nil, nil),
		partitions: prometheus.NewDesc("riakgo_ring_partitions", "Partitions of the ring (ring size).", nil, nil),
		owned:      prometheus.NewDesc("riakgo_ring_partitions_owned", "Partitions each member owns in this node's ring.", []string{"node"}, nil),
		pending:    prometheus.NewDesc("riakgo_ring_pending_transfers", "Ownership transfers planned and not yet complete.", nil, nil),
	})
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.members, c.connected, c.down, c.partitions, c.owned, c.pending} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(len(s.Members)))
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, float64(len(s.Connected)))
	ch <- prometheus.MustNewConstMetric(c.down, prometheus.GaugeValue, float64(s.Down))
	ch <- prometheus.MustNewConstMetric(c.partitions, prometheus.GaugeValue, float64(s.Partitions))
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.PendingTransfers))
	for node, n := range s.Ownership {
		ch <- prometheus.MustNewConstMetric(c.owned, prometheus.GaugeValue, float64(n), node)
	}
}
