package dns

import (
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// serveUDPEach is the UDP loop where there is no recvmmsg; it runs here on
// Linux too, so that it stays tested: the fast path, the general path, a
// FORMERR, and a clean return once the socket is closed.
func TestServeUDPEach(t *testing.T) {
	conns, err := listenUDP("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- serveUDPEach(conns[0], NewHandler(wireFixture(t, 3), Options{}), &slowQueries{max: defaultMaxSlowQueries})
	}()
	addr := conns[0].LocalAddr().String()
	c := &mdns.Client{Timeout: 2 * time.Second}
	for _, q := range []struct {
		name    string
		qtype   uint16
		answers int
	}{{"db.default.svc.cluster.local.", mdns.TypeA, 3}, {"dns-version.cluster.local.", mdns.TypeTXT, 1}} {
		m := new(mdns.Msg)
		m.SetQuestion(q.name, q.qtype)
		r, _, err := c.Exchange(m, addr)
		if err != nil || len(r.Answer) != q.answers {
			t.Errorf("%s %d: %v, %v; want %d answers", q.name, q.qtype, r, err, q.answers)
		}
	}
	raw, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write([]byte{0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	raw.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 512)
	if n, err := raw.Read(buf); err != nil || n != headerLen || buf[0] != 0xab || buf[3]&0x0F != mdns.RcodeFormatError {
		t.Errorf("malformed query: reply %x, %v; want a FORMERR", buf[:n], err)
	}
	conns[0].Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serveUDPEach returned %v after Close", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serveUDPEach did not return after Close")
	}
}
