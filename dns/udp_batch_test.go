package dns_test

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

// A burst from several clients is read and answered in batches (recvmmsg,
// sendmmsg on Linux): every query must get its own answer, at the address
// it came from, whichever path answers it: the fast path (A, SRV), the
// general path (TXT, MX, on a goroutine of its own), or a FORMERR.
func TestServerUDPBurst(t *testing.T) {
	addr := startServer(t)
	type sent struct {
		name  string
		qtype uint16
		check func(*mdns.Msg) error
	}
	answers := func(n int) func(*mdns.Msg) error {
		return func(m *mdns.Msg) error {
			if m.Rcode != mdns.RcodeSuccess || len(m.Answer) != n {
				return fmt.Errorf("rcode %s, %d answers; want %d", mdns.RcodeToString[m.Rcode], len(m.Answer), n)
			}
			return nil
		}
	}
	kinds := []sent{
		{"small.default.svc.cluster.local.", mdns.TypeA, answers(5)},
		{"pod-3.small.default.svc.cluster.local.", mdns.TypeA, answers(1)},
		{"_http._tcp.small.default.svc.cluster.local.", mdns.TypeSRV, answers(5)},
		{"dns-version.cluster.local.", mdns.TypeTXT, answers(1)},
		{"small.default.svc.cluster.local.", mdns.TypeMX, answers(0)}, // NODATA, general path
		{"nope.default.svc.cluster.local.", mdns.TypeA, func(m *mdns.Msg) error {
			if m.Rcode != mdns.RcodeNameError {
				return fmt.Errorf("rcode %s, want NXDOMAIN", mdns.RcodeToString[m.Rcode])
			}
			return nil
		}},
	}
	const clients, perClient = 4, 150
	conns := make([]*net.UDPConn, clients)
	for c := range conns {
		raddr, _ := net.ResolveUDPAddr("udp", addr)
		conn, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns[c] = conn
	}
	// In each wave every client sends its queries before reading: the
	// server finds many waiting at once (a wave is kept within what a
	// socket's default receive buffer holds, as UDP may drop the rest).
	// IDs say which client and which query.
	const wave = 30
	buf := make([]byte, 65535)
	for first := 0; first < perClient; first += wave {
		wantFormErrs := 0
		for i := first; i < first+wave; i++ {
			for c, conn := range conns {
				k := kinds[i%len(kinds)]
				m := query(k.name, k.qtype)
				m.Id = uint16(c<<12 | i)
				if _, err := conn.Write(dns.MustPack(t, m)); err != nil {
					t.Fatal(err)
				}
				if i%10 == 7 {
					// a header claiming a question that is not there
					conn.Write([]byte{byte(c << 4), byte(i), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
					if c == 0 {
						wantFormErrs++
					}
				}
			}
		}
		for c, conn := range conns {
			seen := map[uint16]bool{}
			formErrs := 0
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			for len(seen) < wave || formErrs < wantFormErrs {
				n, err := conn.Read(buf)
				if err != nil {
					t.Fatalf("client %d, wave at %d: %d answers and %d FORMERRs of %d and %d, then %v", c, first, len(seen), formErrs, wave, wantFormErrs, err)
				}
				m := new(mdns.Msg)
				if err := m.Unpack(buf[:n]); err != nil || len(m.Question) == 0 {
					if n == 12 && buf[3]&0x0F == mdns.RcodeFormatError && int(buf[0]>>4) == c {
						formErrs++
						continue
					}
					t.Fatalf("client %d: reply %x is neither an answer nor its FORMERR", c, buf[:min(n, 12)])
				}
				if int(m.Id>>12) != c {
					t.Fatalf("client %d got the answer to client %d's query", c, m.Id>>12)
				}
				i := int(m.Id & 0xfff)
				k := kinds[i%len(kinds)]
				if seen[m.Id] || i < first || i >= first+wave || m.Question[0].Name != k.name || m.Question[0].Qtype != k.qtype {
					t.Fatalf("client %d query %d: answer for %s %d (again: %v)", c, i, m.Question[0].Name, m.Question[0].Qtype, seen[m.Id])
				}
				if err := k.check(m); err != nil {
					t.Fatalf("client %d query %d (%s): %v", c, i, k.name, err)
				}
				seen[m.Id] = true
			}
		}
	}
}

// A query longer than the server reads over UDP (2048 bytes) is cut by the
// kernel; it is answered FORMERR, with its ID, and the next query is fine.
func TestServerUDPOverlongQuery(t *testing.T) {
	addr := startServer(t)
	m := query("small.default.svc.cluster.local.", mdns.TypeA)
	m.Id = 0xbeef
	m.SetEdns0(1232, false)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &mdns.EDNS0_PADDING{Padding: make([]byte, 3000)})
	r := rawExchange(t, "udp", addr, dns.MustPack(t, m), 2*time.Second)
	if len(r) != 12 || r[0] != 0xbe || r[1] != 0xef || r[2]&0x80 == 0 || r[3]&0x0F != mdns.RcodeFormatError {
		t.Fatalf("reply %x to an overlong query, want a bare FORMERR with its ID", r)
	}
	// Over TCP the same query is read whole and answered.
	if r := rawExchange(t, "tcp", addr, dns.MustPack(t, m), 2*time.Second); r == nil || len(unpack(t, r).Answer) != 5 {
		t.Error("over TCP the long query was not answered")
	}
	if r := rawExchange(t, "udp", addr, dns.MustPack(t, query("small.default.svc.cluster.local.", mdns.TypeA)), 2*time.Second); r == nil || len(unpack(t, r).Answer) != 5 {
		t.Error("no answer to a good query after an overlong one")
	}
}

// Over IPv6 the sender's address goes back as it came, on both paths.
func TestServerUDPv6(t *testing.T) {
	z := zone.New()
	sized(t, z, "small", 5, 46)
	srv := &dns.Server{Addr: "[::1]:0", Handler: dns.NewHandler(z, dns.Options{})}
	if err := srv.Listen(); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	go srv.Serve()
	defer srv.Shutdown(t.Context())
	addr := srv.LocalAddr().String()
	for _, q := range []*mdns.Msg{query("small.default.svc.cluster.local.", mdns.TypeA), query("dns-version.cluster.local.", mdns.TypeTXT)} {
		r := rawExchange(t, "udp", addr, dns.MustPack(t, q), 2*time.Second)
		if r == nil || len(unpack(t, r).Answer) == 0 {
			t.Errorf("%s over IPv6: no answer", q.Question[0].Name)
		}
	}
}

// The UDP loop, batching included, allocates nothing for the queries the
// fast path answers: measured over real sockets, with a client that
// allocates nothing either (make bench shows the same under dnsperf). On a
// wildcard socket too, where each answer carries its source address.
func TestServerUDPLoopDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	t.Run("127.0.0.1", func(t *testing.T) { udpLoopAllocs(t, "127.0.0.1:0", "127.0.0.1") })
	t.Run("0.0.0.0", func(t *testing.T) { udpLoopAllocs(t, "0.0.0.0:0", "127.0.0.2") })
}

