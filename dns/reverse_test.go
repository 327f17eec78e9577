package dns_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

const (
	soa4 = "in-addr.arpa. 5 IN SOA ns.dns.in-addr.arpa. hostmaster.in-addr.arpa. 0 7200 1800 86400 5"
	soa6 = "ip6.arpa. 5 IN SOA ns.dns.ip6.arpa. hostmaster.ip6.arpa. 0 7200 1800 86400 5"
)

// reverseFixture is the handler fixture plus an address that two Services
// share (an endpoint of both), and ExternalName Services that point into
// the zone.
func reverseFixture(t testing.TB) *zone.Zone {
	t.Helper()
	z := fixture(t)
	for _, o := range []any{
		headless("default", "alpha"),
		slice("default", "alpha-1", "alpha", zone.IPv4, nil, ep("a-0", true, "10.42.9.9")),
		clusterIP("default", "beta", nil, "10.96.0.9"),
		slice("default", "beta-1", "beta", zone.IPv4, nil, ep("", true, "10.42.9.9")),
		&zone.Service{Namespace: "default", Name: "inzone", Type: zone.ExternalName, ExternalName: "kubernetes.default.svc.cluster.local"},
		&zone.Service{Namespace: "default", Name: "hop", Type: zone.ExternalName, ExternalName: "inzone.default.svc.cluster.local."},
		&zone.Service{Namespace: "default", Name: "dangling", Type: zone.ExternalName, ExternalName: "nope.default.svc.cluster.local"},
		&zone.Service{Namespace: "default", Name: "to-ns", Type: zone.ExternalName, ExternalName: "default.svc.cluster.local"},
		&zone.Service{Namespace: "default", Name: "loop-a", Type: zone.ExternalName, ExternalName: "loop-b.default.svc.cluster.local"},
		&zone.Service{Namespace: "default", Name: "loop-b", Type: zone.ExternalName, ExternalName: "loop-a.default.svc.cluster.local"},
	} {
		var err error
		switch o := o.(type) {
		case *zone.Service:
			err = z.UpsertService(o)
		case *zone.Slice:
			err = z.UpsertSlice(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return z
}

func rev(ip string) string {
	name, err := mdns.ReverseAddr(ip)
	if err != nil {
		panic(err)
	}
	return name
}

// rev6 is the ip6.arpa name of ip, even for an IPv4-mapped address (which
// mdns.ReverseAddr names under in-addr.arpa).
func rev6(ip string) string {
	b := netip.MustParseAddr(ip).As16()
	var sb strings.Builder
	for i := len(b) - 1; i >= 0; i-- {
		fmt.Fprintf(&sb, "%x.%x.", b[i]&0xf, b[i]>>4)
	}
	return sb.String() + "ip6.arpa."
}

func ptrTo(ip, target string) string { return rev(ip) + " 5 IN PTR " + target }

var reverseTestCases = []testCase{
	// Every ready endpoint address points at its endpoint name, every
	// ClusterIP at its Service name.
	{Qname: rev("10.42.1.10"), Qtype: mdns.TypePTR, Answer: []string{ptrTo("10.42.1.10", "my-db-0.my-db.default.svc.cluster.local.")}},
	{Qname: rev("10.42.0.12"), Qtype: mdns.TypePTR, Answer: []string{ptrTo("10.42.0.12", "10-42-0-12.my-service.default.svc.cluster.local.")}},
	{Qname: rev("10.96.0.1"), Qtype: mdns.TypePTR, Answer: []string{ptrTo("10.96.0.1", "kubernetes.default.svc.cluster.local.")}},
	{Qname: rev("192.168.0.10"), Qtype: mdns.TypePTR, Answer: []string{ptrTo("192.168.0.10", "192-168-0-10.kubernetes.default.svc.cluster.local.")}},
	{Qname: rev("10.96.0.2"), Qtype: mdns.TypePTR, Answer: []string{ptrTo("10.96.0.2", "quiet.default.svc.cluster.local.")}},
	// IPv6: ClusterIP, an endpoint with a hostname, one named by its address.
	{Qname: rev("fd00::1"), Qtype: mdns.TypePTR, Answer: []string{ptrTo("fd00::1", "kubernetes.default.svc.cluster.local.")}},
	{Qname: rev("2001:db8::1"), Qtype: mdns.TypePTR, Answer: []string{ptrTo("2001:db8::1", "web-0.dual.default.svc.cluster.local.")}},
	{Qname: rev("2001:db8::"), Qtype: mdns.TypePTR, Answer: []string{ptrTo("2001:db8::", "2001-db8--0.dual.default.svc.cluster.local.")}},
	// One address, two Services: one PTR each.
	{Qname: rev("10.42.9.9"), Qtype: mdns.TypePTR, Answer: []string{
		ptrTo("10.42.9.9", "a-0.alpha.default.svc.cluster.local."),
		ptrTo("10.42.9.9", "10-42-9-9.beta.default.svc.cluster.local."),
	}},
	// Not ready, a slice without its Service, unknown: NXDOMAIN.
	{Qname: rev("10.42.1.12"), Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa4}},
	{Qname: rev("10.42.4.1"), Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa4}},
	{Qname: rev("10.42.3.1"), Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa4}},
	{Qname: rev("2001:db8::99"), Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa6}},
	// Other types at a known address: NODATA; ANY: RFC 8482.
	{Qname: rev("10.42.1.10"), Qtype: mdns.TypeA, Ns: []string{soa4}},
	{Qname: rev("10.42.1.10"), Qtype: mdns.TypeTXT, Ns: []string{soa4}},
	{Qname: rev("10.42.1.10"), Qtype: mdns.TypeANY, Answer: []string{rev("10.42.1.10") + ` 5 IN HINFO "RFC8482" ""`}},
	// Case is matched without, echoed with.
	{Qname: "10.1.42.10.IN-ADDR.Arpa.", Qtype: mdns.TypePTR, Answer: []string{"10.1.42.10.IN-ADDR.Arpa. 5 IN PTR my-db-0.my-db.default.svc.cluster.local."}},
	// Apexes: SOA and NS like a forward zone's; nothing else.
	{Qname: "in-addr.arpa.", Qtype: mdns.TypeSOA, Answer: []string{soa4}},
	{Qname: "in-addr.arpa.", Qtype: mdns.TypeNS, Answer: []string{"in-addr.arpa. 5 IN NS ns.dns.in-addr.arpa."}},
	{Qname: "in-addr.arpa.", Qtype: mdns.TypePTR, Ns: []string{soa4}},
	{Qname: "ip6.arpa.", Qtype: mdns.TypeSOA, Answer: []string{soa6}},
	{Qname: "ip6.arpa.", Qtype: mdns.TypeNS, Answer: []string{"ip6.arpa. 5 IN NS ns.dns.ip6.arpa."}},
	// Partial names may have addresses below: NODATA, never NXDOMAIN.
	{Qname: "10.in-addr.arpa.", Qtype: mdns.TypePTR, Ns: []string{soa4}},
	{Qname: "42.10.in-addr.arpa.", Qtype: mdns.TypeSOA, Ns: []string{soa4}},
	{Qname: "1.42.10.in-addr.arpa.", Qtype: mdns.TypePTR, Ns: []string{soa4}},
	{Qname: "8.b.d.0.1.0.0.2.ip6.arpa.", Qtype: mdns.TypePTR, Ns: []string{soa6}},
	// Names no address can have: NXDOMAIN.
	{Qname: "256.1.42.10.in-addr.arpa.", Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa4}},
	{Qname: "010.1.42.10.in-addr.arpa.", Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa4}},
	{Qname: "x.10.1.42.10.in-addr.arpa.", Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa4}},
	{Qname: "_dns-sd._udp.0.42.10.in-addr.arpa.", Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa4}},
	{Qname: "10.8.b.d.0.1.0.0.2.ip6.arpa.", Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa6}},
	{Qname: "0." + rev("2001:db8::1"), Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa6}},
	// The IPv4 endpoint 10.42.1.10 has no AAAA record ::ffff:10.42.1.10.
	{Qname: rev6("::ffff:10.42.1.10"), Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa6}},
	{Qname: "in-addr.arpa.", Qtype: mdns.TypeAXFR, Rcode: mdns.RcodeRefused},
	{Qname: "arpa.", Qtype: mdns.TypeSOA, Rcode: mdns.RcodeRefused},

	// ExternalName targets in the zone are chased, for any type but CNAME
	// and ANY (RFC 1034 4.3.2 3a).
	{Qname: "inzone.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"inzone.default.svc.cluster.local. 5 IN CNAME kubernetes.default.svc.cluster.local.",
		"kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1",
	}},
	{Qname: "inzone.default.svc.cluster.local.", Qtype: mdns.TypeAAAA, Answer: []string{
		"inzone.default.svc.cluster.local. 5 IN CNAME kubernetes.default.svc.cluster.local.",
		"kubernetes.default.svc.cluster.local. 5 IN AAAA fd00::1",
	}},
	{Qname: "inzone.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Answer: []string{
		"inzone.default.svc.cluster.local. 5 IN CNAME kubernetes.default.svc.cluster.local.",
		"kubernetes.default.svc.cluster.local. 5 IN SRV 0 50 443 kubernetes.default.svc.cluster.local.",
		"kubernetes.default.svc.cluster.local. 5 IN SRV 0 50 53 kubernetes.default.svc.cluster.local.",
	}, Extra: []string{
		"kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1",
		"kubernetes.default.svc.cluster.local. 5 IN AAAA fd00::1",
	}},
	{Qname: "inzone.default.svc.cluster.local.", Qtype: mdns.TypeTXT, Answer: []string{
		"inzone.default.svc.cluster.local. 5 IN CNAME kubernetes.default.svc.cluster.local.",
	}, Ns: []string{soa}},
	{Qname: "inzone.default.svc.cluster.local.", Qtype: mdns.TypeCNAME, Answer: []string{
		"inzone.default.svc.cluster.local. 5 IN CNAME kubernetes.default.svc.cluster.local.",
	}},
	{Qname: "hop.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"hop.default.svc.cluster.local. 5 IN CNAME inzone.default.svc.cluster.local.",
		"inzone.default.svc.cluster.local. 5 IN CNAME kubernetes.default.svc.cluster.local.",
		"kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1",
	}},
	// The chain's last name decides the rcode (RFC 6604).
	{Qname: "dangling.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Answer: []string{
		"dangling.default.svc.cluster.local. 5 IN CNAME nope.default.svc.cluster.local.",
	}, Ns: []string{soa}},
	{Qname: "to-ns.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"to-ns.default.svc.cluster.local. 5 IN CNAME default.svc.cluster.local.",
	}, Ns: []string{soa}},
	// A CNAME loop ends where it closes.
	{Qname: "loop-a.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"loop-a.default.svc.cluster.local. 5 IN CNAME loop-b.default.svc.cluster.local.",
		"loop-b.default.svc.cluster.local. 5 IN CNAME loop-a.default.svc.cluster.local.",
	}},
	// Outside the zones, without an upstream: the CNAME alone.
	{Qname: "ext.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"ext.default.svc.cluster.local. 5 IN CNAME db.example.com.",
	}},

	// Pod names are off by default.
	{Qname: "10-244-1-5.default.pod.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "pod.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
}

