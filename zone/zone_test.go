package zone_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slicedns/slicedns/zone"
)

// ep builds a normalised endpoint; an empty host means "no hostname".
func ep(host string, ready bool, addrs ...string) zone.Endpoint {
	e := zone.Endpoint{Hostname: host, Ready: ready, Serving: ready}
	for _, a := range addrs {
		e.Addresses = append(e.Addresses, netip.MustParseAddr(a))
	}
	return e
}

func headless(ns, name string) *zone.Service {
	return &zone.Service{Namespace: ns, Name: name, Type: zone.Headless}
}

func clusterIP(ns, name string, ips ...string) *zone.Service {
	s := &zone.Service{Namespace: ns, Name: name, Type: zone.ClusterIP}
	for _, ip := range ips {
		s.ClusterIPs = append(s.ClusterIPs, netip.MustParseAddr(ip))
	}
	return s
}

func slice(ns, name, svc string, at zone.AddressType, ports []zone.Port, eps ...zone.Endpoint) *zone.Slice {
	return &zone.Slice{Namespace: ns, Name: name, Service: svc, AddressType: at, Ports: ports, Endpoints: eps}
}

var cql = []zone.Port{{Name: "cql", Protocol: "TCP", Port: 9042}}

// build feeds objects (*zone.Service or *zone.Slice) to a new zone.
func build(t testing.TB, objs ...any) *zone.Zone {
	t.Helper()
	z := zone.New()
	feed(t, z, objs...)
	return z
}

func feed(t testing.TB, z *zone.Zone, objs ...any) {
	t.Helper()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *zone.Service:
			err = z.UpsertService(o)
		case *zone.Slice:
			err = z.UpsertSlice(o)
		default:
			t.Fatalf("feed: unexpected %T", o)
		}
		if err != nil {
			t.Fatalf("feed: %v", err)
		}
	}
}

// render describes what a name holds in one sorted line, so that tables can
// state expectations as text: "NXDOMAIN", "" for an empty non-terminal, or
// records such as "A 10.0.0.1; SRV 0 100 80 x.ns.svc".
func render(s *zone.Snapshot, name string) string {
	n, ok := s.Lookup(name)
	if !ok {
		if n != (zone.Node{}) {
			return "NXDOMAIN with a node"
		}
		return "NXDOMAIN"
	}
	var rr []string
	for a := range n.A().All() {
		rr = append(rr, "A "+a.String())
	}
	for a := range n.AAAA().All() {
		rr = append(rr, "AAAA "+a.String())
	}
	for _, r := range n.SRV() {
		rr = append(rr, fmt.Sprintf("SRV %d %d %d %s", r.Priority, r.Weight, r.Port, n.Target(r).Name()))
	}
	if n.CNAME() != "" {
		rr = append(rr, "CNAME "+n.CNAME())
	}
	for _, t := range n.TXT() {
		rr = append(rr, "TXT "+t)
	}
	slices.Sort(rr)
	return strings.Join(rr, "; ")
}

// A nil object is an error to return, not a panic in the caller's goroutine.
func TestUpsertRejectsNil(t *testing.T) {
	z := zone.New()
	if err := z.UpsertService(nil); err == nil {
		t.Error("UpsertService(nil) succeeded")
	}
	if err := z.UpsertSlice(nil); err == nil {
		t.Error("UpsertSlice(nil) succeeded")
	}
}

