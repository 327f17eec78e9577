package dns_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// axfr transfers zoneName from addr as a secondary would (miekg/dns's
// Transfer.In checks the SOA framing), returning the records and how many
// messages carried them.
func axfr(t *testing.T, addr string, m *mdns.Msg) ([]mdns.RR, int, error) {
	t.Helper()
	tr := &mdns.Transfer{ReadTimeout: 5 * time.Second}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, 0, err
	}
	var rrs []mdns.RR
	messages := 0
	for env := range ch {
		if env.Error != nil {
			return rrs, messages, env.Error
		}
		rrs = append(rrs, env.RR...)
		messages++
	}
	return rrs, messages, nil
}

func axfrQuery(name string) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetAxfr(name)
	return m
}

// TestTransferMatchesQueries transfers the handler tables' cluster and checks
// it against the queries: every record of every name the transfer holds is
// what a query for that name and type answers, and the names a query finds
// are all there.
func TestTransferMatchesQueries(t *testing.T) {
	z := fixture(t)
	reg := prometheus.NewRegistry()
	h := dns.NewHandler(z, dns.Options{TransferTo: loopback, FixedOrder: true, Metrics: dns.NewMetrics(reg),
		ServerAddrs: []netip.Addr{netip.MustParseAddr("10.0.0.53")}})
	addr := startHandler(t, h)
	settle(z)

	rrs, _, err := axfr(t, addr, axfrQuery("cluster.local."))
	if err != nil {
		t.Fatal(err)
	}
	if len(rrs) < 2 {
		t.Fatalf("transfer of %d records", len(rrs))
	}
	first, ok1 := rrs[0].(*mdns.SOA)
	last, ok2 := rrs[len(rrs)-1].(*mdns.SOA)
	if !ok1 || !ok2 || first.Serial != z.Snapshot().Serial() || last.String() != first.String() {
		t.Fatalf("transfer framed by %v ... %v, serial %d", rrs[0], rrs[len(rrs)-1], z.Snapshot().Serial())
	}

	type key struct {
		name  string
		qtype uint16
	}
	got := map[key][]mdns.RR{}
	seen := map[string]bool{}
	for _, rr := range rrs[1 : len(rrs)-1] {
		if s := rr.String(); seen[s] {
			t.Errorf("record sent twice: %s", s)
		} else {
			seen[s] = true
		}
		k := key{rr.Header().Name, rr.Header().Rrtype}
		got[k] = append(got[k], rr)
	}
	for k, rrs := range got {
		r := serve(h, query(k.name, k.qtype), true)
		if r == nil || r.Rcode != mdns.RcodeSuccess {
			t.Errorf("%s %s: transferred, but a query answers %v", k.name, mdns.TypeToString[k.qtype], r)
			continue
		}
		var want []mdns.RR
		for _, a := range r.Answer {
			if a.Header().Name == k.name && a.Header().Rrtype == k.qtype {
				want = append(want, a)
			}
		}
		if g, w := section(rrs), section(want); !slices.Equal(g, w) {
			t.Errorf("%s %s: transferred\n  %s\nqueried\n  %s", k.name, mdns.TypeToString[k.qtype],
				strings.Join(g, "\n  "), strings.Join(w, "\n  "))
		}
	}

	// The names every kind of record lives at, and some that must not be there.
	for _, name := range []string{
		"cluster.local. SOA", "cluster.local. NS", "ns.dns.cluster.local. A", "dns-version.cluster.local. TXT",
		"my-db.default.svc.cluster.local. A", "my-db-0.my-db.default.svc.cluster.local. A",
		"_cql._tcp.my-db.default.svc.cluster.local. SRV", "dual.default.svc.cluster.local. AAAA",
		"kubernetes.default.svc.cluster.local. AAAA", "_https._tcp.kubernetes.default.svc.cluster.local. SRV",
		"ext.default.svc.cluster.local. CNAME", "web.other.svc.cluster.local. A",
		"pod-39.wide.default.svc.cluster.local. A",
	} {
		owner, typ, _ := strings.Cut(name, " ")
		if _, ok := got[key{owner, mdns.StringToType[typ]}]; !ok && typ != "SOA" {
			t.Errorf("no %s in the transfer", name)
		}
	}
	for name := range seen {
		for _, absent := range []string{"my-db-2.", "cold", "ghost", "ext-ip", ".pod."} {
			if strings.Contains(name, absent) {
				t.Errorf("transferred %s", name)
			}
		}
	}
	if n := labelled(t, reg, "slicedns_dns_requests_total", "type", "AXFR"); n != 1 {
		t.Errorf("AXFR requests counted: %v", n)
	}
}

