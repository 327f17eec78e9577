package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
)

// listenUDP opens n UDP sockets on addr with SO_REUSEPORT, so the kernel
// spreads queries over one serving goroutine per core (one socket where
// the system has no SO_REUSEPORT). The first socket fixes the port when
// addr asks for port 0.
func listenUDP(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = reusePort(fd) })
		return errors.Join(err, serr)
	}}
	if !reusePortSupported {
		n = 1
	}
	var conns []*net.UDPConn
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, pc.(*net.UDPConn))
		if wantsDst(conns[i]) {
			if err := enableDstInfo(conns[i]); err != nil {
				for _, c := range conns {
					c.Close()
				}
				return nil, err
			}
		}
		addr = pc.LocalAddr().String()
	}
	return conns, nil
}

// wantsDst reports whether conn is bound to a wildcard address, where each
// answer must name the address its query was sent to as its source (see
// udp_pktinfo_linux.go).
func wantsDst(conn *net.UDPConn) bool {
	a, ok := conn.LocalAddr().(*net.UDPAddr)
	return dstInfoSupported && ok && a.IP.IsUnspecified()
}

// queryDst is the address a query on a wildcard socket was sent to, which
// its answer leaves from; the zero value leaves it to routing (a socket
// bound to one address, or nothing known). ifindex is the interface it
// came in on.
type queryDst struct {
	addr    netip.Addr
	ifindex uint32
}

// writeFrom sends b to to, from dst; c is where the control message saying
// so is made.
func writeFrom(conn *net.UDPConn, b []byte, to netip.AddrPort, dst queryDst, c *srcControl) (int, error) {
	n := putSrc(c, dst)
	if n == 0 {
		return conn.WriteToUDPAddrPort(b, to)
	}
	written, _, err := conn.WriteMsgUDPAddrPort(b, srcBytes(c, n), to)
	return written, err
}

// yieldEvery is how many packets a UDP reader handles between yields while
// its socket never runs dry. Then a read always finds a packet waiting, so
// the reader keeps its P; other goroutines (a source applying an API
// change, the GC) would wait for the scheduler's 10 ms preemption. Yielding
// now and then lets them in at once.
const yieldEvery = 32

// serveUDPEach reads queries from conn one at a time until it is closed.
// The common queries are answered on this goroutine from wire bytes with
// no allocation; the rest are unpacked and handed to handler on a goroutine
// of their own, as miekg/dns does, so a slow answer never holds up the
// socket. On Linux serveUDP reads and writes in batches instead
// (udp_linux.go); this is the loop elsewhere.
func serveUDPEach(conn *net.UDPConn, handler mdns.Handler, slow *slowQueries) error {
	fast, _ := handler.(*Handler)
	buf := make([]byte, mdns.MaxMsgSize)
	out := make([]byte, 0, mdns.MaxMsgSize)
	var q wireQuery
	var ctl []byte // the control messages of a query, on a wildcard socket
	if wantsDst(conn) {
		ctl = newDstControl()
	}
	var src srcControl
	for served := 0; ; served++ {
		if served%yieldEvery == yieldEvery-1 {
			runtime.Gosched()
		}
		var n, ctlLen int
		var from netip.AddrPort
		var err error
		if ctl != nil {
			n, ctlLen, _, from, err = conn.ReadMsgUDPAddrPort(buf, ctl)
		} else {
			// Bound to one address: read as ever, with recvfrom.
			n, from, err = conn.ReadFromUDPAddrPort(buf)
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(time.Millisecond) // a transient error (e.g. ICMP): do not spin
			continue
		}
		req := buf[:n]
		var dst queryDst
		if ctl != nil {
			dst = parseDst(ctl[:ctlLen])
		}
		if fast != nil && parseQuery(req, &q) {
			start := time.Now()
			if resp, rcode, ok := fast.fastAnswerGuarded(req, &q, out); ok {
				writeFrom(conn, resp, from, dst, &src)
				fast.m.observe(q.qtype, rcode, time.Since(start))
				continue
			}
		}
		slow.serve(conn, req, from, dst, handler)
	}
}

