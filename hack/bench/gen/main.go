// Command gen writes the benchmark zone as Kubernetes manifests, and the
// dnsperf query file that goes with it.
//
// The zone is -services headless StatefulSet-style Services of -pods
// endpoints each (svc-00042 in ns-042 with pods svc-00042-0..9 as hostnames,
// one EndpointSlice each, a named port "http"), spread over -namespaces
// namespaces, plus -big headless Services of -big-size endpoints without
// hostnames, in slices of -slice-size. Addresses come from 10.0.0.0/8; they
// are data only and are never contacted. Each namespace is one JSON file (a
// stream of objects), so that loading is quick.
//
// The query file (dnsperf's "name type" lines) mixes, in this proportion:
// Service A 40%, per-pod A 30%, SRV 15%, NXDOMAIN 10%, AAAA (NODATA) 5%,
// shuffled with a fixed seed, so every run sends the same queries. Names are
// picked uniformly among all Services and all endpoints, so a few queries
// hit the big Services, whose answers do not fit a UDP response.
//
// It prints a one-line summary, and writes DIR/probe.txt: a per-pod name and
// the address it must answer, for polling the server until it is up.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

type config struct {
	out        string
	services   int
	pods       int
	namespaces int
	big        int
	bigSize    int
	sliceSize  int
	queries    int
	seed       uint64
	zoneName   string
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "bench/out", "output `dir`: manifests go to DIR/zone, queries to DIR/queries.txt")
	flag.IntVar(&c.services, "services", 10_000, "StatefulSet-style headless Services")
	flag.IntVar(&c.pods, "pods", 10, "endpoints (with hostnames) per StatefulSet-style Service")
	flag.IntVar(&c.namespaces, "namespaces", 100, "namespaces the Services are spread over")
	flag.IntVar(&c.big, "big", 10, "big headless Services (endpoints without hostnames)")
	flag.IntVar(&c.bigSize, "big-size", 1000, "endpoints per big Service")
	flag.IntVar(&c.sliceSize, "slice-size", 100, "endpoints per EndpointSlice of a big Service")
	flag.IntVar(&c.queries, "queries", 100_000, "lines in the query file")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the query mix and its order")
	flag.StringVar(&c.zoneName, "zone", "cluster.local", "cluster domain of the query names")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

// Minimal shapes of the API objects: only the fields the server reads.
type meta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels,omitempty"`
}

type servicePort struct {
	Name       string `json:"name"`
	Port       int    `json:"port"`
	TargetPort int    `json:"targetPort"`
	Protocol   string `json:"protocol"`
}

type service struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   meta   `json:"metadata"`
	Spec       struct {
		ClusterIP string            `json:"clusterIP"`
		Selector  map[string]string `json:"selector"`
		Ports     []servicePort     `json:"ports"`
	} `json:"spec"`
}

