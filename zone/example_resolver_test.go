package zone_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/slicedns/slicedns/zone"
)

// shop is a zone fed by hand: a headless Service with two pods, one not
// ready, a ClusterIP Service and an ExternalName Service.
func shop() *zone.Zone {
	z := zone.New()
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(z.UpsertService(&zone.Service{Namespace: "shop", Name: "db", Type: zone.Headless}))
	must(z.UpsertSlice(&zone.Slice{
		Namespace: "shop", Name: "db-x7k2p", Service: "db", AddressType: zone.IPv4,
		Ports: []zone.Port{{Name: "pg", Protocol: "TCP", Port: 5432}},
		Endpoints: []zone.Endpoint{
			{Hostname: "db-0", Ready: true, NodeName: "node-a", TargetRef: "Pod/db-0",
				Addresses: []netip.Addr{netip.MustParseAddr("10.42.1.10")}},
			{Hostname: "db-1", Ready: false, NodeName: "node-b", TargetRef: "Pod/db-1",
				Addresses: []netip.Addr{netip.MustParseAddr("10.42.2.11")}},
		},
	}))
	must(z.UpsertService(&zone.Service{Namespace: "shop", Name: "web", Type: zone.ClusterIP,
		ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.20"), netip.MustParseAddr("fd00::20")},
		Ports:      []zone.Port{{Name: "http", Protocol: "TCP", Port: 80}}}))
	must(z.UpsertService(&zone.Service{Namespace: "shop", Name: "payments", Type: zone.ExternalName,
		ExternalName: "payments.example.com"}))
	return z
}

// A Resolver answers like net.Resolver, from the zone and without sockets.
func ExampleResolver_LookupHost() {
	r := &zone.Resolver{Zone: shop()}
	ctx := context.Background()

	addrs, err := r.LookupHost(ctx, "web.shop.svc.cluster.local")
	fmt.Println(addrs, err)
	addrs, err = r.LookupHost(ctx, "DB.Shop.svc") // relative, any case
	fmt.Println(addrs, err)

	// db-1 is not ready, so its name does not exist.
	_, err = r.LookupHost(ctx, "db-1.db.shop.svc.cluster.local.")
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		fmt.Println("not found:", dnsErr.Name)
	}
	// Output:
	// [10.96.0.20 fd00::20] <nil>
	// [10.42.1.10] <nil>
	// not found: db-1.db.shop.svc.cluster.local.
}

func ExampleResolver_LookupSRV() {
	r := &zone.Resolver{Zone: shop()}
	cname, srvs, err := r.LookupSRV(context.Background(), "pg", "tcp", "db.shop.svc.cluster.local")
	if err != nil {
		panic(err)
	}
	fmt.Println(cname)
	for _, s := range srvs {
		fmt.Println(s.Target, s.Port, s.Priority, s.Weight)
	}
	// Output:
	// _pg._tcp.db.shop.svc.cluster.local.
	// db-0.db.shop.svc.cluster.local. 5432 0 100
}

// Resolve tells where each address comes from: the endpoint (and through
// it the pod and node) or, for a ClusterIP, the Service alone.
func ExampleResolver_Resolve() {
	r := &zone.Resolver{Zone: shop()}
	for _, name := range []string{"db.shop.svc", "web.shop.svc", "payments.shop.svc"} {
		res, err := r.Resolve(context.Background(), name)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s (%s Service %s/%s)\n", res.Name, res.Service.Type, res.Service.Namespace, res.Service.Name)
		for _, a := range res.Addresses {
			if a.Endpoint == nil {
				fmt.Println("  ", a.IP, "cluster IP")
				continue
			}
			fmt.Println("  ", a.IP, a.Endpoint.TargetRef, "on", a.Endpoint.NodeName)
		}
		if res.CNAME != "" {
			fmt.Println("   CNAME", res.CNAME)
		}
	}
	// Output:
	// db.shop.svc.cluster.local. (Headless Service shop/db)
	//    10.42.1.10 Pod/db-0 on node-a
	// web.shop.svc.cluster.local. (ClusterIP Service shop/web)
	//    10.96.0.20 cluster IP
	//    fd00::20 cluster IP
	// payments.shop.svc.cluster.local. (ExternalName Service shop/payments)
	//    CNAME payments.example.com.
}

// Service and NamespacesWithService show what the zone holds, served or
// not: the raw material of `slicedns explain`.
func ExampleSnapshot_Service() {
	snap := shop().Snapshot()
	st, _ := snap.Service("shop", "db")
	for _, sl := range st.Slices {
		for _, e := range sl.Endpoints {
			fmt.Println(sl.Name, e.Hostname, "ready:", e.Ready)
		}
	}
	if _, ok := snap.Service("default", "db"); !ok {
		fmt.Println("no db in default; db is in", snap.NamespacesWithService("db"))
	}
	// Output:
	// db-x7k2p db-0 ready: true
	// db-x7k2p db-1 ready: false
	// no db in default; db is in [shop]
}
