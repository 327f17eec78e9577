package watch

import (
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/slicedns/slicedns/internal/kubetest"
)

// cutProxy is a TCP proxy to the API server that can cut Kube off while
// the API server stays up for the test's own client.
type cutProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	up      bool
	conns   map[net.Conn]bool
	refused atomic.Int64 // connections closed at once while cut
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, up: true, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		up := p.up
		if up {
			p.conns[c] = true
		}
		p.mu.Unlock()
		if !up {
			p.refused.Add(1)
			c.Close()
			continue
		}
		go func() {
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				return
			}
			p.mu.Lock()
			p.conns[s] = true
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			io.Copy(c, s)
			c.Close()
		}()
	}
}

// cut closes every connection and refuses new ones until restore.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = false
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = true
}

// TestKubeAPIServerReconnect cuts Kube off, changes objects meanwhile and
// reconnects: the zone keeps the last state while cut off, then catches up
// (a relist whose Replace turns the vanished objects into deletes) without
// dropping, in any snapshot, a name that exists before and after.
func TestKubeAPIServerReconnect(t *testing.T) {
	c := kubetest.Require(t, kc)
	t.Parallel()
	ns := c.Namespace(t)
	ctx := t.Context()
	svcs, eps := c.Client.CoreV1().Services(ns), c.Client.DiscoveryV1().EndpointSlices(ns)
	create(t, ctx, svcs.Create, kubeHeadless(ns, "web"))
	create(t, ctx, eps.Create, kubeSlice(ns, "keep", "web", "10.2.0.1"))
	create(t, ctx, eps.Create, kubeSlice(ns, "gone", "web", "10.2.0.2"))
	create(t, ctx, eps.Create, kubeSlice(ns, "change", "web", "10.2.0.3"))
	create(t, ctx, svcs.Create, kubeHeadless(ns, "old"))
	create(t, ctx, eps.Create, kubeSlice(ns, "old-1", "old", "10.2.1.1"))

	cfg := slicednsConfig(t, c)
	server, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, server.Host)
	cfg = rest.CopyConfig(cfg)
	// The serving certificate is for 127.0.0.1, which the proxy shares.
	cfg.Host = "https://" + proxy.ln.Addr().String()
	k := runKube(t, cfg, &Kube{Namespaces: []string{ns}})
	k.waitSynced(t)
	web, old, fresh := "web."+ns+".svc", "old."+ns+".svc", "new."+ns+".svc"
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, web, "10.2.0.1", "10.2.0.2", "10.2.0.3"))
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, old, "10.2.1.1"))

	before := k.zone.Snapshot()
	proxy.cut()
	if err := eps.Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	update(t, ctx, eps.Update, kubeSlice(ns, "change", "web", "10.2.0.4"))
	if err := svcs.Delete(ctx, "old", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	create(t, ctx, svcs.Create, kubeHeadless(ns, "new"))
	create(t, ctx, eps.Create, kubeSlice(ns, "new-1", "new", "10.2.2.1"))
	// Kube keeps trying (client-go retries a list that hits a closed
	// connection inside the request, then the reflector backs off).
	tried := proxy.refused.Load()
	kubeEventually(t, 30*time.Second, func() error {
		if proxy.refused.Load() < tried+2 {
			return errors.New("Kube is not trying to reconnect")
		}
		return nil
	})
	if k.zone.Snapshot() != before || !k.Synced() {
		t.Fatal("the zone changed, or Kube stopped being synced, while cut off")
	}

	stop := k.always(hasAddr(web, "10.2.0.1"))
	restored := time.Now()
	proxy.restore()
	kubeEventually(t, time.Minute, wantZoneAddrs(k.zone, web, "10.2.0.1", "10.2.0.4"))
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, fresh, "10.2.2.1"))
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, old))
	n, err := stop()
	if err != nil {
		t.Fatalf("while catching up: %v", err)
	}
	t.Logf("caught up %v after reconnecting; 10.2.0.1 served in each of the %d snapshots published meanwhile", time.Since(restored).Round(time.Millisecond), n)
	for kind, want := range map[string]float64{"EndpointSlice": 1, "Service": 1} {
		if got := counterValue(t, k.Metrics.events.WithLabelValues(kind, "delete")); got != want {
			t.Errorf("%s deletes: %v, want %v", kind, got, want)
		}
	}
}

