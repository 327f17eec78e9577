//go:build !linux

package dns

// Elsewhere one socket serves UDP (see reuseport_linux.go).
const reusePortSupported = false

func reusePort(uintptr) error { return nil }