type slicePort struct {
	Name     string `json:"name"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
}

type conditions struct {
	Ready       bool `json:"ready"`
	Serving     bool `json:"serving"`
	Terminating bool `json:"terminating"`
}

type targetRef struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

type endpoint struct {
	Addresses  []string   `json:"addresses"`
	Hostname   string     `json:"hostname,omitempty"`
	Conditions conditions `json:"conditions"`
	NodeName   string     `json:"nodeName"`
	TargetRef  targetRef  `json:"targetRef"`
}

type endpointSlice struct {
	APIVersion  string      `json:"apiVersion"`
	Kind        string      `json:"kind"`
	Metadata    meta        `json:"metadata"`
	AddressType string      `json:"addressType"`
	Ports       []slicePort `json:"ports"`
	Endpoints   []endpoint  `json:"endpoints"`
}

// svcInfo is what the query mix needs of a Service.
type svcInfo struct {
	name, ns string
	first    int // index of its first endpoint in the global endpoint list
	size     int
}

// epInfo is one endpoint: the label it is published under.
type epInfo struct {
	label string
	svc   int
	ip    string
}

func ip4(base uint32, i int) string {
	v := base + uint32(i)
	return fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff)
}

func headless(ns, name string) *service {
	s := &service{APIVersion: "v1", Kind: "Service", Metadata: meta{Name: name, Namespace: ns}}
	s.Spec.ClusterIP = "None"
	s.Spec.Selector = map[string]string{"app": name}
	s.Spec.Ports = []servicePort{{Name: "http", Port: 80, TargetPort: 8080, Protocol: "TCP"}}
	return s
}

func newSlice(ns, name, svc string) *endpointSlice {
	return &endpointSlice{
		APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice",
		Metadata: meta{Name: name, Namespace: ns, Labels: map[string]string{
			"kubernetes.io/service-name":             svc,
			"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
		}},
		AddressType: "IPv4",
		Ports:       []slicePort{{Name: "http", Port: 8080, Protocol: "TCP"}},
	}
}

func run(c config) error {
	start := time.Now()
	zoneDir := filepath.Join(c.out, "zone")
	// Start from an empty folder so files of an earlier, differently sized
	// run are not served too.
	if err := os.RemoveAll(zoneDir); err != nil {
		return err
	}
	if err := os.MkdirAll(zoneDir, 0o755); err != nil {
		return err
	}

	// Objects per namespace, in the order they are written.
	perNS := make([][]any, c.namespaces)
	var svcs []svcInfo
	var eps []epInfo
	slices := 0
	const smallBase = 10<<24 | 1 // 10.0.0.1 up
	const bigBase = 10<<24 | 128<<16 | 1
	for i := range c.services {
		ns := fmt.Sprintf("ns-%03d", i%c.namespaces)
		name := fmt.Sprintf("svc-%05d", i)
		sl := newSlice(ns, name+"-"+suffix(i), name)
		svcs = append(svcs, svcInfo{name: name, ns: ns, first: len(eps), size: c.pods})
		for j := range c.pods {
			host := fmt.Sprintf("%s-%d", name, j)
			addr := ip4(smallBase, i*c.pods+j)
			sl.Endpoints = append(sl.Endpoints, endpoint{
				Addresses: []string{addr}, Hostname: host,
				Conditions: conditions{Ready: true, Serving: true},
				NodeName:   fmt.Sprintf("node-%03d", (i*c.pods+j)%500),
				TargetRef:  targetRef{Kind: "Pod", Name: host, Namespace: ns},
			})
			eps = append(eps, epInfo{label: host, svc: len(svcs) - 1, ip: addr})
		}
		perNS[i%c.namespaces] = append(perNS[i%c.namespaces], headless(ns, name), sl)
		slices++
	}
	for b := range c.big {
		ns := fmt.Sprintf("ns-%03d", b%c.namespaces)
		name := fmt.Sprintf("big-%02d", b)
		svcs = append(svcs, svcInfo{name: name, ns: ns, first: len(eps), size: c.bigSize})
		objs := []any{headless(ns, name)}
		var sl *endpointSlice
		for j := range c.bigSize {
			if j%c.sliceSize == 0 {
				sl = newSlice(ns, fmt.Sprintf("%s-%s", name, suffix(b*1000+j/c.sliceSize)), name)
				objs = append(objs, sl)
				slices++
			}
			addr := ip4(bigBase, b*c.bigSize+j)
			pod := fmt.Sprintf("%s-%s", name, suffix(b*c.bigSize+j+7))
			sl.Endpoints = append(sl.Endpoints, endpoint{
				Addresses:  []string{addr},
				Conditions: conditions{Ready: true, Serving: true},
				NodeName:   fmt.Sprintf("node-%03d", j%500),
				TargetRef:  targetRef{Kind: "Pod", Name: pod, Namespace: ns},
			})
			// No hostname: the endpoint is published as its dashed address.
			eps = append(eps, epInfo{label: dashed(addr), svc: len(svcs) - 1, ip: addr})
		}
		perNS[b%c.namespaces] = append(perNS[b%c.namespaces], objs...)
	}

	var bytes int64
	for i, objs := range perNS {
		ns := fmt.Sprintf("ns-%03d", i)
		n, err := writeJSON(filepath.Join(zoneDir, ns+".json"), ns, objs)
		if err != nil {
			return err
		}
		bytes += n
	}

	mix, err := writeQueries(c, svcs, eps)
	if err != nil {
		return err
	}

	// The probe: the last endpoint of the last StatefulSet-style Service.
	if c.services > 0 {
		s := svcs[c.services-1]
		e := eps[s.first+s.size-1]
		probe := fmt.Sprintf("%s.%s.%s.svc.%s %s\n", e.label, s.name, s.ns, c.zoneName, e.ip)
		if err := os.WriteFile(filepath.Join(c.out, "probe.txt"), []byte(probe), 0o644); err != nil {
			return err
		}
	}

	fmt.Printf("zone: %s Services, %s endpoints, %s EndpointSlices, %d files, %.1f MB (generated in %.1f s)\n",
		commas(len(svcs)), commas(len(eps)), commas(slices), c.namespaces, float64(bytes)/1e6,
		time.Since(start).Seconds())
	fmt.Printf("queries: %s, shuffled (seed %d): %s\n", commas(c.queries), c.seed, mix)
	return nil
}

// writeJSON writes a namespace's objects as a stream of JSON values, one a
// line, after the Namespace itself.
func writeJSON(path, ns string, objs []any) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	nsObj := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]string{"name": ns}}
	if err := enc.Encode(nsObj); err != nil {
		f.Close()
		return 0, err
	}
	for _, o := range objs {
		if err := enc.Encode(o); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, err
	}
	return st.Size(), f.Close()
}

// The query mix, in percent.
var mixes = []struct {
	kind    string
	percent int
}{
	{"svc-A", 40},
	{"pod-A", 30},
	{"SRV", 15},
	{"NXDOMAIN", 10},
	{"AAAA-NODATA", 5},
}

func writeQueries(c config, svcs []svcInfo, eps []epInfo) (string, error) {
	rng := rand.New(rand.NewPCG(c.seed, 0x51ced25))
	lines := make([]string, 0, c.queries)
	svcName := func(s svcInfo) string { return fmt.Sprintf("%s.%s.svc.%s", s.name, s.ns, c.zoneName) }
	counts := make([]int, len(mixes))
	for i, m := range mixes {
		n := c.queries * m.percent / 100
		if i == len(mixes)-1 { // rounding goes to the last kind
			n = c.queries - len(lines)
		}
		counts[i] = n
		for range n {
			switch m.kind {
			case "svc-A":
				lines = append(lines, svcName(svcs[rng.IntN(len(svcs))])+" A")
			case "pod-A":
				e := eps[rng.IntN(len(eps))]
				lines = append(lines, e.label+"."+svcName(svcs[e.svc])+" A")
			case "SRV":
				lines = append(lines, "_http._tcp."+svcName(svcs[rng.IntN(len(svcs))])+" SRV")
			case "NXDOMAIN":
				s := svcs[rng.IntN(len(svcs))]
				if rng.IntN(2) == 0 {
					// A pod that does not exist, in a Service that does.
					lines = append(lines, fmt.Sprintf("%s-missing-%d.%s A", s.name, rng.IntN(100), svcName(s)))
				} else {
					// A Service that does not exist, in a namespace that does.
					lines = append(lines, fmt.Sprintf("gone-%05d.%s.svc.%s A", rng.IntN(100_000), s.ns, c.zoneName))
				}
			case "AAAA-NODATA":
				if rng.IntN(2) == 0 {
					lines = append(lines, svcName(svcs[rng.IntN(len(svcs))])+" AAAA")
				} else {
					e := eps[rng.IntN(len(eps))]
					lines = append(lines, e.label+"."+svcName(svcs[e.svc])+" AAAA")
				}
			}
		}
	}
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })

	f, err := os.Create(filepath.Join(c.out, "queries.txt"))
	if err != nil {
		return "", err
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	s := ""
	for i, m := range mixes {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %.0f%%", m.kind, float64(counts[i])*100/float64(max(1, c.queries)))
	}
	return s, nil
}

// suffix is a deterministic 5-letter suffix like the API server's
// generateName; distinct i below 27^5 give distinct suffixes (multiplying by
// a number prime to 27 permutes the residues).
func suffix(i int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	const space = 27 * 27 * 27 * 27 * 27
	v := uint32((uint64(i)*7919 + 12345) % space)
	b := make([]byte, 5)
	for k := range b {
		b[k] = alphabet[v%uint32(len(alphabet))]
		v /= uint32(len(alphabet))
	}
	return string(b)
}

func dashed(ip string) string {
	b := []byte(ip)
	for i, c := range b {
		if c == '.' {
			b[i] = '-'
		}
	}
	return string(b)
}

func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
