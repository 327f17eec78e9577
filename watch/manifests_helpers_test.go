package watch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/slicedns/slicedns/zone"
)

// recordingSink passes calls on to a zone and records them, so that a test
// can tell what a load re-applied.
type recordingSink struct {
	next  Sink
	mu    sync.Mutex
	calls []string
}

func (s *recordingSink) record(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// take returns the calls recorded since the last take.
func (s *recordingSink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

func (s *recordingSink) UpsertService(v *zone.Service) error {
	s.record("upsert Service " + v.Namespace + "/" + v.Name)
	return s.next.UpsertService(v)
}

func (s *recordingSink) DeleteService(ns, name string) {
	s.record("delete Service " + ns + "/" + name)
	s.next.DeleteService(ns, name)
}

func (s *recordingSink) UpsertSlice(v *zone.Slice) error {
	s.record("upsert EndpointSlice " + v.Namespace + "/" + v.Name)
	return s.next.UpsertSlice(v)
}

func (s *recordingSink) DeleteSlice(ns, name string) {
	s.record("delete EndpointSlice " + ns + "/" + name)
	s.next.DeleteSlice(ns, name)
}

type fixture struct {
	m       *Manifests
	zone    *zone.Zone
	sink    *recordingSink
	logs    *observer.ObservedLogs
	metrics *Metrics
	reg     *prometheus.Registry
}

func newFixture(t *testing.T, dir string) *fixture {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	reg := prometheus.NewRegistry()
	met := NewMetrics(reg)
	z := zone.New()
	sink := &recordingSink{next: z}
	return &fixture{
		m:    &Manifests{Dir: dir, Sink: sink, Logger: zap.New(core), Metrics: met},
		zone: z, sink: sink, logs: logs, metrics: met, reg: reg,
	}
}

func (f *fixture) load(t *testing.T) {
	t.Helper()
	if err := f.m.Load(); err != nil {
		t.Fatalf("Load: %v", err)
	}
}

// run starts Run and stops it when the test ends, failing the test if Run
// returned an error.
func (f *fixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// addrs returns the addresses at name, sorted, or nil when it does not exist.
func (f *fixture) addrs(name string) []string {
	n, ok := f.zone.Snapshot().Lookup(name)
	if !ok {
		return nil
	}
	out := []string{}
	for _, a := range slices.Concat(n.A().Slice(), n.AAAA().Slice()) {
		out = append(out, a.String())
	}
	slices.Sort(out)
	return out
}

// counter reads slicedns_watch_events_total{kind,event}, or for event
// "invalid" slicedns_invalid_objects_total{kind}, through the registry as a
// scrape would.
func (f *fixture) counter(kind, event string) float64 {
	name := "slicedns_watch_events_total"
	if event == "invalid" {
		name = "slicedns_invalid_objects_total"
	}
	return f.gather(name, func(labels map[string]string) bool {
		return labels["kind"] == kind && (event == "invalid" || labels["event"] == event)
	})
}

// gather returns the counter value, or the histogram sample count, of the
// series of metric name whose labels match.
func (f *fixture) gather(name string, match func(map[string]string) bool) float64 {
	mfs, err := f.reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if !match(labels) {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// waitFor polls cond until it holds, failing the test after two seconds: a
// change in the folder must show within about one.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// copyFiles copies fixtures (destination name -> path under
// testdata/manifests) into a new folder.
func copyFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for dst, src := range files {
		copyFile(t, filepath.Join("testdata/manifests", src), filepath.Join(dir, dst))
	}
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(data))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// service is a manifest of a ClusterIP Service in namespace default.
func service(name, ip string) string {
	return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + "}\nspec: {clusterIP: " + ip + "}\n"
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// loadedFile is a fixture over a new folder whose one file, a.yaml, holds
// content, loaded once; it returns the file's path too.
func loadedFile(t *testing.T, content string) (*fixture, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.yaml")
	writeFile(t, path, content)
	f := newFixture(t, dir)
	f.load(t)
	return f, path
}
