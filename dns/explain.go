package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/zone"
)

// Explanation says why a name resolves the way it does: how it parses, what
// the zone holds for its Service, which endpoints are served and why the
// others are not, and the exact responses a query gets. It is what
// `slicedns explain` prints and GET /explain returns, as JSON with these
// field names. Optional fields are left out when empty.
type Explanation struct {
	// Name is the name as asked; FQDN the name queried, lower case.
	Name string `json:"name"`
	FQDN string `json:"fqdn,omitempty"`
	// Parsed is the name taken apart; nil when it is not in a served zone.
	Parsed *ParsedName `json:"parsed,omitempty"`
	// ParseError says why the name is not one that the zone can hold.
	ParseError string `json:"parseError,omitempty"`
	// Service is the name's Service, when the zone holds it.
	Service *ServiceInfo `json:"service,omitempty"`
	// ServiceError says that the Service is missing; NamespacesWithService
	// lists the namespaces that do have a Service of that name.
	ServiceError          string   `json:"serviceError,omitempty"`
	NamespacesWithService []string `json:"namespacesWithService,omitempty"`
	// Problems are what the source could not serve as written of the
	// Service (see Options.Problems).
	Problems []Problem `json:"problems,omitempty"`
	// Slices are the EndpointSlices that name the Service, in the order the
	// zone reads them, also when the Service itself is missing.
	Slices []SliceInfo `json:"slices,omitempty"`
	// SlicesInOtherNamespaces are, by namespace, the EndpointSlices labelled
	// for a Service of this name elsewhere, when none is in its own.
	SlicesInOtherNamespaces map[string][]string `json:"slicesInOtherNamespaces,omitempty"`
	// Queries are the responses to the queries that matter for the name:
	// A and AAAA, or SRV for an SRV name.
	Queries []QueryResult `json:"queries,omitempty"`
	// Notes spell out, in sentences, what the fields above imply.
	Notes []string `json:"notes,omitempty"`
}

// ParsedName is a name relative to its zone, taken apart. Kind is one of
// "apex", "dns-version", "svc", "namespace", "service", "endpoint", "srv"
// (_<port>._<proto>.<service>...), "proto" (_<proto>.<service>...), "pod"
// (<a-b-c-d>.<namespace>.pod, when pod records are on), "nameserver"
// (ns.dns, when Options.ServerAddrs are set) or "reverse" (a name in a
// reverse zone, which an address given to Explain turns into); the fields
// that the kind has are set.
type ParsedName struct {
	Zone      string `json:"zone"`
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Service   string `json:"service,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
	Port      string `json:"port,omitempty"`
	Proto     string `json:"proto,omitempty"`
}

// ServiceInfo is a Service as the zone holds it.
type ServiceInfo struct {
	Namespace                string            `json:"namespace"`
	Name                     string            `json:"name"`
	Type                     string            `json:"type"`
	ClusterIPs               []string          `json:"clusterIPs,omitempty"`
	ExternalName             string            `json:"externalName,omitempty"`
	Selector                 map[string]string `json:"selector,omitempty"`
	Ports                    []PortInfo        `json:"ports,omitempty"`
	PublishNotReadyAddresses bool              `json:"publishNotReadyAddresses"`
}

// PortInfo is a Service or EndpointSlice port.
type PortInfo struct {
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol"`
	Port     uint16 `json:"port"`
}

// SliceInfo is an EndpointSlice as the zone holds it.
type SliceInfo struct {
	Name        string         `json:"name"`
	AddressType string         `json:"addressType"`
	Ports       []PortInfo     `json:"ports,omitempty"`
	Endpoints   []EndpointInfo `json:"endpoints"`
}

// EndpointInfo is one endpoint with its normalised conditions and whether
// DNS serves it. Name is the label it is published under. Reason says why an
// endpoint is not served ("ready: false", "ready: false (terminating)",
// "FQDN slice: not served in DNS", "duplicate address: served from slice
// X", ...) or, for a served endpoint without a hostname, how it is named
// ("no hostname: named 10-42-1-5").
type EndpointInfo struct {
	Addresses   []string `json:"addresses"`
	Hostname    string   `json:"hostname,omitempty"`
	Name        string   `json:"name,omitempty"`
	Ready       bool     `json:"ready"`
	Serving     bool     `json:"serving"`
	Terminating bool     `json:"terminating"`
	Node        string   `json:"node,omitempty"`
	Zone        string   `json:"zone,omitempty"`
	TargetRef   string   `json:"targetRef,omitempty"`
	Served      bool     `json:"served"`
	Reason      string   `json:"reason,omitempty"`
}

// rcodeUpstream is QueryResult.Rcode for a query slicedns would forward:
// explain does not send it, so what the upstream answers is not known.
const rcodeUpstream = "(upstream, not queried)"

