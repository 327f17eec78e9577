package dns_test

import (
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/slicedns/slicedns/dns"
)

// TestNSIDNotForwarded: NSID is not transitive (RFC 5001 3.2). A forwarded
// query does not ask the upstream for its NSID, an upstream's NSID is not
// passed on, and the client gets this server's alone.
func TestNSIDNotForwarded(t *testing.T) {
	var asked atomic.Bool
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, mustRR(r.Question[0].Name+" 300 IN A 192.0.2.7"))
		opt := new(mdns.OPT)
		opt.Hdr = mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT, Class: 1232}
		if ro := r.IsEdns0(); ro != nil {
			for _, o := range ro.Option {
				if o.Option() == mdns.EDNS0NSID {
					asked.Store(true)
				}
			}
		}
		// An upstream that volunteers its NSID, asked or not.
		opt.Option = append(opt.Option, &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID, Nsid: hex.EncodeToString([]byte("upstream-1"))})
		m.Extra = append(m.Extra, opt)
		w.WriteMsg(m)
	})
	h := dns.NewHandler(fixture(t), dns.Options{NSID: "slicedns-pod", Forwarder: newForwarder(t, zap.NewNop(), 2*time.Second, up.addr)})
	for _, ask := range []bool{true, false} {
		q := query("www.example.org.", mdns.TypeA)
		q.SetEdns0(1232, false)
		if ask {
			q.IsEdns0().Option = append(q.IsEdns0().Option, &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID})
		}
		resp := serve(h, q, false)
		if len(resp.Answer) != 1 {
			t.Fatalf("ask=%v: answer %v", ask, resp.Answer)
		}
		var ids []string
		for _, o := range resp.IsEdns0().Option {
			if n, ok := o.(*mdns.EDNS0_NSID); ok {
				b, _ := hex.DecodeString(n.Nsid)
				ids = append(ids, string(b))
			}
		}
		want := map[bool]int{true: 1, false: 0}[ask]
		if len(ids) != want || (ask && ids[0] != "slicedns-pod") {
			t.Errorf("ask=%v: NSIDs %q, want only this server's when asked", ask, ids)
		}
	}
	if asked.Load() {
		t.Error("the upstream was asked for its NSID")
	}
}
