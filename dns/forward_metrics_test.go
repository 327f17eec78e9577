package dns_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slicedns/slicedns/dns"
)

// byName answers like a resolver whose names behave by their first label:
// drop* are never answered, nx* are NXDOMAIN, the rest have an A record.
func byName(w mdns.ResponseWriter, r *mdns.Msg) {
	switch name := r.Question[0].Name; {
	case strings.HasPrefix(name, "drop"):
	case strings.HasPrefix(name, "nx"):
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeNameError)
		w.WriteMsg(m)
	default:
		answerA("192.0.2.1")(w, r)
	}
}

// sample is the value of the series name{labels} in reg (a histogram's
// count), and whether it exists.
func sample(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if !maps.Equal(got, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func metricForwarder(t *testing.T, m *dns.ForwardMetrics, upstreams ...string) *dns.Forwarder {
	t.Helper()
	const timeout = 300 * time.Millisecond
	f, err := dns.NewForwarder(dns.ForwarderOptions{Upstreams: upstreams, Timeout: timeout, Budget: timeout, HealthInterval: time.Hour, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestForwardMetrics: what each upstream was asked, what it answered and
// how fast, what it failed to answer and why, and its health are exported
// per upstream, apart from the clients' SERVFAILs for other reasons; an
// answer from the cache is a hit, and no request to an upstream.
func TestForwardMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	fm := dns.NewForwardMetrics(reg)
	up := startUpstream(t, byName)
	silent, refusing := blackhole(t), closedPort(t)
	fwd := map[string]*dns.Forwarder{
		up.addr: metricForwarder(t, fm, up.addr), silent: metricForwarder(t, fm, silent), refusing: metricForwarder(t, fm, refusing),
	}
	for _, f := range fwd {
		f.Check(context.Background())
	}
	for _, tc := range []struct {
		to, name string
		rcode    int
	}{
		{up.addr, "www.example.org.", mdns.RcodeSuccess},
		{up.addr, "www.example.org.", mdns.RcodeSuccess}, // from the cache
		{up.addr, "nx.example.org.", mdns.RcodeNameError},
		{up.addr, "drop.example.org.", mdns.RcodeServerFailure},
		{silent, "www.example.org.", mdns.RcodeServerFailure},
		{refusing, "www.example.org.", mdns.RcodeServerFailure},
	} {
		h := dns.NewHandler(fixture(t), dns.Options{Forwarder: fwd[tc.to]})
		if r := h.Answer(query(tc.name, mdns.TypeA)); r.Rcode != tc.rcode {
			t.Errorf("%s from %s: %s, want %s", tc.name, tc.to, mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
		}
	}
	for _, tc := range []struct {
		metric  string
		labels  map[string]string
		want    float64
		atLeast bool // retries, and the probes the first Forward starts, may add to it
	}{
		{"slicedns_forward_responses_total", map[string]string{"to": up.addr, "rcode": "NOERROR"}, 1, false},
		{"slicedns_forward_responses_total", map[string]string{"to": up.addr, "rcode": "NXDOMAIN"}, 1, false},
		{"slicedns_forward_request_duration_seconds", map[string]string{"to": up.addr}, 2, false},
		{"slicedns_forward_request_failures_total", map[string]string{"to": up.addr, "reason": "timeout"}, 1, true},
		{"slicedns_forward_request_failures_total", map[string]string{"to": silent, "reason": "timeout"}, 1, true},
		{"slicedns_forward_request_failures_total", map[string]string{"to": refusing, "reason": "unreachable"}, 1, false},
		{"slicedns_forward_healthcheck_failures_total", map[string]string{"to": up.addr}, 0, false},
		{"slicedns_forward_healthcheck_failures_total", map[string]string{"to": silent}, 1, true},
		{"slicedns_forward_healthcheck_failures_total", map[string]string{"to": refusing}, 1, true},
		{"slicedns_forward_upstream_healthy", map[string]string{"to": up.addr}, 1, false},
		{"slicedns_forward_upstream_healthy", map[string]string{"to": silent}, 0, false},
		{"slicedns_forward_upstream_healthy", map[string]string{"to": refusing}, 0, false},
		{"slicedns_forward_upstream_loop", map[string]string{"to": up.addr}, 0, false},
		{"slicedns_forward_unanswered_total", map[string]string{"reason": "no_answer"}, 3, false},
		{"slicedns_forward_unanswered_total", map[string]string{"reason": "loop"}, 0, false},
		// The second www.example.org. only; nx has no SOA, and is not kept.
		{"slicedns_forward_cache_hits_total", nil, 1, false},
		{"slicedns_forward_cache_misses_total", nil, 5, false},
		{"slicedns_forward_cache_entries", nil, 1, false},
	} {
		got, ok := sample(t, reg, tc.metric, tc.labels)
		if !ok || got != tc.want && !(tc.atLeast && got > tc.want) {
			t.Errorf("%s%v = %v (present %v), want %v", tc.metric, tc.labels, got, ok, tc.want)
		}
	}
	// Every try is a request: answered, or failed for a reason.
	for _, to := range []string{up.addr, silent, refusing} {
		sent, _ := sample(t, reg, "slicedns_forward_requests_total", map[string]string{"to": to})
		var outcomes float64
		for _, rc := range []string{"NOERROR", "NXDOMAIN"} {
			n, _ := sample(t, reg, "slicedns_forward_responses_total", map[string]string{"to": to, "rcode": rc})
			outcomes += n
		}
		for _, reason := range []string{"timeout", "unreachable", "bad_reply", "other"} {
			n, _ := sample(t, reg, "slicedns_forward_request_failures_total", map[string]string{"to": to, "reason": reason})
			outcomes += n
		}
		if sent == 0 || sent != outcomes {
			t.Errorf("%s: %v requests, %v answers and failures", to, sent, outcomes)
		}
	}
}
