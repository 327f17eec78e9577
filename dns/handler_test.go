package dns_test

import (
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
)

const soa = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 0 7200 1800 86400 5"

// testCase is one query and the whole expected response, CoreDNS style.
type testCase struct {
	Qname             string
	Qtype             uint16
	Rcode             int
	Answer, Ns, Extra []string
	// Edit, when set, alters the query before it is sent.
	Edit func(*mdns.Msg)
}

var dnsTestCases = []testCase{
	// Headless: ready endpoints only, across slices, each address once.
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"my-db.default.svc.cluster.local. 5 IN A 10.42.1.10",
		"my-db.default.svc.cluster.local. 5 IN A 10.42.1.11",
	}},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeAAAA, Ns: []string{soa}},
	{Qname: "my-db-0.my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"my-db-0.my-db.default.svc.cluster.local. 5 IN A 10.42.1.10",
	}},
	{Qname: "my-db-1.my-db.default.svc.cluster.local.", Qtype: mdns.TypeAAAA, Ns: []string{soa}},
	{Qname: "my-db-2.my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "my-db-9.my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "10-42-1-10.my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "_cql._tcp.my-db.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Answer: []string{
		"_cql._tcp.my-db.default.svc.cluster.local. 5 IN SRV 0 50 9042 my-db-0.my-db.default.svc.cluster.local.",
		"_cql._tcp.my-db.default.svc.cluster.local. 5 IN SRV 0 50 9042 my-db-1.my-db.default.svc.cluster.local.",
	}, Extra: []string{
		"my-db-0.my-db.default.svc.cluster.local. 5 IN A 10.42.1.10",
		"my-db-1.my-db.default.svc.cluster.local. 5 IN A 10.42.1.11",
	}},
	{Qname: "_cql._tcp.my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Ns: []string{soa}},
	{Qname: "_tcp.my-db.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Ns: []string{soa}},
	{Qname: "_cql._udp.my-db.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "_udp.my-db.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	// SRV at the Service name lists every port of every ready endpoint, as CoreDNS does.
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Answer: []string{
		"my-db.default.svc.cluster.local. 5 IN SRV 0 25 7000 my-db-0.my-db.default.svc.cluster.local.",
		"my-db.default.svc.cluster.local. 5 IN SRV 0 25 7000 my-db-1.my-db.default.svc.cluster.local.",
		"my-db.default.svc.cluster.local. 5 IN SRV 0 25 9042 my-db-0.my-db.default.svc.cluster.local.",
		"my-db.default.svc.cluster.local. 5 IN SRV 0 25 9042 my-db-1.my-db.default.svc.cluster.local.",
	}, Extra: []string{
		"my-db-0.my-db.default.svc.cluster.local. 5 IN A 10.42.1.10",
		"my-db-1.my-db.default.svc.cluster.local. 5 IN A 10.42.1.11",
	}},
	{Qname: "x.my-db-0.my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},

	// Endpoints without hostname are named by their address.
	{Qname: "my-service.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"my-service.default.svc.cluster.local. 5 IN A 10.42.0.12",
		"my-service.default.svc.cluster.local. 5 IN A 10.42.0.15",
	}},
	{Qname: "10-42-0-12.my-service.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"10-42-0-12.my-service.default.svc.cluster.local. 5 IN A 10.42.0.12",
	}},
	{Qname: "_http._tcp.my-service.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Answer: []string{
		"_http._tcp.my-service.default.svc.cluster.local. 5 IN SRV 0 50 8080 10-42-0-12.my-service.default.svc.cluster.local.",
		"_http._tcp.my-service.default.svc.cluster.local. 5 IN SRV 0 50 8080 10-42-0-15.my-service.default.svc.cluster.local.",
	}, Extra: []string{
		"10-42-0-12.my-service.default.svc.cluster.local. 5 IN A 10.42.0.12",
		"10-42-0-15.my-service.default.svc.cluster.local. 5 IN A 10.42.0.15",
	}},

	// Dual-stack: IPv4 slices feed A, IPv6 slices AAAA.
	{Qname: "dual.default.svc.cluster.local.", Qtype: mdns.TypeAAAA, Answer: []string{
		"dual.default.svc.cluster.local. 5 IN AAAA 2001:db8::1",
		"dual.default.svc.cluster.local. 5 IN AAAA 2001:db8::",
	}},
	{Qname: "dual.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"dual.default.svc.cluster.local. 5 IN A 10.42.2.1",
		"dual.default.svc.cluster.local. 5 IN A 10.42.2.2",
	}},
	{Qname: "web-0.dual.default.svc.cluster.local.", Qtype: mdns.TypeAAAA, Answer: []string{
		"web-0.dual.default.svc.cluster.local. 5 IN AAAA 2001:db8::1",
	}},
	{Qname: "2001-db8--0.dual.default.svc.cluster.local.", Qtype: mdns.TypeAAAA, Answer: []string{
		"2001-db8--0.dual.default.svc.cluster.local. 5 IN AAAA 2001:db8::",
	}},
	{Qname: "2001-db8--0.dual.default.svc.cluster.local.", Qtype: mdns.TypeA, Ns: []string{soa}},
	{Qname: "_http._tcp.dual.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Answer: []string{
		"_http._tcp.dual.default.svc.cluster.local. 5 IN SRV 0 33 8080 web-0.dual.default.svc.cluster.local.",
		"_http._tcp.dual.default.svc.cluster.local. 5 IN SRV 0 33 8080 10-42-2-2.dual.default.svc.cluster.local.",
		"_http._tcp.dual.default.svc.cluster.local. 5 IN SRV 0 33 8080 2001-db8--0.dual.default.svc.cluster.local.",
	}, Extra: []string{
		"web-0.dual.default.svc.cluster.local. 5 IN A 10.42.2.1",
		"web-0.dual.default.svc.cluster.local. 5 IN AAAA 2001:db8::1",
		"10-42-2-2.dual.default.svc.cluster.local. 5 IN A 10.42.2.2",
		"2001-db8--0.dual.default.svc.cluster.local. 5 IN AAAA 2001:db8::",
	}},

	// ClusterIP: cluster IPs, SRV per named Service port at the Service name.
	{Qname: "kubernetes.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1",
	}},
	{Qname: "kubernetes.default.svc.cluster.local.", Qtype: mdns.TypeAAAA, Answer: []string{
		"kubernetes.default.svc.cluster.local. 5 IN AAAA fd00::1",
	}},
	{Qname: "_https._tcp.kubernetes.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Answer: []string{
		"_https._tcp.kubernetes.default.svc.cluster.local. 5 IN SRV 0 100 443 kubernetes.default.svc.cluster.local.",
	}, Extra: []string{
		"kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1",
		"kubernetes.default.svc.cluster.local. 5 IN AAAA fd00::1",
	}},
	{Qname: "_tcp.kubernetes.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Ns: []string{soa}},
	{Qname: "_dns._udp.kubernetes.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "quiet.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"quiet.default.svc.cluster.local. 5 IN A 10.96.0.2",
	}},
	{Qname: "quiet.default.svc.cluster.local.", Qtype: mdns.TypeAAAA, Ns: []string{soa}},

	// ExternalName: the CNAME is the only data, whatever the type.
	{Qname: "ext.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"ext.default.svc.cluster.local. 5 IN CNAME db.example.com.",
	}},
	{Qname: "ext.default.svc.cluster.local.", Qtype: mdns.TypeSRV, Answer: []string{
		"ext.default.svc.cluster.local. 5 IN CNAME db.example.com.",
	}},
	{Qname: "ext.default.svc.cluster.local.", Qtype: mdns.TypeTXT, Answer: []string{
		"ext.default.svc.cluster.local. 5 IN CNAME db.example.com.",
	}},
	{Qname: "ext-ip.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "ext-ip.default.svc.cluster.local.", Qtype: mdns.TypeCNAME, Rcode: mdns.RcodeNameError, Ns: []string{soa}},

	// Nothing to answer: NXDOMAIN.
	{Qname: "fqdn.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "empty.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "cold.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "ghost.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "nope.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "default.pod.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "foo.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "x.nowhere.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},

	// Empty non-terminals (RFC 8020): NODATA.
	{Qname: "svc.cluster.local.", Qtype: mdns.TypeA, Ns: []string{soa}},
	{Qname: "default.svc.cluster.local.", Qtype: mdns.TypeA, Ns: []string{soa}},
	{Qname: "other.svc.cluster.local.", Qtype: mdns.TypeSRV, Ns: []string{soa}},
	{Qname: "nowhere.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},

	// Apex and version.
	{Qname: "cluster.local.", Qtype: mdns.TypeSOA, Answer: []string{soa}},
	{Qname: "cluster.local.", Qtype: mdns.TypeNS, Answer: []string{"cluster.local. 5 IN NS ns.dns.cluster.local."}},
	{Qname: "cluster.local.", Qtype: mdns.TypeA, Ns: []string{soa}},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeSOA, Ns: []string{soa}},
	{Qname: "dns-version.cluster.local.", Qtype: mdns.TypeTXT, Answer: []string{`dns-version.cluster.local. 5 IN TXT "1.1.0"`}},
	{Qname: "dns-version.cluster.local.", Qtype: mdns.TypeA, Ns: []string{soa}},

	// Case: matched without it, echoed with it.
	{Qname: "My-DB.Default.SVC.Cluster.Local.", Qtype: mdns.TypeA, Answer: []string{
		"My-DB.Default.SVC.Cluster.Local. 5 IN A 10.42.1.10",
		"My-DB.Default.SVC.Cluster.Local. 5 IN A 10.42.1.11",
	}},
	{Qname: "_CQL._Tcp.MY-DB.default.svc.CLUSTER.local.", Qtype: mdns.TypeSRV, Answer: []string{
		"_CQL._Tcp.MY-DB.default.svc.CLUSTER.local. 5 IN SRV 0 50 9042 my-db-0.my-db.default.svc.cluster.local.",
		"_CQL._Tcp.MY-DB.default.svc.CLUSTER.local. 5 IN SRV 0 50 9042 my-db-1.my-db.default.svc.cluster.local.",
	}, Extra: []string{
		"my-db-0.my-db.default.svc.cluster.local. 5 IN A 10.42.1.10",
		"my-db-1.my-db.default.svc.cluster.local. 5 IN A 10.42.1.11",
	}},
	{Qname: "NOPE.cluster.LOCAL.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},

	// Outside the zone, and what the server will not do.
	{Qname: "example.com.", Qtype: mdns.TypeA, Rcode: mdns.RcodeRefused},
	{Qname: "local.", Qtype: mdns.TypeSOA, Rcode: mdns.RcodeRefused},
	{Qname: "xcluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeRefused},
	// The labels "foo.cluster" and "local": not under cluster.local.
	{Qname: `foo\.cluster.local.`, Qtype: mdns.TypeA, Rcode: mdns.RcodeRefused},
	// The label "\\" (one backslash), then cluster.local.
	{Qname: `\\.cluster.local.`, Qtype: mdns.TypeA, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "cluster.local.", Qtype: mdns.TypeAXFR, Rcode: mdns.RcodeRefused},
	{Qname: "cluster.local.", Qtype: mdns.TypeIXFR, Rcode: mdns.RcodeRefused},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeANY, Answer: []string{
		`my-db.default.svc.cluster.local. 5 IN HINFO "RFC8482" ""`,
	}},
	{Qname: "nope.cluster.local.", Qtype: mdns.TypeANY, Rcode: mdns.RcodeNameError, Ns: []string{soa}},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeRefused,
		Edit: func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassCHAOS }},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNotImplemented,
		Edit: func(m *mdns.Msg) { m.Opcode = mdns.OpcodeNotify }},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNotImplemented,
		Edit: func(m *mdns.Msg) { m.Opcode = mdns.OpcodeStatus }},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeNotImplemented,
		Edit: func(m *mdns.Msg) { m.Opcode = mdns.OpcodeUpdate }},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeFormatError,
		Edit: func(m *mdns.Msg) { m.Question = append(m.Question, m.Question[0]) }},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Rcode: mdns.RcodeBadVers,
		Edit: func(m *mdns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }},
	{Qname: "my-db-0.my-db.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
		"my-db-0.my-db.default.svc.cluster.local. 5 IN A 10.42.1.10",
	}, Edit: func(m *mdns.Msg) { m.SetEdns0(4096, true) }},
	// Meta-types are not asked for (RFC 6895 3.1), in the zone or out.
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeOPT, Rcode: mdns.RcodeFormatError},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeTSIG, Rcode: mdns.RcodeFormatError},
	{Qname: "example.com.", Qtype: mdns.TypeTKEY, Rcode: mdns.RcodeFormatError},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeMAILB, Rcode: mdns.RcodeNotImplemented},
	{Qname: "my-db.default.svc.cluster.local.", Qtype: mdns.TypeMAILA, Rcode: mdns.RcodeNotImplemented},
}

