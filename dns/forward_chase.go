package dns

import (
	"context"
	"errors"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/slicedns/slicedns/zone"
)

// maxChase bounds a chain of in-zone CNAMEs (ExternalName Services naming
// one another), which may loop.
const maxChase = 8

// forward answers r from upstream. The answer is passed on as it came, with
// the client's ID and RA; when no upstream answers, m (the reply prepared
// for r) carries SERVFAIL, or REFUSED when every upstream is a loop or
// too many queries are being forwarded already (the client fails over at
// once rather than after its timeout).
func (h *Handler) forward(r, m *mdns.Msg) *mdns.Msg {
	if h.offline != nil {
		h.offline(r.Question[0].Name, r.Question[0].Qtype)
		m.Authoritative = false
		m.Answer, m.Ns = nil, nil
		return m
	}
	// The client's EDNS options are its own: a COOKIE made for it, its
	// subnet, padding; NSID is not transitive (RFC 5001 3.2). Sent upstream,
	// their answers would be cached and given to every other client (a
	// cookie another client's resolver takes for spoofing), so none go.
	up := r
	if opt := r.IsEdns0(); opt != nil && len(opt.Option) > 0 {
		up = r.Copy()
		up.IsEdns0().Option = nil
	}
	resp, err := h.fwd.forward(context.Background(), up, h.upstreamWait)
	if err != nil {
		m.Authoritative = false
		m.Answer, m.Ns = nil, nil
		m.Rcode = mdns.RcodeServerFailure
		switch {
		case errors.Is(err, ErrOverloaded):
			h.m.forwardOverloaded()
			m.Rcode = mdns.RcodeRefused
		case errors.Is(err, ErrNoUpstream):
			m.Rcode = mdns.RcodeRefused
		}
		h.log.Debug("forward failed", zap.String("name", r.Question[0].Name), zap.Error(err))
		return m
	}
	resp.Id = r.Id
	resp.RecursionAvailable = true
	resp.RecursionDesired = r.RecursionDesired // a cached answer's is another client's
	if opt := resp.IsEdns0(); opt != nil {
		// Only extended errors are for the client (RFC 8914); the rest
		// (the upstream's COOKIE, NSID) was for this server.
		opt.Option = slices.DeleteFunc(opt.Option, func(o mdns.EDNS0) bool { return o.Option() != mdns.EDNS0EDE })
		// The payload size is this server's to offer, not the upstream's;
		// the rest (extended rcode, DO, other options) stays.
		opt.SetUDPSize(advertisedUDPSize)
		if r.IsEdns0() == nil {
			resp.Extra = slices.DeleteFunc(resp.Extra, func(rr mdns.RR) bool { return rr.Header().Rrtype == mdns.TypeOPT })
		}
	}
	// fit measures and truncates it for the client as packed: compressed.
	resp.Compress = true
	return resp
}

// chase follows an ExternalName CNAME for a query of any type but CNAME
// and ANY (RFC 1034 4.3.2, step 3a), as CoreDNS does for A and AAAA, so the
// client needs no second query: a target in a served zone is answered from
// the same snapshot (an SRV or TXT target as well as an address), one
// outside through the Forwarder when there is one. The rcode stays NOERROR
// (the Service's name exists) unless an in-zone target does not exist: then
// NXDOMAIN, as RFC 6604 has it for the last name of the chain.
func (h *Handler) chase(m *mdns.Msg, q mdns.Question, target string, snap *zone.Snapshot) {
	qtype := q.Qtype
	// seen are the owners of the CNAMEs answered so far.
	seen := []string{canonical(q.Name)}
	for range maxChase {
		if slices.Contains(seen, canonical(target)) {
			return // a loop: it closes here
		}
		z, rel, ok := h.match(target)
		if !ok {
			if h.fwd == nil {
				return
			}
			if h.offline != nil {
				h.offline(target, qtype)
				return
			}
			rrs, err := h.fwd.lookup(context.Background(), target, qtype, h.upstreamWait)
			if errors.Is(err, ErrOverloaded) {
				// The CNAME alone, at once: the client can follow it itself.
				h.m.forwardOverloaded()
			}
			if err != nil {
				h.log.Debug("ExternalName target not resolved upstream", zap.String("target", target), zap.Error(err))
				return
			}
			m.Answer = append(m.Answer, rrs...)
			return
		}
		if z.reverse {
			return
		}
		owner := mdns.Fqdn(target)
		node, exists := h.lookup(snap, rel)
		switch {
		case !exists:
			m.Rcode = mdns.RcodeNameError
			m.Ns = []mdns.RR{h.soa(z, snap)}
			return
		case node.CNAME() != "":
			m.Answer = append(m.Answer, h.cname(owner, node))
			seen = append(seen, canonical(target))
			target = node.CNAME()
			continue
		}
		before := len(m.Answer)
		h.records(m, mdns.Question{Name: owner, Qtype: qtype, Qclass: mdns.ClassINET}, z, snap, node, rel == "")
		if len(m.Answer) == before {
			m.Ns = []mdns.RR{h.soa(z, snap)}
		}
		return
	}
}

func canonical(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }
