package zone

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func packedFixture() *Slice {
	return &Slice{Namespace: "ns", Name: "web-abc", Service: "web", AddressType: IPv6,
		Ports: []Port{{Name: "http", Protocol: "TCP", Port: 80}},
		Endpoints: []Endpoint{
			{Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")},
				Hostname: "web-0", Ready: true, Serving: true, NodeName: "node-a", Zone: "zone-1", TargetRef: "Pod/web-0"},
			{Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::3")}, Terminating: true, TargetRef: "Pod/web-7d9f-x2"},
			{Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::4")}, Serving: true, NodeName: "node-b"},
		}}
}

// A packed slice gives back what it was made of, but for TriggerTime,
// which DNS never reads.
func TestPackRoundTrip(t *testing.T) {
	v4 := &Slice{Namespace: "ns", Name: "v4", Service: "web", AddressType: IPv4,
		Endpoints: []Endpoint{{Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}, Ready: true}, {Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.2")}}}}
	fqdn := &Slice{Namespace: "ns", Name: "f", Service: "web", AddressType: FQDN,
		Endpoints: []Endpoint{{Hostname: "x", Ready: true}}}
	full := packedFixture()
	full.TriggerTime = time.Now()
	for _, s := range []*Slice{full, v4, fqdn, {Namespace: "ns", Name: "empty", Service: "web", Endpoints: []Endpoint{}}} {
		want := *s
		want.TriggerTime = time.Time{}
		if got := pack(s).unpack(); !reflect.DeepEqual(got, &want) {
			t.Errorf("%s: unpacked\n%+v\nwant\n%+v", s.Name, got, &want)
		}
	}
}

// samePacked tells every change apart, field by field.
func TestSamePacked(t *testing.T) {
	base := pack(packedFixture())
	if !samePacked(base, pack(packedFixture())) {
		t.Fatal("equal slices packed differently")
	}
	changes := map[string]func(s *Slice){
		"name":      func(s *Slice) { s.Name = "other" },
		"service":   func(s *Slice) { s.Service = "other" },
		"port":      func(s *Slice) { s.Ports = []Port{{Name: "http", Protocol: "TCP", Port: 81}} },
		"address":   func(s *Slice) { s.Endpoints[1].Addresses[0] = netip.MustParseAddr("2001:db8::9") },
		"addresses": func(s *Slice) { s.Endpoints[0].Addresses = s.Endpoints[0].Addresses[:1] },
		"moved": func(s *Slice) {
			s.Endpoints[0].Addresses, s.Endpoints[1].Addresses = s.Endpoints[1].Addresses, s.Endpoints[0].Addresses
		},
		"hostname":    func(s *Slice) { s.Endpoints[0].Hostname = "web-1" },
		"host/ref":    func(s *Slice) { s.Endpoints[0].Hostname, s.Endpoints[0].TargetRef = "web-0P", "od/web-0" },
		"targetRef":   func(s *Slice) { s.Endpoints[1].TargetRef = "Pod/other" },
		"pod ref":     func(s *Slice) { s.Endpoints[0].TargetRef = "Pod/web-1" },
		"no pod ref":  func(s *Slice) { s.Endpoints[0].TargetRef = "" },
		"ref as host": func(s *Slice) { s.Endpoints[0].Hostname, s.Endpoints[0].TargetRef = "web-0Pod", "/web-0" },
		"ready":       func(s *Slice) { s.Endpoints[1].Ready = true },
		"serving":     func(s *Slice) { s.Endpoints[1].Serving = true },
		"terminating": func(s *Slice) { s.Endpoints[0].Terminating = true },
		"node":        func(s *Slice) { s.Endpoints[2].NodeName = "node-c" },
		"zone":        func(s *Slice) { s.Endpoints[2].Zone = "zone-2" },
		"endpoints":   func(s *Slice) { s.Endpoints = s.Endpoints[:2] },
	}
	for what, change := range changes {
		s := packedFixture()
		change(s)
		if samePacked(base, pack(s)) {
			t.Errorf("%s: a changed slice packs the same", what)
		}
	}
}

// compareNames orders as comparing the names themselves would.
func TestCompareNames(t *testing.T) {
	z := New()
	z.UpsertService(&Service{Namespace: "ns", Name: "a", Type: Headless})
	z.UpsertService(&Service{Namespace: "ns", Name: "a-b", Type: Headless})
	for _, svc := range []string{"a", "a-b"} {
		z.UpsertSlice(&Slice{Namespace: "ns", Name: svc + "-1", Service: svc, AddressType: IPv4,
			Ports: []Port{{Name: "p", Protocol: "TCP", Port: 1}},
			Endpoints: []Endpoint{
				{Hostname: "x", Ready: true, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
				{Hostname: "x-y", Ready: true, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.2")}},
				{Ready: true, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.3")}},
			}})
	}
	s := z.Snapshot()
	var nodes []Node
	for _, name := range []string{"a.ns.svc", "a-b.ns.svc", "x.a.ns.svc", "x-y.a.ns.svc", "10-0-0-3.a.ns.svc",
		"x.a-b.ns.svc", "_p._tcp.a.ns.svc", "_tcp.a-b.ns.svc", ""} {
		n, ok := s.Lookup(name)
		if !ok || n.Name() != name {
			t.Fatalf("Lookup(%q) = %q, %v", name, n.Name(), ok)
		}
		nodes = append(nodes, n)
	}
	for _, a := range nodes {
		for _, b := range nodes {
			got, want := compareNames(a, b), strings.Compare(a.Name(), b.Name())
			if (got < 0) != (want < 0) || (got == 0) != (want == 0) {
				t.Errorf("compareNames(%q, %q) = %d, strings.Compare says %d", a.Name(), b.Name(), got, want)
			}
		}
	}
}
