package zone

import (
	"hash/maphash"
	"math/bits"
	"net/netip"
)

// view is the set of names one Service publishes, keyed by the labels in
// front of "<svc>.<ns>.svc": "" for the Service itself, "<endpoint>", and
// "_<port>._<proto>" and "_<proto>" for SRV.
type view struct {
	// nodes are the Service's own node (nodes[0]) and its endpoint names';
	// srv are the SRV names' and their _<proto> parents'. nodes is nil when
	// the Service publishes nothing: its name does not exist.
	nodes []Node
	srv   []Node
	// index finds a node by its label: an open-addressing hash table (with
	// linear probing, at most half full) of positions in nodes[1:] then
	// srv, plus one; 0 is a free slot. It costs a few bytes a name where a
	// Go map costs tens.
	index []uint32
	// ready counts ready endpoint addresses, for the zone's size gauge.
	ready int
}

// at returns the node at position i of the index.
func (v *view) at(i uint32) *Node {
	if int(i) < len(v.nodes)-1 {
		return &v.nodes[1+i]
	}
	return &v.srv[int(i)-(len(v.nodes)-1)]
}

// lookup returns the node of the name with the given labels in front of
// the Service's name ("" for the Service itself). It does not allocate.
func (v *view) lookup(label string) (*Node, bool) {
	if v == nil || v.nodes == nil {
		return nil, false
	}
	if label == "" {
		return &v.nodes[0], true
	}
	if len(v.index) == 0 {
		return nil, false
	}
	// Every name is label + "." + the Service's name.
	want := len(label) + 1 + len(v.nodes[0].Name)
	mask := uint32(len(v.index) - 1)
	for h := uint32(maphash.String(hashSeed, label)) & mask; ; h = (h + 1) & mask {
		k := v.index[h]
		if k == 0 {
			return nil, false
		}
		if n := v.at(k - 1); len(n.Name) == want && n.Name[:len(label)] == label {
			return n, true
		}
	}
}

// buildIndex fills v.index from v.nodes and v.srv.
func (v *view) buildIndex() {
	count := len(v.nodes) - 1 + len(v.srv)
	if count <= 0 {
		return
	}
	v.index = make([]uint32, 1<<bits.Len(uint(2*count-1)))
	mask := uint32(len(v.index) - 1)
	base := len(v.nodes[0].Name)
	for i := range uint32(count) {
		n := v.at(i)
		h := uint32(maphash.String(hashSeed, n.Name[:len(n.Name)-1-base])) & mask
		for v.index[h] != 0 {
			h = (h + 1) & mask
		}
		v.index[h] = i + 1
	}
}

// ptrCount is how many times eachPTR calls its function.
func (v *view) ptrCount() int {
	if v == nil || v.nodes == nil {
		return 0
	}
	n := v.ready
	if self := &v.nodes[0]; self.Service.Type == ClusterIP {
		n += len(self.A) + len(self.AAAA)
	}
	return n
}

// eachPTR calls fn for every address a PTR record points back from, with the
// node it names: each ready endpoint address names its endpoint, and each
// cluster IP names the Service. Deriving these when the index is updated,
// rather than storing them, keeps a view's memory to its names.
func (v *view) eachPTR(fn func(ip netip.Addr, n *Node)) {
	if v == nil {
		return
	}
	for i := range v.nodes {
		n := &v.nodes[i]
		if n.Endpoint == nil && !(i == 0 && n.Service.Type == ClusterIP) {
			continue
		}
		for _, a := range n.A {
			fn(a.IP, n)
		}
		for _, a := range n.AAAA {
			fn(a.IP, n)
		}
	}
}
