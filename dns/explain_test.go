package dns_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

// explainFixture has one endpoint for every reason explain gives.
func explainFixture(t *testing.T) *zone.Zone {
	t.Helper()
	db0 := ep("my-db-0", true, "10.42.1.10")
	db0.NodeName, db0.Zone, db0.TargetRef = "node-a", "zone-a", "Pod/my-db-0"
	db2 := ep("my-db-2", false, "10.42.1.12")
	db2.Serving, db2.Terminating = true, true
	cql := []zone.Port{port("cql", "TCP", 9042), port("", "TCP", 7000)}
	db := headless("default", "my-db")
	db.Selector = "app=my-db"
	db.Ports = cql
	return newZone(t,
		db,
		slice("default", "my-db-a", "my-db", zone.IPv4, cql, db0, ep("my-db-1", false, "10.42.1.11"), db2),
		slice("default", "my-db-b", "my-db", zone.IPv4, cql, ep("", true, "10.42.1.10"), ep("", true, "10.42.1.5")),
		slice("default", "my-db-c", "my-db", zone.FQDN, cql, zone.Endpoint{Hostname: "ext-0", Ready: true}),
		clusterIP("default", "web", []zone.Port{port("http", "TCP", 80)}, "10.96.0.20"),
		slice("default", "web-1", "web", zone.IPv4, []zone.Port{port("http", "TCP", 8080)}, ep("", true, "10.42.4.20")),
		&zone.Service{Namespace: "default", Name: "payments", Type: zone.ExternalName, ExternalName: "payments.example.com"},
		headless("shop", "cart"), headless("other", "cart"),
		slice("default", "ghost-1", "ghost", zone.IPv4, nil, ep("ghost-0", true, "10.42.9.9")),
		headless("default", "cold"),
		slice("default", "cold-1", "cold", zone.IPv4, nil, ep("cold-0", false, "10.42.3.1")),
	)
}

// endpoints renders each endpoint as "slice addr served|reason".
func endpoints(e *dns.Explanation) []string {
	var out []string
	for _, s := range e.Slices {
		for _, ep := range s.Endpoints {
			state := "served"
			if !ep.Served {
				state = "excluded"
			}
			if ep.Reason != "" {
				state += ": " + ep.Reason
			}
			out = append(out, fmt.Sprintf("%s %s %s", s.Name, strings.Join(ep.Addresses, ","), state))
		}
	}
	return out
}

// queries renders each query as "TYPE RCODE ttl answer...".
func queries(e *dns.Explanation) []string {
	var out []string
	for _, q := range e.Queries {
		var data []string
		for _, rr := range q.Answer {
			f := strings.Fields(rr)
			if f[3] == "SOA" {
				f[6] = "SERIAL" // the time of the zone's last change
			}
			data = append(data, strings.Join(f[3:], " "))
		}
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %d %s", q.Type, q.Rcode, q.TTL, strings.Join(data, "; "))))
	}
	return out
}

