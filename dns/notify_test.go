package dns_test

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

// secondary is a fake secondary server: it records the NOTIFYs it gets and
// acknowledges them, then calls onNotify, if set.
type secondary struct {
	addr     netip.AddrPort
	mu       sync.Mutex
	got      []*mdns.Msg
	onNotify func(zone string)
}

func startSecondary(t *testing.T) *secondary {
	t.Helper()
	s := &secondary{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		s.mu.Lock()
		s.got = append(s.got, r)
		on := s.onNotify
		s.mu.Unlock()
		m := new(mdns.Msg)
		m.SetReply(r)
		w.WriteMsg(m)
		if on != nil && len(r.Question) == 1 {
			go on(r.Question[0].Name)
		}
	})}
	// miekg/dns refuses NOTIFY by default (it is a server's to answer).
	srv.MsgAcceptFunc = func(mdns.Header) mdns.MsgAcceptAction { return mdns.MsgAccept }
	activate(t, srv)
	return s
}

// await waits for a NOTIFY that ok accepts and returns it.
func (s *secondary) await(t *testing.T, what string, ok func(*mdns.Msg) bool) *mdns.Msg {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		i := slices.IndexFunc(s.got, ok)
		var m *mdns.Msg
		if i >= 0 {
			m = s.got[i]
		}
		s.mu.Unlock()
		if m != nil {
			return m
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no NOTIFY %s", what)
	return nil
}

func notifyOf(zoneName string, serial uint32) func(*mdns.Msg) bool {
	return func(m *mdns.Msg) bool {
		if m.Opcode != mdns.OpcodeNotify || len(m.Question) != 1 || m.Question[0].Name != zoneName || len(m.Answer) != 1 {
			return false
		}
		soa, ok := m.Answer[0].(*mdns.SOA)
		return ok && soa.Serial == serial
	}
}

func runNotifier(t *testing.T, n *dns.Notifier) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestNotifyOnChange(t *testing.T) {
	z := fixture(t)
	var ready atomic.Bool
	reg := prometheus.NewRegistry()
	h := dns.NewHandler(z, dns.Options{Zones: []string{"cluster.local", "example.org", "in-addr.arpa"},
		Ready: ready.Load, Metrics: dns.NewMetrics(reg)})
	sec := startSecondary(t)
	runNotifier(t, &dns.Notifier{Handler: h, Targets: []netip.AddrPort{sec.addr}, Interval: 10 * time.Millisecond})

	time.Sleep(100 * time.Millisecond)
	sec.mu.Lock()
	early := len(sec.got)
	sec.mu.Unlock()
	if early != 0 {
		t.Fatalf("%d NOTIFYs before the handler was ready", early)
	}
	ready.Store(true)
	// Once ready: a NOTIFY per forward zone, with the zone's serial once
	// its second is over (one less before: see HandOutSerial).
	serial := z.Snapshot().Serial()
	m := sec.await(t, "at start", notifyOf("cluster.local.", serial))
	if !m.Authoritative || m.Question[0].Qtype != mdns.TypeSOA {
		t.Errorf("NOTIFY: %v", m)
	}
	sec.await(t, "for the second zone", notifyOf("example.org.", serial))

	if err := z.UpsertService(clusterIP("default", "new", nil, "10.96.9.9")); err != nil {
		t.Fatal(err)
	}
	sec.await(t, "after a change", notifyOf("cluster.local.", z.Snapshot().Serial()))

	time.Sleep(50 * time.Millisecond) // no change: nothing more is sent
	sec.mu.Lock()
	for _, m := range sec.got {
		if m.Question[0].Name == "in-addr.arpa." {
			t.Errorf("NOTIFY for a reverse zone, which is not transferred: %v", m)
		}
	}
	sent := len(sec.got)
	sec.mu.Unlock()
	// Two zones, at start and after one change, each NOTIFY sent once or,
	// when the look fell in the second of the change, twice.
	if sent < 4 || sent > 8 {
		t.Errorf("%d NOTIFYs, want 4 to 8: two zones at start, two after one change", sent)
	}
	if n := labelled(t, reg, "slicedns_dns_notifies_total", "result", "acknowledged"); n != float64(sent) {
		t.Errorf("acknowledged NOTIFYs counted: %v of %d", n, sent)
	}
}

// TestNotifyUnanswered: a secondary that does not answer gets each NOTIFY
// three times, and one warning, however many changes follow.
func TestNotifyUnanswered(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var received atomic.Int32
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	z := fixture(t)
	settle(z) // so that one NOTIFY goes out, with the zone's own serial
	reg := prometheus.NewRegistry()
	core, logs := observer.New(zap.WarnLevel)
	n := &dns.Notifier{Handler: dns.NewHandler(z, dns.Options{Metrics: dns.NewMetrics(reg)}),
		Targets:  []netip.AddrPort{pc.LocalAddr().(*net.UDPAddr).AddrPort()},
		Interval: 10 * time.Millisecond, Timeout: 20 * time.Millisecond, Logger: zap.New(core)}
	runNotifier(t, n)
	deadline := time.Now().Add(10 * time.Second)
	for labelled(t, reg, "slicedns_dns_notifies_total", "result", "unacknowledged") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the unanswered NOTIFY was never counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := received.Load(); got != 3 {
		t.Errorf("the secondary got %d tries, want 3", got)
	}
	if err := z.UpsertService(clusterIP("default", "new", nil, "10.96.9.9")); err != nil {
		t.Fatal(err)
	}
	for labelled(t, reg, "slicedns_dns_notifies_total", "result", "unacknowledged") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the change was not told")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if logs.Len() != 1 {
		t.Errorf("%d warnings, want one for the failing secondary: %v", logs.Len(), logs.All())
	}
}

