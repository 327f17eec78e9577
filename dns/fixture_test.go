package dns_test

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

func ep(host string, ready bool, addrs ...string) zone.Endpoint {
	e := zone.Endpoint{Hostname: host, Ready: ready, Serving: ready}
	for _, a := range addrs {
		e.Addresses = append(e.Addresses, netip.MustParseAddr(a))
	}
	return e
}

func headless(ns, name string) *zone.Service {
	return &zone.Service{Namespace: ns, Name: name, Type: zone.Headless}
}

func clusterIP(ns, name string, ports []zone.Port, ips ...string) *zone.Service {
	s := &zone.Service{Namespace: ns, Name: name, Type: zone.ClusterIP, Ports: ports}
	for _, ip := range ips {
		s.ClusterIPs = append(s.ClusterIPs, netip.MustParseAddr(ip))
	}
	return s
}

func slice(ns, name, svc string, at zone.AddressType, ports []zone.Port, eps ...zone.Endpoint) *zone.Slice {
	return &zone.Slice{Namespace: ns, Name: name, Service: svc, AddressType: at, Ports: ports, Endpoints: eps}
}

func port(name, proto string, n uint16) zone.Port {
	return zone.Port{Name: name, Protocol: zone.Protocol(proto), Port: n}
}

func newZone(t testing.TB, objs ...any) *zone.Zone {
	t.Helper()
	z := zone.New()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *zone.Service:
			err = z.UpsertService(o)
		case *zone.Slice:
			err = z.UpsertSlice(o)
		}
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	return z
}

// wideSize is the endpoint count of "wide": its A answer overflows 512 bytes
// and fits 1232; its SRV answer (about 2.3 KB) fits 2400 bytes only without
// the additional section.
const wideSize = 40

// fixture is the cluster every handler table runs against.
func fixture(t testing.TB) *zone.Zone {
	t.Helper()
	notReady := ep("my-db-2", false, "10.42.1.12")
	notReady.Serving, notReady.Terminating = true, true
	cql := []zone.Port{port("cql", "TCP", 9042), port("", "TCP", 7000)}
	http := []zone.Port{port("http", "TCP", 8080), port("", "TCP", 8081)}
	objs := []any{
		headless("default", "my-db"),
		slice("default", "my-db-abc", "my-db", zone.IPv4, cql,
			ep("my-db-0", true, "10.42.1.10"), ep("my-db-1", true, "10.42.1.11"), notReady),
		slice("default", "my-db-fqdn", "my-db", zone.FQDN, cql, zone.Endpoint{Hostname: "my-db-9", Ready: true}),

		// Two slices sharing 10.42.0.12, as during an endpoint's move.
		headless("default", "my-service"),
		slice("default", "my-service-a", "my-service", zone.IPv4, http, ep("", true, "10.42.0.12")),
		slice("default", "my-service-b", "my-service", zone.IPv4, http, ep("", true, "10.42.0.15"), ep("", true, "10.42.0.12")),

		headless("default", "dual"),
		slice("default", "dual-v4", "dual", zone.IPv4, http, ep("web-0", true, "10.42.2.1"), ep("", true, "10.42.2.2")),
		slice("default", "dual-v6", "dual", zone.IPv6, http, ep("web-0", true, "2001:db8::1"), ep("", true, "2001:db8::")),

		clusterIP("default", "kubernetes", []zone.Port{port("https", "TCP", 443), port("", "UDP", 53)}, "10.96.0.1", "fd00::1"),
		slice("default", "kubernetes-1", "kubernetes", zone.IPv4, []zone.Port{port("https", "TCP", 6443)}, ep("", true, "192.168.0.10")),
		clusterIP("default", "quiet", nil, "10.96.0.2"),

		&zone.Service{Namespace: "default", Name: "ext", Type: zone.ExternalName, ExternalName: "db.example.com"},
		// An address as externalName: no host, so no record (the API
		// server takes it with a warning).
		&zone.Service{Namespace: "default", Name: "ext-ip", Type: zone.ExternalName, ExternalName: "192.0.2.1"},
		headless("default", "fqdn"),
		slice("default", "fqdn-1", "fqdn", zone.FQDN, cql, zone.Endpoint{Hostname: "x", Ready: true}),
		headless("default", "empty"),
		headless("default", "cold"),
		slice("default", "cold-1", "cold", zone.IPv4, cql, ep("cold-0", false, "10.42.3.1")),
		slice("default", "ghost-1", "ghost", zone.IPv4, cql, ep("ghost-0", true, "10.42.4.1")),
		clusterIP("other", "web", nil, "10.96.1.1"),
		headless("default", "wide"),
	}
	var wide []zone.Endpoint
	for i := range wideSize {
		wide = append(wide, ep(fmt.Sprintf("pod-%d", i), true, fmt.Sprintf("10.43.0.%d", i+1)))
	}
	objs = append(objs, slice("default", "wide-1", "wide", zone.IPv4, http, wide...))
	return newZone(t, objs...)
}

// settle waits until the second of z's last change is over, when its
// serial is the one handed to secondaries (zone.Snapshot.HandOutSerial).
func settle(z *zone.Zone) {
	time.Sleep(time.Until(time.Unix(int64(z.Snapshot().Serial())+1, 0)))
}

// recorder is a ResponseWriter that keeps what the handler wrote.
type recorder struct {
	tcp bool
	msg *mdns.Msg
}

func (r *recorder) LocalAddr() net.Addr  { return r.addr(53) }
func (r *recorder) RemoteAddr() net.Addr { return r.addr(40000) }
func (r *recorder) addr(p int) net.Addr {
	if r.tcp {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}
}
func (r *recorder) WriteMsg(m *mdns.Msg) error  { r.msg = m; return nil }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) Close() error                { return nil }
func (r *recorder) TsigStatus() error           { return nil }
func (r *recorder) TsigTimersOnly(bool)         {}
func (r *recorder) Hijack()                     {}

var _ mdns.ResponseWriter = (*recorder)(nil)

// serve runs one query through ServeDNS and returns what was written, nil if
// nothing was.
func serve(h *dns.Handler, q *mdns.Msg, tcp bool) *mdns.Msg {
	w := &recorder{tcp: tcp}
	h.ServeDNS(w, q)
	return w.msg
}

func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// section renders RRs for comparison as a set: sorted text, SOA serial zeroed
// (it is the time of the last change), OPT left out (tests check it apart).
func section(rrs []mdns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == mdns.TypeOPT {
			continue
		}
		if soa, ok := rr.(*mdns.SOA); ok {
			c := *soa
			c.Serial = 0
			rr = &c
		}
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

func parse(t testing.TB, zoneFile []string) []string {
	t.Helper()
	var rrs []mdns.RR
	for _, s := range zoneFile {
		rr, err := mdns.NewRR(s)
		if err != nil || rr == nil {
			t.Fatalf("bad expected RR %q: %v", s, err)
		}
		rrs = append(rrs, rr)
	}
	return section(rrs)
}

// diffSection reports a section that is not the expected set.
func diffSection(t testing.TB, name string, got []mdns.RR, want []string) {
	t.Helper()
	g, w := section(got), parse(t, want)
	if !slices.Equal(g, w) {
		t.Errorf("%s:\n got  %s\n want %s", name, strings.Join(g, "\n      "), strings.Join(w, "\n      "))
	}
}
