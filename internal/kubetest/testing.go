package kubetest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// skipReason says why Main started no cluster; Require skips with it.
var skipReason string

// Main is the body of a TestMain: it starts one cluster for the package,
// stores it in *c, runs the tests and stops the cluster, also on SIGINT or
// SIGTERM. With -short, or when the binaries are unavailable outside CI, it
// runs the tests with *c nil, and Require skips those that need it. When the
// binaries are unavailable in CI (CI=true), or they are there but the
// cluster does not start, the package fails. If a test fails the servers'
// logs are kept and their directory printed.
func Main(m *testing.M, c **Cluster) {
	flag.Parse() // testing.Short reads the flags
	os.Exit(run(m, c))
}

func run(m *testing.M, c **Cluster) int {
	if testing.Short() {
		skipReason = "kubetest: no kube-apiserver in -short mode"
		return m.Run()
	}
	bin, err := BinDir()
	if err != nil {
		if inCI() {
			fmt.Fprintf(os.Stderr, "%v\nCI=true: the tests need etcd and kube-apiserver (make deps-kube)\n", err)
			return 1
		}
		skipReason = fmt.Sprintf("%v\n(run `make deps-kube` or set SLICEDNS_KUBE_BIN; with CI=true this fails)", err)
		fmt.Fprintln(os.Stderr, "kubetest: skipping the tests that need a cluster:", skipReason)
		return m.Run()
	}
	cl, err := Start(context.Background(), Options{BinDir: bin})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*c = cl
	sig := make(chan os.Signal, 1)
	// The servers are in their own process groups, so a terminal's ^C does
	// not reach them: stop them, and those of New, before dying.
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		live.Range(func(k, _ any) bool { k.(*Cluster).Stop(); return true })
		fmt.Fprintf(os.Stderr, "kubetest: %v: stopped the clusters\n", s)
		os.Exit(1)
	}()
	code := m.Run()
	signal.Stop(sig)
	if code != 0 {
		fmt.Fprintln(os.Stderr, "kubetest: tests failed; cluster logs kept in", cl.Dir)
	}
	cl.stop(code != 0)
	return code
}

// Require returns c, the cluster Main started, or skips the test with the
// reason Main started none. It fails the test if Main was not used.
func Require(t testing.TB, c *Cluster) *Cluster {
	t.Helper()
	switch {
	case c != nil:
		return c
	case skipReason != "":
		t.Skip(skipReason)
	default:
		t.Fatal("kubetest: no cluster: call kubetest.Main(m, &cluster) from TestMain")
	}
	return nil
}

// New starts a cluster for one test and stops it when the test ends (keeping
// the logs if the test failed). It follows Main's skip and fail
// policy. A test that stops the API server should use its own cluster.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("kubetest: no kube-apiserver in -short mode")
	}
	if opts.BinDir == "" {
		bin, err := BinDir()
		switch {
		case err != nil && inCI():
			t.Fatalf("%v\nCI=true: the tests need etcd and kube-apiserver (make deps-kube)", err)
		case err != nil:
			t.Skipf("%v\n(run `make deps-kube` or set SLICEDNS_KUBE_BIN; with CI=true this fails)", err)
		}
		opts.BinDir = bin
	}
	c, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubetest: cluster logs kept in %s", c.Dir)
		}
		c.stop(t.Failed())
	})
	return c
}

// BinDir returns the directory holding etcd and kube-apiserver: the
// SLICEDNS_KUBE_BIN environment variable if set, else what
// hack/kube/build.sh prints (a cache; the first build takes ~12 minutes).
// The result is computed once per process.
func BinDir() (string, error) { return binDir() }

var binDir = sync.OnceValues(func() (string, error) {
	dir := os.Getenv("SLICEDNS_KUBE_BIN")
	if dir == "" {
		var err error
		if dir, err = build(); err != nil {
			return "", fmt.Errorf("kubetest: no etcd and kube-apiserver: %w", err)
		}
	}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("kubetest: no executable %s in %s (SLICEDNS_KUBE_BIN=%q)", name, dir, os.Getenv("SLICEDNS_KUBE_BIN"))
		}
	}
	return dir, nil
})

func build() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	// go test runs packages in parallel; without this lock each would start
	// the same slow build into the same files.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "slicedns-kubetest-build.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	script := filepath.Join(root, "hack", "kube", "build.sh")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(script)
	cmd.Dir = root
	cmd.Stdout = &stdout
	// Progress goes to the terminal too: an uncached build is long.
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
	}
	out := strings.TrimSpace(stdout.String())
	if out == "" {
		return "", fmt.Errorf("%s printed no directory", script)
	}
	return out[strings.LastIndexByte(out, '\n')+1:], nil
}

// repoRoot walks up from the working directory (a package's, under go test)
// to the slicedns module root.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "hack", "kube", "build.sh")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no hack/kube/build.sh next to a go.mod above the working directory")
		}
		dir = parent
	}
}

func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}
