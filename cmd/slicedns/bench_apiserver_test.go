package main

// TestBenchAPIServer is the kube-apiserver part of `make bench`: it is
// skipped unless SLICEDNS_BENCH_APISERVER=1, reports figures with t.Logf and
// asserts only correctness, never timing.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/slicedns/slicedns/internal/kubetest"
)

const (
	benchServices  = 10000
	benchEndpoints = 10
	benchNS        = 100
)

func TestBenchAPIServer(t *testing.T) {
	if os.Getenv("SLICEDNS_BENCH_APISERVER") != "1" {
		t.Skip("set SLICEDNS_BENCH_APISERVER=1 (make bench does) to run")
	}
	c := kubetest.New(t, kubetest.Options{})
	ctx := t.Context()
	loadStart := time.Now()
	fillBenchCluster(t, ctx, c.Client)
	t.Logf("loaded %d Services x %d endpoints into kube-apiserver in %v", benchServices, benchEndpoints, time.Since(loadStart).Round(time.Millisecond))

	probe := "svc-09999-9.svc-09999.ns-099.svc.cluster.local."
	want := benchAddr(9999, 9)
	slicednsBinary(t) // build first: the clock is for slicedns, not the compiler
	started := time.Now()
	args := []string{"--kubeconfig", c.Kubeconfig, "--startup-timeout", "30s"}
	if os.Getenv("SLICEDNS_BENCH_HEAP") != "" {
		// Every allocation sampled, in slicedns only (set after this
		// process and the API server have started). Without --pprof,
		// as deployed, slicedns samples none.
		t.Setenv("GODEBUG", "memprofilerate=1")
		args = append(args, "--pprof")
	}
	inst := start(t, args...)
	waitAnswer(t, inst, probe, mdns.TypeA, func(a []string) bool { return slices.Contains(a, want) }, 200*time.Microsecond, 60*time.Second)
	t.Logf("start -> first correct answer with %d endpoints: %v", benchServices*benchEndpoints, time.Since(started).Round(time.Millisecond))
	t.Logf("RSS at the first answer: %s", memory(inst))
	heapProfile(t, inst, "first")
	for _, l := range strings.Split(inst.logs.String(), "\n") {
		if strings.Contains(l, "synced with the API server") {
			t.Logf("slicedns logged: %s", l)
		}
	}

	// Let the API server and etcd settle after the bulk load before timing,
	// and slicedns return its load's garbage (it looks every 2 s, once no
	// GC ran in between).
	time.Sleep(8 * time.Second)
	t.Logf("RSS 8 s later: %s", memory(inst))
	heapProfile(t, inst, "sync")
	// "Idle" is the API server's and etcd's state too: after the bulk load
	// they digest it (their own GC, compaction) for a while.
	t.Logf("waited %v for kube-apiserver and etcd to go quiet", waitQuiet(t, c.PIDs(), 30*time.Second).Round(time.Second))
	// The writes go as kube-controller-manager's EndpointSlice controller
	// sends them: protobuf.
	cfg := rest.CopyConfig(c.Config)
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	writer, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	idle := writeLatency(t, ctx, writer, inst, 100)
	t.Logf("API write -> answer, idle: %s", idle)

	// Under load: dnsperf at a fixed rate in the background.
	if perf, err := exec.LookPath("dnsperf"); err == nil {
		qfile := t.TempDir() + "/q.txt"
		var b strings.Builder
		for i := 0; i < 1000; i++ {
			fmt.Fprintf(&b, "svc-%05d.ns-%03d.svc.cluster.local A\n", i*7%benchServices, i*7%benchServices%benchNS)
		}
		if err := os.WriteFile(qfile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		// "Under load" is half of the most slicedns answers here: measured
		// first, with as many clients and queries in flight as make bench
		// uses, unless SLICEDNS_BENCH_LOAD_QPS names a rate.
		rate := os.Getenv("SLICEDNS_BENCH_LOAD_QPS")
		if rate == "" {
			most := dnsperfQPS(t, ctx, exec.CommandContext(ctx, perf, "-s", inst.host, "-p", inst.port, "-d", qfile, "-c", "8", "-q", "200", "-l", "5"))
			t.Logf("slicedns's most on this zone here: %.0f QPS (dnsperf, 8 clients, 200 in flight, 5 s)", most)
			rate = strconv.Itoa(int(most / 2))
		}
		load := exec.CommandContext(ctx, perf, "-s", inst.host, "-p", inst.port, "-d", qfile, "-c", "4", "-q", "100", "-Q", rate, "-l", "120")
		var out bytes.Buffer
		load.Stdout, load.Stderr = &out, &out
		if err := load.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		procs := map[string][]int{"kube-apiserver+etcd": c.PIDs(), "slicedns": {inst.pid}, "dnsperf": {load.Process.Pid}, "bench": {os.Getpid()}}
		before := map[string]int64{}
		for k, pids := range procs {
			before[k] = cpuTicks(pids)
		}
		began := time.Now()
		busy := writeLatency(t, ctx, writer, inst, 200)
		var use []string
		for _, k := range []string{"kube-apiserver+etcd", "slicedns", "dnsperf", "bench"} {
			use = append(use, fmt.Sprintf("%s %.2f", k, float64(cpuTicks(procs[k])-before[k])/100/time.Since(began).Seconds()))
		}
		// Interrupted, dnsperf prints what it sent and got.
		load.Process.Signal(os.Interrupt)
		load.Wait()
		achieved := parseQPS(out.String())
		t.Logf("API write -> answer, under load (dnsperf asked for %s QPS, achieved %.0f over its run): %s", rate, achieved, busy)
		t.Logf("cores used meanwhile: %s", strings.Join(use, ", "))
	} else {
		t.Logf("dnsperf missing: no under-load figure")
	}

	// A full relist: restart the API server and watch memory through it.
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	after := writeLatency(t, ctx, writer, inst, 5)
	t.Logf("after an API server restart (relist): write -> answer %s; RSS %s", after, memory(inst))
	// The relist may start a little after the first write is served (the
	// reflectors back off); RSS is read until it settles.
	for i := 1; i <= 5; i++ {
		time.Sleep(3 * time.Second)
		t.Logf("RSS %d s after the restart: %s", 3*i, memory(inst))
	}
	heapProfile(t, inst, "relist")
}

func benchAddr(svc, ep int) string {
	return netip.AddrFrom4([4]byte{10, byte(svc >> 8), byte(svc), byte(ep + 1)}).String()
}

// fillBenchCluster creates the bench zone through the API with a few writers.
func fillBenchCluster(t *testing.T, ctx context.Context, cs kubernetes.Interface) {
	for n := 0; n < benchNS; n++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%03d", n)}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	work := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var failed error
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := createBenchService(ctx, cs, i); err != nil {
					once.Do(func() { failed = err })
				}
			}
		}()
	}
	for i := 0; i < benchServices; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
}

