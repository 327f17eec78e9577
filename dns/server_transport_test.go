package dns_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

// TestTransportsAgree: an odd query gets the same rcode over UDP and TCP,
// and over both the reply keeps its question and, for an EDNS0 query, an
// OPT record (RFC 6891 7). miekg/dns's default acceptance answered these
// over TCP itself with a bare header, and refused some that UDP answers.
func TestTransportsAgree(t *testing.T) {
	addr := startHandler(t, dns.NewHandler(fixture(t), dns.Options{}))
	const name = "my-db.default.svc.cluster.local."
	edns := func(m *mdns.Msg) *mdns.Msg { m.SetEdns0(1232, false); return m }
	withOpcode := func(op int) *mdns.Msg { m := query(name, mdns.TypeA); m.Opcode = op; return edns(m) }
	twoQuestions := edns(query(name, mdns.TypeA))
	twoQuestions.Question = append(twoQuestions.Question, twoQuestions.Question[0])
	answers := edns(query(name, mdns.TypeA))
	for range 2 {
		rr, _ := mdns.NewRR(name + " 5 IN A 192.0.2.1")
		answers.Answer = append(answers.Answer, rr)
	}
	for _, tc := range []struct {
		name  string
		q     *mdns.Msg
		rcode int
	}{
		{"UPDATE", withOpcode(mdns.OpcodeUpdate), mdns.RcodeNotImplemented},
		{"STATUS", withOpcode(mdns.OpcodeStatus), mdns.RcodeNotImplemented},
		{"IQUERY", withOpcode(mdns.OpcodeIQuery), mdns.RcodeNotImplemented},
		{"NOTIFY", withOpcode(mdns.OpcodeNotify), mdns.RcodeNotImplemented},
		{"opcode 7", withOpcode(7), mdns.RcodeNotImplemented},
		{"two questions", twoQuestions, mdns.RcodeFormatError},
		{"answers in a query", answers, mdns.RcodeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, network := range []string{"udp", "tcp"} {
				b := rawExchange(t, network, addr, dns.MustPack(t, tc.q), 2*time.Second)
				if b == nil {
					t.Fatalf("%s: no reply", network)
				}
				r := unpack(t, b)
				if r.Rcode != tc.rcode || len(r.Question) == 0 || r.Question[0].Name != name || r.IsEdns0() == nil {
					t.Errorf("%s: rcode %s, question %v, OPT %v; want %s with the question and an OPT",
						network, mdns.RcodeToString[r.Rcode], r.Question, r.IsEdns0() != nil, mdns.RcodeToString[tc.rcode])
				}
			}
		})
	}
}

// TestServerPortTakenSaysSoOnce: the error an operator reads when the port
// is taken names the socket once, not "listen tcp A: listen tcp A: ...".
func TestServerPortTakenSaysSoOnce(t *testing.T) {
	first := &dns.Server{Addr: "127.0.0.1:0", Handler: dns.NewHandler(zone.New(), dns.Options{})}
	if err := first.Listen(); err != nil {
		t.Fatal(err)
	}
	defer first.Shutdown(context.Background())
	taken := &dns.Server{Addr: first.LocalAddr().String(), Handler: dns.NewHandler(zone.New(), dns.Options{})}
	err := taken.Listen()
	if err == nil {
		taken.Shutdown(context.Background())
		t.Fatal("a second server bound the same port")
	}
	if msg := err.Error(); strings.Count(msg, "listen") != 1 || !strings.Contains(msg, "address already in use") {
		t.Errorf("error %q: want one \"listen\" and the reason", msg)
	}
}

// TestTCPManyQueries: one TCP connection carries any number of queries,
// sent one at a time or pipelined. miekg/dns's default closed it after 128
// with more unread, so the kernel sent a reset and the client lost answers
// already written to it.
func TestTCPManyQueries(t *testing.T) {
	addr := startHandler(t, dns.NewHandler(fixture(t), dns.Options{}))
	const n = 300
	for _, tc := range []struct {
		name string
		// batch queries are written before their answers are read.
		batch int
	}{{"one at a time", 1}, {"pipelined", n}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			co := &mdns.Conn{Conn: c}
			for sent := 0; sent < n; sent += tc.batch {
				for i := sent; i < sent+tc.batch; i++ {
					q := query("my-db.default.svc.cluster.local.", mdns.TypeA)
					q.Id = uint16(i)
					if err := co.WriteMsg(q); err != nil {
						t.Fatalf("query %d: %v", i, err)
					}
				}
				for i := sent; i < sent+tc.batch; i++ {
					r, err := co.ReadMsg()
					if err != nil {
						t.Fatalf("answer %d of %d: %v", i+1, n, err)
					}
					if r.Id != uint16(i) || len(r.Answer) != 2 {
						t.Fatalf("answer %d: ID %d, %d records", i+1, r.Id, len(r.Answer))
					}
				}
			}
		})
	}
}
