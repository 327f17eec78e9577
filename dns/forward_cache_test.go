package dns_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slicedns/slicedns/dns"
)

// clock is a time the test moves on by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := new(clock)
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time              { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration)         { c.ns.Add(int64(d)) }
func (c *clock) set(f *dns.Forwarder) *clock { dns.SetCacheClock(f, c.now); return c }

// counting is an upstream that answers with answer(r) and counts the
// queries for names under example.org (the probes are not).
func counting(t *testing.T, answer func(r *mdns.Msg) *mdns.Msg) (addr string, asked *atomic.Int32) {
	t.Helper()
	asked = new(atomic.Int32)
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		if !strings.HasSuffix(strings.ToLower(r.Question[0].Name), "example.org.") {
			answerA("192.0.2.1")(w, r)
			return
		}
		asked.Add(1)
		if m := answer(r); m != nil {
			w.WriteMsg(m)
		}
	})
	return up.addr, asked
}

// reply is the upstream's answer to r: rcode, and records as text.
func reply(r *mdns.Msg, rcode int, answer []string, ns ...string) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetRcode(r, rcode)
	for _, s := range answer {
		m.Answer = append(m.Answer, mustRR(strings.ReplaceAll(s, "@", r.Question[0].Name)))
	}
	for _, s := range ns {
		m.Ns = append(m.Ns, mustRR(s))
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(1232, opt.Do())
	}
	return m
}

