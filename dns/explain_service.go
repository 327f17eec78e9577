package dns

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/slicedns/slicedns/zone"
)

// explainService fills in the Service, its slices and the notes about them.
// Whether an endpoint is served is read off the snapshot's published names,
// never recomputed, so the explanation cannot disagree with the answers;
// only the reason for an exclusion is inferred.
func (x *explainer) explainService(p ParsedName) {
	x.base = p.Service + "." + p.Namespace + ".svc"
	st, ok := x.snap.Service(p.Namespace, p.Service)
	x.st = st
	x.explainProblems(p.Namespace, p.Service)
	if !ok || st.Service == nil {
		x.e.ServiceError = "no such Service in namespace " + p.Namespace
		x.e.NamespacesWithService = x.snap.NamespacesWithService(p.Service)
		if ns := x.e.NamespacesWithService; len(ns) == 1 {
			// The commonest mistake: the right Service in the wrong namespace.
			old := "." + p.Service + "." + p.Namespace + ".svc."
			fixed := strings.Replace("."+x.e.FQDN, old, "."+p.Service+"."+ns[0]+".svc.", 1)
			x.note("did you mean %s?", fixed[1:])
		}
		if ok {
			x.note("%d EndpointSlice(s) name Service %s: they are kept, but publish nothing until the Service exists", len(st.Slices), p.Service)
		}
	} else {
		x.e.Service = serviceInfo(st.Service)
	}
	served := 0
	for _, sl := range st.Slices {
		si := SliceInfo{Name: sl.Name, AddressType: sl.AddressType.String(), Ports: portInfos(sl.Ports), Endpoints: []EndpointInfo{}}
		for i := range sl.Endpoints {
			ei := x.endpointInfo(sl, i)
			if ei.Served {
				served++
			}
			si.Endpoints = append(si.Endpoints, ei)
		}
		x.e.Slices = append(x.e.Slices, si)
	}
	if svc := st.Service; svc != nil {
		x.serviceNotes(svc, served)
	}
	switch p.Kind {
	case "endpoint":
		x.endpointNotes(p.Endpoint)
	case "srv":
		x.portNotes(p.Port, p.Proto)
	}
}

func serviceInfo(s *zone.Service) *ServiceInfo {
	si := &ServiceInfo{Namespace: s.Namespace, Name: s.Name, Type: s.Type.String(),
		ExternalName: s.ExternalName, Selector: selectorMap(s.Selector), Ports: portInfos(s.Ports),
		PublishNotReadyAddresses: s.PublishNotReadyAddresses}
	for _, ip := range s.ClusterIPs {
		si.ClusterIPs = append(si.ClusterIPs, ip.String())
	}
	return si
}

