package dns

import (
	"fmt"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestSlowQueriesBound: while max queries are being answered off the fast
// path, more are dropped and counted; once those are answered, queries are
// taken again. (A *Handler's forwarded queries leave the bound while they
// wait upstream: TestForwardLimit.)
func TestSlowQueriesBound(t *testing.T) {
	conns, err := listenUDP("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer conns[0].Close()
	entered, release := make(chan struct{}, 8), make(chan struct{})
	handler := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		entered <- struct{}{}
		<-release
		m := new(mdns.Msg)
		w.WriteMsg(m.SetReply(r))
	})
	m := NewMetrics(prometheus.NewRegistry())
	slow := &slowQueries{max: 2, m: m}
	go serveUDPEach(conns[0], handler, slow)
	drops := func() float64 {
		var d dto.Metric
		m.overload.Write(&d)
		return d.GetCounter().GetValue()
	}

	addr := conns[0].LocalAddr().String()
	c := &mdns.Client{Timeout: time.Second}
	answered := make(chan error, 5)
	for i := range 5 {
		go func() {
			_, _, err := c.Exchange(query(fmt.Sprintf("q-%d.example.org.", i), mdns.TypeA), addr)
			answered <- err
		}()
	}
	for range 2 {
		<-entered
	}
	for deadline := time.Now().Add(time.Second); drops() < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := drops(); got != 3 {
		t.Fatalf("dropped %v of 5 with room for 2, want 3", got)
	}
	close(release)
	ok := 0
	for range 5 {
		if <-answered == nil {
			ok++
		}
	}
	if ok != 2 {
		t.Errorf("%d of 5 answered, want the 2 taken", ok)
	}
	if _, _, err := c.Exchange(query("again.example.org.", mdns.TypeA), addr); err != nil {
		t.Errorf("a query once the bound has room: %v", err)
	}
	if got := drops(); got != 3 {
		t.Errorf("drops after the wait: %v, want still 3", got)
	}
}

func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	return m
}
