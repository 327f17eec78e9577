package dns

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// UDP batches: up to udpBatch queries are taken from the socket with one
// recvmmsg(2), and the answers go back with one sendmmsg(2). Under load that
// is one system call each way per batch instead of per query, and one wake-up
// of the reader instead of one per packet; idle, a batch is one query and
// costs what a plain read does. golang.org/x/net/ipv4's ReadBatch does the
// same but allocates an address per message; here the sender's raw
// socket address is read into a fixed array and written back as it came.
const (
	udpBatch = 32
	// udpQuerySize bounds a query read over UDP: four times what
	// miekg/dns reads by default (512). A longer query arrives cut
	// (MSG_TRUNC) and is answered FORMERR.
	udpQuerySize = 2048
)

// mmsghdr is struct mmsghdr of recvmmsg(2) and sendmmsg(2); Go pads it as C
// does on every Linux architecture.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// udpBatcher is one reader's buffers: queries, their senders, and the
// answers to send back. Nothing in it is allocated after newUDPBatcher.
type udpBatcher struct {
	conn  *net.UDPConn
	in    [udpBatch]mmsghdr
	inIov [udpBatch]unix.Iovec
	from  [udpBatch]unix.RawSockaddrInet6 // large enough for IPv4 too
	bufs  []byte                          // udpBatch queries of udpQuerySize

	out    [udpBatch]mmsghdr
	outIov [udpBatch]unix.Iovec
	wire   []byte // the answers of one batch, back to back
	nOut   int

	// On a wildcard socket (dst), where each query was sent, and the
	// control messages that send its answer from there.
	dst    bool
	inCtl  [udpBatch][dstControlWords]uint64
	outCtl [udpBatch]srcControl

	// State of the system calls in flight, and the calls themselves as
	// func values made once: a closure handed to RawConn.Read or Write
	// escapes, and made per batch it would allocate per batch.
	got, sent  int
	errno      unix.Errno
	recv, send func(fd uintptr) bool
}

func newUDPBatcher(conn *net.UDPConn) *udpBatcher {
	b := &udpBatcher{conn: conn, bufs: make([]byte, udpBatch*udpQuerySize),
		wire: make([]byte, 0, udpBatch*advertisedUDPSize)}
	b.recv, b.send = b.recvmmsg, b.sendmmsg
	b.dst = wantsDst(conn)
	for i := range b.in {
		b.inIov[i].Base = &b.bufs[i*udpQuerySize]
		b.in[i].hdr.Name = (*byte)(unsafe.Pointer(&b.from[i]))
		if b.dst {
			b.in[i].hdr.Control = (*byte)(unsafe.Pointer(&b.inCtl[i]))
		}
		b.in[i].hdr.Iov = &b.inIov[i]
		b.in[i].hdr.SetIovlen(1)
		b.out[i].hdr.Iov = &b.outIov[i]
		b.out[i].hdr.SetIovlen(1)
	}
	return b
}

// read waits for queries and returns how many it took.
func (b *udpBatcher) read(rc syscall.RawConn) (int, error) {
	for i := range b.in {
		b.inIov[i].SetLen(udpQuerySize)
		b.in[i].hdr.Namelen = uint32(unsafe.Sizeof(b.from[i]))
		b.in[i].hdr.Flags = 0
		if b.dst {
			b.in[i].hdr.SetControllen(int(unsafe.Sizeof(b.inCtl[i])))
		}
	}
	b.got, b.errno = 0, 0
	err := rc.Read(b.recv)
	if b.errno != 0 {
		return 0, errors.Join(err, b.errno)
	}
	return b.got, err
}

// recvmmsg is what read runs on the socket, as RawConn.Read asks.
//
// Both batch calls are raw system calls, unknown to the Go scheduler. The
// socket is non-blocking, so neither waits (an empty socket or a full send
// buffer is EAGAIN, and RawConn parks the goroutine on the poller), but
// sending a batch over loopback runs the receivers' side of the stack too and
// often takes over 20 µs. Announced as a blocking call (unix.Syscall6), that
// made sysmon take the reader's P away mid-call, hand it to a freshly woken
// thread with nothing to do, and keep itself waking every 20 µs: at 60,000
// queries a second sysmon alone was 13% of slicedns's CPU samples, and the
// raw calls serve the same queries with a fifth fewer cores.
func (b *udpBatcher) recvmmsg(fd uintptr) bool {
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.in[0])), udpBatch, 0, 0, 0)
	if errno == unix.EAGAIN || errno == unix.EINTR {
		return false // wait until the socket is readable
	}
	b.got, b.errno = int(n), errno
	return true
}

