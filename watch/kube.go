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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Kube is the live-cluster source: it lists and watches v1 Services and
// discovery.k8s.io/v1 EndpointSlices with client-go reflectors and feeds
// every change to Sink. It needs only the list and watch verbs on those two
// resources (deploy/rbac.yaml).
//
// There are no informers and no object caches: each reflector hands what it
// decodes to a kubeStore, which converts it and calls the Sink at once,
// keeping only each object's resourceVersion. With NewClient's Client the
// reflectors decode only the fields DNS reads (see compactObjects). While
// the API server is away the reflectors retry with backoff and the Sink
// keeps the last state; on reconnect the watch resumes, or a relist applies
// what changed, skips what did not and deletes what vanished meanwhile, so
// names that exist before and after never stop resolving. There is no
// periodic resync.
//
// Set the exported fields, then call Run once.
type Kube struct {
	// Client talks to the API server: NewClient(cfg) with cfg from
	// RESTConfig, or an adapted clientset.
	Client Client
	// Sink receives the objects. Kube calls it from one goroutine at a time.
	Sink Sink
	// Namespaces limits the source to these namespaces, with one pair of
	// watches each, so it needs list and watch only there, e.g. through
	// RoleBindings. Empty, or holding "", means every namespace.
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

	sinkMu  sync.Mutex // serialises Sink calls across reflectors
	started atomic.Bool
	// unsynced counts the stores that have not had their first Replace;
	// it and batch are set before Run starts a reflector.
	unsynced    atomic.Int32
	batch       Batcher
	releaseOnce sync.Once
	synced      atomic.Bool
}

// Run starts the reflectors and blocks until ctx is done and they have
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

	var runs []func(context.Context)
	for _, ns := range namespaces {
		runs = append(runs, k.serviceReflector(ns, k.serviceStore()), k.sliceReflector(ns, k.sliceStore()))
	}
	// Hold the Sink until the initial lists are in (see Batcher), and never
	// leave it held.
	if b, ok := k.Sink.(Batcher); ok {
		b.Hold()
		k.batch = b
	}
	defer k.release()
	k.unsynced.Store(int32(len(runs)))

	start := time.Now()
	k.log().Info("watching the API server", zap.Strings("namespaces", namespaces), zap.String("serviceSelector", k.LabelSelector))
	var wg sync.WaitGroup
	for _, run := range runs {
		wg.Go(func() { run(ctx) })
	}
	wg.Go(func() {
		if k.WaitForSync(ctx) {
			k.log().Info("synced with the API server", zap.Duration("after", time.Since(start)))
		}
	})
	wg.Wait()
	return nil
}

// Synced reports whether every reflector has listed its objects and Kube
// has handed all of them to the Sink (and released it, if it is a Batcher).
// It stays true once true, including while the API server is unreachable:
// the Sink then serves the last known state. It is cheap enough to ask per
// query.
func (k *Kube) Synced() bool {
	return k.synced.Load()
}

// storeSynced runs on a store's first Replace: the last one releases the
// Sink, on the spot rather than at the next look at Synced.
func (k *Kube) storeSynced() {
	if k.unsynced.Add(-1) == 0 {
		k.release()
		k.synced.Store(true)
	}
}

