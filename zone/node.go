package zone

import (
	"iter"
	"net/netip"
	"slices"
)

// A Node is one owner name in the zone with every record it holds, as Lookup
// finds it. It is a small value that refers into its snapshot's immutable
// storage: copying it is cheap, reading its records never allocates, and it
// stays valid for as long as it is held. Two Nodes are the same name of the
// same snapshot's view when they are ==.
//
// A Node that exists but holds no records is an empty non-terminal: it
// exists (NOERROR) only because names exist below it. Lookup returns one
// Node for all of them, whose Name is "": the answer never depends on which
// it is. The zero Node is a name that does not exist.
type Node struct {
	v *view
	i uint32 // index into v.nodes
}

// Name is the owner name relative to the zone apex, in lower case and
// without a trailing dot, e.g. "my-db-0.my-db.default.svc"; "" is the apex.
// A Service's own name is stored; the names below it are made on each call
// (an allocation) from NameParts, which does not allocate.
func (n Node) Name() string {
	label, base := n.NameParts()
	if label == "" {
		return base
	}
	return label + "." + base
}

// NameParts returns Name in two parts, without allocating: the labels in
// front of the Service's name ("my-db-0"; "" for the Service's own name and
// for names outside any Service) and the rest ("my-db.default.svc"). Name is
// label + "." + rest when label is not empty, else rest.
func (n Node) NameParts() (label, rest string) {
	if n.v == nil {
		return "", ""
	}
	return n.v.label(n.i)
}

// compareNames orders nodes by Name, without making the names.
func compareNames(a, b Node) int {
	al, ar := a.NameParts()
	bl, br := b.NameParts()
	x, y := nameBytes{al, ar}, nameBytes{bl, br}
	for k := 0; ; k++ {
		cx, okx := x.at(k)
		cy, oky := y.at(k)
		switch {
		case !okx && !oky:
			return 0
		case !okx:
			return -1
		case !oky:
			return 1
		case cx != cy:
			return int(cx) - int(cy)
		}
	}
}

// nameBytes is a name given as NameParts.
type nameBytes struct{ label, rest string }

func (n nameBytes) at(k int) (byte, bool) {
	if n.label != "" {
		if k < len(n.label) {
			return n.label[k], true
		}
		if k == len(n.label) {
			return '.', true
		}
		k -= len(n.label) + 1
	}
	if k < len(n.rest) {
		return n.rest[k], true
	}
	return 0, false
}

// Service is the Service the name belongs to; nil for names outside any
// Service (the apex, dns-version, empty non-terminals). It is the zone's own
// object: do not modify it.
func (n Node) Service() *Service {
	if n.v == nil {
		return nil
	}
	return n.v.service()
}

// A is the name's A records in the zone's order (a headless Service's: its
// slices by name, each one's endpoints in turn), which DNS answers rotate.
func (n Node) A() Addrs {
	if n.v == nil {
		return Addrs{}
	}
	r := &n.v.nodes[n.i]
	return Addrs{b: n.v.v4[4*r.a4 : 4*(r.a4+r.n4) : 4*(r.a4+r.n4)], w: 4}
}

// AAAA is the name's AAAA records; see A.
func (n Node) AAAA() Addrs {
	if n.v == nil {
		return Addrs{}
	}
	r := &n.v.nodes[n.i]
	return Addrs{b: n.v.v6[16*r.a6 : 16*(r.a6+r.n6) : 16*(r.a6+r.n6)], w: 16}
}

// Addrs are a name's A or AAAA records. They are stored packed, 4 or 16
// bytes an address rather than a netip.Addr's 24, and read in place: Len,
// At and Bytes do not allocate.
type Addrs struct {
	b []byte
	w int // bytes an address: 4 or 16
}

// Len is the number of addresses.
func (a Addrs) Len() int {
	if a.w == 0 {
		return 0
	}
	return len(a.b) / a.w
}

// At returns address i.
func (a Addrs) At(i int) netip.Addr {
	if a.w == 4 {
		return netip.AddrFrom4([4]byte(a.b[4*i : 4*i+4]))
	}
	return netip.AddrFrom16([16]byte(a.b[16*i : 16*i+16]))
}

// Bytes returns address i in network byte order, as a DNS record carries it:
// 4 bytes for A, 16 for AAAA. The slice is shared: do not modify it.
func (a Addrs) Bytes(i int) []byte { return a.b[a.w*i : a.w*(i+1) : a.w*(i+1)] }

// All yields every address, in order.
func (a Addrs) All() iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		for i := range a.Len() {
			if !yield(a.At(i)) {
				return
			}
		}
	}
}

// Contains reports whether ip is one of the addresses.
func (a Addrs) Contains(ip netip.Addr) bool {
	for i := range a.Len() {
		if a.At(i) == ip {
			return true
		}
	}
	return false
}

// Slice returns the addresses as a new slice.
func (a Addrs) Slice() []netip.Addr { return slices.Collect(a.All()) }

// appendAddrBytes appends ip as w bytes (4, or 16 with an IPv4 address
// mapped), the form Addrs reads: the zone's one writer of packed addresses.
func appendAddrBytes(dst []byte, ip netip.Addr, w int) []byte {
	if w == 4 {
		b := ip.As4()
		return append(dst, b[:]...)
	}
	b := ip.As16()
	return append(dst, b[:]...)
}

