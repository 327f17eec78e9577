package watch

import (
	"errors"
	"reflect"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slicedns/slicedns/zone"
)

// Kinds as the metrics label them.
const (
	kubeKindService = "Service"
	kubeKindSlice   = "EndpointSlice"
)

// kubeObject is what Kube's informer caches hold in place of an API object:
// the zone object that ServiceFromAPI or SliceFromAPI made of it, or the
// reason it could not be made, plus the three metadata fields the informer
// itself reads (namespace and name for the key, resourceVersion to tell a
// relist's unchanged objects from changed ones). Nothing else of the API
// object survives the transform, and the zone is handed the very same *T,
// so each Service and slice is held in memory once, in its slim form.
type kubeObject[T zone.Service | zone.Slice] struct {
	metav1.ObjectMeta
	obj *T    // nil when err is set
	err error // why the object cannot be served
}

// kubeTransformService is the Service informer's cache.TransformFunc. It
// must never fail: a transform error aborts the whole relist, which the
// reflector would retry forever. An object that is already slim is returned
// as it is, which makes the transform idempotent as client-go asks.
func kubeTransformService(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	z, err := ServiceFromAPI(s)
	return &kubeObject[zone.Service]{ObjectMeta: kubeMeta(&s.ObjectMeta), obj: z, err: err}, nil
}

// kubeTransformSlice is the EndpointSlice informer's cache.TransformFunc;
// see kubeTransformService.
func kubeTransformSlice(obj any) (any, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	z, err := SliceFromAPI(s)
	return &kubeObject[zone.Slice]{ObjectMeta: kubeMeta(&s.ObjectMeta), obj: z, err: err}, nil
}

func kubeMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: m.Namespace, Name: m.Name, ResourceVersion: m.ResourceVersion}
}

// kubeHandler feeds one informer's events to the Sink. It implements
// cache.ResourceEventHandler.
type kubeHandler[T zone.Service | zone.Slice] struct {
	k      *Kube
	kind   string
	upsert func(*T) error
	delete func(namespace, name string)
	// served runs after a successful upsert of an object outside the initial list.
	served func(*T)
}

func (h *kubeHandler[T]) OnAdd(obj any, isInInitialList bool) {
	h.k.Metrics.Event(h.kind, "add")
	h.apply(nil, obj, !isInInitialList)
}

// OnUpdate skips an object whose resourceVersion did not change: a relist
// delivers every object again, because client-go treats a handler added
// without a resync period as always resyncing, and a relist follows every
// broken watch.
func (h *kubeHandler[T]) OnUpdate(oldObj, newObj any) {
	old, _ := oldObj.(*kubeObject[T])
	if n, ok := newObj.(*kubeObject[T]); ok && old != nil && n.ResourceVersion != "" && n.ResourceVersion == old.ResourceVersion {
		return
	}
	h.k.Metrics.Event(h.kind, "update")
	h.apply(old, newObj, true)
}

// OnDelete removes the object by key, so a tombstone (a delete the informer
// inferred on relist) works even when it carries no object.
func (h *kubeHandler[T]) OnDelete(obj any) {
	h.k.Metrics.Event(h.kind, "delete")
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		h.k.log().Error("cannot tell which object was deleted", zap.String("kind", h.kind), zap.Error(err))
		return
	}
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		h.k.log().Error("cannot tell which object was deleted", zap.String("kind", h.kind), zap.String("key", key), zap.Error(err))
		return
	}
	h.k.sinkMu.Lock()
	defer h.k.sinkMu.Unlock()
	h.delete(namespaceOf(ns), name)
}

// apply upserts newObj. An object that cannot be served is skipped: when an
// update makes a served object unservable, the zone keeps answering from the
// previous version until a valid update or a delete arrives. The API server
// validates objects, so this takes a hand-crafted or future-schema object.
func (h *kubeHandler[T]) apply(old *kubeObject[T], newObj any, live bool) {
	c, ok := newObj.(*kubeObject[T])
	if !ok {
		h.k.log().Error("informer delivered an object the transform did not make", zap.String("kind", h.kind), zap.String("type", reflect.TypeOf(newObj).String()))
		return
	}
	if errors.Is(c.err, ErrNoServiceName) {
		// Another controller's slice, not a Service's: nothing to serve and
		// nothing wrong, so no warning on each of its updates.
		h.k.log().Debug("ignoring an EndpointSlice of no Service", zap.String("namespace", c.Namespace), zap.String("name", c.Name))
		return
	}
	if c.err != nil {
		h.k.Metrics.Invalid(h.kind)
		h.k.log().Warn("skipping an object that cannot be served; the previous version, if any, stays served",
			zap.String("kind", h.kind), zap.String("namespace", c.Namespace), zap.String("name", c.Name),
			zap.String("resourceVersion", c.ResourceVersion), zap.Error(c.err))
		return
	}
	// Updates that only touch what DNS ignores (status, labels, a Service's
	// load balancer) would otherwise publish a new snapshot and rebuild the
	// Service's names for nothing.
	if old != nil && old.obj != nil && reflect.DeepEqual(old.obj, c.obj) {
		return
	}
	h.k.sinkMu.Lock()
	err := h.upsert(c.obj)
	h.k.sinkMu.Unlock()
	if err != nil {
		h.k.Metrics.Invalid(h.kind)
		h.k.log().Warn("sink refused an object", zap.String("kind", h.kind),
			zap.String("namespace", c.Namespace), zap.String("name", c.Name), zap.Error(err))
		return
	}
	if live && h.served != nil {
		h.served(c.obj)
	}
}

func (k *Kube) serviceHandler() *kubeHandler[zone.Service] {
	return &kubeHandler[zone.Service]{k: k, kind: kubeKindService, upsert: k.Sink.UpsertService, delete: k.Sink.DeleteService}
}

// The initial list's trigger times say when each slice last changed, not
// how long this process took to serve it, so only later slices are observed.
func (k *Kube) sliceHandler() *kubeHandler[zone.Slice] {
	return &kubeHandler[zone.Slice]{k: k, kind: kubeKindSlice, upsert: k.Sink.UpsertSlice, delete: k.Sink.DeleteSlice,
		served: func(s *zone.Slice) { k.Metrics.Programmed(s.TriggerTime) }}
}
