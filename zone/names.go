package zone

import (
	"hash/maphash"
	"net/netip"
	"strings"
)

// EndpointName is the DNS label an endpoint is published under: its hostname,
// or else its address with '.' or ':' turned into '-' (as CoreDNS does, so
// names stay the same when a cluster moves between the two).
func EndpointName(hostname string, addr netip.Addr) string {
	if hostname != "" {
		return hostname
	}
	if addr.Is4() {
		return strings.ReplaceAll(addr.String(), ".", "-")
	}
	name := strings.ReplaceAll(addr.String(), ":", "-")
	if strings.HasSuffix(name, "-") {
		name += "0"
	}
	return name
}

// serviceKey is a Service's key in the zone: "<name>.<namespace>", which is
// also how those two labels read in a query, so a lookup can key the map
// with a substring of the query name.
func serviceKey(namespace, name string) string { return name + "." + namespace }

// srvLabel is the two-label prefix of an SRV name: "_<port>._<proto>".
func srvLabel(p Port) string { return "_" + p.Name + "._" + strings.ToLower(string(p.Protocol)) }

var hashSeed = maphash.MakeSeed()

// stringHasher hashes map keys without boxing them, keeping lookups
// allocation-free.
type stringHasher struct{}

func (stringHasher) Hash(k string) uint32   { return uint32(maphash.String(hashSeed, k)) }
func (stringHasher) Equal(a, b string) bool { return a == b }

type addrHasher struct{}

// addrHasher hashes addresses in their 16-byte form.
func (addrHasher) Hash(k [16]byte) uint32   { return uint32(maphash.Bytes(hashSeed, k[:])) }
func (addrHasher) Equal(a, b [16]byte) bool { return a == b }
