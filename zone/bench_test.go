package zone_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/slicedns/slicedns/zone"
)

// perService is the size of every Service in the benchmark zones, so that
// the two zone sizes differ only in how many Services there are: an update
// should cost the same in both.
const perService = 100

// bigZone returns a zone of total ready endpoints in Services of perService
// endpoints each, named svc-<i>.bench, one slice apiece.
func bigZone(b *testing.B, total int) *zone.Zone {
	b.Helper()
	z := zone.New()
	for i := range total / perService {
		name := fmt.Sprintf("svc-%d", i)
		feed(b, z, headless("bench", name), benchSlice(name, i, false))
	}
	return z
}

// benchSlice is Service i's slice; flip marks its last endpoint not ready, so
// that alternating versions really change what the Service publishes.
func benchSlice(svc string, i int, flip bool) *zone.Slice {
	eps := make([]zone.Endpoint, perService)
	for j := range eps {
		eps[j] = ep(fmt.Sprintf("pod-%d", j), true, fmt.Sprintf("10.%d.%d.%d", i/250, i%250, j+1))
	}
	eps[perService-1].Ready = !flip
	return slice("bench", svc+"-1", svc, zone.IPv4, cql, eps...)
}

func BenchmarkLookup(b *testing.B) {
	s := bigZone(b, 100_000).Snapshot()
	for _, name := range []string{
		"svc-500.bench.svc",
		"pod-42.svc-500.bench.svc",
		"_cql._tcp.svc-500.bench.svc",
		"nope.svc-500.bench.svc",
	} {
		if _, ok := s.Lookup(name); !ok != (name[:4] == "nope") {
			b.Fatalf("Lookup(%q) = %v", name, ok)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Lookup(name)
			}
		})
	}
}

func BenchmarkUpsertSlice(b *testing.B) {
	for _, total := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("zone=%dk", total/1000), func(b *testing.B) {
			z := bigZone(b, total)
			versions := [2]*zone.Slice{benchSlice("svc-3", 3, true), benchSlice("svc-3", 3, false)}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := z.UpsertSlice(versions[i&1]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(perService), "endpoints/op")
		})
	}
}

func BenchmarkLookupAddr(b *testing.B) {
	s := bigZone(b, 100_000).Snapshot()
	ip := netip.MustParseAddr("10.2.0.42") // svc-500's pod-41
	if len(s.LookupAddr(ip)) != 1 {
		b.Fatalf("LookupAddr(%v) = %v", ip, s.LookupAddr(ip))
	}
	b.ReportAllocs()
	for b.Loop() {
		s.LookupAddr(ip)
	}
}
