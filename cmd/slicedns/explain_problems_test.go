package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const brokenDir = "testdata/broken"

// brokenProblems are the problems of testdata/broken, one line each, as
// explain and check word them.
var brokenProblems = []string{
	`testdata/broken/team.yaml: line 3: invalid v1 Service team/badip: cluster IP "10.96.4.300" is not an IP address`,
	`testdata/broken/team.yaml: line 15: invalid discovery.k8s.io/v1 EndpointSlice team/hl-1: endpoints[0].addresses[0]: "10.2.2.999" is not an IP address`,
	`testdata/broken/unclosed.yaml: line 3: yaml: did not find expected ',' or '}'`,
}

// TestExplainProblems: explain shows what the folder refused of the name's
// Service, instead of only "no such Service", and points at slices in the
// wrong namespace.
func TestExplainProblems(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string // whole lines of the text report, spaces squeezed
	}{
		{"badip.team.svc", []string{
			"Service no such Service in namespace team",
			"Problem " + brokenProblems[0],
			"Problem " + brokenProblems[2],
			"- Service team/badip is defined, but refused as invalid: it is not served",
		}},
		{"hl.team.svc", []string{
			"Problem " + brokenProblems[1],
			"- EndpointSlice team/hl-1 is labelled for hl, but refused as invalid: it is not served",
			"- no endpoint is served: a headless Service without EndpointSlices has no names (NXDOMAIN)",
		}},
		{"hs.team.svc", []string{
			"- no EndpointSlice in team is labelled kubernetes.io/service-name=hs; slices with that label exist in namespace default (hs-1)",
		}},
	} {
		out, _, code := explainCmd(t, "--manifests", brokenDir, tc.name)
		if code != 0 {
			t.Fatalf("explain %s: exit %d", tc.name, code)
		}
		var got []string
		for _, l := range strings.Split(out, "\n") {
			got = append(got, strings.Join(strings.Fields(l), " "))
		}
		for _, want := range tc.lines {
			if !slices.Contains(got, want) {
				t.Errorf("explain %s: no line %q in\n%s", tc.name, want, out)
			}
		}
	}
	// A Service with its slices and nothing wrong lists no file's problem.
	if m := explainJSON(t, "--manifests", demoDir, "my-db.default.svc"); m["problems"] != nil {
		t.Errorf("demo: problems %v", m["problems"])
	}
}

// TestExplainServerKept: a running server says that it serves a Service
// from its last good version because the file's definition is invalid now.
func TestExplainServerKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.yaml")
	web := "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: team}\nspec: {clusterIP: 10.96.4.10}\n"
	if err := os.WriteFile(path, []byte(web), 0o644); err != nil {
		t.Fatal(err)
	}
	inst := start(t, "--manifests", dir, "--http-explain")
	if err := os.WriteFile(path, []byte(strings.Replace(web, "10.96.4.10", "10.96.4.300", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	for deadline := time.Now().Add(5 * time.Second); m["problems"] == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("no problem explained 5 s after the invalid edit: %v", m)
		}
		time.Sleep(50 * time.Millisecond)
		out, errOut, code := explainCmd(t, "-o", "json", "--server", "http://"+inst.httpAddr, "web.team.svc")
		if code != 0 {
			t.Fatalf("explain --server: exit %d: %s", code, errOut)
		}
		m = nil
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatal(err)
		}
	}
	p := m["problems"].([]any)[0].(map[string]any)
	notes, _ := json.Marshal(m["notes"])
	if p["kind"] != "Service" || p["name"] != "web" || p["kept"] != true || !strings.Contains(p["message"].(string), path+": line 1:") ||
		!strings.Contains(string(notes), "Service team/web is served from its last good version") ||
		!strings.Contains(m["queries"].([]any)[0].(map[string]any)["answer"].([]any)[0].(string), "10.96.4.10") {
		t.Errorf("explain --server after an invalid edit: %v", m)
	}
}
