package watch_test

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
)

// Serve a folder of manifests: Load reads it once (failing if the folder
// cannot be read); Run would then follow edits until its context ends.
func ExampleManifests() {
	z := zone.New()
	src := &watch.Manifests{Dir: "../testdata/demo", Sink: z}
	if err := src.Load(); err != nil {
		panic(err)
	}
	r := &zone.Resolver{Zone: z}
	for _, name := range []string{"my-db.default.svc.cluster.local", "web.shop.svc.cluster.local"} {
		addrs, err := r.LookupHost(context.Background(), name)
		fmt.Println(name, addrs, err)
	}
	// Output:
	// my-db.default.svc.cluster.local [10.42.1.10 10.42.2.11] <nil>
	// web.shop.svc.cluster.local [10.96.0.20] <nil>
}

// cluster is a fake API server holding one headless Service and its slice;
// a real program passes a clientset built from watch.RESTConfig.
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

// Kube feeds a zone from a cluster with informers of its own; the zone
// follows the cluster until the context ends.
func ExampleKube() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	z := zone.New()
	src := &watch.Kube{Client: cluster(), Sink: z}
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

// A program that already runs informers feeds a zone from its own event
// handlers, converting each object with ServiceFromAPI and SliceFromAPI.
func ExampleSliceFromAPI() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	z := zone.New()
	factory := informers.NewSharedInformerFactory(cluster(), 0)

	svcReg, _ := factory.Core().V1().Services().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { upsertService(z, obj) },
		UpdateFunc: func(_, obj any) { upsertService(z, obj) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				ns, name, _ := cache.SplitMetaNamespaceKey(key)
				z.DeleteService(ns, name)
			}
		},
	})
	sliceReg, _ := factory.Discovery().V1().EndpointSlices().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { upsertSlice(z, obj) },
		UpdateFunc: func(_, obj any) { upsertSlice(z, obj) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				ns, name, _ := cache.SplitMetaNamespaceKey(key)
				z.DeleteSlice(ns, name)
			}
		},
	})
	factory.Start(ctx.Done())
	// The registrations sync once their handlers have seen the first list.
	cache.WaitForCacheSync(ctx.Done(), svcReg.HasSynced, sliceReg.HasSynced)

	addrs, err := (&zone.Resolver{Zone: z}).LookupHost(ctx, "my-db.default.svc.cluster.local")
	fmt.Println(addrs, err)
	cancel()
	factory.Shutdown() // waits for the informers to stop
	// Output:
	// [10.42.1.10] <nil>
}

func upsertService(z *zone.Zone, obj any) {
	s, err := watch.ServiceFromAPI(obj.(*corev1.Service))
	if err == nil {
		err = z.UpsertService(s)
	}
	if err != nil {
		fmt.Println("skipped:", err) // a real program logs it
	}
}

func upsertSlice(z *zone.Zone, obj any) {
	s, err := watch.SliceFromAPI(obj.(*discoveryv1.EndpointSlice))
	if err == nil {
		err = z.UpsertSlice(s)
	}
	if err != nil {
		fmt.Println("skipped:", err)
	}
}
