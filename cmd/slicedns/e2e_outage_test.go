package main

// The binary against a kube-apiserver that is not there yet, and one that
// goes away while slicedns serves.

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slicedns/slicedns/internal/kubetest"
)

func TestAPIServerOutages(t *testing.T) {
	needDig(t)
	c := kubetest.New(t, kubetest.Options{})
	k := &kubeObjects{t: t, ns: c.Namespace(t), cs: c.Client}
	k.service(e2eService("db", corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
		Ports: []corev1.ServicePort{{Name: "cql", Port: 9042, Protocol: corev1.ProtocolTCP}}}))
	k.slice(e2eSlice("db-1", "db", discoveryv1.AddressTypeIPv4, "cql", 9042, "db-0=10.3.0.10", "db-1=10.3.0.11"))
	name := "db." + k.ns + ".svc.cluster.local"

	// Started before the API server is reachable: SERVFAIL (an NXDOMAIN
	// would be cached downstream) and /readyz 503, then answers once it is.
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	inst := start(t, "--kubeconfig", c.Kubeconfig, "--startup-timeout", "1s")
	inst.check(t, []digCase{{name: "SERVFAIL before sync", args: []string{name, "A"}, status: "SERVFAIL"}})
	if code, _ := httpGet(t, "http://"+inst.httpAddr+"/readyz"); code != 503 {
		t.Errorf("/readyz before sync = %d, want 503", code)
	}
	if code, _ := httpGet(t, "http://"+inst.httpAddr+"/healthz"); code != 200 {
		t.Errorf("/healthz before sync = %d, want 200 (liveness only)", code)
	}
	// The outage is logged at once, one warning per watch, and then no more
	// while the reflectors retry (every 0.8 to 1.6 s at first).
	const warning, back = "cannot list or watch", "API server reachable again"
	inst.awaitLogged(t, warning, 2, 10*time.Second)
	time.Sleep(3 * time.Second)
	if err := c.StartAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	inst.await(t, 30*time.Second, []digCase{{name: "answers once synced", args: []string{name, "A"},
		status: "NOERROR", answers: []string{"10.3.0.10", "10.3.0.11"}, flag: "aa"}})
	for _, rec := range inst.awaitLogged(t, back, 2, 10*time.Second) {
		if n, _ := rec["suppressedErrors"].(float64); n < 1 {
			t.Errorf("recovery %v: want the retries left out counted", rec)
		}
	}
	if n := len(inst.logged(warning)); n != 2 {
		t.Errorf("%d warnings for the outage at start, want 2 (one per watch)", n)
	}
	if code, _ := httpGet(t, "http://"+inst.httpAddr+"/readyz"); code != 200 {
		t.Errorf("/readyz after sync = %d, want 200", code)
	}

	// The API server goes away: answers stay as they were, for as long as
	// it is gone, and the staleness gauge grows.
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		inst.check(t, []digCase{{name: "unchanged while the API server is down", args: []string{name, "A"},
			status: "NOERROR", answers: []string{"10.3.0.10", "10.3.0.11"}}})
		time.Sleep(200 * time.Millisecond)
	}
	if code, _ := httpGet(t, "http://"+inst.httpAddr+"/readyz"); code != 200 {
		t.Errorf("/readyz while the API server is down = %d; serving the last state is still ready", code)
	}
	if _, m := httpGet(t, "http://"+inst.httpAddr+"/metrics"); !strings.Contains(m, "slicedns_watch_staleness_seconds") {
		t.Error("no staleness gauge")
	}
	// So is an outage while serving: the watches, refused, are retried
	// inside client-go, and still reported.
	inst.awaitLogged(t, warning, 4, 10*time.Second)

	// Back, then changed: the new state is served.
	if err := c.StartAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	s, err := c.Client.DiscoveryV1().EndpointSlices(k.ns).Get(t.Context(), "db-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Endpoints = s.Endpoints[:1]
	if _, err := c.Client.DiscoveryV1().EndpointSlices(k.ns).Update(t.Context(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	inst.await(t, 30*time.Second, []digCase{
		{name: "change after restart", args: []string{name, "A"}, status: "NOERROR", answers: []string{"10.3.0.10"}},
		{name: "removed pod gone", args: []string{"db-1." + name, "A"}, status: "NXDOMAIN", auth: "SOA"},
	})
	inst.awaitLogged(t, back, 4, 10*time.Second)
}

// An API server without the WatchList feature (off by default in 1.33)
// rejects the streamed initial list; slicedns lists instead, and that is no
// outage to warn about.
func TestWatchListOffIsNoOutage(t *testing.T) {
	c := kubetest.New(t, kubetest.Options{APIServerArgs: []string{"--feature-gates=WatchList=false"}})
	inst := start(t, "--kubeconfig", c.Kubeconfig)
	inst.awaitLogged(t, "synced with the API server", 1, 30*time.Second)
	if n := len(inst.logged("cannot list or watch")); n != 0 {
		t.Errorf("%d warnings of an outage; log:\n%s", n, inst.logs)
	}
}
