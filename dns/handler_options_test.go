package dns_test

import (
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

// TestZones: every zone answers the same names; SRV targets and the SOA are
// in the zone that was asked, the longest when zones nest.
func TestZones(t *testing.T) {
	z := fixture(t)
	h := dns.NewHandler(z, dns.Options{Zones: []string{"local", "Example.ORG.", "cluster.local"}})
	soaOf := func(apex string) string {
		return apex + " 5 IN SOA ns.dns." + apex + " hostmaster." + apex + " 0 7200 1800 86400 5"
	}
	for _, tc := range []testCase{
		{Qname: "_cql._tcp.my-db.default.svc.example.org.", Qtype: mdns.TypeSRV, Answer: []string{
			"_cql._tcp.my-db.default.svc.example.org. 5 IN SRV 0 50 9042 my-db-0.my-db.default.svc.example.org.",
			"_cql._tcp.my-db.default.svc.example.org. 5 IN SRV 0 50 9042 my-db-1.my-db.default.svc.example.org.",
		}, Extra: []string{
			"my-db-0.my-db.default.svc.example.org. 5 IN A 10.42.1.10",
			"my-db-1.my-db.default.svc.example.org. 5 IN A 10.42.1.11",
		}},
		{Qname: "_https._tcp.kubernetes.default.svc.local.", Qtype: mdns.TypeSRV, Answer: []string{
			"_https._tcp.kubernetes.default.svc.local. 5 IN SRV 0 100 443 kubernetes.default.svc.local.",
		}, Extra: []string{
			"kubernetes.default.svc.local. 5 IN A 10.96.0.1",
			"kubernetes.default.svc.local. 5 IN AAAA fd00::1",
		}},
		{Qname: "my-db-0.my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
			"my-db-0.my-db.default.svc.cluster.local. 5 IN A 10.42.1.10",
		}},
		{Qname: "nope.example.org.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soaOf("example.org.")}},
		{Qname: "nope.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soaOf("cluster.local.")}},
		{Qname: "nope.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soaOf("local.")}},
		{Qname: "example.org.", Qtype: mdns.TypeNS, Answer: []string{"example.org. 5 IN NS ns.dns.example.org."}},
		{Qname: "org.", Qtype: mdns.TypeNS, Rcode: mdns.RcodeRefused},
	} {
		t.Run(tc.Qname, func(t *testing.T) {
			q := query(tc.Qname, tc.Qtype)
			checkResponse(t, q, serve(h, q, false), tc)
		})
	}
}

func TestSOA(t *testing.T) {
	z := fixture(t)
	h := dns.NewHandler(z, dns.Options{TTL: 30 * time.Second})
	r := serve(h, query("nope.cluster.local.", mdns.TypeA), false)
	soa, ok := r.Ns[0].(*mdns.SOA)
	if !ok || r.Rcode != mdns.RcodeNameError {
		t.Fatalf("no SOA in %v", r)
	}
	if soa.Minttl != 30 || soa.Hdr.Ttl != 30 {
		t.Errorf("SOA TTL %d minimum %d, want 30 and 30", soa.Hdr.Ttl, soa.Minttl)
	}
	if want := z.Snapshot().Serial(); soa.Serial != want {
		t.Errorf("serial %d, want the zone's last change %d", soa.Serial, want)
	}
	r = serve(h, query("my-db.default.svc.cluster.local.", mdns.TypeA), false)
	if len(r.Answer) == 0 || r.Answer[0].Header().Ttl != 30 {
		t.Errorf("answer TTL: %v", r.Answer)
	}
	// A TTL under a second rounds up: 0 would mean "do not cache", and a
	// negative-cache minimum of 0.
	h = dns.NewHandler(z, dns.Options{TTL: 500 * time.Millisecond})
	r = serve(h, query("nope.cluster.local.", mdns.TypeA), false)
	if soa := r.Ns[0].(*mdns.SOA); soa.Minttl != 1 || soa.Hdr.Ttl != 1 {
		t.Errorf("TTL 500ms: SOA TTL %d minimum %d, want 1 and 1", soa.Hdr.Ttl, soa.Minttl)
	}
}

func TestNotReady(t *testing.T) {
	var ready atomic.Bool
	h := dns.NewHandler(fixture(t), dns.Options{Ready: ready.Load})
	for _, tc := range []struct {
		name        string
		ready       bool
		rcode, want int
	}{
		{"my-db.default.svc.cluster.local.", false, mdns.RcodeServerFailure, 0},
		{"example.com.", false, mdns.RcodeRefused, 0},
		{"my-db.default.svc.cluster.local.", true, mdns.RcodeSuccess, 2},
	} {
		ready.Store(tc.ready)
		for _, tcp := range []bool{false, true} {
			r := serve(h, query(tc.name, mdns.TypeA), tcp)
			if r.Rcode != tc.rcode || len(r.Answer) != tc.want {
				t.Errorf("%s ready=%v: %s with %d answers, want %s with %d", tc.name, tc.ready,
					mdns.RcodeToString[r.Rcode], len(r.Answer), mdns.RcodeToString[tc.rcode], tc.want)
			}
		}
	}
}

// A response is never answered: two servers would bounce it forever.
func TestResponsesAreDropped(t *testing.T) {
	h := dns.NewHandler(fixture(t), dns.Options{})
	q := query("my-db.default.svc.cluster.local.", mdns.TypeA)
	q.Response = true
	if h.Answer(q) != nil || serve(h, q, false) != nil {
		t.Error("answered a response")
	}
}

// TestLiveUpdates: every query reads the zone's latest snapshot.
func TestLiveUpdates(t *testing.T) {
	z := fixture(t)
	h := dns.NewHandler(z, dns.Options{})
	rcode := func(name string) int { return serve(h, query(name, mdns.TypeA), false).Rcode }
	const name = "my-db-0.my-db.default.svc.cluster.local."
	z.DeleteService("default", "my-db")
	if rc := rcode(name); rc != mdns.RcodeNameError {
		t.Errorf("Service deleted, slices linger: %s", mdns.RcodeToString[rc])
	}
	if err := z.UpsertService(headless("default", "my-db")); err != nil {
		t.Fatal(err)
	}
	if rc := rcode(name); rc != mdns.RcodeSuccess {
		t.Errorf("Service back: %s", mdns.RcodeToString[rc])
	}
	// The slice's service-name label changes: it leaves my-db for my-db-new.
	moved := slice("default", "my-db-abc", "my-db-new", zone.IPv4, nil, ep("my-db-0", true, "10.42.1.10"))
	if err := z.UpsertSlice(moved); err != nil {
		t.Fatal(err)
	}
	z.DeleteSlice("default", "my-db-fqdn")
	if rc := rcode(name); rc != mdns.RcodeNameError {
		t.Errorf("slice moved away: %s", mdns.RcodeToString[rc])
	}
	if rc := rcode("my-db.default.svc.cluster.local."); rc != mdns.RcodeNameError {
		t.Errorf("Service without slices: %s", mdns.RcodeToString[rc])
	}
	if rc := rcode("my-db-0.my-db-new.default.svc.cluster.local."); rc != mdns.RcodeNameError {
		t.Errorf("slice under a Service that does not exist: %s", mdns.RcodeToString[rc])
	}
}

// A zone given twice, in any case or with a final dot, is served once: an
// AXFR or the apex NS would otherwise list it twice.
func TestZonesGivenTwice(t *testing.T) {
	h := dns.NewHandler(zone.New(), dns.Options{Zones: []string{"cluster.local", "Cluster.Local.", "in-addr.arpa", "cluster.local"}})
	if got := h.Zones(); len(got) != 2 || got[0] != "cluster.local." || got[1] != "in-addr.arpa." {
		t.Errorf("Zones() = %v, want [cluster.local. in-addr.arpa.]", got)
	}
}
