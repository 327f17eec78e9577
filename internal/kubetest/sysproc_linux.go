package kubetest

import "syscall"

// A process group lets Stop kill anything the servers fork, and Pdeathsig
// kills the servers when the test binary dies without running Stop (a test
// timeout, a panic, SIGKILL), so they never outlive the test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
