package watch

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slicedns/slicedns/zone"
)

// storeFixture is a Kube whose stores write to a zone through a
// recordingSink, without a reflector: the test plays the reflector.
type storeFixture struct {
	k    *Kube
	sink *recordingSink
	zone *zone.Zone
	reg  *prometheus.Registry
}

func newStoreFixture() *storeFixture {
	z := zone.New()
	reg := prometheus.NewRegistry()
	f := &storeFixture{zone: z, sink: &recordingSink{next: z}, reg: reg}
	f.k = &Kube{Sink: f.sink, Metrics: NewMetrics(reg)}
	return f
}

func (f *storeFixture) events(t *testing.T, kind, event string) float64 {
	t.Helper()
	return counterValue(t, f.k.Metrics.events.WithLabelValues(kind, event))
}

// What a watch-list keeps of each object until the list ends is its key; the
// object itself is applied on arrival, once per version.
func TestKubeStoreTransformAppliesAndKeepsAMarker(t *testing.T) {
	f := newStoreFixture()
	s := f.k.serviceStore()
	svc := kubeHeadless("prod", "web")
	svc.ResourceVersion = "42"
	svc.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"}

	out, err := s.transform(svc)
	if err != nil {
		t.Fatal(err)
	}
	if out != any(cache.ExplicitKey("prod/web")) {
		t.Fatalf("transform made %#v, want only the key", out)
	}
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(out); key != "prod/web" || err != nil {
		t.Errorf("client-go's key of the marker: %q, %v", key, err)
	}
	if got := f.sink.take(); !slices.Equal(got, []string{"upsert Service prod/web"}) {
		t.Errorf("sink calls %v, want the Service upserted on arrival", got)
	}
	if again, _ := s.transform(out); again != out {
		t.Errorf("transform is not idempotent: %v became %v", out, again)
	}
	if again, _ := s.transform(svc.DeepCopy()); len(f.sink.take()) != 0 || again != out {
		t.Errorf("the same resourceVersion was applied again, or made %#v", again)
	}
	if allocs := testing.AllocsPerRun(100, func() { s.transform(svc) }); allocs > 1 {
		t.Errorf("an unchanged object cost %v allocations; want at most the boxed key", allocs)
	}
	if want := map[string]string{"prod/web": "prod/web42"}; !reflect.DeepEqual(s.versions, want) {
		t.Errorf("versions %v, want %v", s.versions, want)
	}

	changed := svc.DeepCopy()
	changed.ResourceVersion = "43"
	s.transform(changed)
	if got := f.sink.take(); !slices.Equal(got, []string{"upsert Service prod/web"}) {
		t.Errorf("a new version: sink calls %v", got)
	}
	if f.events(t, "Service", "add") != 1 || f.events(t, "Service", "update") != 1 {
		t.Errorf("events: add %v, update %v; want 1 and 1", f.events(t, "Service", "add"), f.events(t, "Service", "update"))
	}
	tomb := cache.DeletedFinalStateUnknown{Key: "prod/web"}
	if got, _ := s.transform(tomb); got != any(tomb) {
		t.Errorf("a tombstone was transformed: %+v", got)
	}
}

// An object that cannot be served is counted and skipped; the version
// before it stays served, and its own version is remembered, so a relist
// does not warn about it again.
func TestKubeStoreSkipsInvalid(t *testing.T) {
	f := newStoreFixture()
	s := f.k.serviceStore()
	good := kubeHeadless("prod", "web")
	good.ResourceVersion = "1"
	s.Add(good)
	f.k.sliceStore().Add(kubeSlice("prod", "web-1", "web", "10.0.0.1"))
	bad := kubeHeadless("prod", "web")
	bad.ResourceVersion = "2"
	bad.Spec.Type = "ClusterIP"
	bad.Spec.ClusterIP, bad.Spec.ClusterIPs = "not-an-ip", []string{"not-an-ip"}
	s.Update(bad)
	if got := counterValue(t, f.k.Metrics.invalid.WithLabelValues("Service")); got != 1 {
		t.Errorf("invalid objects counted: %v, want 1", got)
	}
	if got := zoneAddrs(f.zone, "web.prod.svc"); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("after an invalid update web.prod.svc = %v, want the previous version served", got)
	}
	f.sink.take()
	s.Replace([]any{bad.DeepCopy()}, "3")
	if got := f.sink.take(); len(got) != 0 {
		t.Errorf("a relist re-applied the invalid version: %v", got)
	}
	if got := counterValue(t, f.k.Metrics.invalid.WithLabelValues("Service")); got != 1 {
		t.Errorf("invalid objects counted after the relist: %v, want still 1", got)
	}
}

