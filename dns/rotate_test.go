package dns

import (
	"slices"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/zone"
)

// idQuery is a query for name and qtype with the ID id.
func idQuery(name string, qtype uint16, id int) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = uint16(id)
	return m
}

// answerAddrs returns the addresses of resp's A and AAAA answers, in order.
func answerAddrs(resp *mdns.Msg) []string {
	var out []string
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *mdns.A:
			out = append(out, rr.A.String())
		case *mdns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	return out
}

// bothPaths answers req over UDP on the fast path and on the general path.
func bothPaths(t *testing.T, h *Handler, req *mdns.Msg) (fast, general *mdns.Msg) {
	t.Helper()
	wire := mustPack(t, req)
	var q wireQuery
	if !parseQuery(wire, &q) {
		t.Fatal("query not parsed")
	}
	out, _, ok := h.fastAnswer(wire, &q, nil)
	if !ok {
		t.Fatalf("%s: not answered on the fast path", req.Question[0].Name)
	}
	fast = new(mdns.Msg)
	if err := fast.Unpack(out); err != nil {
		t.Fatal(err)
	}
	return fast, generalAnswer(h, req)
}

// TestAnswersRotateByQueryID: each answer starts at the address its query's
// ID picks and wraps around, on both paths, so that over IDs every address
// comes first equally often; FixedOrder keeps the zone's order.
func TestAnswersRotateByQueryID(t *testing.T) {
	const n = 40 // more than fit in 512 bytes: truncated answers rotate too
	z := wireFixture(t, n)
	zoneOrder := answerAddrs(NewHandler(z, Options{FixedOrder: true}).Answer(idQuery("db.default.svc.cluster.local.", mdns.TypeA, 7)))
	if len(zoneOrder) != n {
		t.Fatalf("zone has %d addresses, want %d", len(zoneOrder), n)
	}
	for _, fixed := range []bool{false, true} {
		h := NewHandler(z, Options{FixedOrder: fixed})
		firsts := map[string]int{}
		for id := range 3 * n {
			for _, edns := range []uint16{0, 4096} {
				req := idQuery("db.default.svc.cluster.local.", mdns.TypeA, id)
				if edns > 0 {
					req.SetEdns0(edns, false)
				}
				fast, general := bothPaths(t, h, req)
				got := answerAddrs(fast)
				if !slices.Equal(got, answerAddrs(general)) {
					t.Fatalf("id %d edns %d: fast path %v, general path %v", id, edns, got, answerAddrs(general))
				}
				start := 0
				if !fixed {
					start = id % n
				}
				want := slices.Concat(zoneOrder[start:], zoneOrder[:start])[:len(got)]
				if len(got) == 0 || !slices.Equal(got, want) {
					t.Fatalf("fixed=%v id %d edns %d: answer %v, want the zone's order from %d: %v", fixed, id, edns, got, start, want)
				}
				if edns == 0 && !fast.Truncated {
					t.Fatalf("%d A records in 512 bytes were not truncated", len(got))
				}
				firsts[got[0]]++
			}
		}
		switch {
		case fixed && len(firsts) != 1:
			t.Errorf("FixedOrder: %d different first addresses, want 1", len(firsts))
		case !fixed:
			for _, a := range zoneOrder {
				if firsts[a] != 6 {
					t.Errorf("%s came first in %d of %d answers, want 6", a, firsts[a], 6*n)
				}
			}
		}
	}
}

// TestRotationFollowsCNAME: the addresses that an ExternalName's answer
// takes from its in-zone target rotate as the target's own do; a
// one-address answer (a ClusterIP) is the same for every ID.
func TestRotationFollowsCNAME(t *testing.T) {
	z := wireFixture(t, 4)
	if err := z.UpsertService(&zone.Service{Namespace: "default", Name: "alias", Type: zone.ExternalName,
		ExternalName: "db.default.svc.cluster.local"}); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(z, Options{})
	seen := map[string]bool{}
	for id := range 4 {
		resp := h.Answer(idQuery("alias.default.svc.cluster.local.", mdns.TypeA, id))
		addrs := answerAddrs(resp)
		if len(addrs) != 4 || len(resp.Answer) != 5 {
			t.Fatalf("id %d: answer %v, want a CNAME and 4 addresses", id, resp.Answer)
		}
		seen[addrs[0]] = true

		if got := answerAddrs(h.Answer(idQuery("web.default.svc.cluster.local.", mdns.TypeA, id))); !slices.Equal(got, []string{"10.96.0.10"}) {
			t.Errorf("id %d: ClusterIP answer %v", id, got)
		}
	}
	if len(seen) != 4 {
		t.Errorf("CNAME chase: %d different first addresses over 4 IDs, want 4", len(seen))
	}
}
