package watch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/slicedns/slicedns/zone"
)

func TestKubeLinkLogsAFailureStreakOnce(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := (&Kube{Logger: zap.New(core)}).newLink("services", "")
	for range 3 {
		l.failed(errors.New("connection refused"))
	}
	if got := logs.FilterLevelExact(zapcore.WarnLevel).All(); len(got) != 1 {
		t.Fatalf("3 failures within a minute logged %d warnings, want 1", len(got))
	}
	if err := l.result(t.Context(), metav1.ListOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	back := logs.FilterMessage("API server reachable again").All()
	if len(back) != 1 || back[0].ContextMap()["suppressedErrors"] != int64(2) {
		t.Errorf("recovery logged as %v, want once with 2 suppressed errors", back)
	}
	// A new streak warns again at once.
	l.failed(errors.New("EOF"))
	if got := logs.FilterLevelExact(zapcore.WarnLevel).Len(); got != 2 {
		t.Errorf("a second streak logged %d warnings in all, want 2", got)
	}
}

// Every event a reflector hands the store records contact, bookmarks
// (which reach the store only as a new resourceVersion) included.
func TestKubeStoreRecordsContact(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	s := (&Kube{Metrics: m, Sink: zone.New()}).serviceStore()
	m.lastContact.Store(0)
	s.UpdateResourceVersion("7")
	if m.lastContact.Load() == 0 {
		t.Error("a bookmark did not record contact")
	}
	m.lastContact.Store(0)
	svc := kubeHeadless("ns", "web")
	svc.ResourceVersion = "8"
	s.Add(svc)
	if m.lastContact.Load() == 0 {
		t.Error("an object did not record contact")
	}
}

// Each request's failure is reported as it happens, since client-go retries
// some inside ListAndWatch without returning them; what is not a failure of
// the link is not.
func TestKubeLinkResultReports(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://127.0.0.1:1/api/v1/services",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	svcs := schema.GroupResource{Resource: "services"}
	watchList := metav1.ListOptions{SendInitialEvents: kubePtr(true), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan}
	tooLarge := apierrors.NewTimeoutError("Too large resource version", 1)
	tooLarge.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge}}
	watchListOff := apierrors.NewInvalid(schema.GroupKind{Kind: "ListOptions"}, "", field.ErrorList{field.Forbidden(
		field.NewPath("sendInitialEvents"), "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled")})
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range []struct {
		name   string
		ctx    context.Context
		o      metav1.ListOptions
		err    error
		report bool
	}{
		{"refused", t.Context(), metav1.ListOptions{}, refused, true},
		{"refused watch-list", t.Context(), watchList, refused, true},
		{"forbidden", t.Context(), metav1.ListOptions{}, apierrors.NewForbidden(svcs, "", errors.New("RBAC")), true},
		{"too many requests", t.Context(), watchList, apierrors.NewTooManyRequests("slow down", 1), true},
		{"server error", t.Context(), metav1.ListOptions{}, apierrors.NewInternalError(errors.New("etcd")), true},
		{"shutting down", canceled, metav1.ListOptions{}, context.Canceled, false},
		{"expired", t.Context(), metav1.ListOptions{}, apierrors.NewResourceExpired("too old"), false},
		{"too large resourceVersion", t.Context(), metav1.ListOptions{}, tooLarge, false},
		{"watch-list feature off", t.Context(), watchList, watchListOff, false},
	} {
		core, logs := observer.New(zapcore.InfoLevel)
		m := NewMetrics(prometheus.NewRegistry())
		l := (&Kube{Logger: zap.New(core), Metrics: m}).newLink("services", "")
		m.lastContact.Store(1)
		if err := l.result(c.ctx, c.o, c.err); err != c.err {
			t.Errorf("%s: result returned %v, want %v", c.name, err, c.err)
		}
		if got := logs.FilterMessageSnippet("cannot list or watch").Len() == 1; got != c.report {
			t.Errorf("%s: reported %v, want %v", c.name, got, c.report)
		}
		if got := l.reported(fmt.Errorf("failed to list: %w", c.err)); got != c.report {
			t.Errorf("%s: the error ending the round counts as reported: %v, want %v", c.name, got, c.report)
		}
		if m.lastContact.Load() != 1 {
			t.Errorf("%s: a failure counted as contact for the staleness gauge", c.name)
		}
	}
}

// A list failure that ends a ListAndWatch round is counted once, by the
// request, not again as the round's error: the streak is logged once and
// the recovery counts each failure left out.
func TestKubeLinkCountsAFailedListOnce(t *testing.T) {
	var lists atomic.Int32
	setup := func(c *fake.Clientset) {
		c.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
			if lists.Add(1) <= 2 {
				return true, nil, apierrors.NewServiceUnavailable("starting")
			}
			return false, nil, nil
		})
	}
	e := startFakeWith(t, &Kube{}, setup)
	if got := e.logs.FilterMessageSnippet("cannot list or watch").Len(); got != 1 {
		t.Errorf("2 failed lists logged %d warnings, want 1", got)
	}
	back := e.logs.FilterMessage("API server reachable again").All()
	if len(back) != 1 || back[0].ContextMap()["suppressedErrors"] != int64(1) {
		t.Errorf("recovery logged as %v, want once with 1 suppressed error", back)
	}
}

// A watch refused as too old ends the round and asks for a relist: no
// outage to report, nor a recovery.
func TestKubeLinkExpiredWatchIsNoOutage(t *testing.T) {
	var watches atomic.Int32
	setup := func(c *fake.Clientset) {
		c.PrependWatchReactor("services", func(k8stesting.Action) (bool, apiwatch.Interface, error) {
			if watches.Add(1) == 1 {
				return true, nil, apierrors.NewResourceExpired("too old resource version")
			}
			return false, nil, nil
		})
	}
	e := startFakeWith(t, &Kube{}, setup)
	deadline := time.Now().Add(10 * time.Second)
	for watches.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if watches.Load() < 2 {
		t.Fatal("the services watch was not retried")
	}
	if got := e.logs.FilterMessageSnippet("cannot list or watch").All(); len(got) > 0 {
		t.Errorf("an expired watch was logged as an outage: %v", got[0].ContextMap())
	}
	if got := e.logs.FilterMessage("API server reachable again").Len(); got > 0 {
		t.Errorf("an expired watch was followed by %d recovery lines", got)
	}
}
