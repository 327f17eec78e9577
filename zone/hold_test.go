package zone_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/slicedns/slicedns/zone"
)

// everything renders every name a zone could hold of the fixture's, and
// the PTR targets of its addresses, for comparing two zones.
func everything(s *zone.Snapshot) map[string]string {
	out := map[string]string{}
	for _, svc := range []string{"my-db", "my-service", "dual", "kubernetes", "quiet", "ext", "fqdn", "empty", "cold", "ghost", "web"} {
		for _, ns := range []string{"default", "other"} {
			base := svc + "." + ns + ".svc"
			for _, prefix := range []string{"", "my-db-0.", "my-db-1.", "my-db-2.", "10-42-0-12.", "10-42-0-15.", "web-0.",
				"10-42-2-2.", "2001-db8--.", "_cql._tcp.", "_tcp.", "_http._tcp.", "_https._tcp.", "cold-0.", "ghost-0."} {
				out[prefix+base] = render(s, prefix+base)
			}
		}
	}
	// The namespaces' and the zone's empty non-terminals.
	for _, name := range []string{"svc", "default.svc", "other.svc", "nope.svc"} {
		out[name] = render(s, name)
	}
	for _, ip := range []string{"10.42.1.10", "10.42.0.12", "10.42.2.1", "2001:db8::1", "10.96.0.1", "fd00::1", "10.96.1.1", "192.168.0.10", "10.42.4.1"} {
		var names []string
		for _, n := range s.LookupAddr(netip.MustParseAddr(ip)) {
			names = append(names, n.Name())
		}
		out["PTR "+ip] = fmt.Sprint(names)
	}
	out["stats"] = fmt.Sprint(s.Stats())
	return out
}

// A zone loaded between Hold and Release answers exactly as one loaded
// write by write, and readers see nothing of it until Release.
func TestHoldRelease(t *testing.T) {
	want := everything(fixture(t).Snapshot())

	z := zone.New()
	feed(t, z, headless("default", "my-db"), slice("default", "my-db-abc", "my-db", zone.IPv4, cql, ep("old-0", true, "10.42.1.99")))
	before := z.Snapshot()
	z.Hold()
	z.Hold()
	// Replays the fixture's objects into z: the held zone must end the same.
	for _, o := range fixtureObjects(t) {
		feed(t, z, o)
	}
	z.DeleteService("default", "never")
	if z.Snapshot() != before || render(z.Snapshot(), "old-0.my-db.default.svc") != "A 10.42.1.99" {
		t.Fatal("a held write was published")
	}
	// Holds nest (two sources loading at once): the first Release
	// publishes nothing.
	z.Release()
	if z.Snapshot() != before {
		t.Fatal("the first of two Releases published the batch")
	}
	z.Release()
	z.Release() // one too many: nothing to do
	got := everything(z.Snapshot())
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q after Hold/Release, %q written one by one", k, got[k], w)
		}
	}
	if render(z.Snapshot(), "old-0.my-db.default.svc") != "NXDOMAIN" {
		t.Error("the name the batch replaced still resolves")
	}
	if n := z.Snapshot().LookupAddr(netip.MustParseAddr("10.42.1.99")); len(n) != 0 {
		t.Errorf("the address the batch replaced still has PTR targets: %v", n)
	}
	// Writes after Release are published one by one again.
	feed(t, z, clusterIP("default", "late", "10.96.9.9"))
	if render(z.Snapshot(), "late.default.svc") != "A 10.96.9.9" {
		t.Error("a write after Release was not published")
	}
}

// Holding an empty zone builds its map in place; the result is the same.
func TestHoldReleaseEmptyZone(t *testing.T) {
	want := everything(fixture(t).Snapshot())
	z := zone.New()
	empty := z.Snapshot()
	z.Hold()
	for _, o := range fixtureObjects(t) {
		feed(t, z, o)
	}
	z.DeleteSlice("default", "ghost-1")
	feed(t, z, slice("default", "ghost-1", "ghost", zone.IPv4, cql, ep("ghost-0", true, "10.42.4.1")))
	if z.Snapshot() != empty {
		t.Fatal("a held write was published")
	}
	z.Release()
	got := everything(z.Snapshot())
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q after Hold/Release, %q written one by one", k, got[k], w)
		}
	}
	if empty.Stats() != (zone.Stats{}) || render(empty, "my-db.default.svc") != "NXDOMAIN" {
		t.Error("building in place changed the empty snapshot")
	}
	// Later writes copy, as usual, and leave the released snapshot alone.
	released := z.Snapshot()
	z.DeleteService("default", "my-db")
	if render(released, "my-db.default.svc") == "NXDOMAIN" || render(z.Snapshot(), "my-db.default.svc") != "NXDOMAIN" {
		t.Error("a write after Release changed the released snapshot, or was lost")
	}
}

// Release builds views on several goroutines once there are enough of them,
// and the reverse index in parts once there are more than ptrChunk (8192)
// addresses; a large held load must answer as one written object by object
// (run with -race in make test). The third address of each Service is in a
// /24 shared with many others, and the same address in several Services.
func TestHoldReleaseLarge(t *testing.T) {
	const services = 3000
	var objs []any
	for i := range services {
		name := fmt.Sprintf("s%d", i)
		objs = append(objs, headless("big", name), slice("big", name+"-1", name, zone.IPv4, cql,
			ep("p-0", true, largeAddr(i, 1)), ep("", true, largeAddr(i, 2)), ep("", true, sharedAddr(i))))
	}
	plain := build(t, objs...).Snapshot()
	z := zone.New()
	z.Hold()
	feed(t, z, objs...)
	z.Release()
	held := z.Snapshot()
	for i := range services {
		dashed := zone.EndpointName("", netip.MustParseAddr(largeAddr(i, 2)))
		for _, name := range []string{"s%d.big.svc", "p-0.s%d.big.svc", dashed + ".s%d.big.svc", "_cql._tcp.s%d.big.svc"} {
			n := fmt.Sprintf(name, i)
			if got, want := render(held, n), render(plain, n); got != want {
				t.Fatalf("%s: %q held, %q written one by one", n, got, want)
			}
		}
		for _, a := range []string{largeAddr(i, 1), largeAddr(i, 2), sharedAddr(i)} {
			ip := netip.MustParseAddr(a)
			got, want := fmt.Sprint(names(held.LookupAddr(ip))), fmt.Sprint(names(plain.LookupAddr(ip)))
			if got != want || want == "[]" {
				t.Fatalf("PTR %v: %s held, %s written one by one", ip, got, want)
			}
		}
	}
	if held.Stats() != plain.Stats() {
		t.Errorf("stats %+v held, %+v written one by one", held.Stats(), plain.Stats())
	}
}

// largeAddr is address k of Service i in TestHoldReleaseLarge.
func largeAddr(i, k int) string { return fmt.Sprintf("10.%d.%d.%d", 7+i/200, i%200, k) }

// sharedAddr is the third address of Service i in TestHoldReleaseLarge:
// one of 1,000 addresses in four /24s.
func sharedAddr(i int) string { return fmt.Sprintf("10.250.%d.%d", i%4, i%250) }

func names(ns []zone.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name())
	}
	return out
}
