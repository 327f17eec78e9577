package main

// End-to-end tests of PTR, pod and forwarded answers: the binary, the real
// dig, and DNS servers the tests start on loopback as upstreams.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// demoDualStack is copyDemo plus testdata/dualstack.
func demoDualStack(t *testing.T) string {
	t.Helper()
	dir := copyDemo(t)
	b, err := os.ReadFile("../../testdata/dualstack/dual.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dual.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// digCase is one dig command line and what its answer must be.
type digCase struct {
	name    string
	args    []string
	status  string
	answers []string // sorted data fields of the answer section
	auth    string   // the type the authority section must hold, if any
	extra   []string
	flag    string // a header flag that must be set
}

// check runs each case once.
func (inst *instance) check(t *testing.T, cases []digCase) {
	t.Helper()
	inst.await(t, 0, cases)
}

// await runs each case until its answer is right, for up to wait: the
// answers of a watched cluster change a moment after the API objects do.
func (inst *instance) await(t *testing.T, wait time.Duration, cases []digCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			deadline := time.Now().Add(wait)
			for {
				r := inst.dig(t, append(tc.args, "+noall", "+comments", "+answer", "+authority", "+additional")...)
				err := tc.mismatch(r)
				if err == "" {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("dig %s: %s\n%s", strings.Join(tc.args, " "), err, r.raw)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// mismatch says how r differs from what tc wants, "" if it does not.
func (tc digCase) mismatch(r digResult) string {
	switch got := values(r.answer); {
	case r.status != tc.status:
		return fmt.Sprintf("status %s, want %s", r.status, tc.status)
	case !slices.Equal(got, tc.answers):
		return fmt.Sprintf("answers %q, want %q", got, tc.answers)
	case tc.auth != "" && (len(r.auth) != 1 || !strings.Contains(r.auth[0], " "+tc.auth+" ")):
		return fmt.Sprintf("authority %q, want one %s", r.auth, tc.auth)
	case tc.extra != nil && !slices.Equal(values(r.extra), tc.extra):
		return fmt.Sprintf("additional %q, want %q", values(r.extra), tc.extra)
	case tc.flag != "" && !r.hasFlag(tc.flag):
		return fmt.Sprintf("flags %v, want %s", r.flags, tc.flag)
	}
	return ""
}

// TestDigReverseAndPods runs with the default zones, which include
// in-addr.arpa and ip6.arpa.
func TestDigReverseAndPods(t *testing.T) {
	needDig(t)
	inst := start(t, "--manifests", demoDualStack(t), "--pod-records", "insecure")
	inst.check(t, []digCase{
		{name: "PTR of a pod with a hostname", args: []string{"-x", "10.42.1.10"},
			status: "NOERROR", answers: []string{"my-db-0.my-db.default.svc.cluster.local."}, flag: "aa"},
		{name: "PTR of a pod without one", args: []string{"-x", "10.42.0.12"},
			status: "NOERROR", answers: []string{"10-42-0-12.my-service.default.svc.cluster.local."}},
		{name: "PTR of a ClusterIP", args: []string{"-x", "10.96.0.20"},
			status: "NOERROR", answers: []string{"web.shop.svc.cluster.local."}},
		{name: "PTR of a ClusterIP Service's endpoint", args: []string{"-x", "10.42.4.20"},
			status: "NOERROR", answers: []string{"10-42-4-20.web.shop.svc.cluster.local."}},
		{name: "PTR of an IPv6 ClusterIP", args: []string{"-x", "fd00:10:96::30"},
			status: "NOERROR", answers: []string{"api.shop.svc.cluster.local."}},
		{name: "PTR of an IPv6 endpoint", args: []string{"-x", "2001:db8:42:6::30"},
			status: "NOERROR", answers: []string{"2001-db8-42-6--30.api.shop.svc.cluster.local."}},
		{name: "PTR of a not-ready pod", args: []string{"-x", "10.42.3.12"}, status: "NXDOMAIN", auth: "SOA"},
		{name: "reverse apex", args: []string{"in-addr.arpa", "SOA"}, status: "NOERROR",
			answers: []string{"ns.dns.in-addr.arpa. hostmaster.in-addr.arpa. " + soaSerial(t, inst, "in-addr.arpa") + " 7200 1800 86400 5"}},
		{name: "partial reverse name", args: []string{"42.10.in-addr.arpa", "PTR"}, status: "NOERROR", auth: "SOA"},
		{name: "dual-stack A", args: []string{"api.shop.svc.cluster.local", "A"}, status: "NOERROR", answers: []string{"10.96.0.30"}},
		{name: "dual-stack AAAA", args: []string{"api.shop.svc.cluster.local", "AAAA"}, status: "NOERROR", answers: []string{"fd00:10:96::30"}},
		{name: "ClusterIP SRV", args: []string{"_http._tcp.web.shop.svc.cluster.local", "SRV"}, status: "NOERROR",
			answers: []string{"0 100 80 web.shop.svc.cluster.local."}, extra: []string{"10.96.0.20"}},
		{name: "pod A", args: []string{"10-42-0-12.default.pod.cluster.local", "A"}, status: "NOERROR", answers: []string{"10.42.0.12"}},
		{name: "pod AAAA", args: []string{"2001-db8--7.shop.pod.cluster.local", "AAAA"}, status: "NOERROR", answers: []string{"2001:db8::7"}},
		{name: "not a pod address", args: []string{"web.shop.pod.cluster.local", "A"}, status: "NXDOMAIN", auth: "SOA"},
		{name: "no upstream: outside names refused", args: []string{"example.org", "A"}, status: "REFUSED"},
	})
	// With pod records turned off, and the zones given: no pods, no PTR.
	plain := start(t, "--manifests", demoDualStack(t), "--zone", "cluster.local", "--pod-records", "disabled")
	plain.check(t, []digCase{
		{name: "pods off", args: []string{"10-42-0-12.default.pod.cluster.local", "A"}, status: "NXDOMAIN", auth: "SOA"},
		{name: "reverse zones not served", args: []string{"-x", "10.42.1.10"}, status: "REFUSED"},
	})
	// By default pod names answer: the specification (2.5) requires them.
	byDefault := start(t, "--manifests", demoDualStack(t))
	byDefault.check(t, []digCase{
		{name: "pods on by default", args: []string{"10-42-0-12.default.pod.cluster.local", "A"}, status: "NOERROR", answers: []string{"10.42.0.12"}},
	})
}

// soaSerial reads the zone's current SOA serial (the time of its last change).
func soaSerial(t *testing.T, inst *instance, zone string) string {
	t.Helper()
	r := inst.dig(t, zone, "SOA", "+short")
	f := strings.Fields(r.raw)
	if len(f) < 3 {
		t.Fatalf("no SOA for %s: %q", zone, r.raw)
	}
	return f[2]
}

// upstreamServer is a DNS server on loopback, over UDP and TCP, for
// slicedns to forward to. It returns its address.
func upstreamServer(t *testing.T, fn mdns.HandlerFunc) string {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		// The port UDP got may be taken for TCP: try another.
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if try == 10 {
			t.Fatal(err)
		}
	}
	for _, srv := range []*mdns.Server{{PacketConn: pc, Handler: fn}, {Listener: ln, Handler: fn}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return pc.LocalAddr().String()
}

// freeAddr is a loopback address whose port nothing listens on now, over
// UDP or TCP.
func freeAddr(t *testing.T) string {
	t.Helper()
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			ln.Close()
			return pc.LocalAddr().String()
		}
		if try == 10 {
			t.Fatal(err)
		}
	}
}

func TestDigForwarding(t *testing.T) {
	needDig(t)
	var asked atomic.Int32 // queries for www.example.org
	up := upstreamServer(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		if strings.EqualFold(r.Question[0].Name, "www.example.org.") {
			asked.Add(1)
		}
		m := new(mdns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if q := r.Question[0]; q.Qtype == mdns.TypeA {
			rr, _ := mdns.NewRR(q.Name + " 120 IN A 192.0.2.80")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	inst := start(t, "--manifests", copyDemo(t), "--upstream", up, "--upstream-timeout", "1s")
	inst.check(t, []digCase{
		{name: "outside name forwarded", args: []string{"www.example.org", "A"}, status: "NOERROR", answers: []string{"192.0.2.80"}, flag: "ra"},
		{name: "zone answers have RA too", args: []string{"web.shop.svc.cluster.local", "A"}, status: "NOERROR", answers: []string{"10.96.0.20"}, flag: "ra"},
		{name: "ExternalName chased upstream", args: []string{"payments.shop.svc.cluster.local", "A"}, status: "NOERROR",
			answers: []string{"192.0.2.80", "payments.example.com."}},
		{name: "unknown address falls through", args: []string{"-x", "192.0.2.80"}, status: "NOERROR"},
		{name: "outside name again: from the cache", args: []string{"WWW.example.org", "A"}, status: "NOERROR", answers: []string{"192.0.2.80"}, flag: "ra"},
	})
	if n := asked.Load(); n != 1 {
		t.Errorf("the upstream got %d queries for www.example.org, want 1 (the second from the cache)", n)
	}
	_, metrics := httpGet(t, "http://"+inst.httpAddr+"/metrics")
	for _, m := range []string{`slicedns_forward_requests_total{to="` + up + `"}`, `slicedns_forward_upstream_healthy{to="` + up + `"} 1`,
		"slicedns_forward_cache_hits_total 1\n", "slicedns_forward_cache_entries "} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	asked.Store(0)
	uncached := start(t, "--manifests", copyDemo(t), "--upstream", up, "--upstream-cache-ttl", "0")
	uncached.check(t, []digCase{
		{name: "no cache", args: []string{"www.example.org", "A"}, status: "NOERROR", answers: []string{"192.0.2.80"}},
		{name: "no cache, again", args: []string{"www.example.org", "A"}, status: "NOERROR", answers: []string{"192.0.2.80"}},
	})
	if n := asked.Load(); n != 2 {
		t.Errorf("--upstream-cache-ttl 0: the upstream got %d queries for 2, want each forwarded", n)
	}

	down := start(t, "--manifests", copyDemo(t), "--upstream", freeAddr(t), "--upstream-timeout", "500ms")
	begin := time.Now()
	down.check(t, []digCase{{name: "upstream down", args: []string{"www.example.org", "A"}, status: "SERVFAIL"}})
	if took := time.Since(begin); took > 1500*time.Millisecond {
		t.Errorf("SERVFAIL after %v, want within the 500ms timeout", took)
	}
}

// TestDigForwardingLoop: the upstream sends every query back to slicedns.
func TestDigForwardingLoop(t *testing.T) {
	needDig(t)
	self := freeAddr(t)
	var looped atomic.Int32
	up := upstreamServer(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		looped.Add(1)
		c := &mdns.Client{Timeout: 2 * time.Second}
		if resp, _, err := c.Exchange(r, self); err == nil {
			w.WriteMsg(resp)
		}
	})
	inst := start(t, "--manifests", copyDemo(t), "--dns-addr", self, "--upstream", up)
	inst.check(t, []digCase{
		{name: "loop refused", args: []string{"www.example.org", "A"}, status: "REFUSED"},
		{name: "zone still served", args: []string{"web.shop.svc.cluster.local", "A"}, status: "NOERROR", answers: []string{"10.96.0.20"}},
	})
	if n := looped.Load(); n > 4 {
		t.Errorf("the upstream got %d queries: the loop was fed", n)
	}
	if logs := inst.logs.String(); !strings.Contains(logs, `"level":"error"`) || !strings.Contains(logs, "forwarding loop: upstream "+up) {
		t.Errorf("no error naming the looping upstream; log:\n%s", logs)
	}
}

func TestRecordFlagErrors(t *testing.T) {
	bin := slicednsBinary(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--upstream", "dns.example"}, "--upstream"},
		{[]string{"--upstream", "/nonexistent/resolv.conf"}, "/nonexistent/resolv.conf"},
		{[]string{"--upstream", "10.0.0.10", "--upstream-timeout", "0s"}, "--upstream-timeout"},
		{[]string{"--upstream", "10.0.0.10", "--upstream-budget", "-1s"}, "--upstream-budget"},
		{[]string{"--upstream", "10.0.0.10", "--upstream-cache-ttl", "500ms"}, "--upstream-cache-ttl"},
		{[]string{"--upstream", "10.0.0.10", "--upstream-cache-size", "-1"}, "--upstream-cache-size"},
		{[]string{"--pod-records", "verified"}, "--pod-records"},
		{[]string{"--allow-transfer", "10.0.0.0/33"}, "--allow-transfer"},
		{[]string{"--allow-transfer", "secondary.example"}, "--allow-transfer"},
		{[]string{"--notify", "192.0.2.1"}, "--allow-transfer"},
		{[]string{"--notify", "ns1.example.org", "--allow-transfer", "0.0.0.0/0"}, "--notify"},
		{[]string{"--zone", "in-addr.arpa", "--zone", "ip6.arpa"}, "--zone"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		last := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		if err == nil || !strings.HasPrefix(last, "slicedns: ") || !strings.Contains(last, tc.want) {
			t.Errorf("%v: err %v, last line %q; want a one-line reason containing %q", tc.args, err, last, tc.want)
		}
	}
}
