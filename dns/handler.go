package dns

import (
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/slicedns/slicedns/zone"
)

// Source is where the handler reads the zone from. *zone.Zone is one; a test
// or an embedding program may supply fixed snapshots.
type Source interface {
	Snapshot() *zone.Snapshot
}

// SourceFunc adapts a function to Source.
type SourceFunc func() *zone.Snapshot

// Snapshot calls f.
func (f SourceFunc) Snapshot() *zone.Snapshot { return f() }

var _ Source = (*zone.Zone)(nil)
var _ mdns.Handler = (*Handler)(nil)

// Options configure a Handler. The zero value serves cluster.local with a
// 5-second TTL, always ready, with no metrics and no logging.
type Options struct {
	// Zones are the domains answered from the zone, e.g. "cluster.local".
	// Every zone answers the same names. A zone ending in in-addr.arpa or
	// ip6.arpa ("in-addr.arpa", or "10.in-addr.arpa" for part of it) is a
	// reverse zone instead: it answers PTR queries for the zone's addresses,
	// pointing into the first forward zone. Default: cluster.local (slicedns
	// itself adds in-addr.arpa and ip6.arpa, as CoreDNS's default Corefile does).
	Zones []string
	// TTL of every answer, and the SOA minimum (the negative-cache TTL),
	// rounded up to whole seconds. Default 5s.
	TTL time.Duration
	// Ready, when set, gates answers: until it returns true, names in the
	// zones get SERVFAIL (an NXDOMAIN would be cached downstream).
	Ready func() bool
	// Metrics, when set, counts every query.
	Metrics *Metrics
	// Logger and LogQueries log one line per query at Info level.
	Logger     *zap.Logger
	LogQueries bool
	// Forwarder, when set, takes what the zones cannot answer: names
	// outside them (instead of REFUSED), reverse names of unknown addresses
	// (instead of NXDOMAIN), and the targets of ExternalName CNAMEs outside
	// them, which answers of every type but CNAME and ANY then carry.
	// Responses then have RA set.
	Forwarder *Forwarder
	// PodRecords answers <a-b-c-d>.<namespace>.pod.<zone> with the address
	// the name spells, without checking that a pod has it (CoreDNS's "pods
	// insecure"). The DNS specification deprecates these names but still
	// requires them (schema 1.1.0, 2.5), and the slicedns command turns
	// them on unless told otherwise. Off: NXDOMAIN.
	PodRecords bool
	// FixedOrder keeps the A and AAAA records of every answer in the zone's
	// order. Without it each answer starts at the record its query's ID
	// picks and wraps around, so clients that take the first address spread
	// over a headless Service's endpoints rather than all choosing the
	// first, as behind CoreDNS's default Corefile (its loadbalance plugin).
	// The ID rather than a counter picks: stub resolvers choose IDs at
	// random (RFC 5452), and one query always gets one answer, whichever
	// path or retry serves it. SRV records keep the zone's order; their
	// clients pick by weight.
	FixedOrder bool
	// ServerAddrs are the addresses the server is reached at (a pod's
	// addresses). With them, the NS record's target ns.dns.<zone> resolves,
	// as in CoreDNS: to the addresses of the Services whose ready endpoints
	// include one of them (the cluster DNS Service's cluster IP), else to
	// these addresses; NS answers carry them as additional data. Without
	// them, ns.dns.<zone> does not exist.
	ServerAddrs []netip.Addr
	// NSID identifies this server (a pod name, say) to queries that ask for
	// it with the EDNS0 NSID option (RFC 5001, dig +nsid). Empty: no NSID.
	NSID string
	// TransferTo are the clients allowed zone transfers (AXFR over TCP,
	// IXFR) of the forward zones; see xfr.go. Empty: transfers are
	// refused, as they list every Service and pod in the cluster.
	TransferTo []netip.Prefix
	// Problems, when set, returns what the source could not serve as
	// written that may bear on the names of the Service namespace/name:
	// its definition or its EndpointSlices refused as invalid, files that
	// cannot be read or parsed. Explain shows them; the zone alone cannot
	// tell a Service never defined from one defined wrongly.
	Problems func(namespace, name string) []Problem
}

// Handler answers DNS queries from a zone, shaped like net/http's handlers: it
// can be mounted in any miekg/dns server or mux (mdns.Handle("cluster.local.", h)).
type Handler struct {
	src   Source
	zones []servedZone
	ttl   uint32
	ready func() bool
	m     *Metrics
	log   *zap.Logger
	logQ  bool
	fwd   *Forwarder
	// offline, when set (on Explain's copy), is told of each query that
	// would go upstream instead of sending it: explaining must neither
	// query elsewhere nor wait.
	offline func(name string, qtype uint16)
	// upstreamWait, when set (on the copy that answers one UDP query off
	// the fast path), is called when the query takes a forwarding slot and
	// is about to wait on an upstream: it leaves the bound of the slow
	// path (slowQueries), so queries answered from the zone never queue
	// behind upstream work.
	upstreamWait func()
	pods         bool
	fixed        bool // Options.FixedOrder
	// serverAddrs are Options.ServerAddrs, unmapped.
	serverAddrs []netip.Addr
	nsid        string // Options.NSID in hex, as miekg/dns holds it
	// ptrZone is the first forward zone, fully qualified: where PTR records point.
	ptrZone string
	// transferTo are Options.TransferTo; transfers holds a token for each
	// transfer being served.
	transferTo []netip.Prefix
	transfers  chan struct{}
	busyLogged *atomic.Int64 // when transferBusy last logged, Unix ns; shared by Explain's copy
	problems   func(namespace, name string) []Problem
}

