//go:build !linux

package dns

import (
	"net"

	mdns "github.com/miekg/dns"
)

// serveUDP serves conn until it is closed, one packet at a time.
func serveUDP(conn *net.UDPConn, handler mdns.Handler, slow *slowQueries) error {
	return serveUDPEach(conn, handler, slow)
}

// Elsewhere than on Linux a wildcard socket's answers leave from the
// address routing picks (see udp_pktinfo_linux.go): the socket options
// and control messages differ between systems.
const dstInfoSupported = false

type srcControl struct{}

func enableDstInfo(*net.UDPConn) error { return nil }
func newDstControl() []byte            { return nil }
func parseDst([]byte) queryDst         { return queryDst{} }
func putSrc(*srcControl, queryDst) int { return 0 }
func srcBytes(*srcControl, int) []byte { return nil }
