package zone_test

import (
	"slices"
	"testing"
	"time"

	"github.com/slicedns/slicedns/zone"
)

// TestAllYieldsEveryNameWithRecords checks All against Lookup: each name it
// yields is the node Lookup finds, and it yields every name that holds
// records and nothing else.
func TestAllYieldsEveryNameWithRecords(t *testing.T) {
	ext := &zone.Service{Namespace: "ops", Name: "mail", Type: zone.ExternalName, ExternalName: "mail.example.com"}
	z := build(t,
		headless("default", "db"),
		slice("default", "db-a", "db", zone.IPv4, cql, ep("db-0", true, "10.0.0.1"), ep("db-1", false, "10.0.0.2")),
		slice("default", "db-b", "db", zone.IPv6, cql, ep("db-0", true, "fd00::1")),
		clusterIP("default", "web", "10.96.0.10"),
		headless("default", "empty"), // no ready endpoints: publishes nothing
		ext,
	)
	snap := z.Snapshot()
	var got []string
	for n := range snap.All() {
		name := n.Name()
		if found, ok := snap.Lookup(name); !ok || found != n {
			t.Errorf("All yielded %q, which Lookup finds as %v, %v", name, found, ok)
		}
		if n.Empty() {
			t.Errorf("All yielded %q, which holds no records", name)
		}
		got = append(got, name)
	}
	slices.Sort(got)
	want := []string{
		"_cql._tcp.db.default.svc",
		"db-0.db.default.svc",
		"db.default.svc",
		"dns-version",
		"mail.ops.svc",
		"web.default.svc",
	}
	if !slices.Equal(got, want) {
		t.Errorf("All = %q\nwant  %q", got, want)
	}

	count := 0
	for range snap.All() {
		count++
		break
	}
	if count != 1 {
		t.Errorf("All went on after yield returned false (%d)", count)
	}
}

// TestSerialIncreasesOnEveryChange makes changes faster than one a second:
// each must still get a greater serial, or a secondary asking "changed since
// serial N?" within that second would be told no.
func TestSerialIncreasesOnEveryChange(t *testing.T) {
	z := build(t, headless("default", "db"))
	prev := z.Snapshot().Serial()
	if now := uint32(time.Now().Unix()); prev < now-5 || prev > now+5 {
		t.Fatalf("first serial %d, clock %d", prev, now)
	}
	for i := range 50 {
		feed(t, z, slice("default", "s", "db", zone.IPv4, cql, ep("db-0", true, "10.0.0.1"), ep("db-1", i%2 == 0, "10.0.0.2")))
		s := z.Snapshot().Serial()
		if int32(s-prev) <= 0 {
			t.Fatalf("change %d: serial %d after %d", i, s, prev)
		}
		prev = s
	}

	// A held batch publishes one snapshot, with one new serial.
	z.Hold()
	feed(t, z, headless("default", "a"), headless("default", "b"))
	if s := z.Snapshot().Serial(); s != prev {
		t.Errorf("held writes changed the published serial: %d, was %d", s, prev)
	}
	z.Release()
	if s := z.Snapshot().Serial(); int32(s-prev) <= 0 {
		t.Errorf("after Release: serial %d, was %d", s, prev)
	}

	// A write that changes nothing publishes nothing, so keeps the serial.
	prev = z.Snapshot().Serial()
	feed(t, z, headless("default", "a"))
	if s := z.Snapshot().Serial(); s != prev {
		t.Errorf("an unchanged Service moved the serial from %d to %d", prev, s)
	}
}
