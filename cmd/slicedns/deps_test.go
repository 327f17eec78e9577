package main

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// heavyPackage matches the packages that link in Kubernetes API groups: the
// clientset and informers carry typed clients for every group, and each
// k8s.io/api group is megabytes of code, data and init work.
var heavyPackage = regexp.MustCompile(`^k8s\.io/client-go/(kubernetes|informers)(/|$)|^k8s\.io/api/`)

// TestBinaryLinksTwoAPIGroups keeps the binary to the two API groups it
// serves from (core/v1 and discovery/v1, and whatever they import): linking
// the clientset made the binary 18 MB larger and kept 8 MB more of it
// resident (issue #4). watch.NewClient is the client that avoids it.
func TestBinaryLinksTwoAPIGroups(t *testing.T) {
	allowed := goListDeps(t, "k8s.io/api/core/v1", "k8s.io/api/discovery/v1")
	var bad []string
	for _, p := range goListDeps(t, ".") {
		if heavyPackage.MatchString(p) && !slices.Contains(allowed, p) {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		t.Errorf("slicedns links %d packages of other API groups or the clientset (find the importer with `go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./cmd/slicedns`):\n%s",
			len(bad), strings.Join(bad, "\n"))
	}
}

// goListDeps returns the packages that the given ones import, transitively,
// and the packages themselves, for this build (no test files).
func goListDeps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps %v: %v\n%s", pkgs, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %v: %v", pkgs, err)
	}
	return strings.Fields(string(out))
}
