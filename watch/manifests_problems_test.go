package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// problemString is a Problem in a form a table can hold: file name, line,
// object, kept, and the error's last words.
func problemString(p Problem) string {
	obj := "-"
	if p.Kind != "" {
		obj = p.Kind + " " + p.Namespace + "/" + p.Name
		if p.Service != "" {
			obj += " of " + p.Service
		}
	}
	return fmt.Sprintf("%s:%d %s kept=%t", filepath.Base(p.File), p.Line, obj, p.Kept)
}

// Problems and ServiceProblems name each problem's file, line and object,
// and tell what is served in its place, so that explain can show the ones
// that bear on a name.
func TestManifestsProblems(t *testing.T) {
	badSlice := strings.Replace(headlessSlice("10.0.0.300"), "name: db-1", "name: db-2", 1)
	for _, tc := range []struct {
		name         string
		first, files map[string]string // loaded in turn
		all          []string          // Problems
		ns, svc      string
		of           []string // ServiceProblems(ns, svc)
	}{
		{name: "clean", files: map[string]string{"a.yaml": headlessSlice("10.0.0.7")},
			ns: "shop", svc: "db"},
		{name: "invalid Service and slice, never served",
			files: map[string]string{"a.yaml": service("web", "10.96.0.300"), "b.yaml": badSlice},
			all:   []string{"a.yaml:1 Service default/web kept=false", "b.yaml:8 EndpointSlice shop/db-2 of db kept=false"},
			ns:    "shop", svc: "db",
			of: []string{"b.yaml:8 EndpointSlice shop/db-2 of db kept=false"}},
		{name: "invalid edit keeps the last good version",
			first: map[string]string{"a.yaml": service("web", "10.96.0.1")},
			files: map[string]string{"a.yaml": service("web", "10.96.0.300")},
			all:   []string{"a.yaml:1 Service default/web kept=true"},
			ns:    "default", svc: "web",
			of: []string{"a.yaml:1 Service default/web kept=true"}},
		{name: "a file that stops parsing serves its last good content",
			first: map[string]string{"a.yaml": headlessSlice("10.0.0.7"), "b.yaml": service("web", "10.96.0.1")},
			files: map[string]string{"a.yaml": "kind: [\n", "b.yaml": service("web", "10.96.0.1")},
			all:   []string{"a.yaml:1 - kept=true"},
			ns:    "shop", svc: "db",
			of: []string{"a.yaml:1 Service shop/db kept=true"}},
		{name: "a file that never parsed may define anything",
			files: map[string]string{"a.yaml": "kind: [\n", "b.yaml": badSlice},
			all:   []string{"a.yaml:1 - kept=false", "b.yaml:8 EndpointSlice shop/db-2 of db kept=false"},
			ns:    "default", svc: "web",
			of: []string{"a.yaml:1 - kept=false"}},
		// The slice still serves db, at its last good version: db's
		// explanation must say why, as well as other's.
		{name: "an invalid relabelling edit keeps serving the old Service",
			first: map[string]string{"a.yaml": headlessSlice("10.0.0.7")},
			files: map[string]string{"a.yaml": strings.Replace(headlessSlice("10.0.0.300"), "service-name: db}", "service-name: other}", 1)},
			all:   []string{"a.yaml:8 EndpointSlice shop/db-1 of other kept=true"},
			ns:    "shop", svc: "db",
			of: []string{"a.yaml:8 EndpointSlice shop/db-1 of other kept=true"}},
		// Without its kind it may be the Service: explain shows it there,
		// as a problem of no known kind.
		{name: "a document without kind is shown for the Service of its name",
			files: map[string]string{"a.yaml": "apiVersion: v1\nmetadata: {name: web, namespace: team}\n"},
			all:   []string{"a.yaml:1 - kept=false"},
			ns:    "team", svc: "web",
			of: []string{"a.yaml:1 - kept=false"}},
		{name: "an undecodable slice is still its Service's",
			files: map[string]string{"a.yaml": strings.Replace(badSlice, "endpoints:", "endpoints: 7\nx:", 1)},
			all:   []string{"a.yaml:8 EndpointSlice shop/db-2 of db kept=false"},
			ns:    "shop", svc: "db",
			of: []string{"a.yaml:8 EndpointSlice shop/db-2 of db kept=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := newFixture(t, dir)
			for _, files := range []map[string]string{tc.first, tc.files} {
				if files == nil {
					continue
				}
				for name, content := range files {
					writeFile(t, filepath.Join(dir, name), content)
				}
				f.load(t)
			}
			var all, of []string
			for _, p := range f.m.Problems() {
				all = append(all, problemString(p))
				if !strings.HasPrefix(p.Err.Error(), p.File+": ") || strings.Contains(p.Err.Error(), "\n") {
					t.Errorf("error %q: want one line starting with the file", p.Err)
				}
			}
			for _, p := range f.m.ServiceProblems(tc.ns, tc.svc) {
				of = append(of, problemString(p))
			}
			if !slices.Equal(all, tc.all) {
				t.Errorf("Problems:\n got  %q\n want %q", all, tc.all)
			}
			if !slices.Equal(of, tc.of) {
				t.Errorf("ServiceProblems(%s, %s):\n got  %q\n want %q", tc.ns, tc.svc, of, tc.of)
			}
			if (f.m.Err() == nil) != (len(tc.all) == 0) {
				t.Errorf("Err = %v with %d problems", f.m.Err(), len(tc.all))
			}
		})
	}
}

// A file that cannot be read is named first, as every other problem is.
func TestManifestsProblemUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	f, path := loadedFile(t, service("web", "10.96.0.1"))
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	f.load(t)
	ps := f.m.Problems()
	if len(ps) != 1 || ps[0].Err.Error() != path+": cannot read: permission denied" || !ps[0].Kept || ps[0].Line != 0 {
		t.Errorf("Problems = %+v, want one unreadable file, its last good content kept", ps)
	}
	if s, sl := f.m.Served(); s != 1 || sl != 0 {
		t.Errorf("Served = %d, %d; want 1, 0", s, sl)
	}
}

// The same as root, which reads any file: a symlink loop cannot be read by
// anyone.
func TestManifestsProblemSymlinkLoop(t *testing.T) {
	f, path := loadedFile(t, service("web", "10.96.0.1"))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Base(path), path); err != nil {
		t.Fatal(err)
	}
	f.load(t)
	ps := f.m.Problems()
	if len(ps) != 1 || !strings.HasPrefix(ps[0].Err.Error(), path+": cannot read: ") || !ps[0].Kept || ps[0].Line != 0 {
		t.Errorf("Problems = %+v, want one unreadable file, its last good content kept", ps)
	}
	if s, _ := f.m.Served(); s != 1 {
		t.Errorf("%d Services served, want the last good one", s)
	}
}
