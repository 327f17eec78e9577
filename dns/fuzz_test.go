package dns_test

import (
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
)

// FuzzHandler feeds arbitrary packets through the handler. Whatever unpacks
// must get an answer (unless it is a response) that packs, and over UDP fits
// the client's limit: an answer that cannot be written leaves the client
// waiting for its timeout. Run with a count, not a duration (a duration can
// fail spuriously with "context deadline exceeded", golang/go#75804):
//
//	go test -run ^$ -fuzz FuzzHandler -fuzztime 600000x ./dns
func FuzzHandler(f *testing.F) {
	h := dns.NewHandler(fixture(f), dns.Options{Zones: []string{"cluster.local", "example.org"}})
	seed := func(name string, qtype uint16, edit func(*mdns.Msg)) {
		q := query(name, qtype)
		if edit != nil {
			edit(q)
		}
		b, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed("my-db.default.svc.cluster.local.", mdns.TypeA, nil)
	seed("_cql._tcp.my-db.default.svc.cluster.local.", mdns.TypeSRV, func(m *mdns.Msg) { m.SetEdns0(1232, false) })
	seed("_http._tcp.wide.default.svc.example.org.", mdns.TypeSRV, nil)
	seed("ext.default.svc.cluster.local.", mdns.TypeANY, nil)
	seed("cluster.local.", mdns.TypeAXFR, nil)
	seed("Dns-Version.Cluster.Local.", mdns.TypeTXT, func(m *mdns.Msg) { m.SetEdns0(512, true); m.IsEdns0().SetVersion(2) })
	seed("nope.example.org.", mdns.TypeA, func(m *mdns.Msg) { m.Opcode = mdns.OpcodeNotify })
	f.Add([]byte{0xBE, 0xEF, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1})

	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(mdns.Msg)
		if err := req.Unpack(b); err != nil {
			return // the server answers FORMERR before the handler sees it
		}
		resp := h.Answer(req)
		if resp == nil {
			if !req.Response {
				t.Fatal("no answer to a query")
			}
			return
		}
		if _, err := resp.Pack(); err != nil {
			t.Fatalf("answer does not pack: %v\n%v", err, resp)
		}
		limit := mdns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > limit {
			limit = int(opt.UDPSize())
		}
		for _, tcp := range []bool{false, true} {
			w := serve(h, req, tcp)
			out, err := w.Pack()
			if err != nil {
				t.Fatalf("tcp=%v: written answer does not pack: %v", tcp, err)
			}
			if !tcp && len(out) > limit {
				t.Fatalf("UDP answer of %d bytes, client's limit %d", len(out), limit)
			}
		}
	})
}
