package dns

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// Linux routes all of 127/8 to lo: a query to 127.0.0.2 reaches a wildcard
// socket with no set-up, and without being told otherwise its answer would
// leave from 127.0.0.1, which the route to the client names.

// dstQueries are one query the fast path answers and two it leaves to the
// general path (on a goroutine of its own, through a udpWriter).
var dstQueries = []struct {
	name  string
	qtype uint16
	rcode int
	n     int // answers
}{
	{"db.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, 3},
	{"dns-version.cluster.local.", mdns.TypeTXT, mdns.RcodeSuccess, 1},
	{"db.default.svc.cluster.local.", mdns.TypeMX, mdns.RcodeSuccess, 0},
}

// serveWildcard serves the wire fixture on a socket of network bound to
// addr, with serve (serveUDP or serveUDPEach), and returns its port.
func serveWildcard(t *testing.T, network, addr string, serve func(*net.UDPConn, *Handler) error) uint16 {
	t.Helper()
	var conn *net.UDPConn
	if network == "udp" {
		conns, err := listenUDP(addr, 1)
		if err != nil {
			t.Fatal(err)
		}
		conn = conns[0]
	} else {
		// listenUDP asks for "udp", which Linux with IPv6 makes a
		// dual-stack socket: an IPv4-only one is set up as it would be
		// on a host without IPv6.
		c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		if err != nil {
			t.Skipf("no %s socket: %v", network, err)
		}
		if err := enableDstInfo(c); err != nil {
			t.Fatal(err)
		}
		conn = c
	}
	h := NewHandler(wireFixture(t, 3), Options{})
	done := make(chan error, 1)
	go func() { done <- serve(conn, h) }()
	t.Cleanup(func() {
		conn.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return conn.LocalAddr().(*net.UDPAddr).AddrPort().Port()
}

// dstClient is a socket bound to local, not connected: it reads each
// answer's source as the kernel gives it.
func dstClient(t *testing.T, local string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(local)))
	if err != nil {
		t.Skipf("cannot bind %s: %v", local, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchangeEach sends every query to each of to, all before reading any
// answer (so that the server reads several at once: a batch), and checks
// that each answer comes from the address its query was sent to.
func exchangeEach(t *testing.T, c *net.UDPConn, to []netip.AddrPort, rounds int) {
	t.Helper()
	want := map[uint16]netip.AddrPort{}
	for r := range rounds {
		for i, dst := range to {
			for k, q := range dstQueries {
				m := new(mdns.Msg)
				m.SetQuestion(q.name, q.qtype)
				m.Id = uint16(r<<8 | i<<4 | k)
				b, _ := m.Pack()
				if _, err := c.WriteToUDPAddrPort(b, dst); err != nil {
					t.Fatal(err)
				}
				want[m.Id] = dst
			}
		}
	}
	buf := make([]byte, 4096)
	for range len(want) {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("%d of %d answers not received (%v): sent to %v", len(want), rounds*len(to)*len(dstQueries), err, want)
		}
		m := new(mdns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("answer from %v: %v", from, err)
		}
		dst, ok := want[m.Id]
		if !ok {
			t.Fatalf("answer %d from %v: no such query, or answered twice", m.Id, from)
		}
		delete(want, m.Id)
		q := dstQueries[m.Id&0xf]
		if from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port()); from != dst {
			t.Fatalf("%s %s sent to %v: answered from %v", q.name, mdns.TypeToString[q.qtype], dst, from)
		}
		if m.Rcode != q.rcode || len(m.Answer) != q.n {
			t.Errorf("%s %s: rcode %d, %d answers", q.name, mdns.TypeToString[q.qtype], m.Rcode, len(m.Answer))
		}
	}
}

var udpLoops = []struct {
	name  string
	serve func(*net.UDPConn, *Handler) error
}{
	{"batches", func(c *net.UDPConn, h *Handler) error {
		return serveUDP(c, h, &slowQueries{max: defaultMaxSlowQueries})
	}},
	{"each", func(c *net.UDPConn, h *Handler) error {
		return serveUDPEach(c, h, &slowQueries{max: defaultMaxSlowQueries})
	}},
}

// On a wildcard socket each answer leaves from the address its query was
// sent to, for an IPv4-only socket, a dual-stack one bound as 0.0.0.0 (what
// --dns-addr 0.0.0.0:53 gives) and one bound as [::], in both loops.
func TestUDPWildcardAnswersFromQueryDst(t *testing.T) {
	for _, sock := range []struct{ network, addr string }{
		{"udp4", "0.0.0.0:0"}, {"udp", "0.0.0.0:0"}, {"udp", "[::]:0"},
	} {
		for _, loop := range udpLoops {
			t.Run(sock.network+" "+sock.addr+" "+loop.name, func(t *testing.T) {
				port := serveWildcard(t, sock.network, sock.addr, loop.serve)
				at := func(a string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(a), port) }
				c := dstClient(t, "127.0.0.1:0")
				// One at a time, then a burst to three addresses.
				exchangeEach(t, c, []netip.AddrPort{at("127.0.0.2")}, 1)
				exchangeEach(t, c, []netip.AddrPort{at("127.0.0.1"), at("127.0.0.2"), at("127.0.0.3")}, 4)
				if sock.network == "udp" && ipv6Loopback() {
					exchangeEach(t, dstClient(t, "[::1]:0"), []netip.AddrPort{at("::1")}, 2)
				}
			})
		}
	}
}

// The same through Server, with the empty host of the default --dns-addr.
func TestServerUDPWildcardAnswersFromQueryDst(t *testing.T) {
	srv := &Server{Addr: ":0", Handler: NewHandler(wireFixture(t, 3), Options{})}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	port := srv.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	exchangeEach(t, dstClient(t, "127.0.0.1:0"), []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port)}, 3)
}

