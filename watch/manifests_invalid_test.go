package watch

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// headlessSlice is a manifest of the headless Service db in namespace shop
// and its slice db-1, whose endpoint db-0 has address ip.
func headlessSlice(ip string) string {
	return `apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  namespace: shop
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
ports: [{name: pg, port: 5432}]
endpoints:
- addresses: [` + ip + `]
  hostname: db-0
`
}

// servicePorts is a manifest of the ClusterIP Service web with one port.
func servicePorts(ip, portName, port string) string {
	return "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  clusterIP: " + ip +
		"\n  ports: [{name: " + portName + ", port: " + port + "}]\n"
}

// invalidErr checks that Err names path, object and why, and nothing else
// when only one object is wrong.
func invalidErr(t *testing.T, f *fixture, path, object, why string) {
	t.Helper()
	err := f.m.Err()
	if err == nil {
		t.Fatal("Err = nil with an invalid object in the folder")
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, object) ||
		!strings.Contains(msg, why) || strings.Contains(msg, "\n") {
		t.Errorf("Err = %q, want one line naming %s, %s and %q", msg, path, object, why)
	}
}

// An edit that makes a served object invalid keeps the version served, as
// a file that does not parse does, until the file is fixed.
func TestManifestsInvalidEditKeepsServedVersion(t *testing.T) {
	for _, tc := range []struct {
		name            string
		good, bad, next string // the file's contents in turn
		lookup          string
		want, wantNext  []string
		kind, object    string // as counted and logged
		why             string
	}{
		{"slice address", headlessSlice("10.0.0.7"), headlessSlice("10.0.0.300"), headlessSlice("10.0.0.9"),
			"db-0.db.shop.svc", []string{"10.0.0.7"}, []string{"10.0.0.9"},
			"EndpointSlice", "discovery.k8s.io/v1 EndpointSlice shop/db-1", `"10.0.0.300" is not an IP address`},
		{"service cluster IP", service("web", "10.96.0.1"), service("web", "10.96.0.300"), service("web", "10.96.0.2"),
			"web.default.svc", []string{"10.96.0.1"}, []string{"10.96.0.2"},
			"Service", "v1 Service default/web", `"10.96.0.300" is not an IP address`},
		{"service port number", servicePorts("10.96.0.1", "http", "80"), servicePorts("10.96.0.1", "http", "70000"),
			servicePorts("10.96.0.2", "http", "8080"), "web.default.svc", []string{"10.96.0.1"}, []string{"10.96.0.2"},
			"Service", "v1 Service default/web", "70000 is not a port number"},
		{"service port name", servicePorts("10.96.0.1", "http", "80"), servicePorts("10.96.0.1", "Not_A_Name", "80"),
			servicePorts("10.96.0.2", "http", "80"), "web.default.svc", []string{"10.96.0.1"}, []string{"10.96.0.2"},
			"Service", "v1 Service default/web", "Not_A_Name"},
		{"service port not a number", servicePorts("10.96.0.1", "http", "80"), servicePorts("10.96.0.1", "http", "eighty"),
			servicePorts("10.96.0.2", "http", "80"), "web.default.svc", []string{"10.96.0.1"}, []string{"10.96.0.2"},
			"Service", "v1 Service default/web", "cannot unmarshal string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, path := loadedFile(t, tc.good)
			if got := f.addrs(tc.lookup); !slices.Equal(got, tc.want) {
				t.Fatalf("%s = %v, want %v", tc.lookup, got, tc.want)
			}
			writeFile(t, path, tc.bad)
			f.sink.take()
			f.load(t)
			if calls := f.sink.take(); len(calls) != 0 {
				t.Errorf("the invalid edit applied %v", calls)
			}
			if got := f.addrs(tc.lookup); !slices.Equal(got, tc.want) {
				t.Errorf("%s = %v after the invalid edit, want the version served, %v", tc.lookup, got, tc.want)
			}
			invalidErr(t, f, path, tc.object, tc.why)
			if got := f.counter(tc.kind, "invalid"); got != 1 {
				t.Errorf("invalid %s = %v, want 1", tc.kind, got)
			}
			warned := f.logs.FilterMessage("invalid object; serving its last good version").
				FilterField(zap.String("object", tc.object))
			if warned.Len() != 1 || warned.All()[0].ContextMap()["file"] != path ||
				!strings.Contains(warned.All()[0].ContextMap()["error"].(string), tc.why) {
				t.Errorf("logged %v, want one warning naming %s and %q", warned.All(), path, tc.why)
			}

			// The same broken content again is neither logged nor counted.
			f.load(t)
			if warned.Len() != 1 || f.counter(tc.kind, "invalid") != 1 {
				t.Errorf("a reload of the unchanged file logged or counted the object again")
			}

			writeFile(t, path, tc.next)
			f.load(t)
			if got := f.addrs(tc.lookup); !slices.Equal(got, tc.wantNext) {
				t.Errorf("%s = %v after the fix, want %v", tc.lookup, got, tc.wantNext)
			}
			if err := f.m.Err(); err != nil {
				t.Errorf("Err after the fix = %v", err)
			}
		})
	}
}