// udpLoopAllocs serves on listen and counts allocations while queries go
// to its port at host.
func udpLoopAllocs(t *testing.T, listen, host string) {
	_, port, _ := net.SplitHostPort(startHandlerAt(t, listen, dns.NewHandler(serverZone(t), dns.Options{})))
	raddr, _ := net.ResolveUDPAddr("udp", net.JoinHostPort(host, port))
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pkts [][]byte
	for _, q := range []*mdns.Msg{
		query("small.default.svc.cluster.local.", mdns.TypeA),
		query("pod-1.small.default.svc.cluster.local.", mdns.TypeA),
		query("_http._tcp.small.default.svc.cluster.local.", mdns.TypeSRV),
		query("nope.default.svc.cluster.local.", mdns.TypeA),
		query("small.default.svc.cluster.local.", mdns.TypeAAAA),
	} {
		pkts = append(pkts, dns.MustPack(t, q))
	}
	buf := make([]byte, 4096)
	exchange := func(rounds int) {
		for range rounds {
			for _, p := range pkts { // several waiting at once: a batch
				conn.Write(p)
			}
			for range pkts {
				conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := conn.Read(buf); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	exchange(50) // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const rounds = 200
	exchange(rounds)
	runtime.ReadMemStats(&after)
	// A few allocations may come from elsewhere in the process (timers,
	// the runtime); one per query would be 1,000.
	if n := after.Mallocs - before.Mallocs; n > 20 {
		t.Errorf("%d allocations while serving %d queries over UDP", n, rounds*len(pkts))
	}
}
