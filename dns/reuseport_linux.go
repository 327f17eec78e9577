package dns

import "golang.org/x/sys/unix"

// reusePortSupported: several sockets can share one UDP port, and Linux
// spreads queries over them. (On macOS and the BSDs SO_REUSEPORT lets
// sockets share a port but gives one of them all unicast queries, so one
// socket serves there.)
const reusePortSupported = true

// reusePort sets SO_REUSEPORT.
func reusePort(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}
