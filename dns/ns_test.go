package dns_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

// nsZone has the DNS server's own pods behind a ClusterIP Service (as
// kube-dns) and, for one of them, a headless metrics Service too.
func nsZone(t *testing.T) *zone.Zone {
	dnsPort := []zone.Port{port("dns", "UDP", 53)}
	return newZone(t,
		clusterIP("kube-system", "kube-dns", dnsPort, "10.96.0.10", "fd00::10"),
		slice("kube-system", "kube-dns-v4", "kube-dns", zone.IPv4, dnsPort, ep("", true, "10.244.0.5"), ep("", true, "10.244.1.6")),
		slice("kube-system", "kube-dns-v6", "kube-dns", zone.IPv6, dnsPort, ep("", true, "fd00:244::5")),
		headless("kube-system", "dns-metrics"),
		slice("kube-system", "dns-metrics-1", "dns-metrics", zone.IPv4, nil, ep("", true, "10.244.1.6"), ep("", false, "10.244.2.7")),
	)
}

func TestNameServerName(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	const nsSOA = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 0 7200 1800 86400 5"
	ns := "cluster.local. 5 IN NS ns.dns.cluster.local."
	tests := []struct {
		name   string
		server []netip.Addr
		cases  []testCase
	}{
		{"a pod of a ClusterIP Service: its cluster IPs", addrs("10.244.0.5"), []testCase{
			{Qname: "ns.dns.cluster.local.", Qtype: mdns.TypeA, Answer: []string{"ns.dns.cluster.local. 5 IN A 10.96.0.10"}},
			{Qname: "NS.DNS.cluster.local.", Qtype: mdns.TypeAAAA, Answer: []string{"NS.DNS.cluster.local. 5 IN AAAA fd00::10"}},
			{Qname: "ns.dns.cluster.local.", Qtype: mdns.TypeTXT, Ns: []string{nsSOA}},
			{Qname: "dns.cluster.local.", Qtype: mdns.TypeA, Ns: []string{nsSOA}},
			{Qname: "x.ns.dns.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{nsSOA}},
			{Qname: "cluster.local.", Qtype: mdns.TypeNS, Answer: []string{ns}, Extra: []string{
				"ns.dns.cluster.local. 5 IN A 10.96.0.10", "ns.dns.cluster.local. 5 IN AAAA fd00::10"}},
		}},
		{"under a reverse zone too", addrs("10.244.0.5"), []testCase{
			{Qname: "ns.dns.in-addr.arpa.", Qtype: mdns.TypeA, Answer: []string{"ns.dns.in-addr.arpa. 5 IN A 10.96.0.10"}},
			{Qname: "dns.ip6.arpa.", Qtype: mdns.TypeA, Ns: []string{"ip6.arpa. 5 IN SOA ns.dns.ip6.arpa. hostmaster.ip6.arpa. 0 7200 1800 86400 5"}},
			{Qname: "in-addr.arpa.", Qtype: mdns.TypeNS, Answer: []string{"in-addr.arpa. 5 IN NS ns.dns.in-addr.arpa."}, Extra: []string{
				"ns.dns.in-addr.arpa. 5 IN A 10.96.0.10", "ns.dns.in-addr.arpa. 5 IN AAAA fd00::10"}},
			{Qname: "5.0.244.10.in-addr.arpa.", Qtype: mdns.TypePTR, Answer: []string{
				"5.0.244.10.in-addr.arpa. 5 IN PTR 10-244-0-5.kube-dns.kube-system.svc.cluster.local."}},
		}},
		{"also behind a headless Service: its ready endpoints too", addrs("10.244.1.6", "fd00:244::5"), []testCase{
			{Qname: "ns.dns.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
				"ns.dns.cluster.local. 5 IN A 10.96.0.10", "ns.dns.cluster.local. 5 IN A 10.244.1.6"}},
			{Qname: "ns.dns.cluster.local.", Qtype: mdns.TypeAAAA, Answer: []string{"ns.dns.cluster.local. 5 IN AAAA fd00::10"}},
		}},
		{"in no Service (out of the zone, not ready): its own addresses", addrs("10.244.2.7", "192.0.2.53"), []testCase{
			{Qname: "ns.dns.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
				"ns.dns.cluster.local. 5 IN A 10.244.2.7", "ns.dns.cluster.local. 5 IN A 192.0.2.53"}},
			{Qname: "ns.dns.cluster.local.", Qtype: mdns.TypeAAAA, Ns: []string{nsSOA}},
		}},
		{"no server addresses: the name does not exist", nil, []testCase{
			{Qname: "ns.dns.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{nsSOA}},
			{Qname: "dns.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{nsSOA}},
			{Qname: "cluster.local.", Qtype: mdns.TypeNS, Answer: []string{ns}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := dns.NewHandler(nsZone(t), dns.Options{ServerAddrs: tt.server, Zones: []string{"cluster.local", "in-addr.arpa", "ip6.arpa"}})
			for _, tc := range tt.cases {
				t.Run(tc.Qname+"/"+mdns.TypeToString[tc.Qtype], func(t *testing.T) {
					q := query(tc.Qname, tc.Qtype)
					for _, tcp := range []bool{false, true} {
						checkResponse(t, q, serve(h, q, tcp), tc)
					}
				})
			}
		})
	}
}

// TestNameServerNameOverUDP: the fast path, which answers A queries from the
// zone alone, leaves ns.dns to the general path rather than deny it.
func TestNameServerNameOverUDP(t *testing.T) {
	srv := &dns.Server{Addr: "127.0.0.1:0",
		Handler: dns.NewHandler(nsZone(t), dns.Options{ServerAddrs: []netip.Addr{netip.MustParseAddr("10.244.0.5")}})}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
	for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
		resp, _, err := c.Exchange(query("ns.dns.cluster.local.", qtype), srv.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint16]string{mdns.TypeA: "ns.dns.cluster.local. 5 IN A 10.96.0.10",
			mdns.TypeAAAA: "ns.dns.cluster.local. 5 IN AAAA fd00::10"}[qtype]
		if resp.Rcode != mdns.RcodeSuccess {
			t.Errorf("%s: rcode %s", mdns.TypeToString[qtype], mdns.RcodeToString[resp.Rcode])
		}
		diffSection(t, mdns.TypeToString[qtype], resp.Answer, []string{want})
	}
}
