package zone

import "net/netip"

// A Node is one owner name in the zone with every record it holds. Nodes are
// immutable once published: an update builds new Nodes and swaps them in.
// A Node with no records is an empty non-terminal: it exists (NOERROR) only
// because names exist below it.
type Node struct {
	// Name is the owner name relative to the zone apex, in lower case and
	// without a trailing dot, e.g. "my-db-0.my-db.default.svc"; "" is the apex.
	Name string
	// Service is the Service the name belongs to; nil for names outside any
	// Service (the apex, dns-version, empty non-terminals).
	Service *Service
	// Endpoint is set on a per-endpoint name (<hostname>.<svc>.<ns>.svc).
	Endpoint *Endpoint
	A        []Address
	AAAA     []Address
	SRV      []SRV
	// rare holds the records that only a few names have, keeping every
	// other Node smaller (see CNAME and TXT); nil when there are none.
	rare *rareRecords
}

type rareRecords struct {
	cname string
	txt   []string
}

// CNAME is the absolute target of an ExternalName Service, without a
// trailing dot; "" for every other name.
func (n *Node) CNAME() string {
	if n.rare == nil {
		return ""
	}
	return n.rare.cname
}

// TXT is the name's TXT record (dns-version's); nil for most names. The
// slice is shared: do not modify it.
func (n *Node) TXT() []string {
	if n.rare == nil {
		return nil
	}
	return n.rare.txt
}

// Address is an A or AAAA record's data and the endpoint it came from (nil
// for a ClusterIP).
type Address struct {
	IP       netip.Addr
	Endpoint *Endpoint
}

// SRV is an SRV record. Target is the node that the record names, so the
// answer's additional section is at hand without a second lookup.
type SRV struct {
	Priority uint16
	Weight   uint16
	Port     uint16
	Target   *Node
}

// Empty reports whether the node holds no records: an empty non-terminal.
func (n *Node) Empty() bool {
	return len(n.A) == 0 && len(n.AAAA) == 0 && len(n.SRV) == 0 && n.CNAME() == "" && len(n.TXT()) == 0
}