// An invalid object that was never served is skipped, said, counted and
// reported until it is fixed; the rest of its file serves.
func TestManifestsInvalidNewObjectSkipped(t *testing.T) {
	f, path := loadedFile(t, service("db", "10.96.0.1")+"---\n"+service("web", "10.96.0.300"))
	if got := f.addrs("db.default.svc"); !slices.Equal(got, []string{"10.96.0.1"}) {
		t.Errorf("db = %v, want the valid object of the file served", got)
	}
	if got := f.addrs("web.default.svc"); got != nil {
		t.Errorf("web = %v, want NXDOMAIN", got)
	}
	invalidErr(t, f, path, "v1 Service default/web", "is not an IP address")
	if got := f.counter("Service", "invalid"); got != 1 {
		t.Errorf("invalid Services = %v, want 1", got)
	}
	if n := f.logs.FilterMessage("skipping invalid object").Len(); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
	writeFile(t, path, service("db", "10.96.0.1")+"---\n"+service("web", "10.96.0.2"))
	f.load(t)
	if got := f.addrs("web.default.svc"); !slices.Equal(got, []string{"10.96.0.2"}) {
		t.Errorf("web = %v after the fix, want 10.96.0.2", got)
	}
	if err := f.m.Err(); err != nil {
		t.Errorf("Err after the fix = %v", err)
	}
}

// Taking an invalid object's file away, or the object out of its file,
// deletes the version it kept serving.
func TestManifestsInvalidObjectRemoved(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(t *testing.T, path string)
	}{
		{"file removed", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"object removed", func(t *testing.T, path string) { writeFile(t, path, service("other", "10.96.0.9")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, path := loadedFile(t, headlessSlice("10.0.0.7"))
			writeFile(t, path, headlessSlice("10.0.0.300"))
			f.load(t)
			if got := f.addrs("db-0.db.shop.svc"); !slices.Equal(got, []string{"10.0.0.7"}) {
				t.Fatalf("db-0 = %v, want the version served kept", got)
			}
			tc.remove(t, path)
			f.sink.take()
			f.load(t)
			if got := f.addrs("db-0.db.shop.svc"); got != nil {
				t.Errorf("db-0 = %v, want NXDOMAIN once the object is gone", got)
			}
			if calls := f.sink.take(); !slices.Contains(calls, "delete EndpointSlice shop/db-1") {
				t.Errorf("applied %v, want the slice deleted", calls)
			}
			if err := f.m.Err(); err != nil {
				t.Errorf("Err = %v once the invalid object is gone", err)
			}
		})
	}
}

