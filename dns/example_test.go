package dns_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
)

// demoZone is a headless Service with two ready pods and one starting.
func demoZone() *zone.Zone {
	z := zone.New()
	if err := z.UpsertService(&zone.Service{Namespace: "default", Name: "my-db", Type: zone.Headless}); err != nil {
		panic(err)
	}
	pod := func(name, ip string, ready bool) zone.Endpoint {
		return zone.Endpoint{Hostname: name, Ready: ready, Addresses: []netip.Addr{netip.MustParseAddr(ip)}}
	}
	err := z.UpsertSlice(&zone.Slice{
		Namespace: "default", Name: "my-db-x7k2p", Service: "my-db", AddressType: zone.IPv4,
		Ports:     []zone.Port{{Name: "cql", Protocol: "TCP", Port: 9042}},
		Endpoints: []zone.Endpoint{pod("my-db-0", "10.42.1.10", true), pod("my-db-1", "10.42.2.11", true), pod("my-db-2", "10.42.3.12", false)},
	})
	if err != nil {
		panic(err)
	}
	return z
}

// Mount the handler on the cluster domain in a miekg/dns ServeMux, next to
// handlers of your own, and serve it with a miekg/dns server.
func Example_serveMux() {
	h := dns.NewHandler(demoZone(), dns.Options{Zones: []string{"cluster.local", "in-addr.arpa", "ip6.arpa"}, TTL: 30 * time.Second})
	mux := mdns.NewServeMux()
	// Every zone the handler answers, the reverse ones (PTR) among them.
	for _, z := range h.Zones() {
		mux.Handle(z, h)
	}

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	started := make(chan struct{})
	srv := &mdns.Server{PacketConn: pc, Handler: mux, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	defer srv.Shutdown()

	m := new(mdns.Msg)
	m.SetQuestion("_cql._tcp.my-db.default.svc.cluster.local.", mdns.TypeSRV)
	resp, _, err := new(mdns.Client).Exchange(m, pc.LocalAddr().String())
	if err != nil {
		panic(err)
	}
	fmt.Println(mdns.RcodeToString[resp.Rcode], "authoritative:", resp.Authoritative)
	for _, rr := range resp.Answer {
		srv := rr.(*mdns.SRV)
		fmt.Println("SRV", srv.Hdr.Ttl, srv.Port, srv.Target)
	}
	for _, rr := range resp.Extra {
		fmt.Println("A  ", rr.Header().Name, rr.(*mdns.A).A)
	}
	rev, _ := mdns.ReverseAddr("10.42.1.10")
	m.SetQuestion(rev, mdns.TypePTR)
	if resp, _, err = new(mdns.Client).Exchange(m, pc.LocalAddr().String()); err != nil {
		panic(err)
	}
	fmt.Println("PTR", resp.Answer[0].(*mdns.PTR).Ptr)
	// Output:
	// NOERROR authoritative: true
	// SRV 30 9042 my-db-0.my-db.default.svc.cluster.local.
	// SRV 30 9042 my-db-1.my-db.default.svc.cluster.local.
	// A   my-db-0.my-db.default.svc.cluster.local. 10.42.1.10
	// A   my-db-1.my-db.default.svc.cluster.local. 10.42.2.11
	// PTR my-db-0.my-db.default.svc.cluster.local.
}

// A handler fed by a source answers SERVFAIL until the source has loaded
// (Options.Ready), never an NXDOMAIN that clients would cache.
func Example_ready() {
	z := zone.New()
	src := &watch.Manifests{Dir: "../testdata/demo", Sink: z}
	h := dns.NewHandler(z, dns.Options{Ready: src.Synced})
	q := new(mdns.Msg)
	q.SetQuestion("web.shop.svc.cluster.local.", mdns.TypeA)
	fmt.Println("before the load:", mdns.RcodeToString[h.Answer(q).Rcode])
	if err := src.Load(); err != nil { // or go src.Run(ctx), which loads first
		panic(err)
	}
	resp := h.Answer(q)
	fmt.Println("after:", mdns.RcodeToString[resp.Rcode], resp.Answer[0].(*mdns.A).A)
	// Output:
	// before the load: SERVFAIL
	// after: NOERROR 10.96.0.20
}

// Server serves a handler over UDP and TCP on one address, the way slicedns
// does.
func ExampleServer() {
	srv := &dns.Server{Addr: "127.0.0.1:0", Handler: dns.NewHandler(demoZone(), dns.Options{})}
	if err := srv.Listen(); err != nil {
		panic(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())

	for id, network := range []string{"udp", "tcp"} {
		m := new(mdns.Msg)
		m.SetQuestion("my-db.default.svc.cluster.local.", mdns.TypeA)
		// Each answer starts at the address its query's ID picks, so
		// clients that take the first spread over the pods (see
		// Options.FixedOrder). Resolvers choose IDs at random; these are
		// fixed to show it.
		m.Id = uint16(id)
		c := &mdns.Client{Net: network}
		resp, _, err := c.Exchange(m, srv.LocalAddr().String())
		if err != nil {
			panic(err)
		}
		for _, rr := range resp.Answer {
			fmt.Println(network, rr.Header().Name, rr.(*mdns.A).A)
		}
	}
	// my-db-2 is not ready: its name does not exist.
	m := new(mdns.Msg)
	m.SetQuestion("my-db-2.my-db.default.svc.cluster.local.", mdns.TypeA)
	resp, _, err := new(mdns.Client).Exchange(m, srv.LocalAddr().String())
	if err != nil {
		panic(err)
	}
	fmt.Println(mdns.RcodeToString[resp.Rcode])
	// Output:
	// udp my-db.default.svc.cluster.local. 10.42.1.10
	// udp my-db.default.svc.cluster.local. 10.42.2.11
	// tcp my-db.default.svc.cluster.local. 10.42.2.11
	// tcp my-db.default.svc.cluster.local. 10.42.1.10
	// NXDOMAIN
}

// Answer gives the response to a query message in-process, with no server.
func ExampleHandler_Answer() {
	h := dns.NewHandler(demoZone(), dns.Options{})
	q := new(mdns.Msg)
	q.SetQuestion("my-db-1.my-db.default.svc.cluster.local.", mdns.TypeA)
	resp := h.Answer(q)
	fmt.Println(mdns.RcodeToString[resp.Rcode], resp.Answer[0].(*mdns.A).A)
	// Output:
	// NOERROR 10.42.2.11
}

// Explain says why a name resolves as it does.
func ExampleHandler_Explain() {
	h := dns.NewHandler(demoZone(), dns.Options{})
	e := h.Explain("my-db-2.my-db.default.svc.cluster.local")
	fmt.Println(e.Parsed.Kind, e.Parsed.Endpoint, "of", e.Service.Type, "Service", e.Service.Name)
	for _, s := range e.Slices {
		for _, ep := range s.Endpoints {
			line := fmt.Sprint(s.Name, " ", ep.Name, " ", ep.Addresses, " served: ", ep.Served)
			if ep.Reason != "" {
				line += " (" + ep.Reason + ")"
			}
			fmt.Println(line)
		}
	}
	for _, q := range e.Queries {
		fmt.Println(q.Type, q.Rcode, "ttl", q.TTL)
	}
	// Output:
	// endpoint my-db-2 of Headless Service my-db
	// my-db-x7k2p my-db-0 [10.42.1.10] served: true
	// my-db-x7k2p my-db-1 [10.42.2.11] served: true
	// my-db-x7k2p my-db-2 [10.42.3.12] served: false (ready: false)
	// A NXDOMAIN ttl 5
	// AAAA NXDOMAIN ttl 5
}
