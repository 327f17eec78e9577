package watch

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sources' Prometheus metrics. A nil *Metrics counts nothing,
// so embedding programs need not register any.
type Metrics struct {
	events      *prometheus.CounterVec
	invalid     *prometheus.CounterVec
	programming prometheus.Observer
	lastContact atomic.Int64 // unix nanoseconds of the last event or successful list
}

// NewMetrics registers the source metrics with reg:
//
//	slicedns_watch_events_total{kind,event}        objects received (add, update, delete)
//	slicedns_invalid_objects_total{kind}           objects skipped because they cannot be served
//	slicedns_programming_duration_seconds          EndpointSlice last-change-trigger-time to served
//	slicedns_watch_staleness_seconds               time since the last event or successful list
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slicedns_watch_events_total", Help: "Objects received from sources, by kind and event.",
		}, []string{"kind", "event"}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slicedns_invalid_objects_total", Help: "Objects skipped because they cannot be served, by kind.",
		}, []string{"kind"}),
	}
	prog := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "slicedns_programming_duration_seconds",
		Help:    "From an EndpointSlice's last-change-trigger-time annotation to the moment the zone serves the change.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
	m.programming = prog
	m.Touch()
	stale := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "slicedns_watch_staleness_seconds",
		Help: "Seconds since a source last received an event or completed a list; alert when it grows while the cluster changes.",
	}, func() float64 { return time.Since(time.Unix(0, m.lastContact.Load())).Seconds() })
	reg.MustRegister(m.events, m.invalid, prog, stale)
	return m
}

// Event counts one object received. kind is "Service" or "EndpointSlice";
// event is "add", "update" or "delete".
func (m *Metrics) Event(kind, event string) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(kind, event).Inc()
	m.Touch()
}

// Invalid counts one object skipped because it cannot be served.
func (m *Metrics) Invalid(kind string) {
	if m == nil {
		return
	}
	m.invalid.WithLabelValues(kind).Inc()
}

// Programmed observes the latency from a slice's trigger time to now, when
// the slice carries one.
func (m *Metrics) Programmed(trigger time.Time) {
	if m == nil || trigger.IsZero() {
		return
	}
	m.programming.Observe(time.Since(trigger).Seconds())
}

// Touch records contact with the source (an event or a successful list).
func (m *Metrics) Touch() {
	if m == nil {
		return
	}
	m.lastContact.Store(time.Now().UnixNano())
}