// servedZone is a zone apex in the two spellings the handler needs.
type servedZone struct {
	fqdn    string // "cluster.local."
	lower   string // "cluster.local", for suffix matching against lower-cased names
	reverse bool   // under in-addr.arpa or ip6.arpa: answers PTR
}

// NewHandler returns a handler that answers from src. Until Options.Ready
// reports true, and whenever src returns a nil snapshot (nothing loaded
// yet), names in the zones get SERVFAIL. A nil src panics, as a nil handler
// does in net/http: it is a mistake in the program, not in a query.
func NewHandler(src Source, opts Options) *Handler {
	if src == nil {
		panic("dns: NewHandler with a nil Source")
	}
	h := &Handler{src: src, ready: opts.Ready, m: opts.Metrics, log: opts.Logger, logQ: opts.LogQueries,
		fwd: opts.Forwarder, pods: opts.PodRecords, fixed: opts.FixedOrder,
		transferTo: transferPrefixes(opts.TransferTo), transfers: make(chan struct{}, maxTransfers),
		busyLogged: new(atomic.Int64), problems: opts.Problems}
	if opts.NSID != "" {
		h.nsid = nsidHex(opts.NSID)
	}
	for _, a := range opts.ServerAddrs {
		if a = a.Unmap(); a.IsValid() && !slices.Contains(h.serverAddrs, a) {
			h.serverAddrs = append(h.serverAddrs, a)
		}
	}
	if len(opts.Zones) == 0 {
		opts.Zones = []string{"cluster.local"}
	}
	for _, z := range opts.Zones {
		l := strings.ToLower(strings.Trim(z, "."))
		if slices.ContainsFunc(h.zones, func(s servedZone) bool { return s.lower == l }) {
			continue
		}
		sz := servedZone{fqdn: mdns.Fqdn(l), lower: l, reverse: IsReverseZone(l)}
		h.zones = append(h.zones, sz)
		if !sz.reverse && h.ptrZone == "" {
			h.ptrZone = sz.fqdn
		}
	}
	if h.ptrZone == "" {
		h.ptrZone = "cluster.local."
	}
	if opts.TTL <= 0 {
		opts.TTL = 5 * time.Second
	}
	h.ttl = uint32((opts.TTL + time.Second - 1) / time.Second)
	if h.log == nil {
		h.log = zap.NewNop()
	}
	return h
}

// Zones returns the zone apexes the handler answers for, fully qualified.
func (h *Handler) Zones() []string {
	out := make([]string, len(h.zones))
	for i, z := range h.zones {
		out[i] = z.fqdn
	}
	return out
}

// snapshot is the snapshot to answer from, or nil when there is none yet:
// Options.Ready says not, or the Source has nothing.
func (h *Handler) snapshot() *zone.Snapshot {
	if h.ready != nil && !h.ready() {
		return nil
	}
	return h.src.Snapshot()
}

// ServeDNS answers one query, or serves a zone transfer.
func (h *Handler) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	if r == nil || h.serveTransfer(w, r) {
		return
	}
	start := time.Now()
	resp := h.answerGuarded(r, isTCP(w))
	if resp == nil {
		return
	}
	if err := w.WriteMsg(resp); err != nil {
		h.log.Debug("write failed", zap.Error(err))
	}
	qtype := uint16(0)
	if len(r.Question) == 1 {
		qtype = r.Question[0].Qtype
	}
	h.m.observe(qtype, resp.Rcode, time.Since(start))
	if h.logQ {
		h.logQuery(w, r, resp, time.Since(start))
	}
}

// isTCP reports whether w is a TCP connection (a ResponseWriter of some
// other server may have no address).
func isTCP(w mdns.ResponseWriter) bool {
	a := w.RemoteAddr()
	return a != nil && a.Network() == "tcp"
}

func (h *Handler) logQuery(w mdns.ResponseWriter, r, resp *mdns.Msg, took time.Duration) {
	var q mdns.Question
	if len(r.Question) > 0 {
		q = r.Question[0]
	}
	client, proto := "", ""
	if a := w.RemoteAddr(); a != nil {
		client, proto = a.String(), a.Network()
	}
	h.log.Info("query",
		zap.String("client", client),
		zap.String("proto", proto),
		zap.String("name", q.Name),
		zap.String("type", mdns.TypeToString[q.Qtype]),
		zap.String("rcode", rcodeLabel(resp.Rcode)),
		zap.Int("answers", len(resp.Answer)),
		zap.Duration("duration", took))
}
