package dns

import (
	"errors"
	"net"
	"net/netip"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/slicedns/slicedns/zone"
)

// Zone transfers (AXFR, RFC 5936; IXFR, RFC 1995) hand a secondary server
// the whole of a forward zone, as CoreDNS's kubernetes plugin does with its
// transfer plugin: the SOA, the NS record and the address of its target,
// every name's A, AAAA, SRV, CNAME and TXT records, and the SOA again. They
// are refused unless the client's address is in Options.TransferTo, since a
// transfer lists every Service and pod of the cluster. Reverse zones and
// pod names (made up from the query) are not transferred.
//
// A transfer reads one snapshot, so the secondary gets the zone as it was
// at one instant, and no writer waits on it; the snapshot is kept in memory
// until the last message is written, or a write takes longer than the
// Server's WriteTimeout (a client that stopped reading), which ends it.
// IXFR is answered with the whole zone (RFC 1995 4 allows it), or with the
// SOA alone when the client's serial is current; over UDP always with the
// SOA alone, which tells the client to come back over TCP; without the
// client's SOA, FORMERR. TSIG is not supported: a signed request gets NOTAUTH
// with TSIG error BADKEY, as every signed query does (RFC 8945 5.2.2).

// maxTransfers bounds the transfers served at once; more are refused, as
// BIND's transfers-out limit does, so that a secondary stuck in a retry loop
// cannot take the server's CPU from queries.
const maxTransfers = 8

// transferBatch is roughly how many bytes of records go in one message
// before compression: well under the 64 KiB a TCP message can hold.
const transferBatch = 16 << 10

// serveTransfer serves r if it is a zone transfer that may be served, and
// reports whether it did; otherwise ServeDNS answers r as any query (zone
// transfers it refuses).
func (h *Handler) serveTransfer(w mdns.ResponseWriter, r *mdns.Msg) (served bool) {
	z, ok := h.transferZone(w, r)
	if !ok {
		return false
	}
	snap := h.snapshot()
	if snap == nil {
		return false // not ready: answer() says SERVFAIL
	}
	start := time.Now()
	t := transfer{h: h, w: w, r: r, z: z}
	defer func() {
		if v := recover(); v != nil {
			h.recovered(v, r.Question[0].Name)
			t.err = errors.New("panic")
			if t.messages == 0 {
				m := t.reply()
				m.Rcode = mdns.RcodeServerFailure
				t.write(m)
			}
			served = true
		}
	}()
	if r.Question[0].Qtype == mdns.TypeIXFR {
		// The SOA alone, to a client that is current or asks over UDP
		// (RFC 1995 4): cheap, so it takes no slot and logs at Debug only
		// (a spoofed UDP source could otherwise fill the log). Current means
		// holding the zone's own serial: one handed out for older data is
		// always below it (zone.Snapshot.HandOutSerial).
		have, ok := ixfrSerial(r)
		if !ok || !isTCP(w) || !zone.SerialNewer(snap.Serial(), have) {
			m := t.reply()
			if ok {
				m.Answer = []mdns.RR{t.soa(snap)}
			} else {
				m.Rcode = mdns.RcodeFormatError // the client's SOA is required (RFC 1995 3)
			}
			t.write(m)
			h.m.observe(mdns.TypeIXFR, m.Rcode, time.Since(start))
			h.log.Debug("IXFR answered with the SOA", zap.String("zone", z.fqdn), zap.String("client", w.RemoteAddr().String()),
				zap.Uint32("client_serial", have), zap.String("rcode", mdns.RcodeToString[m.Rcode]))
			return true
		}
	}
	select {
	case h.transfers <- struct{}{}:
		defer func() { <-h.transfers }()
	default:
		h.transferBusy(w)
		return false
	}
	defer func() {
		if t.err != nil && t.messages > 0 {
			// Cut short: closing tells the secondary now, where waiting
			// for the rest would take its timeout.
			w.Close()
		}
		rcode := mdns.RcodeSuccess
		if t.err != nil {
			rcode = mdns.RcodeServerFailure
		}
		h.m.observe(r.Question[0].Qtype, rcode, time.Since(start))
		h.logTransfer(&t, time.Since(start))
	}()
	t.zone(snap)
	return true
}

// transferBusy logs a transfer refused for want of a slot, at most once
// every 10 seconds: only allowed clients get this far, but one in a retry
// loop should not fill the log.
func (h *Handler) transferBusy(w mdns.ResponseWriter) {
	now := time.Now().UnixNano()
	if last := h.busyLogged.Load(); now-last < int64(10*time.Second) || !h.busyLogged.CompareAndSwap(last, now) {
		return
	}
	h.log.Warn("zone transfer refused: too many at once", zap.String("client", w.RemoteAddr().String()),
		zap.Int("max", maxTransfers))
}

