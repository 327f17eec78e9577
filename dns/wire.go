package dns

import (
	"encoding/binary"
	"strings"
	"unsafe"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/zone"
)

// This file answers the common queries straight from and into wire bytes,
// without building a miekg/dns Msg: an A, AAAA or SRV question, with or
// without EDNS0, for a name in a served zone. Anything else (and anything
// that would need truncation) returns false and takes the general path, so
// both paths give the same answers; the tests check they do.

const (
	headerLen = 12
	flagQR    = 1 << 15
	flagAA    = 1 << 10
	flagTC    = 1 << 9
	flagRD    = 1 << 8
	flagRA    = 1 << 7
	flagCD    = 1 << 4
	// ptrQuestion is a compression pointer to the question name, which
	// always starts right after the header.
	ptrQuestion = 0xC000 | headerLen
)

// wireQuery is a parsed question. It lives on the serving goroutine's stack
// or in its reused state, so parsing does not allocate.
type wireQuery struct {
	id      uint16
	flags   uint16
	qtype   uint16
	qend    int // end of the question section
	edns    bool
	do      bool // the query's DNSSEC OK bit, copied to the answer
	nsid    bool // the query asks for the server's NSID (RFC 5001)
	udpSize uint16
	lower   [255]byte
	nameLen int // length of lower, the name without its final dot
}

// parseQuery accepts only the plain shape of query the fast path serves.
func parseQuery(b []byte, q *wireQuery) bool {
	if len(b) < headerLen+5 {
		return false
	}
	q.id = binary.BigEndian.Uint16(b)
	q.flags = binary.BigEndian.Uint16(b[2:])
	// QR=0, opcode QUERY, TC=0, rcode 0; one question, no answer or
	// authority records, at most one additional (the OPT).
	if q.flags&0xFA0F != 0 || binary.BigEndian.Uint16(b[4:]) != 1 ||
		binary.BigEndian.Uint16(b[6:]) != 0 || binary.BigEndian.Uint16(b[8:]) != 0 {
		return false
	}
	arcount := binary.BigEndian.Uint16(b[10:])
	if arcount > 1 {
		return false
	}
	off, n := headerLen, 0
	for {
		if off >= len(b) {
			return false
		}
		l := int(b[off])
		off++
		if l == 0 {
			break
		}
		// Compression pointers in a question, or a name that miekg/dns would
		// escape, go the general way.
		if l > 63 || off+l > len(b) || n+l+1 > len(q.lower) {
			return false
		}
		if n > 0 {
			q.lower[n] = '.'
			n++
		}
		for _, c := range b[off : off+l] {
			switch {
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case c <= ' ' || c >= 0x7f || c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$':
				return false
			}
			q.lower[n] = c
			n++
		}
		off += l
	}
	if off-headerLen > maxNameWire {
		return false // miekg/dns refuses such a name: FORMERR on the general path
	}
	q.nameLen = n
	if off+4 > len(b) {
		return false
	}
	q.qtype = binary.BigEndian.Uint16(b[off:])
	if binary.BigEndian.Uint16(b[off+2:]) != mdns.ClassINET {
		return false
	}
	q.qend = off + 4
	q.edns, q.do, q.nsid = false, false, false
	if arcount == 0 {
		return q.qend == len(b)
	}
	// The OPT record: root owner, type OPT, class = UDP size, TTL = extended
	// rcode, version and flags, then options, which are ignored (RFC 6891
	// 6.1.2) but for NSID.
	o := b[q.qend:]
	if len(o) < 11 || o[0] != 0 || binary.BigEndian.Uint16(o[1:]) != mdns.TypeOPT || o[6] != 0 {
		return false
	}
	if int(binary.BigEndian.Uint16(o[9:]))+11 != len(o) {
		return false
	}
	for opts := o[11:]; len(opts) > 0; {
		if len(opts) < 4 {
			return false // a malformed option: the general path's to judge
		}
		end := 4 + int(binary.BigEndian.Uint16(opts[2:]))
		if end > len(opts) {
			return false
		}
		q.nsid = q.nsid || binary.BigEndian.Uint16(opts) == mdns.EDNS0NSID
		opts = opts[end:]
	}
	q.edns = true
	q.do = o[7]&0x80 != 0
	q.udpSize = binary.BigEndian.Uint16(o[3:])
	return true
}

// maxNameWire is the longest name on the wire (RFC 1035 2.3.4).
const maxNameWire = 255