// Only a wildcard socket asks for control messages: one bound to an
// address gets none, and costs what it did.
func TestUDPDstInfoOnlyOnWildcard(t *testing.T) {
	for _, c := range []struct {
		addr  string
		level int
		opt   int
		want  int
	}{
		{"127.0.0.1:0", unix.IPPROTO_IP, unix.IP_PKTINFO, 0},
		{"[::1]:0", unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 0},
		{"0.0.0.0:0", unix.IPPROTO_IP, unix.IP_PKTINFO, 1},
		{":0", unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1},
	} {
		conns, err := listenUDP(c.addr, 1)
		if err != nil {
			t.Logf("%s: %v", c.addr, err) // no IPv6
			continue
		}
		rc, _ := conns[0].SyscallConn()
		var on int
		var serr error
		rc.Control(func(fd uintptr) { on, serr = unix.GetsockoptInt(int(fd), c.level, c.opt) })
		conns[0].Close()
		if serr != nil || on != c.want {
			t.Errorf("bound to %s: option %d is %d (%v), want %d", c.addr, c.opt, on, serr, c.want)
		}
	}
}

func ipv6Loopback() bool {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// A second IPv6 address needs a network of the test's own: the test runs
// again in a new user and network namespace (unshare -rn) with fd00::2 on
// its lo, and is skipped where namespaces cannot be made.
func TestUDPWildcardAnswersFromIPv6Dst(t *testing.T) {
	if os.Getenv("SLICEDNS_TEST_NETNS") == "" {
		cmd := exec.Command("unshare", "-rn", os.Args[0], "-test.run=^TestUDPWildcardAnswersFromIPv6Dst$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "SLICEDNS_TEST_NETNS=1")
		out, err := cmd.CombinedOutput()
		if !strings.Contains(string(out), "=== RUN") || strings.Contains(string(out), "--- SKIP") {
			t.Skipf("no network namespace: %v %s", err, out)
		}
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("in a network namespace: %v\n%s", err, out)
		}
		return
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2)")
	}
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"addr", "add", "fd00::2/128", "dev", "lo"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("ip %v: %v %s", args, err, out)
		}
	}
	// In the first moments after the address is added, packets to it can
	// be dropped as unroutable (Ip6OutNoRoutes counted them, and no socket
	// received them): the first exchange failed about one run in ten on a
	// loaded machine. Wait until a packet gets through.
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("fd00::2")})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	from := dstClient(t, "[::1]:0")
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := from.WriteTo([]byte("x"), probe.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		probe.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, _, err := probe.ReadFrom(make([]byte, 1)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no packet from ::1 reaches fd00::2")
		}
	}
	for _, loop := range udpLoops {
		t.Run(loop.name, func(t *testing.T) {
			port := serveWildcard(t, "udp", "[::]:0", loop.serve)
			at := func(a string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(a), port) }
			// From ::1, the route back names ::1 as the source.
			c := dstClient(t, "[::1]:0")
			exchangeEach(t, c, []netip.AddrPort{at("fd00::2")}, 1)
			exchangeEach(t, c, []netip.AddrPort{at("::1"), at("fd00::2")}, 4)
		})
	}
}
