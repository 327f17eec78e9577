package dns_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/slicedns/slicedns/dns"
)

func TestForward(t *testing.T) {
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		q := r.Question[0]
		m := new(mdns.Msg)
		m.SetReply(r)
		switch {
		case q.Qtype == mdns.TypePTR:
			m.Answer = append(m.Answer, mustRR(q.Name+" 60 IN PTR host.example."))
		case strings.HasPrefix(q.Name, "db.example.com."):
			m.Answer = append(m.Answer, mustRR("db.example.com. 30 IN CNAME real.example.com."))
			m.Answer = append(m.Answer, mustRR("real.example.com. 30 IN A 192.0.2.7"))
			switch q.Qtype {
			case mdns.TypeAAAA:
				m.Answer[1] = mustRR("real.example.com. 30 IN AAAA 2001:db8::7")
			case mdns.TypeTXT:
				m.Answer[1] = mustRR(`real.example.com. 30 IN TXT "v=1"`)
			}
		default:
			answerA("192.0.2.1")(w, r)
			return
		}
		w.WriteMsg(m)
	})
	h := dns.NewHandler(reverseFixture(t), dns.Options{
		Zones:     []string{"cluster.local", "in-addr.arpa", "ip6.arpa"},
		Forwarder: newForwarder(t, nil, time.Second, up.addr),
	})
	cases := []testCase{
		// Outside the zones: the upstream's answer as it came.
		{Qname: "www.example.org.", Qtype: mdns.TypeA, Answer: []string{"www.example.org. 300 IN A 192.0.2.1"}},
		{Qname: "nx.example.org.", Qtype: mdns.TypeAAAA, Rcode: mdns.RcodeNameError,
			Ns: []string{"example. 600 IN SOA ns.example. root.example. 1 2 3 4 60"}},
		// Unknown reverse names fall through; known ones do not.
		{Qname: rev("192.0.2.1"), Qtype: mdns.TypePTR, Answer: []string{rev("192.0.2.1") + " 60 IN PTR host.example."}},
		{Qname: "_dns-sd._udp.0.42.10.in-addr.arpa.", Qtype: mdns.TypePTR, Answer: []string{"_dns-sd._udp.0.42.10.in-addr.arpa. 60 IN PTR host.example."}},
		{Qname: rev("10.42.1.10"), Qtype: mdns.TypePTR, Answer: []string{ptrTo("10.42.1.10", "my-db-0.my-db.default.svc.cluster.local.")}},
		// ExternalName: the target chased upstream, for any type.
		{Qname: "ext.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
			"ext.default.svc.cluster.local. 5 IN CNAME db.example.com.",
			"db.example.com. 30 IN CNAME real.example.com.",
			"real.example.com. 30 IN A 192.0.2.7",
		}},
		{Qname: "ext.default.svc.cluster.local.", Qtype: mdns.TypeAAAA, Answer: []string{
			"ext.default.svc.cluster.local. 5 IN CNAME db.example.com.",
			"db.example.com. 30 IN CNAME real.example.com.",
			"real.example.com. 30 IN AAAA 2001:db8::7",
		}},
		{Qname: "ext.default.svc.cluster.local.", Qtype: mdns.TypeTXT, Answer: []string{
			"ext.default.svc.cluster.local. 5 IN CNAME db.example.com.",
			"db.example.com. 30 IN CNAME real.example.com.",
			`real.example.com. 30 IN TXT "v=1"`,
		}},
		{Qname: "ext.default.svc.cluster.local.", Qtype: mdns.TypeCNAME, Answer: []string{
			"ext.default.svc.cluster.local. 5 IN CNAME db.example.com.",
		}},
		// In-zone targets are still chased locally.
		{Qname: "inzone.default.svc.cluster.local.", Qtype: mdns.TypeA, Answer: []string{
			"inzone.default.svc.cluster.local. 5 IN CNAME kubernetes.default.svc.cluster.local.",
			"kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1",
		}},
		{Qname: rev("10.42.1.12"), Qtype: mdns.TypeA, Answer: []string{rev("10.42.1.12") + " 300 IN A 192.0.2.1"}},
	}
	for _, tc := range cases {
		t.Run(tc.Qname+"/"+mdns.TypeToString[tc.Qtype], func(t *testing.T) {
			q := query(tc.Qname, tc.Qtype)
			r := h.Answer(q)
			if !r.RecursionAvailable {
				t.Error("RA not set")
			}
			local := strings.HasSuffix(tc.Qname, ".cluster.local.") || tc.Qname == rev("10.42.1.10")
			if !local {
				if r.Authoritative {
					t.Error("forwarded answer marked authoritative")
				}
				c := *r
				c.Authoritative = true // checkResponse wants it of every answer
				r = &c
			}
			checkResponse(t, q, r, tc)
		})
	}
	// Over the real server, whose UDP fast path takes in-zone A queries,
	// RA is set too, and forwarded ones come back with the client's ID.
	addr := startHandler(t, h)
	for _, name := range []string{"my-db.default.svc.cluster.local.", "www.example.org."} {
		r := ask(t, addr, name, mdns.TypeA)
		if !r.RecursionAvailable || r.Rcode != mdns.RcodeSuccess || len(r.Answer) == 0 {
			t.Errorf("%s over UDP: RA %v rcode %s answers %d", name, r.RecursionAvailable, mdns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
}

// TestForwardTCPOnTruncation: an answer truncated over UDP is asked again
// over TCP, and the full answer passed on.
func TestForwardTCPOnTruncation(t *testing.T) {
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if w.RemoteAddr().Network() != "tcp" && r.Question[0].Qtype == mdns.TypeA {
			m.Truncated = true
		} else if r.Question[0].Qtype == mdns.TypeA {
			for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
				m.Answer = append(m.Answer, mustRR(r.Question[0].Name+" 60 IN A "+a))
			}
		}
		w.WriteMsg(m)
	})
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: newForwarder(t, nil, time.Second, up.addr)})
	r := ask(t, startHandler(t, h), "big.example.org.", mdns.TypeA)
	if r.Truncated || len(r.Answer) != 3 {
		t.Errorf("TC %v, %d answers; want the full TCP answer:\n%v", r.Truncated, len(r.Answer), r)
	}
	if up.tcp.Load() != 1 {
		t.Errorf("upstream got %d TCP queries, want 1", up.tcp.Load())
	}
}

