package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const demoDir = "../../testdata/demo"

// explainCmd runs `slicedns explain args...` and returns stdout, stderr and
// the exit code.
func explainCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return slicednsCmd(t, append([]string{"explain"}, args...)...)
}

// slicednsCmd runs `slicedns args...` to its end and returns stdout, stderr
// and the exit code.
func slicednsCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(slicednsBinary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// serialRE matches the SOA serial, the time of the zone's last change.
var serialRE = regexp.MustCompile(`(hostmaster\.\S+\s+)\d+`)

func unserial(s string) string { return serialRE.ReplaceAllString(s, "${1}SERIAL") }

// explainJSON runs explain -o json and decodes the output generically, so
// that every field the command prints is compared, and no other.
func explainJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := explainCmd(t, append([]string{"-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("explain %q: exit %d\n%s", args, code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(unserial(out)), &m); err != nil {
		t.Fatalf("explain %q: %v\n%s", args, err, out)
	}
	return m
}

// diffJSON reports every field where got and want differ, by path.
func diffJSON(t *testing.T, path string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %v, want an object", path, got)
			return
		}
		for _, k := range sortedKeys(w, g) {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				t.Errorf("%s.%s: missing, want %v", path, k, wv)
			case !wok:
				t.Errorf("%s.%s: unexpected %v", path, k, gv)
			default:
				diffJSON(t, path+"."+k, gv, wv)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %v", path, got, want)
			return
		}
		for i := range w {
			diffJSON(t, fmt.Sprintf("%s[%d]", path, i), g[i], w[i])
		}
	default:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
}

func sortedKeys(ms ...map[string]any) []string {
	var ks []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	slices.Sort(ks)
	return ks
}

func TestExplainDemoJSON(t *testing.T) {
	got := explainJSON(t, "--manifests", demoDir, "my-db-2.my-db.default.svc.cluster.local")
	var want map[string]any
	soa := "cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. SERIAL 7200 1800 86400 5"
	err := json.Unmarshal([]byte(`{
	  "name": "my-db-2.my-db.default.svc.cluster.local",
	  "fqdn": "my-db-2.my-db.default.svc.cluster.local.",
	  "parsed": {"zone": "cluster.local", "kind": "endpoint", "namespace": "default", "service": "my-db", "endpoint": "my-db-2"},
	  "service": {"namespace": "default", "name": "my-db", "type": "Headless", "selector": {"app": "my-db"},
	    "ports": [{"name": "cql", "protocol": "TCP", "port": 9042}], "publishNotReadyAddresses": false},
	  "slices": [{"name": "my-db-4kzvd", "addressType": "IPv4", "ports": [{"name": "cql", "protocol": "TCP", "port": 9042}],
	    "endpoints": [
	      {"addresses": ["10.42.1.10"], "hostname": "my-db-0", "name": "my-db-0", "ready": true, "serving": true, "terminating": false,
	       "node": "node-a", "zone": "zone-a", "targetRef": "Pod/my-db-0", "served": true},
	      {"addresses": ["10.42.2.11"], "hostname": "my-db-1", "name": "my-db-1", "ready": true, "serving": true, "terminating": false,
	       "node": "node-b", "zone": "zone-b", "targetRef": "Pod/my-db-1", "served": true},
	      {"addresses": ["10.42.3.12"], "hostname": "my-db-2", "name": "my-db-2", "ready": false, "serving": false, "terminating": false,
	       "node": "node-c", "zone": "zone-c", "targetRef": "Pod/my-db-2", "served": false, "reason": "ready: false"}]}],
	  "queries": [
	    {"type": "A", "rcode": "NXDOMAIN", "ttl": 5, "authority": [`+fmt.Sprintf("%q", soa)+`]},
	    {"type": "AAAA", "rcode": "NXDOMAIN", "ttl": 5, "authority": [`+fmt.Sprintf("%q", soa)+`]}],
	  "notes": ["my-db-2 is endpoint 10.42.3.12 in slice my-db-4kzvd, excluded: ready: false"]
	}`), &want)
	if err != nil {
		t.Fatal(err)
	}
	diffJSON(t, "$", got, want)
}

// endpointStates reads "address: served|reason" off explain's JSON.
func endpointStates(m map[string]any) map[string]string {
	out := map[string]string{}
	for _, s := range m["slices"].([]any) {
		s := s.(map[string]any)
		for _, e := range s["endpoints"].([]any) {
			e := e.(map[string]any)
			addrs := fmt.Sprint(e["addresses"])
			state := "excluded"
			if e["served"] == true {
				state = "served"
			}
			if r, ok := e["reason"]; ok {
				state += ": " + r.(string)
			}
			out[s["name"].(string)+" "+addrs] = state
		}
	}
	return out
}

func TestExplainFixtureReasons(t *testing.T) {
	got := endpointStates(explainJSON(t, "--manifests", "testdata/explain", "api.shop.svc"))
	want := map[string]string{
		"api-a [10.42.7.1]": "served",
		"api-a [10.42.7.2]": "excluded: ready: false (terminating)",
		"api-a [10.42.7.3]": "excluded: ready: false",
		"api-a [10.42.7.5]": "served: no hostname: named 10-42-7-5",
		"api-b [10.42.7.1]": "excluded: duplicate address: served from slice api-a",
		"api-c []":          "excluded: FQDN slice: not served in DNS",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("endpoints:\n got  %v\n want %v", got, want)
	}

	m := explainJSON(t, "--manifests", "testdata/explain", "orphan.shop.svc.cluster.local.")
	if m["serviceError"] != "no such Service in namespace shop" || m["service"] != nil {
		t.Errorf("orphan: serviceError %v, service %v", m["serviceError"], m["service"])
	}
	if got := endpointStates(m); got["orphan-1 [10.42.8.1]"] != "excluded: no Service: not served" {
		t.Errorf("orphan endpoints: %v", got)
	}

	m = explainJSON(t, "--manifests", demoDir, "my-db.shop.svc")
	if m["serviceError"] != "no such Service in namespace shop" || fmt.Sprint(m["namespacesWithService"]) != "[default]" {
		t.Errorf("wrong namespace: serviceError %v, namespacesWithService %v", m["serviceError"], m["namespacesWithService"])
	}
	m = explainJSON(t, "--manifests", demoDir, "my-db.default.svc.cluster")
	if !strings.HasPrefix(fmt.Sprint(m["parseError"]), "not in the zones") || m["parsed"] != nil {
		t.Errorf("outside the zone: parseError %v, parsed %v", m["parseError"], m["parsed"])
	}
	m = explainJSON(t, "--manifests", demoDir, "web.shop.svc")
	if got := endpointStates(m); got["web-q8m2n [10.42.5.21]"] != "excluded: ready: false (terminating)" ||
		got["web-q8m2n [10.42.4.20]"] != "served: no hostname: named 10-42-4-20" {
		t.Errorf("web endpoints: %v", got)
	}
}

func TestExplainText(t *testing.T) {
	out, _, code := explainCmd(t, "my-db.default.svc", "--manifests", demoDir) // flags may follow NAME
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour codes when stdout is not a terminal")
	}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	for _, want := range []string{
		"Name my-db.default.svc.cluster.local.",
		"Parsed Service my-db in namespace default, zone cluster.local",
		"Service default/my-db: Headless, publishNotReadyAddresses false",
		"Selector app=my-db",
		"Ports cql 9042/TCP",
		"EndpointSlice my-db-4kzvd (IPv4, ports cql 9042/TCP)",
		"ADDRESSES HOSTNAME READY SERVING TERMINATING NODE ZONE TARGET DNS",
		"10.42.1.10 my-db-0 true true false node-a zone-a Pod/my-db-0 served",
		"10.42.3.12 my-db-2 false false false node-c zone-c Pod/my-db-2 excluded: ready: false",
		"A query: NOERROR, TTL 5",
		"answer my-db.default.svc.cluster.local. 5 IN A 10.42.1.10",
		"answer my-db.default.svc.cluster.local. 5 IN A 10.42.2.11",
		"AAAA query: NOERROR, no records, TTL 5",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}
	// Columns are aligned: every row of the table starts its DNS column at
	// the same offset.
	var cols []int
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, " served"); i > 0 && strings.HasPrefix(l, "  10.") {
			cols = append(cols, i)
		} else if i := strings.Index(l, " excluded"); i > 0 {
			cols = append(cols, i)
		}
	}
	if len(cols) != 3 || cols[0] != cols[1] || cols[1] != cols[2] {
		t.Errorf("DNS column offsets %v, want 3 equal", cols)
	}
}

