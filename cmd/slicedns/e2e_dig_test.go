package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDigDemo(t *testing.T) {
	needDig(t)
	dir := copyDemo(t)
	bigService(t, dir, 300)
	inst := start(t, "--manifests", dir)

	tests := []struct {
		name    string
		args    []string
		status  string
		answers []string // sorted data fields of the answer section
		auth    string   // a type expected in the authority section ("SOA") or ""
		extra   []string
	}{
		{name: "headless service A", args: []string{"my-service.default.svc.cluster.local", "A"},
			status: "NOERROR", answers: []string{"10.42.0.12", "10.42.0.15"}},
		{name: "per-pod name", args: []string{"my-db-0.my-db.default.svc.cluster.local", "A"},
			status: "NOERROR", answers: []string{"10.42.1.10"}},
		{name: "not-ready pod is absent", args: []string{"my-db-2.my-db.default.svc.cluster.local", "A"},
			status: "NXDOMAIN", auth: "SOA"},
		{name: "service leaves out not-ready pod", args: []string{"my-db.default.svc.cluster.local", "A"},
			status: "NOERROR", answers: []string{"10.42.1.10", "10.42.2.11"}},
		{name: "SRV per ready pod", args: []string{"_cql._tcp.my-db.default.svc.cluster.local", "SRV"},
			status:  "NOERROR",
			answers: []string{"0 50 9042 my-db-0.my-db.default.svc.cluster.local.", "0 50 9042 my-db-1.my-db.default.svc.cluster.local."},
			extra:   []string{"10.42.1.10", "10.42.2.11"}},
		{name: "AAAA of an IPv4-only name is NODATA", args: []string{"my-service.default.svc.cluster.local", "AAAA"},
			status: "NOERROR", auth: "SOA"},
		{name: "unknown service", args: []string{"nope.default.svc.cluster.local", "A"},
			status: "NXDOMAIN", auth: "SOA"},
		{name: "namespace is an empty non-terminal", args: []string{"default.svc.cluster.local", "A"},
			status: "NOERROR", auth: "SOA"},
		{name: "dashed-address name", args: []string{"10-42-0-12.my-service.default.svc.cluster.local", "A"},
			status: "NOERROR", answers: []string{"10.42.0.12"}},
		{name: "case-insensitive", args: []string{"MY-DB-1.My-Db.DEFAULT.svc.Cluster.Local", "A"},
			status: "NOERROR", answers: []string{"10.42.2.11"}},
		{name: "dns-version", args: []string{"dns-version.cluster.local", "TXT"},
			status: "NOERROR", answers: []string{`"1.1.0"`}},
		{name: "outside the zone", args: []string{"example.com", "A"}, status: "REFUSED"},
		{name: "ClusterIP service", args: []string{"web.shop.svc.cluster.local", "A"},
			status: "NOERROR", answers: []string{"10.96.0.20"}},
		{name: "ExternalName", args: []string{"payments.shop.svc.cluster.local", "CNAME"},
			status: "NOERROR", answers: []string{"payments.example.com."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := inst.dig(t, append(tt.args, "+noall", "+comments", "+answer", "+authority", "+additional")...)
			if r.status != tt.status {
				t.Fatalf("status %s, want %s\n%s", r.status, tt.status, r.raw)
			}
			if got := values(r.answer); !slices.Equal(got, tt.answers) {
				t.Errorf("answers %q, want %q\n%s", got, tt.answers, r.raw)
			}
			if tt.auth != "" && (len(r.auth) != 1 || !strings.Contains(r.auth[0], " "+tt.auth+" ")) {
				t.Errorf("authority %q, want one %s\n%s", r.auth, tt.auth, r.raw)
			}
			if tt.extra != nil && !slices.Equal(values(r.extra), tt.extra) {
				t.Errorf("additional %q, want %q", values(r.extra), tt.extra)
			}
			if !r.hasFlag("aa") && tt.status != "REFUSED" {
				t.Errorf("answer not authoritative: flags %v", r.flags)
			}
		})
	}

	t.Run("question spelling is echoed", func(t *testing.T) {
		r := inst.dig(t, "My-Service.Default.SVC.cluster.local", "A", "+noall", "+comments", "+answer")
		if len(r.answer) == 0 || !strings.HasPrefix(r.answer[0], "My-Service.Default.SVC.cluster.local.") {
			t.Fatalf("owner not echoed: %q", r.answer)
		}
	})

	t.Run("300 endpoints: UDP truncates, TCP carries all", func(t *testing.T) {
		name := "big.default.svc.cluster.local"
		udp := inst.dig(t, name, "A", "+notcp", "+ignore", "+noedns", "+noall", "+comments", "+answer")
		if !udp.hasFlag("tc") {
			t.Fatalf("UDP answer without EDNS not truncated: flags %v", udp.flags)
		}
		if len(udp.answer) == 0 || len(udp.answer) >= 300 {
			t.Errorf("UDP answer carries %d records; want a partial answer", len(udp.answer))
		}
		edns := inst.dig(t, name, "A", "+notcp", "+ignore", "+bufsize=1232", "+noall", "+comments", "+answer")
		if !edns.hasFlag("tc") || len(edns.answer) <= len(udp.answer) {
			t.Errorf("EDNS 1232: flags %v, %d records (512-byte answer had %d)", edns.flags, len(edns.answer), len(udp.answer))
		}
		tcp := inst.dig(t, name, "A", "+tcp", "+noall", "+comments", "+answer")
		if tcp.hasFlag("tc") || len(tcp.answer) != 300 {
			t.Fatalf("TCP: flags %v, %d records, want 300", tcp.flags, len(tcp.answer))
		}
		// dig's default retries over TCP on TC, as a stub resolver does.
		auto := inst.dig(t, name, "A", "+noall", "+comments", "+answer")
		if len(auto.answer) != 300 {
			t.Errorf("UDP with TCP fallback: %d records, want 300", len(auto.answer))
		}
	})

	t.Run("answers rotate; --fixed-order keeps the zone's order", func(t *testing.T) {
		// dig picks a random ID per query, and the ID picks the first of
		// the 300 addresses: ten queries starting at one address would be
		// a fixed order (or a 1-in-10^22 chance).
		// Over UDP (the fast path; the answer truncated) and TCP.
		firsts := func(inst *instance, transport string) map[string]bool {
			seen := map[string]bool{}
			for range 10 {
				r := inst.dig(t, "big.default.svc.cluster.local", "A", transport, "+ignore", "+noall", "+comments", "+answer")
				if len(r.answer) == 0 {
					t.Fatalf("%s: no records\n%s", transport, r.raw)
				}
				seen[values(r.answer[:1])[0]] = true
			}
			return seen
		}
		fixed := start(t, "--manifests", dir, "--fixed-order")
		for _, transport := range []string{"+notcp", "+tcp"} {
			if got := firsts(inst, transport); len(got) < 2 {
				t.Errorf("%s: 10 answers all started at %v", transport, got)
			}
			if got := firsts(fixed, transport); len(got) != 1 {
				t.Errorf("%s --fixed-order: answers started at %d different addresses", transport, len(got))
			}
		}
	})

	t.Run("HTTP endpoints", func(t *testing.T) {
		if code, _ := httpGet(t, "http://"+inst.httpAddr+"/readyz"); code != 200 {
			t.Errorf("/readyz = %d, want 200", code)
		}
		if code, _ := httpGet(t, "http://"+inst.httpAddr+"/healthz"); code != 200 {
			t.Errorf("/healthz = %d, want 200", code)
		}
		_, metrics := httpGet(t, "http://"+inst.httpAddr+"/metrics")
		for _, m := range []string{`slicedns_dns_requests_total{type="A"}`, `slicedns_dns_responses_total{rcode="NXDOMAIN"}`,
			"slicedns_dns_request_duration_seconds_bucket", "slicedns_zone_services 5", "slicedns_watch_events_total"} {
			if !strings.Contains(metrics, m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
	})
}

// TestDigFolderFilters: --namespaces and --label-selector narrow a folder as
// they do a cluster.
func TestDigFolderFilters(t *testing.T) {
	needDig(t)
	for _, tc := range []struct {
		args          []string
		myDB, webShop string
	}{
		{[]string{"--namespaces", "shop"}, "NXDOMAIN", "NOERROR"},
		{[]string{"--label-selector", "app=nothing"}, "NXDOMAIN", "NXDOMAIN"},
	} {
		inst := start(t, append([]string{"--manifests", copyDemo(t)}, tc.args...)...)
		if r := inst.dig(t, "my-db.default.svc.cluster.local", "A"); r.status != tc.myDB {
			t.Errorf("%q: my-db.default %s, want %s", tc.args, r.status, tc.myDB)
		}
		if r := inst.dig(t, "web.shop.svc.cluster.local", "A"); r.status != tc.webShop {
			t.Errorf("%q: web.shop %s, want %s", tc.args, r.status, tc.webShop)
		}
	}
}

// TestDigFollowsEdits changes the manifests under a running server and
// watches the answers follow.
func TestDigFollowsEdits(t *testing.T) {
	needDig(t)
	dir := copyDemo(t)
	inst := start(t, "--manifests", dir)
	name := "my-service.default.svc.cluster.local"

	waitFor := func(what string, ok func(digResult) bool) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			r := inst.dig(t, name, "A", "+noall", "+comments", "+answer")
			if ok(r) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen within 3s; last answer:\n%s\nlog:\n%s", what, r.raw, inst.logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	path := filepath.Join(dir, "my-service.yaml")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(orig), `["10.42.0.15"]`, `["10.42.0.99"]`, 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("edited address", func(r digResult) bool {
		return slices.Equal(values(r.answer), []string{"10.42.0.12", "10.42.0.99"})
	})

	// A broken edit keeps the last good content and says where it broke.
	if err := os.WriteFile(path, []byte(edited+"\n  - : [unbalanced\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	waitFor("last good content kept", func(r digResult) bool {
		return slices.Equal(values(r.answer), []string{"10.42.0.12", "10.42.0.99"})
	})
	if !strings.Contains(inst.logs.String(), "my-service.yaml") {
		t.Errorf("parse error does not name the file; log:\n%s", inst.logs)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor("removed file", func(r digResult) bool { return r.status == "NXDOMAIN" })
}

func TestBadCommandLines(t *testing.T) {
	bin := slicednsBinary(t)
	// A cluster slicedns could start watching, were the command line good.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
		code int // 2 for a bad command line, 1 for failing to serve
	}{
		{[]string{"--no-such-flag"}, "flag provided but not defined", 2},
		{[]string{"--manifests", "/nonexistent/dir", "--dns-addr", "127.0.0.1:0"}, "/nonexistent/dir", 1},
		{[]string{"--manifests", "x", "--kubeconfig", "y"}, "exclusive", 2},
		{[]string{"--log-format", "xml"}, "--log-format", 2},
		{[]string{"--ttl", "0"}, "-ttl: want whole seconds, 1 to 3600", 2},
		{[]string{"--ttl", "-1"}, "-ttl: want whole seconds, 1 to 3600", 2},
		{[]string{"--zone", "cluster..local"}, "not a domain name", 2},
		{[]string{"--zone", "a b.local"}, "not a domain name", 2},
		{[]string{"--zone", "*.local"}, "not a domain name", 2},
		{[]string{"--zone", "cluster.local", "--zone", "Cluster.Local."}, "given twice", 2},
		{[]string{"--http-addr", ""}, "must not be empty", 2},
		{[]string{"--upstream", "10.0.0.10", "--upstream-budget", "1s"}, "shorter than --upstream-timeout", 2},
		{[]string{"--upstream-max-concurrent", "0"}, "--upstream-max-concurrent", 2},
		{[]string{"--kubeconfig", kubeconfig, "--dns-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
			"--label-selector", "a in ("}, "--label-selector", 2},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != tc.code {
			t.Errorf("%v: %v, want exit status %d", tc.args, err, tc.code)
		}
		if strings.Contains(string(out), "stacktrace") {
			t.Errorf("%v: a stack trace in the output:\n%s", tc.args, out)
		}
		last := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		if !strings.HasPrefix(last, "slicedns: ") || !strings.Contains(last, tc.want) {
			t.Errorf("%v: last line %q, want a one-line reason containing %q", tc.args, last, tc.want)
		}
	}
}
