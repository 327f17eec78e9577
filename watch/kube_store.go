package watch

import (
	"errors"
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

// kubeStore is where one client-go Reflector (Services, or EndpointSlices, of
// one namespace or of all) puts what it lists and watches. It is not a cache:
// it converts each object as it arrives, hands the zone form to the Sink on
// the reflector's own goroutine, and remembers only the object's
// resourceVersion. That is all a relist needs, to skip what it delivers
// unchanged and to delete what it no longer delivers; no copy of any object,
// in API or in zone form, stays behind, and there is no queue between the
// watch and the Sink.
//
// A Reflector calls every method from its one goroutine (the transform too:
// in a watch-list it fills a temporary store, whose entries are only the
// keys transform returns, as cache.ExplicitKey). Only synced is read
// elsewhere.
type kubeStore[T zone.Service | zone.Slice] struct {
	k    *Kube
	kind string
	// meta returns the metadata of an API object of the store's type, or
	// nil for anything else.
	meta    func(any) *metav1.ObjectMeta
	convert func(any) (*T, error)
	upsert  func(*T) error
	delete  func(namespace, name string)
	// served runs after a successful upsert once the store has synced.
	served func(*T)

	// versions holds every object present: by its key, "namespace/name",
	// the key followed by the object's resourceVersion, in one string the
	// map's key is the front of.
	versions map[string]string
	keyBuf   []byte // to look a key up without building a string
	synced   atomic.Bool
}

var (
	_ cache.TransformingStore      = (*kubeStore[zone.Service])(nil)
	_ cache.TransformingStore      = (*kubeStore[zone.Slice])(nil)
	_ cache.ResourceVersionUpdater = (*kubeStore[zone.Slice])(nil)
)

func (k *Kube) serviceStore() *kubeStore[zone.Service] {
	return &kubeStore[zone.Service]{k: k, kind: kubeKindService, versions: map[string]string{},
		meta: func(obj any) *metav1.ObjectMeta {
			if s, ok := obj.(*corev1.Service); ok {
				return &s.ObjectMeta
			}
			return nil
		},
		convert: func(obj any) (*zone.Service, error) { return ServiceFromAPI(obj.(*corev1.Service)) },
		upsert:  k.Sink.UpsertService, delete: k.Sink.DeleteService}
}

// The initial list's trigger times say when each slice last changed, not
// how long this process took to serve it, so only later slices are observed.
func (k *Kube) sliceStore() *kubeStore[zone.Slice] {
	return &kubeStore[zone.Slice]{k: k, kind: kubeKindSlice, versions: map[string]string{},
		meta: func(obj any) *metav1.ObjectMeta {
			if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
				return &s.ObjectMeta
			}
			return nil
		},
		convert: func(obj any) (*zone.Slice, error) { return SliceFromAPI(obj.(*discoveryv1.EndpointSlice)) },
		upsert:  k.Sink.UpsertSlice, delete: k.Sink.DeleteSlice,
		served: func(s *zone.Slice) { k.Metrics.Programmed(s.TriggerTime) }}
}

// Transformer is what the reflector applies to each object of a watch-list
// before keeping it until the list ends: the object is applied at once and
// only its key is kept.
func (s *kubeStore[T]) Transformer() cache.TransformFunc { return s.transform }

// transform applies an API object unless its resourceVersion is the one
// present already, and returns its key as a cache.ExplicitKey. Anything
// else (a key, a tombstone) is returned as it is, which makes it
// idempotent as client-go asks. It never fails: a transform error aborts a
// whole watch-list, which the reflector would retry forever; an object that
// cannot be served is skipped with a warning instead.
//
// Applying each object as it streams in is what a Replace at the end of the
// list would do, only sooner: each is the state of a consistent snapshot
// at least as new as what the Sink holds, and objects the snapshot lacks
// are deleted when the list ends. Meanwhile only a key per object waits,
// not a converted object, and an unchanged object costs no new string.
func (s *kubeStore[T]) transform(obj any) (any, error) {
	m := s.meta(obj)
	if m == nil {
		return obj, nil
	}
	s.k.Metrics.Touch()
	s.keyBuf = append(append(append(s.keyBuf[:0], m.Namespace...), '/'), m.Name...)
	held, present := s.versions[string(s.keyBuf)]
	if present && m.ResourceVersion != "" && held[len(s.keyBuf):] == m.ResourceVersion {
		return cache.ExplicitKey(held[:len(s.keyBuf)]), nil
	}
	km := metaOf(m)
	s.apply(obj, &km, present)
	return cache.ExplicitKey(km.key()), nil
}