// TestForwardUpstreamDown: SERVFAIL within the timeout when no upstream
// answers, whether they are silent or refuse the connection.
func TestForwardUpstreamDown(t *testing.T) {
	const timeout = 400 * time.Millisecond
	for name, ups := range map[string][]string{
		"silent":  {blackhole(t)},
		"two":     {blackhole(t), blackhole(t)},
		"refused": {closedPort(t)},
	} {
		t.Run(name, func(t *testing.T) {
			h := dns.NewHandler(fixture(t), dns.Options{Forwarder: newForwarder(t, nil, timeout, ups...)})
			addr := startHandler(t, h)
			start := time.Now()
			r := ask(t, addr, "www.example.org.", mdns.TypeA)
			if took := time.Since(start); r.Rcode != mdns.RcodeServerFailure || took > timeout+300*time.Millisecond {
				t.Errorf("%s after %v; want SERVFAIL within %v", mdns.RcodeToString[r.Rcode], took, timeout)
			}
			if !r.RecursionAvailable || r.Authoritative {
				t.Errorf("RA %v AA %v on SERVFAIL", r.RecursionAvailable, r.Authoritative)
			}
			// The zone still answers.
			if r := ask(t, addr, "my-db.default.svc.cluster.local.", mdns.TypeA); len(r.Answer) != 2 {
				t.Errorf("zone answer: %v", r)
			}
		})
	}
}

// TestForwardHealth: a failing upstream is skipped after its health probe
// fails, used again once it passes, and tried anyway when all are down.
func TestForwardHealth(t *testing.T) {
	var up1On, up2On atomic.Bool
	switchable := func(on *atomic.Bool, addr string) func(mdns.ResponseWriter, *mdns.Msg) {
		return func(w mdns.ResponseWriter, r *mdns.Msg) {
			if on.Load() {
				answerA(addr)(w, r)
			}
		}
	}
	up1 := startUpstream(t, switchable(&up1On, "192.0.2.1"))
	up2 := startUpstream(t, switchable(&up2On, "192.0.2.2"))
	up2On.Store(true)
	core, logs := observer.New(zap.InfoLevel)
	f := budgetForwarder(t, zap.New(core), 300*time.Millisecond, time.Second, up1.addr, up2.addr)
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
	answer := func() string {
		t.Helper()
		r := h.Answer(query("www.example.org.", mdns.TypeA))
		if len(r.Answer) != 1 {
			return mdns.RcodeToString[r.Rcode]
		}
		return r.Answer[0].(*mdns.A).A.String()
	}
	f.Check(context.Background())
	if st := f.Status(); st[0].Healthy || !st[1].Healthy {
		t.Fatalf("status after the first probe: %+v", st)
	}
	if logs.FilterMessageSnippet("health probe").Len() != 1 {
		t.Errorf("no warning for the failed probe: %v", logs.All())
	}
	start := time.Now()
	if got := answer(); got != "192.0.2.2" || time.Since(start) > 100*time.Millisecond {
		t.Errorf("with the first upstream down: %s after %v, want 192.0.2.2 at once", got, time.Since(start))
	}
	up1On.Store(true)
	f.Check(context.Background())
	if got := answer(); got != "192.0.2.1" {
		t.Errorf("first upstream healthy again: %s", got)
	}
	up1On.Store(false)
	up2On.Store(false)
	f.Check(context.Background())
	if st := f.Status(); st[0].Healthy || st[1].Healthy {
		t.Fatalf("status with both down: %+v", st)
	}
	up2On.Store(true) // not probed yet: still marked down, but tried
	if got := answer(); got != "192.0.2.2" {
		t.Errorf("all marked down: %s, want them tried anyway", got)
	}
}

