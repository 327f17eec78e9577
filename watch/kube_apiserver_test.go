package watch

// Tests of Kube against a real kube-apiserver and etcd (internal/kubetest).
// With -short, or without the binaries outside CI, they are skipped and no
// cluster is started.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/slicedns/slicedns/internal/kubetest"
	"github.com/slicedns/slicedns/zone"
)

// kc is the package's shared cluster. Tests that stop its API server must
// take their own from kubetest.New instead.
var kc *kubetest.Cluster

func TestMain(m *testing.M) { kubetest.Main(m, &kc) }

// slicednsUser is the ServiceAccount that deploy/rbac.yaml binds.
const slicednsUser = "system:serviceaccount:slicedns:slicedns"

// rbacDone holds, per cluster, the outcome of applying deploy/rbac.yaml.
var rbacDone sync.Map // *kubetest.Cluster -> func() error

// slicednsConfig returns a config made by RESTConfig that acts as the
// slicedns ServiceAccount with exactly the permissions deploy/rbac.yaml
// grants, so every test also proves that Kube needs no more than those.
func slicednsConfig(t *testing.T, c *kubetest.Cluster) *rest.Config {
	t.Helper()
	apply, _ := rbacDone.LoadOrStore(c, sync.OnceValue(func() error { return applyRBAC(c) }))
	if err := apply.(func() error)(); err != nil {
		t.Fatal(err)
	}
	path, err := c.KubeconfigFor(slicednsUser)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := RESTConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func applyRBAC(c *kubetest.Cluster) error {
	data, err := os.ReadFile("../deploy/rbac.yaml")
	if err != nil {
		return err
	}
	ctx := context.Background()
	rbac := c.Client.RbacV1()
	for doc := range strings.SplitSeq(string(data), "\n---\n") {
		var head metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return err
		}
		switch head.Kind {
		case "ClusterRole":
			var o rbacv1.ClusterRole
			if err = yaml.UnmarshalStrict([]byte(doc), &o); err == nil {
				_, err = rbac.ClusterRoles().Create(ctx, &o, metav1.CreateOptions{})
			}
		case "ClusterRoleBinding":
			var o rbacv1.ClusterRoleBinding
			if err = yaml.UnmarshalStrict([]byte(doc), &o); err == nil {
				_, err = rbac.ClusterRoleBindings().Create(ctx, &o, metav1.CreateOptions{})
			}
		default:
			err = fmt.Errorf("deploy/rbac.yaml: unexpected kind %q", head.Kind)
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	// The API server's authorizer learns of new roles through its own
	// informers: wait until the grant is in force.
	path, err := c.KubeconfigFor(slicednsUser)
	if err != nil {
		return err
	}
	cfg, err := RESTConfig(path)
	if err != nil {
		return err
	}
	sa, err := NewClient(cfg)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err = sa.ListEndpointSlices(ctx, "", metav1.ListOptions{Limit: 1})
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}

// kubeRun is a Kube running until the test ends, with its logs observed
// and its Sink calls counted and checked.
type kubeRun struct {
	*Kube
	zone  *zone.Zone
	logs  *observer.ObservedLogs
	calls atomic.Int64

	mu      sync.Mutex
	check   func(*zone.Snapshot) error // run after every Sink call
	checked int
	failed  error
}

// always runs check on every snapshot that Kube publishes from now until
// stop, which reports how many were checked and the first failure. Each
// Sink call publishes one snapshot and Kube makes one at a time, so this
// sees every state a DNS reader could.
func (r *kubeRun) always(check func(*zone.Snapshot) error) (stop func() (int, error)) {
	r.mu.Lock()
	r.check, r.checked, r.failed = check, 0, nil
	r.mu.Unlock()
	return func() (int, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.check = nil
		return r.checked, r.failed
	}
}

// countingSink feeds the zone, counting calls and running kubeRun.check.
type countingSink struct{ r *kubeRun }

func (s countingSink) done() {
	s.r.calls.Add(1)
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.check != nil {
		s.r.checked++
		if err := s.r.check(s.r.zone.Snapshot()); err != nil && s.r.failed == nil {
			s.r.failed = err
		}
	}
}

func (s countingSink) UpsertService(v *zone.Service) error {
	defer s.done()
	return s.r.zone.UpsertService(v)
}

func (s countingSink) DeleteService(ns, name string) {
	defer s.done()
	s.r.zone.DeleteService(ns, name)
}

func (s countingSink) UpsertSlice(v *zone.Slice) error {
	defer s.done()
	return s.r.zone.UpsertSlice(v)
}

func (s countingSink) DeleteSlice(ns, name string) {
	defer s.done()
	s.r.zone.DeleteSlice(ns, name)
}

// runKube fills in k's Client (NewClient(cfg), as slicedns makes it), Sink,
// Logger and Metrics, and runs it until the test ends. It does not wait for
// the sync.
func runKube(t *testing.T, cfg *rest.Config, k *Kube) *kubeRun {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	r := &kubeRun{Kube: k, zone: zone.New(), logs: logs}
	client, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k.Client = client
	k.Sink, k.Logger, k.Metrics = countingSink{r}, zap.New(core), NewMetrics(prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- k.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			for _, e := range logs.All() {
				t.Logf("kube log: %s %s %v", e.Level, e.Message, e.ContextMap())
			}
		}
	})
	return r
}

