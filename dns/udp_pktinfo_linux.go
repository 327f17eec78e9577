package dns

import (
	"errors"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A socket bound to a wildcard address (":53", as deployed) receives
// queries sent to any address of the host, but an answer sent without
// saying which leaves from whatever address routing picks for the client:
// a query to 127.0.0.2, or to a second address of an interface, would be
// answered from 127.0.0.1 or the primary one, and dig and glibc drop such
// answers (RFC 1122 4.1.3.5, RFC 1123 6.1.3.2: reply from the address the
// query was sent to). So such a socket asks the kernel for each query's
// destination (IP_PKTINFO, IPV6_RECVPKTINFO) and the answer names it as its
// source, as miekg/dns does. A socket bound to one address pays nothing.

const dstInfoSupported = true

// dstControlWords sizes a buffer for what the kernel tells of one query:
// an IPv4 query on a dual-stack socket brings both messages, its
// IP_PKTINFO and its IPV6_PKTINFO with the address mapped (with room for
// the padding after each). Words, not bytes, so that the buffer is aligned
// for the headers.
const dstControlWords = (2*unix.SizeofCmsghdr + unix.SizeofInet4Pktinfo + unix.SizeofInet6Pktinfo + 16) / 8

// srcControl is the one control message an answer carries, either family.
type srcControl struct {
	hdr  unix.Cmsghdr
	info unix.Inet6Pktinfo
}

type srcControl4 struct {
	hdr  unix.Cmsghdr
	info unix.Inet4Pktinfo
}

// enableDstInfo asks for the destination of each query on conn, which
// must be bound to a wildcard address.
func enableDstInfo(conn *net.UDPConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		family, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil {
			serr = err
			return
		}
		if family == unix.AF_INET6 {
			if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); serr != nil {
				return
			}
		}
		// On a dual-stack socket too: IPv4 queries then bring the
		// address to answer from (ipi_spec_dst), which for one sent to
		// a broadcast address is the interface's, not the broadcast
		// address the mapped IPV6_PKTINFO holds. Should it fail there,
		// that mapped address still serves unicast queries.
		if e := unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1); family != unix.AF_INET6 {
			serr = e
		}
	})
	return errors.Join(err, serr)
}

// newDstControl returns a buffer for the control messages of one query.
func newDstControl() []byte {
	w := make([]uint64, dstControlWords)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)
}

// parseDst reads the destination of a query from the control messages the
// kernel wrote into ctl (aligned, as newDstControl's and udpBatcher's are).
// IP_PKTINFO wins over a mapped IPV6_PKTINFO; its spec_dst is the local
// address to answer from, a unicast one even for a query sent to a
// broadcast or multicast address. An IPv6 multicast destination, or none,
// gives the zero queryDst, and the answer leaves as routing has it.
func parseDst(ctl []byte) queryDst {
	var d queryDst
	for len(ctl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
		l := int(h.Len)
		if l < unix.CmsgLen(0) || l > len(ctl) {
			break // cut short (MSG_CTRUNC) or not a header
		}
		data := ctl[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			return queryDst{addr: netip.AddrFrom4(pi.Spec_dst), ifindex: uint32(pi.Ifindex)}
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			if a := netip.AddrFrom16(pi.Addr).Unmap(); !a.IsMulticast() {
				d = queryDst{addr: a, ifindex: pi.Ifindex}
			}
		}
		ctl = ctl[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(ctl)):]
	}
	return d
}

// putSrc writes into c the control message that sends an answer from d and
// returns its length, 0 when d is the zero queryDst. An IPv4 address goes
// as IP_PKTINFO whichever the socket's family: Linux takes it on a
// dual-stack socket for a mapped destination. The length is the message's
// own, without the padding after it: sendmsg copies up to 36 bytes of
// control messages to its stack and allocates for more, and the IPv6 one
// is 36 bytes padded to 40.
func putSrc(c *srcControl, d queryDst) int {
	switch {
	case !d.addr.IsValid():
		return 0
	case d.addr.Is4():
		c4 := (*srcControl4)(unsafe.Pointer(c))
		c4.hdr.Level, c4.hdr.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		c4.hdr.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		// No interface: with one the kernel would take that
		// interface's primary address instead of Spec_dst.
		c4.info = unix.Inet4Pktinfo{Spec_dst: d.addr.As4()}
		return unix.CmsgLen(unix.SizeofInet4Pktinfo)
	default:
		c.hdr.Level, c.hdr.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		c.hdr.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		c.info = unix.Inet6Pktinfo{Addr: d.addr.As16()}
		if d.addr.IsLinkLocalUnicast() {
			// A link-local source means nothing without its link;
			// elsewhere routing picks the way out, as for any answer.
			c.info.Ifindex = d.ifindex
		}
		return unix.CmsgLen(unix.SizeofInet6Pktinfo)
	}
}

// srcBytes is c's first n bytes, for WriteMsgUDPAddrPort.
func srcBytes(c *srcControl, n int) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(c)), n)
}
