package zone

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// buildView computes what a Service publishes from its spec and its slices.
// It costs the size of this Service only. Slices come in name order, so that
// answers are stable.
//
// The addresses are laid out once: every IPv4 address in the Service's
// order, then every IPv6 one, then the cluster IPs. The Service's own A and
// AAAA records (headless) are the first two runs and each endpoint name's
// records a part of them whenever the orders agree (one address per endpoint
// name, as is usual); only a name whose addresses are scattered gets a
// grouped copy. SRV lists with the same records share their storage too.
func buildView(e *entry) *view {
	b := builders.Get().(*builder)
	v := b.build(e)
	if b.size <= maxPooledBuilder {
		builders.Put(b)
	}
	return v
}

// builder holds buildView's scratch tables, which are reused from one build
// to the next: at 100k endpoints they were most of the garbage a load made,
// and garbage of the same sizes as the views' arrays fragments the heap.
type builder struct {
	labels  []string
	recs    []buildRec
	aliases []buildRec
	aliased map[buildRec]struct{} // aliases, to look up
	byLabel map[string]int32
	seen    map[[16]byte]int32
	plans   []srvPlan
	targets []int32
	srvSeen map[srvKey]struct{}
	nodeAt  []int32
	size    int // addresses in the largest build so far
}

// buildRec is a ready address with the name it is filed under.
type buildRec struct {
	ip   netip.Addr
	node int32 // index into labels
}

type srvKey struct {
	list, target int32
	port         uint16
}

// maxPooledBuilder keeps a builder that served a huge Service from being
// kept, with its tables, for the many small ones.
const maxPooledBuilder = 1 << 14

var builders = sync.Pool{New: func() any {
	return &builder{byLabel: map[string]int32{}, seen: map[[16]byte]int32{}, srvSeen: map[srvKey]struct{}{},
		aliased: map[buildRec]struct{}{}}
}}

