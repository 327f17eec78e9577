package zone_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/slicedns/slicedns/zone"
)

// Validate names the offending field as the API server does
// (endpoints[1].addresses[0]), so a manifest's author finds it without
// counting from zero or from one.
func TestValidateNamesTheField(t *testing.T) {
	ip := netip.MustParseAddr
	ok := zone.Endpoint{Addresses: []netip.Addr{ip("10.0.0.1")}, Ready: true}
	for _, tc := range []struct {
		ep   zone.Endpoint
		want string
	}{
		{zone.Endpoint{Addresses: []netip.Addr{ip("10.0.0.2")}, Hostname: "Not_A_Label"}, `endpoints[1].hostname "Not_A_Label" is not a DNS label`},
		{zone.Endpoint{}, "endpoints[1] has no address"},
		{zone.Endpoint{Addresses: []netip.Addr{ip("10.0.0.2"), ip("fd00::2")}}, "endpoints[1].addresses[1]: fd00::2 is not a valid IPv4 address"},
	} {
		s := &zone.Slice{Namespace: "ns", Name: "db-1", Service: "db", AddressType: zone.IPv4, Endpoints: []zone.Endpoint{ok, tc.ep}}
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want it to say %q", err, tc.want)
		}
	}
}

// An object without metadata.name says so, rather than that "" is no label.
func TestValidateNoName(t *testing.T) {
	svc := &zone.Service{Namespace: "team", Type: zone.Headless}
	if err := svc.Validate(); err == nil || !strings.Contains(err.Error(), "no name (metadata.name)") {
		t.Errorf("Service without a name: %v", err)
	}
	sl := &zone.Slice{Namespace: "team", Service: "db"}
	if err := sl.Validate(); err == nil || !strings.Contains(err.Error(), "no name (metadata.name)") {
		t.Errorf("EndpointSlice without a name: %v", err)
	}
}