func (r *kubeRun) waitSynced(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !r.WaitForSync(ctx) {
		t.Fatal("Kube did not sync within a minute")
	}
}

// countLogs counts the log entries whose message contains snippet.
func (r *kubeRun) countLogs(snippet string) int { return r.logs.FilterMessageSnippet(snippet).Len() }

// hasAddr is a kubeRun.always check that name resolves to at least ip.
func hasAddr(name, ip string) func(*zone.Snapshot) error {
	return func(s *zone.Snapshot) error {
		n, ok := s.Lookup(name)
		if !ok {
			return fmt.Errorf("%s does not exist", name)
		}
		for a := range n.A().All() {
			if a.String() == ip {
				return nil
			}
		}
		return fmt.Errorf("%s lacks %s: %v", name, ip, n.A().Slice())
	}
}

func create[T any](t *testing.T, ctx context.Context, create func(context.Context, T, metav1.CreateOptions) (T, error), obj T) {
	t.Helper()
	if _, err := create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func update[T any](t *testing.T, ctx context.Context, update func(context.Context, T, metav1.UpdateOptions) (T, error), obj T) {
	t.Helper()
	if _, err := update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestKubeAPIServerHeadlessLifecycle(t *testing.T) {
	c := kubetest.Require(t, kc)
	t.Parallel()
	ns := c.Namespace(t)
	ctx := t.Context()
	svcs, eps := c.Client.CoreV1().Services(ns), c.Client.DiscoveryV1().EndpointSlices(ns)
	// Cluster-wide, as deployed: other tests' objects come and go meanwhile.
	k := runKube(t, slicednsConfig(t, c), &Kube{})
	k.waitSynced(t)
	name := "web." + ns + ".svc"

	create(t, ctx, svcs.Create, kubeHeadless(ns, "web"))
	a := kubeSlice(ns, "web-a", "web", "10.1.0.1", "10.1.0.2", "!10.1.0.3")
	create(t, ctx, eps.Create, a)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, name, "10.1.0.1", "10.1.0.2"))
	if n, ok := k.zone.Snapshot().Lookup("_http._tcp." + name); !ok || len(n.SRV()) != 2 {
		t.Errorf("SRV _http._tcp.%s = %v, %v; want 2 records", name, n, ok)
	}

	a.Endpoints[1].Conditions.Ready = kubePtr(false)
	update(t, ctx, eps.Update, a)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, name, "10.1.0.1"))

	b := kubeSlice(ns, "web-b", "web", "10.1.0.4")
	create(t, ctx, eps.Create, b)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, name, "10.1.0.1", "10.1.0.4"))

	// Move 10.1.0.1 from web-a to web-b the way the EndpointSlice
	// controller may: add it to the new slice first, then drop it from the
	// old one (which gains 10.1.0.5, so we can tell when that landed).
	stop := k.always(hasAddr(name, "10.1.0.1"))
	b.Endpoints = append(b.Endpoints, kubeSlice(ns, "", "", "10.1.0.1").Endpoints...)
	update(t, ctx, eps.Update, b)
	a = kubeSlice(ns, "web-a", "web", "!10.1.0.2", "!10.1.0.3", "10.1.0.5")
	update(t, ctx, eps.Update, a)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, name, "10.1.0.1", "10.1.0.4", "10.1.0.5"))
	n, err := stop()
	if err != nil {
		t.Fatalf("during the move: %v", err)
	}
	t.Logf("10.1.0.1 was served in each of the %d snapshots published during the move", n)

	for _, s := range []string{"web-a", "web-b"} {
		if err := eps.Delete(ctx, s, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, name)) // headless, no endpoints: NXDOMAIN
	if _, ok := k.zone.Snapshot().Lookup(ns + ".svc"); !ok {
		t.Errorf("%s.svc vanished while its Service exists", ns)
	}
	if err := svcs.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeEventually(t, 10*time.Second, func() error {
		if _, ok := k.zone.Snapshot().Lookup(ns + ".svc"); ok {
			return errors.New(ns + ".svc still exists after its only Service was deleted")
		}
		return nil
	})
}