// TestSecondaryFollowsZone runs the whole loop: a secondary told of each
// change transfers the zone, and so holds the change.
func TestSecondaryFollowsZone(t *testing.T) {
	z := zone.New()
	h := dns.NewHandler(z, dns.Options{TransferTo: loopback})
	addr := startHandler(t, h)
	sec := startSecondary(t)
	var mu sync.Mutex
	var copyOf []mdns.RR
	sec.mu.Lock()
	sec.onNotify = func(name string) {
		rrs, _, err := axfr(t, addr, axfrQuery(name))
		if err == nil {
			mu.Lock()
			copyOf = rrs
			mu.Unlock()
		}
	}
	sec.mu.Unlock()
	runNotifier(t, &dns.Notifier{Handler: h, Targets: []netip.AddrPort{sec.addr}, Interval: 10 * time.Millisecond})
	if err := z.UpsertService(clusterIP("default", "web", nil, "10.96.0.80")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		has := slices.ContainsFunc(copyOf, func(rr mdns.RR) bool { return rr.String() == "web.default.svc.cluster.local.\t5\tIN\tA\t10.96.0.80" })
		mu.Unlock()
		if has {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the secondary's copy lacks the change: %v", copyOf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseNotifyTargets(t *testing.T) {
	got, err := dns.ParseNotifyTargets([]string{"192.0.2.1", "192.0.2.2:5353", "[2001:db8::1]:53", "2001:db8::2"})
	want := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:53"), netip.MustParseAddrPort("192.0.2.2:5353"),
		netip.MustParseAddrPort("[2001:db8::1]:53"), netip.MustParseAddrPort("[2001:db8::2]:53")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ParseNotifyTargets = %v, %v", got, err)
	}
	for _, bad := range []string{"ns1.example.org", "192.0.2.1:0", "192.0.2.1:x"} {
		if _, err := dns.ParseNotifyTargets([]string{bad}); err == nil {
			t.Errorf("ParseNotifyTargets(%q) succeeded", bad)
		}
	}
}

// TestNotifyDeadSecondaryDelaysNoOther: a secondary that never answers is
// retried on its own time; the one that answers hears of each change at once.
func TestNotifyDeadSecondaryDelaysNoOther(t *testing.T) {
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	z := fixture(t)
	live := startSecondary(t)
	runNotifier(t, &dns.Notifier{Handler: dns.NewHandler(z, dns.Options{}),
		Targets:  []netip.AddrPort{dead.LocalAddr().(*net.UDPAddr).AddrPort(), live.addr},
		Interval: 10 * time.Millisecond, Timeout: 2 * time.Second})
	live.await(t, "at start", notifyOf("cluster.local.", z.Snapshot().Serial()))
	if err := z.UpsertService(clusterIP("default", "new", nil, "10.96.9.9")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	live.await(t, "after a change", notifyOf("cluster.local.", z.Snapshot().Serial()))
	// The dead one's tries take 2 s + 2 s + 4 s + 2 s: the live one must
	// not wait for them (it waits at most for the change's second to end).
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the live secondary heard of the change after %v", took)
	}
}
