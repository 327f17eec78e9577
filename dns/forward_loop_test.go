package dns_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/slicedns/slicedns/dns"
)

// TestForwardLoopComesAndGoes: a loop is checked again at every health
// probe round, not held for the life of the process: the upstream is used
// again once its loop probe is answered without coming back, dropped again
// if the loop returns, and each change is logged once and shown in the
// metrics.
func TestForwardLoopComesAndGoes(t *testing.T) {
	var looping atomic.Bool
	var slicedns atomic.Value // its address, known once it listens
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		if !looping.Load() {
			answerA("192.0.2.9")(w, r)
			return
		}
		c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
		if resp, _, err := c.Exchange(r, slicedns.Load().(string)); err == nil {
			w.WriteMsg(resp)
		}
	})
	reg := prometheus.NewRegistry()
	core, logs := observer.New(zap.InfoLevel)
	f, err := dns.NewForwarder(dns.ForwarderOptions{
		Upstreams: []string{up.addr}, Timeout: time.Second, HealthInterval: time.Hour,
		Logger: zap.New(core), Metrics: dns.NewForwardMetrics(reg),
		CacheTTL: -1, // the loop's answers, not the cache's
	})
	if err != nil {
		t.Fatal(err)
	}
	slicedns.Store(startHandler(t, dns.NewHandler(fixture(t), dns.Options{Forwarder: f})))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx) // the first round; each phase runs one more, as the ticker would
	to := map[string]string{"to": up.addr}
	for i, phase := range []struct {
		loop  bool
		rcode int
	}{
		{true, mdns.RcodeRefused},
		{true, mdns.RcodeRefused}, // still a loop: not logged again
		{false, mdns.RcodeSuccess},
		{false, mdns.RcodeSuccess},
		{true, mdns.RcodeRefused},
	} {
		looping.Store(phase.loop)
		f.Check(ctx)
		if st := f.Status()[0]; st.Loop != phase.loop {
			t.Errorf("phase %d: status %+v, want loop %v", i, st, phase.loop)
		}
		if got, _ := sample(t, reg, "slicedns_forward_upstream_loop", to); got != b2f(phase.loop) {
			t.Errorf("phase %d: loop gauge %v", i, got)
		}
		if got, _ := sample(t, reg, "slicedns_forward_upstream_healthy", to); got != b2f(!phase.loop) {
			t.Errorf("phase %d: healthy gauge %v", i, got)
		}
		if r := ask(t, slicedns.Load().(string), "www.example.org.", mdns.TypeA); r.Rcode != phase.rcode {
			t.Errorf("phase %d: %s, want %s", i, mdns.RcodeToString[r.Rcode], mdns.RcodeToString[phase.rcode])
		}
	}
	found := logs.FilterLevelExact(zap.ErrorLevel).FilterMessageSnippet("forwarding loop: upstream " + up.addr)
	gone := logs.FilterLevelExact(zap.WarnLevel).FilterMessageSnippet("forwarding loop gone: upstream " + up.addr)
	if found.Len() != 2 || gone.Len() != 1 {
		t.Errorf("logged %d loops found and %d gone, want 2 and 1 (one per change):\n%v", found.Len(), gone.Len(), logs.All())
	}
	if got, _ := sample(t, reg, "slicedns_forward_unanswered_total", map[string]string{"reason": "loop"}); got != 3 {
		t.Errorf("%v queries counted as unanswered for the loop, want 3", got)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TestForwardLoopFastestWins: an upstream that asks all its servers at
// once (dnsmasq --all-servers) answers a loop probe itself and echoes it
// back to slicedns a moment later. The loop must stay found round after
// round, not be cleared by the answer and found again by the echo.
func TestForwardLoopFastestWins(t *testing.T) {
	var slicedns atomic.Value
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeNameError)
		w.WriteMsg(m)
		go func() {
			time.Sleep(20 * time.Millisecond)
			c := &mdns.Client{Net: "udp", Timeout: time.Second}
			c.Exchange(r, slicedns.Load().(string))
		}()
	})
	core, logs := observer.New(zap.InfoLevel)
	f, err := dns.NewForwarder(dns.ForwarderOptions{
		Upstreams: []string{up.addr}, Timeout: time.Second, HealthInterval: time.Hour, Logger: zap.New(core),
	})
	if err != nil {
		t.Fatal(err)
	}
	slicedns.Store(startHandler(t, dns.NewHandler(fixture(t), dns.Options{Forwarder: f})))
	ctx := context.Background()
	for round := range 4 {
		f.Check(ctx)
		time.Sleep(100 * time.Millisecond) // the first round's echo comes after its answer
		if st := f.Status()[0]; !st.Loop && round > 0 {
			t.Errorf("round %d: status %+v, want a loop", round, st)
		}
	}
	if found, gone := logs.FilterMessageSnippet("forwarding loop:").Len(), logs.FilterMessageSnippet("forwarding loop gone").Len(); found != 1 || gone != 0 {
		t.Errorf("logged %d loops found and %d gone, want 1 and 0:\n%v", found, gone, logs.All())
	}
}