// QueryResult is the response to one query, as Answer gives it, with its
// records in zone-file syntax. TTL is the answer's TTL or, for a negative
// answer, how long resolvers cache it. Rcode is "(upstream, not queried)"
// for a query slicedns would forward, which explain does not send.
type QueryResult struct {
	Type       string   `json:"type"`
	Rcode      string   `json:"rcode"`
	TTL        uint32   `json:"ttl"`
	Answer     []string `json:"answer,omitempty"`
	Authority  []string `json:"authority,omitempty"`
	Additional []string `json:"additional,omitempty"`
}

// Explain explains name, given fully qualified or relative to the first
// served zone that is not a reverse zone ("my-db-0.my-db.default.svc"), in
// any case; an IP address is explained through its reverse name. It reads one
// snapshot for everything, so the explanation and the responses it quotes
// agree. It never fails: a name that does not parse or does not exist is
// explained too.
func (h *Handler) Explain(name string) *Explanation {
	snap := h.src.Snapshot()
	if snap == nil {
		return &Explanation{Name: name, Notes: []string{"No zone is loaded yet (the source has no snapshot): every name in the zones gets SERVFAIL."}}
	}
	pinned := *h
	pinned.src = SourceFunc(func() *zone.Snapshot { return snap })
	// Records are shown in the zone's order, not rotated by a made-up ID.
	pinned.fixed = true
	x := &explainer{h: &pinned, snap: snap, e: &Explanation{Name: name}}
	x.explain(strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), ".")))
	return x.e
}

type explainer struct {
	h    *Handler
	snap *zone.Snapshot
	e    *Explanation
	// base is "<service>.<namespace>.svc", under which the Service's names are.
	base string
	st   zone.ServiceState
	// refusedSlices: the source refused a slice labelled for the Service.
	refusedSlices bool
}

func (x *explainer) note(format string, args ...any) {
	x.e.Notes = append(x.e.Notes, fmt.Sprintf(format, args...))
}

func (x *explainer) explain(name string) {
	if name == "" {
		x.e.ParseError = "no name given"
		return
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		// An address is explained through its reverse name: what PTR says.
		arpa, _ := mdns.ReverseAddr(ip.String()) // cannot fail for a parsed address
		name = strings.TrimSuffix(arpa, ".")
	}
	z, rel, ok := x.h.match(name)
	if !ok && (name == "dns-version" || name == "svc" || name == nsName || strings.HasSuffix(name, ".svc") || strings.HasSuffix(name, ".pod")) {
		// Relative to the cluster domain, as people write names.
		z, rel, ok = x.forwardZone(), name, true
	}
	if !ok {
		x.outsideZones(name)
		return
	}
	x.e.FQDN = z.fqdn
	if rel != "" {
		x.e.FQDN = rel + "." + z.fqdn
	}
	var p ParsedName
	var problem string
	switch {
	case z.reverse:
		p.Kind = "reverse"
	case zone.IsPodName(rel) && x.h.pods:
		p.Kind = "pod"
	case rel == nsName && x.h.isNSName(rel):
		p.Kind = "nameserver"
		x.note("the NS record's target: the addresses of the Services whose ready endpoints include this server's own (%v), else those addresses", x.h.serverAddrs)
	default:
		p, problem = parseRel(rel)
	}
	p.Zone = z.lower
	x.e.Parsed, x.e.ParseError = &p, problem
	if p.Service != "" && p.Namespace != "" {
		x.explainService(p)
	}
	if x.h.ready != nil && !x.h.ready() {
		x.note("the server is not synced with its source yet: every name in the zone gets SERVFAIL until it is")
	}
	switch p.Kind {
	case "service", "endpoint", "pod", "nameserver":
		x.query(mdns.TypeA, mdns.TypeAAAA)
	case "srv":
		x.query(mdns.TypeSRV)
	case "reverse":
		x.query(mdns.TypePTR)
	case "apex":
		x.query(mdns.TypeSOA)
	case "dns-version":
		x.query(mdns.TypeTXT)
	default:
		x.query(mdns.TypeA)
	}
}

// forwardZone is the zone that relative names are read in: the first one
// that is not a reverse zone.
func (x *explainer) forwardZone() servedZone {
	for _, z := range x.h.zones {
		if !z.reverse {
			return z
		}
	}
	return x.h.zones[0]
}

