package dns_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

// sized adds headless Service <name> with n ready endpoints pod-<i> and a
// port named http.
func sized(t testing.TB, z *zone.Zone, name string, n int, net byte) {
	t.Helper()
	var eps []zone.Endpoint
	for i := range n {
		eps = append(eps, ep(fmt.Sprintf("pod-%d", i), true, fmt.Sprintf("10.%d.%d.%d", net, i/250, i%250+1)))
	}
	for _, err := range []error{
		z.UpsertService(headless("default", name)),
		z.UpsertSlice(slice("default", name+"-1", name, zone.IPv4, []zone.Port{port("http", "TCP", 80)}, eps...)),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// startServer serves a 300-endpoint "big", a 19-endpoint "mid" (its SRV
// answer fits 1232 bytes, not with the additional section) and a
// 5-endpoint "small" Service on 127.0.0.1 and stops the server after the test.
func startServer(t *testing.T) string {
	t.Helper()
	return startHandler(t, dns.NewHandler(serverZone(t), dns.Options{}))
}

// serverZone is startServer's zone.
func serverZone(t *testing.T) *zone.Zone {
	t.Helper()
	z := zone.New()
	sized(t, z, "big", 300, 44)
	sized(t, z, "mid", 19, 45)
	sized(t, z, "small", 5, 46)
	return z
}

// startHandler serves h on 127.0.0.1 and stops the server after the test.
func startHandler(t *testing.T, h mdns.Handler) string {
	t.Helper()
	return startHandlerAt(t, "127.0.0.1:0", h)
}

// startHandlerAt serves h on addr and stops the server after the test.
func startHandlerAt(t *testing.T, addr string, h mdns.Handler) string {
	t.Helper()
	srv := &dns.Server{Addr: addr, Handler: h, ReadTimeout: time.Second}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	addr = srv.LocalAddr().String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return addr
}

// rawExchange sends pkt as it is and returns the reply, or nil when none
// comes within wait.
func rawExchange(t *testing.T, network, addr string, pkt []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if network == "tcp" {
		pkt = append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...) // RFC 1035 4.2.2
	}
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	if network == "udp" {
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if err != nil {
			return nil
		}
		return buf[:n]
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("short TCP reply: %v", err)
	}
	return buf
}

func unpack(t *testing.T, b []byte) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	return m
}

func TestServerSizes(t *testing.T) {
	addr := startServer(t)
	const big = "big.default.svc.cluster.local."
	withEDNS := func(m *mdns.Msg, size uint16) *mdns.Msg { m.SetEdns0(size, false); return m }
	tests := []struct {
		name    string
		network string
		q       *mdns.Msg
		limit   int
		tc      bool
		answer  int // records in the answer; -1: any number, as long as some
		extra   int // additional records besides OPT
	}{
		{"A over UDP without EDNS", "udp", query(big, mdns.TypeA), 512, true, -1, 0},
		{"A over UDP, EDNS 1232", "udp", withEDNS(query(big, mdns.TypeA), 1232), 1232, true, -1, 0},
		{"A over UDP, EDNS 256 counts as 512", "udp", withEDNS(query(big, mdns.TypeA), 256), 512, true, -1, 0},
		{"A over TCP", "tcp", query(big, mdns.TypeA), 65535, false, 300, 0},
		{"SRV over TCP", "tcp", query("_http._tcp."+big, mdns.TypeSRV), 65535, false, 300, 300},
		{"SRV over UDP, EDNS 1232", "udp", withEDNS(query("_http._tcp."+big, mdns.TypeSRV), 1232), 1232, true, -1, 0},
		// The answer fits, the additional section does not: it goes, silently.
		{"mid SRV over UDP, EDNS 1232", "udp", withEDNS(query("_http._tcp.mid.default.svc.cluster.local.", mdns.TypeSRV), 1232), 1232, false, 19, 0},
		{"mid SRV over UDP without EDNS", "udp", query("_http._tcp.mid.default.svc.cluster.local.", mdns.TypeSRV), 512, true, -1, 0},
		{"small SRV over UDP, EDNS 1232", "udp", withEDNS(query("_http._tcp.small.default.svc.cluster.local.", mdns.TypeSRV), 1232), 1232, false, 5, 5},
		{"small SRV over UDP without EDNS", "udp", query("_http._tcp.small.default.svc.cluster.local.", mdns.TypeSRV), 512, false, 5, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawExchange(t, tc.network, addr, dns.MustPack(t, tc.q), 2*time.Second)
			if raw == nil {
				t.Fatal("no reply")
			}
			if len(raw) > tc.limit {
				t.Errorf("reply is %d bytes, limit %d", len(raw), tc.limit)
			}
			m := unpack(t, raw)
			if m.Rcode != mdns.RcodeSuccess || m.Truncated != tc.tc {
				t.Errorf("rcode %s, TC %v; want NOERROR, TC %v", mdns.RcodeToString[m.Rcode], m.Truncated, tc.tc)
			}
			// A truncated reply still carries the records that fit.
			if tc.answer >= 0 && len(m.Answer) != tc.answer || tc.answer < 0 && len(m.Answer) == 0 {
				t.Errorf("%d answer records, want %d", len(m.Answer), tc.answer)
			}
			if got := len(section(m.Extra)); got != tc.extra {
				t.Errorf("%d additional records, want %d", got, tc.extra)
			}
			if (tc.q.IsEdns0() != nil) != (m.IsEdns0() != nil) {
				t.Errorf("OPT in query %v, in reply %v", tc.q.IsEdns0() != nil, m.IsEdns0() != nil)
			}
		})
	}
}

