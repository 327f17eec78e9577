package zone

import (
	"net/netip"
	"slices"
	"strings"
)

// view is the set of names one Service publishes, keyed by the labels in
// front of "<svc>.<ns>.svc": "" for the Service itself, "<endpoint>", and
// "_<port>._<proto>" and "_<proto>" for SRV.
type view struct {
	nodes map[string]*Node
	// ready counts ready endpoint addresses, for the zone's size gauge.
	ready int
}

// buildView computes what a Service publishes from its spec and its slices.
// It costs the size of this Service only. Slices are visited in name order so
// that answers are stable.
func buildView(svc *Service, slicesByName map[string]*Slice) *view {
	base := serviceKey(svc.Namespace, svc.Name) + ".svc"
	v := &view{nodes: map[string]*Node{}}
	self := &Node{Name: base, Service: svc}
	v.nodes[""] = self

	if svc.Type == ExternalName {
		self.CNAME = strings.TrimSuffix(svc.ExternalName, ".")
		return v
	}

	names := make([]string, 0, len(slicesByName))
	for name := range slicesByName {
		names = append(names, name)
	}
	slices.Sort(names)

	// seen de-duplicates addresses that appear in several slices (an endpoint
	// moving between slices, or a slice being rewritten): the first slice in
	// name order names it.
	seen := map[[16]byte]*Node{}
	type srvKey struct {
		label  string
		target *Node
		port   uint16
	}
	srvSeen := map[srvKey]bool{}
	var srvOrder []string
	srvs := map[string][]SRV{}
	// addSRV files one SRV record under its port's name, and under "" for
	// the SRV records of the Service name itself, which (as in CoreDNS)
	// list every port, named or not.
	addSRV := func(p Port, target *Node) {
		labels := [2]string{"", ""}
		if p.Name != "" {
			labels[1] = srvLabel(p)
		}
		for i, label := range labels {
			if i == 1 && label == "" {
				break
			}
			k := srvKey{label, target, p.Port}
			if srvSeen[k] {
				continue
			}
			srvSeen[k] = true
			if _, ok := srvs[label]; !ok {
				srvOrder = append(srvOrder, label)
			}
			srvs[label] = append(srvs[label], SRV{Port: p.Port, Target: target})
		}
	}

	for _, sliceName := range names {
		s := slicesByName[sliceName]
		if s.AddressType == FQDN {
			continue
		}
		for i := range s.Endpoints {
			e := &s.Endpoints[i]
			if !e.Ready {
				continue
			}
			var targets []*Node
			for _, ip := range e.Addresses {
				if n, dup := seen[ip.As16()]; dup {
					targets = appendUnique(targets, n)
					continue
				}
				label := EndpointName(e.Hostname, ip)
				n := v.nodes[label]
				if n == nil {
					n = &Node{Name: label + "." + base, Service: svc, Endpoint: e}
					v.nodes[label] = n
				}
				seen[ip.As16()] = n
				a := Address{IP: ip, Endpoint: e}
				if ip.Is4() {
					n.A = append(n.A, a)
				} else {
					n.AAAA = append(n.AAAA, a)
				}
				if svc.Type == Headless {
					if ip.Is4() {
						self.A = append(self.A, a)
					} else {
						self.AAAA = append(self.AAAA, a)
					}
				}
				v.ready++
				targets = appendUnique(targets, n)
			}
			if svc.Type != Headless {
				continue
			}
			for _, p := range s.Ports {
				for _, t := range targets {
					addSRV(p, t)
				}
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
		for _, p := range svc.Ports {
			addSRV(p, self)
		}
	}

	for _, label := range srvOrder {
		records := srvs[label]
		// Equal weights that add up to 100, at least 1 each, as CoreDNS does.
		weight := uint16(max(1, 100/len(records)))
		for i := range records {
			records[i].Weight = weight
		}
		if label == "" {
			self.SRV = records
			continue
		}
		v.nodes[label] = &Node{Name: label + "." + base, Service: svc, SRV: records}
		proto := label[strings.IndexByte(label, '.')+1:]
		if v.nodes[proto] == nil {
			v.nodes[proto] = &Node{Name: proto + "." + base, Service: svc}
		}
	}

	// A Service with nothing to answer does not exist: NXDOMAIN, not NODATA,
	// for a headless Service with no ready endpoints.
	if self.Empty() && len(v.nodes) == 1 {
		v.nodes = nil
	}
	return v
}

func appendUnique(ns []*Node, n *Node) []*Node {
	if slices.Contains(ns, n) {
		return ns
	}
	return append(ns, n)
}

// eachPTR calls fn for every address a PTR record points back from, with the
// node it names: each ready endpoint address names its endpoint, and each
// cluster IP names the Service. Deriving these when the index is updated,
// rather than storing them, keeps a view's memory to its names.
func (v *view) eachPTR(fn func(ip netip.Addr, n *Node)) {
	if v == nil {
		return
	}
	self := v.nodes[""]
	for _, n := range v.nodes {
		if n.Endpoint == nil && !(n == self && n.Service.Type == ClusterIP) {
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
