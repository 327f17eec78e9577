package watch_test

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
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
		slices.Sort(addrs) // LookupHost rotates them, as DNS answers are
		fmt.Println(name, addrs, err)
	}
	// Output:
	// my-db.default.svc.cluster.local [10.42.1.10 10.42.2.11] <nil>
	// web.shop.svc.cluster.local [10.96.0.20] <nil>
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
