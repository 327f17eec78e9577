//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package dns

import "golang.org/x/sys/unix"

// reusePortSupported: several sockets can share one UDP port, and the
// kernel spreads queries over them.
const reusePortSupported = true

// reusePort sets SO_REUSEPORT, whose number differs between systems (15 on
// Linux, 0x200 on the BSDs and macOS).
func reusePort(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}
