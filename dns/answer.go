package dns

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/zone"
)

// advertisedUDPSize is the EDNS0 payload size slicedns offers, the DNS Flag
// Day 2020 value that avoids IP fragmentation.
const advertisedUDPSize = 1232

// Answer returns the response to r as ServeDNS would send it over TCP, before
// any truncation; nil means r must be dropped (it is itself a response, or
// nil). It is what ServeDNS writes, exposed for in-process use and for
// tests, but for zone transfers, which only ServeDNS serves (as a stream of
// messages): Answer refuses them.
func (h *Handler) Answer(r *mdns.Msg) *mdns.Msg {
	if r == nil {
		return nil
	}
	m := h.answer(r)
	if m != nil {
		h.addNSID(m, r)
	}
	return m
}

func (h *Handler) answer(r *mdns.Msg) *mdns.Msg {
	if r.Response {
		return nil
	}
	m := new(mdns.Msg)
	m.SetReply(r)
	m.Compress = true
	if opt := r.IsEdns0(); opt != nil {
		// The DO bit is copied back (RFC 3225 3); no DNSSEC records follow,
		// as the zone is unsigned.
		m.SetEdns0(advertisedUDPSize, opt.Do())
		if optCount(r.Extra) > 1 {
			m.Rcode = mdns.RcodeFormatError // RFC 6891 6.1.1
			return m
		}
		if opt.Version() != 0 {
			m.Rcode = mdns.RcodeBadVers
			return m
		}
	}
	if t := r.IsTsig(); t != nil {
		// slicedns holds no TSIG keys: NOTAUTH with TSIG error BADKEY,
		// unsigned (RFC 8945 5.2.2), rather than an unsigned answer the
		// client could not verify. Names it would forward get it too: its
		// Forwarder cannot pass a signed message on unchanged (RFC 8945
		// 5.5), and did answer SERVFAIL.
		m.Rcode = mdns.RcodeNotAuth
		m.Extra = append(m.Extra, &mdns.TSIG{Hdr: mdns.RR_Header{Name: t.Hdr.Name, Rrtype: mdns.TypeTSIG, Class: mdns.ClassANY},
			Algorithm: t.Algorithm, TimeSigned: t.TimeSigned, Fudge: t.Fudge, OrigId: r.Id, Error: mdns.RcodeBadKey})
		return m
	}
	if r.Opcode != mdns.OpcodeQuery {
		m.Rcode = mdns.RcodeNotImplemented
		return m
	}
	if len(r.Question) != 1 {
		m.Rcode = mdns.RcodeFormatError
		return m
	}
	q := r.Question[0]
	switch q.Qtype {
	case mdns.TypeOPT, mdns.TypeTSIG, mdns.TypeTKEY:
		// Meta-types that live in their own sections, never asked for
		// (RFC 6895 3.1): FORMERR, as BIND answers.
		m.Rcode = mdns.RcodeFormatError
		return m
	case mdns.TypeMAILA, mdns.TypeMAILB:
		m.Rcode = mdns.RcodeNotImplemented
		return m
	}
	if h.fwd != nil {
		m.RecursionAvailable = true
		if h.fwd.ownProbe(q.Name) {
			m.Rcode = mdns.RcodeRefused
			return m
		}
	}
	z, rel, ok := h.match(q.Name)
	if !ok && h.fwd != nil {
		return h.forward(r, m)
	}
	if !ok || (q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY) {
		m.Rcode = mdns.RcodeRefused
		return m
	}
	snap := h.snapshot()
	if snap == nil {
		m.Rcode = mdns.RcodeServerFailure
		return m
	}
	// An answer to class ANY speaks for class IN only, so it is not
	// authoritative (RFC 1035 6.2).
	m.Authoritative = q.Qclass == mdns.ClassINET
	if q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR {
		// ServeDNS serves the transfers that Options.TransferTo allows: a
		// transfer hands over the whole cluster's topology.
		m.Authoritative = false
		m.Rcode = mdns.RcodeRefused
		return m
	}
	if z.reverse {
		if !h.reverse(m, q, z, rel, snap) {
			return h.forward(r, m)
		}
		return m
	}
	node, exists := h.lookup(snap, rel)
	if !exists {
		m.Rcode = mdns.RcodeNameError
		m.Ns = []mdns.RR{h.soa(z, snap)}
		return m
	}
	h.records(m, q, z, snap, node, rel == "")
	if len(m.Answer) == 0 {
		m.Ns = []mdns.RR{h.soa(z, snap)}
	}
	return m
}

