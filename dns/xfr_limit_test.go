package dns

import (
	"context"
	"net/netip"
	"testing"

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