// TestForwardLoop: an upstream that forwards everything back to slicedns is
// found by the loop probe, logged, and never used; queries get REFUSED
// quickly instead of circling.
func TestForwardLoop(t *testing.T) {
	var slicedns atomic.Value // its address, known once it listens
	loop := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(r, slicedns.Load().(string))
		if err != nil {
			return
		}
		w.WriteMsg(resp)
	})
	good := startUpstream(t, answerA("192.0.2.9"))
	for _, tc := range []struct {
		name      string
		upstreams []string
		want      int
		answers   int
	}{
		{"only upstream", []string{loop.addr}, mdns.RcodeRefused, 0},
		{"beside a good one", []string{loop.addr, good.addr}, mdns.RcodeSuccess, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			f := newForwarder(t, zap.New(core), time.Second, tc.upstreams...)
			h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
			slicedns.Store(startHandler(t, h))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go f.Run(ctx)
			before := loop.udp.Load()
			start := time.Now()
			for range 3 {
				r := ask(t, slicedns.Load().(string), "www.example.org.", mdns.TypeA)
				if r.Rcode != tc.want || len(r.Answer) != tc.answers {
					t.Errorf("%s with %d answers, want %s with %d", mdns.RcodeToString[r.Rcode], len(r.Answer), mdns.RcodeToString[tc.want], tc.answers)
				}
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("3 queries took %v", took)
			}
			// Beside a good upstream, queries need not wait for the probe.
			// The verdict is set a moment before it is logged.
			errs := func() *observer.ObservedLogs {
				return logs.FilterLevelExact(zap.ErrorLevel).FilterMessageSnippet("forwarding loop").FilterField(zap.String("upstream", loop.addr))
			}
			for deadline := time.Now().Add(5 * time.Second); (!f.Status()[0].Loop || errs().Len() == 0) && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if st := f.Status(); !st[0].Loop {
				t.Errorf("loop not detected: %+v", st)
			}
			if n := loop.udp.Load() - before; n > 4 {
				t.Errorf("the looping upstream got %d queries: the loop was fed", n)
			}
			if errs().Len() == 0 {
				t.Errorf("no error log naming the loop; logs: %v", logs.All())
			}
		})
	}
}