// appendOPT appends the answer's OPT record: root owner, type OPT, our UDP
// size, no extended rcode, version 0, the query's DO bit (RFC 3225 3), no
// options.
func (q *wireQuery) appendOPT(out []byte) []byte {
	var flags byte
	if q.do {
		flags = 0x80
	}
	return append(out, 0, byte(mdns.TypeOPT>>8), byte(mdns.TypeOPT), advertisedUDPSize>>8, advertisedUDPSize&0xff, 0, 0, flags, 0, 0, 0)
}

// name returns the lower-cased question name without copying. It is valid
// only until q is reused.
func (q *wireQuery) name() string {
	if q.nameLen == 0 {
		return ""
	}
	return unsafe.String(&q.lower[0], q.nameLen)
}

// fastAnswer writes the response to q into out[:0] and returns it, or
// returns false when the general path must answer instead.
func (h *Handler) fastAnswer(req []byte, q *wireQuery, out []byte) ([]byte, int, bool) {
	if q.qtype != mdns.TypeA && q.qtype != mdns.TypeAAAA && q.qtype != mdns.TypeSRV {
		return nil, 0, false
	}
	if h.logQ || (q.nsid && h.nsid != "") {
		return nil, 0, false
	}
	z, rel, ok := h.match(q.name())
	if !ok || z.reverse {
		return nil, 0, false // reverse zones are answered on the general path
	}
	// Pod names whose label is an IPv4 address get their A record (or, for
	// AAAA, NODATA) here; other pod names, and SRV, the general way.
	var pod [4]byte
	isPod := h.pods && zone.IsPodName(rel)
	if isPod {
		if pod, ok = zone.PodIPv4(rel); !ok || q.qtype == mdns.TypeSRV {
			return nil, 0, false
		}
	}
	snap := h.snapshot()
	if snap == nil {
		return nil, 0, false // the general path answers SERVFAIL
	}
	node, exists := zone.EmptyNode(), true
	if !isPod {
		node, exists = snap.Lookup(rel)
	}
	if (exists && node.CNAME() != "") || (!exists && h.isNSName(rel)) {
		return nil, 0, false
	}
	limit := udpLimit(q.edns, q.udpSize)

	optLen := 0
	if q.edns {
		optLen = 11
	}
	out = append(out[:0], req[:q.qend]...)
	// fitLen and fitCount remember the longest run of whole answer records
	// that fits, should the answer need truncating; at worst none does (a
	// long cluster domain and long names), and the header and question go
	// back alone with TC set.
	var an, ar, fitCount int
	fitLen := len(out)
	fits := func() {
		if len(out)+optLen <= limit {
			fitLen, fitCount = len(out), an
		}
	}
	switch {
	case isPod && q.qtype == mdns.TypeA:
		out = h.appendAddrRR(out, ptrQuestion, pod[:])
		an++
		fits()
	case exists:
		switch q.qtype {
		case mdns.TypeA, mdns.TypeAAAA:
			addrs := node.A()
			if q.qtype == mdns.TypeAAAA {
				addrs = node.AAAA()
			}
			n := addrs.Len()
			first := h.firstRecord(q.id, n)
			for k := range n {
				out = h.appendAddrRR(out, ptrQuestion, addrs.Bytes(wrap(first+k, n)))
				an++
				fits()
			}
		case mdns.TypeSRV:
			for _, s := range node.SRV() {
				label, rest := node.Target(s).NameParts()
				if nameWireLen(label, rest, z.lower) > maxNameWire {
					return nil, 0, false // the general path leaves such records out
				}
				out = h.appendSRV(out, label, rest, s, z)
				an++
				fits()
			}
		}
	}
	rcode, ns := mdns.RcodeSuccess, 0
	if !exists {
		rcode = mdns.RcodeNameError
	}
	if an == 0 {
		out = h.appendSOA(out, z, snap)
		ns = 1
	}
	truncated := false
	if len(out)+optLen > limit {
		if an == 0 {
			return nil, 0, false
		}
		// As miekg/dns's Truncate: the whole records that fit, TC set, no
		// authority or additional data; the client retries over TCP.
		out, an, truncated = out[:fitLen], fitCount, true
	}
	if q.qtype == mdns.TypeSRV && an > 0 && !truncated {
		mark, extra := len(out), 0
		// Each additional record's owner points at its target's name in the
		// answer's SRV rdata, as miekg/dns compresses it.
		off := q.qend
		records := node.SRV()
		for i, s := range records {
			t := node.Target(s)
			targetAt := off + 2 + 10 + 6
			label, rest := t.NameParts()
			off = targetAt + nameWireLen(label, rest, z.lower)
			if seenTarget(records[:i], s) {
				continue
			}
			for _, addrs := range [2]zone.Addrs{t.A(), t.AAAA()} {
				for i := range addrs.Len() {
					out = h.appendAddrRR(out, uint16(0xC000|targetAt), addrs.Bytes(i))
					extra++
				}
			}
		}
		// Additional data that does not fit is left out silently (RFC 2181 9).
		if len(out)+optLen > limit {
			out, extra = out[:mark], 0
		}
		ar = extra
	}
	if q.edns {
		out = q.appendOPT(out)
		ar++
	}
	flags := uint16(flagAA | rcode)
	if truncated {
		flags |= flagTC
	}
	h.putHeader(out, q, flags, an, ns, ar)
	return out, rcode, true
}

