package main

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slicedns/slicedns/internal/kubetest"
)

// TestExplainKubeAPIServer explains a name from a real kube-apiserver, read
// through --kubeconfig.
func TestExplainKubeAPIServer(t *testing.T) {
	c := kubetest.New(t, kubetest.Options{})
	ns := c.Namespace(t)
	ctx := context.Background()
	_, err := c.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "db"},
			Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	host := func(s string) *string { return &s }
	pg, port := "pg", int32(5432)
	_, err = c.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "db-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &pg, Port: &port}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.60.0.1"}, Hostname: host("db-0"), NodeName: host("node-a"), Zone: host("zone-a"),
				Conditions: discoveryv1.EndpointConditions{Ready: &yes},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: "db-0", Namespace: ns}},
			{Addresses: []string{"10.60.0.2"}, Hostname: host("db-1"),
				Conditions: discoveryv1.EndpointConditions{Ready: &no, Serving: &yes, Terminating: &yes}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	name := "db." + ns + ".svc.cluster.local"
	m := explainJSON(t, "--kubeconfig", c.Kubeconfig, name)
	svc, _ := m["service"].(map[string]any)
	if svc["type"] != "Headless" || svc["namespace"] != ns || fmt.Sprint(svc["selector"]) != "map[app:db]" {
		t.Errorf("service = %v", svc)
	}
	wantEndpoints := map[string]string{
		"db-abc [10.60.0.1]": "served",
		"db-abc [10.60.0.2]": "excluded: ready: false (terminating)",
	}
	if got := endpointStates(m); !reflect.DeepEqual(got, wantEndpoints) {
		t.Errorf("endpoints = %v, want %v", got, wantEndpoints)
	}
	ep := m["slices"].([]any)[0].(map[string]any)["endpoints"].([]any)[0].(map[string]any)
	if ep["node"] != "node-a" || ep["zone"] != "zone-a" || ep["targetRef"] != "Pod/db-0" || ep["name"] != "db-0" {
		t.Errorf("endpoint db-0 = %v", ep)
	}
	q := m["queries"].([]any)[0].(map[string]any)
	if q["type"] != "A" || q["rcode"] != "NOERROR" || fmt.Sprint(q["answer"]) != "["+name+".\t5\tIN\tA\t10.60.0.1]" {
		t.Errorf("A query = %v", q)
	}

	// The wrong namespace names the right one.
	out, errOut, code := explainCmd(t, "--kubeconfig", c.Kubeconfig, "db.default.svc")
	if code != 0 || !strings.Contains(out, "no such Service in namespace default") || !strings.Contains(out, ns) {
		t.Errorf("wrong namespace: exit %d\n%s%s", code, out, errOut)
	}
}
