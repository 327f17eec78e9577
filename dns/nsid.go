package dns

import (
	"encoding/hex"

	mdns "github.com/miekg/dns"
)

// NSID (RFC 5001) names the server that answered, for queries that ask
// (dig +nsid): with several replicas behind one Service address, it is how
// an operator tells which pod gave an odd answer. The fast path hands such
// queries to the general path, which adds the option here.

// addNSID puts the server's NSID in resp's OPT when the query r asked for it.
func (h *Handler) addNSID(resp, r *mdns.Msg) {
	if h.nsid == "" {
		return
	}
	opt, ropt := resp.IsEdns0(), r.IsEdns0()
	if opt == nil || ropt == nil || !hasOption(ropt, mdns.EDNS0NSID) {
		return
	}
	opt.Option = append(opt.Option, &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID, Nsid: h.nsid})
}

func hasOption(opt *mdns.OPT, code uint16) bool {
	for _, o := range opt.Option {
		if o.Option() == code {
			return true
		}
	}
	return false
}

// nsidHex is how miekg/dns holds an NSID: its bytes in hex.
func nsidHex(id string) string { return hex.EncodeToString([]byte(id)) }