// lookup is Snapshot.Lookup, plus the names the handler makes up: pod
// names (Options.PodRecords) and ns.dns (Options.ServerAddrs).
func (h *Handler) lookup(snap *zone.Snapshot, rel string) (zone.Node, bool) {
	if h.pods {
		if n, exists, isPod := zone.LookupPod(rel); isPod {
			return n, exists
		}
	}
	if n, ok := h.nsLookup(snap, rel); ok {
		return n, true
	}
	return snap.Lookup(rel)
}

// match finds the served zone name is in (the longest, when zones nest) and
// returns the rest of the name relative to it, lower-cased.
func (h *Handler) match(name string) (servedZone, string, bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	best, rel, found := servedZone{}, "", false
	for _, z := range h.zones {
		if len(z.lower) < len(best.lower) {
			continue
		}
		switch {
		case name == z.lower:
			best, rel, found = z, "", true
		case len(name) > len(z.lower) && isSeparator(name, len(name)-len(z.lower)-1) && strings.HasSuffix(name, z.lower):
			best, rel, found = z, name[:len(name)-len(z.lower)-1], true
		}
	}
	return best, rel, found
}

// isSeparator reports whether name[i] is a dot between labels, not an
// escaped one inside a label ("foo\.cluster.local." is the two labels
// "foo.cluster" and "local", not under cluster.local).
func isSeparator(name string, i int) bool {
	if name[i] != '.' {
		return false
	}
	escapes := 0
	for j := i - 1; j >= 0 && name[j] == '\\'; j-- {
		escapes++
	}
	return escapes%2 == 0
}

// records fills m's answer (and additional) sections for qtype at node.
func (h *Handler) records(m *mdns.Msg, q mdns.Question, z servedZone, snap *zone.Snapshot, node zone.Node, apex bool) {
	owner := q.Name
	if node.CNAME() != "" {
		// An ExternalName Service: the CNAME is the only data at the name
		// (RFC 1034 3.6.2), whatever type was asked.
		m.Answer = append(m.Answer, h.cname(owner, node))
		if q.Qtype != mdns.TypeCNAME && q.Qtype != mdns.TypeANY {
			h.chase(m, q, node.CNAME(), snap)
		}
		return
	}
	switch q.Qtype {
	case mdns.TypeA:
		m.Answer = h.appendAddrs(m.Answer, owner, node.A(), m.Id)
	case mdns.TypeAAAA:
		m.Answer = h.appendAddrs(m.Answer, owner, node.AAAA(), m.Id)
	case mdns.TypeSRV:
		h.srv(m, owner, z, node)
	case mdns.TypeTXT:
		if len(node.TXT()) > 0 {
			m.Answer = append(m.Answer, h.txt(owner, node))
		}
	case mdns.TypeSOA:
		if apex {
			// What a secondary polls to learn whether to transfer again:
			// the zone's own serial, which is never below one handed out
			// for older data (zone.Snapshot.HandOutSerial).
			soa := h.soa(z, snap)
			soa.Hdr.Name = owner
			m.Answer = append(m.Answer, soa)
		}
	case mdns.TypeNS:
		if apex {
			m.Answer = append(m.Answer, h.ns(owner, z))
			h.nsGlue(m, z, snap)
		}
	case mdns.TypeANY:
		// RFC 8482: a minimal answer rather than everything the name holds.
		m.Answer = append(m.Answer, &mdns.HINFO{Hdr: h.hdr(owner, mdns.TypeHINFO), Cpu: "RFC8482"})
	}
}

func (h *Handler) srv(m *mdns.Msg, owner string, z servedZone, node zone.Node) {
	var seen []zone.Node
	for _, s := range node.SRV() {
		t := node.Target(s)
		rr, ok := h.srvRecord(owner, z, t, s)
		if !ok {
			continue
		}
		m.Answer = append(m.Answer, rr)
		target := rr.Target
		if slices.Contains(seen, t) {
			continue
		}
		seen = append(seen, t)
		for a := range t.A().All() {
			m.Extra = append(m.Extra, h.addr(target, a))
		}
		for a := range t.AAAA().All() {
			m.Extra = append(m.Extra, h.addr(target, a))
		}
	}
}

// fitsWire reports whether the fully qualified name fits the 255 octets a
// name may take on the wire (RFC 1035 2.3.4): a record naming a longer one
// could not be packed, or would not be read.
func fitsWire(fqdn string) bool { return len(fqdn)+1 <= maxNameWire }

func (h *Handler) hdr(owner string, t uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: owner, Rrtype: t, Class: mdns.ClassINET, Ttl: h.ttl}
}

// The records a node holds, as answers and zone transfers write them.

