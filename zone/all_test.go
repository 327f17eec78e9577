package zone_test

import (
	"slices"
	"testing"

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