func TestUpsertRejectsInvalid(t *testing.T) {
	bad := []any{
		&zone.Service{Namespace: "default", Name: "My-Svc", Type: zone.Headless},
		&zone.Service{Namespace: "", Name: "svc", Type: zone.Headless},
		&zone.Service{Namespace: "default", Name: "svc", Type: zone.ClusterIP},
		&zone.Service{Namespace: "default", Name: "svc", Type: zone.ClusterIP, ClusterIPs: []netip.Addr{{}}},
		&zone.Service{Namespace: "default", Name: "svc", Type: zone.ClusterIP, ClusterIPs: []netip.Addr{netip.MustParseAddr("fe80::1%eth0")}},
		&zone.Service{Namespace: "default", Name: "svc", Type: zone.ExternalName, ExternalName: "bad..name"},
		&zone.Service{Namespace: "default", Name: "svc", Type: 9},
		&zone.Service{Namespace: "default", Name: "svc", Type: zone.Headless,
			Ports: []zone.Port{{Name: "Port_Name", Protocol: "TCP", Port: 1}}},
		&zone.Service{Namespace: "default", Name: "svc", Type: zone.Headless,
			Ports: []zone.Port{{Name: "http", Protocol: "HTTP", Port: 80}}},
		slice("default", "s", "", zone.IPv4, nil),
		slice("default", "", "svc", zone.IPv4, nil),
		slice("default", "s", "svc", zone.IPv4, nil, ep("", true)),
		slice("default", "s", "svc", zone.IPv4, nil, ep("", true, "2001:db8::1")),
		slice("default", "s", "svc", zone.IPv6, nil, ep("", true, "10.0.0.1")),
		slice("default", "s", "svc", zone.IPv6, nil, ep("", true, "::ffff:10.0.0.1")),
		slice("default", "s", "svc", zone.IPv6, nil, ep("", true, "fe80::1%eth0")),
		slice("default", "s", "svc", zone.IPv4, nil, ep("Web_0", true, "10.0.0.1")),
		slice("default", "s", "svc", zone.IPv4, []zone.Port{{Name: "_x", Protocol: "TCP"}}),
		slice("default", "s", "svc", zone.AddressType(7), nil),
	}
	for i, o := range bad {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			z := build(t, headless("default", "svc"), slice("default", "s", "svc", zone.IPv4, cql, ep("web-0", true, "10.0.0.9")))
			before := z.Snapshot()
			var err error
			switch o := o.(type) {
			case *zone.Service:
				err = z.UpsertService(o)
			case *zone.Slice:
				err = z.UpsertSlice(o)
			}
			if err == nil {
				t.Fatalf("Upsert(%+v) succeeded", o)
			}
			if z.Snapshot() != before {
				t.Fatal("a refused Upsert published a new snapshot")
			}
			if got := render(z.Snapshot(), "svc.default.svc"); got != "A 10.0.0.9; SRV 0 100 9042 web-0.svc.default.svc" {
				t.Fatalf("zone changed: svc.default.svc = %q", got)
			}
		})
	}
}

