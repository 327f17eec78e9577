package main

// End-to-end tests: the built binary on a free loopback port, queried with
// the real dig (Debian's bind9-dnsutils, installed by `make deps`).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// slicednsBinary builds the command once per test run.
func slicednsBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "slicedns-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "slicedns")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// needDig returns dig's path. Under CI a missing dig fails the run: the
// repo's own `make deps` must have installed it.
func needDig(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("dig")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dig not found: `make deps` installs bind9-dnsutils")
		}
		t.Skip("dig not found; run `make deps`")
	}
	return p
}

// instance is one running slicedns.
type instance struct {
	pid               int
	dnsAddr, httpAddr string
	host, port        string
	logs              *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs slicedns with args on free loopback ports and waits for its
// "serving" log line, which carries the bound addresses.
func start(t *testing.T, args ...string) *instance {
	t.Helper()
	args = append([]string{"--dns-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json", "--lameduck", "0s"}, args...)
	cmd := exec.Command(slicednsBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	inst := &instance{pid: cmd.Process.Pid, logs: &syncBuffer{}}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(inst.logs, line)
			var rec struct {
				Msg      string `json:"msg"`
				DNSAddr  string `json:"dns_addr"`
				HTTPAddr string `json:"http_addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving" {
				inst.dnsAddr, inst.httpAddr = rec.DNSAddr, rec.HTTPAddr
				once.Do(func() { close(found) })
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case <-found:
	case <-time.After(20 * time.Second):
		t.Fatalf("slicedns did not start; log:\n%s", inst.logs)
	}
	i := strings.LastIndexByte(inst.dnsAddr, ':')
	inst.host, inst.port = inst.dnsAddr[:i], inst.dnsAddr[i+1:]
	return inst
}

// digResult is what a test reads off dig's output.
type digResult struct {
	status string
	flags  []string
	answer []string // answer-section lines, whitespace-normalised
	auth   []string
	extra  []string
	raw    string
}

var (
	statusRE = regexp.MustCompile(`status: ([A-Z]+)`)
	flagsRE  = regexp.MustCompile(`;; flags: ([a-z ]+);`)
)

// dig runs dig against inst and parses its output by section.
func (inst *instance) dig(t *testing.T, args ...string) digResult {
	t.Helper()
	full := append([]string{"@" + inst.host, "-p", inst.port, "+time=2", "+tries=1"}, args...)
	out, err := exec.Command(needDig(t), full...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %v: %v\n%s", args, err, out)
	}
	r := digResult{raw: string(out)}
	if m := statusRE.FindStringSubmatch(r.raw); m != nil {
		r.status = m[1]
	}
	if m := flagsRE.FindStringSubmatch(r.raw); m != nil {
		r.flags = strings.Fields(m[1])
	}
	var section *[]string
	for _, line := range strings.Split(r.raw, "\n") {
		switch {
		case strings.HasPrefix(line, ";; ANSWER SECTION"):
			section = &r.answer
		case strings.HasPrefix(line, ";; AUTHORITY SECTION"):
			section = &r.auth
		case strings.HasPrefix(line, ";; ADDITIONAL SECTION"):
			section = &r.extra
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, ";"):
			if strings.TrimSpace(line) == "" {
				section = nil
			}
		case section != nil:
			*section = append(*section, strings.Join(strings.Fields(line), " "))
		}
	}
	return r
}

func (r digResult) hasFlag(f string) bool { return slices.Contains(r.flags, f) }

// values are the data fields (after owner, TTL, class, type) of answer lines.
func values(lines []string) []string {
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 5 {
			out = append(out, strings.Join(f[4:], " "))
		}
	}
	slices.Sort(out)
	return out
}

// copyDemo copies testdata/demo into a temp dir the test may edit.
func copyDemo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("../../testdata/demo/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("demo manifests: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// bigService writes a headless Service with n ready endpoints.
func bigService(t *testing.T, dir string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Service\nmetadata: {name: big, namespace: default}\nspec: {clusterIP: None, ports: [{name: http, port: 80}]}\n---\n")
	b.WriteString("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: big-1, namespace: default, labels: {kubernetes.io/service-name: big}}\naddressType: IPv4\nports: [{name: http, port: 80, protocol: TCP}]\nendpoints:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - addresses: [\"10.50.%d.%d\"]\n", i/250, i%250+1)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// logged returns the JSON log records whose message starts with msg.
func (inst *instance) logged(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(inst.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			if m, _ := rec["msg"].(string); strings.HasPrefix(m, msg) {
				out = append(out, rec)
			}
		}
	}
	return out
}

// awaitLogged waits up to wait for n records logged with msg and returns
// those there are then.
func (inst *instance) awaitLogged(t *testing.T, msg string, n int, wait time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		recs := inst.logged(msg)
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d log records %q after %v, want %d; log:\n%s", len(recs), msg, wait, n, inst.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
