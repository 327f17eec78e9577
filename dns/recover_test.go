package dns_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

// TestServerSurvivesPanic: a query whose answering panics gets SERVFAIL
// with its question, the panic is logged and counted, and the server goes
// on answering, on the UDP fast path, the UDP general path and TCP.
func TestServerSurvivesPanic(t *testing.T) {
	z := fixture(t)
	var boom atomic.Bool
	src := dns.SourceFunc(func() *zone.Snapshot {
		if boom.Load() {
			panic("injected")
		}
		return z.Snapshot()
	})
	core, logs := observer.New(zap.ErrorLevel)
	reg := prometheus.NewRegistry()
	h := dns.NewHandler(src, dns.Options{Metrics: dns.NewMetrics(reg), Logger: zap.New(core)})
	srv := &dns.Server{Addr: "127.0.0.1:0", Handler: h}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	addr := srv.LocalAddr().String()
	name := "my-db-0.my-db.default.svc.cluster.local."
	cases := []struct {
		net   string
		qtype uint16
		edns  bool
	}{
		{"udp", mdns.TypeA, false},   // the fast path
		{"udp", mdns.TypeA, true},    // the fast path, with EDNS0
		{"udp", mdns.TypeTXT, false}, // the general path
		{"udp", mdns.TypeTXT, true},
		{"tcp", mdns.TypeA, false},
		{"tcp", mdns.TypeA, true},
	}
	for i, c := range cases {
		cl := &mdns.Client{Net: c.net, Timeout: 2 * time.Second}
		q := new(mdns.Msg)
		q.SetQuestion(name, c.qtype)
		if c.edns {
			q.SetEdns0(1232, true)
		}
		boom.Store(true)
		r, _, err := cl.Exchange(q, addr)
		boom.Store(false)
		if err != nil {
			t.Fatalf("%s %s: no answer to the panicking query: %v", c.net, mdns.TypeToString[c.qtype], err)
		}
		if r.Rcode != mdns.RcodeServerFailure || len(r.Question) != 1 || r.Question[0].Name != name || len(r.Answer) != 0 {
			t.Errorf("%s %s: want SERVFAIL with the question, got\n%s", c.net, mdns.TypeToString[c.qtype], r)
		}
		if c.edns && (r.IsEdns0() == nil || !r.IsEdns0().Do()) {
			t.Errorf("%s %s: EDNS0 query with DO answered without OPT or DO", c.net, mdns.TypeToString[c.qtype])
		}
		if got := counter(t, reg, "slicedns_dns_panics_total"); got != float64(i+1) {
			t.Errorf("%s %s: panics counted %v, want %d", c.net, mdns.TypeToString[c.qtype], got, i+1)
		}
		// The server still answers.
		q = new(mdns.Msg)
		q.SetQuestion(name, mdns.TypeA)
		r, _, err = cl.Exchange(q, addr)
		if err != nil || r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("%s: after the panic: %v %v", c.net, r, err)
		}
	}
	entries := logs.FilterMessageSnippet("panic answering a query").All()
	if len(entries) != len(cases) {
		t.Fatalf("logged %d panics, want %d", len(entries), len(cases))
	}
	if ctx := entries[0].ContextMap(); ctx["panic"] != "injected" || !strings.Contains(ctx["stack"].(string), "recover") {
		t.Errorf("log line lacks the panic or its stack: %v", ctx)
	}
}

// counter is the value of the unlabelled counter name in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
