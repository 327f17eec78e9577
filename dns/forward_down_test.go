package dns_test

import (
	"context"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/slicedns/slicedns/dns"
)

// stoppableUpstream serves fn over UDP until the returned stop is called;
// its port is closed then, so queries to it are refused (ICMP).
func stoppableUpstream(t *testing.T, fn mdns.HandlerFunc) (addr string, stop func()) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: fn}
	activate(t, srv)
	return pc.LocalAddr().String(), func() { srv.Shutdown() }
}

// TestForwardWhatMarksDown: timeouts of one name say nothing of the
// upstream, whose health probe answers, so the upstream stays in use; a
// refusal is the upstream's own, and moves queries to the next one at once,
// logged once.
func TestForwardWhatMarksDown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stop  bool   // the first upstream's port is closed after the probes
		qname string // asked three times
		down  bool   // the first upstream is down after
	}{
		{"a name that times out", false, "drop.example.org.", false},
		{"a refusing upstream", true, "www.example.org.", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, stop := stoppableUpstream(t, byName)
			second := startUpstream(t, answerA("192.0.2.2"))
			core, logs := observer.New(zap.InfoLevel)
			f := newForwarder(t, zap.New(core), 400*time.Millisecond, first, second.addr)
			h := dns.NewHandler(fixture(t), dns.Options{Forwarder: f})
			f.Check(context.Background())
			if tc.stop {
				stop()
			}
			for range 3 {
				h.Answer(query(tc.qname, mdns.TypeA))
			}
			if st := f.Status()[0]; st.Healthy == tc.down {
				t.Errorf("first upstream after three %s: %+v, want down %v", tc.qname, st, tc.down)
			}
			warned := logs.FilterLevelExact(zap.WarnLevel).FilterField(zap.String("upstream", first)).Len()
			if want := map[bool]int{false: 0, true: 1}[tc.down]; warned != want {
				t.Errorf("%d warnings about the first upstream, want %d: %v", warned, want, logs.All())
			}
			want := map[bool]string{false: "192.0.2.1", true: "192.0.2.2"}[tc.down]
			r := h.Answer(query("www.example.org.", mdns.TypeA))
			if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != want {
				t.Errorf("www.example.org. afterwards: %v, want %s", r.Answer, want)
			}
		})
	}
}
