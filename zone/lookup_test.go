package zone_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/slicedns/slicedns/zone"
)

// fixture is a small cluster with one of each shape the spec distinguishes.
func fixture(t testing.TB) *zone.Zone {
	t.Helper()
	return build(t, fixtureObjects(t)...)
}

// fixtureObjects are the fixture's Services and slices, in order.
func fixtureObjects(t testing.TB) []any {
	t.Helper()
	notReady := ep("my-db-2", false, "10.42.1.12")
	notReady.Serving, notReady.Terminating = true, true
	http := []zone.Port{{Name: "http", Protocol: "TCP", Port: 80}, {Protocol: "TCP", Port: 81}}
	return []any{
		headless("default", "my-db"),
		slice("default", "my-db-abc", "my-db", zone.IPv4,
			append([]zone.Port{{Protocol: "TCP", Port: 7000}}, cql...),
			ep("my-db-0", true, "10.42.1.10"), ep("my-db-1", true, "10.42.1.11"), notReady),
		slice("default", "my-db-fqdn", "my-db", zone.FQDN, cql, zone.Endpoint{Hostname: "my-db-9", Ready: true}),

		headless("default", "my-service"),
		slice("default", "my-service-a", "my-service", zone.IPv4, http, ep("", true, "10.42.0.12")),
		slice("default", "my-service-b", "my-service", zone.IPv4, http, ep("", true, "10.42.0.15"), ep("", true, "10.42.0.12")),

		headless("default", "dual"),
		slice("default", "dual-v4", "dual", zone.IPv4, http, ep("web-0", true, "10.42.2.1"), ep("", true, "10.42.2.2")),
		slice("default", "dual-v6", "dual", zone.IPv6, http, ep("web-0", true, "2001:db8::1"), ep("", true, "2001:db8::")),

		&zone.Service{Namespace: "default", Name: "kubernetes", Type: zone.ClusterIP,
			ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.1"), netip.MustParseAddr("fd00::1")},
			Ports:      []zone.Port{{Name: "https", Protocol: "TCP", Port: 443}, {Protocol: "UDP", Port: 53}}},
		slice("default", "kubernetes", "kubernetes", zone.IPv4, []zone.Port{{Name: "https", Protocol: "TCP", Port: 6443}},
			ep("", true, "192.168.0.10")),
		clusterIP("default", "quiet", "10.96.0.2"),

		&zone.Service{Namespace: "default", Name: "ext", Type: zone.ExternalName, ExternalName: "db.example.com."},
		headless("default", "fqdn"),
		slice("default", "fqdn-1", "fqdn", zone.FQDN, cql, zone.Endpoint{Hostname: "x", Ready: true}),
		headless("default", "empty"),
		headless("default", "cold"),
		slice("default", "cold-1", "cold", zone.IPv4, cql, ep("cold-0", false, "10.42.3.1")),
		slice("default", "ghost-1", "ghost", zone.IPv4, cql, ep("ghost-0", true, "10.42.4.1")),
		clusterIP("other", "web", "10.96.1.1"),
	}
}

