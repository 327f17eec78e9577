package dns

import (
	"fmt"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"
)

// A panic while answering one query is a bug in slicedns, but it must not
// take the cluster's DNS down with it: as CoreDNS does, the query gets
// SERVFAIL, the panic is logged with its stack and counted
// (slicedns_dns_panics_total), and every other query is served as before.
// Handlers other than *Handler that a Server serves are not guarded, as in
// miekg/dns.

// answerGuarded is Answer fitted for the transport, for ServeDNS (the
// general path over UDP and TCP): a panic in it becomes a SERVFAIL answer,
// which ServeDNS writes and counts like any other.
func (h *Handler) answerGuarded(r *mdns.Msg, tcp bool) (resp *mdns.Msg) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		name := ""
		if len(r.Question) > 0 {
			name = r.Question[0].Name
		}
		h.recovered(v, name)
		resp = new(mdns.Msg)
		resp.SetRcode(r, mdns.RcodeServerFailure)
		resp.RecursionAvailable = h.fwd != nil
		if opt := r.IsEdns0(); opt != nil {
			resp.SetEdns0(advertisedUDPSize, opt.Do())
		}
	}()
	resp = h.Answer(r)
	if resp != nil {
		fit(resp, r, tcp)
	}
	return resp
}

// fastAnswerGuarded is fastAnswer for the UDP readers: a panic in it becomes
// a SERVFAIL answer to that query, written into out like any answer.
func (h *Handler) fastAnswerGuarded(req []byte, q *wireQuery, out []byte) (resp []byte, rcode int, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			h.recovered(v, q.name())
			resp, rcode, ok = h.servFail(req[:q.qend], q, out), mdns.RcodeServerFailure, true
		}
	}()
	return h.fastAnswer(req, q, out)
}

// servFail writes the SERVFAIL answer to the query whose header and
// question are query into out[:0]: the question is kept, since resolvers
// match an answer to its question, and an EDNS0 query gets our OPT back.
func (h *Handler) servFail(query []byte, q *wireQuery, out []byte) []byte {
	out = append(out[:0], query...)
	ar := 0
	if q.edns {
		out = q.appendOPT(out)
		ar = 1
	}
	h.putHeader(out, q, mdns.RcodeServerFailure, 0, 0, ar)
	return out
}

func (h *Handler) recovered(v any, name string) {
	h.m.panicked()
	h.log.Error("panic answering a query; answered SERVFAIL", zap.String("name", name),
		zap.String("panic", fmt.Sprint(v)), zap.Stack("stack"))
}