// TestTransferLargeZone: a zone bigger than one message goes out in several,
// every record once.
func TestTransferLargeZone(t *testing.T) {
	z := zone.New()
	sized(t, z, "big", 3000, 44)
	addr := startHandler(t, dns.NewHandler(z, dns.Options{TransferTo: loopback}))
	rrs, messages, err := axfr(t, addr, axfrQuery("cluster.local."))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, rr := range rrs {
		h := rr.Header()
		count[mdns.TypeToString[h.Rrtype]+" "+strings.SplitN(h.Name, ".", 2)[1]]++
	}
	// Each endpoint: an A at its own name and at the Service's, an SRV at
	// the Service's and at _http._tcp.
	if count["A big.default.svc.cluster.local."] != 3000 || count["A default.svc.cluster.local."] != 3000 ||
		count["SRV _tcp.big.default.svc.cluster.local."] != 3000 || count["SRV default.svc.cluster.local."] != 3000 ||
		count["SOA local."] != 2 || len(rrs) != 4*3000+4 {
		t.Errorf("records by type and parent: %v", count)
	}
	if messages < 5 {
		t.Errorf("%d records in %d messages", len(rrs), messages)
	}
}

func TestTransferIXFR(t *testing.T) {
	z := fixture(t)
	h := dns.NewHandler(z, dns.Options{TransferTo: loopback})
	addr := startHandler(t, h)
	settle(z)
	serial := z.Snapshot().Serial()
	ixfr := func(have uint32) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetIxfr("cluster.local.", have, "ns.dns.cluster.local.", "hostmaster.cluster.local.")
		return m
	}

	// Current: the SOA alone says so.
	c := &mdns.Client{Net: "tcp"}
	r, _, err := c.Exchange(ixfr(serial), addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 1 || r.Answer[0].(*mdns.SOA).Serial != serial || !r.Authoritative {
		t.Errorf("IXFR at the current serial: %v", r)
	}

	// Older: the whole zone, in AXFR form.
	rrs, _, err := axfr(t, addr, ixfr(serial-1))
	if err != nil {
		t.Fatal(err)
	}
	full, _, _ := axfr(t, addr, axfrQuery("cluster.local."))
	if len(rrs) != len(full) || len(full) < 20 {
		t.Errorf("IXFR from an older serial: %d records; AXFR %d", len(rrs), len(full))
	}

	// Without the client's SOA: FORMERR (RFC 1995 3).
	bare := new(mdns.Msg)
	bare.SetQuestion("cluster.local.", mdns.TypeIXFR)
	if r, _, err := c.Exchange(bare, addr); err != nil || r.Rcode != mdns.RcodeFormatError {
		t.Errorf("IXFR without an SOA: %v, %v", r, err)
	}

	// Over UDP, whatever the serial: the SOA, telling the client to use TCP
	// (RFC 1995 4).
	u := &mdns.Client{Net: "udp"}
	for _, have := range []uint32{serial, serial - 1} {
		r, _, err := u.Exchange(ixfr(have), addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != mdns.TypeSOA || r.Rcode != mdns.RcodeSuccess {
			t.Errorf("IXFR over UDP from %d: %v", have, r)
		}
	}

	// A change moves the serial, and the IXFR from the old one gets the change.
	if err := z.UpsertService(clusterIP("default", "new", nil, "10.96.9.9")); err != nil {
		t.Fatal(err)
	}
	settle(z)
	rrs, _, err = axfr(t, addr, ixfr(serial))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rrs, func(rr mdns.RR) bool { return rr.Header().Name == "new.default.svc.cluster.local." }) {
		t.Errorf("IXFR after a change lacks it (%d records)", len(rrs))
	}
}

