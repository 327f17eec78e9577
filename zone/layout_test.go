package zone_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/slicedns/slicedns/zone"
)

// TestSharedRecords checks what the compact view layout must keep: a name's
// addresses in order even when they are not next to each other in the
// Service's, and records that callers may append to without changing the
// zone's.
func TestSharedRecords(t *testing.T) {
	z := build(t, headless("default", "db"),
		slice("default", "a", "db", zone.IPv4, cql, ep("db-0", true, "10.0.0.1"), ep("db-1", true, "10.0.0.2")),
		slice("default", "b", "db", zone.IPv4, cql, ep("db-0", true, "10.0.0.3")),
	)
	s := z.Snapshot()
	checks := map[string]string{
		"db.default.svc":           "A 10.0.0.1; A 10.0.0.2; A 10.0.0.3; SRV 0 50 9042 db-0.db.default.svc; SRV 0 50 9042 db-1.db.default.svc",
		"db-0.db.default.svc":      "A 10.0.0.1; A 10.0.0.3",
		"db-1.db.default.svc":      "A 10.0.0.2",
		"_cql._tcp.db.default.svc": "SRV 0 50 9042 db-0.db.default.svc; SRV 0 50 9042 db-1.db.default.svc",
		"_tcp.db.default.svc":      "",
		"_cql._udp.db.default.svc": "NXDOMAIN",
		"10-0-0-1.db.default.svc":  "NXDOMAIN",
		"db-2.db.default.svc":      "NXDOMAIN",
		"db-0.x.db.default.svc":    "NXDOMAIN",
		"x.db-0.db.default.svc":    "NXDOMAIN",
	}
	for name, want := range checks {
		if got := render(s, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"db.default.svc", "db-0.db.default.svc", "db-1.db.default.svc", "_cql._tcp.db.default.svc"} {
		n, _ := s.Lookup(name)
		_ = append(n.SRV(), zone.SRV{Port: 1})
		if a := n.A(); a.Len() > 0 {
			_ = append(a.Bytes(0), 9)
		}
	}
	for name, want := range checks {
		if got := render(s, name); got != want {
			t.Errorf("after appending: %s: %q, want %q", name, got, want)
		}
	}
}

// TestLargeView looks up every name of a Service far larger than a hash
// table's first sizes.
func TestLargeView(t *testing.T) {
	const n = 3000
	var eps []zone.Endpoint
	for i := range n {
		host := fmt.Sprintf("pod-%d", i)
		if i%3 == 0 {
			host = "" // named after its address
		}
		eps = append(eps, ep(host, true, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)))
	}
	s := build(t, headless("big", "svc"), slice("big", "s", "svc", zone.IPv4, cql, eps...)).Snapshot()
	for i := range n {
		name := fmt.Sprintf("pod-%d.svc.big.svc", i)
		ip := netip.MustParseAddr(fmt.Sprintf("10.1.%d.%d", i/250, i%250+1))
		if i%3 == 0 {
			name = zone.EndpointName("", ip) + ".svc.big.svc"
		}
		node, ok := s.Lookup(name)
		if !ok || node.Name() != name || node.A().Len() != 1 || node.A().At(0) != ip {
			t.Fatalf("Lookup(%q) = %+v, %v", name, node, ok)
		}
		if ptr := s.LookupAddr(ip); len(ptr) != 1 || ptr[0] != node {
			t.Fatalf("LookupAddr(%v) = %v", ip, ptr)
		}
		if _, ok := s.Lookup(fmt.Sprintf("pod-%d.svc.big.svc", n+i)); ok {
			t.Fatalf("pod-%d exists", n+i)
		}
	}
	if node, _ := s.Lookup("svc.big.svc"); node.A().Len() != n || len(node.SRV()) != n {
		t.Fatalf("svc.big.svc: %d A, %d SRV", node.A().Len(), len(node.SRV()))
	}
}
