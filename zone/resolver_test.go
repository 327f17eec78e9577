package zone_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/slicedns/slicedns/zone"
)

func resolverFixture(t *testing.T) *zone.Zone {
	return build(t,
		headless("default", "db"),
		slice("default", "db-1", "db", zone.IPv4, cql, ep("db-0", true, "10.0.0.1"), ep("", true, "10.0.0.2")),
		slice("default", "db-2", "db", zone.IPv6, cql, ep("db-0", true, "2001:db8::1")),
		&zone.Service{Namespace: "default", Name: "alias", Type: zone.ExternalName, ExternalName: "db.default.svc.example.org"},
		&zone.Service{Namespace: "default", Name: "loop", Type: zone.ExternalName, ExternalName: "loop.default.svc.example.org."},
		&zone.Service{Namespace: "default", Name: "out", Type: zone.ExternalName, ExternalName: "db.example.com"},
		clusterIP("default", "api", "10.96.0.1"),
		headless("other", "db"),
		slice("orphans", "x-1", "x", zone.IPv4, nil, ep("", true, "10.0.9.9")),
	)
}

func TestResolverLookupHost(t *testing.T) {
	r := &zone.Resolver{Zone: resolverFixture(t), Domain: "Example.org.", FixedOrder: true}
	ctx := context.Background()
	tests := []struct{ host, want string }{
		{"db.default.svc", "10.0.0.1 10.0.0.2 2001:db8::1"},
		{"DB.default.SVC.example.org.", "10.0.0.1 10.0.0.2 2001:db8::1"},
		{"db-0.db.default.svc.example.org", "10.0.0.1 2001:db8::1"},
		{"10-0-0-2.db.default.svc", "10.0.0.2"},
		{"alias.default.svc", "10.0.0.1 10.0.0.2 2001:db8::1"}, // in-zone CNAME followed
		{"api.default.svc", "10.96.0.1"},
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
		{"db.other.svc", "not found"},             // headless, no endpoints: NXDOMAIN
		{"default.svc", "not found"},              // empty non-terminal
		{"_cql._tcp.db.default.svc", "not found"}, // NODATA
		{"x.orphans.svc", "not found"},            // slices without their Service
		{"db.default.svc.cluster.local", "not found"},
		{"out.default.svc", "error: CNAME to db.example.com., outside the cluster domain"},
		{"loop.default.svc", "error: too many CNAMEs"},
	}
	for _, tc := range tests {
		addrs, err := r.LookupHost(ctx, tc.host)
		got := strings.Join(addrs, " ")
		var de *net.DNSError
		switch {
		case err != nil && !errors.As(err, &de):
			got = fmt.Sprintf("%T %v", err, err)
		case err != nil && de.IsNotFound:
			got = "not found"
		case err != nil:
			got = "error: " + de.Err
		}
		if got != tc.want {
			t.Errorf("LookupHost(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
}

func TestResolverLookupSRV(t *testing.T) {
	r := &zone.Resolver{Zone: resolverFixture(t)}
	ctx := context.Background()
	for _, args := range [][3]string{{"cql", "tcp", "db.default.svc"}, {"", "", "_CQL._TCP.db.default.svc.cluster.local."}} {
		cname, srvs, err := r.LookupSRV(ctx, args[0], args[1], args[2])
		if err != nil {
			t.Fatalf("LookupSRV%q: %v", args, err)
		}
		var got []string
		for _, s := range srvs {
			got = append(got, fmt.Sprint(s.Target, " ", s.Port, " ", s.Priority, " ", s.Weight))
		}
		want := "db-0.db.default.svc.cluster.local. 9042 0 50, 10-0-0-2.db.default.svc.cluster.local. 9042 0 50"
		if cname != "_cql._tcp.db.default.svc.cluster.local." || strings.Join(got, ", ") != want {
			t.Errorf("LookupSRV%q = %q, %q", args, cname, got)
		}
	}
	for _, name := range []string{"db-0.db.default.svc", "_http._tcp.db.default.svc", "default.svc"} {
		var de *net.DNSError
		if _, _, err := r.LookupSRV(ctx, "", "", name); !errors.As(err, &de) || !de.IsNotFound {
			t.Errorf("LookupSRV(%q): err = %v, want not found", name, err)
		}
	}
}

func TestResolverResolve(t *testing.T) {
	r := &zone.Resolver{Zone: resolverFixture(t)}
	res, err := r.Resolve(context.Background(), "db-0.db.default.svc")
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "db-0.db.default.svc.cluster.local." || res.Service.Name != "db" || len(res.Addresses) != 2 ||
		res.Addresses[0].Endpoint.Hostname != "db-0" || res.Addresses[1].IP.String() != "2001:db8::1" {
		t.Errorf("Resolve = %+v", res)
	}
	res, err = r.Resolve(context.Background(), "api.default.svc")
	if err != nil || res.Addresses[0].Endpoint != nil || res.Service.Type != zone.ClusterIP {
		t.Errorf("Resolve(api) = %+v, %v", res, err)
	}
	res, err = r.Resolve(context.Background(), "dns-version")
	if err != nil || !slices.Equal(res.TXT, []string{zone.SpecVersion}) {
		t.Errorf("Resolve(dns-version) = %+v, %v", res, err)
	}
	res, err = r.Resolve(context.Background(), "out.default.svc")
	if err != nil || res.CNAME != "db.example.com." || len(res.Addresses) != 0 {
		t.Errorf("Resolve(out) = %+v, %v", res, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.Resolve(ctx, "db.default.svc")
	var de *net.DNSError
	if !errors.As(err, &de) || !errors.Is(err, context.Canceled) || de.IsNotFound {
		t.Errorf("Resolve with a cancelled context: %v", err)
	}
}

func TestServiceState(t *testing.T) {
	z := resolverFixture(t)
	feed(t, z, slice("default", "db-0", "db", zone.IPv4, nil, ep("", false, "10.0.0.3")))
	s := z.Snapshot()
	st, ok := s.Service("default", "db")
	if !ok || st.Service == nil || st.Service.Name != "db" {
		t.Fatalf("Service(default, db) = %+v, %v", st, ok)
	}
	var names []string
	for _, sl := range st.Slices {
		names = append(names, sl.Name)
	}
	if strings.Join(names, " ") != "db-0 db-1 db-2" {
		t.Errorf("slices = %v, want name order", names)
	}
	if st, ok := s.Service("orphans", "x"); !ok || st.Service != nil || len(st.Slices) != 1 {
		t.Errorf("Service(orphans, x) = %+v, %v; want slices without a Service", st, ok)
	}
	if _, ok := s.Service("default", "nope"); ok {
		t.Error("Service(default, nope) found")
	}
	if got := s.NamespacesWithService("db"); strings.Join(got, " ") != "default other" {
		t.Errorf("NamespacesWithService(db) = %v", got)
	}
	// Slices alone do not make a Service; nor does a prefix of a name.
	for _, name := range []string{"x", "d", "nope"} {
		if got := s.NamespacesWithService(name); len(got) != 0 {
			t.Errorf("NamespacesWithService(%s) = %v", name, got)
		}
	}
}

func TestSlicesNamingService(t *testing.T) {
	z := resolverFixture(t)
	feed(t, z, slice("default", "db-0", "db", zone.IPv4, nil, ep("", false, "10.0.0.3")))
	s := z.Snapshot()
	for _, tc := range []struct{ name, want string }{
		{"db", "default=db-0,db-1,db-2"},
		{"x", "orphans=x-1"}, // without a Service
		{"d", ""},            // a prefix of a name is not it
		{"api", ""},          // a Service without slices
	} {
		var got []string
		for ns, names := range s.SlicesNamingService(tc.name) {
			got = append(got, ns+"="+strings.Join(names, ","))
		}
		slices.Sort(got)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("SlicesNamingService(%s) = %v, want %q", tc.name, got, tc.want)
		}
	}
}

// TestResolverLookupHostRotates: without FixedOrder each family starts at a
// random address and keeps the zone's order after it, IPv4 before IPv6.
func TestResolverLookupHostRotates(t *testing.T) {
	z := zone.New()
	if err := z.UpsertService(&zone.Service{Namespace: "default", Name: "db", Type: zone.Headless}); err != nil {
		t.Fatal(err)
	}
	var v4, v6 []string
	for _, family := range []zone.AddressType{zone.IPv4, zone.IPv6} {
		s := &zone.Slice{Namespace: "default", Name: "db-" + strings.ToLower(string(family)), Service: "db", AddressType: family}
		for i := range 5 {
			a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
			if family == zone.IPv6 {
				a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)})
				v6 = append(v6, a.String())
			} else {
				v4 = append(v4, a.String())
			}
			s.Endpoints = append(s.Endpoints, zone.Endpoint{Ready: true, Addresses: []netip.Addr{a}})
		}
		if err := z.UpsertSlice(s); err != nil {
			t.Fatal(err)
		}
	}
	isRotation := func(got, of []string) bool {
		for k := range of {
			if slices.Equal(got, slices.Concat(of[k:], of[:k])) {
				return true
			}
		}
		return false
	}
	for _, fixed := range []bool{false, true} {
		r := &zone.Resolver{Zone: z, FixedOrder: fixed}
		firsts := map[string]bool{} // first IPv4 and first IPv6 addresses seen
		for range 200 {
			addrs, err := r.LookupHost(context.Background(), "db.default.svc")
			if err != nil {
				t.Fatal(err)
			}
			if len(addrs) != 10 || !isRotation(addrs[:5], v4) || !isRotation(addrs[5:], v6) {
				t.Fatalf("LookupHost = %v, want a rotation of %v then one of %v", addrs, v4, v6)
			}
			if fixed && (addrs[0] != v4[0] || addrs[5] != v6[0]) {
				t.Fatalf("FixedOrder: LookupHost = %v, want the zone's order", addrs)
			}
			firsts[addrs[0]], firsts[addrs[5]] = true, true
		}
		// Every address of either family first at least once in 200: an
		// address is never drawn with chance (4/5)^200, about 10^-19.
		if want := map[bool]int{false: 10, true: 2}[fixed]; len(firsts) != want {
			t.Errorf("FixedOrder=%v: %d different addresses came first in their family, want %d", fixed, len(firsts), want)
		}
	}
}

// TestResolverSearchAndPods: Namespace gives relative names a pod's search
// list, PodRecords answers pod names, and a name with a final dot outside
// the domain is not taken for a relative one. Errors name the host as given.
func TestResolverSearchAndPods(t *testing.T) {
	ctx := context.Background()
	z := resolverFixture(t)
	r := &zone.Resolver{Zone: z, Namespace: "default", PodRecords: true, FixedOrder: true}
	for _, tc := range []struct{ host, want string }{
		{"db", "10.0.0.1 10.0.0.2 2001:db8::1"}, // db.default.svc
		{"api.default", "10.96.0.1"},            // api.default.svc
		{"db-0.db", "10.0.0.1 2001:db8::1"},
		{"db.default.svc", "10.0.0.1 10.0.0.2 2001:db8::1"},
		{"10-1-2-3.default.pod", "10.1.2.3"},
		{"2001-db8--5.other.pod.cluster.local.", "2001:db8::5"},
		{"nope", "not found nope"},
		{"google.com.", "not found google.com."},
		{"", "not found "},
	} {
		addrs, err := r.LookupHost(ctx, tc.host)
		got := strings.Join(addrs, " ")
		if de := (*net.DNSError)(nil); errors.As(err, &de) && de.IsNotFound {
			got = "not found " + de.Name
		} else if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("LookupHost(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
	plain := &zone.Resolver{Zone: z}
	for _, host := range []string{"db", "10-1-2-3.default.pod"} {
		if _, err := plain.LookupHost(ctx, host); err == nil {
			t.Errorf("without Namespace and PodRecords, %q resolved", host)
		}
	}
}

func TestResolverLookupAddr(t *testing.T) {
	ctx := context.Background()
	r := &zone.Resolver{Zone: resolverFixture(t)}
	for _, tc := range []struct{ addr, want string }{
		{"10.0.0.1", "db-0.db.default.svc.cluster.local."},
		{"10.0.0.2", "10-0-0-2.db.default.svc.cluster.local."},
		{"2001:db8::1", "db-0.db.default.svc.cluster.local."},
		{"10.96.0.1", "api.default.svc.cluster.local."},
		{"10.0.9.9", "not found"}, // a slice without its Service
		{"192.0.2.1", "not found"},
		{"db.default.svc", "error"},
	} {
		names, err := r.LookupAddr(ctx, tc.addr)
		got := strings.Join(names, " ")
		if de := (*net.DNSError)(nil); errors.As(err, &de) && de.IsNotFound {
			got = "not found"
		} else if err != nil {
			got = "error"
		}
		if got != tc.want {
			t.Errorf("LookupAddr(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
