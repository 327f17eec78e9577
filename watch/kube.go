package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// Kube is the live-cluster source: it lists and watches v1 Services and
// discovery.k8s.io/v1 EndpointSlices through client-go shared informers and
// feeds every change to Sink. It needs only the list and watch verbs on
// those two resources (deploy/rbac.yaml).
//
// Informer caches hold each object in the zone's slim form only (see
// kubeObject); there is no periodic resync. While the API server is away the
// reflectors retry with backoff and the Sink keeps the last state; on
// reconnect the watch resumes or a relist replaces the cache, which turns
// objects that vanished meanwhile into deletes and skips unchanged ones, so
// names that exist before and after never stop resolving.
//
// Set the exported fields, then call Run once.
type Kube struct {
	// Client talks to the API server: NewClient(cfg) with cfg from
	// RESTConfig, or an adapted clientset.
	Client Client
	// Sink receives the objects. Kube calls it from one goroutine at a time.
	Sink Sink
	// Namespaces limits the source to these namespaces, with one pair of
	// informers (and watches) each, so it needs list and watch only there,
	// e.g. through RoleBindings. Empty, or holding "", means every namespace.
	Namespaces []string
	// LabelSelector narrows which Services are served. It is not applied to
	// EndpointSlices, whose labels are the EndpointSlice controller's rather
	// than the Service's: every slice is watched, and the slices of Services
	// outside the selector are held but never answered, because the zone
	// only publishes names of Services it knows. A Service whose labels stop
	// matching is deleted from the Sink.
	LabelSelector string
	// Logger defaults to zap.NewNop.
	Logger *zap.Logger
	// Metrics may be nil.
	Metrics *Metrics

	sinkMu  sync.Mutex // serialises Sink calls across informers
	started atomic.Bool
	regs    atomic.Pointer[[]cache.ResourceEventHandlerRegistration]
	// informers and batch are set before regs is stored, and never change
	// after.
	informers   []cache.SharedIndexInformer
	batch       Batcher
	releaseOnce sync.Once
	synced      atomic.Bool
}

// Run starts the informers and blocks until ctx is done and they have
// stopped; after it returns Kube calls the Sink no more. It returns nil then,
// or at once an error for a misconfigured Kube (no Client or Sink, a bad
// LabelSelector, a second Run). Failing to reach the API server is not an
// error: Run keeps retrying, and Synced stays false until the first lists
// have been delivered.
func (k *Kube) Run(ctx context.Context) error {
	if k.Client == nil || k.Sink == nil {
		return errors.New("watch: Kube needs a Client and a Sink")
	}
	if _, err := labels.Parse(k.LabelSelector); err != nil {
		return fmt.Errorf("watch: label selector %q: %w", k.LabelSelector, err)
	}
	if !k.started.CompareAndSwap(false, true) {
		return errors.New("watch: Kube.Run called twice")
	}
	namespaces := slices.Clone(k.Namespaces)
	slices.Sort(namespaces)
	namespaces = slices.Compact(namespaces)
	if len(namespaces) == 0 || slices.Contains(namespaces, metav1.NamespaceAll) {
		namespaces = []string{metav1.NamespaceAll}
	}

	var informers []cache.SharedIndexInformer
	var regs []cache.ResourceEventHandlerRegistration
	for _, ns := range namespaces {
		for _, newInformer := range []func(string) (*kubeInformer, error){k.serviceInformer, k.sliceInformer} {
			inf, err := newInformer(ns)
			if err != nil {
				return err
			}
			informers = append(informers, inf.informer)
			regs = append(regs, inf.reg)
		}
	}
	// Hold the Sink until the initial lists are in (see Batcher), and never
	// leave it held.
	if b, ok := k.Sink.(Batcher); ok {
		b.Hold()
		k.batch = b
	}
	defer k.release()
	k.informers = informers
	k.regs.Store(&regs)

	start := time.Now()
	k.log().Info("watching the API server", zap.Strings("namespaces", namespaces), zap.String("serviceSelector", k.LabelSelector))
	var wg sync.WaitGroup
	for _, inf := range informers {
		wg.Go(func() { inf.RunWithContext(ctx) })
	}
	wg.Go(func() {
		if k.WaitForSync(ctx) {
			k.log().Info("synced with the API server", zap.Duration("after", time.Since(start)))
		}
	})
	wg.Wait()
	return nil
}

// Synced reports whether every informer has listed its objects and Kube has
// handed all of them to the Sink (and released it, if it is a Batcher). It stays true once true, including while
// the API server is unreachable: the Sink then serves the last known state.
// It is cheap enough to ask per query.
func (k *Kube) Synced() bool {
	if k.synced.Load() {
		return true
	}
	regs := k.regs.Load()
	if regs == nil {
		return false
	}
	for _, r := range *regs {
		if !r.HasSynced() {
			return false
		}
	}
	k.release()
	k.synced.Store(true)
	return true
}

// release releases the Sink if Run held it, once.
func (k *Kube) release() {
	k.releaseOnce.Do(func() {
		if k.batch != nil {
			k.batch.Release()
		}
	})
}

// WaitForSync blocks until Synced or ctx is done, and reports Synced. It may
// be called before Run.
func (k *Kube) WaitForSync(ctx context.Context) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !k.Synced() {
		select {
		case <-ctx.Done():
			return k.Synced()
		case <-t.C:
		}
	}
	return true
}

