package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// pbMetrics are the Protocol Buffers API's request metrics, created on
// first use so that a node without the PB API exports none.
type pbMetrics struct {
	once     sync.Once
	latency  *prometheus.HistogramVec
	requests *prometheus.CounterVec
}

// PBRequest implements pb.Observer: the latency of each request by message
// name, and the requests by message and outcome (ok or error).
func (r *Registry) PBRequest(msg string, ok bool, d time.Duration) {
	m := &r.pb
	m.once.Do(func() {
		m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "riakgo", Name: "pb_request_duration_seconds",
			Help:    "Protocol Buffers request latency by request message (RpbGetReq, RpbPutReq, ...).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"msg"})
		m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "riakgo", Name: "pb_requests_total",
			Help: "Protocol Buffers requests by request message and outcome (ok, error).",
		}, []string{"msg", "outcome"})
		r.reg.MustRegister(m.latency, m.requests)
	})
	outcome := "ok"
	if !ok {
		outcome = "error"
	}
	m.latency.WithLabelValues(msg).Observe(d.Seconds())
	m.requests.WithLabelValues(msg, outcome).Inc()
}