func createBenchService(ctx context.Context, cs kubernetes.Interface, i int) error {
	ns, name := fmt.Sprintf("ns-%03d", i%benchNS), fmt.Sprintf("svc-%05d", i)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{
		ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "http", Port: 80}},
		Selector: map[string]string{"app": name},
	}}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := cs.DiscoveryV1().EndpointSlices(ns).Create(ctx, benchSlice(ns, name, i, benchEndpoints), metav1.CreateOptions{})
	return err
}

func benchSlice(ns, name string, i, n int) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-x", Namespace: ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](80)}},
	}
	// As the EndpointSlice controller writes them for a StatefulSet's pods.
	for j := 0; j < n; j++ {
		pod := fmt.Sprintf("%s-%d", name, j)
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{benchAddr(i, j)}, Hostname: ptr.To(pod),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod, UID: types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, j))},
			NodeName:   ptr.To(fmt.Sprintf("node-%03d", (i*n+j)%500)),
			Zone:       ptr.To(fmt.Sprintf("zone-%c", 'a'+(i*n+j)%3)),
		})
	}
	return s
}

// writeLatency moves one endpoint of svc-00000 to a new address n times and
// measures from just before each API write until a query sees the change.
// It also reports the parts of that time: until the API server replied to
// the write (its own and etcd's work); from then until a watch of the
// bench's own received the event (the API server's watch delivery, which
// slicedns's watch waits for too); and from then until slicedns answered
// (receiving and decoding the event, the zone update, and a query's round
// trip: one is always in flight). Last come the GC cycles and CPU time
// slicedns spent meanwhile.
func writeLatency(t *testing.T, ctx context.Context, cs kubernetes.Interface, inst *instance, n int) string {
	var took, api, delivered, answered []time.Duration
	name := "svc-00000-0.svc-00000.ns-000.svc.cluster.local."
	events := watchSliceEvents(t, ctx, cs, "ns-000", "svc-00000-x")
	gcBefore, cpuBefore := metricValue(inst, "go_gc_duration_seconds_count"), metricValue(inst, "process_cpu_seconds_total")
	started := time.Now()
	for k := 0; k < n; k++ {
		s := benchSlice("ns-000", "svc-00000", 0, benchEndpoints)
		addr := netip.AddrFrom4([4]byte{10, 200, byte(k >> 8), byte(k)}).String()
		s.Endpoints[0].Addresses = []string{addr}
		cur, err := cs.DiscoveryV1().EndpointSlices("ns-000").Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.ResourceVersion = cur.ResourceVersion
		begin := time.Now()
		updated, err := cs.DiscoveryV1().EndpointSlices("ns-000").Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		replied := time.Since(begin)
		waitAnswer(t, inst, name, mdns.TypeA, func(a []string) bool { return slices.Equal(a, []string{addr}) }, 0, 30*time.Second)
		total := time.Since(begin)
		seen := events.at(updated.ResourceVersion, 5*time.Second).Sub(begin)
		if seen < replied {
			seen = replied // the event can beat the reply to the bench
		}
		if seen > total {
			seen = total // slicedns's watch beat the bench's
		}
		took, api = append(took, total), append(api, replied)
		delivered, answered = append(delivered, seen-replied), append(answered, total-seen)
	}
	elapsed := time.Since(started)
	gcs := metricValue(inst, "go_gc_duration_seconds_count") - gcBefore
	cores := (metricValue(inst, "process_cpu_seconds_total") - cpuBefore) / elapsed.Seconds()
	for _, d := range [][]time.Duration{took, api, delivered, answered} {
		slices.Sort(d)
	}
	pct := func(d []time.Duration, p int) time.Duration { return d[(len(d)-1)*p/100].Round(10 * time.Microsecond) }
	return fmt.Sprintf("p50 %v, p90 %v, max %v (n=%d); until the API server's reply p50 %v, p90 %v; "+
		"then until its watch delivered the event p50 %v, p90 %v; then until slicedns answered p50 %v, p90 %v; "+
		"slicedns meanwhile: %.0f GC cycles, %.2f cores",
		pct(took, 50), pct(took, 90), took[len(took)-1].Round(10*time.Microsecond), n, pct(api, 50), pct(api, 90),
		pct(delivered, 50), pct(delivered, 90), pct(answered, 50), pct(answered, 90), gcs, cores)
}

