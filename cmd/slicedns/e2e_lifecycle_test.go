package main

// A headless Service's life on a real kube-apiserver, as dig sees it.

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slicedns/slicedns/internal/kubetest"
)

func TestDigHeadlessLifecycle(t *testing.T) {
	needDig(t)
	c := kubetest.New(t, kubetest.Options{})
	k := &kubeObjects{t: t, ns: c.Namespace(t), cs: c.Client}
	slices := c.Client.DiscoveryV1().EndpointSlices(k.ns)
	replace := func(s *discoveryv1.EndpointSlice) {
		t.Helper()
		cur, err := slices.Get(t.Context(), s.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.ResourceVersion = cur.ResourceVersion
		if _, err := slices.Update(t.Context(), s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	svc := "db." + k.ns + ".svc.cluster.local"
	pod := func(h string) string { return h + "." + svc }
	wait := 15 * time.Second

	k.service(e2eService("db", corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
		Ports: []corev1.ServicePort{{Name: "cql", Port: 9042, Protocol: corev1.ProtocolTCP}}}))
	k.slice(e2eSlice("db-a", "db", discoveryv1.AddressTypeIPv4, "cql", 9042, "db-0=10.5.0.10", "db-1=10.5.0.11"))
	inst := start(t, "--kubeconfig", c.Kubeconfig)
	inst.await(t, wait, []digCase{
		{name: "ready endpoints", args: []string{svc, "A"}, status: "NOERROR", answers: []string{"10.5.0.10", "10.5.0.11"}},
		{name: "per-pod name", args: []string{pod("db-1"), "A"}, status: "NOERROR", answers: []string{"10.5.0.11"}},
		{name: "SRV", args: []string{"_cql._tcp." + svc, "SRV"}, status: "NOERROR",
			answers: []string{"0 50 9042 " + pod("db-0") + ".", "0 50 9042 " + pod("db-1") + "."}},
	})

	replace(e2eSlice("db-a", "db", discoveryv1.AddressTypeIPv4, "cql", 9042, "db-0=10.5.0.10", "!db-1=10.5.0.11"))
	inst.await(t, wait, []digCase{
		{name: "not ready leaves the Service", args: []string{svc, "A"}, status: "NOERROR", answers: []string{"10.5.0.10"}},
		{name: "not ready pod is NXDOMAIN", args: []string{pod("db-1"), "A"}, status: "NXDOMAIN", auth: "SOA"},
	})

	k.slice(e2eSlice("db-b", "db", discoveryv1.AddressTypeIPv4, "cql", 9042, "db-2=10.5.0.12"))
	inst.await(t, wait, []digCase{
		{name: "second slice joins", args: []string{svc, "A"}, status: "NOERROR", answers: []string{"10.5.0.10", "10.5.0.12"}},
	})

	// Move db-0 from slice a to slice b: add first, then remove, as the
	// EndpointSlice controller does; dig must find it at every step.
	replace(e2eSlice("db-b", "db", discoveryv1.AddressTypeIPv4, "cql", 9042, "db-2=10.5.0.12", "db-0=10.5.0.10"))
	inst.check(t, []digCase{{name: "moving pod still there", args: []string{pod("db-0"), "A"}, status: "NOERROR", answers: []string{"10.5.0.10"}}})
	replace(e2eSlice("db-a", "db", discoveryv1.AddressTypeIPv4, "cql", 9042, "!db-1=10.5.0.11"))
	inst.check(t, []digCase{{name: "moved pod still there", args: []string{pod("db-0"), "A"}, status: "NOERROR", answers: []string{"10.5.0.10"}}})

	if err := slices.Delete(t.Context(), "db-b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	inst.await(t, wait, []digCase{
		{name: "no ready endpoints left: NXDOMAIN", args: []string{svc, "A"}, status: "NXDOMAIN", auth: "SOA"},
	})
	k.deleteService("db")
	inst.await(t, wait, []digCase{
		{name: "Service deleted", args: []string{svc, "A"}, status: "NXDOMAIN", auth: "SOA"},
		{name: "its namespace has no Service left", args: []string{k.ns + ".svc.cluster.local", "A"}, status: "NXDOMAIN", auth: "SOA"},
	})
}
