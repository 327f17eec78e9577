package dns

import (
	"net/netip"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/zone"
)

// IsReverseZone reports whether zone z is in-addr.arpa, ip6.arpa or a part
// of either: a zone a Handler answers PTR records in. Case and a final dot
// do not matter.
func IsReverseZone(z string) bool {
	z = strings.ToLower(strings.TrimSuffix(z, "."))
	return z == "in-addr.arpa" || z == "ip6.arpa" ||
		strings.HasSuffix(z, ".in-addr.arpa") || strings.HasSuffix(z, ".ip6.arpa")
}

// arpaKind is what a reverse name can hold.
type arpaKind uint8

const (
	// arpaInvalid: no address is at or below the name (a label that is not
	// an octet or a nibble, or too many labels).
	arpaInvalid arpaKind = iota
	// arpaPartial: the first part of addresses, as "0.10.in-addr.arpa".
	arpaPartial
	// arpaAddr: a whole address.
	arpaAddr
)

// parseArpa reads a reverse name, lower-cased and without the final dot.
func parseArpa(name string) (netip.Addr, arpaKind) {
	if rest, ok := cutArpa(name, "in-addr.arpa"); ok {
		var b [4]byte
		labels := splitLabels(rest)
		if len(labels) > 4 {
			return netip.Addr{}, arpaInvalid
		}
		for i, l := range labels {
			// Reverse order; decimal octets without leading zeros, as the
			// names are written (RFC 1035 3.5).
			n, err := strconv.ParseUint(l, 10, 8)
			if err != nil || (len(l) > 1 && l[0] == '0') {
				return netip.Addr{}, arpaInvalid
			}
			b[len(labels)-1-i] = byte(n)
		}
		if len(labels) < 4 {
			return netip.Addr{}, arpaPartial
		}
		return netip.AddrFrom4(b), arpaAddr
	}
	if rest, ok := cutArpa(name, "ip6.arpa"); ok {
		var b [16]byte
		labels := splitLabels(rest)
		if len(labels) > 32 {
			return netip.Addr{}, arpaInvalid
		}
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, arpaInvalid
			}
			n, err := strconv.ParseUint(l, 16, 8)
			if err != nil {
				return netip.Addr{}, arpaInvalid
			}
			pos := len(labels) - 1 - i // nibble index from the top
			if pos%2 == 0 {
				b[pos/2] |= byte(n) << 4
			} else {
				b[pos/2] |= byte(n)
			}
		}
		if len(labels) < 32 {
			return netip.Addr{}, arpaPartial
		}
		return netip.AddrFrom16(b), arpaAddr
	}
	return netip.Addr{}, arpaInvalid
}

// cutArpa returns the labels of name in front of suffix.
func cutArpa(name, suffix string) (string, bool) {
	if name == suffix {
		return "", true
	}
	return strings.CutSuffix(name, "."+suffix)
}

func splitLabels(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}

// reverse answers a name in a reverse zone: PTR records pointing at every
// name the address has (an endpoint's, a Service's for a ClusterIP; one per
// Service when several share it). It returns false, having written nothing,
// when the zone knows nothing of the name and a Forwarder should have it,
// like CoreDNS's "fallthrough in-addr.arpa ip6.arpa".
func (h *Handler) reverse(m *mdns.Msg, q mdns.Question, z servedZone, rel string, snap *zone.Snapshot) bool {
	// The NS target of a reverse zone resolves as a forward zone's does
	// (CoreDNS answers ns.dns under every zone it serves).
	if n, ok := h.nsLookup(snap, rel); ok {
		h.records(m, q, z, snap, n, false)
		if len(m.Answer) == 0 {
			m.Ns = []mdns.RR{h.soa(z, snap)}
		}
		return true
	}
	full := z.lower
	if rel != "" {
		full = rel + "." + z.lower
	}
	ip, kind := parseArpa(full)
	switch kind {
	case arpaPartial:
		// Addresses may exist below: NODATA, never NXDOMAIN, which
		// resolvers would take as denying the whole subtree (RFC 8020).
		h.records(m, q, z, snap, zone.EmptyNode(), rel == "")
	case arpaAddr:
		var names []zone.Node
		// An IPv4-mapped IPv6 address (::ffff:10.0.0.1) names no AAAA record
		// here, though LookupAddr would find the IPv4 endpoint by it.
		if !ip.Is4In6() {
			names = snap.LookupAddr(ip)
		}
		if len(names) == 0 {
			if h.fwd != nil {
				return false
			}
			m.Rcode = mdns.RcodeNameError
		}
		switch q.Qtype {
		case mdns.TypePTR:
			for _, n := range names {
				if target := n.Name() + "." + h.ptrZone; fitsWire(target) {
					m.Answer = append(m.Answer, &mdns.PTR{Hdr: h.hdr(q.Name, mdns.TypePTR), Ptr: target})
				}
			}
		case mdns.TypeANY:
			if len(names) > 0 {
				m.Answer = append(m.Answer, &mdns.HINFO{Hdr: h.hdr(q.Name, mdns.TypeHINFO), Cpu: "RFC8482"})
			}
		}
	default:
		if h.fwd != nil {
			return false
		}
		m.Rcode = mdns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		m.Ns = []mdns.RR{h.soa(z, snap)}
	}
	return true
}
