package dns

import (
	"net/netip"
	"slices"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/zone"
)

// Every zone's NS record and SOA name ns.dns.<zone>, CoreDNS's name for
// itself. Given the server's own addresses (Options.ServerAddrs), that name
// resolves as CoreDNS resolves it: to the addresses of every Service whose
// ready endpoints include one of them (in a cluster, the DNS Service's
// cluster IP), or to the server's addresses when no Service has them.
// Without them it does not exist, nor does dns.<zone>.

const (
	nsName   = "ns.dns" // relative to the zone
	nsParent = "dns"
)

// isNSName reports whether rel is a name that nsLookup answers.
func (h *Handler) isNSName(rel string) bool {
	return len(h.serverAddrs) > 0 && (rel == nsName || rel == nsParent)
}

// nsLookup looks up ns.dns and dns (an empty non-terminal); ok is false
// for every other name.
func (h *Handler) nsLookup(snap *zone.Snapshot, rel string) (n zone.Node, ok bool) {
	switch {
	case !h.isNSName(rel):
		return zone.Node{}, false
	case rel == nsParent:
		return zone.EmptyNode(), true
	}
	return zone.NewAddressNode(nsName, h.nsAddrs(snap)...), true
}

// nsAddrs returns the addresses ns.dns has in snap.
func (h *Handler) nsAddrs(snap *zone.Snapshot) []netip.Addr {
	var out []netip.Addr
	add := func(addrs zone.Addrs) {
		for a := range addrs.All() {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	for _, own := range h.serverAddrs {
		for _, n := range snap.LookupAddr(own) {
			svc := n.Service()
			if svc == nil {
				continue
			}
			// The Service's own name: its cluster IPs, or, headless, every
			// ready endpoint (each replica of the DNS server).
			if s, ok := snap.Lookup(svc.Name + "." + svc.Namespace + ".svc"); ok {
				add(s.A())
				add(s.AAAA())
			}
		}
	}
	if len(out) == 0 {
		return h.serverAddrs
	}
	return out
}

// nsGlue adds ns.dns's addresses to the additional section of an answer
// holding the NS record of zone z, as CoreDNS does.
func (h *Handler) nsGlue(m *mdns.Msg, z servedZone, snap *zone.Snapshot) {
	n, ok := h.nsLookup(snap, nsName)
	if !ok {
		return
	}
	owner := nsName + "." + z.fqdn
	m.Extra = h.appendAddrs(m.Extra, owner, n.A(), m.Id)
	m.Extra = h.appendAddrs(m.Extra, owner, n.AAAA(), m.Id)
}
