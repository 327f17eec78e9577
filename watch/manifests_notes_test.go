package watch

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zapcore"
)

// What a folder holds but does not serve is said once, at a level that
// fits: subfolders (not read, as kubectl apply -f DIR without -R) at info,
// a folder with no manifest at all and v1 Endpoints (served in a cluster
// through the mirroring controller) as warnings. A ConfigMap mount's own
// dot-folders are not worth a line.
func TestManifestsSaysWhatItDoesNotRead(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"team-a", "..data", ".git"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "team-a", "web.yaml"), service("web", "10.96.0.20"))
	f := newFixture(t, dir)
	f.load(t)
	f.load(t)
	sub := f.logs.FilterMessageSnippet("not reading a subfolder")
	if sub.Len() != 1 || sub.All()[0].ContextMap()["folder"] != filepath.Join(dir, "team-a") || sub.All()[0].Level != zapcore.InfoLevel {
		t.Errorf("subfolder lines: %v; want one, naming team-a, at info", sub.All())
	}
	if none := f.logs.FilterMessageSnippet("no manifest files").FilterLevelExact(zapcore.WarnLevel); none.Len() != 1 {
		t.Errorf("want one warning that the folder holds no manifest, got %v", none.All())
	}

	f, _ = loadedFile(t, service("ext", "10.96.0.30")+`---
apiVersion: v1
kind: Endpoints
metadata: {name: ext}
subsets: [{addresses: [{ip: 10.1.0.1}]}]
`)
	ep := f.logs.FilterMessageSnippet("skipping v1 Endpoints").FilterLevelExact(zapcore.WarnLevel)
	if ep.Len() != 1 || ep.All()[0].ContextMap()["line"] != int64(6) {
		t.Errorf("v1 Endpoints: %v; want one warning naming line 6", ep.All())
	}
	if none := f.logs.FilterMessageSnippet("no manifest files"); none.Len() != 0 {
		t.Errorf("a folder with a manifest warned it has none: %v", none.All())
	}
}

// A file that cannot be parsed says whether it left anything served: at
// the first load there is no last good content to serve.
func TestManifestsUnparsableFileSaysWhatStays(t *testing.T) {
	f, path := loadedFile(t, "kind: [\n")
	if got := f.logs.FilterMessageSnippet("cannot parse manifest file; skipped"); got.Len() != 1 {
		t.Errorf("first load of a broken file: %v", f.logs.All())
	}
	writeFile(t, path, service("web", "10.96.0.20"))
	f.load(t)
	writeFile(t, path, "kind: [\n")
	f.load(t)
	if got := f.logs.FilterMessageSnippet("cannot parse manifest file; serving its last good content"); got.Len() != 1 {
		t.Errorf("a broken edit of a served file: %v", f.logs.All())
	}
}
