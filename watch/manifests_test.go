package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/slicedns/slicedns/zone"
)

func TestManifestsFormats(t *testing.T) {
	f := newFixture(t, "testdata/manifests/formats")
	if f.m.Synced() {
		t.Fatal("Synced before Load")
	}
	f.load(t)
	if !f.m.Synced() {
		t.Fatal("not Synced after Load")
	}
	// A served kind in a version not served is a mistake to fix, not a
	// kind DNS does not use: the one problem of the folder.
	if p := f.m.Problems(); len(p) != 1 || !strings.Contains(p[0].Err.Error(), "invalid discovery.k8s.io/v1beta1 EndpointSlice default/beta-1: apiVersion discovery.k8s.io/v1beta1: only v1 Service and discovery.k8s.io/v1 EndpointSlice are served") {
		t.Fatalf("Problems = %v, want the v1beta1 slice's alone", p)
	}

	for _, tc := range []struct {
		name string
		want []string // nil: the name does not exist
	}{
		{"db.shop.svc", []string{"10.0.0.7"}},                   // multi-document YAML, Namespace accepted
		{"db-0.db.shop.svc", []string{"10.0.0.7"}},              // slice from the same file
		{"web.default.svc", []string{"10.96.0.10"}},             // no namespace: default
		{"api.default.svc", []string{"10.96.0.20", "fd00::20"}}, // kind: List
		{"cache.other.svc", []string{"fd00::1"}},                // JSON stream
		{"cache-0.cache.other.svc", []string{"fd00::1"}},        // second JSON value
		{"after.default.svc", []string{"10.96.0.40"}},           // after skipped kinds
		{"beta.default.svc", nil},                               // its only slice is v1beta1: skipped
		{"hidden.default.svc", nil},                             // .hidden.yaml is not read
		{"nested.default.svc", nil},                             // sub/ is not read
		{"shop.svc", []string{}},                                // namespace exists through its Service
	} {
		if got := f.addrs(tc.name); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	n, _ := f.zone.Snapshot().Lookup("_pg._tcp.db.shop.svc")
	if srv := n.SRV(); len(srv) != 1 || srv[0].Port != 5432 || n.Target(srv[0]).Name() != "db-0.db.shop.svc" {
		t.Errorf("_pg._tcp.db.shop.svc = %+v, want one SRV 5432 db-0.db.shop.svc", n)
	}

	// One line per skipped object, none for the Namespace.
	skipped := map[string]string{}
	for _, e := range f.logs.All() {
		object, _ := e.ContextMap()["object"].(string)
		if strings.HasPrefix(e.Message, "skipping") {
			skipped[object] = e.Level.String()
		}
		if strings.Contains(object+e.Message, "Namespace") {
			t.Errorf("logged about the Namespace: %s %v", e.Message, e.ContextMap())
		}
	}
	wantSkipped := map[string]string{
		"apps/v1 Deployment default/web":                        "info",
		"v1 ConfigMap default/settings":                         "info",
		"discovery.k8s.io/v1beta1 EndpointSlice default/beta-1": "warn",
	}
	if !mapsEqual(skipped, wantSkipped) {
		t.Errorf("skipped objects logged: %v, want %v", skipped, wantSkipped)
	}
	if got := f.counter("Service", "add"); got != 6 {
		t.Errorf("Service add events = %v, want 6", got)
	}
	if got := f.counter("EndpointSlice", "add"); got != 3 {
		t.Errorf("EndpointSlice add events = %v, want 3", got)
	}

	// Loading an unchanged folder again applies and logs nothing.
	f.sink.take()
	logged := f.logs.Len()
	f.load(t)
	if calls := f.sink.take(); len(calls) != 0 {
		t.Errorf("second Load applied %v", calls)
	}
	if f.logs.Len() != logged {
		t.Errorf("second Load logged %v", f.logs.All()[logged:])
	}
}

func TestManifestsInvalidObjects(t *testing.T) {
	f := newFixture(t, "testdata/manifests/invalid")
	f.load(t)
	if got := f.addrs("ok.default.svc"); !slices.Equal(got, []string{"10.0.1.1"}) {
		t.Fatalf("ok.default.svc = %v, want the valid objects served", got)
	}
	file := filepath.Join("testdata/manifests/invalid", "all.yaml")
	for _, tc := range []struct {
		object string // as logged
		line   int
		lookup string // a name that the object would have made exist
		why    string // in the logged error
	}{
		{"v1 Service default/bad-ip", 17, "bad-ip.default.svc", `"300.1.1.1" is not an IP address`},
		{"v1 Service default/no-ip", 22, "no-ip.default.svc", "without spec.clusterIP"},
		{"v1 Service default/Bad_Name", 27, "bad_name.default.svc", "not a DNS label"},
		{"v1 Service default/bad-port", 32, "bad-port.default.svc", "cannot unmarshal string"},
		{"v1 Service default/bad-external", 39, "bad-external.default.svc", "not a domain name"},
		{"discovery.k8s.io/v1 EndpointSlice default/bad-addr-1", 49, "bad-addr.default.svc", `"10.0.1.x" is not an IP address`},
		{"discovery.k8s.io/v1 EndpointSlice default/bad-host-1", 63, "bad-host.default.svc", `hostname "Not_A_Label" is not a DNS label`},
		{"discovery.k8s.io/v1 EndpointSlice default/no-label-1", 78, "no-label.default.svc", "no kubernetes.io/service-name label"},
		{"discovery.k8s.io/v1 EndpointSlice default/wrong-family-1", 91, "wrong-family.default.svc", "not a valid IPv4 address"},
		{"default/no-kind", 100, "no-kind.default.svc", "apiVersion or kind missing"},
	} {
		t.Run(tc.object, func(t *testing.T) {
			if got := f.addrs(tc.lookup); got != nil {
				t.Errorf("%s = %v, want NXDOMAIN", tc.lookup, got)
			}
			entries := f.logs.FilterMessage("skipping invalid object").FilterField(zap.String("object", tc.object)).All()
			if len(entries) != 1 {
				t.Fatalf("%d log lines for %s, want 1", len(entries), tc.object)
			}
			ctx := entries[0].ContextMap()
			if ctx["file"] != file || ctx["line"] != int64(tc.line) || !strings.Contains(ctx["error"].(string), tc.why) {
				t.Errorf("logged %v, want file %s, line %d, error containing %q", ctx, file, tc.line, tc.why)
			}
			wantErr := fmt.Sprintf("%s: line %d: invalid %s: ", file, tc.line, tc.object)
			if err := f.m.Err(); err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("Err = %v, want it to say %q", err, wantErr)
			}
		})
	}
	if got := f.counter("Service", "invalid"); got != 5 {
		t.Errorf("invalid Services = %v, want 5", got)
	}
	if got := f.counter("EndpointSlice", "invalid"); got != 4 {
		t.Errorf("invalid EndpointSlices = %v, want 4", got)
	}
}

