package dns

import (
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// BenchmarkFastPath is the UDP hot path: parse, look up, encode, from bytes
// to bytes (no socket). It must report 0 allocs/op.
func BenchmarkFastPath(b *testing.B) {
	// Pod records on, as slicedns runs by default.
	h := NewHandler(wireFixture(b, 10), Options{PodRecords: true})
	for _, c := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"service-A", "db.default.svc.cluster.local.", mdns.TypeA},
		{"pod-A", "db-3.db.default.svc.cluster.local.", mdns.TypeA},
		{"SRV", "_cql._tcp.db.default.svc.cluster.local.", mdns.TypeSRV},
		{"NXDOMAIN", "nope.db.default.svc.cluster.local.", mdns.TypeA},
		{"pod-record-A", "10-42-0-12.default.pod.cluster.local.", mdns.TypeA},
	} {
		req := new(mdns.Msg)
		req.SetQuestion(c.qname, c.qtype)
		wire, _ := req.Pack()
		out := make([]byte, 0, mdns.MaxMsgSize)
		var q wireQuery
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !parseQuery(wire, &q) {
					b.Fatal("not parsed")
				}
				if _, _, ok := h.fastAnswerGuarded(wire, &q, out); !ok {
					b.Fatal("not on the fast path")
				}
			}
		})
	}
}

// BenchmarkGeneralPath is the same questions through miekg/dns: unpack,
// Answer, fit, pack. The ratio to BenchmarkFastPath is what the fast path buys.
func BenchmarkGeneralPath(b *testing.B) {
	h := NewHandler(wireFixture(b, 10), Options{PodRecords: true})
	for _, c := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"service-A", "db.default.svc.cluster.local.", mdns.TypeA},
		{"SRV", "_cql._tcp.db.default.svc.cluster.local.", mdns.TypeSRV},
		{"pod-record-A", "10-42-0-12.default.pod.cluster.local.", mdns.TypeA},
	} {
		req := new(mdns.Msg)
		req.SetQuestion(c.qname, c.qtype)
		wire, _ := req.Pack()
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m := new(mdns.Msg)
				if err := m.Unpack(wire); err != nil {
					b.Fatal(err)
				}
				resp := h.Answer(m)
				fit(resp, m, false)
				if _, err := resp.Pack(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkServeUDP is the batched UDP loop over loopback, a client
// sending udpBurst fast-path queries at once and reading their answers.
// Bound to 127.0.0.1 the answers carry no control message; on 0.0.0.0 each
// query's destination is read and its answer sent from it
// (udp_pktinfo_linux.go): the ratio of the two is what that costs.
func BenchmarkServeUDP(b *testing.B) {
	const udpBurst = 16
	for _, c := range []struct{ name, addr string }{{"bound", "127.0.0.1:0"}, {"wildcard", "0.0.0.0:0"}} {
		b.Run(c.name, func(b *testing.B) {
			conns, err := listenUDP(c.addr, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer conns[0].Close()
			go serveUDP(conns[0], NewHandler(wireFixture(b, 10), Options{}), &slowQueries{max: defaultMaxSlowQueries})
			port := conns[0].LocalAddr().(*net.UDPAddr).Port
			client, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			req := new(mdns.Msg)
			req.SetQuestion("db.default.svc.cluster.local.", mdns.TypeA)
			wire, _ := req.Pack()
			buf := make([]byte, 4096)
			b.ReportAllocs()
			for b.Loop() {
				for range udpBurst {
					client.Write(wire)
				}
				client.SetReadDeadline(time.Now().Add(2 * time.Second))
				for range udpBurst {
					if _, err := client.Read(buf); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*udpBurst), "ns/query")
		})
	}
}
