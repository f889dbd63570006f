package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds one node's metrics.
type Registry struct {
	reg         *prometheus.Registry
	latency     *prometheus.HistogramVec
	responses   *prometheus.CounterVec
	siblings    *prometheus.HistogramVec
	objectSize  *prometheus.HistogramVec
	readRepairs prometheus.Counter
	ho          *handoffMetrics
	pb          pbMetrics

	// pre-resolved children for the hot paths
	latencyByOp  map[string]prometheus.Observer
	siblingsRead prometheus.Observer
	siblingsPut  prometheus.Observer
	sizeRead     prometheus.Observer
	sizePut      prometheus.Observer
}

// ops are the values of the op label, as the http layer names requests;
// any other name counts as "other". docs/operations.md lists them.
var ops = []string{"get", "put", "delete", "props", "ping", "list", "index", "datatype", "admin", "pg", "other"}

// New returns a registry with riakgo's metrics and the Go runtime and
// process collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "riakgo", Name: "request_duration_seconds",
		Help:    "HTTP request latency by operation (get, put, delete, props, ping, list, index, datatype, admin, pg, other).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18), // 100µs .. ~13s
	}, []string{"op"})
	r.responses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "riakgo", Name: "responses_total",
		Help: "HTTP responses by operation and status code.",
	}, []string{"op", "code"})
	r.siblings = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "riakgo", Name: "object_siblings",
		Help:    "Siblings per object read or written by clients.",
		Buckets: []float64{1, 2, 3, 5, 10, 25, 50, 100},
	}, []string{"op"})
	r.objectSize = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "riakgo", Name: "object_size_bytes",
		Help:    "Total value bytes per object read or written by clients.",
		Buckets: prometheus.ExponentialBuckets(64, 4, 12), // 64 B .. 256 MiB
	}, []string{"op"})
	r.readRepairs = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "riakgo", Name: "read_repairs_total",
		Help: "Replicas repaired after reads.",
	})
	r.reg.MustRegister(r.latency, r.responses, r.siblings, r.objectSize, r.readRepairs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.ho = newHandoffMetrics(r.reg)
	r.latencyByOp = map[string]prometheus.Observer{}
	for _, op := range ops {
		r.latencyByOp[op] = r.latency.WithLabelValues(op)
	}
	r.siblingsRead = r.siblings.WithLabelValues("get")
	r.siblingsPut = r.siblings.WithLabelValues("put")
	r.sizeRead = r.objectSize.WithLabelValues("get")
	r.sizePut = r.objectSize.WithLabelValues("put")
	return r
}

// Prometheus returns the underlying registry (for registering more
// collectors).
func (r *Registry) Prometheus() *prometheus.Registry { return r.reg }

// Handler serves the metrics in Prometheus' text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// Request implements http.Observer.
func (r *Registry) Request(op string, status int, d time.Duration) {
	o, ok := r.latencyByOp[op]
	if !ok {
		o = r.latencyByOp["other"]
		op = "other"
	}
	o.Observe(d.Seconds())
	r.responses.WithLabelValues(op, strconv.Itoa(status)).Inc()
}

// ObjectRead implements kv.Metrics.
func (r *Registry) ObjectRead(siblings, bytes int) {
	r.siblingsRead.Observe(float64(siblings))
	r.sizeRead.Observe(float64(bytes))
}

// ObjectWritten implements kv.Metrics.
func (r *Registry) ObjectWritten(siblings, bytes int) {
	r.siblingsPut.Observe(float64(siblings))
	r.sizePut.Observe(float64(bytes))
}

// ReadRepairs implements kv.Metrics.
func (r *Registry) ReadRepairs(n int) { r.readRepairs.Add(float64(n)) }
