package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
)

// Server serves a Handler over UDP and TCP on one address. UDP is read by one
// goroutine per core, each on its own SO_REUSEPORT socket; when Handler is a
// *Handler, the common queries are answered from wire bytes without
// allocating. TCP is served by miekg/dns.
type Server struct {
	// Addr is the address to listen on, "host:port"; port 0 picks a free
	// port, the same one for UDP and TCP.
	Addr    string
	Handler mdns.Handler
	// ReadTimeout bounds the wait for each TCP query, WriteTimeout each
	// write of a TCP response (each message of a zone transfer): a client
	// that stops reading is cut off. Default 2s.
	ReadTimeout, WriteTimeout time.Duration
	// MaxSlowQueries bounds the UDP queries answered off the fast path at
	// once; more are dropped, and counted in
	// slicedns_dns_overload_drops_total when Handler is a *Handler with
	// Metrics. Default 4096. A *Handler's queries leave the bound while
	// they wait on an upstream: ForwarderOptions.MaxConcurrent bounds
	// those.
	MaxSlowQueries int

	mu        sync.Mutex
	udp       []*net.UDPConn
	servers   []*mdns.Server // TCP
	addr      net.Addr
	listening bool // Listen was called (and has not failed)
	stopped   bool // Shutdown was called
}

// Listen binds the UDP and TCP sockets. It returns an error, and holds
// nothing, if either cannot be bound, if Handler is nil, or if the Server
// has listened before: like an http.Server, a Server is used once.
func (s *Server) Listen() error {
	if s.Handler == nil {
		// It would panic on the first query that leaves the fast path.
		return errors.New("dns: Server.Handler is nil")
	}
	s.mu.Lock()
	used := s.listening || s.stopped
	s.listening = true
	s.mu.Unlock()
	if used {
		// A second set of sockets would serve on, out of Shutdown's reach.
		return errors.New("dns: Server.Listen called twice, or after Shutdown")
	}
	bound := false
	defer func() {
		if !bound {
			s.mu.Lock()
			s.listening = false
			s.mu.Unlock()
		}
	}()
	var conns []*net.UDPConn
	var ln net.Listener
	for attempt := 1; ; attempt++ {
		var err error
		conns, err = listenUDP(s.Addr, runtime.GOMAXPROCS(0))
		if err != nil {
			return listenErr("udp", s.Addr, err)
		}
		// Bind TCP on the port UDP got, so ":0" yields one port for both.
		tcpAddr := conns[0].LocalAddr().String()
		ln, err = net.Listen("tcp", tcpAddr)
		if err == nil {
			break
		}
		for _, c := range conns {
			c.Close()
		}
		// With port 0, the port UDP was given may be held for TCP (by any
		// outgoing connection): try other ports before giving up.
		if !errors.Is(err, syscall.EADDRINUSE) || !anyPort(s.Addr) || attempt == 10 {
			return listenErr("tcp", tcpAddr, err)
		}
	}
	rt, wt := s.ReadTimeout, s.WriteTimeout
	if rt == 0 {
		rt = 2 * time.Second
	}
	if wt == 0 {
		wt = 2 * time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bound = true
	s.addr = conns[0].LocalAddr()
	s.udp = conns
	m := metricsOf(s.Handler)
	// miekg/dns applies no WriteTimeout of its own (v1.1.73): without a
	// deadline on each write, a client that stops reading would hold its
	// connection's goroutine, and a transfer its slot and snapshot, forever.
	ln = writeDeadlines{Listener: ln, timeout: wt}
	s.servers = []*mdns.Server{{Listener: ln, Handler: s.Handler, ReadTimeout: rt, WriteTimeout: wt,
		// Every query reaches the handler, as over UDP: miekg/dns's default
		// would answer other opcodes and unusual section counts itself, with a
		// bare header (no question, no OPT), and refuse over TCP what UDP
		// answers. Responses are dropped, as over UDP.
		MsgAcceptFunc: acceptQueries,
		// No cap on the queries of one connection (RFC 7766 6.2.1: keep it
		// open): miekg/dns's default closed it after 128 while more were
		// unread, so the kernel sent a reset and the client lost answers
		// already written. ReadTimeout and miekg/dns's idle timeout still
		// close connections that go quiet.
		MaxTCPQueries: -1,
		MsgInvalidFunc: func(msg []byte, _ error) {
			if len(msg) >= headerLen { // a header: miekg/dns answers FORMERR
				m.refused(mdns.RcodeFormatError)
			}
		},
	}}
	return nil
}

// listenErr names what failed once: a net.OpError says "listen udp ADDR:"
// itself, and an operator reads this line when the port is taken.
func listenErr(network, addr string, err error) error {
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return fmt.Errorf("dns: %w", err)
	}
	return fmt.Errorf("dns: listen %s %s: %w", network, addr, err)
}

// writeDeadlines is a listener whose connections give each Write timeout
// to complete.
type writeDeadlines struct {
	net.Listener
	timeout time.Duration
}

func (l writeDeadlines) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, timeout: l.timeout}, nil
}

type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// acceptQueries hands every query to the handler and drops responses.
func acceptQueries(dh mdns.Header) mdns.MsgAcceptAction {
	if dh.Bits&flagQR != 0 {
		return mdns.MsgIgnore
	}
	return mdns.MsgAccept
}

// LocalAddr is the bound address (UDP and TCP share it), after Listen.
func (s *Server) LocalAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve answers queries until Shutdown; call Listen first. It returns nil
// after a Shutdown, or the first error of either transport.
func (s *Server) Serve() error {
	s.mu.Lock()
	servers, udp := s.servers, s.udp
	s.mu.Unlock()
	if servers == nil {
		return errors.New("dns: Serve before Listen")
	}
	errc := make(chan error, len(servers)+len(udp))
	for _, srv := range servers {
		go func() { errc <- srv.ActivateAndServe() }()
	}
	slow := &slowQueries{max: int64(s.MaxSlowQueries), m: metricsOf(s.Handler)}
	if slow.max <= 0 {
		slow.max = defaultMaxSlowQueries
	}
	for _, c := range udp {
		go func() { errc <- serveUDP(c, s.Handler, slow) }()
	}
	var first error
	for range len(servers) + len(udp) {
		err := <-errc
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped && errors.Is(err, net.ErrClosed) {
			// A TCP server that Shutdown overtook (see there) found its listener closed.
			err = nil
		}
		if err != nil && first == nil {
			first = err
			s.Shutdown(context.Background())
		}
	}
	return first
}

// ListenAndServe is Listen followed by Serve.
func (s *Server) ListenAndServe() error {
	if err := s.Listen(); err != nil {
		return err
	}
	return s.Serve()
}

// Shutdown stops both transports, letting queries in flight finish until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	servers, udp := s.servers, s.udp
	s.mu.Unlock()
	for _, c := range udp {
		c.Close()
	}
	var first error
	for _, srv := range servers {
		err := srv.ShutdownContext(ctx)
		if isNotStarted(err) {
			// Serve has not reached ActivateAndServe yet, which would then
			// serve forever; with its listener closed it returns at once.
			srv.Listener.Close()
			continue
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// anyPort reports whether addr leaves the port to the system.
func anyPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && (port == "" || port == "0")
}

func isNotStarted(err error) bool { return err != nil && err.Error() == "dns: server not started" }