// TestExplainServer: --server renders what the server's GET /explain
// returns, identically to reading the same manifests locally.
func TestExplainServer(t *testing.T) {
	inst := start(t, "--manifests", demoDir, "--http-explain")
	base := "http://" + inst.httpAddr
	for _, format := range []string{"json", "text"} {
		for _, name := range []string{"my-db.default.svc.cluster.local", "_http._tcp.web.shop.svc", "nope.default.svc"} {
			remote, errOut, code := explainCmd(t, "-o", format, "--server", base, name)
			if code != 0 {
				t.Fatalf("--server: exit %d: %s", code, errOut)
			}
			local, _, _ := explainCmd(t, "-o", format, "--manifests", demoDir, name)
			if unserial(remote) != unserial(local) {
				t.Errorf("%s -o %s: --server and --manifests differ:\n%s\n---\n%s", name, format, remote, local)
			}
		}
	}
	status, body := httpGet(t, base+"/explain?name=my-db-0.my-db.default.svc")
	if status != 200 || !strings.Contains(body, `"served": true`) {
		t.Errorf("GET /explain: %d %s", status, body)
	}
	if status, _ := httpGet(t, base+"/explain"); status != 400 {
		t.Errorf("GET /explain without a name: %d, want 400", status)
	}

	// Off by default: it tells more than DNS does.
	closed := start(t, "--manifests", demoDir)
	if status, body := httpGet(t, "http://"+closed.httpAddr+"/explain?name=my-db.default.svc"); status != 404 || !strings.Contains(body, "--http-explain") {
		t.Errorf("GET /explain without --http-explain: %d %q, want 404 naming the flag", status, body)
	}
	if _, errOut, code := explainCmd(t, "--server", "http://"+closed.httpAddr, "my-db.default.svc"); code != 1 || !strings.Contains(errOut, "--http-explain") {
		t.Errorf("explain --server without --http-explain: exit %d, %q", code, errOut)
	}
}