// release releases the Sink if Run held it, once.
func (k *Kube) release() {
	k.releaseOnce.Do(func() {
		if k.batch != nil {
			k.sinkMu.Lock()
			defer k.sinkMu.Unlock()
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

// compactClient is the Client the reflectors use: Client's compact variant
// if it has one (NewClient's has).
func (k *Kube) compactClient() Client {
	if c, ok := k.Client.(compactClient); ok {
		return c.compactObjects()
	}
	return k.Client
}

func (k *Kube) serviceReflector(ns string, store cache.ReflectorStore) func(context.Context) {
	client, sel := k.compactClient(), k.LabelSelector
	l := k.newLink("services", ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel
			list, err := client.ListServices(ctx, ns, o)
			return list, l.result(ctx, o, err)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (apiwatch.Interface, error) {
			o.LabelSelector = sel
			w, err := client.WatchServices(ctx, ns, o)
			return w, l.result(ctx, o, err)
		},
	}
	return l.run(cache.NewReflectorWithOptions(lw, &corev1.Service{}, store, cache.ReflectorOptions{Name: l.what}))
}

func (k *Kube) sliceReflector(ns string, store cache.ReflectorStore) func(context.Context) {
	client := k.compactClient()
	l := k.newLink("endpointslices", ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			list, err := client.ListEndpointSlices(ctx, ns, o)
			return list, l.result(ctx, o, err)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (apiwatch.Interface, error) {
			w, err := client.WatchEndpointSlices(ctx, ns, o)
			return w, l.result(ctx, o, err)
		},
	}
	return l.run(cache.NewReflectorWithOptions(lw, &discoveryv1.EndpointSlice{}, store, cache.ReflectorOptions{Name: l.what}))
}

// run returns what Reflector.RunWithContext does, with the link reporting
// failures instead of client-go's default handler (which only logs through
// klog), and the same backoff: from 0.8 s doubling to 30 s, reset after two
// healthy minutes.
func (l *kubeLink) run(r *cache.Reflector) func(context.Context) {
	return func(ctx context.Context) {
		backoff := wait.NewExponentialBackoffManager(800*time.Millisecond, 30*time.Second, 2*time.Minute, 2.0, 1.0, clock.RealClock{})
		wait.BackoffUntil(func() {
			// A failed request that ends the round was reported by result
			// already; what else ends it (a list it cannot decode) was not.
			// A watch too old or too new only asks for a relist, as result
			// judges it too.
			if err := r.ListAndWatchWithContext(ctx); err != nil && ctx.Err() == nil && !relistError(err) && !l.reported(err) {
				l.failed(err)
			}
		}, backoff, true, ctx.Done())
	}
}

// errorLogEvery spaces the warnings of one failure streak: a reflector
// retries every 30-60 s while the API server is away, for each resource.
const errorLogEvery = time.Minute

// kubeLink is the health of one reflector's connection, for logs and the
// staleness metric.
type kubeLink struct {
	k    *Kube
	what string

	mu         sync.Mutex
	down       time.Time // start of the current failure streak; zero when up
	logged     time.Time // last warning in the streak
	suppressed int       // failures since that warning
	last       error     // the last failure reported
}

func (k *Kube) newLink(resource, ns string) *kubeLink {
	what := resource + " in all namespaces"
	if ns != metav1.NamespaceAll {
		what = resource + " in namespace " + ns
	}
	return &kubeLink{k: k, what: what}
}

// result notes the outcome of a list or watch request (made with o) and
// returns err. A failure is reported here, as it happens: client-go retries
// a refused connection or a 429 inside ListAndWatch without returning, so
// an API server that is restarting, or not there at all, would otherwise
// never be reported. Not failures: a request cut short by shutdown, an
// expired or too new resourceVersion (the reflector relists), and a
// watch-list request the API server rejects (1.33's default has the
// WatchList feature off): client-go then lists instead, and that list's
// outcome tells whether the API server is reachable.
func (l *kubeLink) result(ctx context.Context, o metav1.ListOptions, err error) error {
	switch {
	case err == nil:
		l.reachable()
	case ctx.Err() != nil, relistError(err):
	case o.SendInitialEvents != nil && *o.SendInitialEvents && isAPIStatus(err) && !apierrors.IsTooManyRequests(err):
	default:
		l.failed(err)
	}
	return err
}

// relistError reports the errors on which a reflector starts over with a
// fresh list, as it does after a long disconnection.
func relistError(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err) ||
		apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge)
}

// isAPIStatus reports whether err is an answer from the API server.
func isAPIStatus(err error) bool {
	var s apierrors.APIStatus
	return errors.As(err, &s)
}

// reported reports whether err is, or wraps, the last failure reported, as
// the error ending a ListAndWatch round does when result reported it.
func (l *kubeLink) reported(err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last != nil && errors.Is(err, l.last)
}

// reachable notes a successful request: contact for the staleness gauge,
// and the end of a failure streak.
func (l *kubeLink) reachable() {
	l.k.Metrics.Touch()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down.IsZero() {
		l.k.log().Info("API server reachable again", zap.String("watch", l.what),
			zap.Duration("after", time.Since(l.down)), zap.Int("suppressedErrors", l.suppressed))
		l.down, l.logged, l.suppressed = time.Time{}, time.Time{}, 0
	}
}

// failed reports a list or watch failure: the first of a streak, then at
// most one per errorLogEvery with the count of those left out.
func (l *kubeLink) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = err
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