// apply converts obj and upserts it. An object that cannot be served is
// skipped: when an update makes a served object unservable, the zone keeps
// answering from the previous version until a valid update or a delete
// arrives. The API server validates objects, so this takes a hand-crafted
// or future-schema object.
func (s *kubeStore[T]) apply(obj any, km *kubeMeta, present bool) {
	s.versions[km.key()] = km.s
	event := "add"
	if present {
		event = "update"
	}
	s.k.Metrics.Event(s.kind, event)
	z, err := s.convert(obj)
	if errors.Is(err, ErrNoServiceName) {
		// Another controller's slice, not a Service's: nothing to serve and
		// nothing wrong, so no warning on each of its updates. One that
		// lost its label has left its Service, unlike an invalid update,
		// so what it served goes (deleting a slice never served is a no-op).
		s.k.log().Debug("ignoring an EndpointSlice of no Service", zap.String("namespace", km.GetNamespace()), zap.String("name", km.GetName()))
		if present {
			s.k.sinkMu.Lock()
			s.delete(namespaceOf(km.GetNamespace()), km.GetName())
			s.k.sinkMu.Unlock()
		}
		return
	}
	if err == nil {
		s.k.sinkMu.Lock()
		err = s.upsert(z)
		s.k.sinkMu.Unlock()
	}
	if err != nil {
		s.k.Metrics.Invalid(s.kind)
		s.k.log().Warn("skipping an object that cannot be served; the previous version, if any, stays served",
			zap.String("kind", s.kind), zap.String("namespace", km.GetNamespace()), zap.String("name", km.GetName()),
			zap.String("resourceVersion", km.GetResourceVersion()), zap.Error(err))
		return
	}
	if s.served != nil && s.synced.Load() {
		s.served(z)
	}
}

// Add applies a watch event's object.
func (s *kubeStore[T]) Add(obj any) error {
	_, err := s.transform(obj)
	return err
}

// Update applies a watch event's object.
func (s *kubeStore[T]) Update(obj any) error {
	_, err := s.transform(obj)
	return err
}

// Delete removes the object by key, which a tombstone carries even when it
// lost its object.
func (s *kubeStore[T]) Delete(obj any) error {
	if m := s.meta(obj); m != nil {
		km := metaOf(m)
		s.remove(km.key())
		return nil
	}
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		s.k.log().Error("cannot tell which object was deleted", zap.String("kind", s.kind), zap.Error(err))
		return nil
	}
	s.remove(key)
	return nil
}

func (s *kubeStore[T]) remove(key string) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		s.k.log().Error("cannot tell which object was deleted", zap.String("kind", s.kind), zap.String("key", key), zap.Error(err))
		return
	}
	delete(s.versions, key)
	s.k.Metrics.Event(s.kind, "delete")
	s.k.sinkMu.Lock()
	defer s.k.sinkMu.Unlock()
	s.delete(namespaceOf(ns), name)
}

// Replace makes list the whole state: it applies what is new or changed
// (in a watch-list, transform has done so already), then deletes what list
// lacks. Deleting last means an endpoint that moved between slices while
// the watch was down never vanishes. The first Replace marks the store
// synced.
func (s *kubeStore[T]) Replace(list []any, _ string) error {
	present := make(map[string]struct{}, len(list))
	for _, item := range list {
		out, _ := s.transform(item)
		key, ok := out.(cache.ExplicitKey)
		if !ok {
			s.k.log().Error("reflector listed an object of another kind", zap.String("kind", s.kind), zap.Any("object", item))
			continue
		}
		present[string(key)] = struct{}{}
	}
	for key := range s.versions {
		if _, ok := present[key]; !ok {
			s.remove(key)
		}
	}
	if !s.synced.Swap(true) {
		s.k.storeSynced()
	}
	return nil
}

// UpdateResourceVersion is called by the reflector after every watch event,
// bookmarks included: the API server sends a bookmark about once a minute,
// so a quiet but healthy watch keeps the staleness metric low.
func (s *kubeStore[T]) UpdateResourceVersion(string) { s.k.Metrics.Touch() }

// Resync does nothing: the Sink is level-triggered, so replaying the state
// would only burn CPU (and no resync period is set).
func (s *kubeStore[T]) Resync() error { return nil }