// SRV is the name's SRV records; Target turns each into the node it names.
// The slice is shared: do not modify it.
func (n Node) SRV() []SRV {
	if n.v == nil {
		return nil
	}
	for _, l := range n.v.srvLists {
		if l.node == n.i {
			return n.v.srvs[l.start:l.end:l.end]
		}
	}
	return nil
}

// Target is the node that s, one of n's SRV records, names: its addresses
// are the answer's additional section, at hand without a second lookup.
func (n Node) Target(s SRV) Node { return Node{v: n.v, i: s.target} }

// CNAME is the absolute target of an ExternalName Service, without a
// trailing dot; "" for every other name.
func (n Node) CNAME() string {
	if n.v == nil || n.i != 0 || n.v.rare == nil {
		return ""
	}
	return n.v.rare.cname
}

// TXT is the name's TXT record (dns-version's); nil for most names. The
// slice is shared: do not modify it.
func (n Node) TXT() []string {
	if n.v == nil || n.i != 0 || n.v.rare == nil {
		return nil
	}
	return n.v.rare.txt
}

// Empty reports whether the name holds no records at all.
func (n Node) Empty() bool {
	if n.v == nil {
		return true
	}
	r := &n.v.nodes[n.i]
	return r.n4 == 0 && r.n6 == 0 && len(n.SRV()) == 0 && n.CNAME() == "" && len(n.TXT()) == 0
}

// Origin tells where the address ip of this name came from: the name of the
// EndpointSlice and the index of the endpoint in it. It reports false for an
// address the name does not hold, or one that is not an endpoint's (a
// Service's cluster IP). When several endpoints have the same address, the
// one served is the first in slice-name order.
func (n Node) Origin(ip netip.Addr) (slice string, endpoint int, ok bool) {
	sl, i, ok := n.origin(ip)
	if !ok {
		return "", 0, false
	}
	return sl.name, i, true
}

// Endpoint is the endpoint that the address ip of this name came from (see
// Origin), or nil. It is a copy, made for the caller: unlike the rest of
// Node, it allocates.
func (n Node) Endpoint(ip netip.Addr) *Endpoint {
	sl, i, ok := n.origin(ip)
	if !ok {
		return nil
	}
	e := sl.endpoint(i)
	return &e
}

// origin finds the endpoint the address ip of n came from. Where each
// address came from is not stored (8 bytes an address): it is found again
// the way buildView chose it, as the first ready endpoint with the address
// in slice-name order, or, for an endpoint name, the first whose hostname
// is that name (endpoints sharing an address each keep theirs).
func (n Node) origin(ip netip.Addr) (*packedSlice, int, bool) {
	if n.v == nil || n.v.e == nil || n.v.e.service == nil || (n.i == 0 && n.v.e.service.Type == ClusterIP) {
		return nil, 0, false
	}
	held := n.A()
	if ip.Is6() {
		held = n.AAAA()
	}
	if !held.Contains(ip) {
		return nil, 0, false
	}
	label := ""
	if n.i > 0 {
		label, _ = n.v.label(n.i)
	}
	var first *packedSlice
	firstAt := 0
	for _, s := range n.v.e.slices {
		if s.addressType == FQDN || (s.addressType == IPv4) != ip.Is4() {
			continue
		}
		for i := range s.eps {
			if !s.ready(i) {
				continue
			}
			lo, hi := s.addrRange(i)
			for k := lo; k < hi; k++ {
				if s.addr(k) != ip {
					continue
				}
				if label == "" || s.hostname(i) == label {
					return s, i, true
				}
				if first == nil {
					first, firstAt = s, i
				}
			}
		}
	}
	if first != nil {
		return first, firstAt, true
	}
	return nil, 0, false
}

// SRV is an SRV record: a port of the Service and the name of an endpoint
// (or of the Service itself, for a ClusterIP Service) that serves it. Node.
// Target gives the name.
type SRV struct {
	Priority uint16
	Weight   uint16
	Port     uint16
	target   uint32 // node index in the view
}

// rareRecords holds the records that only a Service's own name may have, and
// only seldom, keeping every view smaller.
type rareRecords struct {
	cname string
	txt   []string
}

// NewAddressNode returns a node called name that holds ips alone, as A or
// AAAA records, and belongs to no Service: for names a DNS layer makes up
// itself, such as CoreDNS-style pod records. Unlike Lookup, it allocates.
func NewAddressNode(name string, ips ...netip.Addr) Node {
	v := &view{names: name, nodes: []nodeRec{{nameEnd: uint32(len(name))}}}
	for _, ip := range ips {
		v.appendAddr(ip)
		if ip.Is4() {
			v.nodes[0].n4++
		} else {
			v.nodes[0].n6++
		}
	}
	return Node{v: v}
}

// EmptyNode returns a node that exists and holds nothing (an empty
// non-terminal), for names a DNS layer makes up itself.
func EmptyNode() Node { return Node{v: entView} }

// SameTarget reports whether s and o, records of the same name, name the
// same target.
func (s SRV) SameTarget(o SRV) bool { return s.target == o.target }
