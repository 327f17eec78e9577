package dns

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/zone"
)

// wireFixture is a zone with every kind of name the fast path serves.
func wireFixture(t testing.TB, endpoints int) *zone.Zone {
	t.Helper()
	z := zone.New()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(z.UpsertService(&zone.Service{Namespace: "default", Name: "db", Type: zone.Headless}))
	s := &zone.Slice{Namespace: "default", Name: "db-1", Service: "db", AddressType: zone.IPv4,
		Ports: []zone.Port{{Name: "cql", Protocol: "TCP", Port: 9042}}}
	for i := 0; i < endpoints; i++ {
		s.Endpoints = append(s.Endpoints, zone.Endpoint{Ready: true, Hostname: fmt.Sprintf("db-%d", i),
			Addresses: []netip.Addr{netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})}})
	}
	must(z.UpsertSlice(s))
	must(z.UpsertSlice(&zone.Slice{Namespace: "default", Name: "db-v6", Service: "db", AddressType: zone.IPv6,
		Ports:     []zone.Port{{Name: "cql", Protocol: "TCP", Port: 9042}},
		Endpoints: []zone.Endpoint{{Ready: true, Hostname: "db-0", Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}}}))
	must(z.UpsertService(&zone.Service{Namespace: "default", Name: "web", Type: zone.ClusterIP,
		ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.10")}, Ports: []zone.Port{{Name: "http", Protocol: "TCP", Port: 80}}}))
	must(z.UpsertService(&zone.Service{Namespace: "default", Name: "ext", Type: zone.ExternalName, ExternalName: "example.com"}))
	return z
}

// servedOptions are the handler options slicedns runs with by default (and
// as deployed): the fast path must hold with them as with none.
func servedOptions() Options {
	return Options{Zones: []string{"cluster.local", "Example.Org.", "in-addr.arpa", "ip6.arpa"}, PodRecords: true,
		ServerAddrs: []netip.Addr{netip.MustParseAddr("10.1.0.3")}, NSID: "slicedns-0", Ready: func() bool { return true }}
}

// TestFastPathMatchesGeneralPath checks that every answer the wire fast path
// gives is the one the general (miekg/dns Msg) path gives.
func TestFastPathMatchesGeneralPath(t *testing.T) {
	// 40 endpoints: SRV answers need truncating at 512 bytes, and their
	// additional data fits only at larger sizes.
	z := wireFixture(t, 40)
	for _, opts := range []Options{{Zones: []string{"cluster.local", "Example.Org."}}, servedOptions()} {
		fastMatchesGeneral(t, NewHandler(z, opts))
	}
}

func fastMatchesGeneral(t *testing.T, h *Handler) {
	t.Helper()
	names := []string{
		"db.default.svc.cluster.local.", "DB.Default.svc.Cluster.Local.", "db-0.db.default.svc.cluster.local.",
		"db-9.db.default.svc.cluster.local.", "_cql._tcp.db.default.svc.cluster.local.", "_tcp.db.default.svc.cluster.local.",
		"_cql._tcp.db.default.svc.example.org.", "web.default.svc.cluster.local.", "_http._tcp.web.default.svc.cluster.local.",
		"default.svc.cluster.local.", "svc.cluster.local.", "cluster.local.", "nope.cluster.local.",
		"ext.default.svc.cluster.local.", "example.com.", "a.b.c.d.e.db.default.svc.cluster.local.",
		"ns.dns.cluster.local.", "dns.cluster.local.", "10-1-0-3.default.pod.cluster.local.",
		"10-1-0-3.Other.POD.example.org.", "2001-db8--1.default.pod.cluster.local.", "010-1-0-3.default.pod.cluster.local.",
		"1-2-3-256.default.pod.cluster.local.", "1-2-3.default.pod.cluster.local.", "1-2-3-4-5.default.pod.cluster.local.",
		"default.pod.cluster.local.", "pod.cluster.local.", "a.10-1-0-3.default.pod.cluster.local.",
	}
	var q wireQuery
	served, truncated := 0, 0
	for _, name := range names {
		for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeSRV, mdns.TypeTXT} {
			for _, edns := range []uint16{0, 512, 1232, 4096, 1232 + 1} {
				req := new(mdns.Msg)
				req.SetQuestion(name, qtype)
				if edns > 0 {
					// The odd size asks with the DO bit, which comes back.
					req.SetEdns0(edns, edns%2 == 1)
				}
				wire, err := req.Pack()
				if err != nil {
					t.Fatal(err)
				}
				if !parseQuery(wire, &q) {
					t.Fatalf("%s: plain query not parsed", name)
				}
				fast, _, ok := h.fastAnswer(wire, &q, nil)
				if !ok {
					continue
				}
				served++
				got := new(mdns.Msg)
				if fast[3]&0x02 != 0 {
					truncated++
				}
				if err := got.Unpack(fast); err != nil {
					t.Fatalf("%s %d: fast answer does not unpack: %v", name, qtype, err)
				}
				if do := req.IsEdns0() != nil && req.IsEdns0().Do(); do && !got.IsEdns0().Do() {
					t.Errorf("%s: the DO bit was not copied to the answer", name)
				}
				if want := generalAnswer(h, req); got.String() != want.String() {
					t.Errorf("%s %s edns=%d:\nfast:\n%s\ngeneral:\n%s", name, mdns.TypeToString[qtype], edns, got, want)
				}
			}
		}
	}
	if served < 50 || truncated == 0 {
		t.Errorf("fast path served %d queries, %d truncated; expected it to take the common ones, truncated too", served, truncated)
	}
}

// generalAnswer is the general path's answer to req over UDP, packed and
// unpacked again: the form to compare a fast answer with (compression
// differs, content must not).
func generalAnswer(h *Handler, req *mdns.Msg) *mdns.Msg {
	want := h.Answer(req)
	fit(want, req, false)
	wb, _ := want.Pack()
	u := new(mdns.Msg)
	u.Unpack(wb)
	return u
}

// TestFastPathTruncatesWhenNoRecordFits: with a long cluster domain and
// long names, not even the first SRV record fits in 512 bytes. The answer
// is then the header and question with TC set, as on the general path; the
// fast path used to cut the header off too and panic.
func TestFastPathTruncatesWhenNoRecordFits(t *testing.T) {
	h, qname := longNames(t, "pod-hostname-0123456789")
	req := new(mdns.Msg)
	req.SetQuestion(qname, mdns.TypeSRV)
	wire, q := parsed(t, req)
	fast, _, ok := h.fastAnswer(wire, q, nil)
	if !ok {
		t.Fatal("the fast path declined; this test is about what it answers")
	}
	got := new(mdns.Msg)
	if err := got.Unpack(fast); err != nil {
		t.Fatal(err)
	}
	if !got.Truncated || len(got.Answer) != 0 {
		t.Errorf("want TC and no answers, got TC=%v and %d answers", got.Truncated, len(got.Answer))
	}
	if want := generalAnswer(h, req); got.String() != want.String() {
		t.Errorf("fast:\n%s\ngeneral:\n%s", got, want)
	}
}

// parsed is req packed, and as parseQuery reads it.
func parsed(t *testing.T, req *mdns.Msg) ([]byte, *wireQuery) {
	t.Helper()
	wire, err := req.Pack()
	if err != nil {
		t.Fatal(err)
	}
	q := new(wireQuery)
	if !parseQuery(wire, q) {
		t.Fatal("query not parsed")
	}
	return wire, q
}

// longNames is a headless Service under a long cluster domain, with long
// namespace and Service names and endpoints of the given hostnames, and the
// name of its port's SRV records.
func longNames(t *testing.T, hostnames ...string) (*Handler, string) {
	t.Helper()
	domain := "k8s-production-cluster-0001.eu-west-1.internal.platform-engineering.example-company.com"
	ns, svc := strings.Repeat("n", 61)+"a", strings.Repeat("s", 61)+"a"
	z := zone.New()
	if err := z.UpsertService(&zone.Service{Namespace: ns, Name: svc, Type: zone.Headless}); err != nil {
		t.Fatal(err)
	}
	s := &zone.Slice{Namespace: ns, Name: svc + "-1", Service: svc, AddressType: zone.IPv4,
		Ports: []zone.Port{{Name: "http-metrics-01", Protocol: "TCP", Port: 9100}}}
	for i, host := range hostnames {
		s.Endpoints = append(s.Endpoints, zone.Endpoint{Ready: true, Hostname: host,
			Addresses: []netip.Addr{netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)})}})
	}
	if err := z.UpsertSlice(s); err != nil {
		t.Fatal(err)
	}
	return NewHandler(z, Options{Zones: []string{domain}}), "_http-metrics-01._tcp." + svc + "." + ns + ".svc." + domain + "."
}

