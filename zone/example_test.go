package zone_test

import (
	"fmt"
	"net/netip"

	"github.com/slicedns/slicedns/zone"
)

// A StatefulSet behind a headless Service: each pod has a stable name, and
// the SRV record lists the pods that are ready.
func Example() {
	z := zone.New()
	if err := z.UpsertService(&zone.Service{Namespace: "default", Name: "my-db", Type: zone.Headless}); err != nil {
		panic(err)
	}
	pod := func(name, ip string, ready bool) zone.Endpoint {
		return zone.Endpoint{Hostname: name, Ready: ready, Addresses: []netip.Addr{netip.MustParseAddr(ip)}}
	}
	err := z.UpsertSlice(&zone.Slice{
		Namespace: "default", Name: "my-db-x7k2p", Service: "my-db",
		AddressType: zone.IPv4,
		Ports:       []zone.Port{{Name: "cql", Protocol: "TCP", Port: 9042}},
		Endpoints: []zone.Endpoint{
			pod("my-db-0", "10.42.1.10", true),
			pod("my-db-1", "10.42.1.11", true),
			pod("my-db-2", "10.42.1.12", false), // still starting
		},
	})
	if err != nil {
		panic(err)
	}

	snap := z.Snapshot()
	if n, ok := snap.Lookup("my-db-1.my-db.default.svc"); ok {
		fmt.Println(n.Name(), "A", n.A().At(0))
	}
	if _, ok := snap.Lookup("my-db-2.my-db.default.svc"); !ok {
		fmt.Println("my-db-2.my-db.default.svc does not exist yet")
	}
	srv, _ := snap.Lookup("_cql._tcp.my-db.default.svc")
	for _, r := range srv.SRV() {
		fmt.Println(srv.Name(), "SRV", r.Priority, r.Weight, r.Port, srv.Target(r).Name())
	}
	// Output:
	// my-db-1.my-db.default.svc A 10.42.1.11
	// my-db-2.my-db.default.svc does not exist yet
	// _cql._tcp.my-db.default.svc SRV 0 50 9042 my-db-0.my-db.default.svc
	// _cql._tcp.my-db.default.svc SRV 0 50 9042 my-db-1.my-db.default.svc
}
