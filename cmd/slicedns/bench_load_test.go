package main

// The machinery of TestBenchAPIServer: dnsperf loads, the fixed-answer
// responder as a control, and readings of CPU and memory from /proc and
// slicedns's /metrics.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procGroup names processes whose CPU time is reported together.
type procGroup struct {
	name string
	pids []int
}

// loadRun gathers rounds of timed writes under a dnsperf load.
type loadRun struct {
	procs   []procGroup
	times   writeTimes
	qps     []float64
	latency []time.Duration // dnsperf's average, per round
	names   []string        // of procs, then dnsperf
	ticks   []int64         // CPU per names
	during  time.Duration
}

// run runs dnsperf against host:port at rate (4 clients, 100 queries in
// flight) while timed runs, and adds what it measured, the QPS dnsperf
// achieved and the CPU each process used meanwhile to r.
func (r *loadRun) run(t *testing.T, ctx context.Context, perf, qfile, host, port, rate string, timed func() writeTimes) {
	t.Helper()
	load := exec.CommandContext(ctx, perf, "-s", host, "-p", port, "-d", qfile, "-c", "4", "-q", "100", "-Q", rate, "-l", "120")
	var out bytes.Buffer
	load.Stdout, load.Stderr = &out, &out
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // dnsperf's ramp
	groups := append(slices.Clone(r.procs), procGroup{"dnsperf", []int{load.Process.Pid}})
	before := make([]int64, len(groups))
	for i, g := range groups {
		before[i] = cpuTicks(g.pids)
	}
	began := time.Now()
	r.times.add(timed())
	r.during += time.Since(began)
	if r.ticks == nil {
		r.ticks = make([]int64, len(groups))
		for _, g := range groups {
			r.names = append(r.names, g.name)
		}
	}
	for i, g := range groups {
		r.ticks[i] += cpuTicks(g.pids) - before[i]
	}
	// Interrupted, dnsperf prints what it sent and got.
	load.Process.Signal(os.Interrupt)
	load.Wait()
	r.qps, r.latency = append(r.qps, parseQPS(out.String())), append(r.latency, parseLatency(out.String()))
}

// achieved is the QPS and the average latency dnsperf reported in each
// round: the latency is the server's under that load, as a client sees it.
func (r *loadRun) achieved() string {
	var q, l []string
	for i, v := range r.qps {
		q = append(q, fmt.Sprintf("%.0f", v))
		l = append(l, fmt.Sprintf("%.2f", r.latency[i].Seconds()*1000))
	}
	return strings.Join(q, "/") + " QPS in its rounds, average latency " + strings.Join(l, "/") + " ms"
}

// cores is the CPU each process used while the writes were timed.
func (r *loadRun) cores() string {
	var use []string
	for i, name := range r.names {
		use = append(use, fmt.Sprintf("%s %.2f", name, float64(r.ticks[i])/100/r.during.Seconds()))
	}
	return strings.Join(use, ", ")
}

// fixedResponder is a running hack/bench/fixed.
type fixedResponder struct {
	pid        int
	host, port string
}

// startFixed builds and starts hack/bench/fixed on a free loopback port; the
// test's cleanup stops it.
func startFixed(t *testing.T) fixedResponder {
	t.Helper()
	bin := t.TempDir() + "/fixed"
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/slicedns/slicedns/hack/bench/fixed").CombinedOutput(); err != nil {
		t.Fatalf("go build hack/bench/fixed: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("hack/bench/fixed printed %q (%v), not its address", line, err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return fixedResponder{pid: cmd.Process.Pid, host: host, port: port}
}

// dnsperfQPS runs dnsperf to its end and returns the QPS it reports.
func dnsperfQPS(t *testing.T, cmd *exec.Cmd) float64 {
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	return parseQPS(string(out))
}

// parseQPS reads "Queries per second:" from dnsperf's report (NaN if absent).
func parseQPS(report string) float64 { return dnsperfFigure(report, "Queries per second:") }

// parseLatency reads the average latency from dnsperf's report, which
// follows the label in seconds with the minimum and maximum after it:
// "Average Latency (s):  0.000171 (min 0.000013, max 0.004325)".
func parseLatency(report string) time.Duration {
	return time.Duration(dnsperfFigure(report, "Average Latency (s):") * float64(time.Second))
}

// dnsperfFigure reads the number after label in dnsperf's report (NaN if
// absent).
func dnsperfFigure(report, label string) float64 {
	for _, l := range strings.Split(report, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), label); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if n, err := strconv.ParseFloat(f[0], 64); err == nil {
					return n
				}
			}
		}
	}
	return math.NaN()
}