// Port names need only be DNS labels, as the API server checks those of
// Services and EndpointSlices (15 characters is a container port's limit).
func TestPortNamesUpToALabel(t *testing.T) {
	long := strings.Repeat("m", 61) + "x" // "_" and 62: the longest SRV label
	z := build(t, headless("default", "svc"),
		slice("default", "s", "svc", zone.IPv4, []zone.Port{{Name: long, Protocol: "TCP", Port: 9100}}, ep("web-0", true, "10.0.0.9")))
	if got := render(z.Snapshot(), "_"+long+"._tcp.svc.default.svc"); got != "SRV 0 100 9100 web-0.svc.default.svc" {
		t.Errorf("SRV for a 62-character slice port name: %q", got)
	}
	// 63 characters: the slice is served, though no query can name its
	// port's SRV records (a label of 64 octets).
	if err := z.UpsertSlice(slice("default", "s", "svc", zone.IPv4, []zone.Port{{Name: long + "y", Protocol: "TCP", Port: 9100}}, ep("web-0", true, "10.0.0.9"))); err != nil {
		t.Errorf("a 63-character port name was refused: %v", err)
	}
	if got := render(z.Snapshot(), "web-0.svc.default.svc"); got != "A 10.0.0.9" {
		t.Errorf("with a 63-character port name, web-0 = %q", got)
	}
	if err := z.UpsertSlice(slice("default", "s", "svc", zone.IPv4, []zone.Port{{Name: long + "yz", Protocol: "TCP"}})); err == nil {
		t.Error("a 64-character port name was accepted")
	}
	// A ClusterIP Service's SRV records come from its own ports.
	if err := z.UpsertService(&zone.Service{Namespace: "default", Name: "web", Type: zone.ClusterIP,
		ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.9")}, Ports: []zone.Port{{Name: long, Protocol: "TCP", Port: 80}}}); err != nil {
		t.Fatalf("a Service port name of 62 characters was refused: %v", err)
	}
	if got := render(z.Snapshot(), "_"+long+"._tcp.web.default.svc"); got != "SRV 0 100 80 web.default.svc" {
		t.Errorf("SRV for a 62-character Service port name: %q", got)
	}
	for _, bad := range []string{long + "yz", "Upper", "-dash"} {
		if err := z.UpsertService(&zone.Service{Namespace: "default", Name: "web", Type: zone.Headless,
			Ports: []zone.Port{{Name: bad, Protocol: "TCP", Port: 1}}}); err == nil {
			t.Errorf("a Service port name %q was accepted", bad)
		}
	}
}

// Two ready endpoints with one address and different hostnames (hostNetwork
// pods on one node): each hostname gets its records, SRV target and PTR,
// as the specification asks for every ready endpoint with a hostname; the
// Service lists the address once. The same endpoint in two slices is still
// one name.
func TestSharedAddressKeepsEveryHostname(t *testing.T) {
	z := build(t, headless("ns", "web"),
		slice("ns", "web-a", "web", zone.IPv4, cql, ep("web-0", true, "10.0.0.1"), ep("web-1", true, "10.0.0.1"), ep("web-2", true, "10.0.0.2")),
		slice("ns", "web-b", "web", zone.IPv4, cql, ep("web-0", true, "10.0.0.1"), ep("", true, "10.0.0.2")),
		slice("ns", "web-v6", "web", zone.IPv6, cql, ep("web-1", true, "2001:db8::1"), ep("web-3", true, "2001:db8::1")))
	snap := z.Snapshot()
	for name, want := range map[string]string{
		"web.ns.svc": "A 10.0.0.1; A 10.0.0.2; AAAA 2001:db8::1; SRV 0 25 9042 web-0.web.ns.svc; " +
			"SRV 0 25 9042 web-1.web.ns.svc; SRV 0 25 9042 web-2.web.ns.svc; SRV 0 25 9042 web-3.web.ns.svc",
		"web-0.web.ns.svc": "A 10.0.0.1",
		"web-1.web.ns.svc": "A 10.0.0.1; AAAA 2001:db8::1",
		"web-2.web.ns.svc": "A 10.0.0.2",
		"web-3.web.ns.svc": "AAAA 2001:db8::1",
	} {
		if got := render(snap, name); got != want {
			t.Errorf("%s = %q\nwant %q", name, got, want)
		}
	}
	// Each name's address is traced to its own endpoint (explain, Resolver).
	for name, want := range map[string]struct {
		ip    string
		slice string
		at    int
	}{
		"web-0.web.ns.svc": {"10.0.0.1", "web-a", 0},
		"web-1.web.ns.svc": {"10.0.0.1", "web-a", 1},
		"web.ns.svc":       {"10.0.0.1", "web-a", 0},
		"web-3.web.ns.svc": {"2001:db8::1", "web-v6", 1},
	} {
		n, _ := snap.Lookup(name)
		if sl, at, ok := n.Origin(netip.MustParseAddr(want.ip)); !ok || sl != want.slice || at != want.at {
			t.Errorf("%s: %s traced to %s[%d] (%v), want %s[%d]", name, want.ip, sl, at, ok, want.slice, want.at)
		}
	}
	for ip, want := range map[string][]string{
		"10.0.0.1":    {"web-0.web.ns.svc", "web-1.web.ns.svc"},
		"10.0.0.2":    {"web-2.web.ns.svc"},
		"2001:db8::1": {"web-1.web.ns.svc", "web-3.web.ns.svc"},
	} {
		var got []string
		for _, n := range snap.LookupAddr(netip.MustParseAddr(ip)) {
			got = append(got, n.Name())
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("PTR %s = %v, want %v", ip, got, want)
		}
	}
}

func TestZoneChanges(t *testing.T) {
	svcA, svcB := headless("default", "a"), headless("default", "b")
	moving := slice("default", "s1", "a", zone.IPv4, cql, ep("pod-1", true, "10.0.0.1"))
	moved := slice("default", "s1", "b", zone.IPv4, cql, ep("pod-1", true, "10.0.0.1"))
	other := slice("default", "s2", "a", zone.IPv4, cql, ep("pod-2", true, "10.0.0.2"))
	tests := []struct {
		name  string
		steps func(t *testing.T, z *zone.Zone)
		want  map[string]string
	}{{
		name:  "slice moves to another Service when its label changes",
		steps: func(t *testing.T, z *zone.Zone) { feed(t, z, svcA, svcB, moving, other, moved) },
		want: map[string]string{
			"a.default.svc": "A 10.0.0.2; SRV 0 100 9042 pod-2.a.default.svc", "pod-1.a.default.svc": "NXDOMAIN",
			"b.default.svc": "A 10.0.0.1; SRV 0 100 9042 pod-1.b.default.svc", "pod-1.b.default.svc": "A 10.0.0.1",
		},
	}, {
		name: "moved slice deleted from its new Service only",
		steps: func(t *testing.T, z *zone.Zone) {
			feed(t, z, svcA, svcB, moving, other, moved)
			z.DeleteSlice("default", "s1")
		},
		want: map[string]string{"a.default.svc": "A 10.0.0.2; SRV 0 100 9042 pod-2.a.default.svc", "b.default.svc": "NXDOMAIN"},
	}, {
		name: "deleting a slice keeps the others",
		steps: func(t *testing.T, z *zone.Zone) {
			feed(t, z, svcA, moving, other)
			z.DeleteSlice("default", "s1")
			z.DeleteSlice("default", "nope")
		},
		want: map[string]string{"a.default.svc": "A 10.0.0.2; SRV 0 100 9042 pod-2.a.default.svc", "pod-1.a.default.svc": "NXDOMAIN"},
	}, {
		name: "deleting the last slice of a headless Service",
		steps: func(t *testing.T, z *zone.Zone) {
			feed(t, z, svcA, moving)
			z.DeleteSlice("default", "s1")
		},
		want: map[string]string{"a.default.svc": "NXDOMAIN", "default.svc": ""},
	}, {
		name: "deleted Service with lingering slices answers nothing",
		steps: func(t *testing.T, z *zone.Zone) {
			feed(t, z, svcA, moving)
			z.DeleteService("default", "a")
			z.DeleteService("default", "never")
		},
		want: map[string]string{
			"a.default.svc": "NXDOMAIN", "pod-1.a.default.svc": "NXDOMAIN",
			"_cql._tcp.a.default.svc": "NXDOMAIN", "default.svc": "NXDOMAIN", "svc": "NXDOMAIN",
		},
	}, {
		name: "Service coming back finds its lingering slices",
		steps: func(t *testing.T, z *zone.Zone) {
			feed(t, z, svcA, moving)
			z.DeleteService("default", "a")
			feed(t, z, svcA)
		},
		want: map[string]string{"a.default.svc": "A 10.0.0.1; SRV 0 100 9042 pod-1.a.default.svc"},
	}, {
		name:  "slices before their Service answer nothing",
		steps: func(t *testing.T, z *zone.Zone) { feed(t, z, moving) },
		want:  map[string]string{"a.default.svc": "NXDOMAIN", "pod-1.a.default.svc": "NXDOMAIN", "default.svc": "NXDOMAIN"},
	}, {
		name:  "then the Service arrives",
		steps: func(t *testing.T, z *zone.Zone) { feed(t, z, moving, svcA) },
		want:  map[string]string{"a.default.svc": "A 10.0.0.1; SRV 0 100 9042 pod-1.a.default.svc", "_cql._tcp.a.default.svc": "SRV 0 100 9042 pod-1.a.default.svc"},
	}, {
		name: "Service turns from headless to ClusterIP",
		steps: func(t *testing.T, z *zone.Zone) {
			feed(t, z, svcA, moving, clusterIP("default", "a", "10.96.0.5"))
		},
		want: map[string]string{"a.default.svc": "A 10.96.0.5", "_cql._tcp.a.default.svc": "NXDOMAIN"},
	}, {
		name: "endpoint turns not ready",
		steps: func(t *testing.T, z *zone.Zone) {
			feed(t, z, svcA, moving, other, slice("default", "s2", "a", zone.IPv4, cql, ep("pod-2", false, "10.0.0.2")))
		},
		want: map[string]string{"a.default.svc": "A 10.0.0.1; SRV 0 100 9042 pod-1.a.default.svc", "pod-2.a.default.svc": "NXDOMAIN"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z := zone.New()
			tc.steps(t, z)
			for name, want := range tc.want {
				if got := render(z.Snapshot(), name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestSnapshotsAreImmutable(t *testing.T) {
	z := build(t, headless("default", "a"), slice("default", "s1", "a", zone.IPv4, cql, ep("pod-1", true, "10.0.0.1")))
	old := z.Snapshot()
	oldNode, _ := old.Lookup("a.default.svc")
	oldSerial := old.Modified()

	feed(t, z, slice("default", "s1", "a", zone.IPv4, cql, ep("pod-1", true, "10.0.0.1"), ep("pod-2", true, "10.0.0.2")))
	feed(t, z, headless("default", "b"), slice("default", "s9", "b", zone.IPv4, nil, ep("", true, "10.0.0.9")))
	z.DeleteSlice("default", "s1")

	if got := render(old, "a.default.svc"); got != "A 10.0.0.1; SRV 0 100 9042 pod-1.a.default.svc" {
		t.Errorf("old snapshot: a.default.svc = %q", got)
	}
	for _, name := range []string{"pod-2.a.default.svc", "b.default.svc"} {
		if got := render(old, name); got != "NXDOMAIN" {
			t.Errorf("old snapshot: %s = %q", name, got)
		}
	}
	if n, _ := old.Lookup("a.default.svc"); n != oldNode || n.A().Len() != 1 {
		t.Error("old snapshot's node was replaced or changed")
	}
	if old.Modified() != oldSerial || old.Stats() != (zone.Stats{Services: 1, ReadyEndpoints: 1}) {
		t.Errorf("old snapshot metadata changed: %v %+v", old.Modified(), old.Stats())
	}
	now := z.Snapshot()
	if got := render(now, "a.default.svc"); got != "NXDOMAIN" {
		t.Errorf("new snapshot: a.default.svc = %q", got)
	}
	if got := render(now, "b.default.svc"); got != "A 10.0.0.9" {
		t.Errorf("new snapshot: b.default.svc = %q", got)
	}
	if now.Modified().Before(oldSerial) {
		t.Error("Modified went backwards")
	}
}

// An upsert equal to what the zone holds (a relist, a status-only update)
// must neither publish a snapshot nor swap the held object for the new one:
// the caller drops the new one, and only one copy stays in memory.
func TestUpsertUnchangedKeepsHeldObject(t *testing.T) {
	svc := headless("default", "a")
	sl := slice("default", "s1", "a", zone.IPv4, cql, ep("pod-1", true, "10.0.0.1"))
	z := build(t, svc, sl)
	before := z.Snapshot()
	held, _ := before.Service("default", "a")

	again := slice("default", "s1", "a", zone.IPv4, cql, ep("pod-1", true, "10.0.0.1"))
	again.TriggerTime = time.Now() // when it changed is not what it publishes
	feed(t, z, headless("default", "a"), again)
	if z.Snapshot() != before {
		t.Error("an unchanged Service or slice published a new snapshot")
	}
	st, _ := z.Snapshot().Service("default", "a")
	if st.Service != held.Service || len(st.Slices) != 1 || !reflect.DeepEqual(st.Slices[0].Endpoints, sl.Endpoints) {
		t.Errorf("the zone swapped its objects for equal ones: %p %+v, want %p %+v", st.Service, st.Slices[0], held.Service, sl)
	}
	// The zone keeps its own copy of a slice, not the caller's.
	sl.Endpoints[0].Addresses[0] = netip.MustParseAddr("10.9.9.9")
	sl.Endpoints[0].Hostname = "changed"
	if got := render(z.Snapshot(), "pod-1.a.default.svc"); got != "A 10.0.0.1" {
		t.Errorf("changing the caller's slice changed the zone: pod-1.a.default.svc = %q", got)
	}

	// A real change is published, and so is an equal slice filed under
	// another Service.
	changed := slice("default", "s1", "a", zone.IPv4, cql, ep("pod-1", false, "10.0.0.1"))
	feed(t, z, changed)
	if got := render(z.Snapshot(), "a.default.svc"); got != "NXDOMAIN" {
		t.Errorf("after the endpoint became not ready: a.default.svc = %q", got)
	}
	feed(t, z, headless("default", "b"), slice("default", "s1", "b", zone.IPv4, cql, ep("pod-1", false, "10.0.0.1")))
	if st, _ := z.Snapshot().Service("default", "a"); len(st.Slices) != 0 {
		t.Errorf("the slice that moved to Service b is still under a: %+v", st.Slices)
	}
}

func TestStats(t *testing.T) {
	z := build(t,
		headless("default", "a"), clusterIP("default", "c", "10.96.0.1"), headless("default", "idle"),
		slice("default", "a1", "a", zone.IPv4, nil, ep("", true, "10.0.0.1"), ep("", false, "10.0.0.2")),
		slice("default", "a2", "a", zone.IPv4, nil, ep("", true, "10.0.0.1"), ep("", true, "10.0.0.3")),
		slice("default", "ghost", "gone", zone.IPv4, nil, ep("", true, "10.0.0.4")),
	)
	if got, want := z.Snapshot().Stats(), (zone.Stats{Services: 3, ReadyEndpoints: 2}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	z.DeleteService("default", "a")
	if got, want := z.Snapshot().Stats(), (zone.Stats{Services: 2, ReadyEndpoints: 0}); got != want {
		t.Errorf("after delete: Stats = %+v, want %+v", got, want)
	}
}

func TestLookupAddr(t *testing.T) {
	z := build(t,
		headless("default", "db"), clusterIP("default", "api", "10.96.0.1", "fd00::1"), headless("other", "db"),
		slice("default", "db-1", "db", zone.IPv4, cql, ep("db-0", true, "10.0.0.1"), ep("", true, "10.0.0.2"), ep("db-2", false, "10.0.0.3")),
		slice("default", "db-2", "db", zone.IPv6, cql, ep("db-0", true, "2001:db8::1")),
		slice("other", "db-1", "db", zone.IPv4, nil, ep("", true, "10.0.0.1")),
	)
	names := func(ip string) string {
		var out []string
		for _, n := range z.Snapshot().LookupAddr(netip.MustParseAddr(ip)) {
			out = append(out, n.Name())
		}
		return strings.Join(out, " ")
	}
	check := func(ip, want string) {
		t.Helper()
		if got := names(ip); got != want {
			t.Errorf("LookupAddr(%s) = %q, want %q", ip, got, want)
		}
	}
	check("10.0.0.1", "10-0-0-1.db.other.svc db-0.db.default.svc")
	check("::ffff:10.0.0.1", "10-0-0-1.db.other.svc db-0.db.default.svc")
	check("10.0.0.2", "10-0-0-2.db.default.svc")
	check("10.0.0.3", "")
	check("2001:db8::1", "db-0.db.default.svc")
	check("10.96.0.1", "api.default.svc")
	check("fd00::1", "api.default.svc")
	check("192.0.2.1", "")

	feed(t, z, slice("default", "db-1", "db", zone.IPv4, cql, ep("db-2", true, "10.0.0.3")))
	z.DeleteService("other", "db")
	feed(t, z, clusterIP("default", "api", "10.96.0.2"))
	check("10.0.0.1", "")
	check("10.0.0.3", "db-2.db.default.svc")
	check("10.96.0.1", "")
	check("fd00::1", "")
	check("10.96.0.2", "api.default.svc")
}

// TestConcurrentReaders is for -race: readers never see a torn write.
func TestConcurrentReaders(t *testing.T) {
	z := build(t, headless("default", "a"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := z.Snapshot()
				if n, ok := s.Lookup("a.default.svc"); ok && n.A().Len() != 2 {
					t.Errorf("torn read: %d addresses", n.A().Len())
					return
				}
				s.LookupAddr(netip.MustParseAddr("10.0.0.1"))
			}
		})
	}
	for i := range 200 {
		feed(t, z, slice("default", "s", "a", zone.IPv4, nil,
			ep("", true, fmt.Sprintf("10.0.%d.1", i%200)), ep("", true, fmt.Sprintf("10.1.%d.1", i%200))))
	}
	close(stop)
	wg.Wait()
}

// The zone keeps its own copy of a Service: a caller that changes the one
// it passed and upserts it again (an embedder reusing its object) gets the
// change published, and snapshots taken before keep what they had.
func TestUpsertChangedServiceObject(t *testing.T) {
	svc := clusterIP("default", "web", "10.96.0.10")
	svc.Ports = []zone.Port{{Name: "http", Port: 80}} // no protocol: TCP
	z := build(t, svc)
	before := z.Snapshot()

	svc.ClusterIPs[0] = netip.MustParseAddr("10.96.0.11")
	if got := render(z.Snapshot(), "web.default.svc"); got != "A 10.96.0.10; SRV 0 100 80 web.default.svc" {
		t.Errorf("changing the caller's Service changed the zone: %q", got)
	}
	feed(t, z, svc)
	if got := render(z.Snapshot(), "web.default.svc"); got != "A 10.96.0.11; SRV 0 100 80 web.default.svc" {
		t.Errorf("after upserting the changed Service: %q", got)
	}
	if got := render(before, "web.default.svc"); got != "A 10.96.0.10; SRV 0 100 80 web.default.svc" {
		t.Errorf("the earlier snapshot changed: %q", got)
	}
	if got := render(z.Snapshot(), "_http._tcp.web.default.svc"); got != "SRV 0 100 80 web.default.svc" {
		t.Errorf("a port without protocol is not TCP: %q", got)
	}
	svc.Name = "NOT A LABEL"
	if err := z.UpsertService(svc); err == nil {
		t.Error("an invalid change to an upserted Service was accepted")
	}
}