// query returns query i of the last read and whether it arrived whole.
func (b *udpBatcher) query(i int) ([]byte, bool) {
	return b.bufs[i*udpQuerySize : i*udpQuerySize+int(b.in[i].n)], b.in[i].hdr.Flags&unix.MSG_TRUNC == 0
}

// reply queues resp to the sender of query i.
func (b *udpBatcher) reply(i int, resp []byte) {
	if len(resp) > cap(b.wire)-len(b.wire) {
		// Not expected (answers over UDP fit advertisedUDPSize), but then
		// it is sent on its own rather than cut.
		var c srcControl
		writeFrom(b.conn, resp, b.sender(i), b.queryDst(i), &c)
		return
	}
	start := len(b.wire)
	b.wire = append(b.wire, resp...)
	o := &b.out[b.nOut]
	b.outIov[b.nOut].Base = &b.wire[start]
	b.outIov[b.nOut].SetLen(len(resp))
	o.hdr.Name, o.hdr.Namelen = b.in[i].hdr.Name, b.in[i].hdr.Namelen
	if b.dst {
		n := putSrc(&b.outCtl[b.nOut], b.queryDst(i))
		o.hdr.Control = nil
		if n > 0 {
			o.hdr.Control = (*byte)(unsafe.Pointer(&b.outCtl[b.nOut]))
		}
		o.hdr.SetControllen(n)
	}
	b.nOut++
}

// queryDst is where query i was sent, on a wildcard socket.
func (b *udpBatcher) queryDst(i int) queryDst {
	if !b.dst {
		return queryDst{}
	}
	ctl := unsafe.Slice((*byte)(unsafe.Pointer(&b.inCtl[i])), b.in[i].hdr.Controllen)
	return parseDst(ctl)
}

// flush sends the queued answers. A message the kernel refuses (say, to an
// unreachable address) is dropped, as a failed write of one answer was.
func (b *udpBatcher) flush(rc syscall.RawConn) {
	b.sent = 0
	for b.sent < b.nOut {
		if rc.Write(b.send) != nil {
			break // closed
		}
	}
	b.nOut, b.wire = 0, b.wire[:0]
}

// sendmmsg is what flush runs on the socket, as RawConn.Write asks.
func (b *udpBatcher) sendmmsg(fd uintptr) bool {
	for b.sent < b.nOut {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.out[b.sent])), uintptr(b.nOut-b.sent), 0, 0, 0)
		switch {
		case errno == unix.EAGAIN:
			return false // wait until the socket is writable
		case errno == unix.EINTR:
		case errno != 0:
			b.sent++ // the first message failed: drop it
		default:
			b.sent += int(n)
		}
	}
	return true
}

// sender is the address query i came from, for the general path.
func (b *udpBatcher) sender(i int) netip.AddrPort {
	sa := &b.from[i]
	switch sa.Family {
	case unix.AF_INET:
		v4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(v4.Addr), binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&v4.Port))[:]))
	default:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(strconv.Itoa(int(sa.Scope_id)))
		}
		return netip.AddrPortFrom(a, binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:]))
	}
}

// serveUDP serves conn until it is closed: see serveUDPEach for what is
// answered where, and udpBatch for the batching.
func serveUDP(conn *net.UDPConn, handler mdns.Handler, slow *slowQueries) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return serveUDPEach(conn, handler, slow)
	}
	fast, _ := handler.(*Handler)
	b := newUDPBatcher(conn)
	scratch := make([]byte, 0, mdns.MaxMsgSize)
	var q wireQuery
	sinceYield := 0
	for {
		if sinceYield >= yieldEvery {
			runtime.Gosched()
			sinceYield = 0
		}
		n, err := b.read(rc)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			time.Sleep(time.Millisecond) // a transient error (e.g. ICMP): do not spin
			continue
		}
		// Only a reader that keeps finding its socket full holds on to its
		// P; one that drains it parks on the next read anyway, and a
		// yield costs it far more than nothing (at 90k queries a second,
		// yielding every 32 took a third of a core more).
		if n < udpBatch {
			sinceYield = 0
		} else {
			sinceYield += n
		}
		for i := range n {
			req, whole := b.query(i)
			if !whole {
				if len(req) >= headerLen && binary.BigEndian.Uint16(req[2:])&flagQR == 0 {
					b.reply(i, formErr(req))
					metricsOf(handler).refused(mdns.RcodeFormatError)
				}
				continue
			}
			if fast != nil && parseQuery(req, &q) {
				start := time.Now()
				if resp, rcode, ok := fast.fastAnswerGuarded(req, &q, scratch); ok {
					b.reply(i, resp)
					fast.m.observe(q.qtype, rcode, time.Since(start))
					continue
				}
			}
			slow.serve(conn, req, b.sender(i), b.queryDst(i), handler)
		}
		b.flush(rc)
	}
}