// TestServerClient goes through the miekg/dns client the way resolvers do:
// a truncated UDP answer, then the retry over TCP.
func TestServerClient(t *testing.T) {
	addr := startServer(t)
	q := query("_http._tcp.big.default.svc.cluster.local.", mdns.TypeSRV)
	udp := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
	r, _, err := udp.Exchange(q, addr)
	if err != nil || !r.Truncated {
		t.Fatalf("UDP: TC %v, err %v", r != nil && r.Truncated, err)
	}
	tcp := &mdns.Client{Net: "tcp", Timeout: 2 * time.Second}
	r, _, err = tcp.Exchange(q, addr)
	if err != nil || r.Truncated || len(r.Answer) != 300 || len(r.Extra) != 300 {
		t.Fatalf("TCP: err %v, %+v", err, r.MsgHdr)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*mdns.Msg)
		rcode int
	}{
		{"EDNS version 1", func(m *mdns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }, mdns.RcodeBadVers},
		{"two OPT records", func(m *mdns.Msg) { // RFC 6891 6.1.1
			m.SetEdns0(1232, false)
			m.Extra = append(m.Extra, &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT, Class: 512}})
		}, mdns.RcodeFormatError},
		{"opcode NOTIFY", func(m *mdns.Msg) { m.Opcode = mdns.OpcodeNotify }, mdns.RcodeNotImplemented},
		{"opcode STATUS", func(m *mdns.Msg) { m.Opcode = mdns.OpcodeStatus }, mdns.RcodeNotImplemented},
		{"AXFR", func(m *mdns.Msg) { m.Question[0].Qtype = mdns.TypeAXFR }, mdns.RcodeRefused},
		{"outside the zone", func(m *mdns.Msg) { m.Question[0].Name = "example.com." }, mdns.RcodeRefused},
		{"NXDOMAIN", func(m *mdns.Msg) { m.Question[0].Name = "nope.default.svc.cluster.local." }, mdns.RcodeNameError},
	} {
		for _, c := range []*mdns.Client{udp, tcp} {
			t.Run(tc.name+"/"+c.Net, func(t *testing.T) {
				q := query("small.default.svc.cluster.local.", mdns.TypeA)
				tc.edit(q)
				r, _, err := c.Exchange(q, addr)
				if err != nil || r.Rcode != tc.rcode {
					t.Fatalf("rcode %v, err %v; want %s", r, err, mdns.RcodeToString[tc.rcode])
				}
			})
		}
	}
}

// header is a DNS header: id 0xBEEF, a query, with the given section counts.
func header(qd, an, ns, ar uint16) []byte {
	b := []byte{0xBE, 0xEF, 0x01, 0x00}
	for _, n := range []uint16{qd, an, ns, ar} {
		b = binary.BigEndian.AppendUint16(b, n)
	}
	return b
}

var question = []byte("\x05small\x07default\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01")

func malformed() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[2] &^= 0xF8 // a QUERY that is not a response, so it is not simply ignored
	manyLabels := header(1, 0, 0, 0)
	for range 200 {
		manyLabels = append(manyLabels, 1, 'a')
	}
	return map[string][]byte{
		"random bytes":         random,
		"a few bytes":          {0xBE},
		"truncated header":     header(1, 0, 0, 0)[:7],
		"five questions, one":  append(header(5, 0, 0, 0), question...),
		"no question":          header(0, 0, 0, 0),
		"question cut short":   append(header(1, 0, 0, 0), question[:9]...),
		"compression loop":     append(header(1, 0, 0, 0), 0xC0, 0x0C, 0, 1, 0, 1),
		"pointer past the end": append(header(1, 0, 0, 0), 0xC0, 0xFF, 0, 1, 0, 1),
		"200 labels":           append(manyLabels, 0, 0, 1, 0, 1),
		"reserved label type":  append(header(1, 0, 0, 0), 0x41, 'a', 0, 0, 1, 0, 1),
		"bad OPT":              append(append(header(1, 0, 0, 1), question...), 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 9),
	}
}

