package dns_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slicedns/slicedns/dns"
)

// heldUpstream is an upstream that reads queries and never answers; it
// sends on got the name of each query it reads but loop probes.
func heldUpstream(t *testing.T) (addr string, got <-chan string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ch := make(chan string, 64)
	go func() {
		buf := make([]byte, mdns.MaxMsgSize)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m := new(mdns.Msg)
			if m.Unpack(buf[:n]) == nil && len(m.Question) == 1 && !strings.HasSuffix(m.Question[0].Name, ".slicedns-loop.") {
				ch <- m.Question[0].Name
			}
		}
	}()
	return pc.LocalAddr().String(), ch
}

// TestForwardLimit: while the forwarding limit is full of queries waiting
// on an upstream that never answers, more forwarded queries get REFUSED at
// once, over UDP and TCP, and are counted; queries answered from the zone
// off the fast path (PTR, ExternalName, SOA, TXT, a truncated answer) are
// all answered, even with a slow-path bound no larger than the forwarding
// limit, which the waiting queries used to fill.
func TestForwardLimit(t *testing.T) {
	up, got := heldUpstream(t)
	reg := prometheus.NewRegistry()
	f, err := dns.NewForwarder(dns.ForwarderOptions{Upstreams: []string{up}, Timeout: 10 * time.Second,
		HealthInterval: time.Hour, MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	h := dns.NewHandler(fixture(t), dns.Options{Metrics: dns.NewMetrics(reg), Forwarder: f,
		Zones: []string{"cluster.local", "in-addr.arpa"}})
	srv := &dns.Server{Addr: "127.0.0.1:0", Handler: h, MaxSlowQueries: 2}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	addr := srv.LocalAddr().String()

	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, name := range []string{"held-0.example.org.", "held-1.example.org."} {
		conn.Write(dns.MustPack(t, query(name, mdns.TypeA)))
	}
	for range 2 {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("the forwarded queries did not reach the upstream")
		}
	}

	// The two are held for the whole default budget (4.5s): the cases
	// below take milliseconds. The in-zone ones go first, so that they find the slow
	// path as the held queries left it.
	const rounds = 3 // each more than the slow-path bound, were they held in it
	for _, c := range []struct {
		name, qname string
		qtype       uint16
		net         string
		rcode       int
		answer      string // the first record's type and data
		truncated   bool
	}{
		// The fast path, beside a full slow path.
		{"fast path", "my-db-0.my-db.default.svc.cluster.local.", mdns.TypeA, "udp", mdns.RcodeSuccess, "A 10.42.1.10", false},
		{"PTR", "10.1.42.10.in-addr.arpa.", mdns.TypePTR, "udp", mdns.RcodeSuccess, "PTR my-db-0.my-db.default.svc.cluster.local.", false},
		// Its target is outside: the CNAME alone, at once.
		{"ExternalName", "ext.default.svc.cluster.local.", mdns.TypeA, "udp", mdns.RcodeSuccess, "CNAME db.example.com.", false},
		{"SOA", "cluster.local.", mdns.TypeSOA, "udp", mdns.RcodeSuccess, "SOA ns.dns.cluster.local.", false},
		{"TXT", "dns-version.cluster.local.", mdns.TypeTXT, "udp", mdns.RcodeSuccess, `TXT "1.1.0"`, false},
		{"truncated", "wide.default.svc.cluster.local.", mdns.TypeA, "udp", mdns.RcodeSuccess, "A 10.43.0.", true},
		{"forwarded UDP", "over.example.org.", mdns.TypeA, "udp", mdns.RcodeRefused, "", false},
		{"forwarded TCP", "over.example.org.", mdns.TypeA, "tcp", mdns.RcodeRefused, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := &mdns.Client{Net: c.net, Timeout: time.Second}
			for range rounds {
				r, _, err := cl.Exchange(query(c.qname, c.qtype), addr)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				if r.Rcode != c.rcode || r.Truncated != c.truncated || !r.RecursionAvailable {
					t.Fatalf("got %s TC=%v RA=%v, want %s TC=%v RA", mdns.RcodeToString[r.Rcode], r.Truncated,
						r.RecursionAvailable, mdns.RcodeToString[c.rcode], c.truncated)
				}
				switch {
				case c.answer == "" && len(r.Answer) > 0:
					t.Fatalf("answer %v, want none", r.Answer)
				case c.answer != "" && (len(r.Answer) == 0 || !strings.Contains(strings.Join(strings.Fields(r.Answer[0].String()), " "), c.answer)):
					t.Fatalf("answer %v, want %s first", r.Answer, c.answer)
				}
			}
		})
	}
	// Both forwarded cases and the ExternalName chase, every round.
	if n := counter(t, reg, "slicedns_dns_forward_overload_total"); n != 3*rounds {
		t.Errorf("slicedns_dns_forward_overload_total = %v, want %d", n, 3*rounds)
	}
	if n := counter(t, reg, "slicedns_dns_overload_drops_total"); n != 0 {
		t.Errorf("slicedns_dns_overload_drops_total = %v, want 0", n)
	}
	select {
	case name := <-got:
		t.Errorf("%s reached the upstream past the limit", name)
	default:
	}
}