// defaultMaxSlowQueries is Server.MaxSlowQueries when unset: at 2 KB or so
// each, 8 MB. Answered from the zone they take microseconds, so only a
// flood fills it.
const defaultMaxSlowQueries = 4096

// slowQueries bounds the UDP queries answered on goroutines of their own
// (everything but the fast path). Past the bound a query is dropped and
// counted, as a full socket would drop it, rather than growing goroutines
// without limit while a client floods. A query leaves the bound once it
// waits on an upstream (Handler.upstreamWait): the Forwarder's
// MaxConcurrent bounds those, and answers REFUSED past it; otherwise a
// slow or dead upstream would fill this bound and PTR, ExternalName, SOA
// or truncated answers, which need no upstream, would be dropped with the
// forwarded queries.
type slowQueries struct {
	inFlight atomic.Int64
	max      int64
	m        *Metrics // nil: not counted
}

// serve answers a copy of req on a goroutine of its own, unless the bound
// is reached.
func (s *slowQueries) serve(conn *net.UDPConn, req []byte, from netip.AddrPort, dst queryDst, handler mdns.Handler) {
	if s.inFlight.Add(1) > s.max {
		s.inFlight.Add(-1)
		s.m.overloaded()
		return
	}
	pkt := append([]byte(nil), req...)
	go func() {
		left := false
		leave := func() {
			if !left {
				left = true
				s.inFlight.Add(-1)
			}
		}
		defer leave()
		serveSlowUDP(conn, pkt, from, dst, handler, leave)
	}()
}

// serveSlowUDP mirrors miekg/dns's server: a packet too short for a header,
// or a response, is dropped (answering could amplify an attack); one that
// does not unpack gets FORMERR. upstreamWait is called if the query waits
// on an upstream (a *Handler's forwarded queries).
func serveSlowUDP(conn *net.UDPConn, pkt []byte, from netip.AddrPort, dst queryDst, handler mdns.Handler, upstreamWait func()) {
	if len(pkt) < headerLen || binary.BigEndian.Uint16(pkt[2:])&flagQR != 0 {
		return
	}
	w := &udpWriter{conn: conn, to: from, dst: dst}
	req := new(mdns.Msg)
	if err := req.Unpack(pkt); err != nil {
		w.Write(formErr(pkt))
		metricsOf(handler).refused(mdns.RcodeFormatError)
		return
	}
	if h, ok := handler.(*Handler); ok && h.fwd != nil {
		c := *h // this query's own, as Explain's is
		c.upstreamWait = upstreamWait
		handler = &c
	}
	handler.ServeDNS(w, req)
}

// formErr is the FORMERR answer to a query that cannot be read: its ID and
// opcode, no sections. pkt must hold a header.
func formErr(pkt []byte) []byte {
	var b [headerLen]byte
	copy(b[:], pkt[:2])
	opcode := binary.BigEndian.Uint16(pkt[2:]) & 0x7800
	binary.BigEndian.PutUint16(b[2:], flagQR|opcode|mdns.RcodeFormatError)
	return b[:]
}

// udpWriter is the mdns.ResponseWriter for one UDP query.
type udpWriter struct {
	conn *net.UDPConn
	to   netip.AddrPort
	dst  queryDst
	src  srcControl
}

var _ mdns.ResponseWriter = (*udpWriter)(nil)

// LocalAddr is where the query was sent: on a wildcard socket, not the
// socket's own address.
func (w *udpWriter) LocalAddr() net.Addr {
	la := w.conn.LocalAddr()
	if a, ok := la.(*net.UDPAddr); ok && w.dst.addr.IsValid() {
		return &net.UDPAddr{IP: w.dst.addr.AsSlice(), Port: a.Port}
	}
	return la
}
func (w *udpWriter) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(w.to) }
func (w *udpWriter) WriteMsg(m *mdns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
func (w *udpWriter) Write(b []byte) (int, error) { return writeFrom(w.conn, b, w.to, w.dst, &w.src) }
func (w *udpWriter) Close() error                { return nil }
func (w *udpWriter) TsigStatus() error           { return nil }
func (w *udpWriter) TsigTimersOnly(bool)         {}
func (w *udpWriter) Hijack()                     {}
