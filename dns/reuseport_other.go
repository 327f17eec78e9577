//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package dns

// Elsewhere (Windows, Solaris, ...) one socket serves UDP.
const reusePortSupported = false

func reusePort(uintptr) error { return nil }