// cname is the CNAME record of n, an ExternalName Service's name.
func (h *Handler) cname(owner string, n zone.Node) *mdns.CNAME {
	return &mdns.CNAME{Hdr: h.hdr(owner, mdns.TypeCNAME), Target: mdns.Fqdn(n.CNAME())}
}

func (h *Handler) txt(owner string, n zone.Node) *mdns.TXT {
	return &mdns.TXT{Hdr: h.hdr(owner, mdns.TypeTXT), Txt: n.TXT()}
}

// ns is the NS record of zone z's apex, owned by owner.
func (h *Handler) ns(owner string, z servedZone) *mdns.NS {
	return &mdns.NS{Hdr: h.hdr(owner, mdns.TypeNS), Ns: nsName + "." + z.fqdn}
}

// srvRecord is the SRV record s of owner, whose target is t, in zone z.
// It reports false when t's name is too long to write (a long cluster
// domain and long labels): such records are left out.
func (h *Handler) srvRecord(owner string, z servedZone, t zone.Node, s zone.SRV) (*mdns.SRV, bool) {
	target := t.Name() + "." + z.fqdn
	if !fitsWire(target) {
		return nil, false
	}
	return &mdns.SRV{Hdr: h.hdr(owner, mdns.TypeSRV), Priority: s.Priority, Weight: s.Weight, Port: s.Port, Target: target}, true
}

// appendAddrs appends an A or AAAA record owned by owner for each of addrs,
// rotated for the query with ID id.
func (h *Handler) appendAddrs(rrs []mdns.RR, owner string, addrs zone.Addrs, id uint16) []mdns.RR {
	n := addrs.Len()
	first := h.firstRecord(id, n)
	for k := range n {
		rrs = append(rrs, h.addr(owner, addrs.At(wrap(first+k, n))))
	}
	return rrs
}

// wrap returns i, an index into n records counted on past the last, as
// the record it lands on: i < 2n.
func wrap(i, n int) int {
	if i >= n {
		return i - n
	}
	return i
}

// firstRecord is the record of n an answer to the query with ID id starts
// at (Options.FixedOrder). Both paths call it, so they give one answer.
func (h *Handler) firstRecord(id uint16, n int) int {
	if h.fixed || n < 2 {
		return 0
	}
	return int(id) % n
}

func (h *Handler) addr(owner string, ip netip.Addr) mdns.RR {
	if ip.Is4() {
		b := ip.As4()
		return &mdns.A{Hdr: h.hdr(owner, mdns.TypeA), A: net.IP(b[:])}
	}
	b := ip.As16()
	return &mdns.AAAA{Hdr: h.hdr(owner, mdns.TypeAAAA), AAAA: net.IP(b[:])}
}

// soa is the zone's SOA. Its serial is the zone's last change, and its minimum
// the TTL, so negative answers are cached no longer than positive ones.
func (h *Handler) soa(z servedZone, snap *zone.Snapshot) *mdns.SOA {
	return &mdns.SOA{
		Hdr:     h.hdr(z.fqdn, mdns.TypeSOA),
		Ns:      nsName + "." + z.fqdn,
		Mbox:    "hostmaster." + z.fqdn,
		Serial:  snap.Serial(),
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  h.ttl,
	}
}

// udpLimit is the largest UDP response for a client: 512 bytes without EDNS0,
// else the size it offered, but never above the size slicedns advertises:
// larger datagrams fragment, and fragments are lost on overlay networks
// (the DNS Flag Day 2020 advice that BIND, Knot and Unbound follow).
func udpLimit(edns bool, offered uint16) int {
	if !edns {
		return mdns.MinMsgSize
	}
	return min(max(int(offered), mdns.MinMsgSize), advertisedUDPSize)
}

// fit makes resp fit the client's limit (udpLimit over UDP, 64 KiB over TCP). Additional data goes first and silently
// (RFC 2181 9); if the answer itself does not fit, it is cut and TC is set so
// the client retries over TCP.
func fit(resp, req *mdns.Msg, tcp bool) {
	var size int
	if opt := req.IsEdns0(); opt != nil {
		size = udpLimit(true, opt.UDPSize())
	} else {
		size = udpLimit(false, 0)
	}
	if tcp {
		size = mdns.MaxMsgSize
	}
	if resp.Len() <= size {
		return
	}
	opt := resp.IsEdns0()
	resp.Extra = resp.Extra[:0]
	if opt != nil {
		resp.Extra = append(resp.Extra, opt)
	}
	if resp.Len() <= size {
		return
	}
	resp.Truncate(size)
}

func optCount(rrs []mdns.RR) int {
	n := 0
	for _, rr := range rrs {
		if rr.Header().Rrtype == mdns.TypeOPT {
			n++
		}
	}
	return n
}