func TestReverse(t *testing.T) {
	h := dns.NewHandler(reverseFixture(t), dns.Options{Zones: []string{"cluster.local", "in-addr.arpa", "ip6.arpa"}})
	runCases(t, h, reverseTestCases)
}

func runCases(t *testing.T, h *dns.Handler, cases []testCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Qname+"/"+mdns.TypeToString[tc.Qtype], func(t *testing.T) {
			q := query(tc.Qname, tc.Qtype)
			if tc.Edit != nil {
				tc.Edit(q)
			}
			for _, tcp := range []bool{false, true} {
				checkResponse(t, q, serve(h, q, tcp), tc)
			}
		})
	}
}

// TestReverseZoneChoice: a narrower reverse zone answers only beneath it,
// with its own SOA, and PTR records point into the first forward zone
// whatever order the zones are given in.
func TestReverseZoneChoice(t *testing.T) {
	h := dns.NewHandler(reverseFixture(t), dns.Options{Zones: []string{"10.in-addr.arpa.", "cluster.example", "cluster.local"}})
	soa10 := "10.in-addr.arpa. 5 IN SOA ns.dns.10.in-addr.arpa. hostmaster.10.in-addr.arpa. 0 7200 1800 86400 5"
	runCases(t, h, []testCase{
		{Qname: rev("10.96.0.1"), Qtype: mdns.TypePTR, Answer: []string{ptrTo("10.96.0.1", "kubernetes.default.svc.cluster.example.")}},
		{Qname: rev("10.42.3.1"), Qtype: mdns.TypePTR, Rcode: mdns.RcodeNameError, Ns: []string{soa10}},
		{Qname: "10.in-addr.arpa.", Qtype: mdns.TypeSOA, Answer: []string{soa10}},
		{Qname: rev("192.168.0.10"), Qtype: mdns.TypePTR, Rcode: mdns.RcodeRefused},
		{Qname: rev("fd00::1"), Qtype: mdns.TypePTR, Rcode: mdns.RcodeRefused},
	})
}

