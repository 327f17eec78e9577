package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/zone"
)

// TestTransferLimit: with maxTransfers under way, one more is refused; once
// one ends, it is served.
func TestTransferLimit(t *testing.T) {
	h := NewHandler(zone.New(), Options{TransferTo: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	srv := &Server{Addr: "127.0.0.1:0", Handler: h}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())

	for range maxTransfers {
		h.transfers <- struct{}{} // transfers under way
	}
	q := new(mdns.Msg)
	q.SetAxfr("cluster.local.")
	c := &mdns.Client{Net: "tcp"}
	r, _, err := c.Exchange(q, srv.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != mdns.RcodeRefused {
		t.Errorf("transfer %d: %s, want REFUSED", maxTransfers+1, mdns.RcodeToString[r.Rcode])
	}
	<-h.transfers
	r, _, err = c.Exchange(q, srv.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) == 0 || r.Answer[0].Header().Rrtype != mdns.TypeSOA {
		t.Errorf("transfer after one ended: %v", r)
	}
}

// TestTransferToStalledClient: a client that asks for a transfer and stops
// reading is cut off after WriteTimeout, freeing its slot and the snapshot,
// and Shutdown does not wait on it.
func TestTransferToStalledClient(t *testing.T) {
	z := zone.New()
	for i := range 4 {
		svc := fmt.Sprintf("big-%d", i)
		var eps []zone.Endpoint
		for j := range 20000 {
			eps = append(eps, zone.Endpoint{Ready: true, Hostname: fmt.Sprintf("pod-%d", j),
				Addresses: []netip.Addr{netip.AddrFrom4([4]byte{10, byte(i), byte(j / 250), byte(j%250 + 1)})}})
		}
		if err := z.UpsertService(&zone.Service{Namespace: "default", Name: svc, Type: zone.Headless}); err != nil {
			t.Fatal(err)
		}
		if err := z.UpsertSlice(&zone.Slice{Namespace: "default", Name: svc + "-1", Service: svc, AddressType: zone.IPv4,
			Ports: []zone.Port{{Name: "http", Protocol: "TCP", Port: 80}}, Endpoints: eps}); err != nil {
			t.Fatal(err)
		}
	}
	h := NewHandler(z, Options{TransferTo: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	srv := &Server{Addr: "127.0.0.1:0", Handler: h, WriteTimeout: 300 * time.Millisecond}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()

	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(srv.LocalAddr().String())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadBuffer(4096) // and never read: the server's writes stall
	q := new(mdns.Msg)
	q.SetAxfr("cluster.local.")
	b, _ := q.Pack()
	if _, err := c.Write(append([]byte{byte(len(b) >> 8), byte(len(b))}, b...)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for started := false; !started || len(h.transfers) > 0; {
		started = started || len(h.transfers) > 0
		if time.Now().After(deadline) {
			t.Fatalf("the stalled transfer never started (%v) or still holds its slot", started)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with a stalled client connected: %v", err)
	}
}

func TestTransferPrefixes(t *testing.T) {
	got := transferPrefixes([]netip.Prefix{
		netip.MustParsePrefix("::ffff:10.0.0.0/104"), // 10.0.0.0/8 written as IPv6
		netip.MustParsePrefix("192.0.2.7/24"),        // unmasked
		netip.MustParsePrefix("2001:db8::/32"),
	})
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transferPrefixes = %v, want %v", got, want)
	}
	h := NewHandler(zone.New(), Options{TransferTo: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}})
	if !h.transferAllowed(&net.TCPAddr{IP: net.ParseIP("10.1.2.3")}) || h.transferAllowed(&net.TCPAddr{IP: net.ParseIP("11.1.2.3")}) {
		t.Error("an IPv4 client against a mapped IPv4 prefix")
	}
}

// TestNotifierLooksAfterEachSecond: with the default Interval the Notifier
// looks 20 ms into each second, when a change of the second before can be
// told with its own serial.
func TestNotifierLooksAfterEachSecond(t *testing.T) {
	n := &Notifier{}
	d := n.untilNextLook()
	at := time.Now().Add(d)
	if d <= 0 || d > time.Second+20*time.Millisecond || at.Nanosecond() < int(19*time.Millisecond) || at.Nanosecond() > int(60*time.Millisecond) {
		t.Errorf("next look in %v, at %v past the second", d, time.Duration(at.Nanosecond()))
	}
	if d := (&Notifier{Interval: 10 * time.Millisecond}).untilNextLook(); d != 10*time.Millisecond {
		t.Errorf("a short Interval waits %v", d)
	}
}
