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