func TestManifestsParseErrorKeepsLastGoodContent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		file      string // name in the folder
		good, bad string // fixtures
		line      int    // of the error, within the file
	}{
		{"yaml error in third document", "app.yaml", "parse-error/good.yaml", "parse-error/bad.yaml", 19},
		{"json", "app.json", "parse-error/good.json", "parse-error/bad.json", 5},
		{"document not a mapping", "app.yaml", "parse-error/good.yaml", "parse-error/not-object.yaml", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFiles(t, map[string]string{tc.file: tc.good, "other.yaml": "parse-error/other.yaml"})
			path := filepath.Join(dir, tc.file)
			f := newFixture(t, dir)
			f.load(t)
			copyFile(t, filepath.Join("testdata/manifests", tc.bad), path)
			f.sink.take()
			f.load(t)

			if calls := f.sink.take(); len(calls) != 0 {
				t.Errorf("a file that does not parse applied %v", calls)
			}
			for name, want := range map[string]string{"a.default.svc": "10.96.0.1", "other.default.svc": "10.96.0.9"} {
				if got := f.addrs(name); !slices.Equal(got, []string{want}) {
					t.Errorf("%s = %v, want %s (the last good content)", name, got, want)
				}
			}
			err := f.m.Err()
			if err == nil {
				t.Fatal("Err = nil after a parse error")
			}
			wantLine := "line " + strconv.Itoa(tc.line) + ":"
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), wantLine) {
				t.Errorf("Err = %q, want it to name %s and %q", err, path, wantLine)
			}
			logged := f.logs.FilterMessage("cannot parse manifest file; serving its last good content").All()
			if len(logged) != 1 || logged[0].ContextMap()["error"] != err.Error() {
				t.Errorf("logged %v, want one error line with %q", logged, err)
			}

			// Unchanged, the broken file is neither parsed nor logged again.
			f.load(t)
			if n := f.logs.FilterMessage("cannot parse manifest file; serving its last good content").Len(); n != 1 {
				t.Errorf("%d error lines after a reload of the same broken file, want 1", n)
			}

			// Fixed, it serves again; fixed to what it held, nothing is applied.
			copyFile(t, filepath.Join("testdata/manifests", tc.good), path)
			f.load(t)
			if err := f.m.Err(); err != nil {
				t.Errorf("Err after the fix = %v", err)
			}
			if calls := f.sink.take(); len(calls) != 0 {
				t.Errorf("restoring the last good content applied %v", calls)
			}
		})
	}

	t.Run("broken from the start", func(t *testing.T) {
		dir := copyFiles(t, map[string]string{"app.yaml": "parse-error/bad.yaml", "other.yaml": "parse-error/other.yaml"})
		f := newFixture(t, dir)
		f.load(t)
		if got := f.addrs("other.default.svc"); got == nil {
			t.Error("other files do not serve")
		}
		if got := f.addrs("a.default.svc"); got != nil {
			t.Errorf("a.default.svc = %v from a file that never parsed", got)
		}
		if err := f.m.Err(); err == nil || !strings.Contains(err.Error(), "app.yaml: line 19:") {
			t.Errorf("Err = %v", err)
		}
	})
}

