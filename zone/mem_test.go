package zone_test

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
)

// Sizes of the zone BenchmarkZoneMemory builds: 10,000 headless Services of
// 10 endpoints with hostnames and one named port, as issue 4 states them.
const (
	memServices    = 10_000
	memPerService  = 10
	memNodes       = 500 // distinct Kubernetes nodes the pods run on
	memZones       = 3   // distinct topology zones
	memTotalEPsStr = "100k"
)

// memObjects returns the API objects of Service i, as an informer delivers
// them: every string freshly decoded, none shared.
func memObjects(i int) (*corev1.Service, *discoveryv1.EndpointSlice) {
	ns := fmt.Sprintf("ns-%d", i%100)
	name := fmt.Sprintf("svc-%d", i)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Ports:     []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}},
			Selector:  map[string]string{"app": name},
		},
	}
	portName, proto, port := "http", corev1.ProtocolTCP, int32(8080)
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-abcde",
			Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Protocol: &proto, Port: &port}},
	}
	for j := range memPerService {
		k := i*memPerService + j
		host := fmt.Sprintf("%s-%d", name, j)
		node := fmt.Sprintf("node-%d", k%memNodes)
		zn := fmt.Sprintf("zone-%c", 'a'+k%memZones)
		ready := true
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.%d.%d.%d", k>>16&0xff, k>>8&0xff, k&0xff)},
			Hostname:   &host,
			NodeName:   &node,
			Zone:       &zn,
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: host},
		})
	}
	return svc, sl
}

func memZone(b *testing.B, held bool) *zone.Zone {
	z := zone.New()
	if held {
		z.Hold()
		defer z.Release()
	}
	memFill(b, z)
	return z
}

// memFill upserts the zone's Services and slices into z.
func memFill(b *testing.B, z *zone.Zone) {
	for i := range memServices {
		as, asl := memObjects(i)
		s, err := watch.ServiceFromAPI(as)
		if err != nil {
			b.Fatal(err)
		}
		sl, err := watch.SliceFromAPI(asl)
		if err != nil {
			b.Fatal(err)
		}
		if err := z.UpsertService(s); err != nil {
			b.Fatal(err)
		}
		if err := z.UpsertSlice(sl); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRelease times Release alone after a held load of the 100k zone,
// as at start-up: building every Service's view, and the reverse index.
func BenchmarkRelease(b *testing.B) {
	for range b.N {
		b.StopTimer()
		z := zone.New()
		z.Hold()
		memFill(b, z)
		runtime.GC()
		b.StartTimer()
		z.Release()
	}
}

// heap returns the live heap and the heap in use (live plus what
// fragmentation keeps from reuse), after two GCs.
func heap() (live, inUse uint64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.HeapInuse
}

// BenchmarkZoneMemory reports the live heap a zone of 100,000 endpoints holds
// per endpoint (and the heap in use, which adds fragmentation), counting the Services and slices it retains (built by watch,
// as in production). Its time is that of loading the whole zone.
func BenchmarkZoneMemory(b *testing.B) {
	for _, held := range []bool{false, true} {
		b.Run(fmt.Sprintf("endpoints=%s/held=%v", memTotalEPsStr, held), func(b *testing.B) {
			var perEndpoint, inUsePerEndpoint float64
			for b.Loop() {
				before, beforeInUse := heap()
				z := memZone(b, held)
				after, afterInUse := heap()
				if st := z.Snapshot().Stats(); st.ReadyEndpoints != memServices*memPerService {
					b.Fatalf("%d ready endpoints, want %d", st.ReadyEndpoints, memServices*memPerService)
				}
				perEndpoint = float64(int64(after)-int64(before)) / (memServices * memPerService)
				inUsePerEndpoint = float64(int64(afterInUse)-int64(beforeInUse)) / (memServices * memPerService)
				if path := os.Getenv("ZONE_HEAP_PROFILE"); path != "" {
					// The heap with the zone live, for go tool pprof
					// -sample_index=inuse_space (run with -memprofilerate=1).
					f, err := os.Create(path)
					if err != nil {
						b.Fatal(err)
					}
					if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
						b.Fatal(err)
					}
					f.Close()
				}
				runtime.KeepAlive(z)
			}
			b.ReportMetric(perEndpoint, "B/endpoint")
			b.ReportMetric(inUsePerEndpoint, "inuse-B/endpoint")
		})
	}
}