func (b *builder) build(e *entry) *view {
	svc, sorted := e.service, e.slices
	base := serviceKey(svc.Namespace, svc.Name) + ".svc"
	v := &view{e: e}
	if svc.Type == ExternalName {
		// The API server takes an IPv4 address as externalName, with a
		// warning; as a DNS name of digits it is no host, so DNS servers
		// do not resolve it (the Kubernetes docs; CoreDNS answers nothing)
		// and the Service publishes no name.
		if ExternalNameIsAddress(svc.ExternalName) {
			return v
		}
		v.names = base
		v.nodes = []nodeRec{{nameEnd: uint32(len(base))}}
		v.rare = &rareRecords{cname: strings.TrimSuffix(svc.ExternalName, ".")}
		return v
	}

	// Pass 1: the endpoint names, in order of first appearance, and each
	// ready address with the name it is filed under.
	addrs, eps := 0, 0
	for _, s := range sorted {
		if s.addressType == FQDN {
			continue
		}
		for i := range s.eps {
			if s.ready(i) {
				lo, hi := s.addrRange(i)
				addrs += hi - lo
				eps++
			}
		}
	}
	b.size = max(b.size, addrs)
	clear(b.byLabel)
	clear(b.seen)
	clear(b.srvSeen)
	clear(b.aliased)
	var (
		labels = b.labels[:0]
		recs   = b.recs[:0]
		// aliases are addresses already in recs that another endpoint,
		// under another name, holds too (hostNetwork pods of one node):
		// each name gets its records, the Service lists the address once.
		aliases = b.aliases[:0]
		v4      int
		byLabel = b.byLabel
		// seen de-duplicates addresses that appear in several slices (an
		// endpoint moving between slices, or a slice being rewritten): the
		// first slice in name order names it.
		seen = b.seen
		// plans are the SRV records to make, per endpoint: its slice's
		// ports times its targets, targets[tStart:tEnd].
		plans   = b.plans[:0]
		targets = b.targets[:0]
	)
	defer func() {
		// Keep the grown tables for the next build, without what they
		// point at.
		clear(labels)
		clear(plans)
		b.labels, b.recs, b.aliases, b.plans, b.targets = labels[:0], recs[:0], aliases[:0], plans[:0], targets[:0]
	}()
	for _, s := range sorted {
		if s.addressType == FQDN {
			continue
		}
		for i := range s.eps {
			if !s.ready(i) {
				continue
			}
			tStart := len(targets)
			hostname := s.hostname(i)
			lo, hi := s.addrRange(i)
			for k := lo; k < hi; k++ {
				ip := s.addr(k)
				first, dup := seen[ip.As16()]
				if dup && (hostname == "" || labels[first] == hostname) {
					targets = appendUniqueIdx(targets, tStart, first)
					continue
				}
				label := EndpointName(hostname, ip)
				n, ok := byLabel[label]
				if !ok {
					n = int32(len(labels))
					labels = append(labels, label)
					byLabel[label] = n
				}
				if dup {
					if _, had := b.aliased[buildRec{ip, n}]; !had {
						b.aliased[buildRec{ip, n}] = struct{}{}
						aliases = append(aliases, buildRec{ip, n})
					}
					targets = appendUniqueIdx(targets, tStart, n)
					continue
				}
				seen[ip.As16()] = n
				recs = append(recs, buildRec{ip, n})
				if ip.Is4() {
					v4++
				}
				targets = appendUniqueIdx(targets, tStart, n)
			}
			if svc.Type == Headless && len(s.ports) > 0 && len(targets) > tStart {
				plans = append(plans, srvPlan{s.ports, int32(tStart), int32(len(targets))})
			}
		}
	}
	v.endpoints, v.ready = uint32(len(labels)), len(recs)

	// Pass 2: the SRV records, in lists: srvLabels[i]'s records are
	// srvs[i]. The Service name's own list, "", which (as in CoreDNS) holds
	// every port, named or not, is first; each named port has its own.
	// Targets are node indices: 0 is the Service, 1+i is labels[i].
	srvLabels := []string{""}
	srvs := [][]SRV{nil}
	listOf := func(p Port) int32 {
		label := srvLabel(p)
		if i := slices.Index(srvLabels, label); i >= 0 {
			return int32(i)
		}
		srvLabels = append(srvLabels, label)
		srvs = append(srvs, nil)
		return int32(len(srvLabels) - 1)
	}
	srvSeen := b.srvSeen
	// addSRV files one SRV record under "" and under its port's name.
	addSRV := func(p Port, list int32, target int32) {
		for _, l := range [2]int32{0, list} {
			if l < 0 {
				break
			}
			k := srvKey{l, target, p.Port}
			if _, dup := srvSeen[k]; dup {
				continue
			}
			srvSeen[k] = struct{}{}
			srvs[l] = append(srvs[l], SRV{Port: p.Port, target: uint32(target)})
		}
	}
	// portLists are the lists of the ports of one slice, which all its
	// endpoints' plans share.
	var (
		portLists []int32
		listed    []Port
	)
	listPorts := func(ports []Port) {
		if len(listed) == len(ports) && len(ports) > 0 && &listed[0] == &ports[0] {
			return
		}
		listed, portLists = ports, portLists[:0]
		for _, p := range ports {
			l := int32(-1)
			if p.Name != "" {
				l = listOf(p)
			}
			portLists = append(portLists, l)
		}
	}
	for _, pl := range plans {
		listPorts(pl.ports)
		for i, p := range pl.ports {
			for _, t := range targets[pl.tStart:pl.tEnd] {
				addSRV(p, portLists[i], 1+t)
			}
		}
	}
	if svc.Type == ClusterIP {
		listPorts(svc.Ports)
		for i, p := range svc.Ports {
			addSRV(p, portLists[i], 0)
		}
	}

	// The SRV names' nodes: each named port's, and its _<proto> parent.
	srvNodes := make([]string, 0, 2*(len(srvLabels)-1))
	srvNodeOf := make([]uint32, len(srvLabels)) // node index of each list
	for i, label := range srvLabels[1:] {
		srvNodeOf[1+i] = uint32(1 + len(labels) + len(srvNodes))
		srvNodes = append(srvNodes, label)
		if proto := label[strings.IndexByte(label, '.')+1:]; !slices.Contains(srvNodes, proto) {
			srvNodes = append(srvNodes, proto)
		}
	}

	// The nodes and their names.
	v.nodes = make([]nodeRec, 1+len(labels)+len(srvNodes))
	nameLen := len(base)
	for _, l := range labels {
		nameLen += len(l)
	}
	for _, l := range srvNodes {
		nameLen += len(l)
	}
	var nb strings.Builder
	nb.Grow(nameLen)
	nb.WriteString(base)
	v.nodes[0].nameEnd = uint32(nb.Len())
	for i, l := range labels {
		nb.WriteString(l)
		v.nodes[1+i].nameEnd = uint32(nb.Len())
	}
	for i, l := range srvNodes {
		nb.WriteString(l)
		v.nodes[1+len(labels)+i].nameEnd = uint32(nb.Len())
	}
	v.names = nb.String()

	// The addresses, packed per family: every one in the Service's order,
	// the cluster IPs, then grouped copies for names whose addresses are
	// scattered.
	var clusterV4, clusterV6 int
	if svc.Type == ClusterIP {
		for _, ip := range svc.ClusterIPs {
			if ip.Is4() {
				clusterV4++
			} else {
				clusterV6++
			}
		}
	}
	v.v4 = make([]byte, 0, 4*(v4+clusterV4))
	v.v6 = make([]byte, 0, 16*(len(recs)-v4+clusterV6))
	for _, r := range recs {
		v.appendAddr(r.ip)
	}
	// place points each endpoint name's records of one family, the first
	// count addresses of its pool, into it, or into a grouped copy.
	place := func(is4 bool, count int, set func(n *nodeRec, start, count uint32)) {
		if count == 0 {
			return
		}
		pool, w := &v.v4, 4
		if !is4 {
			pool, w = &v.v6, 16
		}
		inOrder := true
		last := int32(-1)
		nodeAt := b.nodeAt[:0]
		defer func() { b.nodeAt = nodeAt[:0] }()
		for _, r := range recs {
			if r.ip.Is4() == is4 {
				nodeAt = append(nodeAt, r.node)
				inOrder = inOrder && r.node >= last
				last = r.node
			}
		}
		// An alias is not in the Service's run: its name needs a copy.
		var extra []buildRec
		for _, a := range aliases {
			if a.ip.Is4() == is4 {
				extra = append(extra, a)
			}
		}
		if inOrder && len(extra) == 0 {
			first := 0
			for i := 1; i <= len(nodeAt); i++ {
				if i == len(nodeAt) || nodeAt[i] != nodeAt[first] {
					set(&v.nodes[1+nodeAt[first]], uint32(first), uint32(i-first))
					first = i
				}
			}
			return
		}
		// A name holds addresses that are not next to each other in the
		// Service's order: group a copy by name, keeping their order.
		starts := make([]int, len(labels)+1)
		for _, n := range nodeAt {
			starts[n+1]++
		}
		for _, a := range extra {
			starts[a.node+1]++
		}
		for i := 1; i < len(starts); i++ {
			starts[i] += starts[i-1]
		}
		at := len(*pool) / w
		*pool = append(*pool, make([]byte, (count+len(extra))*w)...)
		pos := slices.Clone(starts)
		for k, n := range nodeAt {
			copy((*pool)[(at+pos[n])*w:], (*pool)[k*w:(k+1)*w])
			pos[n]++
		}
		// Each alias after its name's own addresses, in order of appearance.
		for _, a := range extra {
			raw := a.ip.As16()
			copy((*pool)[(at+pos[a.node])*w:], raw[16-w:])
			pos[a.node]++
		}
		for i := range labels {
			if s, e := starts[i], starts[i+1]; e > s {
				set(&v.nodes[1+i], uint32(at+s), uint32(e-s))
			}
		}
	}
	self := &v.nodes[0]
	if svc.Type == Headless {
		self.a4, self.n4 = 0, uint32(v4)
		self.a6, self.n6 = 0, uint32(len(recs)-v4)
	}
	if svc.Type == ClusterIP {
		self.a4, self.n4 = uint32(len(v.v4)/4), uint32(clusterV4)
		self.a6, self.n6 = uint32(len(v.v6)/16), uint32(clusterV6)
		for _, ip := range svc.ClusterIPs {
			v.appendAddr(ip)
		}
	}
	place(true, v4, func(n *nodeRec, start, count uint32) { n.a4, n.n4 = start, count })
	place(false, len(recs)-v4, func(n *nodeRec, start, count uint32) { n.a6, n.n6 = start, count })

	// Copy the SRV lists into one array, once for each distinct list (a
	// headless Service with one named port has the same list at its own
	// name as at the port's).
	same := make([]int, len(srvs)) // the first list equal to srvs[i]
	total := 0
	for i, records := range srvs {
		// Equal weights that add up to 100, at least 1 each, as CoreDNS does.
		weight := uint16(max(1, 100/max(1, len(records))))
		for j := range records {
			records[j].Weight = weight
		}
		same[i] = i
		for j := range i {
			if same[j] == j && slices.Equal(srvs[j], records) {
				same[i] = j
				break
			}
		}
		if same[i] == i {
			total += len(records)
		}
	}
	v.srvs = make([]SRV, 0, total)
	ranges := make([]srvList, len(srvs))
	for i, records := range srvs {
		if j := same[i]; j != i {
			ranges[i] = ranges[j] // already copied: j < i
		} else {
			start := uint32(len(v.srvs))
			v.srvs = append(v.srvs, records...)
			ranges[i] = srvList{start: start, end: uint32(len(v.srvs))}
		}
	}
	for i := range srvs {
		if ranges[i].end > ranges[i].start {
			ranges[i].node = srvNodeOf[i]
			v.srvLists = append(v.srvLists, ranges[i])
		}
	}

	// A Service with nothing to answer does not exist: NXDOMAIN, not NODATA,
	// for a headless Service with no ready endpoints.
	if len(v.nodes) == 1 && (Node{v: v}).Empty() {
		v.nodes = nil
		return v
	}
	v.buildIndex()
	return v
}

// srvPlan is one endpoint's share of a headless Service's SRV records.
type srvPlan struct {
	ports        []Port
	tStart, tEnd int32
}

// appendUniqueIdx appends n to ns unless ns[from:] holds it.
func appendUniqueIdx(ns []int32, from int, n int32) []int32 {
	if slices.Contains(ns[from:], n) {
		return ns
	}
	return append(ns, n)
}
