package main

import (
	"net"
	"net/netip"
)

// serverAddrs returns the addresses clients reach the DNS server at, which
// the NS record's target ns.dns.<zone> resolves through: the --dns-addr host
// when it is an address, else every address of the machine's interfaces
// but loopback and link-local ones, as CoreDNS finds its own. In a pod that
// is the pod's IPs, which the DNS Service's EndpointSlices list.
func serverAddrs(dnsAddr string, interfaceAddrs func() ([]net.Addr, error)) ([]netip.Addr, error) {
	if host, _, err := net.SplitHostPort(dnsAddr); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
			// A link-local address means nothing off its link, and its
			// zone (fe80::1%eth0) cannot go in a record.
			if ip = ip.Unmap(); ip.IsLinkLocalUnicast() || ip.Zone() != "" {
				return nil, nil
			}
			return []netip.Addr{ip}, nil
		}
	}
	addrs, err := interfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if ip = ip.Unmap(); !ok || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
			continue
		}
		out = append(out, ip)
	}
	return out, nil
}
