package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheck: one line per problem in file order, a count, and an exit
// status CI can fail on; the flags that narrow a folder narrow the check.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout []string // every line
		stderr string   // a substring
	}{
		{[]string{"--manifests", demoDir}, 0, []string{demoDir + ": 4 Services, 3 EndpointSlices, 0 problems"}, ""},
		{[]string{"--manifests", brokenDir}, 1,
			append(slices.Clone(brokenProblems), "testdata/broken: 3 Services, 1 EndpointSlice, 3 problems"), ""},
		// badip and hl-1 are in team, which is not served; the file that
		// does not parse may hold anything.
		{[]string{"--manifests", brokenDir, "--namespaces", "default"}, 1,
			[]string{brokenProblems[2], "testdata/broken: 0 Services, 1 EndpointSlice, 1 problem"}, ""},
		{[]string{"--manifests", demoDir, "--label-selector", "app=none"}, 0,
			[]string{demoDir + ": 0 Services, 3 EndpointSlices, 0 problems"}, ""},
		{[]string{"-h"}, 0, nil, "Usage: slicedns check"},
		{nil, 2, nil, "give --manifests DIR"},
		{[]string{brokenDir}, 2, nil, `unexpected argument "testdata/broken"`},
		{[]string{"--manifests", demoDir, "--label-selector", "a in ("}, 2, nil, "--label-selector"},
		{[]string{"--manifests", demoDir, "--zone", "example.org"}, 2, nil, "flag provided but not defined: -zone"},
		{[]string{"--manifests", "/nonexistent"}, 1, nil, "--manifests: manifests folder"},
	} {
		out, errOut, code := slicednsCmd(t, append([]string{"check"}, tc.args...)...)
		var lines []string
		if out != "" {
			lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		}
		if code != tc.code || !slices.Equal(lines, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("check %q: exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout %q, stderr with %q",
				tc.args, code, lines, errOut, tc.code, tc.stdout, tc.stderr)
		}
	}
}

// TestCheckWhatTheServerWouldNotServe: a folder that would serve nothing,
// and a served kind in a version not served, fail the check; v1 Endpoints
// and subfolders, which are not read, are said on stderr.
func TestCheckWhatTheServerWouldNotServe(t *testing.T) {
	web, err := os.ReadFile(filepath.Join(demoDir, "web.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	folder := func(files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, tc := range []struct {
		name   string
		files  map[string]string
		code   int
		stdout string // a line of it
		stderr string
	}{
		{"empty", nil, 1, "no Service or EndpointSlice to serve", ""},
		{"only a subfolder", map[string]string{"team/web.yaml": string(web)}, 1, "no Service or EndpointSlice to serve", "not reading a subfolder"},
		{"v1beta1 slice", map[string]string{"web.yaml": string(web), "old.yaml": "apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: web-1, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\n"},
			1, "only v1 Service and discovery.k8s.io/v1 EndpointSlice are served", ""},
		{"v1 Endpoints", map[string]string{"web.yaml": string(web), "ep.yaml": "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\n"},
			0, "0 problems", "skipping v1 Endpoints"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := slicednsCmd(t, "check", "--manifests", folder(tc.files))
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout with %q, stderr with %q", code, out, errOut, tc.code, tc.stdout, tc.stderr)
			}
			if tc.stderr == "" && errOut != "" {
				t.Errorf("stderr %q, want none", errOut)
			}
		})
	}
}
