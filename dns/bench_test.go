package dns

import (
	"testing"

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
