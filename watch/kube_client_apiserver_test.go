package watch

import (
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/slicedns/slicedns/internal/kubetest"
)

// mediaTypes records, per kind of request ("list services", "watch
// endpointslices"), the Content-Types of the API server's answers.
type mediaTypes struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen map[string][]string
}

func (m *mediaTypes) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := m.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	verb := "list"
	if r.URL.Query().Get("watch") == "true" {
		verb = "watch"
	}
	resource := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[verb+" "+resource] = append(m.seen[verb+" "+resource], resp.Header.Get("Content-Type"))
	return resp, nil
}

func (m *mediaTypes) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprint(m.seen)
}

// check reports whether the answers to every kind of request Kube makes
// arrived, all in mediaType.
func (m *mediaTypes) check(mediaType string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, verb := range []string{"list", "watch"} {
		for _, resource := range []string{"services", "endpointslices"} {
			got := m.seen[verb+" "+resource]
			if len(got) == 0 {
				return fmt.Errorf("no %s %s yet", verb, resource)
			}
			for _, ct := range got {
				// Parameters vary: protobuf watches are ";stream=watch".
				if base, _, err := mime.ParseMediaType(ct); err != nil || base != mediaType {
					return fmt.Errorf("%s %s answered in %q, want %s", verb, resource, ct, mediaType)
				}
			}
		}
	}
	return nil
}

// TestKubeAPIServerClientMediaTypes runs Kube on NewClient against the real
// API server and checks that its lists and watches travel in protobuf as
// RESTConfig asks, or in JSON if a config asks for that, and decode either
// way: the objects and a change made after the sync reach the zone.
func TestKubeAPIServerClientMediaTypes(t *testing.T) {
	c := kubetest.Require(t, kc)
	t.Parallel()
	for _, mediaType := range []string{runtime.ContentTypeProtobuf, runtime.ContentTypeJSON} {
		t.Run(mediaType, func(t *testing.T) {
			t.Parallel()
			ns := c.Namespace(t)
			ctx := t.Context()
			svcs, eps := c.Client.CoreV1().Services(ns), c.Client.DiscoveryV1().EndpointSlices(ns)
			create(t, ctx, svcs.Create, kubeHeadless(ns, "web"))
			create(t, ctx, eps.Create, kubeSlice(ns, "web-1", "web", "10.1.9.1"))

			cfg := slicednsConfig(t, c)
			if mediaType == runtime.ContentTypeJSON {
				cfg.ContentType, cfg.AcceptContentTypes = mediaType, mediaType
			}
			seen := &mediaTypes{seen: map[string][]string{}}
			cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { seen.next = rt; return seen })
			k := runKube(t, cfg, &Kube{Namespaces: []string{ns}})
			k.waitSynced(t)
			if got := zoneAddrs(k.zone, "web."+ns+".svc"); len(got) != 1 || got[0] != "10.1.9.1" {
				t.Errorf("after the lists: web.%s.svc = %v", ns, got)
			}
			create(t, ctx, eps.Create, kubeSlice(ns, "web-2", "web", "10.1.9.2"))
			kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, "web."+ns+".svc", "10.1.9.1", "10.1.9.2"))
			// The watches have answered by now (an event came through one),
			// but their headers may be recorded a moment after the event.
			kubeEventually(t, 10*time.Second, func() error { return seen.check(mediaType) })
			t.Logf("answers: %v", seen)
		})
	}
}
