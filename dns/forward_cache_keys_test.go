package dns_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slicedns/slicedns/dns"
)

// TestForwardCacheKeys: a query with DO or CD set is answered apart from
// one without (the answers differ: signatures, unvalidated data), as are
// other types and classes; the name is matched whatever its case, and the
// client gets its question back as it asked it (0x20).
func TestForwardCacheKeys(t *testing.T) {
	addr, asked := counting(t, func(r *mdns.Msg) *mdns.Msg {
		m := reply(r, mdns.RcodeSuccess, []string{"@ 60 IN A 192.0.2.7"})
		if opt := r.IsEdns0(); opt != nil && opt.Do() {
			m.Answer = append(m.Answer, mustRR(r.Question[0].Name+" 60 IN RRSIG A 13 3 60 20300101000000 20200101000000 1 example.org. AAAA"))
		}
		return m
	})
	f := cacheForwarder(t, dns.ForwarderOptions{}, addr)
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
	q := func(name string, qtype uint16, do, cd bool) *mdns.Msg {
		m := query(name, qtype)
		m.CheckingDisabled = cd
		if do {
			m.SetEdns0(1232, true)
		}
		return m
	}
	for i, tc := range []struct {
		q     *mdns.Msg
		asked int32 // queries upstream so far
	}{
		{q("www.example.org.", mdns.TypeA, false, false), 1},
		{q("www.example.org.", mdns.TypeA, true, false), 2},
		{q("www.example.org.", mdns.TypeA, false, true), 3},
		{q("www.example.org.", mdns.TypeA, true, true), 4},
		{q("www.example.org.", mdns.TypeAAAA, false, false), 5},
		{q("WwW.eXample.ORG.", mdns.TypeA, false, false), 5},
		{q("www.EXAMPLE.org.", mdns.TypeA, true, false), 5},
		{q("www.example.org.", mdns.TypeA, false, true), 5},
		{q("WWW.example.org.", mdns.TypeA, true, true), 5},
	} {
		r := h.Answer(tc.q)
		if n := asked.Load(); n != tc.asked {
			t.Errorf("query %d (%s): upstream asked %d times so far, want %d", i, tc.q.Question[0].String(), n, tc.asked)
		}
		if r.Question[0] != tc.q.Question[0] {
			t.Errorf("query %d: question %s, asked %s", i, r.Question[0].String(), tc.q.Question[0].String())
		}
		do := tc.q.IsEdns0() != nil
		if sigs := len(r.Answer) == 2; sigs != do {
			t.Errorf("query %d (DO %v): answer %v", i, do, r.Answer)
		}
		if r.CheckingDisabled != tc.q.CheckingDisabled {
			t.Errorf("query %d: CD %v, asked with %v", i, r.CheckingDisabled, tc.q.CheckingDisabled)
		}
	}
	// EDNS without DO: not the answer stored for a query without EDNS,
	// which has no OPT, while this client must get one.
	plain := query("www.example.org.", mdns.TypeA)
	plain.SetEdns0(1232, false)
	if r := h.Answer(plain); r.IsEdns0() == nil || asked.Load() != 6 {
		t.Errorf("an EDNS query: OPT %v, upstream asked %d times, want an OPT and 6", r.IsEdns0(), asked.Load())
	}
	c := q("www.example.org.", mdns.TypeA, false, false)
	c.Question[0].Qclass = mdns.ClassCHAOS
	h.Answer(c)
	if n := asked.Load(); n != 7 {
		t.Errorf("a CHAOS query answered from an IN one's entry")
	}
}

// TestForwardCacheExternalName: an ExternalName's outside target, chased
// upstream, is cached like a client's query for it (with EDNS, as the chase
// asks).
func TestForwardCacheExternalName(t *testing.T) {
	var asked atomic.Int32
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		if r.Question[0].Name == "db.example.com." {
			asked.Add(1)
		}
		answerA("192.0.2.9")(w, r)
	})
	f := cacheForwarder(t, dns.ForwarderOptions{}, up.addr)
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
	for _, name := range []string{"ext.default.svc.cluster.local.", "ext.default.svc.cluster.local.", "db.example.com."} {
		q := query(name, mdns.TypeA)
		q.SetEdns0(1232, false) // as the chase asks
		if r := h.Answer(q); len(r.Answer) == 0 || r.Answer[len(r.Answer)-1].(*mdns.A).A.String() != "192.0.2.9" {
			t.Fatalf("%s: %v", name, r)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the target was asked upstream %d times, want once", n)
	}
}