// With an object defined in two files, an invalid definition keeps what
// its own file served of it, and nothing it did not.
func TestManifestsInvalidDuplicate(t *testing.T) {
	t.Run("winner made invalid keeps its own version", func(t *testing.T) {
		f, _ := loadedFile(t, service("dup", "10.96.5.1"))
		b := filepath.Join(f.m.Dir, "b.yaml")
		writeFile(t, b, service("dup", "10.96.5.2"))
		f.load(t)
		writeFile(t, b, service("dup", "10.96.5.300"))
		f.load(t)
		if got := f.addrs("dup.default.svc"); !slices.Equal(got, []string{"10.96.5.2"}) {
			t.Errorf("dup = %v, want b.yaml's last good version, 10.96.5.2", got)
		}
		invalidErr(t, f, b, "v1 Service default/dup", "10.96.5.300")
		writeFile(t, b, service("dup", "10.96.5.3"))
		f.load(t)
		if got := f.addrs("dup.default.svc"); !slices.Equal(got, []string{"10.96.5.3"}) {
			t.Errorf("dup = %v after the fix, want 10.96.5.3", got)
		}
	})

	t.Run("invalid in another file than the one served", func(t *testing.T) {
		f, a := loadedFile(t, service("dup", "10.96.5.1"))
		b := filepath.Join(f.m.Dir, "b.yaml")
		writeFile(t, b, service("dup", "10.96.5.300"))
		f.load(t)
		if got := f.addrs("dup.default.svc"); !slices.Equal(got, []string{"10.96.5.1"}) {
			t.Errorf("dup = %v, want a.yaml's 10.96.5.1: b.yaml never served it", got)
		}
		invalidErr(t, f, b, "v1 Service default/dup", "10.96.5.300")
		// a.yaml's edits still apply, and taking the object out of it
		// deletes it: b.yaml has no version of its own to keep.
		writeFile(t, a, service("dup", "10.96.5.4"))
		f.load(t)
		if got := f.addrs("dup.default.svc"); !slices.Equal(got, []string{"10.96.5.4"}) {
			t.Errorf("dup = %v after an edit of a.yaml, want 10.96.5.4", got)
		}
		writeFile(t, a, service("other", "10.96.5.9"))
		f.load(t)
		if got := f.addrs("dup.default.svc"); got != nil {
			t.Errorf("dup = %v once a.yaml no longer defines it, want NXDOMAIN", got)
		}
	})

	// A kept version handed to the zone and forgotten cannot be read back
	// from a file that now holds an invalid one: when an override goes, the
	// version served stays, said once, and the file is not re-read over it.
	t.Run("kept version uncovered", func(t *testing.T) {
		f, a := loadedFile(t, service("dup", "10.96.5.1"))
		writeFile(t, a, service("dup", "10.96.5.300"))
		f.load(t)
		b := filepath.Join(f.m.Dir, "b.yaml")
		writeFile(t, b, service("dup", "10.96.5.2"))
		f.load(t)
		if err := os.Remove(b); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			f.load(t)
			f.m.reload(true)
		}
		if got := f.addrs("dup.default.svc"); !slices.Equal(got, []string{"10.96.5.2"}) {
			t.Errorf("dup = %v, want the version served, 10.96.5.2", got)
		}
		if n := f.logs.FilterMessageSnippet("invalid now; the version served stays").Len(); n != 1 {
			t.Errorf("%d warnings about the kept version, want 1", n)
		}
		if n := f.logs.FilterMessageSnippet("reading it again").Len(); n != 0 {
			t.Errorf("the file was taken for one changing %d times", n)
		}
		invalidErr(t, f, a, "v1 Service default/dup", "10.96.5.300")
		writeFile(t, a, service("dup", "10.96.5.4"))
		f.load(t)
		if got := f.addrs("dup.default.svc"); !slices.Equal(got, []string{"10.96.5.4"}) {
			t.Errorf("dup = %v after the fix, want 10.96.5.4", got)
		}
	})
}
