package zone

import (
	"hash/maphash"
	"math/bits"
	"net/netip"
)

// view is the set of names one Service publishes, keyed by the labels in
// front of "<svc>.<ns>.svc": "" for the Service itself, "<endpoint>", and
// "_<port>._<proto>" and "_<proto>" for SRV.
//
// It is laid out flat to keep the zone small: a handful of arrays per
// Service and no pointer per name. A name costs a 20-byte record, its bytes,
// and 24 bytes an address; Node values point into the arrays.
type view struct {
	// e is the entry the view was built from: its Service and its slices
	// (in name order). nil for the views of names outside any Service.
	e *entry
	// names are the Service's name (nodes[0]'s, "<svc>.<ns>.svc") then
	// every other node's label, back to back: node i's ends at
	// nodes[i].nameEnd and starts where node i-1's ends. A node's name is
	// its label, a dot and the Service's name, which is stored once.
	names string
	// nodes are the Service's own name (nodes[0]), then its endpoints'
	// names, then the SRV names and their _<proto> parents. nil when the
	// Service publishes nothing: its name does not exist.
	nodes []nodeRec
	// v4 and v6 are every A and AAAA record's data, 4 and 16 bytes each; a
	// node's records are runs of them.
	v4, v6 []byte
	// srvs are the SRV records; srvLists says which node holds which run.
	srvs     []SRV
	srvLists []srvList
	// index finds a node by its label: an open-addressing hash table (with
	// linear probing, at most half full) of positions in nodes; 0 is a free
	// slot (nodes[0] is never in it). It costs a few bytes a name where a
	// Go map costs tens.
	index []uint32
	rare  *rareRecords
	// endpoints is how many endpoint names follow nodes[0].
	endpoints uint32
	// ready counts ready endpoint addresses, for the zone's size gauge.
	ready int
}

// nodeRec is one name: where its name ends in view.names, and its A and
// AAAA records, addresses a4 to a4+n4 of v4 and a6 to a6+n6 of v6.
type nodeRec struct {
	nameEnd uint32
	a4, n4  uint32
	a6, n6  uint32
}

// srvList says that node's SRV records are srvs[start:end].
type srvList struct {
	node, start, end uint32
}

// Views of the names that hold no Service data. entView stands for every
// empty non-terminal ("svc", "<ns>.svc"): the answer to it never depends on
// which one it is.
var (
	apexView    = &view{nodes: []nodeRec{{}}}
	versionView = &view{names: "dns-version", nodes: []nodeRec{{nameEnd: uint32(len("dns-version"))}},
		rare: &rareRecords{txt: []string{SpecVersion}}}
	entView = &view{nodes: []nodeRec{{}}}
)

// service is the view's Service, or nil.
func (v *view) service() *Service {
	if v.e == nil {
		return nil
	}
	return v.e.service
}

// appendAddr adds ip to the pool of its family.
func (v *view) appendAddr(ip netip.Addr) {
	if ip.Is4() {
		v.v4 = appendAddrBytes(v.v4, ip, 4)
	} else {
		v.v6 = appendAddrBytes(v.v6, ip, 16)
	}
}

// label returns the labels node i's name has in front of the Service's
// name ("" for nodes[0]), and that name.
func (v *view) label(i uint32) (label, base string) {
	base = v.names[:v.nodes[0].nameEnd]
	if i == 0 {
		return "", base
	}
	return v.names[v.nodes[i-1].nameEnd:v.nodes[i].nameEnd], base
}

// lookup returns the node of the name with the given labels in front of
// the Service's name ("" for the Service itself). It does not allocate.
func (v *view) lookup(label string) (Node, bool) {
	if v == nil || v.nodes == nil {
		return Node{}, false
	}
	if label == "" {
		return Node{v: v}, true
	}
	if len(v.index) == 0 {
		return Node{}, false
	}
	mask := uint32(len(v.index) - 1)
	for h := uint32(maphash.String(hashSeed, label)) & mask; ; h = (h + 1) & mask {
		i := v.index[h]
		if i == 0 {
			return Node{}, false
		}
		if l, _ := v.label(i); l == label {
			return Node{v: v, i: i}, true
		}
	}
}

// buildIndex fills v.index from v.nodes.
func (v *view) buildIndex() {
	count := len(v.nodes) - 1
	if count <= 0 {
		return
	}
	v.index = make([]uint32, 1<<bits.Len(uint(2*count-1)))
	mask := uint32(len(v.index) - 1)
	for i := uint32(1); i < uint32(len(v.nodes)); i++ {
		label, _ := v.label(i)
		h := uint32(maphash.String(hashSeed, label)) & mask
		for v.index[h] != 0 {
			h = (h + 1) & mask
		}
		v.index[h] = i
	}
}

// ptrCount is how many times eachPTR calls its function, less one for each
// address that a second endpoint name shares (rare): what to size for.
func (v *view) ptrCount() int {
	if v == nil || v.nodes == nil {
		return 0
	}
	n := v.ready
	if v.service().Type == ClusterIP {
		n += int(v.nodes[0].n4 + v.nodes[0].n6)
	}
	return n
}

// eachPTR calls fn for every address a PTR record points back from, with the
// node it names: each ready endpoint address names its endpoint, and each
// cluster IP names the Service. Deriving these when the index is updated,
// rather than storing them, keeps a view's memory to its names.
func (v *view) eachPTR(fn func(ip netip.Addr, n Node)) {
	if v == nil || v.nodes == nil {
		return
	}
	first := uint32(1)
	if v.service().Type == ClusterIP {
		first = 0
	}
	for i := first; i <= v.endpoints; i++ {
		n := Node{v: v, i: i}
		for _, addrs := range [2]Addrs{n.A(), n.AAAA()} {
			for k := range addrs.Len() {
				fn(addrs.At(k), n)
			}
		}
	}
}
