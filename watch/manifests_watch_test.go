package watch

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slicedns/slicedns/zone"
)

// stayResolvable fails the test if name ever stops resolving until the test
// ends: the folder changes must never drop a query for a name that is
// served before and after.
func stayResolvable(t *testing.T, f *fixture, name string) {
	t.Helper()
	var stop atomic.Bool
	done := make(chan int)
	go func() {
		misses := 0
		for !stop.Load() {
			if _, ok := f.zone.Snapshot().Lookup(name); !ok {
				misses++
			}
			time.Sleep(100 * time.Microsecond)
		}
		done <- misses
	}()
	t.Cleanup(func() {
		stop.Store(true)
		if misses := <-done; misses > 0 {
			t.Errorf("%s failed to resolve %d times", name, misses)
		}
	})
}

func TestManifestsWatch(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	writeFile(t, path("keep.yaml"), service("keep", "10.96.0.100"))
	f := newFixture(t, dir)
	f.load(t)
	f.run(t)
	stayResolvable(t, f, "keep.default.svc")
	serves := func(name string, want ...string) func() bool {
		return func() bool { return slices.Equal(f.addrs(name+".default.svc"), want) }
	}
	gone := func(name string) func() bool {
		return func() bool { return f.addrs(name+".default.svc") == nil }
	}

	writeFile(t, path("a.yaml"), service("a", "10.96.0.1"))
	waitFor(t, "a new file to serve", serves("a", "10.96.0.1"))

	writeFile(t, path("a.yaml"), service("a", "10.96.0.2"))
	waitFor(t, "an edit to show", serves("a", "10.96.0.2"))

	// Editors write a temporary file and rename it into place.
	writeFile(t, path("b.yaml.tmp"), service("b", "10.96.0.3"))
	if err := os.Rename(path("b.yaml.tmp"), path("b.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a file renamed into place to serve", serves("b", "10.96.0.3"))
	stayResolvable(t, f, "b.default.svc")

	writeFile(t, path(".b.yaml.swp"), service("b", "10.96.0.4"))
	if err := os.Rename(path(".b.yaml.swp"), path("b.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a file renamed over another to serve", serves("b", "10.96.0.4"))

	if err := os.Remove(path("a.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a removed file to stop serving", gone("a"))

	// A mounted ConfigMap: files are symlinks through "..data", which the
	// kubelet swaps to a new hidden folder in one rename.
	configMap := func(version, ip string) {
		t.Helper()
		if err := os.Mkdir(path(version), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(path(version), "c.yaml"), service("c", ip))
		if err := os.Symlink(version, path("..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path("..data_tmp"), path("..data")); err != nil {
			t.Fatal(err)
		}
	}
	configMap("..2024_01_01_00_00_00.1", "10.96.0.5")
	if err := os.Symlink(filepath.Join("..data", "c.yaml"), path("c.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a ConfigMap file to serve", serves("c", "10.96.0.5"))
	configMap("..2024_01_01_00_00_00.2", "10.96.0.6")
	if err := os.RemoveAll(path("..2024_01_01_00_00_00.1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a ConfigMap update to show", serves("c", "10.96.0.6"))

	if got := f.addrs("b.default.svc"); !slices.Equal(got, []string{"10.96.0.4"}) {
		t.Errorf("b = %v after unrelated changes", got)
	}
}

func TestManifestsEditTouchesOnlyWhatChanged(t *testing.T) {
	dir := t.TempDir()
	three := func(ip2, comment string) string {
		return comment + "\n" + service("s1", "10.96.0.1") + "---\n" + service("s2", ip2) + "---\n" + service("s3", "10.96.0.3")
	}
	writeFile(t, filepath.Join(dir, "three.yaml"), three("10.96.0.2", "# first"))
	f := newFixture(t, dir)
	f.load(t)
	f.run(t)
	f.sink.take()

	// Comments move every line; only s2's content changes.
	writeFile(t, filepath.Join(dir, "three.yaml"), three("10.96.0.22", "# second\n#"))
	waitFor(t, "the edit to show", func() bool { return slices.Equal(f.addrs("s2.default.svc"), []string{"10.96.0.22"}) })
	f.load(t) // waits for any load in progress to finish
	if calls := f.sink.take(); !slices.Equal(calls, []string{"upsert Service default/s2"}) {
		t.Errorf("applied %v, want only s2", calls)
	}

	// Renaming a file moves its objects to another file: nothing to apply.
	if err := os.Rename(filepath.Join(dir, "three.yaml"), filepath.Join(dir, "renamed.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rename to be loaded", func() bool {
		f.m.mu.Lock()
		defer f.m.mu.Unlock()
		_, ok := f.m.files["renamed.yaml"]
		return ok && len(f.m.files) == 1
	})
	if calls := f.sink.take(); len(calls) != 0 {
		t.Errorf("renaming a file applied %v", calls)
	}
}

// A file read between truncate and write looks empty; it must not take its
// Services away for that instant. Emptied on purpose, it does.
func TestManifestsEmptyFileIsARewriteUntilItSettles(t *testing.T) {
	f, path := loadedFile(t, service("a", "10.96.0.1"))
	writeFile(t, path, "")
	f.load(t)
	if got := f.addrs("a.default.svc"); !slices.Equal(got, []string{"10.96.0.1"}) {
		t.Fatalf("a file caught mid-rewrite took its Service away: %v", got)
	}
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	f.load(t)
	if got := f.addrs("a.default.svc"); len(got) != 0 {
		t.Fatalf("a file emptied on purpose still serves %v", got)
	}
}

// A malformed LabelSelector is Run's error, as it is Kube.Run's, rather
// than a folder that never syncs.
func TestManifestsRunBadSelector(t *testing.T) {
	m := &Manifests{Dir: t.TempDir(), Sink: zone.New(), LabelSelector: "tier in ("}
	if err := m.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "label selector") {
		t.Errorf("Run = %v, want a label selector error", err)
	}
}

// A folder given as a symlink that is swapped to another folder (a
// "current release" link, ln -sfn v2 cur): the swap shows at the next
// re-read, and from then on edits in the new folder show within a second,
// not at each re-read, while edits in the old one change nothing.
func TestManifestsWatchSwappedFolderLink(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	v1, v2, cur := filepath.Join(root, "v1"), filepath.Join(root, "v2"), filepath.Join(root, "cur")
	for _, d := range []string{v1, v2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(v1, "a.yaml"), service("a", "10.96.0.1"))
	writeFile(t, filepath.Join(v2, "a.yaml"), service("a", "10.96.0.2"))
	if err := os.Symlink("v1", cur); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, cur)
	f.load(t)
	f.run(t)
	serves := func(ip string) func() bool {
		return func() bool { return slices.Equal(f.addrs("a.default.svc"), []string{ip}) }
	}
	// An edit in v1 shows once Run watches it; only then swap.
	writeFile(t, filepath.Join(v1, "a.yaml"), service("a", "10.96.0.4"))
	waitFor(t, "an edit in v1", serves("10.96.0.4"))
	// v2's file has the size and the time of v1's, as tar, rsync -a or
	// cp -a would leave it: only reading it tells them apart.
	fi, err := os.Stat(filepath.Join(v1, "a.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(v2, "a.yaml"), fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("v2", cur+".new"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(cur+".new", cur); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2*manifestsResync + time.Second)
	for !serves("10.96.0.2")() {
		if time.Now().After(deadline) {
			t.Fatalf("the swapped link was not followed: a.default.svc = %v", f.addrs("a.default.svc"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The re-read that found the swap re-watched before loading.
	writeFile(t, filepath.Join(v2, "a.yaml"), service("a", "10.96.0.3"))
	start := time.Now()
	for !serves("10.96.0.3")() {
		if time.Since(start) > manifestsResync/2 {
			t.Fatalf("an edit in the new folder waited for a re-read: a.default.svc = %v", f.addrs("a.default.svc"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
