package watch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/slicedns/slicedns/zone"
)

// Objects for tests, written as the API server stores them.

func kubeHeadless(ns, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}},
	}
}

// kubeSlice makes an IPv4 slice of svc; an address prefixed with '!' is not ready.
func kubeSlice(ns, name, svc string, addrs ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: kubePtr("http"), Protocol: kubePtr(corev1.ProtocolTCP), Port: kubePtr[int32](80)}},
	}
	for _, a := range addrs {
		ready := !strings.HasPrefix(a, "!")
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{strings.TrimPrefix(a, "!")},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		})
	}
	return s
}

func kubePtr[T any](v T) *T { return &v }

// zoneAddrs returns the sorted A and AAAA data at name, or nil when the name
// does not exist.
func zoneAddrs(z *zone.Zone, name string) []string {
	n, ok := z.Snapshot().Lookup(name)
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

// kubeEventually polls check until it returns nil, failing the test after timeout.
func kubeEventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func wantZoneAddrs(z *zone.Zone, name string, want ...string) func() error {
	return func() error {
		if got := zoneAddrs(z, name); !slices.Equal(got, want) {
			return fmt.Errorf("%s: got %v, want %v", name, got, want)
		}
		return nil
	}
}

// fakeEnv is a Kube running against client-go's fake clientset.
type fakeEnv struct {
	kube    *Kube
	zone    *zone.Zone
	client  *fake.Clientset
	reg     *prometheus.Registry
	logs    *observer.ObservedLogs
	watches chan string // a resource name each time a watch is established
}

// startFake runs k (Client, Sink, Logger and Metrics filled in) until the
// test ends and waits for it to sync.
func startFake(t *testing.T, k *Kube, objs ...runtime.Object) *fakeEnv {
	t.Helper()
	return startFakeWith(t, k, nil, objs...)
}

// startFakeWith is startFake with a chance to add reactors to the client.
func startFakeWith(t *testing.T, k *Kube, setup func(*fake.Clientset), objs ...runtime.Object) *fakeEnv {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	e := &fakeEnv{kube: k, zone: zone.New(), client: fake.NewClientset(objs...), reg: prometheus.NewRegistry(),
		logs: logs, watches: make(chan string, 100)}
	// The fake tracker does not replay changes made between a list and the
	// watch that follows it, so tests wait for the watches before changing
	// objects.
	tracker := e.client.Tracker()
	e.client.PrependWatchReactor("*", func(a k8stesting.Action) (bool, apiwatch.Interface, error) {
		w, err := tracker.Watch(a.GetResource(), a.GetNamespace())
		select {
		case e.watches <- a.GetResource().Resource:
		default:
		}
		return true, w, err
	})
	if setup != nil {
		setup(e.client)
	}
	k.Client, k.Sink, k.Logger, k.Metrics = clientset{e.client}, e.zone, zap.New(core), NewMetrics(e.reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- k.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if !k.WaitForSync(wctx) {
		t.Fatal("not synced")
	}
	return e
}

// waitWatches waits until n more watches have been established.
func (e *fakeEnv) waitWatches(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-e.watches:
		case <-time.After(10 * time.Second):
			t.Fatal("no watch established")
		}
	}
}

// TestKubeServes runs the whole path over the fake clientset: events
// reach the zone, and trigger times are observed only for live changes.
func TestKubeServes(t *testing.T) {
	sl := kubeSlice("a", "web-1", "web", "10.0.0.1")
	sl.Annotations = map[string]string{TriggerTimeAnnotation: time.Now().Add(-time.Hour).Format(time.RFC3339)}
	e := startFake(t, &Kube{Namespaces: []string{"b", "a", "a"}},
		kubeHeadless("a", "web"), sl, kubeHeadless("b", "web"), kubeSlice("b", "web-1", "web", "10.0.1.1"),
		kubeHeadless("c", "web"), kubeSlice("c", "web-1", "web", "10.0.2.1"))
	e.waitWatches(t, 4)
	if got := zoneAddrs(e.zone, "web.a.svc"); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("synced, but web.a.svc = %v", got)
	}
	kubeEventually(t, 5*time.Second, wantZoneAddrs(e.zone, "web.b.svc", "10.0.1.1"))
	if got := zoneAddrs(e.zone, "web.c.svc"); got != nil {
		t.Errorf("namespace c is not watched, yet web.c.svc = %v", got)
	}

	ctx := context.Background()
	live := kubeSlice("a", "web-2", "web", "10.0.0.2")
	live.Annotations = map[string]string{TriggerTimeAnnotation: time.Now().Format(time.RFC3339Nano)}
	if _, err := e.client.DiscoveryV1().EndpointSlices("a").Create(ctx, live, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeEventually(t, 5*time.Second, wantZoneAddrs(e.zone, "web.a.svc", "10.0.0.1", "10.0.0.2"))
	if n := histogramCount(t, e.reg, "slicedns_programming_duration_seconds"); n != 1 {
		t.Errorf("programming latency observed %d times, want once (the live slice, not the initial list)", n)
	}
	if err := e.client.CoreV1().Services("a").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeEventually(t, 5*time.Second, wantZoneAddrs(e.zone, "web.a.svc"))
	for _, c := range []struct {
		kind, event string
		want        float64
	}{{"Service", "add", 2}, {"EndpointSlice", "add", 3}, {"Service", "delete", 1}} {
		if got := counterValue(t, e.kube.Metrics.events.WithLabelValues(c.kind, c.event)); got != c.want {
			t.Errorf("events{%s,%s} = %v, want %v", c.kind, c.event, got, c.want)
		}
	}

	if err := e.kube.Run(ctx); err == nil {
		t.Error("a second Run did not fail")
	}
}

