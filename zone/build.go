package zone

import (
	"slices"
	"strings"
)

// buildView computes what a Service publishes from its spec and its slices.
// It costs the size of this Service only. Slices come in name order, so that
// answers are stable.
//
// A view is laid out to keep the zone small: the Service node and its
// endpoint nodes share one []Node, their names one string, and their
// addresses one []Address per family, which a headless Service's own A and
// AAAA records share with the endpoint nodes whenever the orders agree (one
// address per endpoint name, as is usual). SRV lists with the same records
// share their storage too.
func buildView(svc *Service, sorted []*Slice) *view {
	base := serviceKey(svc.Namespace, svc.Name) + ".svc"
	if svc.Type == ExternalName {
		return &view{nodes: []Node{{Name: base, Service: svc, rare: &rareRecords{cname: strings.TrimSuffix(svc.ExternalName, ".")}}}}
	}

	// Pass 1: the endpoint names, in order of first appearance, and each
	// ready address with the name it is filed under.
	type rec struct {
		a    Address
		node int32 // index into labels
	}
	// Sizes, to allocate each of the scratch tables below once.
	addrs, eps := 0, 0
	for _, s := range sorted {
		if s.AddressType == FQDN {
			continue
		}
		for i := range s.Endpoints {
			if e := &s.Endpoints[i]; e.Ready {
				addrs += len(e.Addresses)
				eps++
			}
		}
	}
	var (
		labels  = make([]string, 0, addrs)
		recs    = make([]rec, 0, addrs)
		v4, v6  int
		byLabel = make(map[string]int32, addrs)
		// seen de-duplicates addresses that appear in several slices (an
		// endpoint moving between slices, or a slice being rewritten): the
		// first slice in name order names it.
		seen = make(map[[16]byte]int32, addrs)
		// plans are the SRV records to make, per endpoint: its slice's
		// ports times its targets, targets[tStart:tEnd].
		plans   []srvPlan
		targets = make([]int32, 0, addrs)
	)
	if svc.Type == Headless {
		plans = make([]srvPlan, 0, eps)
	}
	for _, s := range sorted {
		if s.AddressType == FQDN {
			continue
		}
		for i := range s.Endpoints {
			e := &s.Endpoints[i]
			if !e.Ready {
				continue
			}
			tStart := len(targets)
			for _, ip := range e.Addresses {
				if n, dup := seen[ip.As16()]; dup {
					targets = appendUniqueIdx(targets, tStart, n)
					continue
				}
				label := EndpointName(e.Hostname, ip)
				n, ok := byLabel[label]
				if !ok {
					n = int32(len(labels))
					labels = append(labels, label)
					byLabel[label] = n
				}
				seen[ip.As16()] = n
				recs = append(recs, rec{Address{IP: ip, Endpoint: e}, n})
				if ip.Is4() {
					v4++
				} else {
					v6++
				}
				targets = appendUniqueIdx(targets, tStart, n)
			}
			if svc.Type == Headless && len(s.Ports) > 0 && len(targets) > tStart {
				plans = append(plans, srvPlan{s.Ports, int32(tStart), int32(len(targets))})
			}
		}
	}

	// Pass 2: the nodes. nodes[0] is the Service, nodes[1+i] labels[i].
	nodes := make([]Node, 1+len(labels))
	self := &nodes[0]
	nameLen := len(base)
	for _, l := range labels {
		nameLen += len(l) + 1 + len(base)
	}
	var nb strings.Builder
	nb.Grow(nameLen)
	nb.WriteString(base)
	for _, l := range labels {
		nb.WriteString(l)
		nb.WriteByte('.')
		nb.WriteString(base)
	}
	all := nb.String()
	self.Name, self.Service = all[:len(base)], svc
	v := &view{nodes: nodes, ready: len(recs)}
	off := len(base)
	for i, l := range labels {
		n := &nodes[1+i]
		end := off + len(l) + 1 + len(base)
		n.Name, n.Service = all[off:end], svc
		off = end
	}
	for _, r := range recs {
		if n := &nodes[1+r.node]; n.Endpoint == nil {
			n.Endpoint = r.a.Endpoint
		}
	}
	// fill lays out one family's addresses and points each node's records
	// into them. It returns them in the Service's order.
	fill := func(is4 bool, count int, set func(n *Node, as []Address)) []Address {
		if count == 0 {
			return nil
		}
		pool := make([]Address, 0, count)
		inOrder := true
		last := int32(-1)
		for _, r := range recs {
			if r.a.IP.Is4() == is4 {
				pool = append(pool, r.a)
				inOrder = inOrder && r.node >= last
				last = r.node
			}
		}
		if inOrder {
			// Each name's addresses are one run of pool.
			first := 0
			prev := int32(-1)
			i := 0
			for _, r := range recs {
				if r.a.IP.Is4() != is4 {
					continue
				}
				if r.node != prev {
					if prev >= 0 {
						set(&nodes[1+prev], pool[first:i:i])
					}
					first, prev = i, r.node
				}
				i++
			}
			set(&nodes[1+prev], pool[first:i:i])
			return pool
		}
		// A name holds addresses that are not next to each other in the
		// Service's order: group a copy by name.
		starts := make([]int, len(labels)+1)
		for _, r := range recs {
			if r.a.IP.Is4() == is4 {
				starts[r.node+1]++
			}
		}
		for i := 1; i < len(starts); i++ {
			starts[i] += starts[i-1]
		}
		grouped := make([]Address, count)
		pos := slices.Clone(starts)
		for _, r := range recs {
			if r.a.IP.Is4() == is4 {
				grouped[pos[r.node]] = r.a
				pos[r.node]++
			}
		}
		for i := range labels {
			if lo, hi := starts[i], starts[i+1]; hi > lo {
				set(&nodes[1+i], grouped[lo:hi:hi])
			}
		}
		return pool
	}
	a4 := fill(true, v4, func(n *Node, as []Address) { n.A = as })
	a6 := fill(false, v6, func(n *Node, as []Address) { n.AAAA = as })
	if svc.Type == Headless {
		self.A, self.AAAA = a4[:len(a4):len(a4)], a6[:len(a6):len(a6)]
	}

	// The SRV records, in lists: srvLabels[i]'s records are srvs[i]. The
	// Service name's own list, "", which (as in CoreDNS) holds every port,
	// named or not, is first; each named port has its own.
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
	type srvKey struct {
		list, target int32 // target: -1 for the Service, else a label
		port         uint16
	}
	srvSeen := make(map[srvKey]struct{}, 2*len(targets))
	// addSRV files one SRV record under "" and under its port's name.
	addSRV := func(p Port, list int32, target int32) {
		t := self
		if target >= 0 {
			t = &nodes[1+target]
		}
		for _, l := range [2]int32{0, list} {
			if l < 0 {
				break
			}
			k := srvKey{l, target, p.Port}
			if _, dup := srvSeen[k]; dup {
				continue
			}
			srvSeen[k] = struct{}{}
			srvs[l] = append(srvs[l], SRV{Port: p.Port, Target: t})
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
				addSRV(p, portLists[i], t)
			}
		}
	}

	if svc.Type == ClusterIP {
		for _, ip := range svc.ClusterIPs {
			a := Address{IP: ip}
			if ip.Is4() {
				self.A = append(self.A, a)
			} else {
				self.AAAA = append(self.AAAA, a)
			}
		}
		listPorts(svc.Ports)
		for i, p := range svc.Ports {
			addSRV(p, portLists[i], -1)
		}
	}

	// Copy the SRV lists into one array, once for each distinct list (a
	// headless Service with one named port has the same list at its own
	// name as at the port's), and make the SRV names' nodes in another.
	same := make([]int, len(srvs)) // the first list equal to srvs[i]
	total, extra := 0, 0
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
		if i > 0 {
			extra += 2 // at most: the name and its _<proto> parent
		}
	}
	pool := make([]SRV, 0, total)
	for i, records := range srvs {
		if j := same[i]; j != i {
			srvs[i] = srvs[j] // already copied: j < i
			continue
		}
		start := len(pool)
		pool = append(pool, records...)
		srvs[i] = pool[start:len(pool):len(pool)]
	}
	if len(srvs[0]) > 0 {
		self.SRV = srvs[0]
	}
	if extra > 0 {
		v.srv = make([]Node, 0, extra)
	}
	for i, label := range srvLabels[1:] {
		v.srv = append(v.srv, Node{Name: label + "." + base, Service: svc, SRV: srvs[1+i]})
		proto := label[strings.IndexByte(label, '.')+1:]
		protoName := proto + "." + base
		if !slices.ContainsFunc(v.srv, func(n Node) bool { return n.Name == protoName }) {
			v.srv = append(v.srv, Node{Name: protoName, Service: svc})
		}
	}

	// A Service with nothing to answer does not exist: NXDOMAIN, not NODATA,
	// for a headless Service with no ready endpoints.
	if self.Empty() && len(v.nodes) == 1 && len(v.srv) == 0 {
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
