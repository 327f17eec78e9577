package watch

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// clientset adapts a clientset to Client, so that the unit tests can run
// Kube over client-go's fake clientset and its reactors. Only tests import
// k8s.io/client-go/kubernetes: the binary must not link it (see
// cmd/slicedns's TestBinaryLinksTwoAPIGroups).
type clientset struct{ kubernetes.Interface }

var _ Client = clientset{}

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