func TestManifestsDuplicateAcrossFiles(t *testing.T) {
	dir := copyFiles(t, map[string]string{"10-a.yaml": "dup/10-a.yaml", "20-b.yaml": "dup/20-b.yaml"})
	f := newFixture(t, dir)
	f.load(t)
	if got := f.addrs("dup.default.svc"); !slices.Equal(got, []string{"10.96.0.2"}) {
		t.Errorf("dup = %v, want 10.96.0.2 from the later file", got)
	}
	warned := func() []observer.LoggedEntry {
		return f.logs.FilterMessage("object defined more than once; the later definition wins").All()
	}
	if w := warned(); len(w) != 1 {
		t.Fatalf("%d warnings, want 1", len(w))
	} else if ctx := w[0].ContextMap(); ctx["object"] != "Service default/dup" ||
		ctx["file"] != filepath.Join(dir, "20-b.yaml") || ctx["overrides"] != filepath.Join(dir, "10-a.yaml")+":6" {
		t.Errorf("warning %v", ctx)
	}

	// A load for another change does not repeat the warning.
	writeFile(t, filepath.Join(dir, "30-c.yaml"), service("c", "10.96.0.3"))
	f.load(t)
	if w := warned(); len(w) != 1 {
		t.Errorf("%d warnings after an unrelated change, want still 1", len(w))
	}

	// Without the later file the earlier definition serves, as an update.
	if err := os.Remove(filepath.Join(dir, "20-b.yaml")); err != nil {
		t.Fatal(err)
	}
	f.sink.take()
	f.load(t)
	if got := f.addrs("dup.default.svc"); !slices.Equal(got, []string{"10.96.0.1"}) {
		t.Errorf("dup = %v, want 10.96.0.1 once 20-b.yaml is gone", got)
	}
	if calls := f.sink.take(); !slices.Equal(calls, []string{"upsert Service default/dup"}) {
		t.Errorf("applied %v, want only the update of dup", calls)
	}
}

