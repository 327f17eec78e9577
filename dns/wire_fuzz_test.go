package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
)

// FuzzFastPath feeds raw packets to the UDP fast path, which parses bytes
// straight off the socket with no recover above it. It must not panic, and
// whatever it answers must be what the general path answers: the same
// packet unpacked by miekg/dns, answered by Answer and fitted for UDP.
// Run with a count, as for FuzzHandler:
//
//	go test -run ^$ -fuzz FuzzFastPath -fuzztime 600000x ./dns
func FuzzFastPath(f *testing.F) {
	h := NewHandler(wireFixture(f, 40), Options{Zones: []string{"cluster.local", "example.org"}})
	for _, c := range []struct {
		name  string
		qtype uint16
		edns  uint16
	}{
		{"db.default.svc.cluster.local.", mdns.TypeA, 0},
		{"DB-0.db.default.svc.Example.Org.", mdns.TypeAAAA, 1232},
		{"_cql._tcp.db.default.svc.cluster.local.", mdns.TypeSRV, 0},
		{"_cql._tcp.db.default.svc.cluster.local.", mdns.TypeSRV, 4096},
		{"_http._tcp.web.default.svc.cluster.local.", mdns.TypeSRV, 512},
		{"nope.default.svc.cluster.local.", mdns.TypeA, 0},
		{"ext.default.svc.cluster.local.", mdns.TypeA, 0},
	} {
		m := new(mdns.Msg)
		m.SetQuestion(c.name, c.qtype)
		if c.edns > 0 {
			m.SetEdns0(c.edns, false)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}

	out := make([]byte, 0, mdns.MaxMsgSize)
	f.Fuzz(func(t *testing.T, b []byte) {
		var q wireQuery
		if !parseQuery(b, &q) {
			return
		}
		fast, _, ok := h.fastAnswer(b, &q, out)
		if !ok {
			return
		}
		req := new(mdns.Msg)
		if err := req.Unpack(b); err != nil {
			t.Fatalf("fast path answered a packet miekg/dns rejects (%v): %x", err, b)
		}
		got := new(mdns.Msg)
		if err := got.Unpack(fast); err != nil {
			t.Fatalf("fast answer does not unpack: %v", err)
		}
		limit := mdns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > limit {
			limit = int(opt.UDPSize())
		}
		if len(fast) > limit {
			t.Errorf("fast answer of %d bytes, client's limit %d", len(fast), limit)
		}
		want := h.Answer(req)
		fit(want, req, false)
		wb, err := want.Pack()
		if err != nil {
			t.Fatal(err)
		}
		wantU := new(mdns.Msg)
		if err := wantU.Unpack(wb); err != nil {
			t.Fatal(err)
		}
		if got.String() != wantU.String() {
			t.Errorf("fast and general paths differ for %x:\nfast:\n%s\ngeneral:\n%s", b, got, wantU)
		}
	})
}