func TestExplainReasons(t *testing.T) {
	h := dns.NewHandler(explainFixture(t), dns.Options{})
	e := h.Explain("My-DB.default.svc.cluster.local.")
	if e.Name != "My-DB.default.svc.cluster.local." || e.FQDN != "my-db.default.svc.cluster.local." || e.ParseError != "" {
		t.Errorf("name, fqdn, parse error = %q, %q, %q", e.Name, e.FQDN, e.ParseError)
	}
	if want := (dns.ParsedName{Zone: "cluster.local", Kind: "service", Namespace: "default", Service: "my-db"}); *e.Parsed != want {
		t.Errorf("parsed = %+v", *e.Parsed)
	}
	if s := e.Service; s == nil || s.Type != "Headless" || s.Selector["app"] != "my-db" || len(s.Ports) != 2 || s.Ports[0] != (dns.PortInfo{Name: "cql", Protocol: "TCP", Port: 9042}) {
		t.Errorf("service = %+v", s)
	}
	want := []string{
		"my-db-a 10.42.1.10 served",
		"my-db-a 10.42.1.11 excluded: ready: false",
		"my-db-a 10.42.1.12 excluded: ready: false (terminating)",
		"my-db-b 10.42.1.10 excluded: duplicate address: served from slice my-db-a",
		"my-db-b 10.42.1.5 served: no hostname: named 10-42-1-5",
		"my-db-c  excluded: FQDN slice: not served in DNS",
	}
	if got := endpoints(e); !slices.Equal(got, want) {
		t.Errorf("endpoints:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	db0 := e.Slices[0].Endpoints[0]
	if db0.Name != "my-db-0" || db0.Hostname != "my-db-0" || db0.Node != "node-a" || db0.Zone != "zone-a" || db0.TargetRef != "Pod/my-db-0" || !db0.Ready || !db0.Serving || db0.Terminating {
		t.Errorf("endpoint my-db-0 = %+v", db0)
	}
	if db2 := e.Slices[0].Endpoints[2]; db2.Ready || !db2.Serving || !db2.Terminating {
		t.Errorf("endpoint my-db-2 conditions = %+v", db2)
	}
	if got, want := queries(e), []string{"A NOERROR 5 A 10.42.1.10; A 10.42.1.5", "AAAA NOERROR 5"}; !slices.Equal(got, want) {
		t.Errorf("queries = %q, want %q", got, want)
	}
	if q := e.Queries[1]; len(q.Authority) != 1 || !strings.Contains(q.Authority[0], "SOA") {
		t.Errorf("NODATA authority = %q", q.Authority)
	}
}

func TestExplainNames(t *testing.T) {
	h := dns.NewHandler(explainFixture(t), dns.Options{Zones: []string{"cluster.local", "example.org"}, TTL: 30e9})
	tests := []struct {
		name       string
		kind       string // parsed kind, "" for no parsed name
		parseError string // a substring
		svcError   string
		namespaces string
		queries    []string
		note       string // a substring of one note
	}{
		{name: "my-db-0.my-db.default.svc", kind: "endpoint", queries: []string{"A NOERROR 30 A 10.42.1.10", "AAAA NOERROR 30"}},
		{name: "my-db-1.my-db.default.svc.example.org", kind: "endpoint", queries: []string{"A NXDOMAIN 30", "AAAA NXDOMAIN 30"},
			note: "my-db-1 is endpoint 10.42.1.11 in slice my-db-a, excluded: ready: false"},
		{name: "10-42-1-10.my-db.default.svc", kind: "endpoint", queries: []string{"A NXDOMAIN 30", "AAAA NXDOMAIN 30"},
			note: "whose hostname my-db-0 is its only name"},
		{name: "nope.my-db.default.svc", kind: "endpoint", queries: []string{"A NXDOMAIN 30", "AAAA NXDOMAIN 30"},
			note: "served names: my-db-0, 10-42-1-5"},
		{name: "_cql._tcp.my-db.default.svc", kind: "srv",
			queries: []string{"SRV NOERROR 30 SRV 0 50 9042 my-db-0.my-db.default.svc.cluster.local.; SRV 0 50 9042 10-42-1-5.my-db.default.svc.cluster.local."}},
		{name: "_http._tcp.my-db.default.svc", kind: "srv", queries: []string{"SRV NXDOMAIN 30"}, note: "named ports: cql/TCP"},
		{name: "_tcp.my-db.default.svc", kind: "proto", queries: []string{"A NOERROR 30"}},
		{name: "web.default.svc", kind: "service", queries: []string{"A NOERROR 30 A 10.96.0.20", "AAAA NOERROR 30"}, note: "ClusterIP Service"},
		{name: "payments.default.svc", kind: "service", note: "CNAME to payments.example.com",
			queries: []string{"A NOERROR 30 CNAME payments.example.com.", "AAAA NOERROR 30 CNAME payments.example.com."}},
		{name: "cart.default.svc", kind: "service", svcError: "no such Service in namespace default", namespaces: "other shop",
			queries: []string{"A NXDOMAIN 30", "AAAA NXDOMAIN 30"}},
		{name: "web.shop.svc", kind: "service", svcError: "no such Service in namespace shop", namespaces: "default",
			queries: []string{"A NXDOMAIN 30", "AAAA NXDOMAIN 30"}, note: "did you mean web.default.svc.cluster.local.?"},
		{name: "ghost.default.svc", kind: "service", svcError: "no such Service in namespace default",
			queries: []string{"A NXDOMAIN 30", "AAAA NXDOMAIN 30"}, note: "publish nothing until the Service exists"},
		{name: "cold.default.svc", kind: "service", queries: []string{"A NXDOMAIN 30", "AAAA NXDOMAIN 30"}, note: "without a ready endpoint"},
		{name: "default.svc", kind: "namespace", queries: []string{"A NOERROR 30"}},
		{name: "example.org", kind: "apex", queries: []string{"SOA NOERROR 30 SOA ns.dns.example.org. hostmaster.example.org. SERIAL 7200 1800 86400 30"}},
		{name: "dns-version", kind: "dns-version", queries: []string{`TXT NOERROR 30 TXT "1.1.0"`}},
		{name: "10-0-0-1.default.pod.cluster.local", kind: "", parseError: "pod names (<address>.<namespace>.pod) are off", queries: []string{"A NXDOMAIN 30"}},
		{name: "a.b.my-db.default.svc", kind: "", parseError: `"a.b" is not a name`, queries: []string{"A NXDOMAIN 30"}},
		{name: "cart", parseError: "not in the zones cluster.local., example.org.: slicedns answers REFUSED", namespaces: "other shop",
			queries: []string{"A REFUSED 0"}, note: "namespaces with a Service cart: other, shop"},
		{name: "web.default", parseError: "not in the zones", queries: []string{"A REFUSED 0"}, note: "did you mean web.default.svc.cluster.local."},
		{name: "", parseError: "no name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := h.Explain(tc.name)
			kind := ""
			if e.Parsed != nil {
				kind = e.Parsed.Kind
			}
			if kind != tc.kind {
				t.Errorf("kind = %q, want %q", kind, tc.kind)
			}
			if !strings.Contains(e.ParseError, tc.parseError) || (tc.parseError == "") != (e.ParseError == "") {
				t.Errorf("parse error = %q, want %q", e.ParseError, tc.parseError)
			}
			if e.ServiceError != tc.svcError || strings.Join(e.NamespacesWithService, " ") != tc.namespaces {
				t.Errorf("service error = %q %q, want %q %q", e.ServiceError, e.NamespacesWithService, tc.svcError, tc.namespaces)
			}
			if got := queries(e); !slices.Equal(got, tc.queries) {
				t.Errorf("queries = %q, want %q", got, tc.queries)
			}
			notes := strings.Join(e.Notes, "\n")
			if !strings.Contains(notes, tc.note) {
				t.Errorf("notes = %q, want one containing %q", e.Notes, tc.note)
			}
		})
	}
}

// TestExplainNameServer: ns.dns is explained as the NS record's target
// when the server knows its addresses, and as no name when it does not.
func TestExplainNameServer(t *testing.T) {
	h := dns.NewHandler(explainFixture(t), dns.Options{ServerAddrs: []netip.Addr{netip.MustParseAddr("192.0.2.53")}})
	for _, name := range []string{"ns.dns", "NS.dns.cluster.local."} {
		e := h.Explain(name)
		if e.Parsed == nil || e.Parsed.Kind != "nameserver" || e.ParseError != "" {
			t.Errorf("%s: parsed %+v, error %q", name, e.Parsed, e.ParseError)
		}
		if got := queries(e); !slices.Equal(got, []string{"A NOERROR 5 A 192.0.2.53", "AAAA NOERROR 5"}) {
			t.Errorf("%s: queries = %q", name, got)
		}
		if !strings.Contains(strings.Join(e.Notes, "\n"), "NS record's target") {
			t.Errorf("%s: notes = %q", name, e.Notes)
		}
	}
	e := dns.NewHandler(explainFixture(t), dns.Options{}).Explain("ns.dns.cluster.local")
	if got := queries(e); !strings.Contains(e.ParseError, "not a Service name") || !slices.Equal(got, []string{"A NXDOMAIN 5"}) {
		t.Errorf("without server addresses: error %q, queries %q", e.ParseError, got)
	}
}

// TestExplainExternalNameAddress: an ExternalName that is an IP address has
// no records, and explain says why.
func TestExplainExternalNameAddress(t *testing.T) {
	z := zone.New()
	if err := z.UpsertService(&zone.Service{Namespace: "default", Name: "legacy", Type: zone.ExternalName, ExternalName: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	e := dns.NewHandler(z, dns.Options{}).Explain("legacy.default.svc")
	if got := queries(e); !slices.Equal(got, []string{"A NXDOMAIN 5", "AAAA NXDOMAIN 5"}) {
		t.Errorf("queries = %q", got)
	}
	if !strings.Contains(strings.Join(e.Notes, "\n"), "is an IP address") {
		t.Errorf("notes = %q", e.Notes)
	}
}

// TestExplainNotReady: a server that is not synced says so, and its queries
// get SERVFAIL, exactly as clients see.
func TestExplainNotReady(t *testing.T) {
	h := dns.NewHandler(explainFixture(t), dns.Options{Ready: func() bool { return false }})
	e := h.Explain("my-db.default.svc")
	if got := queries(e); !slices.Equal(got, []string{"A SERVFAIL 0", "AAAA SERVFAIL 0"}) {
		t.Errorf("queries = %q", got)
	}
	if !strings.Contains(strings.Join(e.Notes, "\n"), "not synced") {
		t.Errorf("notes = %q", e.Notes)
	}
}

// TestExplainJSON pins the JSON field names that scripts read.
func TestExplainJSON(t *testing.T) {
	h := dns.NewHandler(explainFixture(t), dns.Options{})
	b, err := json.Marshal(h.Explain("my-db.default.svc"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := func(v any) string {
		var ks []string
		for k := range v.(map[string]any) {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return strings.Join(ks, " ")
	}
	checks := []struct {
		what string
		v    any
		want string
	}{
		{"explanation", m, "fqdn name parsed queries service slices"},
		{"parsed", m["parsed"], "kind namespace service zone"},
		{"service", m["service"], "name namespace ports publishNotReadyAddresses selector type"},
		{"slice", m["slices"].([]any)[0], "addressType endpoints name ports"},
		{"endpoint", m["slices"].([]any)[0].(map[string]any)["endpoints"].([]any)[0],
			"addresses hostname name node ready served serving targetRef terminating zone"},
		{"excluded endpoint", m["slices"].([]any)[0].(map[string]any)["endpoints"].([]any)[1],
			"addresses hostname name ready reason served serving terminating"},
		{"query", m["queries"].([]any)[1], "authority rcode ttl type"},
	}
	for _, c := range checks {
		if got := keys(c.v); got != c.want {
			t.Errorf("%s keys = %q, want %q", c.what, got, c.want)
		}
	}
}

// TestExplainOtherZones: addresses through reverse zones, pod names, and
// names outside the zones when forwarding (explain must not forward).
func TestExplainOtherZones(t *testing.T) {
	fwd, err := dns.NewForwarder(dns.ForwarderOptions{Upstreams: []string{"192.0.2.1:53"}})
	if err != nil {
		t.Fatal(err)
	}
	h := dns.NewHandler(explainFixture(t), dns.Options{Zones: []string{"in-addr.arpa", "cluster.local"}, PodRecords: true, Forwarder: fwd})
	tests := []struct{ name, kind, parseError, fqdn, query string }{
		{"10.42.1.10", "reverse", "", "10.1.42.10.in-addr.arpa.", "PTR NOERROR 5 PTR my-db-0.my-db.default.svc.cluster.local."},
		{"10.1.42.10.in-addr.arpa.", "reverse", "", "10.1.42.10.in-addr.arpa.", "PTR NOERROR 5 PTR my-db-0.my-db.default.svc.cluster.local."},
		{"my-db.default.svc", "service", "", "my-db.default.svc.cluster.local.", "A NOERROR 5 A 10.42.1.10; A 10.42.1.5"},
		{"10-1-2-3.default.pod.cluster.local", "pod", "", "10-1-2-3.default.pod.cluster.local.", "A NOERROR 5 A 10.1.2.3"},
		{"10-1-2-3.default.pod", "pod", "", "10-1-2-3.default.pod.cluster.local.", "A NOERROR 5 A 10.1.2.3"},
		{"example.com", "", "forwards it to its upstream servers", "", ""},
	}
	for _, tc := range tests {
		e := h.Explain(tc.name)
		kind := ""
		if e.Parsed != nil {
			kind = e.Parsed.Kind
		}
		query := ""
		if q := queries(e); len(q) > 0 {
			query = q[0]
		}
		if kind != tc.kind || !strings.Contains(e.ParseError, tc.parseError) || e.FQDN != tc.fqdn || query != tc.query {
			t.Errorf("Explain(%q): kind %q, parse error %q, fqdn %q, first query %q; want %q, %q, %q, %q",
				tc.name, kind, e.ParseError, e.FQDN, query, tc.kind, tc.parseError, tc.fqdn, tc.query)
		}
	}
	if e := dns.NewHandler(explainFixture(t), dns.Options{}).Explain("10.42.1.10"); !strings.Contains(e.ParseError, "not in the zones") {
		t.Errorf("an address without a reverse zone: parse error %q", e.ParseError)
	}
}

// Explain never sends a query upstream, even where slicedns would (an
// address it does not know, an ExternalName target outside the zones): it
// says so instead.
func TestExplainDoesNotQueryUpstream(t *testing.T) {
	up := startUpstream(t, answerA("192.0.2.1"))
	h := dns.NewHandler(explainFixture(t), dns.Options{Zones: []string{"cluster.local", "in-addr.arpa"},
		Forwarder: newForwarder(t, nil, 2*time.Second, up.addr)})
	for _, tc := range []struct{ name, note, rcode string }{
		{"payments.default.svc", "upstream servers for payments.example.com. A", "NOERROR"},
		{"192.0.2.55", "upstream servers for 55.2.0.192.in-addr.arpa. PTR", "(upstream, not queried)"},
		{"www.example.com", "", ""},
	} {
		e := h.Explain(tc.name)
		notes := strings.Join(e.Notes, "\n")
		if !strings.Contains(notes, tc.note) {
			t.Errorf("Explain(%q): notes %q, want one naming %q", tc.name, notes, tc.note)
		}
		if tc.rcode != "" && (len(e.Queries) == 0 || e.Queries[0].Rcode != tc.rcode) {
			t.Errorf("Explain(%q): queries %+v, want the first with rcode %q", tc.name, e.Queries, tc.rcode)
		}
	}
	if n := up.udp.Load() + up.tcp.Load(); n != 0 {
		t.Errorf("explain sent %d queries upstream", n)
	}
	// Serving still forwards: the hook is Explain's own.
	if r := h.Answer(query("192.0.2.55.in-addr.arpa.", mdns.TypePTR)); up.udp.Load() == 0 {
		t.Errorf("a served query was not forwarded: %v", r)
	}
}