// selectorMap reads a zone.Service's Selector back into a map, for JSON.
func selectorMap(s string) map[string]string {
	if s == "" {
		return nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func portInfos(ps []zone.Port) []PortInfo {
	var out []PortInfo
	for _, p := range ps {
		out = append(out, PortInfo{Name: p.Name, Protocol: string(p.Protocol), Port: p.Port})
	}
	return out
}

func (x *explainer) endpointInfo(sl *zone.Slice, i int) EndpointInfo {
	e := &sl.Endpoints[i]
	ei := EndpointInfo{Hostname: e.Hostname, Ready: e.Ready, Serving: e.Serving, Terminating: e.Terminating,
		Node: e.NodeName, Zone: e.Zone, TargetRef: e.TargetRef, Addresses: []string{}}
	for _, ip := range e.Addresses {
		ei.Addresses = append(ei.Addresses, ip.String())
		if x.published(sl, i, ip) {
			ei.Served = true
		}
	}
	switch {
	case len(e.Addresses) > 0:
		ei.Name = zone.EndpointName(e.Hostname, e.Addresses[0])
	case e.Hostname != "":
		ei.Name = e.Hostname
	}
	switch {
	case ei.Served && e.Hostname == "":
		ei.Reason = "no hostname: named " + ei.Name
	case ei.Served:
	case x.st.Service == nil:
		ei.Reason = "no Service: not served"
	case x.st.Service.Type == zone.ExternalName:
		ei.Reason = "ExternalName Service: endpoints are not served"
	case sl.AddressType == zone.FQDN:
		ei.Reason = "FQDN slice: not served in DNS"
	case !e.Ready && e.Terminating:
		ei.Reason = "ready: false (terminating)"
	case !e.Ready:
		ei.Reason = "ready: false"
	default:
		ei.Reason = "not served"
		if owner := x.servedFrom(e); owner != "" {
			ei.Reason = "duplicate address: served from slice " + owner
		}
	}
	return ei
}

// published reports whether the endpoint's own name holds ip as this
// endpoint's address: the zone knows where each address came from.
func (x *explainer) published(sl *zone.Slice, i int, ip netip.Addr) bool {
	n, ok := x.snap.Lookup(zone.EndpointName(sl.Endpoints[i].Hostname, ip) + "." + x.base)
	if !ok {
		return false
	}
	from, at, ok := n.Origin(ip)
	return ok && from == sl.Name && at == i
}

// servedFrom names the slice whose endpoint is published with one of e's
// addresses, when another endpoint of the Service took it first.
func (x *explainer) servedFrom(e *zone.Endpoint) string {
	for _, ip := range e.Addresses {
		for _, n := range x.snap.LookupAddr(ip) {
			if n.Service() != x.st.Service {
				continue
			}
			if from, _, ok := n.Origin(ip); ok {
				return from
			}
		}
	}
	return ""
}

func (x *explainer) serviceNotes(svc *zone.Service, served int) {
	switch svc.Type {
	case zone.ExternalName:
		if zone.ExternalNameIsAddress(svc.ExternalName) {
			x.note("ExternalName Service whose externalName %s is an IP address, not a host name: DNS servers do not resolve it (NXDOMAIN); give a host name, or use a Service without selector and an EndpointSlice", svc.ExternalName)
			break
		}
		x.note("ExternalName Service: its name answers every query type with a CNAME to %s; it has no other names", strings.TrimSuffix(svc.ExternalName, "."))
	case zone.ClusterIP:
		x.note("ClusterIP Service: its name answers with the cluster IP whether endpoints are ready or not; ready endpoints also get names of their own")
		if len(x.st.Slices) == 0 && len(x.snap.SlicesNamingService(svc.Name)) > 0 {
			x.slicesElsewhereNotes(svc.Name, svc.Namespace)
		}
	case zone.Headless:
		// No slice at all is another mistake than no ready endpoint.
		switch {
		case len(x.st.Slices) == 0:
			x.slicesElsewhereNotes(svc.Name, svc.Namespace)
			x.note("no endpoint is served: a headless Service without EndpointSlices has no names (NXDOMAIN)")
		case served == 0:
			x.note("no endpoint is served: a headless Service without a ready endpoint has no names (NXDOMAIN)")
		}
	}
	if svc.PublishNotReadyAddresses {
		x.note("publishNotReadyAddresses: the EndpointSlice controller reports every endpoint ready, started or not")
	}
}

// endpointNotes explains a per-endpoint name: which endpoint it is, or why
// no endpoint has it.
func (x *explainer) endpointNotes(label string) {
	var names []string
	for si, sl := range x.st.Slices {
		for i := range sl.Endpoints {
			e, ei := &sl.Endpoints[i], x.e.Slices[si].Endpoints[i]
			for _, ip := range e.Addresses {
				switch {
				case zone.EndpointName(e.Hostname, ip) == label && !ei.Served:
					x.note("%s is endpoint %s in slice %s, excluded: %s", label, ip, sl.Name, ei.Reason)
					return
				case zone.EndpointName(e.Hostname, ip) == label:
					return
				case e.Hostname != "" && zone.EndpointName("", ip) == label:
					x.note("%s is endpoint %s, whose hostname %s is its only name", label, ip, e.Hostname)
					return
				}
			}
			if ei.Served && !slices.Contains(names, ei.Name) {
				names = append(names, ei.Name)
			}
		}
	}
	if x.st.Service == nil {
		return
	}
	if len(names) > 10 {
		names = append(names[:10], "...")
	}
	x.note("no endpoint of %s is named %s; served names: %s (an endpoint is named by its hostname, or else by its address with dashes)",
		x.st.Service.Name, label, strings.Join(names, ", "))
}

// portNotes explains an SRV name whose port is not one the Service has.
func (x *explainer) portNotes(port, proto string) {
	if x.st.Service == nil || x.st.Service.Type == zone.ExternalName {
		return
	}
	ports := x.st.Service.Ports
	if x.st.Service.Type == zone.Headless {
		// A headless Service's SRV records come from its slices' ports.
		ports = nil
		for _, sl := range x.st.Slices {
			ports = append(ports, sl.Ports...)
		}
	}
	var named []string
	for _, p := range ports {
		if p.Name == port && strings.EqualFold(string(p.Protocol), proto) {
			return
		}
		if s := p.Name + "/" + string(p.Protocol); p.Name != "" && !slices.Contains(named, s) {
			named = append(named, s)
		}
	}
	x.note("no port named %s with protocol %s; named ports: %s (unnamed ports have no SRV records)",
		port, strings.ToUpper(proto), strings.Join(named, ", "))
}
