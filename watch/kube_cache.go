package watch

import (
	"errors"
	"reflect"
	"sync/atomic"

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
// the three metadata fields the informer reads (kubeMeta), and, until the
// handler hands it to the Sink, the zone object that ServiceFromAPI or
// SliceFromAPI made of the API object, or the reason it could not be made.
// Nothing else of the API object survives the transform.
//
// The handler takes obj out as it delivers the event, so the cache never
// keeps a zone object: the Sink's copy is the only one. Keeping it in the
// cache too would be free while both are the same, but a relist replaces
// every cached object with a freshly converted one while the Sink, rightly,
// keeps what it had: the zone would be held twice.
type kubeObject[T zone.Service | zone.Slice] struct {
	kubeMeta
	obj atomic.Pointer[T] // nil when err is set, and once taken
	err error             // why the object cannot be served
}

func newKubeObject[T zone.Service | zone.Slice](m *metav1.ObjectMeta, obj *T, err error) *kubeObject[T] {
	o := &kubeObject[T]{kubeMeta: metaOf(m), err: err}
	o.obj.Store(obj)
	return o
}

// take returns the zone object, once.
func (o *kubeObject[T]) take() *T { return o.obj.Swap(nil) }

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
	return newKubeObject(&s.ObjectMeta, z, err), nil
}

// kubeTransformSlice is the EndpointSlice informer's cache.TransformFunc;
// see kubeTransformService.
func kubeTransformSlice(obj any) (any, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	z, err := SliceFromAPI(s)
	return newKubeObject(&s.ObjectMeta, z, err), nil
}

// skipUnchanged wraps a transform so that an API object whose
// resourceVersion the cache holds already is not converted again: a relist
// delivers every object, and converting them all only to drop them (the
// handler skips an unchanged resourceVersion) would double the garbage a
// relist makes. Such an object becomes the cache's entry for it, as it is.
func skipUnchanged(store cache.Store, transform cache.TransformFunc) cache.TransformFunc {
	return func(obj any) (any, error) {
		var m *metav1.ObjectMeta
		switch o := obj.(type) {
		case *corev1.Service:
			m = &o.ObjectMeta
		case *discoveryv1.EndpointSlice:
			m = &o.ObjectMeta
		default: // slim already, or a tombstone
			return obj, nil
		}
		if m.ResourceVersion != "" {
			held, ok, _ := store.GetByKey(cache.NewObjectName(m.Namespace, m.Name).String())
			// The cache's own entry is returned: a relist then allocates
			// nothing that lasts, where new entries would be scattered
			// among the decoder's garbage and fragment the heap.
			if h, isObj := held.(metav1.Object); ok && isObj && h.GetResourceVersion() == m.ResourceVersion {
				return held, nil
			}
		}
		return transform(obj)
	}
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
	h.apply(obj, !isInInitialList)
}

// OnUpdate skips an object whose resourceVersion did not change: a relist
// delivers every object again, because client-go treats a handler added
// without a resync period as always resyncing, and a relist follows every
// broken watch. An update that changes nothing DNS serves (status, labels,
// a Service's load balancer) reaches the Sink, which ignores it.
func (h *kubeHandler[T]) OnUpdate(oldObj, newObj any) {
	old, _ := oldObj.(*kubeObject[T])
	if n, ok := newObj.(*kubeObject[T]); ok && old != nil && n.GetResourceVersion() != "" && n.GetResourceVersion() == old.GetResourceVersion() {
		n.take() // the Sink holds an equal object already
		return
	}
	h.k.Metrics.Event(h.kind, "update")
	h.apply(newObj, true)
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
func (h *kubeHandler[T]) apply(newObj any, live bool) {
	c, ok := newObj.(*kubeObject[T])
	if !ok {
		h.k.log().Error("informer delivered an object the transform did not make", zap.String("kind", h.kind), zap.String("type", reflect.TypeOf(newObj).String()))
		return
	}
	obj := c.take()
	if errors.Is(c.err, ErrNoServiceName) {
		// Another controller's slice, not a Service's: nothing to serve and
		// nothing wrong, so no warning on each of its updates.
		h.k.log().Debug("ignoring an EndpointSlice of no Service", zap.String("namespace", c.GetNamespace()), zap.String("name", c.GetName()))
		return
	}
	if c.err != nil {
		h.k.Metrics.Invalid(h.kind)
		h.k.log().Warn("skipping an object that cannot be served; the previous version, if any, stays served",
			zap.String("kind", h.kind), zap.String("namespace", c.GetNamespace()), zap.String("name", c.GetName()),
			zap.String("resourceVersion", c.GetResourceVersion()), zap.Error(c.err))
		return
	}
	if obj == nil {
		// Delivered before: a handler sees each cached object once, so
		// this is not expected; there is nothing to hand over.
		return
	}
	h.k.sinkMu.Lock()
	err := h.upsert(obj)
	h.k.sinkMu.Unlock()
	if err != nil {
		h.k.Metrics.Invalid(h.kind)
		h.k.log().Warn("sink refused an object", zap.String("kind", h.kind),
			zap.String("namespace", c.GetNamespace()), zap.String("name", c.GetName()), zap.Error(err))
		return
	}
	if live && h.served != nil {
		h.served(obj)
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
