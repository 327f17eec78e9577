package dns_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slicedns/slicedns/dns"
)

// rcodeLabels are the rcode label values of slicedns_dns_responses_total in reg.
func rcodeLabels(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		if f.GetName() != "slicedns_dns_responses_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "rcode" {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestResponseRcodes: the rcodes slicedns answers itself are there from
// the start, rcode 16 as BADVERS (what slicedns sends; mdns calls it
// BADSIG, a TSIG error it never sends); others appear once an upstream's
// answer carries one, under the name they always had.
func TestResponseRcodes(t *testing.T) {
	reg := prometheus.NewRegistry()
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		w.WriteMsg(m.SetRcode(r, mdns.RcodeYXDomain))
	})
	h := dns.NewHandler(fixture(t), dns.Options{Metrics: dns.NewMetrics(reg),
		Forwarder: newForwarder(t, nil, 2*time.Second, up.addr)})
	own := []string{"BADVERS", "FORMERR", "NOERROR", "NOTAUTH", "NOTIMP", "NXDOMAIN", "REFUSED", "SERVFAIL"}
	if got := rcodeLabels(t, reg); !slices.Equal(got, own) {
		t.Fatalf("rcodes before any query: %v, want %v", got, own)
	}
	version1 := query("my-db.default.svc.cluster.local.", mdns.TypeA)
	version1.SetEdns0(1232, false)
	version1.IsEdns0().SetVersion(1)
	for _, c := range []struct {
		name  string
		q     *mdns.Msg
		label string
	}{
		{"EDNS version 1", version1, "BADVERS"},
		{"upstream's YXDOMAIN", query("taken.example.org.", mdns.TypeA), "YXDOMAIN"},
		{"answer", query("my-db.default.svc.cluster.local.", mdns.TypeA), "NOERROR"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := labelled(t, reg, "slicedns_dns_responses_total", "rcode", c.label)
			if r := serve(h, c.q, false); r == nil || rcodeName(r) != c.label {
				t.Fatalf("answer %v, want %s", r, c.label)
			}
			if got := labelled(t, reg, "slicedns_dns_responses_total", "rcode", c.label); got != before+1 {
				t.Errorf("%s counted %v times, want %v", c.label, got, before+1)
			}
		})
	}
	if got := labelled(t, reg, "slicedns_dns_responses_total", "rcode", "BADSIG"); got != 0 {
		t.Errorf("BADSIG counted %v times", got)
	}
	if got, want := rcodeLabels(t, reg), append(own, "YXDOMAIN"); !slices.Equal(got, want) {
		t.Errorf("rcodes after the queries: %v, want %v", got, want)
	}
}

// rcodeName is r's rcode as the table of an EDNS version test names it.
func rcodeName(r *mdns.Msg) string {
	if r.Rcode == mdns.RcodeBadVers {
		return "BADVERS"
	}
	return mdns.RcodeToString[r.Rcode]
}

// TestResponseRcodesUnnamed: an upstream's extended rcode can be any of
// 4,096 numbers. Each is counted, under "other": not dropped (responses
// would no longer add up to requests), and not a series per number.
func TestResponseRcodesUnnamed(t *testing.T) {
	reg := prometheus.NewRegistry()
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetRcode(r, 100+len(r.Question[0].Name))
		m.SetEdns0(1232, false) // the rcode's upper bits travel in the OPT
		w.WriteMsg(m)
	})
	h := dns.NewHandler(fixture(t), dns.Options{Metrics: dns.NewMetrics(reg),
		Forwarder: newForwarder(t, nil, 2*time.Second, up.addr)})
	for _, name := range []string{"a.example.org.", "bb.example.org.", "ccc.example.org."} {
		if r := serve(h, query(name, mdns.TypeA), false); r == nil || r.Rcode < 100 {
			t.Fatalf("%s: answer %v, want the upstream's extended rcode", name, r)
		}
	}
	if got := labelled(t, reg, "slicedns_dns_responses_total", "rcode", "other"); got != 3 {
		t.Errorf("%v responses counted as other, want 3", got)
	}
	if got := rcodeLabels(t, reg); slices.ContainsFunc(got, func(l string) bool { _, err := strconv.Atoi(l); return err == nil }) {
		t.Errorf("rcode labels %v: a series per number", got)
	}
}
