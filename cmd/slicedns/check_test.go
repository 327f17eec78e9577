package main

import (
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
