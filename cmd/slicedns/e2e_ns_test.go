package main

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// kubeDNS is the cluster DNS Service with this server's address,
// 127.0.0.1, as its one ready endpoint.
const kubeDNS = `apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  clusterIP: 10.96.0.10
  clusterIPs: ["10.96.0.10"]
  ports: [{name: dns, port: 53, protocol: UDP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-abcde
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns}
addressType: IPv4
ports: [{name: dns, port: 53, protocol: UDP}]
endpoints:
  - addresses: ["127.0.0.1"]
    conditions: {ready: true}
`

// TestDigNameServer: the NS record's target resolves, to the cluster DNS
// Service's cluster IP once the server's address is one of its endpoints,
// else to the address the server listens on.
func TestDigNameServer(t *testing.T) {
	needDig(t)
	alone := start(t, "--manifests", copyDemo(t))
	alone.check(t, []digCase{
		{name: "no Service has the server's address", args: []string{"ns.dns.cluster.local", "A"},
			status: "NOERROR", answers: []string{"127.0.0.1"}, flag: "aa"},
	})

	dir := copyDemo(t)
	if err := os.WriteFile(filepath.Join(dir, "kube-dns.yaml"), []byte(kubeDNS), 0o644); err != nil {
		t.Fatal(err)
	}
	inst := start(t, "--manifests", dir)
	inst.check(t, []digCase{
		{name: "the DNS Service's cluster IP", args: []string{"ns.dns.cluster.local", "A"},
			status: "NOERROR", answers: []string{"10.96.0.10"}, flag: "aa"},
		{name: "over TCP", args: []string{"ns.dns.cluster.local", "A", "+tcp"},
			status: "NOERROR", answers: []string{"10.96.0.10"}},
		{name: "no IPv6 address: NODATA", args: []string{"ns.dns.cluster.local", "AAAA"}, status: "NOERROR", auth: "SOA"},
		{name: "dns is an empty non-terminal", args: []string{"dns.cluster.local", "A"}, status: "NOERROR", auth: "SOA"},
		{name: "NS with its address", args: []string{"cluster.local", "NS"},
			status: "NOERROR", answers: []string{"ns.dns.cluster.local."}, extra: []string{"10.96.0.10"}},
	})
}

// TestDigNSID: dig +nsid names the server, over UDP and TCP.
func TestDigNSID(t *testing.T) {
	needDig(t)
	inst := start(t, "--manifests", copyDemo(t), "--nsid", "slicedns-abc12")
	for _, transport := range []string{"+notcp", "+tcp"} {
		r := inst.dig(t, "my-db.default.svc.cluster.local", "A", "+nsid", transport)
		if !strings.Contains(r.raw, `NSID: 73 6c 69 63 65 64 6e 73 2d 61 62 63 31 32 ("slicedns-abc12")`) {
			t.Errorf("%s: no NSID in\n%s", transport, r.raw)
		}
		if r.status != "NOERROR" || len(r.answer) != 2 {
			t.Errorf("%s: %s, %d answers", transport, r.status, len(r.answer))
		}
	}
	if r := inst.dig(t, "my-db.default.svc.cluster.local", "A"); strings.Contains(r.raw, "NSID") {
		t.Errorf("NSID sent unasked:\n%s", r.raw)
	}
}

func TestServerAddrs(t *testing.T) {
	cidr := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	ifaces := func() ([]net.Addr, error) {
		return []net.Addr{cidr("127.0.0.1/8"), cidr("::1/128"), cidr("10.244.0.5/24"), cidr("fe80::1/64"),
			cidr("fd00:244::5/64"), &net.UDPAddr{IP: net.ParseIP("192.0.2.9")}}, nil
	}
	tests := []struct {
		dnsAddr string
		want    []string
	}{
		{":53", []string{"10.244.0.5", "fd00:244::5"}},
		{"0.0.0.0:53", []string{"10.244.0.5", "fd00:244::5"}},
		{"[::]:53", []string{"10.244.0.5", "fd00:244::5"}},
		{"127.0.0.1:5353", []string{"127.0.0.1"}},
		{"[::ffff:10.0.0.1]:53", []string{"10.0.0.1"}},
		{"[fd00::53]:53", []string{"fd00::53"}},
		{"[fe80::1%eth0]:53", nil}, // no usable address: ns.dns does not resolve
		{"169.254.0.1:53", nil},
		{"localhost:53", []string{"10.244.0.5", "fd00:244::5"}}, // a host name: the interfaces
	}
	for _, tt := range tests {
		got, err := serverAddrs(tt.dnsAddr, ifaces)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		if !slices.Equal(s, tt.want) {
			t.Errorf("serverAddrs(%q) = %v, want %v", tt.dnsAddr, s, tt.want)
		}
	}
	failing := func() ([]net.Addr, error) { return nil, errors.New("no netlink") }
	if _, err := serverAddrs(":53", failing); err == nil {
		t.Error("an interface listing error was not returned")
	}
	if got, err := serverAddrs("10.0.0.1:53", failing); err != nil || !slices.Equal(got, []netip.Addr{netip.MustParseAddr("10.0.0.1")}) {
		t.Errorf("a given address needs no interfaces: %v, %v", got, err)
	}
}