// A definition served, then overridden by a later file, serves again when
// that file goes: its object was handed to the zone and forgotten, so it is
// read back from its file (this crashed the process on a nil object).
func TestManifestsOverriddenDefinitionServesAgain(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), service("dup", "10.96.3.1"))
	f := newFixture(t, dir)
	f.load(t)
	for i, step := range []struct {
		do   func()
		want string
	}{
		{func() { writeFile(t, filepath.Join(dir, "b.yaml"), service("dup", "10.96.3.2")) }, "10.96.3.2"},
		{func() { os.Remove(filepath.Join(dir, "b.yaml")) }, "10.96.3.1"},
		// A copy sorting before the winner, then the winner renamed away.
		{func() { writeFile(t, filepath.Join(dir, "0.yaml"), service("dup", "10.96.3.3")) }, "10.96.3.1"},
		{func() { os.Rename(filepath.Join(dir, "a.yaml"), filepath.Join(dir, "a.txt")) }, "10.96.3.3"},
		{func() { os.Rename(filepath.Join(dir, "a.txt"), filepath.Join(dir, "a.yaml")) }, "10.96.3.1"},
		{func() { os.Remove(filepath.Join(dir, "a.yaml")) }, "10.96.3.3"},
	} {
		step.do()
		f.load(t)
		if got := f.addrs("dup.default.svc"); !slices.Equal(got, []string{step.want}) {
			t.Fatalf("step %d: dup = %v, want %s", i, got, step.want)
		}
	}
}

// If the overridden definition's file changed meanwhile, the file's new
// content is what serves.
func TestManifestsOverriddenDefinitionFileChanged(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), service("dup", "10.96.3.1"))
	f := newFixture(t, dir)
	f.load(t)
	writeFile(t, filepath.Join(dir, "b.yaml"), service("dup", "10.96.3.2"))
	f.load(t)
	// a.yaml changes and b.yaml goes in one step, as a checkout would.
	writeFile(t, filepath.Join(dir, "a.yaml"), service("dup", "10.96.3.4")+"---\n"+service("other", "10.96.3.5"))
	os.Remove(filepath.Join(dir, "b.yaml"))
	f.load(t)
	if got := f.addrs("dup.default.svc"); !slices.Equal(got, []string{"10.96.3.4"}) {
		t.Errorf("dup = %v, want 10.96.3.4", got)
	}
	if got := f.addrs("other.default.svc"); !slices.Equal(got, []string{"10.96.3.5"}) {
		t.Errorf("other = %v, want 10.96.3.5", got)
	}
}

// Many definitions uncovered at once are all served again, from one read
// of their file; and one whose file no longer parses keeps the version
// served, said once, until the file parses again.
func TestManifestsOverriddenDefinitionsInBulk(t *testing.T) {
	dir := t.TempDir()
	var a, b strings.Builder
	const n = 300
	for i := range n {
		fmt.Fprintf(&a, "%s---\n", service(fmt.Sprintf("s%d", i), fmt.Sprintf("10.96.%d.%d", 10+i/250, 1+i%250)))
		fmt.Fprintf(&b, "%s---\n", service(fmt.Sprintf("s%d", i), fmt.Sprintf("10.97.%d.%d", 10+i/250, 1+i%250)))
	}
	writeFile(t, filepath.Join(dir, "a.yaml"), a.String())
	f := newFixture(t, dir)
	f.load(t)
	writeFile(t, filepath.Join(dir, "b.yaml"), b.String())
	f.load(t)
	os.Remove(filepath.Join(dir, "b.yaml"))
	f.sink.take()
	f.load(t)
	if calls := f.sink.take(); len(calls) != n {
		t.Fatalf("%d upserts, want %d", len(calls), n)
	}
	if got := f.addrs("s299.default.svc"); !slices.Equal(got, []string{"10.96.11.50"}) {
		t.Errorf("s299 = %v, want a.yaml's 10.96.11.50", got)
	}

	// Override again, then break a.yaml and take the override away.
	writeFile(t, filepath.Join(dir, "b.yaml"), service("s0", "10.97.0.1"))
	f.load(t)
	writeFile(t, filepath.Join(dir, "a.yaml"), a.String()+"{not yaml: [")
	f.load(t)
	os.Remove(filepath.Join(dir, "b.yaml"))
	for range 3 {
		writeFile(t, filepath.Join(dir, "c.yaml"), service("unrelated", "10.98.0."+strconv.Itoa(1+len(f.sink.take()))))
		f.load(t)
	}
	if got := f.addrs("s0.default.svc"); !slices.Equal(got, []string{"10.97.0.1"}) {
		t.Errorf("s0 = %v, want the version served, 10.97.0.1", got)
	}
	if w := f.logs.FilterMessageSnippet("does not parse; the version served stays").Len(); w != 1 {
		t.Errorf("%d warnings about the unparsable file, want 1", w)
	}
	writeFile(t, filepath.Join(dir, "a.yaml"), a.String())
	f.load(t)
	if got := f.addrs("s0.default.svc"); !slices.Equal(got, []string{"10.96.10.1"}) {
		t.Errorf("s0 = %v once a.yaml parses again, want 10.96.10.1", got)
	}
}

