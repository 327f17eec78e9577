package watch

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

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
	if err := l.result(nil); err != nil {
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
