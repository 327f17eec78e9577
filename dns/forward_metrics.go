package dns

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ForwardMetrics are the Prometheus metrics of a Forwarder, one series per
// upstream (label "to", its address), named after CoreDNS's forward plugin's
// so that dashboards and alerts carry over.
type ForwardMetrics struct {
	requests, responses, failures, healthFails *prometheus.CounterVec
	duration                                   *prometheus.HistogramVec
	healthy, loop                              *prometheus.GaugeVec
	unanswered                                 [2]prometheus.Counter // no answer (SERVFAIL), every upstream a loop (REFUSED)
	cacheHits, cacheMisses                     prometheus.Counter
	cacheSize                                  prometheus.Gauge
}

// Reasons an attempt failed, for slicedns_forward_request_failures_total.
const (
	failTimeout     = "timeout"     // no answer in time: the name may be slow, not the upstream
	failUnreachable = "unreachable" // refused or unreachable: the upstream itself is down
	failBadReply    = "bad_reply"   // an answer to another question
	failOther       = "other"
)

// NewForwardMetrics registers the forwarding metrics with reg:
//
//	slicedns_forward_requests_total{to}                 queries sent to an upstream, retries too
//	slicedns_forward_responses_total{to,rcode}          answers from an upstream, by rcode
//	slicedns_forward_request_duration_seconds{to}       time an upstream took to answer
//	slicedns_forward_request_failures_total{to,reason}  queries an upstream did not answer: timeout, unreachable, bad_reply, other
//	slicedns_forward_healthcheck_failures_total{to}     failed health probes
//	slicedns_forward_upstream_healthy{to}               1 while forwarded to: neither down nor a loop
//	slicedns_forward_upstream_loop{to}                  1 while the upstream sends queries back to slicedns
//	slicedns_forward_unanswered_total{reason}           forwarded queries that got no upstream's answer: no_answer (SERVFAIL, or an ExternalName's CNAME alone), loop (REFUSED)
//	slicedns_forward_cache_hits_total                   forwarded queries answered from the cache, without an upstream
//	slicedns_forward_cache_misses_total                 forwarded queries not in the cache (or expired there): sent upstream
//	slicedns_forward_cache_entries                      answers in the cache, expired ones not yet dropped included
func NewForwardMetrics(reg prometheus.Registerer) *ForwardMetrics {
	to := []string{"to"}
	m := &ForwardMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slicedns_forward_requests_total", Help: "Queries sent to an upstream (each try of a forwarded query; not health or loop probes).",
		}, to),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slicedns_forward_responses_total", Help: "Answers received from an upstream, by rcode.",
		}, []string{"to", "rcode"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slicedns_forward_request_failures_total", Help: "Queries to an upstream that brought no usable answer, by reason: timeout, unreachable (refused, ICMP unreachable), bad_reply (an answer to another question), other.",
		}, []string{"to", "reason"}),
		healthFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slicedns_forward_healthcheck_failures_total", Help: "Health probes (. NS) an upstream did not answer.",
		}, to),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slicedns_forward_request_duration_seconds",
			Help:    "Time an upstream took to answer a forwarded query.",
			Buckets: []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2, 4},
		}, to),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slicedns_forward_upstream_healthy", Help: "1 while an upstream is forwarded to; 0 while its health probe fails, it refuses queries, or it is a forwarding loop.",
		}, to),
		loop: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slicedns_forward_upstream_loop", Help: "1 while an upstream sends queries back to slicedns (a forwarding loop); checked again every health interval.",
		}, to),
	}
	unanswered := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slicedns_forward_unanswered_total", Help: "Forwarded queries that got no upstream's answer: no_answer (no upstream answered: the client got SERVFAIL, or for an ExternalName its CNAME alone), loop (every upstream is a loop; REFUSED).",
	}, []string{"reason"})
	m.unanswered = [2]prometheus.Counter{unanswered.WithLabelValues("no_answer"), unanswered.WithLabelValues("loop")}
	m.cacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slicedns_forward_cache_hits_total", Help: "Queries for names outside the zones answered from the cache of upstream answers, without asking an upstream.",
	})
	m.cacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slicedns_forward_cache_misses_total", Help: "Queries for names outside the zones not found in the cache of upstream answers (or expired there), and so forwarded.",
	})
	m.cacheSize = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "slicedns_forward_cache_entries", Help: "Upstream answers in the cache, counting expired ones not yet dropped.",
	})
	reg.MustRegister(m.requests, m.responses, m.failures, m.healthFails, m.duration, m.healthy, m.loop, unanswered,
		m.cacheHits, m.cacheMisses, m.cacheSize)
	return m
}

// upstreamMetrics are one upstream's series, resolved once. A nil one
// counts nothing.
type upstreamMetrics struct {
	fm          *ForwardMetrics
	to          string
	requests    prometheus.Counter
	duration    prometheus.Observer
	healthFails prometheus.Counter
	healthy     prometheus.Gauge
	loop        prometheus.Gauge
}

func (m *ForwardMetrics) upstream(addr string) *upstreamMetrics {
	if m == nil {
		return nil
	}
	return &upstreamMetrics{
		fm: m, to: addr,
		requests:    m.requests.WithLabelValues(addr),
		duration:    m.duration.WithLabelValues(addr),
		healthFails: m.healthFails.WithLabelValues(addr),
		healthy:     m.healthy.WithLabelValues(addr),
		loop:        m.loop.WithLabelValues(addr),
	}
}

func (m *upstreamMetrics) sent() {
	if m != nil {
		m.requests.Inc()
	}
}

func (m *upstreamMetrics) answered(rcode int, took time.Duration) {
	if m == nil {
		return
	}
	// Forwarding allocates anyway; the label lookup is not worth caching.
	m.fm.responses.WithLabelValues(m.to, rcodeMetric(rcode)).Inc()
	m.duration.Observe(took.Seconds())
}

func (m *upstreamMetrics) failed(reason string) {
	if m != nil {
		m.fm.failures.WithLabelValues(m.to, reason).Inc()
	}
}

func (m *upstreamMetrics) probeFailed() {
	if m != nil {
		m.healthFails.Inc()
	}
}

// state publishes u's health: the gauges follow the flags, never the other
// way round, so a scrape between two changes sees one or the other.
func (m *upstreamMetrics) state(down, loop bool) {
	if m == nil {
		return
	}
	m.healthy.Set(b2f(!down && !loop))
	m.loop.Set(b2f(loop))
}

func (m *ForwardMetrics) unansweredQuery(loop bool) {
	if m == nil {
		return
	}
	if loop {
		m.unanswered[1].Inc()
	} else {
		m.unanswered[0].Inc()
	}
}

func (m *ForwardMetrics) cacheLookup(hit bool) {
	switch {
	case m == nil:
	case hit:
		m.cacheHits.Inc()
	default:
		m.cacheMisses.Inc()
	}
}

func (m *ForwardMetrics) cacheEntries(delta float64) {
	if m != nil {
		m.cacheSize.Add(delta)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// failure says why an attempt brought no answer.
func failure(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return failUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return failTimeout
	case errors.Is(err, errWrongQuestion):
		return failBadReply
	}
	return failOther
}