// TestKubeAPIServerRestart starts Kube while the API server is down, then
// restarts the API server under a running Kube. It stops the API server, so
// it has a cluster of its own.
func TestKubeAPIServerRestart(t *testing.T) {
	kubetest.Require(t, kc) // skip as the package does
	t.Parallel()
	c := kubetest.New(t, kubetest.Options{})
	ns := c.Namespace(t)
	ctx := t.Context()
	svcs, eps := c.Client.CoreV1().Services(ns), c.Client.DiscoveryV1().EndpointSlices(ns)
	create(t, ctx, svcs.Create, kubeHeadless(ns, "web"))
	create(t, ctx, eps.Create, kubeSlice(ns, "web-1", "web", "10.3.0.1"))
	cfg := slicednsConfig(t, c)
	web := "web." + ns + ".svc"

	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	k := runKube(t, cfg, &Kube{})
	kubeEventually(t, 30*time.Second, func() error {
		if k.countLogs("cannot list or watch") < 2 {
			return errors.New("no failed list reported yet")
		}
		return nil
	})
	if k.Synced() {
		t.Fatal("synced without an API server")
	}
	start := time.Now()
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	k.waitSynced(t)
	t.Logf("synced %v after the API server was ready (reflector backoff)", time.Since(start).Round(time.Millisecond))
	// Synced means the initial lists were handled: no polling.
	if got := zoneAddrs(k.zone, web); len(got) != 1 || got[0] != "10.3.0.1" {
		t.Fatalf("after sync %s = %v", web, got)
	}

	// The API server creates default/kubernetes itself, a moment after it
	// first starts; on a busy machine that can be after the sync above.
	// Counting Sink calls across the restart only means something once it
	// is in.
	kubeEventually(t, time.Minute, func() error {
		if _, ok := k.zone.Snapshot().Lookup("kubernetes.default.svc"); !ok {
			return errors.New("default/kubernetes not served yet")
		}
		return nil
	})

	// The API server goes away and comes back with nothing changed: the
	// zone keeps every answer, and the relists publish nothing. Sentinels
	// created after the restart, one per informer, tell when both are back.
	before, calls := k.zone.Snapshot(), k.calls.Load()
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if k.zone.Snapshot() != before || !k.Synced() {
		t.Fatal("the zone changed, or Kube stopped being synced, with the API server down")
	}
	start = time.Now()
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	sentinel := c.Namespace(t)
	create(t, ctx, c.Client.CoreV1().Services(sentinel).Create, kubeHeadless(sentinel, "s"))
	create(t, ctx, c.Client.DiscoveryV1().EndpointSlices(sentinel).Create, kubeSlice(sentinel, "s-1", "s", "10.3.9.9"))
	kubeEventually(t, time.Minute, wantZoneAddrs(k.zone, "s."+sentinel+".svc", "10.3.9.9"))
	t.Logf("reconnected %v after the API server was started", time.Since(start).Round(time.Millisecond))
	if got := k.calls.Load() - calls; got != 2 {
		t.Errorf("%d Sink calls across the restart, want 2 (the sentinels): unchanged objects were applied again", got)
	}
	if got := zoneAddrs(k.zone, web); len(got) != 1 || got[0] != "10.3.0.1" {
		t.Errorf("after the restart %s = %v", web, got)
	}

	update(t, ctx, eps.Update, kubeSlice(ns, "web-1", "web", "10.3.0.2"))
	create(t, ctx, svcs.Create, kubeHeadless(ns, "api"))
	create(t, ctx, eps.Create, kubeSlice(ns, "api-1", "api", "10.3.1.1"))
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, web, "10.3.0.2"))
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, "api."+ns+".svc", "10.3.1.1"))
}
