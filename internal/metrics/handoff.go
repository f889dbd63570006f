package metrics

import "github.com/prometheus/client_golang/prometheus"

// handoffMetrics are the transfer and anti-entropy metrics.
type handoffMetrics struct {
	transfers *prometheus.CounterVec
	objects   *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	active    *prometheus.GaugeVec
	exchanges *prometheus.CounterVec
	repaired  prometheus.Counter
	treeBuild prometheus.Histogram
}

func newHandoffMetrics(reg *prometheus.Registry) *handoffMetrics {
	h := &handoffMetrics{
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "riakgo", Subsystem: "handoff", Name: "transfers_total",
			Help: "Outbound transfers ended, by type (ownership, hinted) and result (ok, failed, refused, timeout).",
		}, []string{"type", "result"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "riakgo", Subsystem: "handoff", Name: "objects_total",
			Help: "Objects sent by transfers, by type.",
		}, []string{"type"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "riakgo", Subsystem: "handoff", Name: "bytes_total",
			Help: "Bytes (keys and encoded objects) sent by transfers, by type.",
		}, []string{"type"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "riakgo", Subsystem: "handoff", Name: "active",
			Help: "Transfers running, by direction (inbound, outbound).",
		}, []string{"direction"}),
		exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "riakgo", Subsystem: "aae", Name: "exchanges_total",
			Help: "Anti-entropy exchanges, by result (in_sync, repaired, failed).",
		}, []string{"result"}),
		repaired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "riakgo", Subsystem: "aae", Name: "keys_repaired_total",
			Help: "Keys anti-entropy found different and repaired through read repair.",
		}),
		treeBuild: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "riakgo", Subsystem: "aae", Name: "tree_build_seconds",
			Help:    "Time to build a partition's hash trees from storage (after a crash or on request).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	reg.MustRegister(h.transfers, h.objects, h.bytes, h.active, h.exchanges, h.repaired, h.treeBuild)
	return h
}

// TransferDone implements handoff.Metrics.
func (r *Registry) TransferDone(kind, result string) {
	r.ho.transfers.WithLabelValues(kind, result).Inc()
}

// TransferProgress implements handoff.Metrics.
func (r *Registry) TransferProgress(kind string, objects, bytes int) {
	r.ho.objects.WithLabelValues(kind).Add(float64(objects))
	r.ho.bytes.WithLabelValues(kind).Add(float64(bytes))
}

// ActiveTransfers implements handoff.Metrics.
func (r *Registry) ActiveTransfers(direction string, n int) {
	r.ho.active.WithLabelValues(direction).Set(float64(n))
}

// Exchange counts an anti-entropy exchange and the keys it repaired.
func (r *Registry) Exchange(result string, repaired int) {
	r.ho.exchanges.WithLabelValues(result).Inc()
	r.ho.repaired.Add(float64(repaired))
}

// TreeBuilt observes a hash-tree build.
func (r *Registry) TreeBuilt(seconds float64) { r.ho.treeBuild.Observe(seconds) }