func TestParseUpstreams(t *testing.T) {
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	os.WriteFile(resolv, []byte("search default.svc.cluster.local\nnameserver 10.0.0.10\nnameserver fd00::10\noptions ndots:5\n"), 0o644)
	empty := filepath.Join(dir, "empty.conf")
	os.WriteFile(empty, []byte("search x\n"), 0o644)
	for _, tc := range []struct {
		in   []string
		want []string
		err  string
	}{
		{in: []string{"10.0.0.10"}, want: []string{"10.0.0.10:53"}},
		{in: []string{"10.0.0.10:5353", "2001:db8::1"}, want: []string{"10.0.0.10:5353", "[2001:db8::1]:53"}},
		{in: []string{"[2001:db8::1]:53, 192.0.2.1"}, want: []string{"[2001:db8::1]:53", "192.0.2.1:53"}},
		{in: []string{resolv, "192.0.2.1"}, want: []string{"10.0.0.10:53", "[fd00::10]:53", "192.0.2.1:53"}},
		{in: []string{"dns.google"}, err: "want an IP address"},
		{in: []string{"10.0.0.10:0"}, err: "port 0"},
		{in: []string{"/nonexistent/resolv.conf"}, err: "/nonexistent/resolv.conf"},
		{in: []string{empty}, err: "no nameserver"},
	} {
		got, err := dns.ParseUpstreams(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || !slices.Equal(got, tc.want)):
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestForwardRejectsReplyToAnotherQuestion: an upstream's reply must be to
// the question asked. One for another name (spoofed, or a confused
// upstream) is that upstream failing: the next one is asked, and with no
// other, the client gets SERVFAIL rather than the records.
func TestForwardRejectsReplyToAnotherQuestion(t *testing.T) {
	liar := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if r.Question[0].Name != "www.bank.example." {
			w.WriteMsg(m) // the loop probes
			return
		}
		m.Question = []mdns.Question{{Name: "evil.example.", Qtype: mdns.TypeTXT, Qclass: mdns.ClassINET}}
		m.Answer = append(m.Answer, mustRR("www.bank.example. 86400 IN A 203.0.113.66"))
		w.WriteMsg(m)
	})
	honest := startUpstream(t, answerA("192.0.2.7"))
	for name, c := range map[string]struct {
		ups   []string
		rcode int
		want  string
	}{
		"then an honest one": {[]string{liar.addr, honest.addr}, mdns.RcodeSuccess, "192.0.2.7"},
		"alone":              {[]string{liar.addr}, mdns.RcodeServerFailure, ""},
	} {
		t.Run(name, func(t *testing.T) {
			h := dns.NewHandler(fixture(t), dns.Options{Forwarder: newForwarder(t, nil, time.Second, c.ups...)})
			addr := startHandler(t, h)
			// Until both upstreams' first probes are back, only the one
			// known good would be tried; a name the zone forwards starts them.
			ask(t, addr, "warm.up.example.", mdns.TypeA)
			time.Sleep(200 * time.Millisecond)
			r := ask(t, addr, "www.bank.example.", mdns.TypeA)
			if r.Rcode != c.rcode || len(r.Question) != 1 || r.Question[0].Name != "www.bank.example." {
				t.Fatalf("want %s for www.bank.example., got\n%s", mdns.RcodeToString[c.rcode], r)
			}
			var got []string
			for _, rr := range r.Answer {
				got = append(got, rr.(*mdns.A).A.String())
			}
			if c.want == "" && len(got) > 0 || c.want != "" && (len(got) != 1 || got[0] != c.want) {
				t.Errorf("answer %v, want [%s]", got, c.want)
			}
		})
	}
}

// TestForwardedOPT: a forwarded answer offers this server's payload size,
// not the upstream's, keeps the upstream's other options, and has no OPT
// when the query had none (RFC 6891 7).
func TestForwardedOPT(t *testing.T) {
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, mustRR(r.Question[0].Name+" 300 IN A 192.0.2.1"))
		m.SetEdns0(4096, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &mdns.EDNS0_EDE{InfoCode: mdns.ExtendedErrorCodeStaleAnswer})
		w.WriteMsg(m)
	})
	addr := startHandler(t, dns.NewHandler(fixture(t), dns.Options{Forwarder: newForwarder(t, nil, time.Second, up.addr)}))
	q := query("www.example.org.", mdns.TypeA)
	q.SetEdns0(1400, false)
	c := &mdns.Client{Net: "udp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatal(err)
	}
	opt := r.IsEdns0()
	if opt == nil || opt.UDPSize() != 1232 || len(opt.Option) != 1 || opt.Option[0].Option() != mdns.EDNS0EDE {
		t.Errorf("OPT of a forwarded answer: %v", opt)
	}
	if r := ask(t, addr, "www.example.org.", mdns.TypeA); r.IsEdns0() != nil || len(r.Answer) != 1 {
		t.Errorf("a query without EDNS0 got %v", r)
	}
}

// TestForwardSignedQuery: a TSIG-signed query gets BADKEY for a name it
// would forward too: the Forwarder cannot pass the signed message on
// unchanged, and the upstream hears nothing of it.
func TestForwardSignedQuery(t *testing.T) {
	var asked atomic.Bool
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		asked.Store(true)
		answerA("192.0.2.1")(w, r)
	})
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: newForwarder(t, nil, time.Second, up.addr)})
	for _, name := range []string{"www.example.org.", "my-db.default.svc.cluster.local."} {
		q := query(name, mdns.TypeA)
		q.SetTsig("key.example.", mdns.HmacSHA256, 300, time.Now().Unix())
		if r := h.Answer(q); r.Rcode != mdns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != mdns.RcodeBadKey {
			t.Errorf("%s signed: %v", name, r)
		}
	}
	if asked.Load() {
		t.Error("a signed query went upstream")
	}
}
