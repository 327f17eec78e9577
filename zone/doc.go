// Package zone holds the DNS view of a Kubernetes cluster in memory: which
// names exist under "svc" and what records each one has, computed from
// Services and discovery.k8s.io/v1 EndpointSlices as the Kubernetes
// DNS-Based Service Discovery specification (version [SpecVersion]) lays out.
// It knows nothing of the DNS wire format or of the API server; package dns
// answers queries from it and package watch feeds it.
//
// # A Zone and its snapshots
//
// A [Zone] is the live state. It changes one object at a time, and every
// change publishes a new [Snapshot]: an immutable picture of the whole zone
// that any number of goroutines may read without locks. Readers never wait
// for writers, and a reader that holds a Snapshot sees the same answers for as
// long as it keeps it, however the zone changes meanwhile. A change costs the
// size of the one Service it touches, not the size of the cluster, because
// snapshots share everything a change does not touch.
//
//	z := zone.New()
//	snap := z.Snapshot() // the zone now; it will never change
//
// # Feeding a Zone
//
// Sources convert API objects to the small [Service] and [Slice] types (see
// package watch) and call four methods as objects come and go:
//
//	err := z.UpsertService(&zone.Service{Namespace: "default", Name: "my-db", Type: zone.Headless})
//	err = z.UpsertSlice(&zone.Slice{
//		Namespace: "default", Name: "my-db-x7k2p", Service: "my-db",
//		AddressType: zone.IPv4,
//		Ports:       []zone.Port{{Name: "cql", Protocol: "TCP", Port: 9042}},
//		Endpoints: []zone.Endpoint{{
//			Hostname: "my-db-0", Ready: true,
//			Addresses: []netip.Addr{netip.MustParseAddr("10.42.1.10")},
//		}},
//	})
//	z.DeleteSlice("default", "my-db-x7k2p")
//	z.DeleteService("default", "my-db")
//
// Objects may arrive in any order. A slice is filed under the Service its
// kubernetes.io/service-name label (Slice.Service) names, and moves when that
// label changes; slices without their Service, or whose Service was deleted,
// are kept but publish nothing until the Service (re)appears. An object that
// could not be served is refused with an error and the zone stays as it was.
// The zone keeps the Service pointers it is given (do not modify a Service
// after passing it in; pass a new one instead) and its own packed copy of
// each slice. An upsert equal to what the zone holds changes nothing.
//
// To load many objects at once, as a source does at start, bracket them
// with [Zone.Hold] and [Zone.Release]: readers keep the zone as it was, each
// Service is built once at Release, and one snapshot is published.
//
// Endpoint conditions arrive normalised: Endpoint.Ready is true when the
// API's ready condition is true or unset. Only ready endpoints are published,
// whatever serving or terminating say.
//
// # What a Service publishes
//
// For a Service <svc> in namespace <ns>, names are relative to the zone apex
// (the cluster domain, which the zone does not know):
//
//   - <svc>.<ns>.svc: A and AAAA. A headless Service has the addresses of
//     its ready endpoints across all its slices, each address once; a
//     ClusterIP Service has its cluster IPs, ready endpoints or not; an
//     ExternalName Service has a CNAME and nothing else. A headless Service
//     with no ready endpoint does not exist.
//   - <endpoint>.<svc>.<ns>.svc: a ready endpoint's own addresses. The label
//     is its hostname, or its address in dashes (see [EndpointName]).
//   - _<port>._<proto>.<svc>.<ns>.svc: SRV, for every named port: one record
//     per ready endpoint of a headless Service, pointing at the endpoint's
//     name, or one pointing at the Service's name for a ClusterIP Service.
//     _<proto>.<svc>.<ns>.svc exists, empty, above it.
//   - svc and <ns>.svc exist, empty, while a namespace holds Services;
//     dns-version holds the TXT record [SpecVersion].
//
// # Looking names up
//
// [Snapshot.Lookup] takes a name relative to the apex, in lower case, without
// a trailing dot, and returns its [Node]: a small value through which every
// record the name holds is read, ready to be written out. The three outcomes
// map onto DNS answers directly: no node is NXDOMAIN; a node without records
// of the asked type is NODATA (an empty node is an empty non-terminal);
// anything else is the answer. [Node.Target] turns an SRV record into its
// target's Node, so the additional section needs no second lookup, and
// [Node.Origin] tells which slice and endpoint an address came from. Neither
// Lookup nor reading a Node allocates.
//
//	snap := z.Snapshot()
//	if n, ok := snap.Lookup("my-db-0.my-db.default.svc"); ok {
//		for ip := range n.A().All() {
//			fmt.Println(ip) // 10.42.1.10
//		}
//	}
//
// A Service's names are stored flat, a few arrays per Service rather than
// an object per name, which keeps a zone of 100,000 endpoints to a few
// tens of megabytes.
//
// [Snapshot.LookupAddr] goes the other way, from an address to the names
// that point back at it, for PTR answers.
//
// # Resolving in-process
//
// A program that embeds a zone can resolve names the way its pods would,
// with no DNS server and no sockets: a [Resolver] has net.Resolver's
// LookupHost, LookupSRV and LookupAddr, with the same *net.DNSError errors,
// and Resolve, whose [Result] also says which Service and which endpoint
// each address comes from. Names may be relative ("my-db.default.svc") or
// fully qualified, in any case; with Namespace set, relative names get the
// search list of a pod in that namespace ("my-db" alone), and PodRecords
// answers pod names as the DNS handler's option of that name does.
//
//	r := &zone.Resolver{Zone: z} // Domain defaults to cluster.local
//	addrs, err := r.LookupHost(ctx, "my-db.default.svc.cluster.local")
//	_, srvs, err := r.LookupSRV(ctx, "cql", "tcp", "my-db.default.svc.cluster.local")
//	res, err := r.Resolve(ctx, "my-db-0.my-db.default.svc")
//	pod := res.Addresses[0].Endpoint.TargetRef // "Pod/my-db-0"
//
// To serve DNS instead, mount package dns's Handler on a miekg/dns server.
//
// # Why a name resolves as it does
//
// Lookup shows what is published; [Snapshot.Service] shows what the zone
// holds for a Service whether published or not (its slices, with every
// endpoint and its conditions), and [Snapshot.NamespacesWithService] which
// namespaces have a Service of a given name. Package dns builds its Explain
// (and `slicedns explain`) on them. Both are meant for people: they copy
// and walk, where Lookup does neither.
package zone