func TestTransferRefused(t *testing.T) {
	z := fixture(t)
	zones := []string{"cluster.local", "in-addr.arpa"}
	open := startHandler(t, dns.NewHandler(z, dns.Options{Zones: zones}))
	elsewhere := startHandler(t, dns.NewHandler(z, dns.Options{Zones: zones,
		TransferTo: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}))
	allowed := startHandler(t, dns.NewHandler(z, dns.Options{Zones: zones, TransferTo: loopback}))
	signed := axfrQuery("cluster.local.")
	signed.SetTsig("key.", mdns.HmacSHA256, 300, time.Now().Unix())
	for _, tt := range []struct {
		name, addr, net string
		q               *mdns.Msg
		rcode           int
	}{
		{"no TransferTo", open, "tcp", axfrQuery("cluster.local."), mdns.RcodeRefused},
		{"client not in TransferTo", elsewhere, "tcp", axfrQuery("cluster.local."), mdns.RcodeRefused},
		{"AXFR over UDP", allowed, "udp", axfrQuery("cluster.local."), mdns.RcodeRefused},
		{"not a zone apex", allowed, "tcp", axfrQuery("default.svc.cluster.local."), mdns.RcodeRefused},
		{"reverse zone", allowed, "tcp", axfrQuery("in-addr.arpa."), mdns.RcodeRefused},
		{"outside the zones", allowed, "tcp", axfrQuery("example.com."), mdns.RcodeRefused},
		{"TSIG", allowed, "tcp", signed, mdns.RcodeNotAuth}, // with BADKEY: TestTSIGBadKey
	} {
		t.Run(tt.name, func(t *testing.T) {
			pkt, err := tt.q.Pack()
			if err != nil {
				t.Fatal(err)
			}
			b := rawExchange(t, tt.net, tt.addr, pkt, 2*time.Second)
			if b == nil {
				t.Fatal("no reply")
			}
			r := unpack(t, b)
			if r.Rcode != tt.rcode || len(r.Answer) != 0 {
				t.Errorf("rcode %s, %d answers; want %s", mdns.RcodeToString[r.Rcode], len(r.Answer), mdns.RcodeToString[tt.rcode])
			}
		})
	}
}

// TestTransferSeesOneSnapshot: writes during a transfer do not show in it.
// Services churn-0, churn-1, ... are added in order while the zone goes
// out, so one snapshot holds churn-0 to churn-k for some k; a transfer that
// read the zone as it went (a name here, the next in a later state) would
// hold a later churn Service without an earlier one, since names go out in
// no particular order.
func TestTransferSeesOneSnapshot(t *testing.T) {
	z := zone.New()
	sized(t, z, "big", 3000, 44)
	addr := startHandler(t, dns.NewHandler(z, dns.Options{TransferTo: loopback}))
	done, stop := make(chan struct{}), make(chan struct{})
	added := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			if err := z.UpsertService(clusterIP("default", fmt.Sprintf("churn-%d", i), nil, "10.96.8.1")); err != nil {
				t.Error(err)
				return
			}
			if i == 20 {
				close(added) // churning: the transfer starts now
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	<-added
	rrs, _, err := axfr(t, addr, axfrQuery("cluster.local."))
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	churn := 0
	for _, rr := range rrs {
		if strings.HasPrefix(rr.Header().Name, "churn-") {
			churn++
		}
	}
	serial := rrs[0].(*mdns.SOA).Serial
	if churn < 20 {
		t.Fatalf("the transfer holds %d churn Services; at least 20 were added before it", churn)
	}
	for i := range churn {
		if !slices.ContainsFunc(rrs, func(rr mdns.RR) bool {
			return rr.Header().Name == fmt.Sprintf("churn-%d.default.svc.cluster.local.", i)
		}) {
			t.Fatalf("transfer at serial %d holds %d churn Services but not churn-%d", serial, churn, i)
		}
	}
}
