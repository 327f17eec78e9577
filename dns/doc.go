// Package dns answers DNS queries for a cluster domain from a zone (package
// zone): the Kubernetes DNS-Based Service Discovery names of Services and
// their endpoints, in authoritative A, AAAA, SRV, CNAME and TXT answers.
// It is built on github.com/miekg/dns, whose package name this one shadows:
// import that one as mdns, as this package and its examples do.
//
//	import (
//		mdns "github.com/miekg/dns"
//
//		"github.com/slicedns/slicedns/dns"
//		"github.com/slicedns/slicedns/zone"
//	)
//
// # A Handler for your own server
//
// [Handler] is an mdns.Handler. Give it the zone to read and the domain it
// answers for, and mount it wherever a miekg/dns server takes a handler:
//
//	z := zone.New() // fed by package watch, or by hand
//	h := dns.NewHandler(z, dns.Options{Zones: []string{"cluster.local"}, TTL: 5 * time.Second})
//	mux := mdns.NewServeMux()
//	mux.Handle("cluster.local.", h)
//	mux.HandleFunc(".", forwardUpstream) // everything else is yours
//	srv := &mdns.Server{Addr: ":53", Net: "udp", Handler: mux}
//
// The handler answers every name under its zones authoritatively (NXDOMAIN
// and NODATA with the zone's SOA), PTR records in reverse zones such as
// "in-addr.arpa", and REFUSED for names outside them unless Options.Forwarder
// is set, in which case it forwards them: mount it on the zone's name, or on
// "." when it forwards. It never blocks on the zone:
// each query reads the current snapshot. Set Options.Ready to have it answer
// SERVFAIL until the zone is filled, rather than NXDOMAIN answers that
// resolvers would cache.
//
// # The bundled server
//
// [Server] serves a handler over UDP and TCP on one address. For *Handler it
// answers the common queries straight from the wire without allocating,
// which is what slicedns itself runs:
//
//	srv := &dns.Server{Addr: "127.0.0.1:5353", Handler: h}
//	if err := srv.Listen(); err != nil {
//		return err
//	}
//	go srv.Serve()
//	defer srv.Shutdown(ctx)
//
// # Forwarding
//
// A [Forwarder] in Options.Forwarder takes the names outside the zones to
// upstream resolvers, as CoreDNS's forward plugin does. Each upstream in
// turn has ForwarderOptions.Timeout to answer; silent ones are asked again
// while ForwarderOptions.Budget lasts, then the client gets SERVFAIL. Only
// a failed health probe, or a refusal, takes an upstream out of use; one
// that sends queries back (a loop) is out until a later loop probe shows
// the loop gone. Answers are cached, as by CoreDNS's cache plugin: for the
// smallest TTL of their records, negative ones for their SOA's (RFC 2308),
// at most ForwarderOptions.CacheTTL (30s), up to CacheSize (10,000)
// answers; a hit asks no upstream. Run the probes with Forwarder.Run, and
// count them with NewForwardMetrics:
//
//	fwd, err := dns.NewForwarder(dns.ForwarderOptions{Upstreams: []string{"10.0.0.10:53"}, Metrics: dns.NewForwardMetrics(reg)})
//	h := dns.NewHandler(z, dns.Options{Forwarder: fwd})
//	go fwd.Run(ctx) // once h is served: loop probes come back to it
//
// # Secondaries
//
// A BIND, Knot or CoreDNS outside the cluster can hold a copy of the zone:
// Options.TransferTo admits its address to zone transfers (AXFR, IXFR),
// and a [Notifier] tells it of each change (NOTIFY), so that it transfers
// the zone again at once:
//
//	secondary := netip.MustParseAddr("192.0.2.53")
//	h := dns.NewHandler(z, dns.Options{TransferTo: []netip.Prefix{netip.PrefixFrom(secondary, 32)}})
//	n := &dns.Notifier{Handler: h, Targets: []netip.AddrPort{netip.AddrPortFrom(secondary, 53)}}
//	go n.Run(ctx)
//
// # Without a network
//
// [Handler.Answer] turns a query message into its response in-process, the
// same response ServeDNS would write over TCP. To resolve names as Go
// values rather than messages, use zone.Resolver, which involves no DNS
// message at all.
//
// [Handler.Explain] says why a name resolves the way it does: the name
// taken apart, its Service, every endpoint served or excluded with the
// reason, and the responses a query gets. It is what `slicedns explain`
// prints and what slicedns serves as JSON at GET /explain?name=NAME.
package dns