func TestLookup(t *testing.T) {
	s := fixture(t).Snapshot()
	tests := []struct{ name, want string }{
		{"", ""},
		{"dns-version", "TXT 1.1.0"},
		{"svc", ""},
		{"default.svc", ""},
		{"other.svc", ""},
		{"nowhere.svc", "NXDOMAIN"},
		{"default", "NXDOMAIN"},
		{"default.pod", "NXDOMAIN"},
		{"my-db.default", "NXDOMAIN"},
		{".my-db.default.svc", "NXDOMAIN"}, // an empty label is no name

		{"my-db.default.svc", "A 10.42.1.10; A 10.42.1.11; SRV 0 25 7000 my-db-0.my-db.default.svc; SRV 0 25 7000 my-db-1.my-db.default.svc; SRV 0 25 9042 my-db-0.my-db.default.svc; SRV 0 25 9042 my-db-1.my-db.default.svc"},
		{"my-db-0.my-db.default.svc", "A 10.42.1.10"},
		{"my-db-1.my-db.default.svc", "A 10.42.1.11"},
		{"my-db-2.my-db.default.svc", "NXDOMAIN"},
		{"my-db-9.my-db.default.svc", "NXDOMAIN"},
		{"10-42-1-10.my-db.default.svc", "NXDOMAIN"},
		{"x.my-db-0.my-db.default.svc", "NXDOMAIN"},
		{"_cql._tcp.my-db.default.svc", "SRV 0 50 9042 my-db-0.my-db.default.svc; SRV 0 50 9042 my-db-1.my-db.default.svc"},
		{"_tcp.my-db.default.svc", ""},
		{"_cql._udp.my-db.default.svc", "NXDOMAIN"},
		{"_udp.my-db.default.svc", "NXDOMAIN"},
		{"_http._tcp.my-db.default.svc", "NXDOMAIN"},
		{"_._tcp.my-db.default.svc", "NXDOMAIN"}, // the unnamed port 7000
		{"my-db.other.svc", "NXDOMAIN"},

		{"my-service.default.svc", "A 10.42.0.12; A 10.42.0.15; SRV 0 25 80 10-42-0-12.my-service.default.svc; SRV 0 25 80 10-42-0-15.my-service.default.svc; SRV 0 25 81 10-42-0-12.my-service.default.svc; SRV 0 25 81 10-42-0-15.my-service.default.svc"},
		{"10-42-0-12.my-service.default.svc", "A 10.42.0.12"},
		{"10-42-0-15.my-service.default.svc", "A 10.42.0.15"},
		{"_http._tcp.my-service.default.svc",
			"SRV 0 50 80 10-42-0-12.my-service.default.svc; SRV 0 50 80 10-42-0-15.my-service.default.svc"},

		{"dual.default.svc", "A 10.42.2.1; A 10.42.2.2; AAAA 2001:db8::; AAAA 2001:db8::1; SRV 0 16 80 10-42-2-2.dual.default.svc; SRV 0 16 80 2001-db8--0.dual.default.svc; SRV 0 16 80 web-0.dual.default.svc; SRV 0 16 81 10-42-2-2.dual.default.svc; SRV 0 16 81 2001-db8--0.dual.default.svc; SRV 0 16 81 web-0.dual.default.svc"},
		{"web-0.dual.default.svc", "A 10.42.2.1; AAAA 2001:db8::1"},
		{"10-42-2-2.dual.default.svc", "A 10.42.2.2"},
		{"2001-db8--0.dual.default.svc", "AAAA 2001:db8::"},
		{"_http._tcp.dual.default.svc", "SRV 0 33 80 10-42-2-2.dual.default.svc; SRV 0 33 80 2001-db8--0.dual.default.svc; SRV 0 33 80 web-0.dual.default.svc"},

		{"kubernetes.default.svc", "A 10.96.0.1; AAAA fd00::1; SRV 0 50 443 kubernetes.default.svc; SRV 0 50 53 kubernetes.default.svc"},
		{"_https._tcp.kubernetes.default.svc", "SRV 0 100 443 kubernetes.default.svc"},
		{"_tcp.kubernetes.default.svc", ""},
		{"_udp.kubernetes.default.svc", "NXDOMAIN"},
		{"quiet.default.svc", "A 10.96.0.2"},
		{"web.other.svc", "A 10.96.1.1"},

		{"ext.default.svc", "CNAME db.example.com"},
		{"_http._tcp.ext.default.svc", "NXDOMAIN"},
		{"fqdn.default.svc", "NXDOMAIN"},
		{"x.fqdn.default.svc", "NXDOMAIN"},
		{"empty.default.svc", "NXDOMAIN"},
		{"cold.default.svc", "NXDOMAIN"},
		{"_cql._tcp.cold.default.svc", "NXDOMAIN"},
		{"ghost.default.svc", "NXDOMAIN"},
		{"ghost-0.ghost.default.svc", "NXDOMAIN"},
	}
	for _, tc := range tests {
		if got := render(s, tc.name); got != tc.want {
			t.Errorf("Lookup(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestNodes checks what a DNS layer reads besides the records: the owner
// name, the Service and endpoint a name belongs to.
func TestNodes(t *testing.T) {
	s := fixture(t).Snapshot()
	self, _ := s.Lookup("my-db.default.svc")
	pod, _ := s.Lookup("my-db-0.my-db.default.svc")
	srv, _ := s.Lookup("_cql._tcp.my-db.default.svc")
	if self.Name() != "my-db.default.svc" || self.Service() == nil || self.Service().Name != "my-db" {
		t.Errorf("service node = %+v", self)
	}
	ip := pod.A().At(0)
	if e := pod.Endpoint(ip); pod.Name() != "my-db-0.my-db.default.svc" || e == nil || e.Hostname != "my-db-0" || pod.Service() != self.Service() {
		t.Errorf("endpoint node = %+v", pod)
	}
	if !reflect.DeepEqual(self.Endpoint(ip), pod.Endpoint(ip)) {
		t.Error("the Service's address and the endpoint name's name different endpoints")
	}
	if sl, i, ok := pod.Origin(ip); !ok || sl != "my-db-abc" || i != 0 {
		t.Errorf("Origin(%v) = %q, %d, %v", ip, sl, i, ok)
	}
	if _, _, ok := pod.Origin(netip.MustParseAddr("192.0.2.99")); ok {
		t.Error("Origin of an address the name does not hold")
	}
	if srv.Target(srv.SRV()[0]) != pod {
		t.Error("SRV target is not the endpoint's node")
	}
	if k, _ := s.Lookup("kubernetes.default.svc"); k.Endpoint(k.A().At(0)) != nil {
		t.Error("a ClusterIP address has an endpoint")
	}
	for _, name := range []string{"", "svc", "default.svc", "_tcp.my-db.default.svc"} {
		if n, ok := s.Lookup(name); !ok || !n.Empty() {
			t.Errorf("Lookup(%q) is not an empty node", name)
		}
	}
}

func TestSRVWeights(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want uint16
	}{{1, 100}, {2, 50}, {3, 33}, {7, 14}, {100, 1}, {101, 1}, {300, 1}} {
		var eps []zone.Endpoint
		for i := range tc.n {
			eps = append(eps, ep(fmt.Sprintf("p-%d", i), true, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)))
		}
		s := build(t, headless("ns", "s"), slice("ns", "s-1", "s", zone.IPv4, cql, eps...)).Snapshot()
		n, _ := s.Lookup("_cql._tcp.s.ns.svc")
		if len(n.SRV()) != tc.n {
			t.Fatalf("n=%d: %d SRV records", tc.n, len(n.SRV()))
		}
		for _, r := range n.SRV() {
			if r.Weight != tc.want || r.Priority != 0 {
				t.Errorf("n=%d: SRV priority %d weight %d, want 0 %d", tc.n, r.Priority, r.Weight, tc.want)
				break
			}
		}
	}
}

func TestEndpointName(t *testing.T) {
	for _, tc := range []struct{ host, addr, want string }{
		{"web-0", "10.0.0.1", "web-0"},
		{"", "10.42.1.5", "10-42-1-5"},
		{"", "2001:db8::1", "2001-db8--1"},
		{"", "2001:db8::", "2001-db8--0"},
		{"", "fd00:10:96::a", "fd00-10-96--a"},
		{"", "2001:db8:0:1:2:3:4:5", "2001-db8-0-1-2-3-4-5"},
	} {
		if got := zone.EndpointName(tc.host, netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("EndpointName(%q, %s) = %q, want %q", tc.host, tc.addr, got, tc.want)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	s := fixture(t).Snapshot()
	for _, name := range []string{
		"my-db.default.svc", "my-db-0.my-db.default.svc", "_cql._tcp.my-db.default.svc",
		"nope.my-db.default.svc", "nope.default.svc", "default.svc", "dns-version",
	} {
		if n := testing.AllocsPerRun(100, func() { s.Lookup(name) }); n != 0 {
			t.Errorf("Lookup(%q) allocates %v times", name, n)
		}
	}
}