// outsideZones explains a name that is in no served zone: most often a short
// name, which only a pod's resolv.conf search path completes.
func (x *explainer) outsideZones(name string) {
	zones := strings.Join(x.h.Zones(), ", ")
	_, valid := mdns.IsDomainName(name)
	switch {
	case x.h.fwd != nil:
		// Explaining must not send queries elsewhere, or wait for them.
		x.e.ParseError = "not in the zones " + zones + ": slicedns forwards it to its upstream servers, which explain does not query"
	default:
		x.e.ParseError = "not in the zones " + zones + ": slicedns answers REFUSED"
		if valid {
			x.e.FQDN = mdns.Fqdn(name)
			x.query(mdns.TypeA)
		}
	}
	labels := strings.Split(name, ".")
	apex := x.forwardZone().fqdn
	switch len(labels) {
	case 1:
		x.e.NamespacesWithService = x.snap.NamespacesWithService(name)
		if len(x.e.NamespacesWithService) > 0 {
			x.note("a Service name needs its namespace: %s.<namespace>.svc.%s; namespaces with a Service %s: %s",
				name, apex, name, strings.Join(x.e.NamespacesWithService, ", "))
		}
	case 2:
		if st, ok := x.snap.Service(labels[1], labels[0]); ok && st.Service != nil {
			x.note("a short name, which only a pod's search path completes: did you mean %s.svc.%s?", name, apex)
		}
	}
}

// parseRel takes apart a name relative to the zone apex, as Lookup reads it.
func parseRel(rel string) (ParsedName, string) {
	var p ParsedName
	switch rel {
	case "":
		p.Kind = "apex"
		return p, ""
	case "dns-version", "svc":
		p.Kind = rel
		return p, ""
	}
	labels := strings.Split(rel, ".")
	for _, l := range labels {
		if l == "" {
			return p, "empty label in " + rel
		}
	}
	n := len(labels)
	if labels[n-1] != "svc" {
		if labels[n-1] == "pod" {
			return p, "pod names (<address>.<namespace>.pod) are off: slicedns answers NXDOMAIN unless run with --pod-records insecure"
		}
		return p, "not a Service name: names in the zone end in <service>.<namespace>.svc"
	}
	if n == 2 {
		p.Kind, p.Namespace = "namespace", labels[0]
		return p, ""
	}
	p.Namespace, p.Service = labels[n-2], labels[n-3]
	prefix := labels[:n-3]
	switch {
	case len(prefix) == 0:
		p.Kind = "service"
	case len(prefix) == 1 && strings.HasPrefix(prefix[0], "_"):
		p.Kind, p.Proto = "proto", prefix[0][1:]
	case len(prefix) == 1:
		p.Kind, p.Endpoint = "endpoint", prefix[0]
	case len(prefix) == 2 && strings.HasPrefix(prefix[0], "_") && strings.HasPrefix(prefix[1], "_"):
		p.Kind, p.Port, p.Proto = "srv", prefix[0][1:], prefix[1][1:]
	default:
		base := strings.Join(labels[n-3:], ".")
		return p, fmt.Sprintf("%q is not a name the specification defines: a Service's names are %s, <endpoint>.%s and _<port>._<proto>.%s",
			strings.Join(prefix, "."), base, base, base)
	}
	return p, ""
}

// query runs each query type through Answer, so the records shown are
// exactly those a client gets (before any UDP truncation and the rotation
// of addresses, which explain leaves in the zone's order), except what
// would come from upstream servers: that is named in a note, not fetched.
func (x *explainer) query(types ...uint16) {
	var upstream []string
	x.h.offline = func(name string, qtype uint16) {
		upstream = append(upstream, mdns.Fqdn(name)+" "+mdns.TypeToString[qtype])
	}
	defer func() { x.h.offline = nil }()
	for _, t := range types {
		req := new(mdns.Msg)
		req.SetQuestion(x.e.FQDN, t)
		upstream = upstream[:0]
		resp := x.h.Answer(req)
		for _, u := range upstream {
			x.note("%s: slicedns asks its upstream servers for %s, which explain does not query", mdns.TypeToString[t], u)
		}
		q := QueryResult{Type: mdns.TypeToString[t], Rcode: mdns.RcodeToString[resp.Rcode],
			Answer: rrStrings(resp.Answer), Authority: rrStrings(resp.Ns), Additional: rrStrings(resp.Extra)}
		if slices.Contains(upstream, mdns.Fqdn(x.e.FQDN)+" "+q.Type) {
			q.Rcode = rcodeUpstream // the whole answer would be the upstream's
		}
		switch {
		case len(resp.Answer) > 0:
			q.TTL = resp.Answer[0].Header().Ttl
		case len(resp.Ns) > 0:
			// RFC 2308: a negative answer is cached for the SOA's TTL or its
			// minimum, whichever is less.
			if soa, ok := resp.Ns[0].(*mdns.SOA); ok {
				q.TTL = min(soa.Hdr.Ttl, soa.Minttl)
			}
		}
		x.e.Queries = append(x.e.Queries, q)
	}
}

func rrStrings(rrs []mdns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	return out
}
