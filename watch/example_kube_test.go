package watch_test

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
)

// Kube feeds a zone from a cluster with informers of its own; the zone
// follows the cluster until the context ends.
//
// A program talking to a real cluster makes the Client from its kubeconfig
// or ServiceAccount:
//
//	cfg, err := watch.RESTConfig(kubeconfigPath)
//	...
//	client, err := watch.NewClient(cfg)
//
// Here the cluster is client-go's fake clientset instead, adapted to
// watch.Client; the same four methods adapt any clientset a program already
// has.
func ExampleKube() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	z := zone.New()
	src := &watch.Kube{Client: clientset{cluster()}, Sink: z}
	go src.Run(ctx)
	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	if !src.WaitForSync(waitCtx) {
		panic("not synced")
	}
	_, srvs, err := (&zone.Resolver{Zone: z}).LookupSRV(ctx, "cql", "tcp", "my-db.default.svc.cluster.local")
	if err != nil {
		panic(err)
	}
	for _, s := range srvs {
		fmt.Println(s.Target, s.Port)
	}
	// Output:
	// my-db-0.my-db.default.svc.cluster.local. 9042
}

// clientset adapts a clientset to watch.Client.
type clientset struct{ kubernetes.Interface }

func (c clientset) ListServices(ctx context.Context, ns string, o metav1.ListOptions) (*corev1.ServiceList, error) {
	return c.CoreV1().Services(ns).List(ctx, o)
}

func (c clientset) WatchServices(ctx context.Context, ns string, o metav1.ListOptions) (apiwatch.Interface, error) {
	return c.CoreV1().Services(ns).Watch(ctx, o)
}

func (c clientset) ListEndpointSlices(ctx context.Context, ns string, o metav1.ListOptions) (*discoveryv1.EndpointSliceList, error) {
	return c.DiscoveryV1().EndpointSlices(ns).List(ctx, o)
}

func (c clientset) WatchEndpointSlices(ctx context.Context, ns string, o metav1.ListOptions) (apiwatch.Interface, error) {
	return c.DiscoveryV1().EndpointSlices(ns).Watch(ctx, o)
}

// cluster is a fake API server holding one headless Service and its slice.
func cluster() *fake.Clientset {
	ready, notReady := true, false
	name := "cql"
	port := int32(9042)
	return fake.NewClientset(
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "my-db"},
			Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "cql", Port: 9042}}},
		},
		&discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "my-db-x7k2p",
				Labels: map[string]string{discoveryv1.LabelServiceName: "my-db"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.42.1.10"}, Hostname: ptr("my-db-0"), Conditions: discoveryv1.EndpointConditions{Ready: &ready}},
				{Addresses: []string{"10.42.2.11"}, Hostname: ptr("my-db-1"), Conditions: discoveryv1.EndpointConditions{Ready: &notReady}},
			},
		},
	)
}

func ptr(s string) *string { return &s }
