package watch

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// fakeAPIServer answers NewClient's four requests the way kube-apiserver
// does, in the media type the request accepts first, and records each
// request as "METHOD URL Accept User-Agent".
type fakeAPIServer struct {
	t        *testing.T
	codecs   serializer.CodecFactory
	requests chan string
}

// clientScheme registers what NewClient's scheme does: the meta types, v1
// and discovery/v1.
func clientScheme(t testing.TB) *runtime.Scheme {
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, metav1.SchemeGroupVersion)
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := discoveryv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return scheme
}

func newFakeAPIServer(t *testing.T) *httptest.Server {
	f := &fakeAPIServer{t: t, codecs: serializer.NewCodecFactory(clientScheme(t)), requests: make(chan string, 10)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests <- strings.Join([]string{r.Method, r.URL.String(), r.Header.Get("Accept"), r.Header.Get("User-Agent")}, " ")
	mediaType := runtime.ContentTypeJSON
	if strings.HasPrefix(r.Header.Get("Accept"), runtime.ContentTypeProtobuf) {
		mediaType = runtime.ContentTypeProtobuf
	}
	info, _ := runtime.SerializerInfoForMediaType(f.codecs.SupportedMediaTypes(), mediaType)

	svc, slice := kubeHeadless("ns", "web"), kubeSlice("ns", "web-1", "web", "10.0.0.1")
	svc.ResourceVersion, slice.ResourceVersion = "7", "8"
	var obj runtime.Object
	var gv = corev1.SchemeGroupVersion
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/v1/"):
		obj = svc
	case strings.HasPrefix(r.URL.Path, "/apis/discovery.k8s.io/v1/"):
		obj, gv = slice, discoveryv1.SchemeGroupVersion
	default:
		http.NotFound(w, r)
		return
	}
	enc := f.codecs.EncoderForVersion(info.Serializer, gv)

	if r.URL.Query().Get("watch") != "true" {
		var list runtime.Object = &corev1.ServiceList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}, Items: []corev1.Service{*svc}}
		if gv != corev1.SchemeGroupVersion {
			list = &discoveryv1.EndpointSliceList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}, Items: []discoveryv1.EndpointSlice{*slice}}
		}
		w.Header().Set("Content-Type", mediaType)
		if err := enc.Encode(list, w); err != nil {
			f.t.Error(err)
		}
		return
	}
	// A watch: one ADDED event, then the stream stays open, as the API
	// server's does until the watch times out.
	raw, err := runtime.Encode(enc, obj)
	if err != nil {
		f.t.Error(err)
		return
	}
	w.Header().Set("Content-Type", mediaType+";stream=watch")
	w.WriteHeader(http.StatusOK)
	s := info.StreamSerializer
	events := streaming.NewEncoder(s.Framer.NewFrameWriter(w), s.Serializer)
	if err := events.Encode(&metav1.WatchEvent{Type: string(apiwatch.Added), Object: runtime.RawExtension{Raw: raw}}); err != nil {
		f.t.Error(err)
	}
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

// TestNewClient checks the requests NewClient sends, and that it decodes
// lists and watch events in either media type. The real API server's
// answers are tested in TestKubeAPIServerClientMediaTypes.
func TestNewClient(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        rest.Config // Host is filled in
		wantAccept string
	}{
		// A bare config gets protobuf, as a clientset's requests do.
		{"default", rest.Config{UserAgent: "test-agent"}, "application/vnd.kubernetes.protobuf,application/json"},
		{"json", rest.Config{UserAgent: "test-agent", ContentConfig: rest.ContentConfig{ContentType: runtime.ContentTypeJSON, AcceptContentTypes: runtime.ContentTypeJSON}}, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeAPIServer(t)
			requests := srv.Config.Handler.(*fakeAPIServer).requests
			cfg := tc.cfg
			cfg.Host = srv.URL
			c, err := NewClient(&cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			wantRequest := func(url string) {
				t.Helper()
				if got, want := <-requests, "GET "+url+" "+tc.wantAccept+" test-agent"; got != want {
					t.Errorf("request:\n got %s\nwant %s", got, want)
				}
			}

			svcs, err := c.ListServices(ctx, "ns", metav1.ListOptions{LabelSelector: "a=b", Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			wantRequest("/api/v1/namespaces/ns/services?labelSelector=a%3Db&limit=500")
			if svcs.ResourceVersion != "9" || len(svcs.Items) != 1 || svcs.Items[0].Name != "web" || svcs.Items[0].Spec.ClusterIP != "None" {
				t.Errorf("ListServices: %+v", svcs)
			}

			slices, err := c.ListEndpointSlices(ctx, "", metav1.ListOptions{ResourceVersion: "0"})
			if err != nil {
				t.Fatal(err)
			}
			wantRequest("/apis/discovery.k8s.io/v1/endpointslices?resourceVersion=0")
			if len(slices.Items) != 1 || slices.Items[0].Name != "web-1" || slices.Items[0].Endpoints[0].Addresses[0] != "10.0.0.1" {
				t.Errorf("ListEndpointSlices: %+v", slices)
			}

			timeout := int64(300)
			w, err := c.WatchServices(ctx, "", metav1.ListOptions{ResourceVersion: "9", AllowWatchBookmarks: true, TimeoutSeconds: &timeout})
			if err != nil {
				t.Fatal(err)
			}
			// timeout is the client-side limit, which the API server applies too.
			wantRequest("/api/v1/services?allowWatchBookmarks=true&resourceVersion=9&timeout=5m0s&timeoutSeconds=300&watch=true")
			if e := nextEvent(t, w); e.Type != apiwatch.Added || e.Object.(*corev1.Service).ResourceVersion != "7" {
				t.Errorf("WatchServices: %+v", e)
			}

			w, err = c.WatchEndpointSlices(ctx, "ns", metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantRequest("/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices?watch=true")
			if e := nextEvent(t, w); e.Type != apiwatch.Added || e.Object.(*discoveryv1.EndpointSlice).Endpoints[0].Addresses[0] != "10.0.0.1" {
				t.Errorf("WatchEndpointSlices: %+v", e)
			}
		})
	}
}

// nextEvent returns w's next event and stops w, waiting for its goroutine
// to end: it may still log, and a later test swaps klog's logger
// (TestKubeKlogToZap), which klog does not allow while others log.
func nextEvent(t *testing.T, w apiwatch.Interface) apiwatch.Event {
	t.Helper()
	defer func() {
		w.Stop()
		for range w.ResultChan() {
		}
	}()
	select {
	case e, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed without an event")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	panic("unreachable")
}

func TestNewClientConfig(t *testing.T) {
	if _, err := NewClient(&rest.Config{Host: "https://h", QPS: 5, Burst: -1}); err == nil {
		t.Error("NewClient accepted a negative Burst")
	}
	if _, err := NewClient(&rest.Config{Host: "https://h", TLSClientConfig: rest.TLSClientConfig{CAFile: "/nonexistent"}}); err == nil {
		t.Error("NewClient accepted a CA file that does not exist")
	}
	cfg := &rest.Config{Host: "https://h"}
	if _, err := NewClient(cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.UserAgent != "" || cfg.RateLimiter != nil || cfg.NegotiatedSerializer != nil {
		t.Errorf("NewClient changed the caller's config: %+v", cfg)
	}
}