// TestForwardCacheTruncated: an answer that came truncated (TCP failed
// too) is passed on but not kept: the next query is asked again.
func TestForwardCacheTruncated(t *testing.T) {
	var mu sync.Mutex
	udp := 0
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		if !strings.HasSuffix(r.Question[0].Name, "example.org.") {
			answerA("192.0.2.1")(w, r)
			return
		}
		if w.RemoteAddr().Network() == "tcp" {
			w.Close() // no answer over TCP
			return
		}
		mu.Lock()
		udp++
		mu.Unlock()
		m := reply(r, mdns.RcodeSuccess, []string{"@ 60 IN A 192.0.2.7"})
		m.Truncated = true
		w.WriteMsg(m)
	})
	reg := prometheus.NewRegistry()
	f := cacheForwarder(t, dns.ForwarderOptions{Metrics: dns.NewForwardMetrics(reg)}, up.addr)
	for range 2 {
		r, err := f.Forward(context.Background(), query("tc.example.org.", mdns.TypeA))
		if err != nil || !r.Truncated {
			t.Fatalf("%v, %v; want the truncated answer", r, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	misses, _ := sample(t, reg, "slicedns_forward_cache_misses_total", nil)
	if udp != 2 || misses != 2 {
		t.Errorf("upstream asked %d times over UDP for 2 queries, %v cache misses: a truncated answer was kept", udp, misses)
	}
}

// TestForwardCacheSize: the cache holds at most CacheSize answers however
// many names are asked, and the entries gauge says how many.
func TestForwardCacheSize(t *testing.T) {
	addr, asked := counting(t, func(r *mdns.Msg) *mdns.Msg {
		return reply(r, mdns.RcodeSuccess, []string{"@ 60 IN A 192.0.2.7"})
	})
	for _, size := range []int{10, 1000} {
		reg := prometheus.NewRegistry()
		f := cacheForwarder(t, dns.ForwarderOptions{CacheSize: size, Metrics: dns.NewForwardMetrics(reg)}, addr)
		asked.Store(0)
		names := size + size/2
		for i := range names {
			if _, err := f.Forward(context.Background(), query(fmt.Sprintf("n%d.example.org.", i), mdns.TypeA)); err != nil {
				t.Fatal(err)
			}
		}
		n, _ := sample(t, reg, "slicedns_forward_cache_entries", nil)
		if n > float64(size) || n < float64(size)/2 {
			t.Errorf("size %d: %v entries after %d names, want at most %d (and most of them)", size, n, names, size)
		}
		// The last name asked is kept.
		if _, err := f.Forward(context.Background(), query(fmt.Sprintf("n%d.example.org.", names-1), mdns.TypeA)); err != nil || asked.Load() != int32(names) {
			t.Errorf("size %d: the last answer was not kept (%d queries upstream for %d names)", size, asked.Load(), names)
		}
		hits, _ := sample(t, reg, "slicedns_forward_cache_hits_total", nil)
		misses, _ := sample(t, reg, "slicedns_forward_cache_misses_total", nil)
		if hits != 1 || misses != float64(names) {
			t.Errorf("size %d: %v hits and %v misses, want 1 and %d", size, hits, misses, names)
		}
	}
}

// TestForwardCacheConcurrent: many goroutines asking, hitting, expiring
// and evicting at once (run with -race) get right answers.
func TestForwardCacheConcurrent(t *testing.T) {
	addr, _ := counting(t, func(r *mdns.Msg) *mdns.Msg {
		name := strings.ToLower(r.Question[0].Name)
		return reply(r, mdns.RcodeSuccess, []string{"@ 5 IN TXT " + name})
	})
	reg := prometheus.NewRegistry()
	f := cacheForwarder(t, dns.ForwarderOptions{CacheSize: 16, Metrics: dns.NewForwardMetrics(reg)}, addr)
	c := newClock().set(f)
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 150 {
				name := fmt.Sprintf("N%d.Example.org.", (g*7+i)%24)
				if i%2 == 1 {
					name = strings.ToLower(name)
				}
				if i%50 == 0 {
					c.add(2 * time.Second)
				}
				r := h.Answer(query(name, mdns.TypeTXT))
				if len(r.Answer) != 1 || r.Question[0].Name != name {
					t.Errorf("%s: %v", name, r)
					return
				}
				txt := r.Answer[0].(*mdns.TXT)
				if txt.Txt[0] != strings.ToLower(name) || txt.Hdr.Ttl > 5 {
					t.Errorf("%s: %v", name, txt)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, _ := sample(t, reg, "slicedns_forward_cache_entries", nil); n > 16 || n < 0 {
		t.Errorf("%v entries, want at most 16", n)
	}
	if n, _ := sample(t, reg, "slicedns_forward_cache_hits_total", nil); n == 0 {
		t.Errorf("no hits")
	}
}
