package dns_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

// noAddr is a ResponseWriter of a server that gives no client address.
type noAddr struct{ recorder }

func (noAddr) RemoteAddr() net.Addr { return nil }

// TestHandlerNilInputs: what an embedding program may hand the handler by
// mistake or by design gets an answer, never a panic.
func TestHandlerNilInputs(t *testing.T) {
	func() {
		defer func() {
			if v := recover(); v == nil || !strings.Contains(v.(string), "nil Source") {
				t.Errorf("NewHandler(nil) recovered %v, want a panic naming the nil Source", v)
			}
		}()
		dns.NewHandler(nil, dns.Options{})
	}()

	// A source with nothing loaded yet: SERVFAIL on every path, as before
	// the first sync.
	empty := dns.SourceFunc(func() *zone.Snapshot { return nil })
	h := dns.NewHandler(empty, dns.Options{LogQueries: true, TransferTo: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	for _, qtype := range []uint16{mdns.TypeA, mdns.TypeSRV, mdns.TypePTR, mdns.TypeAXFR} {
		if r := h.Answer(query("my-db.default.svc.cluster.local.", qtype)); r == nil || r.Rcode != mdns.RcodeServerFailure {
			t.Errorf("%s from a nil snapshot: %v", mdns.TypeToString[qtype], r)
		}
	}
	if r := serve(h, query("cluster.local.", mdns.TypeAXFR), true); r == nil || r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("a transfer from a nil snapshot: %v", r)
	}
	if x := h.Explain("my-db.default.svc.cluster.local"); len(x.Notes) == 0 || !strings.Contains(x.Notes[0], "SERVFAIL") {
		t.Errorf("Explain from a nil snapshot: %+v", x)
	}
	addr := startHandler(t, dns.NewHandler(empty, dns.Options{}))
	c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
	if r, _, err := c.Exchange(query("my-db.default.svc.cluster.local.", mdns.TypeA), addr); err != nil || r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("over UDP from a nil snapshot: %v, %v", r, err)
	}

	h = dns.NewHandler(fixture(t), dns.Options{LogQueries: true})
	if r := h.Answer(nil); r != nil {
		t.Errorf("Answer(nil) = %v", r)
	}
	h.ServeDNS(&recorder{}, nil)
	w := &noAddr{}
	h.ServeDNS(w, query("my-db.default.svc.cluster.local.", mdns.TypeA))
	if w.msg == nil || len(w.msg.Answer) != 2 {
		t.Errorf("a writer without an address got %v", w.msg)
	}
}

// TestTSIGBadKey: slicedns has no TSIG keys, so a signed query gets NOTAUTH
// with TSIG error BADKEY, unsigned (RFC 8945 5.2.2), over both transports.
func TestTSIGBadKey(t *testing.T) {
	addr := startHandler(t, dns.NewHandler(fixture(t), dns.Options{}))
	for _, network := range []string{"udp", "tcp"} {
		q := query("my-db.default.svc.cluster.local.", mdns.TypeA)
		q.SetEdns0(1232, false)
		q.SetTsig("key.example.", mdns.HmacSHA256, 300, time.Now().Unix())
		r := unpack(t, rawExchange(t, network, addr, dns.MustPack(t, q), 2*time.Second))
		tsig := r.IsTsig()
		if r.Rcode != mdns.RcodeNotAuth || tsig == nil || tsig.Error != mdns.RcodeBadKey || tsig.MAC != "" ||
			tsig.Hdr.Name != "key.example." || len(r.Answer) != 0 || r.IsEdns0() == nil {
			t.Errorf("%s: %v", network, r)
		}
	}
}
