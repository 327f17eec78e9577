package watch

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	apiwatch "k8s.io/apimachinery/pkg/watch"
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

func TestKubeTouchingWatch(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	l := (&Kube{Metrics: m}).newLink("services", "ns")
	m.lastContact.Store(0)
	fw := apiwatch.NewFake()
	w, err := l.touching(fw, nil)
	if err != nil {
		t.Fatal(err)
	}
	go fw.Action(apiwatch.Bookmark, &corev1.Service{})
	if e := <-w.ResultChan(); e.Type != apiwatch.Bookmark {
		t.Errorf("got %v, want the bookmark passed through", e.Type)
	}
	if m.lastContact.Load() == 0 {
		t.Error("an event did not record contact")
	}
	// The reflector stops a watch without draining it: the forwarding
	// goroutine, blocked on an event nobody reads, must still end.
	fw.Add(&corev1.Service{})
	w.Stop()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, open := <-w.ResultChan():
			if !open {
				return
			}
		case <-deadline:
			t.Fatal("the result channel was not closed after Stop")
		}
	}
}