// Replace applies what is new or changed, skips what is not, deletes what
// the list lacks (after the upserts), and syncs the store the first time;
// trigger times are observed only once synced.
func TestKubeStoreReplace(t *testing.T) {
	f := newStoreFixture()
	s := f.k.sliceStore()
	f.k.unsynced.Store(1)
	f.zone.UpsertService(&zone.Service{Namespace: "ns", Name: "web", Type: zone.Headless})
	slice := func(name, rv string, addrs ...string) any {
		sl := kubeSlice("ns", name, "web", addrs...)
		sl.ResourceVersion = rv
		sl.Annotations = map[string]string{TriggerTimeAnnotation: time.Now().Format(time.RFC3339Nano)}
		out, _ := s.transform(sl) // as a watch-list does
		return out
	}
	a, b := slice("web-a", "1", "10.0.0.1"), slice("web-b", "2", "10.0.0.2")
	if f.k.Synced() {
		t.Fatal("synced before the first Replace")
	}
	s.Replace([]any{a, b}, "2")
	if !f.k.Synced() {
		t.Error("not synced after the only store's first Replace")
	}
	if got := f.sink.take(); !slices.Equal(got, []string{"upsert EndpointSlice ns/web-a", "upsert EndpointSlice ns/web-b"}) {
		t.Errorf("initial list: sink calls %v", got)
	}
	if n := histogramCount(t, f.reg, "slicedns_programming_duration_seconds"); n != 0 {
		t.Errorf("programming latency observed %d times for the initial list", n)
	}

	// A LIST (no watch-list) hands raw objects: web-a unchanged, web-b
	// gone, web-c new.
	c := kubeSlice("ns", "web-c", "web", "10.0.0.3")
	c.ResourceVersion = "5"
	c.Annotations = map[string]string{TriggerTimeAnnotation: time.Now().Format(time.RFC3339Nano)}
	unchanged := kubeSlice("ns", "web-a", "web", "10.0.0.1")
	unchanged.ResourceVersion = "1"
	s.Replace([]any{unchanged, c}, "5")
	if got := f.sink.take(); !slices.Equal(got, []string{"upsert EndpointSlice ns/web-c", "delete EndpointSlice ns/web-b"}) {
		t.Errorf("relist: sink calls %v, want web-c upserted then web-b deleted", got)
	}
	if got := zoneAddrs(f.zone, "web.ns.svc"); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.3"}) {
		t.Errorf("after the relist web.ns.svc = %v", got)
	}
	if want := map[string]string{"ns/web-a": "ns/web-a1", "ns/web-c": "ns/web-c5"}; !reflect.DeepEqual(s.versions, want) {
		t.Errorf("versions %v, want %v", s.versions, want)
	}
	if n := histogramCount(t, f.reg, "slicedns_programming_duration_seconds"); n != 1 {
		t.Errorf("programming latency observed %d times, want once (web-c, after sync)", n)
	}

	// Deletes: a watch event's object, and a tombstone that lost its object.
	s.Delete(c)
	s.Delete(cache.DeletedFinalStateUnknown{Key: "ns/web-a"})
	if got := f.sink.take(); !slices.Equal(got, []string{"delete EndpointSlice ns/web-c", "delete EndpointSlice ns/web-a"}) {
		t.Errorf("deletes: sink calls %v", got)
	}
	if len(s.versions) != 0 {
		t.Errorf("versions after every delete: %v", s.versions)
	}
	if got := zoneAddrs(f.zone, "web.ns.svc"); len(got) != 0 {
		t.Errorf("after the deletes web.ns.svc = %v", got)
	}
	if f.events(t, "EndpointSlice", "add") != 3 || f.events(t, "EndpointSlice", "delete") != 3 || f.events(t, "EndpointSlice", "update") != 0 {
		t.Errorf("events: add %v, delete %v, update %v; want 3, 3, 0", f.events(t, "EndpointSlice", "add"),
			f.events(t, "EndpointSlice", "delete"), f.events(t, "EndpointSlice", "update"))
	}
}

// A Kube that holds a Batcher releases it when the last store syncs.
func TestKubeStoreReleasesTheBatchWhenAllSync(t *testing.T) {
	f := newStoreFixture()
	f.k.Sink = f.zone
	f.zone.Hold()
	f.k.batch = f.zone
	svc, sl := f.k.serviceStore(), f.k.sliceStore()
	f.k.unsynced.Store(2)
	w := kubeHeadless("ns", "web")
	w.ResourceVersion = "1"
	svc.Replace([]any{w}, "1")
	if f.k.Synced() {
		t.Error("synced with one store of two")
	}
	if _, ok := f.zone.Snapshot().Service("ns", "web"); ok {
		t.Error("the held zone published before every store synced")
	}
	sl.Replace(nil, "1")
	if !f.k.Synced() {
		t.Error("not synced after both stores")
	}
	if _, ok := f.zone.Snapshot().Service("ns", "web"); !ok {
		t.Error("the zone was not released")
	}
}

// A slice whose kubernetes.io/service-name label is removed has left its
// Service: its addresses go from the Service's names, while its sibling's
// stay. (An invalid update, by contrast, keeps the previous version.)
func TestKubeStoreSliceThatLosesItsServiceLabelGoes(t *testing.T) {
	f := newStoreFixture()
	svc, sl := f.k.serviceStore(), f.k.sliceStore()
	w := kubeHeadless("ns", "web")
	w.ResourceVersion = "1"
	svc.Add(w)
	a := kubeSlice("ns", "web-a", "web", "10.0.0.1")
	a.ResourceVersion = "2"
	sl.Add(a)
	b := kubeSlice("ns", "web-b", "web", "10.0.0.2")
	b.ResourceVersion = "3"
	sl.Add(b)
	unlabelled := a.DeepCopy()
	delete(unlabelled.Labels, discoveryv1.LabelServiceName)
	unlabelled.ResourceVersion = "4"
	sl.Update(unlabelled)
	if got := zoneAddrs(f.zone, "web.ns.svc"); !slices.Equal(got, []string{"10.0.0.2"}) {
		t.Errorf("after web-a lost its service-name label, web.ns.svc = %v, want [10.0.0.2]", got)
	}
	// Labelled again, it is back; deleted while unlabelled, nothing breaks.
	relabelled := a.DeepCopy()
	relabelled.ResourceVersion = "5"
	sl.Update(relabelled)
	if got := zoneAddrs(f.zone, "web.ns.svc"); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Errorf("relabelled: web.ns.svc = %v", got)
	}
	sl.Update(unlabelled)
	sl.Delete(unlabelled)
	if got := zoneAddrs(f.zone, "web.ns.svc"); !slices.Equal(got, []string{"10.0.0.2"}) {
		t.Errorf("deleted: web.ns.svc = %v", got)
	}
}
