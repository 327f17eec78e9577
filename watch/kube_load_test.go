package watch

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slicedns/slicedns/internal/kubetest"
)

// TestKubeAPIServerLoad syncs 1,000 headless Services of 10 endpoints each
// and logs how long that takes and what the informer caches and the zone
// hold in memory. It is not parallel, so that the timings are its own.
func TestKubeAPIServerLoad(t *testing.T) {
	c := kubetest.Require(t, kc)
	const services, endpoints, workers = 1000, 10, 8
	ns := c.Namespace(t)
	ctx := t.Context()
	svcs, eps := c.Client.CoreV1().Services(ns), c.Client.DiscoveryV1().EndpointSlices(ns)

	start := time.Now()
	work := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range work {
				name := fmt.Sprintf("s%04d", i)
				addrs := make([]string, endpoints)
				for j := range addrs {
					n := i*endpoints + j
					addrs[j] = fmt.Sprintf("10.50.%d.%d", n/256, n%256)
				}
				sl := kubeSlice(ns, name+"-x", name, addrs...)
				sl.Labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io"
				sl.Annotations = map[string]string{TriggerTimeAnnotation: time.Now().Format(time.RFC3339)}
				for j := range sl.Endpoints {
					sl.Endpoints[j].NodeName = kubePtr("node-1")
					sl.Endpoints[j].Zone = kubePtr("zone-a")
					sl.Endpoints[j].TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: fmt.Sprintf("%s-pod-%d", name, j)}
				}
				svc := kubeHeadless(ns, name)
				svc.Spec.Selector = map[string]string{"app": name}
				if _, err := svcs.Create(ctx, svc, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
				if _, err := eps.Create(ctx, sl, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range services {
		select {
		case work <- i:
		case err := <-errs:
			t.Fatal(err)
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	t.Logf("created %d Services and %d EndpointSlices in %v", services, services, time.Since(start).Round(time.Millisecond))

	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	start = time.Now()
	k := runKube(t, slicednsConfig(t, c), &Kube{})
	k.waitSynced(t)
	synced := time.Since(start)

	snap := k.zone.Snapshot()
	for i := range services {
		name := fmt.Sprintf("s%04d.%s.svc", i, ns)
		n, ok := snap.Lookup(name)
		if !ok || n.A().Len() != endpoints {
			t.Fatalf("%s: %d addresses, want %d", name, n.A().Len(), endpoints)
		}
		if _, ok := snap.Lookup(fmt.Sprintf("10-50-%d-%d.%s", (i*endpoints)/256, (i*endpoints)%256, name)); !ok {
			t.Fatalf("%s: no name for its first endpoint", name)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	st := snap.Stats()
	t.Logf("Run to Synced: %v; zone: %d Services, %d ready endpoints; heap grew by %.1f MiB (%.0f bytes per endpoint) for the informer caches and the zone",
		synced.Round(time.Millisecond), st.Services, st.ReadyEndpoints,
		float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/(1<<20),
		float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(st.ReadyEndpoints))
	runtime.KeepAlive(k)
}
