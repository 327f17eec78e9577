package dns_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slicedns/slicedns/dns"
)

// budgetName is the name the upstreams of TestForwardBudget treat as told;
// they answer every other (the probes) at once.
const budgetName = "www.example.org."

// scripted is an upstream that answers budgetName as act says, given how
// many queries for it came before; asked counts them.
func scripted(t *testing.T, act func(n int32) (delay time.Duration, answer bool)) (addr string, asked *atomic.Int32) {
	t.Helper()
	asked = new(atomic.Int32)
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		if r.Question[0].Name == budgetName {
			delay, answer := act(asked.Add(1) - 1)
			if !answer {
				return
			}
			time.Sleep(delay)
		}
		answerA("192.0.2.1")(w, r)
	})
	return up.addr, asked
}

// TestForwardBudget: each try gets the whole per-try timeout, not a share
// of the budget; upstreams that stay silent are asked again while the
// budget lasts, so a cold name a resolver answers only later still gets an
// answer; and upstreams that refuse are not waited for.
func TestForwardBudget(t *testing.T) {
	cold := func(n int32) (time.Duration, bool) { return 0, n > 0 } // the first query starts the lookup
	slow := func(int32) (time.Duration, bool) { return time.Second, true }
	silent := func(int32) (time.Duration, bool) { return 0, false }
	for _, tc := range []struct {
		name             string
		acts             []func(int32) (time.Duration, bool)
		refused          int // closed ports after them
		timeout, budget  time.Duration
		rcode            int
		minTook, maxTook time.Duration
		minAsked         []int32 // queries for the name each scripted upstream got, at least
	}{
		// Within 1.8s, an even split would give each upstream 0.9s.
		{name: "slow first upstream", acts: []func(int32) (time.Duration, bool){slow, silent},
			timeout: 1500 * time.Millisecond, budget: 1800 * time.Millisecond, rcode: mdns.RcodeSuccess, maxTook: 1700 * time.Millisecond, minAsked: []int32{1, 0}},
		{name: "cold name, one upstream", acts: []func(int32) (time.Duration, bool){cold},
			timeout: 400 * time.Millisecond, budget: 3 * time.Second, rcode: mdns.RcodeSuccess, maxTook: 2 * time.Second, minAsked: []int32{2}},
		{name: "silent upstreams", acts: []func(int32) (time.Duration, bool){silent, silent},
			timeout: 300 * time.Millisecond, budget: 1500 * time.Millisecond, rcode: mdns.RcodeServerFailure,
			minTook: 1400 * time.Millisecond, maxTook: 2500 * time.Millisecond, minAsked: []int32{2, 2}},
		{name: "refusing upstreams", refused: 2,
			timeout: 300 * time.Millisecond, budget: 5 * time.Second, rcode: mdns.RcodeServerFailure, maxTook: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ups []string
			var asked []*atomic.Int32
			for _, act := range tc.acts {
				addr, n := scripted(t, act)
				ups, asked = append(ups, addr), append(asked, n)
			}
			for range tc.refused {
				ups = append(ups, closedPort(t))
			}
			f := budgetForwarder(t, nil, tc.timeout, tc.budget, ups...)
			f.Check(context.Background())
			h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
			start := time.Now()
			r := h.Answer(query(budgetName, mdns.TypeA))
			took := time.Since(start)
			if r.Rcode != tc.rcode {
				t.Errorf("%s after %v, want %s", mdns.RcodeToString[r.Rcode], took, mdns.RcodeToString[tc.rcode])
			}
			if took < tc.minTook || took > tc.maxTook {
				t.Errorf("took %v, want %v to %v", took, tc.minTook, tc.maxTook)
			}
			for i, n := range asked {
				if n.Load() < tc.minAsked[i] {
					t.Errorf("upstream %d asked %d times, want at least %d", i, n.Load(), tc.minAsked[i])
				}
			}
		})
	}
}

// TestForwardBudgetEnds: once the budget is spent no more tries start.
// The last try timed out at the deadline a moment before the context said
// so, and tries started then failed at once, as timeouts, over and over:
// hundreds of "requests" per query, and the CPU to starve in-zone answers.
func TestForwardBudgetEnds(t *testing.T) {
	addr, asked := scripted(t, func(int32) (time.Duration, bool) { return 0, false })
	reg := prometheus.NewRegistry()
	f, err := dns.NewForwarder(dns.ForwarderOptions{Upstreams: []string{addr}, Timeout: 100 * time.Millisecond,
		Budget: 250 * time.Millisecond, HealthInterval: time.Hour, Metrics: dns.NewForwardMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	f.Check(context.Background())
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
	const queries = 10
	for range queries {
		if r := h.Answer(query(budgetName, mdns.TypeA)); r.Rcode != mdns.RcodeServerFailure {
			t.Fatalf("%s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
		}
	}
	sent := labelled(t, reg, "slicedns_forward_requests_total", "to", addr)
	if got := asked.Load(); float64(got) != sent || got > 3*queries {
		t.Errorf("%v tries counted, %d queries reached the upstream; want them equal, at most 3 a query", sent, got)
	}
}

// TestForwardTryLongerThanTwoSeconds: a try lasts the Forwarder's Timeout,
// not the 2s miekg/dns's client cuts every read at unless told otherwise.
func TestForwardTryLongerThanTwoSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 2.5s for a slow upstream")
	}
	addr, asked := scripted(t, func(int32) (time.Duration, bool) { return 2500 * time.Millisecond, true })
	f := budgetForwarder(t, nil, 3*time.Second, 3500*time.Millisecond, addr)
	f.Check(context.Background())
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
	if r := h.Answer(query(budgetName, mdns.TypeA)); r.Rcode != mdns.RcodeSuccess || asked.Load() != 1 {
		t.Errorf("%s after %d queries upstream, want NOERROR after one", mdns.RcodeToString[r.Rcode], asked.Load())
	}
}