// TestSRVTargetsOverLongAreLeftOut: an SRV target of a 63-character
// hostname under those names passes 255 octets; no client could read an
// answer holding it, so it is left out (the fast path leaves the query to
// the general path, which does so), and the answer reads.
func TestSRVTargetsOverLongAreLeftOut(t *testing.T) {
	h, qname := longNames(t, "p0", strings.Repeat("h", 62)+"x")
	req := new(mdns.Msg)
	req.SetQuestion(qname, mdns.TypeSRV)
	req.SetEdns0(4096, false)
	wire, q := parsed(t, req)
	if _, _, ok := h.fastAnswer(wire, q, nil); ok {
		t.Error("the fast path answered a query with an over-long SRV target")
	}
	got := generalAnswer(h, req)
	if len(got.Answer) != 1 || !strings.HasPrefix(got.Answer[0].(*mdns.SRV).Target, "p0.") {
		t.Errorf("want the one SRV record that fits, got\n%s", got)
	}
	if _, err := got.Pack(); err != nil {
		t.Error(err)
	}
}

func TestParseQueryRejectsOddShapes(t *testing.T) {
	var q wireQuery
	req := new(mdns.Msg)
	req.SetQuestion("db.default.svc.cluster.local.", mdns.TypeA)
	ok, _ := req.Pack()
	for name, b := range map[string][]byte{
		"short":          ok[:10],
		"response":       append([]byte{ok[0], ok[1], ok[2] | 0x80}, ok[3:]...),
		"2 qd":           append(append([]byte{}, ok[:5]...), append([]byte{2}, ok[6:]...)...),
		"trailing":       append(append([]byte{}, ok...), 0),
		"truncated":      ok[:len(ok)-2],
		"pointer":        append(append([]byte{}, ok[:12]...), 0xC0, 12, 0, 1, 0, 1),
		"256-octet name": nameQuery(256),
		"257-octet name": nameQuery(257),
	} {
		if parseQuery(b, &q) {
			t.Errorf("%s: accepted", name)
		}
	}
	// The longest name there can be is still the fast path's; over it,
	// miekg/dns refuses the query (FORMERR on the general path).
	if !parseQuery(nameQuery(255), &q) || q.qend != headerLen+255+4 {
		t.Errorf("a name of 255 octets was refused, or misread (question ends at %d)", q.qend)
	}
	for octets, fine := range map[int]bool{255: true, 256: false} {
		if err := new(mdns.Msg).Unpack(nameQuery(octets)); (err == nil) != fine {
			t.Errorf("miekg/dns on a name of %d octets: %v", octets, err)
		}
	}
}

