package dns

import (
	"encoding/hex"
	"testing"

	mdns "github.com/miekg/dns"
)

// nsidOf returns the NSID in resp's OPT, decoded, and whether there is one.
func nsidOf(resp *mdns.Msg) (string, bool) {
	if opt := resp.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if n, ok := o.(*mdns.EDNS0_NSID); ok {
				b, err := hex.DecodeString(n.Nsid)
				return string(b), err == nil
			}
		}
	}
	return "", false
}

func nsidQuery(name string, qtype uint16, ask bool) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	if ask {
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID})
	}
	return m
}

// TestNSID: a query that asks for the NSID gets the server's, on every path
// and rcode; one that does not ask, or a server without one, gets none.
func TestNSID(t *testing.T) {
	z := wireFixture(t, 3)
	named := NewHandler(z, Options{NSID: "slicedns-7d9f-x2"})
	anon := NewHandler(z, Options{})
	for _, tc := range []struct {
		name  string
		qtype uint16
	}{
		{"db.default.svc.cluster.local.", mdns.TypeA},   // fast path when not asked
		{"nope.default.svc.cluster.local.", mdns.TypeA}, // NXDOMAIN
		{"cluster.local.", mdns.TypeSOA},                // general path only
		{"example.com.", mdns.TypeA},                    // REFUSED
	} {
		for _, h := range []*Handler{named, anon} {
			for _, ask := range []bool{true, false} {
				req := nsidQuery(tc.name, tc.qtype, ask)
				got, has := nsidOf(generalAnswer(h, req))
				if want := ask && h == named; has != want || (want && got != "slicedns-7d9f-x2") {
					t.Errorf("%s %s named=%v ask=%v: NSID %q, present %v", tc.name, mdns.TypeToString[tc.qtype], h == named, ask, got, has)
				}
				wire := mustPack(t, req)
				var q wireQuery
				if !parseQuery(wire, &q) || q.nsid != ask {
					t.Fatalf("%s: parsed %v, nsid %v; want nsid %v", tc.name, parseQuery(wire, &q), q.nsid, ask)
				}
				// The fast path leaves only the queries that want an NSID
				// it does not add.
				if _, _, ok := h.fastAnswer(wire, &q, nil); ok && ask && h == named {
					t.Errorf("%s: the fast path answered a query for the NSID", tc.name)
				}
			}
		}
	}
}

// TestParseQueryOptions: options are walked, and a malformed one sends the
// query to the general path.
func TestParseQueryOptions(t *testing.T) {
	req := nsidQuery("db.default.svc.cluster.local.", mdns.TypeA, false)
	opt := req.IsEdns0()
	opt.Option = append(opt.Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"},
		&mdns.EDNS0_NSID{Code: mdns.EDNS0NSID})
	wire := mustPack(t, req)
	var q wireQuery
	if !parseQuery(wire, &q) || !q.nsid {
		t.Fatalf("NSID after a cookie: parsed %v, nsid %v", parseQuery(wire, &q), q.nsid)
	}
	// Cut the last option's length field short of its data.
	bad := append([]byte(nil), wire...)
	bad[len(bad)-1] = 9 // the NSID option's length, which has no data
	if parseQuery(bad, &q) {
		t.Error("an option longer than the OPT record was accepted")
	}
}

func mustPack(t *testing.T, m *mdns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