// revive reads an applied definition back from its file, and refuses (the
// file to be read again whole) when the file holds something else now.
func TestManifestsRevive(t *testing.T) {
	f, path := loadedFile(t, service("dup", "10.96.3.1"))
	o := f.m.files["a.yaml"].objects[0]
	if o.svc != nil {
		t.Fatal("an applied object was kept in memory")
	}
	writeFile(t, path, service("dup", "10.96.3.9"))
	if f.m.revive(o, map[string][]*manifestObject{}) || f.m.files["a.yaml"].read {
		t.Errorf("revived from a changed file, or the file was not marked for reading again")
	}
	writeFile(t, path, service("dup", "10.96.3.1"))
	if !f.m.revive(o, map[string][]*manifestObject{}) || o.svc == nil || o.svc.ClusterIPs[0].String() != "10.96.3.1" {
		t.Errorf("not revived from the unchanged file: %+v", o.svc)
	}
}

// Namespaces and LabelSelector narrow a folder as they narrow a cluster:
// the selector picks Services, and the slices of the others publish nothing.
func TestManifestsFilters(t *testing.T) {
	dir := t.TempDir()
	labelled := func(ns, name, ip, tier string) string {
		return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: " + ns + ", labels: {tier: " + tier + "}}\nspec: {clusterIP: " + ip + "}\n"
	}
	writeFile(t, filepath.Join(dir, "a.yaml"), labelled("default", "front", "10.96.4.1", "front")+"---\n"+
		labelled("default", "back", "10.96.4.2", "back")+"---\n"+labelled("shop", "cart", "10.96.4.3", "front"))
	all := []string{"front.default.svc", "back.default.svc", "cart.shop.svc"}
	for _, tc := range []struct {
		namespaces []string
		selector   string
		want       []string
	}{
		{nil, "", all},
		{[]string{""}, "", all},
		{[]string{"shop"}, "", []string{"cart.shop.svc"}},
		{nil, "tier=front", []string{"front.default.svc", "cart.shop.svc"}},
		{[]string{"default"}, "tier!=front", []string{"back.default.svc"}},
	} {
		f := newFixture(t, dir)
		f.m.Namespaces, f.m.LabelSelector = tc.namespaces, tc.selector
		f.load(t)
		var got []string
		for _, name := range all {
			if f.addrs(name) != nil {
				got = append(got, name)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("namespaces %q selector %q: served %v, want %v", tc.namespaces, tc.selector, got, tc.want)
		}
	}
	f := newFixture(t, dir)
	f.m.LabelSelector = "tier in ("
	if err := f.m.Load(); err == nil {
		t.Error("a malformed selector loaded")
	}
}

func TestManifestsLoadErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file.yaml")
	writeFile(t, file, service("a", "10.96.0.1"))
	for _, tc := range []struct {
		name string
		m    *Manifests
		want string
	}{
		{"missing folder", &Manifests{Dir: filepath.Join(t.TempDir(), "nope"), Sink: zone.New()}, "no such file or directory"},
		{"a file, not a folder", &Manifests{Dir: file, Sink: zone.New()}, "not a directory"},
		{"no sink", &Manifests{Dir: t.TempDir()}, "needs a Dir and a Sink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.Load()
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Load = %v, want one line containing %q", err, tc.want)
			}
			if tc.m.Synced() {
				t.Error("Synced after a failed Load")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := tc.m.Run(ctx); err == nil {
				t.Error("Run = nil, want an error")
			}
		})
	}
}

func TestManifestsMetrics(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), `apiVersion: v1
kind: Service
metadata: {name: a}
spec: {clusterIP: None}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: a-1
  labels: {kubernetes.io/service-name: a}
  annotations: {endpoints.kubernetes.io/last-change-trigger-time: "2024-01-02T03:04:05Z"}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1]}]
`)
	f := newFixture(t, dir)
	f.metrics.lastContact.Store(0)
	f.load(t)
	if f.metrics.lastContact.Load() == 0 {
		t.Error("Load did not Touch the metrics")
	}
	programmed := func() float64 {
		return f.gather("slicedns_programming_duration_seconds", func(map[string]string) bool { return true })
	}
	if got := programmed(); got != 1 {
		t.Errorf("programming samples = %v, want 1", got)
	}
	writeFile(t, filepath.Join(dir, "a.yaml"), service("a", "10.96.0.1"))
	f.load(t)
	for _, c := range []struct {
		kind, event string
		want        float64
	}{
		{"Service", "add", 1}, {"Service", "update", 1}, {"EndpointSlice", "add", 1}, {"EndpointSlice", "delete", 1},
	} {
		if got := f.counter(c.kind, c.event); got != c.want {
			t.Errorf("%s %s events = %v, want %v", c.kind, c.event, got, c.want)
		}
	}
	if got := programmed(); got != 1 {
		t.Errorf("programming samples = %v after a Service-only change, want still 1", got)
	}
}

// batchingSink is a zone that records when it is held and released.
type batchingSink struct {
	*recordingSink
	z *zone.Zone
}

func (s batchingSink) Hold()    { s.record("hold"); s.z.Hold() }
func (s batchingSink) Release() { s.record("release"); s.z.Release() }

// An edit is published whole, and once the zone has the objects the source
// keeps only their digests.
func TestManifestsEditPublishedWhole(t *testing.T) {
	dir := t.TempDir()
	slice := func(name, ip string) string {
		return "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " + name +
			", labels: {kubernetes.io/service-name: db}}\naddressType: IPv4\nendpoints:\n- {addresses: [" + ip + "], hostname: db-0}\n"
	}
	headless := "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {clusterIP: None}\n"
	writeFile(t, filepath.Join(dir, "db.yaml"), headless+"---\n"+slice("db-a", "10.0.0.1")+"---\n"+slice("db-b", "10.0.0.2"))
	f := newFixture(t, dir)
	sink := batchingSink{f.sink, f.zone}
	f.m.Sink = sink
	f.load(t)
	if calls := sink.take(); len(calls) < 2 || calls[0] != "hold" || calls[len(calls)-1] != "release" {
		t.Errorf("initial load: %q, want it between hold and release", calls)
	}
	// The pod moves from one slice to the other in one edit.
	writeFile(t, filepath.Join(dir, "db.yaml"), headless+"---\n"+slice("db-a", "10.0.0.2")+"---\n"+slice("db-b", "10.0.0.1"))
	f.load(t)
	want := []string{"hold", "upsert EndpointSlice default/db-a", "upsert EndpointSlice default/db-b", "release"}
	if calls := sink.take(); !slices.Equal(calls, want) {
		t.Errorf("edit: %q, want %q", calls, want)
	}
	if got := f.addrs("db.default.svc"); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Errorf("db.default.svc = %v", got)
	}
	for k, o := range f.m.applied {
		if o.svc != nil || o.slice != nil {
			t.Errorf("%v: the source still holds the object the zone has", k)
		}
	}
}