// cpuTicks is the CPU time the processes have used, in clock ticks (10 ms).
func cpuTicks(pids []int) (n int64) {
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// utime and stime are fields 14 and 15; the command name
		// (field 2) is in parentheses and may hold spaces.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			n += u + s
		}
	}
	return n
}

// waitQuiet waits, at most limit, until the processes together use less
// than 5% of a core over a second, and returns how long it waited.
func waitQuiet(t *testing.T, pids []int, limit time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < limit {
		before := cpuTicks(pids)
		time.Sleep(time.Second)
		if cpuTicks(pids)-before < 5 { // clock ticks are 10 ms: under 0.05 s of CPU
			break
		}
	}
	return time.Since(start)
}

// scrape reads slicedns's /metrics once: its unlabelled samples by name
// (nil if slicedns cannot be reached). One request per reading, as each
// leaves garbage in slicedns that the memory figures would count.
func scrape(inst *instance) map[string]float64 {
	resp, err := http.Get("http://" + inst.httpAddr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		if name, v, ok := strings.Cut(l, " "); ok && !strings.HasPrefix(name, "#") && !strings.Contains(name, "{") {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				m[name] = f
			}
		}
	}
	return m
}

// sample is the named sample of m, NaN if it is missing.
func sample(m map[string]float64, name string) float64 {
	if v, ok := m[name]; ok {
		return v
	}
	return math.NaN()
}

// heapProfile saves slicedns's heap profile to $SLICEDNS_BENCH_HEAP-<when>.pprof
// when that variable is set, for go tool pprof.
func heapProfile(t *testing.T, inst *instance, when string) {
	prefix := os.Getenv("SLICEDNS_BENCH_HEAP")
	if prefix == "" {
		return
	}
	// At the first answer the heap is profiled as the last GC left it,
	// transient objects of the load included; later after a GC.
	gc := "1"
	if when == "first" {
		gc = "0"
	}
	resp, err := http.Get("http://" + inst.httpAddr + "/debug/pprof/heap?gc=" + gc)
	if err != nil {
		t.Logf("heap profile: %v", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	path := prefix + "-" + when + ".pprof"
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Logf("heap profile: %v", err)
		return
	}
	t.Logf("heap profile: %s", path)
}

// memory is slicedns's RSS and the Go heap's figures behind it.
func memory(inst *instance) string {
	m := scrape(inst)
	stat := func(name string) string { return fmt.Sprintf("%.1f MB", sample(m, name)/1e6) }
	// What was allocated and how many GC cycles ran since the start do not
	// depend on how busy the machine is, as CPU seconds do.
	return fmt.Sprintf("%s; Go heap: live %s, in use %s, idle %s, released %s, next GC %s; since start %s allocated, %.0f GC cycles", rss(inst.pid),
		stat("go_memstats_heap_alloc_bytes"), stat("go_memstats_heap_inuse_bytes"), stat("go_memstats_heap_idle_bytes"),
		stat("go_memstats_heap_released_bytes"), stat("go_memstats_next_gc_bytes"),
		stat("go_memstats_alloc_bytes_total"), sample(m, "go_gc_duration_seconds_count"))
}

// rss reads the process's resident and peak memory from /proc.
func rss(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "unknown"
	}
	f := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			f[k] = strings.TrimSpace(v)
		}
	}
	// RssFile is the binary's pages in memory; RssAnon is the heap, stacks
	// and runtime.
	mib := func(v string) string {
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64)
		return fmt.Sprintf("%.1f MiB", kb/1024)
	}
	kb, _ := strconv.ParseFloat(strings.TrimSuffix(f["VmRSS"], " kB"), 64)
	return fmt.Sprintf("%s = %.1f MB (anon %s, binary %s; peak %s)", mib(f["VmRSS"]), kb*1024/1e6,
		mib(f["RssAnon"]), mib(f["RssFile"]), mib(f["VmHWM"]))
}