// TestKubeAPIServerLongPortNames: the API server takes Service and
// EndpointSlice port names of up to 63 characters (DNS labels; 15 is a
// container port's limit), and such Services are served with their SRV
// records.
func TestKubeAPIServerLongPortNames(t *testing.T) {
	c := kubetest.Require(t, kc)
	t.Parallel()
	ns := c.Namespace(t)
	ctx := t.Context()
	k := runKube(t, slicednsConfig(t, c), &Kube{Namespaces: []string{ns}})
	k.waitSynced(t)
	long := strings.Repeat("p", 61) + "x" // the longest an SRV query can name
	svc := kubeHeadless(ns, "metrics")
	svc.Spec.Ports[0].Name = long
	create(t, ctx, c.Client.CoreV1().Services(ns).Create, svc)
	sl := kubeSlice(ns, "metrics-a", "metrics", "10.1.0.1")
	sl.Ports[0].Name = &long
	create(t, ctx, c.Client.DiscoveryV1().EndpointSlices(ns).Create, sl)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, "metrics."+ns+".svc", "10.1.0.1"))
	if n, ok := k.zone.Snapshot().Lookup("_" + long + "._tcp.metrics." + ns + ".svc"); !ok || len(n.SRV()) != 1 {
		t.Errorf("SRV of the %d-character port: %v, %v; want 1 record", len(long), n, ok)
	}
	if skipped := k.logs.FilterMessageSnippet("skipping an object").All(); len(skipped) > 0 {
		t.Errorf("objects skipped: %v", skipped[0].ContextMap())
	}
}

func TestKubeAPIServerLabelSelector(t *testing.T) {
	c := kubetest.Require(t, kc)
	t.Parallel()
	ns := c.Namespace(t)
	ctx := t.Context()
	svcs, eps := c.Client.CoreV1().Services(ns), c.Client.DiscoveryV1().EndpointSlices(ns)
	on, off := kubeHeadless(ns, "on"), kubeHeadless(ns, "off")
	on.Labels = map[string]string{"dns": "on"}
	create(t, ctx, svcs.Create, on)
	create(t, ctx, svcs.Create, off)
	create(t, ctx, eps.Create, kubeSlice(ns, "on-1", "on", "10.1.1.1"))
	create(t, ctx, eps.Create, kubeSlice(ns, "off-1", "off", "10.1.1.2"))

	k := runKube(t, slicednsConfig(t, c), &Kube{Namespaces: []string{ns}, LabelSelector: "dns=on"})
	k.waitSynced(t)
	// Synced means the whole initial lists were handled: no need to poll.
	if got := zoneAddrs(k.zone, "on."+ns+".svc"); !slices.Equal(got, []string{"10.1.1.1"}) {
		t.Errorf("selected Service: %v", got)
	}
	if got := zoneAddrs(k.zone, "off."+ns+".svc"); got != nil {
		t.Errorf("Service outside the selector served: %v", got)
	}

	off, err := svcs.Get(ctx, "off", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	off.Labels = map[string]string{"dns": "on"}
	update(t, ctx, svcs.Update, off)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, "off."+ns+".svc", "10.1.1.2"))

	on, err = svcs.Get(ctx, "on", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	on.Labels = nil
	update(t, ctx, svcs.Update, on)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, "on."+ns+".svc"))
}
