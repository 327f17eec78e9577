package main

import (
	"net"
	"testing"
)

// TestDigWildcardAddress: bound to a wildcard address, as the deployment's
// --dns-addr=:53 is, slicedns answers a query sent to any address of the
// host from that address. dig drops an answer from any other (and so did
// glibc), timing out: 127.0.0.2, which Linux routes to lo, is the client's
// route back to 127.0.0.1, and the answer left from there.
func TestDigWildcardAddress(t *testing.T) {
	needDig(t)
	// The last --dns-addr counts: start's own is 127.0.0.1:0.
	inst := start(t, "--manifests", copyDemo(t), "--dns-addr", "0.0.0.0:0")
	hosts := []string{"127.0.0.2", "127.0.0.1"}
	if c, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		c.Close()
		hosts = append(hosts, "::1")
	}
	cases := []digCase{
		{name: "A (fast path)", args: []string{"my-db.default.svc.cluster.local", "A"},
			status: "NOERROR", answers: []string{"10.42.1.10", "10.42.2.11"}, flag: "aa"},
		{name: "SRV (fast path)", args: []string{"_cql._tcp.my-db.default.svc.cluster.local", "SRV"},
			status:  "NOERROR",
			answers: []string{"0 50 9042 my-db-0.my-db.default.svc.cluster.local.", "0 50 9042 my-db-1.my-db.default.svc.cluster.local."}},
		{name: "TXT (general path)", args: []string{"dns-version.cluster.local", "TXT"},
			status: "NOERROR", answers: []string{`"1.1.0"`}},
		{name: "A over TCP", args: []string{"my-db.default.svc.cluster.local", "A", "+tcp"},
			status: "NOERROR", answers: []string{"10.42.1.10", "10.42.2.11"}},
	}
	for _, host := range hosts {
		inst.host = host
		t.Run(host, func(t *testing.T) { inst.check(t, cases) })
	}
}
