//go:build !linux

package kubetest

import "syscall"

// Without Pdeathsig, servers survive a test binary that dies without running
// Stop; the process group at least lets Stop kill everything they fork.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