// nameQuery is an A query for a name of wire octets under cluster.local.,
// built by hand: miekg/dns would refuse to pack one over 255.
func nameQuery(octets int) []byte {
	b := []byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	suffix := []byte{7, 'c', 'l', 'u', 's', 't', 'e', 'r', 5, 'l', 'o', 'c', 'a', 'l', 0}
	for left := octets - len(suffix); left > 0; {
		c := min(64, left) // a label of c-1 octets and its length
		if left-c == 1 {
			c-- // no label is 0 octets long: leave 2
		}
		b = append(append(b, byte(c-1)), bytes.Repeat([]byte{'a'}, c-1)...)
		left -= c
	}
	return append(append(b, suffix...), 0, 1, 0, 1)
}

// TestFastPathDoesNotAllocate is the zero-allocation promise of the UDP hot path.
func TestFastPathDoesNotAllocate(t *testing.T) {
	z := wireFixture(t, 10)
	for _, opts := range []Options{{}, servedOptions()} {
		fastPathDoesNotAllocate(t, NewHandler(z, opts))
	}
}

func fastPathDoesNotAllocate(t *testing.T, h *Handler) {
	out := make([]byte, 0, mdns.MaxMsgSize)
	var q wireQuery
	for _, c := range []struct {
		name  string
		qtype uint16
	}{
		{"db.default.svc.cluster.local.", mdns.TypeA},
		{"db-3.db.default.svc.cluster.local.", mdns.TypeA},
		{"db-0.db.default.svc.cluster.local.", mdns.TypeAAAA},
		{"_cql._tcp.db.default.svc.cluster.local.", mdns.TypeSRV},
		{"nope.db.default.svc.cluster.local.", mdns.TypeA},
		{"db-1.db.default.svc.cluster.local.", mdns.TypeAAAA},
		{"10-42-0-12.default.pod.cluster.local.", mdns.TypeA},
		{"10-42-0-12.default.pod.cluster.local.", mdns.TypeAAAA},
	} {
		req := new(mdns.Msg)
		req.SetQuestion(c.name, c.qtype)
		req.SetEdns0(1232, false)
		wire, _ := req.Pack()
		allocs := testing.AllocsPerRun(200, func() {
			if !parseQuery(wire, &q) {
				t.Fatal("not parsed")
			}
			if _, _, ok := h.fastAnswer(wire, &q, out); !ok {
				t.Fatal("not served by the fast path")
			}
		})
		if allocs != 0 {
			t.Errorf("%s %s: %v allocations per query", c.name, mdns.TypeToString[c.qtype], allocs)
		}
	}
}
