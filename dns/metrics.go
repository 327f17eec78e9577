package dns

import (
	"strconv"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the per-query Prometheus metrics. Label values are resolved
// once, up front, so counting a query does not allocate.
type Metrics struct {
	requests  map[uint16]prometheus.Counter
	otherType prometheus.Counter
	// responses are the rcodes slicedns answers itself, made up front;
	// the others (nil) only come in an upstream's answer, and are counted
	// through respVec, rarely enough that looking them up costs nothing.
	responses [24]prometheus.Counter
	respVec   *prometheus.CounterVec
	duration  prometheus.Observer
	panics    prometheus.Counter
	overload  prometheus.Counter
	fwdOver   prometheus.Counter
	notifies  [2]prometheus.Counter // unacknowledged, acknowledged
}

// countedTypes are the query types with a label of their own; the rest are
// counted as "other" so that clients cannot grow the label set.
var countedTypes = []uint16{
	mdns.TypeA, mdns.TypeAAAA, mdns.TypeSRV, mdns.TypePTR, mdns.TypeCNAME, mdns.TypeTXT,
	mdns.TypeSOA, mdns.TypeNS, mdns.TypeANY, mdns.TypeAXFR, mdns.TypeIXFR, mdns.TypeMX, mdns.TypeHTTPS,
}

// ownRcodes are the rcodes slicedns answers itself (BADSIG, 16 too, is a
// TSIG error: slicedns holds no keys and never sends it).
var ownRcodes = []int{
	mdns.RcodeSuccess, mdns.RcodeFormatError, mdns.RcodeServerFailure, mdns.RcodeNameError,
	mdns.RcodeNotImplemented, mdns.RcodeRefused, mdns.RcodeNotAuth, mdns.RcodeBadVers,
}

// rcodeLabel is rcode's name, in metrics and logs, or its number when it
// has none. 16 is BADVERS, which slicedns sends, not the TSIG error BADSIG
// that mdns.RcodeToString names: slicedns holds no TSIG keys, and BADSIG
// would send an operator looking for a TSIG problem.
func rcodeLabel(rcode int) string {
	if name, ok := rcodeName(rcode); ok {
		return name
	}
	return strconv.Itoa(rcode)
}

// rcodeMetric is rcode's label value in metrics: its name, or "other". An
// upstream's extended rcode can be any of 4,096 numbers, and each would be
// a series of its own.
func rcodeMetric(rcode int) string {
	if name, ok := rcodeName(rcode); ok {
		return name
	}
	return "other"
}

func rcodeName(rcode int) (string, bool) {
	if rcode == mdns.RcodeBadVers {
		return "BADVERS", true
	}
	name, ok := mdns.RcodeToString[rcode]
	return name, ok
}

// NewMetrics registers the DNS metrics with reg:
//
//	slicedns_dns_requests_total{type}          queries received, by query type
//	slicedns_dns_responses_total{rcode}        responses sent, by rcode
//	slicedns_dns_request_duration_seconds      time to answer, from request to write
//	slicedns_dns_panics_total                  queries whose answering panicked (a bug; answered SERVFAIL)
//	slicedns_dns_overload_drops_total          UDP queries dropped: too many answered off the fast path at once, forwarded ones not counted
//	slicedns_dns_forward_overload_total        queries not forwarded, too many waiting on upstreams: REFUSED at once
//	slicedns_dns_notifies_total{result}        NOTIFYs sent to secondaries (Notifier): acknowledged, unacknowledged
func NewMetrics(reg prometheus.Registerer) *Metrics {
	req := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slicedns_dns_requests_total", Help: "DNS queries received, by query type.",
	}, []string{"type"})
	resp := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slicedns_dns_responses_total", Help: "DNS responses sent, by rcode.",
	}, []string{"rcode"})
	dur := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "slicedns_dns_request_duration_seconds",
		Help:    "Time to answer a DNS query, from reading the request to writing the response.",
		Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
	})
	panics := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slicedns_dns_panics_total",
		Help: "Queries whose answering panicked (a bug in slicedns); each got SERVFAIL and the server went on.",
	})
	overload := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slicedns_dns_overload_drops_total",
		Help: "UDP queries dropped unanswered because too many were being answered off the fast path at once (a flood; queries waiting on upstreams are bounded apart, see slicedns_dns_forward_overload_total).",
	})
	fwdOver := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slicedns_dns_forward_overload_total",
		Help: "Queries not forwarded because too many were waiting on upstreams already: answered REFUSED at once (an ExternalName with its CNAME alone).",
	})
	notifies := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slicedns_dns_notifies_total",
		Help: "NOTIFY messages sent to secondaries (--notify), by whether the secondary acknowledged one of the tries.",
	}, []string{"result"})
	reg.MustRegister(req, resp, dur, panics, overload, fwdOver, notifies)
	m := &Metrics{requests: map[uint16]prometheus.Counter{}, otherType: req.WithLabelValues("other"), respVec: resp, duration: dur,
		panics: panics, overload: overload, fwdOver: fwdOver,
		notifies: [2]prometheus.Counter{notifies.WithLabelValues("unacknowledged"), notifies.WithLabelValues("acknowledged")}}
	for _, t := range countedTypes {
		m.requests[t] = req.WithLabelValues(mdns.TypeToString[t])
	}
	for _, rc := range ownRcodes {
		m.responses[rc] = resp.WithLabelValues(rcodeMetric(rc))
	}
	return m
}

// response counts a response with rcode.
func (m *Metrics) response(rcode int) {
	if rcode >= 0 && rcode < len(m.responses) {
		if c := m.responses[rcode]; c != nil {
			c.Inc()
			return
		}
	}
	m.respVec.WithLabelValues(rcodeMetric(rcode)).Inc()
}

func (m *Metrics) observe(qtype uint16, rcode int, took time.Duration) {
	if m == nil {
		return
	}
	if c, ok := m.requests[qtype]; ok {
		c.Inc()
	} else {
		m.otherType.Inc()
	}
	m.response(rcode)
	m.duration.Observe(took.Seconds())
}

// refused counts a query answered before any handler saw it (FORMERR for
// a packet that does not unpack): a request of no type and its response,
// with no latency to observe.
func (m *Metrics) refused(rcode int) {
	if m == nil {
		return
	}
	m.otherType.Inc()
	m.response(rcode)
}

// metricsOf returns h's metrics when h is a *Handler, else nil.
func metricsOf(h mdns.Handler) *Metrics {
	if hh, ok := h.(*Handler); ok {
		return hh.m
	}
	return nil
}

func (m *Metrics) overloaded() {
	if m != nil {
		m.overload.Inc()
	}
}

func (m *Metrics) forwardOverloaded() {
	if m != nil {
		m.fwdOver.Inc()
	}
}

func (m *Metrics) notified(acknowledged bool) {
	if m == nil {
		return
	}
	if acknowledged {
		m.notifies[1].Inc()
	} else {
		m.notifies[0].Inc()
	}
}

func (m *Metrics) panicked() {
	if m != nil {
		m.panics.Inc()
	}
}