func TestServerMalformed(t *testing.T) {
	addr := startServer(t)
	ok := dns.MustPack(t, query("small.default.svc.cluster.local.", mdns.TypeA))
	for name, pkt := range malformed() {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(name+"/"+network, func(t *testing.T) {
				if r := rawExchange(t, network, addr, pkt, 300*time.Millisecond); r != nil {
					if len(r) < 12 || r[0] != pkt[0] || r[1] != pkt[1] || r[2]&0x80 == 0 || r[3]&0x0F != mdns.RcodeFormatError {
						t.Errorf("reply %x is not a FORMERR for the query", r[:min(len(r), 12)])
					}
				}
				r := rawExchange(t, network, addr, ok, 2*time.Second)
				if r == nil || len(unpack(t, r).Answer) != 5 {
					t.Fatal("no answer to a good query after a malformed one")
				}
			})
		}
	}
}

// A response sent to the server must not be answered: that would let two
// servers bounce packets between themselves.
func TestServerIgnoresResponses(t *testing.T) {
	addr := startServer(t)
	m := query("small.default.svc.cluster.local.", mdns.TypeA)
	m.Response = true
	for _, network := range []string{"udp", "tcp"} {
		if r := rawExchange(t, network, addr, dns.MustPack(t, m), 300*time.Millisecond); r != nil {
			t.Errorf("%s: answered a response: %x", network, r)
		}
	}
}

func TestServerShutdown(t *testing.T) {
	for i := range 20 {
		srv := &dns.Server{Addr: "127.0.0.1:0", Handler: dns.NewHandler(zone.New(), dns.Options{})}
		if err := srv.Listen(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve() }()
		if i%2 == 1 {
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := srv.Shutdown(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve after Shutdown: %v", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d: Serve still running after Shutdown", i)
		}
	}
}

func TestServerWithoutHandler(t *testing.T) {
	srv := &dns.Server{Addr: "127.0.0.1:0"}
	if err := srv.Listen(); err == nil {
		srv.Shutdown(context.Background())
		t.Fatal("Listen accepted a Server without a Handler")
	}
}

// TestServerListensOnce: a second Listen would bind sockets that Shutdown
// does not close, and serve on after it.
func TestServerListensOnce(t *testing.T) {
	srv := &dns.Server{Addr: "127.0.0.1:0", Handler: dns.NewHandler(zone.New(), dns.Options{})}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	if err := srv.Listen(); err == nil {
		t.Error("a second Listen succeeded")
	}
	srv.Shutdown(context.Background())
	if err := srv.Listen(); err == nil {
		srv.Shutdown(context.Background())
		t.Error("Listen after Shutdown succeeded")
	}
}

// labelled is the value of counter name{label="value"}, a metric of that
// one label, in reg; 0 if absent.
func labelled(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	v, _ := sample(t, reg, name, map[string]string{label: value})
	return v
}

// TestServerCountsWhatItRefuses: replies written before any handler sees
// the query (FORMERR for a packet that does not unpack, over UDP and TCP)
// are counted like every other, as are NOTIMPs for another opcode.
func TestServerCountsWhatItRefuses(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := &dns.Server{Addr: "127.0.0.1:0", Handler: dns.NewHandler(fixture(t), dns.Options{Metrics: dns.NewMetrics(reg)})}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	addr := srv.LocalAddr().String()
	notify := query("small.default.svc.cluster.local.", mdns.TypeSOA)
	notify.Opcode = mdns.OpcodeNotify
	replies := map[string]float64{}
	for _, network := range []string{"udp", "tcp"} {
		for _, pkt := range append(slices.Collect(maps.Values(malformed())), dns.MustPack(t, notify)) {
			if r := rawExchange(t, network, addr, pkt, 300*time.Millisecond); len(r) >= 12 {
				replies[mdns.RcodeToString[int(r[3]&0x0F)]]++
			}
		}
	}
	// A UDP query longer than the readers' buffer.
	long := append(append(header(1, 0, 0, 0), question...), make([]byte, 3000)...)
	if r := rawExchange(t, "udp", addr, long, 300*time.Millisecond); len(r) >= 12 {
		replies[mdns.RcodeToString[int(r[3]&0x0F)]]++
	} else {
		t.Error("no reply to a query longer than the read buffer")
	}
	if replies["FORMERR"] < 10 || replies["NOTIMP"] != 2 {
		t.Fatalf("replies %v: expected FORMERRs and two NOTIMPs", replies)
	}
	// A reply is counted once written, which the client may see first:
	// wait a little for the last ones.
	for rcode, n := range replies {
		got := labelled(t, reg, "slicedns_dns_responses_total", "rcode", rcode)
		for deadline := time.Now().Add(2 * time.Second); got < n && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			got = labelled(t, reg, "slicedns_dns_responses_total", "rcode", rcode)
		}
		if got != n {
			t.Errorf("%s: %v replies sent, %v counted", rcode, n, got)
		}
	}
}
