package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
)

// fakeSource runs run and is synced once run says so.
type fakeSource struct {
	synced atomic.Bool
	run    func(ctx context.Context, synced *atomic.Bool) error
}

func (s *fakeSource) Run(ctx context.Context) error { return s.run(ctx, &s.synced) }
func (s *fakeSource) Synced() bool                  { return s.synced.Load() }

// served is serve running in-process.
type served struct {
	logs *observer.ObservedLogs
	done chan struct{} // closed once serve has returned err
	err  error
}

// serveFrom runs serve in-process on loopback ports with args, from src,
// until the test ends.
func serveFrom(t *testing.T, src source, args ...string) *served {
	t.Helper()
	args = append([]string{"--dns-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--lameduck", "0s"}, args...)
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	s := &served{logs: logs, done: make(chan struct{})}
	newSrc := func(*config, *zone.Zone, *zap.Logger, *watch.Metrics) (source, string, error) {
		return src, "fake source", nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	gogc := debug.SetGCPercent(100) // serve sets its own (tuneGC)
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not return 10s after its context was done")
		}
		debug.SetGCPercent(gogc)
	})
	// userLimit leaves the memory limit alone, as for a user's GOMEMLIMIT.
	go func() { s.err = serve(ctx, cfg, zap.New(core), newSrc, 0, true); close(s.done) }()
	return s
}

// A source that fails ends serve with its error, at start as promptly as
// later: a source that failed will never sync, so start-up does not wait
// --startup-timeout for it.
func TestServeEndsWhenTheSourceFails(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(ctx context.Context, synced *atomic.Bool) error
	}{
		{"at start", func(context.Context, *atomic.Bool) error { return errors.New("source failed") }},
		{"once serving", func(ctx context.Context, synced *atomic.Bool) error {
			synced.Store(true)
			time.Sleep(200 * time.Millisecond)
			return errors.New("source failed")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := serveFrom(t, &fakeSource{run: c.run}, "--startup-timeout", "1m")
			select {
			case <-s.done:
				if s.err == nil || s.err.Error() != "source failed" {
					t.Errorf("serve returned %v, want the source's error", s.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("serve still running 10s after its source failed")
			}
		})
	}
}

// The HTTP endpoints answer while start-up waits for the first sync, so
// that a liveness probe finds /healthz however long --startup-timeout is;
// /readyz says why the server is not ready until it is.
func TestServeAnswersHTTPWhileWaitingForTheSync(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	src := &fakeSource{run: func(ctx context.Context, _ *atomic.Bool) error { <-ctx.Done(); return nil }}
	s := serveFrom(t, src, "--http-addr", addr, "--startup-timeout", "1m")
	get := func(path string) (int, string, error) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, err := get("/healthz")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTP endpoints 10s into a 1m --startup-timeout: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 503, "not synced with fake source"},
		{"/metrics", 200, "slicedns_watch_staleness_seconds"},
	} {
		code, body, err := get(c.path)
		if err != nil || code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s before the sync: %d %q, %v; want %d with %q", c.path, code, body, err, c.code, c.body)
		}
	}
	if s.logs.FilterMessage("serving").Len() != 0 {
		t.Error("the DNS port opened before the sync")
	}

	src.synced.Store(true)
	for s.logs.FilterMessage("serving").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("not serving DNS 10s after the sync")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body, err := get("/readyz"); code != 200 {
		t.Errorf("/readyz once serving: %d %q, %v; want 200", code, body, err)
	}
}