// putHeader finishes the header of the answer to q in out: QR, the query's
// RD and CD, RA when forwarding, flags (AA, TC, rcode) and the counts.
func (h *Handler) putHeader(out []byte, q *wireQuery, flags uint16, an, ns, ar int) {
	flags |= flagQR | q.flags&(flagRD|flagCD)
	if h.fwd != nil {
		flags |= flagRA
	}
	binary.BigEndian.PutUint16(out[2:], flags)
	binary.BigEndian.PutUint16(out[6:], uint16(an))
	binary.BigEndian.PutUint16(out[8:], uint16(ns))
	binary.BigEndian.PutUint16(out[10:], uint16(ar))
}

// seenTarget reports whether an SRV record before s names s's target: the
// additional section lists each target's addresses once.
func seenTarget(before []zone.SRV, s zone.SRV) bool {
	for _, b := range before {
		if b.SameTarget(s) {
			return true
		}
	}
	return false
}

// appendRRHeader appends type, class, TTL and a placeholder rdlength, and
// returns where the rdlength goes.
func (h *Handler) appendRRHeader(out []byte, t uint16) ([]byte, int) {
	out = binary.BigEndian.AppendUint16(out, t)
	out = binary.BigEndian.AppendUint16(out, mdns.ClassINET)
	out = binary.BigEndian.AppendUint32(out, h.ttl)
	return append(out, 0, 0), len(out)
}

func setRdlen(out []byte, at int) {
	binary.BigEndian.PutUint16(out[at:], uint16(len(out)-at-2))
}

// appendAddrRR appends an A or AAAA record whose owner is the compression
// pointer owner.
// The address is 4 bytes (A) or 16 (AAAA), in network byte order.
func (h *Handler) appendAddrRR(out []byte, owner uint16, addr []byte) []byte {
	out = binary.BigEndian.AppendUint16(out, owner)
	t := uint16(mdns.TypeA)
	if len(addr) == 16 {
		t = mdns.TypeAAAA
	}
	out, at := h.appendRRHeader(out, t)
	out = append(out, addr...)
	setRdlen(out, at)
	return out
}

// appendSRV appends the SRV record s, whose target is label.rest.<zone>.
func (h *Handler) appendSRV(out []byte, label, rest string, s zone.SRV, z servedZone) []byte {
	out = binary.BigEndian.AppendUint16(out, ptrQuestion)
	out, at := h.appendRRHeader(out, mdns.TypeSRV)
	out = binary.BigEndian.AppendUint16(out, s.Priority)
	out = binary.BigEndian.AppendUint16(out, s.Weight)
	out = binary.BigEndian.AppendUint16(out, s.Port)
	// RFC 2782: the target is never compressed.
	out = appendName(out, label, rest, z.lower)
	setRdlen(out, at)
	return out
}

func (h *Handler) appendSOA(out []byte, z servedZone, snap *zone.Snapshot) []byte {
	out = appendName(out, "", "", z.lower)
	out, at := h.appendRRHeader(out, mdns.TypeSOA)
	out = appendName(out, "", nsName, z.lower)
	out = appendName(out, "", "hostmaster", z.lower)
	out = binary.BigEndian.AppendUint32(out, snap.Serial())
	out = binary.BigEndian.AppendUint32(out, 7200)
	out = binary.BigEndian.AppendUint32(out, 1800)
	out = binary.BigEndian.AppendUint32(out, 86400)
	out = binary.BigEndian.AppendUint32(out, h.ttl)
	setRdlen(out, at)
	return out
}

// nameWireLen is the length appendName gives the same parts.
func nameWireLen(label, rel, apex string) int {
	n := 1
	for _, part := range [3]string{label, rel, apex} {
		if part != "" {
			n += len(part) + 1
		}
	}
	return n
}

// appendName appends label + "." + rel + "." + apex in wire form; all are
// dotted, validated names without a trailing dot, any may be empty.
func appendName(out []byte, label, rel, apex string) []byte {
	for _, part := range [3]string{label, rel, apex} {
		for part != "" {
			label, rest, _ := strings.Cut(part, ".")
			out = append(out, byte(len(label)))
			out = append(out, label...)
			part = rest
		}
	}
	return append(out, 0)
}