func (k *Kube) log() *zap.Logger {
	if k.Logger == nil {
		return zap.NewNop()
	}
	return k.Logger
}

func (k *Kube) serviceInformer(ns string) (*kubeInformer, error) {
	client, sel := k.Client, k.LabelSelector
	l := k.newLink("services", ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel
			list, err := client.ListServices(ctx, ns, o)
			return list, l.result(err)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (apiwatch.Interface, error) {
			o.LabelSelector = sel
			w, err := client.WatchServices(ctx, ns, o)
			return l.touching(w, err)
		},
	}
	return k.newInformer(lw, l, &corev1.Service{}, kubeTransformService, k.serviceHandler())
}

func (k *Kube) sliceInformer(ns string) (*kubeInformer, error) {
	client := k.Client
	l := k.newLink("endpointslices", ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			list, err := client.ListEndpointSlices(ctx, ns, o)
			return list, l.result(err)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (apiwatch.Interface, error) {
			w, err := client.WatchEndpointSlices(ctx, ns, o)
			return l.touching(w, err)
		},
	}
	return k.newInformer(lw, l, &discoveryv1.EndpointSlice{}, kubeTransformSlice, k.sliceHandler())
}

// kubeInformer is an informer with Kube's handler registered.
type kubeInformer struct {
	informer cache.SharedIndexInformer
	reg      cache.ResourceEventHandlerRegistration
}

// newInformer makes an informer without indexes (nothing looks objects up
// by anything but key) and without resync (the handlers are level-triggered
// on the zone, so replaying the cache would only burn CPU), whose cache
// holds what transform makes of each object.
func (k *Kube) newInformer(lw cache.ListerWatcher, l *kubeLink, example runtime.Object,
	transform cache.TransformFunc, h cache.ResourceEventHandler) (*kubeInformer, error) {
	inf := cache.NewSharedIndexInformerWithOptions(lw, example, cache.SharedIndexInformerOptions{ObjectDescription: l.what})
	// Both setters fail only once an informer has started.
	if err := inf.SetTransform(skipUnchanged(inf.GetStore(), transform)); err != nil {
		return nil, err
	}
	if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) { l.failed(err) }); err != nil {
		return nil, err
	}
	reg, err := inf.AddEventHandler(h)
	if err != nil {
		return nil, err
	}
	return &kubeInformer{informer: inf, reg: reg}, nil
}

// errorLogEvery spaces the warnings of one failure streak: a reflector
// retries every 30-60 s while the API server is away, for each informer.
const errorLogEvery = time.Minute

// kubeLink is the health of one informer's connection, for logs and the
// staleness metric.
type kubeLink struct {
	k    *Kube
	what string

	mu         sync.Mutex
	down       time.Time // start of the current failure streak; zero when up
	logged     time.Time // last warning in the streak
	suppressed int       // failures since that warning
}

func (k *Kube) newLink(resource, ns string) *kubeLink {
	what := resource + " in all namespaces"
	if ns != metav1.NamespaceAll {
		what = resource + " in namespace " + ns
	}
	return &kubeLink{k: k, what: what}
}

// result notes the outcome of a list or watch request and returns err.
// Failures are the WatchErrorHandler's to report, after client-go's own
// retries.
func (l *kubeLink) result(err error) error {
	if err != nil {
		return err
	}
	l.k.Metrics.Touch()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down.IsZero() {
		l.k.log().Info("API server reachable again", zap.String("watch", l.what),
			zap.Duration("after", time.Since(l.down)), zap.Int("suppressedErrors", l.suppressed))
		l.down, l.logged, l.suppressed = time.Time{}, time.Time{}, 0
	}
	return nil
}

// failed reports a list or watch failure: the first of a streak, then at
// most one per errorLogEvery with the count of those left out.
func (l *kubeLink) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.down.IsZero() {
		l.down = now
	}
	if !l.logged.IsZero() && now.Sub(l.logged) < errorLogEvery {
		l.suppressed++
		return
	}
	l.k.log().Warn("cannot list or watch; serving the last known state and retrying", zap.String("watch", l.what),
		zap.Duration("failingFor", now.Sub(l.down)), zap.Int("suppressedErrors", l.suppressed), zap.Error(err))
	l.logged, l.suppressed = now, 0
}

// touching notes the outcome of a watch request and makes every event of the
// watch, bookmarks included, record contact: the API server sends a bookmark
// about once a minute, so a quiet but healthy watch keeps the staleness
// metric low.
func (l *kubeLink) touching(w apiwatch.Interface, err error) (apiwatch.Interface, error) {
	if l.result(err) != nil {
		return w, err
	}
	t := &touchingWatch{Interface: w, out: make(chan apiwatch.Event), stop: make(chan struct{})}
	go func() {
		defer close(t.out)
		for e := range w.ResultChan() {
			l.k.Metrics.Touch()
			select {
			case t.out <- e:
			case <-t.stop: // the reflector stopped reading
				return
			}
		}
	}()
	return t, nil
}

type touchingWatch struct {
	apiwatch.Interface
	out  chan apiwatch.Event
	stop chan struct{}
	once sync.Once
}

func (t *touchingWatch) ResultChan() <-chan apiwatch.Event { return t.out }

func (t *touchingWatch) Stop() {
	t.once.Do(func() {
		close(t.stop)
		t.Interface.Stop()
	})
}
