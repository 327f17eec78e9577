package main

// The deploy/ kustomize base applied to a real kube-apiserver, and slicedns
// run with the identity it grants: the ClusterRole must be enough to serve,
// and nothing more.

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/slicedns/slicedns/internal/kubetest"
)

func TestDeployRBACIsEnough(t *testing.T) {
	needDig(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not found")
	}
	c := kubetest.New(t, kubetest.Options{})
	run := func(kubeconfig string, args ...string) (string, error) {
		out, err := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	// The namespace first: a dry run of namespaced objects needs it to exist.
	if out, err := run(c.Kubeconfig, "create", "namespace", "slicedns"); err != nil {
		t.Fatalf("create namespace: %v\n%s", err, out)
	}
	if out, err := run(c.Kubeconfig, "apply", "--server-side", "--dry-run=server", "-k", "../../deploy"); err != nil {
		t.Fatalf("server-side dry run of deploy/: %v\n%s", err, out)
	}
	// RBAC for real, so that impersonation exercises it.
	for _, f := range []string{"serviceaccount.yaml", "rbac.yaml"} {
		if out, err := run(c.Kubeconfig, "apply", "-n", "slicedns", "-f", "../../deploy/"+f); err != nil {
			t.Fatalf("apply %s: %v\n%s", f, err, out)
		}
	}
	sa, err := c.KubeconfigFor("system:serviceaccount:slicedns:slicedns")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		verb, resource string
		want           string
	}{
		{"list", "endpointslices.discovery.k8s.io", "yes"},
		{"watch", "endpointslices.discovery.k8s.io", "yes"},
		{"list", "services", "yes"},
		{"watch", "services", "yes"},
		{"get", "secrets", "no"},
		{"list", "secrets", "no"},
		{"list", "pods", "no"},
		{"create", "services", "no"},
		{"update", "endpointslices.discovery.k8s.io", "no"},
	} {
		out, _ := run(sa, "auth", "can-i", tc.verb, tc.resource, "--all-namespaces")
		if out != tc.want {
			t.Errorf("can-i %s %s = %q, want %q", tc.verb, tc.resource, out, tc.want)
		}
	}
	if out, err := run(sa, "get", "secrets", "-A"); err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("reading Secrets as slicedns: err %v, %s; want Forbidden", err, out)
	}

	// Serving with exactly that identity.
	ns := c.Namespace(t)
	ctx := t.Context()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "cql", Port: 9042}}}}
	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "db-1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("cql"), Port: ptr.To[int32](9042)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.44.0.1"}, Hostname: ptr.To("db-0"),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}
	if _, err := c.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	inst := start(t, "--kubeconfig", sa)
	name := "db-0.db." + ns + ".svc.cluster.local"
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := inst.dig(t, name, "A", "+noall", "+comments", "+answer")
		if r.status == "NOERROR" && slices.Equal(values(r.answer), []string{"10.44.0.1"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not served with the ServiceAccount's identity:\n%s\nlog:\n%s", r.raw, inst.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := httpGet(t, "http://"+inst.httpAddr+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d with the ServiceAccount's identity", code)
	}
	if logs := inst.logs.String(); strings.Contains(strings.ToLower(logs), "forbidden") {
		t.Errorf("slicedns hit a permission it lacks:\n%s", logs)
	}
}
