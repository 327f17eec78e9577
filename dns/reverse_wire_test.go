package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
)

// TestFastPathLeavesReverseAndPods: the UDP fast path knows no reverse
// zones, and of the pod names only A and AAAA at IPv4 ones, so it must hand
// the rest to the general path; with a Forwarder its answers carry RA like
// the general path's.
func TestFastPathLeavesReverseAndPods(t *testing.T) {
	f, err := NewForwarder(ForwarderOptions{Upstreams: []string{"127.0.0.1:9"}})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(wireFixture(t, 3), Options{Zones: []string{"cluster.local", "in-addr.arpa", "ip6.arpa"}, PodRecords: true, Forwarder: f})
	var q wireQuery
	pack := func(name string, qtype uint16) []byte {
		req := new(mdns.Msg)
		req.SetQuestion(name, qtype)
		wire, err := req.Pack()
		if err != nil || !parseQuery(wire, &q) {
			t.Fatalf("%s: %v", name, err)
		}
		return wire
	}
	for _, name := range []string{"1.0.96.10.in-addr.arpa.", "in-addr.arpa.", "10.in-addr.arpa.",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
		"2001-db8--1.default.pod.cluster.local.", "default.pod.cluster.local.", "pod.cluster.local."} {
		for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeSRV} {
			if _, _, ok := h.fastAnswer(pack(name, qtype), &q, nil); ok {
				t.Errorf("%s %s: answered by the fast path", name, mdns.TypeToString[qtype])
			}
		}
	}
	if _, _, ok := h.fastAnswer(pack("10-1-0-1.default.pod.cluster.local.", mdns.TypeSRV), &q, nil); ok {
		t.Error("SRV at a pod name answered by the fast path")
	}
	for _, name := range []string{"db.default.svc.cluster.local.", "nope.cluster.local.", "_cql._tcp.db.default.svc.cluster.local.",
		"10-1-0-1.default.pod.cluster.local."} {
		for _, qtype := range []uint16{mdns.TypeA, mdns.TypeSRV} {
			if qtype == mdns.TypeSRV && name == "10-1-0-1.default.pod.cluster.local." {
				continue // checked above
			}
			wire := pack(name, qtype)
			fast, _, ok := h.fastAnswer(wire, &q, nil)
			if !ok {
				t.Fatalf("%s: not on the fast path", name)
			}
			got := new(mdns.Msg)
			if err := got.Unpack(fast); err != nil {
				t.Fatal(err)
			}
			req := new(mdns.Msg)
			req.Unpack(wire)
			want := h.Answer(req)
			if !got.RecursionAvailable || got.String() != want.String() {
				t.Errorf("%s %s:\nfast:\n%s\ngeneral:\n%s", name, mdns.TypeToString[qtype], got, want)
			}
		}
	}
}
