package zone_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/slicedns/slicedns/zone"
)

func TestLookupPod(t *testing.T) {
	for _, tc := range []struct{ rel, want string }{
		{"10-1-2-3.default.pod", "10.1.2.3"},
		{"2001-db8--1.default.pod", "2001:db8::1"},
		{"pod", "ENT"},
		{"default.pod", "ENT"},
		{"10-1-2.default.pod", "NXDOMAIN"},
		{"a.10-1-2-3.default.pod", "NXDOMAIN"},
		{"db.default.svc", "not a pod name"},
	} {
		n, exists, isPod := zone.LookupPod(tc.rel)
		got := "not a pod name"
		switch {
		case isPod && !exists:
			got = "NXDOMAIN"
		case isPod && n.Empty():
			got = "ENT"
		case isPod:
			got = strings.Join(slices.Collect(func(yield func(string) bool) {
				for a := range n.A().All() {
					yield(a.String())
				}
				for a := range n.AAAA().All() {
					yield(a.String())
				}
			}), " ")
		}
		if got != tc.want {
			t.Errorf("LookupPod(%q) = %q, want %q", tc.rel, got, tc.want)
		}
	}
}

// FuzzPodIPv4: the fast path's allocation-free parse agrees with LookupPod
// on every name: the same IPv4 address, or no IPv4 address.
func FuzzPodIPv4(f *testing.F) {
	for _, s := range []string{"10-1-2-3.default.pod", "010-1-2-3.default.pod", "1-2-3-256.ns.pod", "1-2-3.ns.pod",
		"1-2-3-4-5.ns.pod", "2001-db8--1.ns.pod", "a.1-2-3-4.ns.pod", "1-2-3-4..pod", "1-2-3-4.ns.svc", "-1-2-3.ns.pod"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		ip, ok := zone.PodIPv4(rel)
		n, exists, isPod := zone.LookupPod(rel)
		want := isPod && exists && n.A().Len() == 1
		if ok != want || (ok && n.A().At(0).As4() != ip) {
			t.Errorf("%q: PodIPv4 = %v, %v; LookupPod's A = %v", rel, ip, ok, n.A().Slice())
		}
	})
}
