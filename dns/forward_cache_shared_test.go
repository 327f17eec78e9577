package dns_test

import (
	"sync/atomic"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/slicedns/slicedns/dns"
)

// TestForwardCacheSharesNothingOfAClient: an answer the cache gives to every
// client must carry nothing of the first one's. Its EDNS options (a COOKIE
// made for it, its subnet) are not sent upstream, the upstream's COOKIE is
// not passed on (extended errors are), and RD is the asking client's; an
// answer to a query without RD, which the upstream may give from its cache
// alone, is not kept for those that recurse.
func TestForwardCacheSharesNothingOfAClient(t *testing.T) {
	var sentOptions atomic.Int32
	addr, asked := counting(t, func(r *mdns.Msg) *mdns.Msg {
		opt := r.IsEdns0()
		if opt != nil {
			sentOptions.Add(int32(len(opt.Option)))
		}
		m := reply(r, mdns.RcodeSuccess, []string{"@ 60 IN A 192.0.2.7"})
		if mo := m.IsEdns0(); mo != nil {
			mo.Option = append(mo.Option,
				&mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708090a0b0c0d0e0f10"},
				&mdns.EDNS0_EDE{InfoCode: mdns.ExtendedErrorCodeStaleAnswer})
		}
		return m
	})
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: cacheForwarder(t, dns.ForwarderOptions{}, addr)})
	withOptions := func(rd bool) *mdns.Msg {
		q := query("www.example.org.", mdns.TypeA)
		q.RecursionDesired = rd
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option,
			&mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "a1a2a3a4a5a6a7a8"},
			&mdns.EDNS0_SUBNET{Code: mdns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{192, 0, 2, 0}})
		return q
	}
	// Without RD: answered, but not kept.
	if r := h.Answer(withOptions(false)); r.RecursionDesired || len(r.Answer) != 1 {
		t.Errorf("RD clear: answer %v", r)
	}
	for i := range 2 {
		r := h.Answer(withOptions(true))
		if !r.RecursionDesired || len(r.Answer) != 1 || r.IsEdns0() == nil {
			t.Fatalf("query %d: %v", i, r)
		}
		var codes []uint16
		for _, o := range r.IsEdns0().Option {
			codes = append(codes, o.Option())
		}
		if len(codes) != 1 || codes[0] != mdns.EDNS0EDE {
			t.Errorf("query %d: options %v, want the extended error alone", i, codes)
		}
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("upstream asked %d times, want twice: the RD-clear query's answer was kept", n)
	}
	if n := sentOptions.Load(); n != 0 {
		t.Errorf("%d client options reached the upstream", n)
	}
}

// TestForwardCacheTTLs: a TTL with its top bit set counts as 0 (RFC 2181
// 8), so the answer is not kept; and a negative answer's SOA is served for
// no longer than the answer was kept, not for its own TTL.
func TestForwardCacheTTLs(t *testing.T) {
	addr, asked := counting(t, func(r *mdns.Msg) *mdns.Msg {
		switch r.Question[0].Name {
		case "huge.example.org.":
			return reply(r, mdns.RcodeSuccess, []string{"@ 4294967295 IN A 192.0.2.7"})
		case "alias.example.org.": // NODATA at the end of a CNAME
			return reply(r, mdns.RcodeSuccess, []string{"@ 300 IN CNAME nodata.example.org."},
				"example.org. 3600 IN SOA ns.example.org. h.example.org. 1 7200 900 86400 20")
		}
		return reply(r, mdns.RcodeNameError, nil, "example.org. 3600 IN SOA ns.example.org. h.example.org. 1 7200 900 86400 20")
	})
	h := dns.NewHandler(fixture(t), dns.Options{Forwarder: cacheForwarder(t, dns.ForwarderOptions{}, addr)})
	h.Answer(query("huge.example.org.", mdns.TypeA))
	h.Answer(query("huge.example.org.", mdns.TypeA))
	if n := asked.Load(); n != 2 {
		t.Errorf("a TTL of 2^32-1 was kept: upstream asked %d times for 2 queries", n)
	}
	h.Answer(query("nx.example.org.", mdns.TypeA))
	r := h.Answer(query("nx.example.org.", mdns.TypeA))
	if n := asked.Load(); n != 3 || r.Rcode != mdns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Ttl > 20 {
		t.Errorf("NXDOMAIN from the cache after %d queries upstream: %v; want its SOA's TTL at most the MINIMUM, 20", n, r)
	}
	h.Answer(query("alias.example.org.", mdns.TypeAAAA))
	r = h.Answer(query("alias.example.org.", mdns.TypeAAAA))
	if n := asked.Load(); n != 4 || len(r.Answer) != 1 || r.Answer[0].Header().Ttl > 20 {
		t.Errorf("NODATA after a CNAME, from the cache after %d queries upstream: %v; want it kept at most the MINIMUM, 20", n, r)
	}
}