// transferZone returns the zone r asks to transfer when it is a transfer
// this handler serves to this client.
func (h *Handler) transferZone(w mdns.ResponseWriter, r *mdns.Msg) (servedZone, bool) {
	if len(h.transferTo) == 0 || r.Response || r.Opcode != mdns.OpcodeQuery || len(r.Question) != 1 {
		return servedZone{}, false
	}
	q := r.Question[0]
	if q.Qtype != mdns.TypeAXFR && q.Qtype != mdns.TypeIXFR || q.Qclass != mdns.ClassINET {
		return servedZone{}, false
	}
	if !h.transferAllowed(w.RemoteAddr()) || r.IsTsig() != nil { // answer() says BADKEY to TSIG
		return servedZone{}, false
	}
	if opt := r.IsEdns0(); opt != nil && (opt.Version() != 0 || optCount(r.Extra) > 1) {
		return servedZone{}, false // answer() gives these their errors
	}
	if !isTCP(w) && q.Qtype == mdns.TypeAXFR {
		return servedZone{}, false // AXFR is TCP only (RFC 5936 4.2)
	}
	z, rel, ok := h.match(q.Name)
	if !ok || rel != "" || z.reverse {
		return servedZone{}, false
	}
	return z, true
}

// transferPrefixes are Options.TransferTo as clients' addresses are
// compared with them: masked, and IPv4 in IPv4 form (a client on a
// dual-stack socket is unmapped).
func transferPrefixes(in []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range in {
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() && bits >= 96 {
			a, bits = a.Unmap(), bits-96
		}
		if q, err := a.Prefix(bits); err == nil {
			out = append(out, q)
		}
	}
	return out
}

func (h *Handler) transferAllowed(addr net.Addr) bool {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	}
	ip = ip.Unmap()
	for _, p := range h.transferTo {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ixfrSerial is the serial of the SOA an IXFR query carries in its
// authority section: the version the client holds.
func ixfrSerial(r *mdns.Msg) (uint32, bool) {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*mdns.SOA); ok {
			return soa.Serial, true
		}
	}
	return 0, false
}

// A transfer is one zone transfer being written: records are gathered into
// messages of about transferBatch bytes, each written as it fills.
type transfer struct {
	h *Handler
	w mdns.ResponseWriter
	r *mdns.Msg
	z servedZone

	serial   uint32 // the serial sent
	pending  []mdns.RR
	size     int
	records  int
	messages int
	err      error
}

// zone writes the whole zone from snap.
func (t *transfer) zone(snap *zone.Snapshot) {
	h, z := t.h, t.z
	soa := t.soa(snap)
	t.add(soa)
	t.add(h.ns(z.fqdn, z))
	if n, ok := h.nsLookup(snap, nsName); ok {
		t.node(nsName+"."+z.fqdn, n)
	}
	for n := range snap.All() {
		if t.err != nil {
			return
		}
		if owner := n.Name() + "." + z.fqdn; fitsWire(owner) {
			t.node(owner, n)
		}
	}
	t.add(soa)
	t.flush()
}

// node adds the records of n, owned by owner. Addresses are in the zone's
// order: there is no query to rotate them for.
func (t *transfer) node(owner string, n zone.Node) {
	h := t.h
	if n.CNAME() != "" {
		t.add(h.cname(owner, n))
		return
	}
	for a := range n.A().All() {
		t.add(h.addr(owner, a))
	}
	for a := range n.AAAA().All() {
		t.add(h.addr(owner, a))
	}
	for _, s := range n.SRV() {
		if rr, ok := h.srvRecord(owner, t.z, n.Target(s), s); ok {
			t.add(rr)
		}
	}
	if len(n.TXT()) > 0 {
		t.add(h.txt(owner, n))
	}
}

// soa is the zone's SOA with the serial the secondary is to hold.
func (t *transfer) soa(snap *zone.Snapshot) *mdns.SOA {
	soa := t.h.soa(t.z, snap)
	soa.Serial = snap.HandOutSerial()
	t.serial = soa.Serial
	return soa
}

func (t *transfer) add(rr mdns.RR) {
	t.pending = append(t.pending, rr)
	t.records++
	if t.size += mdns.Len(rr); t.size >= transferBatch {
		t.flush()
	}
}

// flush writes the records gathered so far as one message.
func (t *transfer) flush() {
	if len(t.pending) == 0 || t.err != nil {
		return
	}
	m := t.reply()
	m.Answer = t.pending
	t.write(m)
	t.pending, t.size = nil, 0
}

func (t *transfer) reply() *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(t.r)
	m.Authoritative = true
	m.Compress = true
	m.RecursionAvailable = t.h.fwd != nil
	if opt := t.r.IsEdns0(); opt != nil {
		m.SetEdns0(advertisedUDPSize, opt.Do())
	}
	return m
}

func (t *transfer) write(m *mdns.Msg) {
	if err := t.w.WriteMsg(m); err != nil {
		t.err = err
		return
	}
	t.messages++
}

func (h *Handler) logTransfer(t *transfer, took time.Duration) {
	q := t.r.Question[0]
	fields := []zap.Field{
		zap.String("zone", t.z.fqdn), zap.String("type", mdns.TypeToString[q.Qtype]),
		zap.String("client", t.w.RemoteAddr().String()), zap.Uint32("serial", t.serial),
		zap.Int("records", t.records), zap.Int("messages", t.messages), zap.Duration("duration", took),
	}
	if t.err != nil {
		h.log.Warn("zone transfer failed", append(fields, zap.Error(t.err))...)
		return
	}
	h.log.Info("zone transfer", fields...)
}