// TestClassANY: an answer to QCLASS ANY is the class IN data, but not
// authoritative: the server does not hold every class (RFC 1035 6.2).
func TestClassANY(t *testing.T) {
	h := dns.NewHandler(fixture(t), dns.Options{})
	for _, name := range []string{"my-db.default.svc.cluster.local.", "nope.cluster.local."} {
		q := query(name, mdns.TypeA)
		q.Question[0].Qclass = mdns.ClassANY
		r := serve(h, q, false)
		if r.Authoritative || (name == "nope.cluster.local.") != (r.Rcode == mdns.RcodeNameError) {
			t.Errorf("%s class ANY: AA %v rcode %s", name, r.Authoritative, mdns.RcodeToString[r.Rcode])
		}
		q.Question[0].Qclass = mdns.ClassINET
		if r := serve(h, q, false); !r.Authoritative {
			t.Errorf("%s class IN: not authoritative", name)
		}
	}
}

func TestHandler(t *testing.T) {
	h := dns.NewHandler(fixture(t), dns.Options{})
	for _, tc := range dnsTestCases {
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

func checkResponse(t *testing.T, q, resp *mdns.Msg, tc testCase) {
	t.Helper()
	if resp == nil {
		t.Fatal("no response")
	}
	if resp.Id != q.Id || !resp.Response || resp.Opcode != q.Opcode {
		t.Errorf("header: id %d response %v opcode %d, query id %d opcode %d", resp.Id, resp.Response, resp.Opcode, q.Id, q.Opcode)
	}
	if resp.Rcode != tc.Rcode {
		t.Errorf("rcode %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tc.Rcode])
	}
	if (tc.Rcode == mdns.RcodeSuccess || tc.Rcode == mdns.RcodeNameError) && !resp.Authoritative {
		t.Error("answer is not authoritative")
	}
	if resp.Truncated {
		t.Error("TC set on a small answer")
	}
	if len(resp.Question) != 1 || resp.Question[0] != q.Question[0] {
		t.Errorf("question %v, want %v", resp.Question, q.Question[0])
	}
	if (q.IsEdns0() != nil) != (resp.IsEdns0() != nil) {
		t.Errorf("OPT in query %v, in response %v", q.IsEdns0() != nil, resp.IsEdns0() != nil)
	}
	diffSection(t, "answer", resp.Answer, tc.Answer)
	diffSection(t, "authority", resp.Ns, tc.Ns)
	diffSection(t, "additional", resp.Extra, tc.Extra)
	// What ServeDNS wrote must survive the wire.
	b, err := resp.Pack()
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	back := new(mdns.Msg)
	if err := back.Unpack(b); err != nil || back.Rcode != tc.Rcode {
		t.Errorf("unpacked rcode %d, err %v", back.Rcode, err)
	}
}

// TestTruncation runs ServeDNS over a fake UDP or TCP writer: additional
// data goes first and silently, then the answer is cut and TC set.
func TestTruncation(t *testing.T) {
	h := dns.NewHandler(fixture(t), dns.Options{})
	const wide = "wide.default.svc.cluster.local."
	for _, tc := range []struct {
		name          string
		qname         string
		qtype         uint16
		edns          uint16 // 0: no OPT
		tcp, trunc    bool
		limit         int
		answer, extra int // -1: some, fewer than all
	}{
		{"A UDP no EDNS", wide, mdns.TypeA, 0, false, true, 512, -1, 0},
		{"A UDP EDNS 1232", wide, mdns.TypeA, 1232, false, false, 1232, wideSize, 0},
		{"SRV UDP no EDNS", "_http._tcp." + wide, mdns.TypeSRV, 0, false, true, 512, -1, 0},
		{"SRV UDP EDNS 1232", "_http._tcp." + wide, mdns.TypeSRV, 1232, false, true, 1232, -1, 0},
		// Larger offers are capped at the advertised 1232 to avoid fragments.
		{"SRV UDP EDNS 2400", "_http._tcp." + wide, mdns.TypeSRV, 2400, false, true, 1232, -1, 0},
		{"SRV UDP EDNS 4096", "_http._tcp." + wide, mdns.TypeSRV, 4096, false, true, 1232, -1, 0},
		{"SRV TCP", "_http._tcp." + wide, mdns.TypeSRV, 0, true, false, 65535, wideSize, wideSize},
		{"SRV TCP EDNS 512", "_http._tcp." + wide, mdns.TypeSRV, 512, true, false, 65535, wideSize, wideSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := query(tc.qname, tc.qtype)
			if tc.edns > 0 {
				q.SetEdns0(tc.edns, false)
			}
			r := serve(h, q, tc.tcp)
			b, err := r.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > tc.limit || r.Truncated != tc.trunc || r.Rcode != mdns.RcodeSuccess {
				t.Errorf("%d bytes (limit %d), TC %v (want %v), rcode %d", len(b), tc.limit, r.Truncated, tc.trunc, r.Rcode)
			}
			if n := len(r.Answer); tc.answer >= 0 && n != tc.answer || tc.answer < 0 && (n == 0 || n >= wideSize) {
				t.Errorf("%d answer records, want %d", n, tc.answer)
			}
			if n := len(section(r.Extra)); n != tc.extra {
				t.Errorf("%d additional records, want %d", n, tc.extra)
			}
			if (tc.edns > 0) != (r.IsEdns0() != nil) {
				t.Errorf("OPT kept %v, want %v", r.IsEdns0() != nil, tc.edns > 0)
			}
		})
	}
}
