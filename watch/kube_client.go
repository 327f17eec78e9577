package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// Client lists and watches the two resources Kube serves from: v1 Services
// and discovery.k8s.io/v1 EndpointSlices. NewClient makes one that talks to
// an API server; a program that already has a clientset can adapt it with
// four one-line methods (see the Kube example).
//
// The methods mean what a clientset's List and Watch mean for namespace (""
// is every namespace) and opts, which go to the API server unchanged (Kube
// sets the LabelSelector of Service requests itself). A watch's events carry
// a *corev1.Service or *discoveryv1.EndpointSlice, or a *metav1.Status for
// an Error event; the watch ends when ctx is done, when Stop is called, or
// when the API server closes it. Kube calls the methods from several
// goroutines at once.
type Client interface {
	ListServices(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.ServiceList, error)
	WatchServices(ctx context.Context, namespace string, opts metav1.ListOptions) (apiwatch.Interface, error)
	ListEndpointSlices(ctx context.Context, namespace string, opts metav1.ListOptions) (*discoveryv1.EndpointSliceList, error)
	WatchEndpointSlices(ctx context.Context, namespace string, opts metav1.ListOptions) (apiwatch.Interface, error)
}

// NewClient returns a Client for the API server that cfg describes, usually
// one from RESTConfig. Its requests carry cfg's credentials, TLS settings
// and user agent (client-go's default if empty), and share one client-side
// rate limit made from cfg's QPS and Burst (client-go's defaults if zero)
// unless cfg has a RateLimiter. They ask for protobuf unless cfg names its
// own content types, as a clientset's requests for these resources do.
//
// Unlike a clientset (k8s.io/client-go/kubernetes), it knows no API group
// but these two, so a program that uses it instead does not link in every
// Kubernetes API group: slicedns's binary is about a third smaller for it,
// and so is the part of the binary resident in memory.
func NewClient(cfg *rest.Config) (Client, error) {
	c := *cfg // rest.Config is meant to be copied shallowly
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	if c.RateLimiter == nil {
		qps, burst := c.QPS, c.Burst
		if qps == 0 {
			qps = rest.DefaultQPS
		}
		if burst == 0 {
			burst = rest.DefaultBurst
		}
		if qps > 0 { // negative QPS means no limit, as in client-go
			if burst < 0 {
				return nil, fmt.Errorf("watch: client config: Burst %d with QPS %v", c.Burst, c.QPS)
			}
			c.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(qps, burst)
		}
	}

	// A scheme of only the types these requests can carry. The unversioned
	// meta types (options, Status, WatchEvent) are registered as
	// k8s.io/client-go/kubernetes/scheme registers them.
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	if err := errors.Join(corev1.AddToScheme(scheme), discoveryv1.AddToScheme(scheme)); err != nil {
		return nil, fmt.Errorf("watch: client scheme: %w", err)
	}
	// Objects are decoded as the API server sends them, in the version asked
	// for: there are no internal types to convert to.
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()

	// One HTTP client, so both groups share connections (HTTP/2 streams on
	// one connection, usually).
	hc, err := rest.HTTPClientFor(&c)
	if err != nil {
		return nil, fmt.Errorf("watch: client config: %w", err)
	}
	newREST := func(apiPath string, gv schema.GroupVersion) (*rest.RESTClient, error) {
		g := c
		g.APIPath, g.GroupVersion = apiPath, &gv
		return rest.RESTClientForConfigAndClient(&g, hc)
	}
	rc := &restClient{params: runtime.NewParameterCodec(scheme)}
	if rc.core, err = newREST("/api", corev1.SchemeGroupVersion); err != nil {
		return nil, fmt.Errorf("watch: client config: %w", err)
	}
	if rc.discovery, err = newREST("/apis", discoveryv1.SchemeGroupVersion); err != nil {
		return nil, fmt.Errorf("watch: client config: %w", err)
	}
	// The same again, decoding compactly, for Kube's reflectors.
	c.NegotiatedSerializer = newCompactSerializer(c.NegotiatedSerializer)
	compact := &restClient{params: rc.params}
	rc.compact = compact
	if compact.core, err = newREST("/api", corev1.SchemeGroupVersion); err != nil {
		return nil, fmt.Errorf("watch: client config: %w", err)
	}
	if compact.discovery, err = newREST("/apis", discoveryv1.SchemeGroupVersion); err != nil {
		return nil, fmt.Errorf("watch: client config: %w", err)
	}
	return rc, nil
}

// restClient is NewClient's Client: one REST client per API group.
type restClient struct {
	core, discovery *rest.RESTClient
	params          runtime.ParameterCodec
	// compact is the same over clients that decode compactly (see
	// compactObjects); nil in compact itself.
	compact *restClient
}

// compactClient is a Client that can also list and watch Services and
// EndpointSlices decoded compactly: Kube's reflectors use that when their
// Client offers it.
type compactClient interface {
	compactObjects() Client
}

var _ compactClient = (*restClient)(nil)

func (c *restClient) compactObjects() Client {
	if c.compact == nil {
		return c
	}
	return c.compact
}

func (c *restClient) ListServices(ctx context.Context, ns string, opts metav1.ListOptions) (*corev1.ServiceList, error) {
	out := &corev1.ServiceList{}
	return out, c.get(c.core, ns, "services", &opts).Do(ctx).Into(out)
}

func (c *restClient) WatchServices(ctx context.Context, ns string, opts metav1.ListOptions) (apiwatch.Interface, error) {
	opts.Watch = true
	return c.get(c.core, ns, "services", &opts).Watch(ctx)
}

func (c *restClient) ListEndpointSlices(ctx context.Context, ns string, opts metav1.ListOptions) (*discoveryv1.EndpointSliceList, error) {
	out := &discoveryv1.EndpointSliceList{}
	return out, c.get(c.discovery, ns, "endpointslices", &opts).Do(ctx).Into(out)
}

func (c *restClient) WatchEndpointSlices(ctx context.Context, ns string, opts metav1.ListOptions) (apiwatch.Interface, error) {
	opts.Watch = true
	return c.get(c.discovery, ns, "endpointslices", &opts).Watch(ctx)
}

// get is the GET request for a list or watch, built as client-go's
// generated clients build it: protobuf unless the config says otherwise,
// and a client-side timeout equal to the one asked of the API server, so
// that a watch the reflector means to end after a few minutes does end.
func (c *restClient) get(rc *rest.RESTClient, ns, resource string, opts *metav1.ListOptions) *rest.Request {
	var timeout time.Duration
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	return rc.Get().
		UseProtobufAsDefault().
		NamespaceIfScoped(ns, ns != metav1.NamespaceAll).
		Resource(resource).
		VersionedParams(opts, c.params).
		Timeout(timeout)
}
