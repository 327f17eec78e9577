package dns

import (
	"net/netip"
	"strings"

	"github.com/slicedns/slicedns/zone"
)

// isPodName reports whether rel is "pod" or under it.
func isPodName(rel string) bool { return rel == "pod" || strings.HasSuffix(rel, ".pod") }

// podLookup answers the names under pod.<zone> the way CoreDNS's "pods
// insecure" does: <a-b-c-d>.<namespace>.pod holds the address its first label
// spells (2001-db8--1 for IPv6), whether or not a pod has it. Namespaces are
// not checked either: slicedns does not watch them. "pod" and
// "<namespace>.pod" are empty non-terminals. isPod is false for names
// outside pod.<zone>.
func podLookup(rel string) (n zone.Node, exists, isPod bool) {
	if !isPodName(rel) {
		return zone.Node{}, false, false
	}
	labels := strings.Split(rel, ".")
	switch len(labels) {
	case 1, 2:
		return zone.EmptyNode(), true, true
	case 3:
		ip, ok := podAddr(labels[0])
		if !ok {
			return zone.Node{}, false, true
		}
		return zone.NewAddressNode(rel, ip), true, true
	}
	return zone.Node{}, false, true
}

// podAddr reads a dashed address label, as CoreDNS does: three dashes and
// no "--" is IPv4, anything else IPv6.
func podAddr(label string) (netip.Addr, bool) {
	if strings.Count(label, "-") == 3 && !strings.Contains(label, "--") {
		ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", "."))
		return ip, err == nil && ip.Is4()
	}
	ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":"))
	return ip, err == nil && ip.Is6() && ip.Zone() == ""
}
