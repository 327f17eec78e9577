package kubetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server process whose output goes to a log file.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // how it exited; valid once done is closed
}

func startProc(bin, logPath string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	fmt.Fprintf(f, "\n=== %s %s\n", time.Now().Format(time.RFC3339), strings.Join(append([]string{bin}, args...), " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) kill() {
	if p == nil {
		return
	}
	select {
	case <-p.done: // reaped: its pid, hence group id, may belong to another process now
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// waitReady polls ready until it reports true, the process exits or ctx ends.
func waitReady(ctx context.Context, name string, p *proc, ready func() bool) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v); end of %s:\n%s", name, p.err, p.log, tail(p.log))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w; end of %s:\n%s", name, ctx.Err(), p.log, tail(p.log))
		case <-tick.C:
		}
	}
	return nil
}

func portClash(p *proc) bool {
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return strings.Contains(tail(p.log), "address already in use")
	default:
		return false
	}
}

// tail returns the end of a log file, where a server says why it failed.
func tail(path string) string {
	const size = 4 << 10
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > size {
		b = b[len(b)-size:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// freePort asks the kernel for a free port; it can be taken again before the
// server binds it, which Start tolerates by retrying once.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ownerFile in a cluster's directory holds the pid of the test process.
const ownerFile = "owner.pid"

// sweep removes the directories (123 MB each, mostly etcd's preallocated
// WAL) of clusters whose test process died without stopping them, killed by
// a timeout or SIGKILL; Pdeathsig has killed their servers already.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "kubetest-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(string(b)); err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(dir)
		}
	}
}
