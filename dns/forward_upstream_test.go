package dns_test

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/slicedns/slicedns/dns"
)

// fakeUpstream is a DNS server on loopback standing in for the resolvers
// slicedns forwards to; it counts the queries it gets by transport.
type fakeUpstream struct {
	addr     string
	udp, tcp atomic.Int32
}

// startUpstream serves fn over UDP and TCP on one loopback port.
func startUpstream(t *testing.T, fn func(w mdns.ResponseWriter, r *mdns.Msg)) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	handler := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		if w.RemoteAddr().Network() == "tcp" {
			u.tcp.Add(1)
		} else {
			u.udp.Add(1)
		}
		fn(w, r)
	})
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if !errors.Is(err, syscall.EADDRINUSE) || try == 10 {
			t.Fatal(err)
		}
	}
	u.addr = pc.LocalAddr().String()
	for _, srv := range []*mdns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}} {
		activate(t, srv)
	}
	return u
}

// activate starts srv, a miekg/dns server on a bound socket, and stops it
// after the test.
func activate(t *testing.T, srv *mdns.Server) {
	t.Helper()
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
}

// answerA answers every A query with addr, and anything else with NXDOMAIN.
func answerA(addr string) func(mdns.ResponseWriter, *mdns.Msg) {
	return func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		if q.Qtype == mdns.TypeA {
			m.Answer = append(m.Answer, mustRR(q.Name+" 300 IN A "+addr))
		} else {
			m.Rcode = mdns.RcodeNameError
			m.Ns = append(m.Ns, mustRR("example. 600 IN SOA ns.example. root.example. 1 2 3 4 60"))
		}
		w.WriteMsg(m)
	}
}

func mustRR(s string) mdns.RR {
	rr, err := mdns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return rr
}

// blackhole is an upstream address that takes queries and never answers.
func blackhole(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

// closedPort is a loopback address nothing listens on: queries to it fail
// at once (ICMP port unreachable).
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// newForwarder is a forwarder whose queries take at most timeout in all:
// the first upstream's try may use it up.
func newForwarder(t *testing.T, log *zap.Logger, timeout time.Duration, upstreams ...string) *dns.Forwarder {
	t.Helper()
	return budgetForwarder(t, log, timeout, timeout, upstreams...)
}

// budgetForwarder gives each try timeout, and each query budget, and
// keeps no cache: the tests of upstreams' behaviour ask one name again.
func budgetForwarder(t *testing.T, log *zap.Logger, timeout, budget time.Duration, upstreams ...string) *dns.Forwarder {
	t.Helper()
	f, err := dns.NewForwarder(dns.ForwarderOptions{Upstreams: upstreams, Timeout: timeout, Budget: budget, HealthInterval: time.Hour, Logger: log, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func ask(t *testing.T, addr, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: "udp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(query(name, qtype), addr)
	if err != nil {
		t.Fatalf("%s %s: %v", name, mdns.TypeToString[qtype], err)
	}
	return r
}