func TestKubeRunRefusesMisconfiguration(t *testing.T) {
	ctx := context.Background()
	if err := (&Kube{Sink: zone.New()}).Run(ctx); err == nil {
		t.Error("Run without a Client did not fail")
	}
	k := &Kube{Client: clientset{fake.NewClientset()}, Sink: zone.New(), LabelSelector: "a in (b"}
	if err := k.Run(ctx); err == nil {
		t.Error("Run with a bad selector did not fail")
	}
	if k.Synced() {
		t.Error("Synced before Run")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if k.WaitForSync(cctx) {
		t.Error("WaitForSync reported success without Run")
	}
}

// TestKubeTombstoneOnRelist makes a reflector relist (a watch expires) into
// a list without one slice: that slice is deleted, the unchanged one is not
// applied again, and the address it holds stays served throughout.
func TestKubeTombstoneOnRelist(t *testing.T) {
	var mu sync.Mutex
	a, b := kubeSlice("ns", "web-a", "web", "10.0.0.1"), kubeSlice("ns", "web-b", "web", "10.0.0.2")
	a.ResourceVersion, b.ResourceVersion = "1", "2"
	list := &discoveryv1.EndpointSliceList{ListMeta: metav1.ListMeta{ResourceVersion: "10"},
		Items: []discoveryv1.EndpointSlice{*a, *b}}
	watchers := make(chan *apiwatch.RaceFreeFakeWatcher, 10)
	k := &Kube{}
	setup := func(c *fake.Clientset) {
		c.PrependReactor("list", "endpointslices", func(k8stesting.Action) (bool, runtime.Object, error) {
			mu.Lock()
			defer mu.Unlock()
			return true, list.DeepCopy(), nil
		})
		c.PrependWatchReactor("endpointslices", func(k8stesting.Action) (bool, apiwatch.Interface, error) {
			w := apiwatch.NewRaceFreeFake()
			select {
			case watchers <- w:
			default: // never block the reflector, or Run could not stop
			}
			return true, w, nil
		})
	}
	e := startFakeWith(t, k, setup, kubeHeadless("ns", "web"))
	kubeEventually(t, 5*time.Second, wantZoneAddrs(e.zone, "web.ns.svc", "10.0.0.1", "10.0.0.2"))

	mu.Lock()
	// web-a is unchanged (same resourceVersion), so the relist must not
	// deliver it again; web-b vanished while the watch was down.
	list = &discoveryv1.EndpointSliceList{ListMeta: metav1.ListMeta{ResourceVersion: "20"}, Items: []discoveryv1.EndpointSlice{*a}}
	mu.Unlock()
	var w *apiwatch.RaceFreeFakeWatcher
	select {
	case w = <-watchers:
	case <-time.After(10 * time.Second):
		t.Fatal("no watch established")
	}
	w.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old"})
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(zoneAddrs(e.zone, "web.ns.svc"), []string{"10.0.0.1"}) {
		if got := zoneAddrs(e.zone, "web.ns.svc"); !slices.Contains(got, "10.0.0.1") || time.Now().After(deadline) {
			t.Fatalf("web.ns.svc = %v during the relist", got)
		}
	}
	if got := counterValue(t, e.kube.Metrics.events.WithLabelValues("EndpointSlice", "delete")); got != 1 {
		t.Errorf("EndpointSlice deletes counted: %v, want 1", got)
	}
	if got := counterValue(t, e.kube.Metrics.events.WithLabelValues("EndpointSlice", "update")); got != 0 {
		t.Errorf("EndpointSlice updates counted: %v; the unchanged slice was delivered again", got)
	}

}

func histogramCount(t *testing.T, g prometheus.Gatherer, name string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func counterValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}