func cacheForwarder(t *testing.T, opts dns.ForwarderOptions, upstream string) *dns.Forwarder {
	t.Helper()
	opts.Upstreams = []string{upstream}
	opts.Timeout, opts.Budget, opts.HealthInterval = time.Second, 2*time.Second, time.Hour
	f, err := dns.NewForwarder(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.Check(context.Background())
	return f
}

func ttls(m *mdns.Msg) []uint32 {
	var out []uint32
	for _, rr := range append(append(append([]mdns.RR(nil), m.Answer...), m.Ns...), m.Extra...) {
		if rr.Header().Rrtype != mdns.TypeOPT {
			out = append(out, rr.Header().Ttl)
		}
	}
	return out
}

// TestForwardCacheHit: a repeated query is answered without the upstream,
// as the client's own (its ID, RA), not as authoritative, and what the caller does to an answer
// does not change the one kept.
func TestForwardCacheHit(t *testing.T) {
	addr, asked := counting(t, func(r *mdns.Msg) *mdns.Msg {
		m := reply(r, mdns.RcodeSuccess, []string{"@ 60 IN A 192.0.2.7"})
		m.Authoritative = true
		return m
	})
	f := cacheForwarder(t, dns.ForwarderOptions{}, addr)
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
	for i := range 3 {
		q := query("www.example.org.", mdns.TypeA)
		q.Id = uint16(100 + i)
		r := h.Answer(q)
		if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "192.0.2.7" || r.Id != q.Id || !r.RecursionAvailable {
			t.Fatalf("query %d: %v", i, r)
		}
		if r.Authoritative != (i == 0) {
			t.Errorf("query %d: AA %v; want it only on the upstream's own answer, not the cache's", i, r.Authoritative)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("upstream asked %d times for 3 queries, want once", n)
	}
	resp, err := f.Forward(context.Background(), query("www.example.org.", mdns.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	resp.Answer[0].(*mdns.A).A[3] = 99
	resp.Answer[0].Header().Ttl = 1
	resp.Question[0].Name = "other.example.org."
	again, err := f.Forward(context.Background(), query("www.example.org.", mdns.TypeA))
	if err != nil || again.Answer[0].(*mdns.A).A.String() != "192.0.2.7" || again.Answer[0].Header().Ttl != 30 || again.Question[0].Name != "www.example.org." {
		t.Errorf("after the caller changed an answer: %v, %v", again, err)
	}
}

// TestForwardCacheAges: an answer's TTLs go down with the seconds it has
// been kept, none past the entry's end (as CoreDNS's cache), and once the
// smallest is spent it is asked again; every TTL is capped by CacheTTL.
func TestForwardCacheAges(t *testing.T) {
	addr, asked := counting(t, func(r *mdns.Msg) *mdns.Msg {
		m := reply(r, mdns.RcodeSuccess, []string{"@ 20 IN CNAME cdn.example.net.", "cdn.example.net. 300 IN A 192.0.2.8"})
		m.Extra = append(m.Extra, mustRR("cdn.example.net. 7 IN TXT extra"))
		return m
	})
	for _, tc := range []struct {
		cacheTTL time.Duration
		life     time.Duration // how long the answer is kept
	}{
		{time.Hour, 20 * time.Second},          // the CNAME's TTL
		{0, 20 * time.Second},                  // the default 30s is more
		{5 * time.Second, 5 * time.Second},     // the cap
		{1500 * time.Millisecond, time.Second}, // whole seconds
	} {
		asked.Store(0)
		f := cacheForwarder(t, dns.ForwarderOptions{CacheTTL: tc.cacheTTL}, addr)
		c := newClock().set(f)
		get := func() *mdns.Msg {
			t.Helper()
			r, err := f.Forward(context.Background(), query("www.example.org.", mdns.TypeA))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		get()
		c.add(tc.life - 500*time.Millisecond) // live a moment longer
		r := get()
		// Each less its age, and none past the entry's own end.
		age := uint32((tc.life - 500*time.Millisecond) / time.Second)
		left := uint32(tc.life/time.Second) - age
		if got, want := ttls(r), []uint32{min(20-age, left), min(300-age, left), min(7-min(7, age), left)}; !slices.Equal(got, want) {
			t.Errorf("cache %v, after %v: TTLs %v, want %v", tc.cacheTTL, tc.life-500*time.Millisecond, got, want)
		}
		if n := asked.Load(); n != 1 {
			t.Errorf("cache %v: upstream asked %d times before the end, want once", tc.cacheTTL, n)
		}
		c.add(500 * time.Millisecond)
		if r := get(); !slices.Equal(ttls(r), []uint32{20, 300, 7}) || asked.Load() != 2 {
			t.Errorf("cache %v, after %v: TTLs %v after %d queries upstream; want it asked again", tc.cacheTTL, tc.life, ttls(r), asked.Load())
		}
	}
}

// TestForwardCacheWhat: what is kept, and for how long: answers for their
// smallest TTL; NXDOMAIN and NODATA for the SOA's TTL or MINIMUM, the
// smaller, and not without an SOA; never SERVFAIL, REFUSED, other rcodes,
// truncated answers, or a TTL of 0.
func TestForwardCacheWhat(t *testing.T) {
	soaRR := func(ttl, minimum int) string {
		return fmt.Sprintf("example.org. %d IN SOA ns.example.org. root.example.org. 1 2 3 4 %d", ttl, minimum)
	}
	for _, tc := range []struct {
		name   string
		answer func(r *mdns.Msg) *mdns.Msg
		kept   time.Duration // 0: not at all
	}{
		{"nxdomain, MINIMUM smaller", func(r *mdns.Msg) *mdns.Msg { return reply(r, mdns.RcodeNameError, nil, soaRR(600, 12)) }, 12 * time.Second},
		{"nxdomain, SOA TTL smaller", func(r *mdns.Msg) *mdns.Msg { return reply(r, mdns.RcodeNameError, nil, soaRR(9, 600)) }, 9 * time.Second},
		{"nxdomain, capped", func(r *mdns.Msg) *mdns.Msg { return reply(r, mdns.RcodeNameError, nil, soaRR(600, 600)) }, 30 * time.Second},
		{"nodata", func(r *mdns.Msg) *mdns.Msg { return reply(r, mdns.RcodeSuccess, nil, soaRR(15, 3600)) }, 15 * time.Second},
		{"nxdomain after a CNAME", func(r *mdns.Msg) *mdns.Msg {
			return reply(r, mdns.RcodeNameError, []string{"@ 4 IN CNAME gone.example.org."}, soaRR(600, 60))
		}, 4 * time.Second},
		{"nxdomain without SOA", func(r *mdns.Msg) *mdns.Msg { return reply(r, mdns.RcodeNameError, nil) }, 0},
		{"nodata without SOA", func(r *mdns.Msg) *mdns.Msg {
			return reply(r, mdns.RcodeSuccess, nil, "example.org. 600 IN NS ns.example.org.")
		}, 0},
		{"nodata, SOA MINIMUM 0", func(r *mdns.Msg) *mdns.Msg { return reply(r, mdns.RcodeSuccess, nil, soaRR(600, 0)) }, 0},
		{"TTL 0", func(r *mdns.Msg) *mdns.Msg {
			return reply(r, mdns.RcodeSuccess, []string{"@ 0 IN A 192.0.2.1", "@ 60 IN A 192.0.2.2"})
		}, 0},
		{"servfail", func(r *mdns.Msg) *mdns.Msg { return reply(r, mdns.RcodeServerFailure, nil, soaRR(600, 60)) }, 0},
		{"refused", func(r *mdns.Msg) *mdns.Msg { return reply(r, mdns.RcodeRefused, nil, soaRR(600, 60)) }, 0},
		{"notimp", func(r *mdns.Msg) *mdns.Msg { return reply(r, mdns.RcodeNotImplemented, nil) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, asked := counting(t, tc.answer)
			reg := prometheus.NewRegistry()
			f := cacheForwarder(t, dns.ForwarderOptions{Metrics: dns.NewForwardMetrics(reg)}, addr)
			c := newClock().set(f)
			h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
			want := tc.answer(query("x.example.org.", mdns.TypeA)).Rcode
			ask := func() {
				t.Helper()
				if r := h.Answer(query("x.example.org.", mdns.TypeA)); r.Rcode != want {
					t.Fatalf("%s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[want])
				}
			}
			ask()
			if tc.kept == 0 {
				ask()
				// Looked for in the cache, twice, and not found.
				misses, _ := sample(t, reg, "slicedns_forward_cache_misses_total", nil)
				if n := asked.Load(); n != 2 || misses != 2 {
					t.Errorf("upstream asked %d times for 2 queries, %v cache misses: it was kept", n, misses)
				}
				return
			}
			c.add(tc.kept - time.Second)
			ask()
			if n := asked.Load(); n != 1 {
				t.Errorf("upstream asked %d times within %v: it was not kept", n, tc.kept)
			}
			c.add(time.Second)
			ask()
			if n := asked.Load(); n != 2 {
				t.Errorf("after %v, upstream asked %d times in all: it was kept too long", tc.kept, n)
			}
		})
	}
}
