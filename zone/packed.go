package zone

import (
	"net/netip"
	"strings"
	"unique"
)

// packedSlice is an EndpointSlice as the zone keeps it: every endpoint in a
// few flat arrays rather than an Endpoint each, with its own slice of
// addresses and four strings. An endpoint with one IPv4 address and a
// hostname costs about 50 bytes here, against about 150 as an Endpoint.
// What DNS never reads (TriggerTime) is not kept.
type packedSlice struct {
	namespace, name, service string
	addressType              AddressType
	ports                    []Port
	eps                      []packedEndpoint
	// addrs are every endpoint's addresses, addrWidth bytes each: 4 in an
	// IPv4 slice, else 16.
	addrs []byte
	// text is every endpoint's hostname then targetRef, back to back; a
	// targetRef of "Pod/<hostname>" (a StatefulSet's pod) is only a flag.
	text string
}

// packedEndpoint is one endpoint of a packedSlice. Its addresses and strings
// end where the next endpoint's begin.
type packedEndpoint struct {
	addrEnd uint32 // in addresses, not bytes
	textEnd uint32
	hostLen uint8 // a hostname is one DNS label, at most 63 bytes
	flags   uint8
	where   unique.Handle[topology]
}

// topology is where an endpoint runs. Its handle is shared by every endpoint
// on the same node and zone.
type topology struct {
	node, zone string
}

const (
	flagReady uint8 = 1 << iota
	flagServing
	flagTerminating
	flagPodIsHostname // TargetRef is "Pod/" + Hostname
)

const podRef = "Pod/"

// isPodRef reports whether ref is "Pod/" + hostname.
func isPodRef(ref, hostname string) bool {
	return hostname != "" && len(ref) == len(podRef)+len(hostname) && ref[:len(podRef)] == podRef && ref[len(podRef):] == hostname
}

func (p *packedSlice) addrWidth() int {
	if p.addressType == IPv4 {
		return 4
	}
	return 16
}

// pack makes the zone's form of a valid slice.
func pack(s *Slice) *packedSlice {
	p := &packedSlice{addressType: s.AddressType, ports: clonePorts(s.Ports), eps: make([]packedEndpoint, len(s.Endpoints))}
	// The names are copied into one string rather than kept as the
	// caller's three, which may each pin a block of a decoder's garbage.
	names := s.Namespace + s.Name + s.Service
	p.namespace, p.name, p.service = names[:len(s.Namespace)], names[len(s.Namespace):len(s.Namespace)+len(s.Name)], names[len(s.Namespace)+len(s.Name):]
	addrs, text := 0, 0
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		addrs += len(e.Addresses)
		text += len(e.Hostname)
		if !isPodRef(e.TargetRef, e.Hostname) {
			text += len(e.TargetRef)
		}
	}
	w := p.addrWidth()
	p.addrs = make([]byte, 0, addrs*w)
	var tb strings.Builder
	tb.Grow(text)
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		for _, a := range e.Addresses {
			p.addrs = appendAddrBytes(p.addrs, a, w)
		}
		tb.WriteString(e.Hostname)
		pe := &p.eps[i]
		if isPodRef(e.TargetRef, e.Hostname) {
			pe.flags |= flagPodIsHostname
		} else {
			tb.WriteString(e.TargetRef)
		}
		pe.addrEnd, pe.textEnd, pe.hostLen = uint32(len(p.addrs)/w), uint32(tb.Len()), uint8(len(e.Hostname))
		pe.where = unique.Make(topology{e.NodeName, e.Zone})
		if e.Ready {
			pe.flags |= flagReady
		}
		if e.Serving {
			pe.flags |= flagServing
		}
		if e.Terminating {
			pe.flags |= flagTerminating
		}
	}
	p.text = tb.String()
	return p
}

// samePacked reports whether a and b hold the same slice.
func samePacked(a, b *packedSlice) bool {
	if a.namespace != b.namespace || a.name != b.name || a.service != b.service || a.addressType != b.addressType ||
		len(a.ports) != len(b.ports) || len(a.eps) != len(b.eps) || string(a.addrs) != string(b.addrs) || a.text != b.text {
		return false
	}
	for i := range a.ports {
		if a.ports[i] != b.ports[i] {
			return false
		}
	}
	for i := range a.eps {
		if a.eps[i] != b.eps[i] {
			return false
		}
	}
	return true
}

// addrRange is where endpoint i's addresses are, counted in addresses.
func (p *packedSlice) addrRange(i int) (start, end int) {
	if i > 0 {
		start = int(p.eps[i-1].addrEnd)
	}
	return start, int(p.eps[i].addrEnd)
}

// addr returns address k of the slice.
func (p *packedSlice) addr(k int) netip.Addr {
	a := Addrs{b: p.addrs, w: p.addrWidth()}.At(k)
	if p.addressType == FQDN {
		a = a.Unmap()
	}
	return a
}

func (p *packedSlice) ready(i int) bool { return p.eps[i].flags&flagReady != 0 }

// hostname returns endpoint i's hostname, without allocating.
func (p *packedSlice) hostname(i int) string {
	start := p.textStart(i)
	return p.text[start : start+int(p.eps[i].hostLen)]
}

// textStart is where endpoint i's strings begin in text.
func (p *packedSlice) textStart(i int) int {
	if i == 0 {
		return 0
	}
	return int(p.eps[i-1].textEnd)
}

// endpoint returns endpoint i as an Endpoint, a copy.
func (p *packedSlice) endpoint(i int) Endpoint {
	pe := &p.eps[i]
	start := p.textStart(i)
	where := pe.where.Value()
	e := Endpoint{
		Hostname:    p.text[start : start+int(pe.hostLen)],
		TargetRef:   p.text[start+int(pe.hostLen) : pe.textEnd],
		NodeName:    where.node,
		Zone:        where.zone,
		Ready:       pe.flags&flagReady != 0,
		Serving:     pe.flags&flagServing != 0,
		Terminating: pe.flags&flagTerminating != 0,
	}
	if pe.flags&flagPodIsHostname != 0 {
		e.TargetRef = podRef + e.Hostname
	}
	lo, hi := p.addrRange(i)
	if hi > lo {
		e.Addresses = make([]netip.Addr, 0, hi-lo)
		for k := lo; k < hi; k++ {
			e.Addresses = append(e.Addresses, p.addr(k))
		}
	}
	return e
}

// unpack returns the slice as a Slice, a copy.
func (p *packedSlice) unpack() *Slice {
	s := &Slice{Namespace: p.namespace, Name: p.name, Service: p.service, AddressType: p.addressType,
		Ports: p.ports, Endpoints: make([]Endpoint, len(p.eps))}
	for i := range p.eps {
		s.Endpoints[i] = p.endpoint(i)
	}
	return s
}
