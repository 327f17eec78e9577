package kubetest_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slicedns/slicedns/internal/kubetest"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

var kc *kubetest.Cluster

func TestMain(m *testing.M) { kubetest.Main(m, &kc) }

func ptrTo[T any](v T) *T { return &v }

func headlessService(ns, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Ports:     []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}},
		},
	}
}

func endpointSlice(ns, svc string) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns,
			Name:      svc + "-abc12",
			Labels:    map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		// Not loopback: the API server rejects 127.0.0.0/8 in EndpointSlices.
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"192.0.2.10"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(true)},
			Hostname:   ptrTo("web-0"),
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptrTo("dns"), Port: ptrTo[int32](53), Protocol: ptrTo(corev1.ProtocolUDP)}},
	}
}

func TestEndpointSliceRoundTrip(t *testing.T) {
	c := kubetest.Require(t, kc)
	ctx := t.Context()
	ns := c.Namespace(t)
	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, headlessService(ns, "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, endpointSlice(ns, "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := c.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=web",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Endpoints[0].Addresses[0] != "192.0.2.10" {
		t.Fatalf("got %+v, want one slice with 192.0.2.10", list.Items)
	}
}

// The admin kubeconfig file must work for kubectl too, not just client-go.
func TestKubectl(t *testing.T) {
	c := kubetest.Require(t, kc)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl")
	}
	ns := c.Namespace(t)
	out, err := exec.CommandContext(t.Context(), kubectl, "--kubeconfig", c.Kubeconfig, "get", "namespace", ns, "-o", "name").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "namespace/"+ns {
		t.Fatalf("kubectl: %v: %s", err, out)
	}
}

func TestImpersonatedServiceAccountIsForbidden(t *testing.T) {
	c := kubetest.Require(t, kc)
	ns := c.Namespace(t)
	path, err := c.KubeconfigFor("system:serviceaccount:" + ns + ":slicedns")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	// The API server adds a ServiceAccount's groups when none are impersonated.
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; !slices.Contains(u.Groups, "system:serviceaccounts:"+ns) {
		t.Errorf("impersonated user = %+v, want ServiceAccount groups", u)
	}
	_, err = client.DiscoveryV1().EndpointSlices("").List(t.Context(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("list endpointslices as a ServiceAccount without RBAC: got %v, want Forbidden", err)
	}
	if !strings.Contains(err.Error(), "system:serviceaccount:"+ns+":slicedns") {
		t.Errorf("error does not name the impersonated user: %v", err)
	}
}

func TestDualStackService(t *testing.T) {
	c := kubetest.Require(t, kc)
	ns := c.Namespace(t)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dual"},
		Spec: corev1.ServiceSpec{
			IPFamilyPolicy: ptrTo(corev1.IPFamilyPolicyRequireDualStack),
			Ports:          []corev1.ServicePort{{Port: 80}},
		},
	}
	got, err := c.Client.CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.ClusterIPs) != 2 {
		t.Fatalf("clusterIPs = %v, want an IPv4 and an IPv6 address", got.Spec.ClusterIPs)
	}
	t.Logf("clusterIPs = %v", got.Spec.ClusterIPs)
}

// Runs on its own cluster: stopping the API server would break parallel
// tests on the shared one.
func TestAPIServerRestartKeepsObjects(t *testing.T) {
	start := time.Now()
	c := kubetest.New(t, kubetest.Options{})
	t.Logf("Start took %v", time.Since(start).Round(time.Millisecond))
	ctx := t.Context()
	ns := c.Namespace(t)
	if _, err := c.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, endpointSlice(ns, "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Client.DiscoveryV1().EndpointSlices(ns).Get(short, "web-abc12", metav1.GetOptions{}); err == nil {
		t.Fatal("get succeeded with the API server stopped")
	} else {
		t.Logf("with the API server stopped: %v", err)
	}

	start = time.Now()
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("StartAPIServer took %v", time.Since(start).Round(time.Millisecond))
	got, err := c.Client.DiscoveryV1().EndpointSlices(ns).Get(ctx, "web-abc12", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got.Endpoints[0].Addresses[0] != "192.0.2.10" {
		t.Fatalf("after restart: got %+v", got.Endpoints)
	}
}