// sliceEvents records when a watch saw each resourceVersion of one slice.
type sliceEvents struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func watchSliceEvents(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name string) *sliceEvents {
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	w, err := cs.DiscoveryV1().EndpointSlices(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	e := &sliceEvents{seen: map[string]time.Time{}}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			now := time.Now()
			if s, ok := ev.Object.(*discoveryv1.EndpointSlice); ok {
				e.mu.Lock()
				e.seen[s.ResourceVersion] = now
				e.mu.Unlock()
			}
		}
	}()
	return e
}

// at is when resourceVersion rv was seen, waiting up to limit for it; if it
// never comes, now (so the whole time counts as delivery).
func (e *sliceEvents) at(rv string, limit time.Duration) time.Time {
	deadline := time.Now().Add(limit)
	for {
		e.mu.Lock()
		ts, ok := e.seen[rv]
		e.mu.Unlock()
		if ok || time.Now().After(deadline) {
			if !ok {
				return time.Now()
			}
			return ts
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// metricValue reads one unlabelled sample from slicedns's /metrics (NaN if
// it is missing).
func metricValue(inst *instance, name string) float64 {
	resp, err := http.Get("http://" + inst.httpAddr + "/metrics")
	if err != nil {
		return math.NaN()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return math.NaN()
}

// waitAnswer asks for name over UDP until ok accepts the answer's
// addresses, on one socket, waiting pause between a rejected answer and the
// next query (and 200 µs after an error, such as nothing listening yet).
// With pause 0 a query is always in flight, so a change is seen at most one
// round trip after slicedns starts serving it; polling every millisecond
// instead had added half a millisecond to the measured latency on average,
// and every 200 µs still a quarter under load, when a round trip is slower.
func waitAnswer(t *testing.T, inst *instance, name string, qtype uint16, ok func([]string) bool, pause, limit time.Duration) {
	t.Helper()
	cl := &mdns.Client{Timeout: 500 * time.Millisecond}
	deadline := time.Now().Add(limit)
	var conn *mdns.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	var last []string
	for time.Now().Before(deadline) {
		var err error
		if conn == nil {
			conn, err = cl.Dial(inst.dnsAddr)
		}
		var r *mdns.Msg
		if err == nil {
			m := new(mdns.Msg)
			m.SetQuestion(name, qtype)
			r, _, err = cl.ExchangeWithConn(m, conn)
		}
		if err != nil {
			if conn != nil {
				conn.Close() // a late answer must not be read as the next one's
				conn = nil
			}
			time.Sleep(200 * time.Microsecond)
			continue
		}
		last = last[:0]
		for _, rr := range r.Answer {
			if a, isA := rr.(*mdns.A); isA {
				last = append(last, a.A.String())
			}
		}
		if ok(last) {
			return
		}
		if pause > 0 {
			time.Sleep(pause)
		}
	}
	t.Fatalf("%s: no acceptable answer within %v; last %v", name, limit, last)
}

// waitQuiet waits, at most limit, until the processes together use less
// than 5% of a core over a second, and returns how long it waited.
func waitQuiet(t *testing.T, pids []int, limit time.Duration) time.Duration {
	start := time.Now()
	ticks := func() int64 { return cpuTicks(pids) }
	for time.Since(start) < limit {
		before := ticks()
		time.Sleep(time.Second)
		if ticks()-before < 5 { // clock ticks are 10 ms: under 0.05 s of CPU
			break
		}
	}
	return time.Since(start)
}

// dnsperfQPS runs dnsperf to its end and returns the QPS it reports.
func dnsperfQPS(t *testing.T, ctx context.Context, cmd *exec.Cmd) float64 {
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	return parseQPS(string(out))
}

// parseQPS reads "Queries per second:" from dnsperf's report (NaN if absent).
func parseQPS(report string) float64 {
	for _, l := range strings.Split(report, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Queries per second:"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
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
	out := rss(inst.pid)
	resp, err := http.Get("http://" + inst.httpAddr + "/metrics")
	if err != nil {
		return out
	}
	resp.Body.Close()
	stat := func(name string) string { return fmt.Sprintf("%.1f MB", metricValue(inst, name)/1e6) }
	return fmt.Sprintf("%s; Go heap: live %s, in use %s, idle %s, released %s, next GC %s", out,
		stat("go_memstats_heap_alloc_bytes"), stat("go_memstats_heap_inuse_bytes"), stat("go_memstats_heap_idle_bytes"),
		stat("go_memstats_heap_released_bytes"), stat("go_memstats_next_gc_bytes"))
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
