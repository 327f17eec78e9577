package zone

import (
	"net/netip"
	"strings"
)

// IsPodName reports whether rel, a name relative to the zone apex as Lookup
// takes it, is "pod" or under it.
func IsPodName(rel string) bool { return rel == "pod" || strings.HasSuffix(rel, ".pod") }

// LookupPod looks up the names under pod.<zone> the way CoreDNS's "pods
// insecure" answers them (the DNS specification 1.1.0, 2.5, deprecates them
// but requires them): <a-b-c-d>.<namespace>.pod holds the address its first
// label spells (2001-db8--1 for IPv6), whether or not a pod has it.
// Namespaces are not checked either: the zone holds no Namespaces. "pod" and
// "<namespace>.pod" are empty non-terminals. isPod is false for names
// outside pod.<zone>, which Lookup answers; the zone itself holds no pod
// names, so answering them is the caller's choice. It allocates the node.
func LookupPod(rel string) (n Node, exists, isPod bool) {
	if !IsPodName(rel) {
		return Node{}, false, false
	}
	labels := strings.Split(rel, ".")
	switch len(labels) {
	case 1, 2:
		return EmptyNode(), true, true
	case 3:
		ip, ok := podAddr(labels[0])
		if !ok {
			return Node{}, false, true
		}
		return NewAddressNode(rel, ip), true, true
	}
	return Node{}, false, true
}

// PodIPv4 is LookupPod's address for a pod name whose label spells an IPv4
// address ("10-42-0-12.default.pod"), without allocating, for a server's
// fast path; ok is false for every other name, IPv6 pod names among them.
func PodIPv4(rel string) (ip [4]byte, ok bool) {
	label, rest, found := strings.Cut(rel, ".")
	if !found || strings.Count(rest, ".") != 1 || !strings.HasSuffix(rest, ".pod") {
		return ip, false
	}
	for i := range 4 {
		part := label
		if i < 3 {
			var more bool
			part, label, more = strings.Cut(label, "-")
			if !more {
				return ip, false
			}
		}
		// As netip.ParseAddr: one to three digits, no leading zero, <= 255.
		if len(part) == 0 || len(part) > 3 || (len(part) > 1 && part[0] == '0') {
			return ip, false
		}
		v := 0
		for _, c := range []byte(part) {
			if c < '0' || c > '9' {
				return ip, false
			}
			v = v*10 + int(c-'0')
		}
		if v > 255 {
			return ip, false
		}
		ip[i] = byte(v)
	}
	return ip, true
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