// TestExplainPodRecords: explain answers pod names as a server with the
// same --pod-records does: on by default.
func TestExplainPodRecords(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		rcode string
	}{
		{nil, "NOERROR"},
		{[]string{"--pod-records", "disabled"}, "NXDOMAIN"},
	} {
		got := explainJSON(t, append(append([]string{"--manifests", demoDir}, tc.args...), "10-42-0-12.default.pod.cluster.local")...)
		q := got["queries"].([]any)[0].(map[string]any)
		if q["rcode"] != tc.rcode {
			t.Errorf("explain %q: A %v, want %s", tc.args, q["rcode"], tc.rcode)
		}
	}
}

func TestExplainExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--manifests", demoDir, "nope.default.svc"}, 0, ""}, // NXDOMAIN is explained, not an error
		{[]string{"-h"}, 0, ""},
		{[]string{"--manifests", demoDir}, 2, "want exactly one NAME"},
		{[]string{"--manifests", demoDir, "a", "b"}, 2, "want exactly one NAME"},
		{[]string{"--manifests", demoDir, "-o", "yaml", "a"}, 2, `-o "yaml"`},
		{[]string{"--manifests", demoDir, "--server", "http://127.0.0.1:1", "a"}, 2, "exclusive"},
		{[]string{"--server", "http://127.0.0.1:1", "--zone", "x", "a"}, 2, "--zone, --ttl and --pod-records"},
		{[]string{"--server", "http://127.0.0.1:1", "--pod-records", "disabled", "a"}, 2, "are the server's own"},
		{[]string{"--manifests", demoDir, "--pod-records", "verified", "a"}, 2, `--pod-records "verified"`},
		{[]string{"--server", "http://127.0.0.1:1", "--timeout", "2s", "a"}, 1, "connection refused"},
		{[]string{"--manifests", "/nonexistent", "a"}, 1, "--manifests"},
	}
	for _, tc := range tests {
		_, errOut, code := explainCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("explain %q: exit %d, stderr %q; want %d, %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
}