func TestPodRecords(t *testing.T) {
	h := dns.NewHandler(reverseFixture(t), dns.Options{PodRecords: true})
	runCases(t, h, []testCase{
		{Qname: "10-244-1-5.default.pod.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
			"10-244-1-5.default.pod.cluster.local. 5 IN A 10.244.1.5",
		}},
		// No pod or namespace is checked: the name is the data.
		{Qname: "10-244-1-5.no-such-ns.pod.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
			"10-244-1-5.no-such-ns.pod.cluster.local. 5 IN A 10.244.1.5",
		}},
		{Qname: "10-244-1-5.default.pod.cluster.local.", Qtype: mdns.TypeAAAA, Ns: []string{soa}},
		{Qname: "2001-db8--5.default.pod.cluster.local.", Qtype: mdns.TypeAAAA, Answer: []string{
			"2001-db8--5.default.pod.cluster.local. 5 IN AAAA 2001:db8::5",
		}},
		{Qname: "fd00-10-244-1--a.Default.POD.cluster.local.", Qtype: mdns.TypeAAAA, Answer: []string{
			"fd00-10-244-1--a.Default.POD.cluster.local. 5 IN AAAA fd00:10:244:1::a",
		}},
		{Qname: "2001-db8--5.default.pod.cluster.local.", Qtype: mdns.TypeA, Ns: []string{soa}},
		{Qname: "default.pod.cluster.local.", Qtype: mdns.TypeA, Ns: []string{soa}},
		{Qname: "pod.cluster.local.", Qtype: mdns.TypeA, Ns: []string{soa}},
		{Qname: "my-pod.default.pod.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
		{Qname: "10-244-1-05.default.pod.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
		{Qname: "10-244-1-256.default.pod.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
		{Qname: "x.10-244-1-5.default.pod.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
		// Service names are unaffected.
		{Qname: "kubernetes.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
			"kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1",
		}},
	})
}
