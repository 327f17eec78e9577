// Command slicedns is a Kubernetes cluster DNS server that answers for
// Services from EndpointSlices, from a live cluster or a folder of manifests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit code: 0 after a clean shutdown or -h, 2 for a
// bad command line, 1 when serving fails. Errors are one line on stderr.
func run(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "explain" {
		return runExplain(args[1:], os.Stdout, stderr)
	}
	if len(args) > 0 && args[0] == "check" {
		return runCheck(args[1:], os.Stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "slicedns: %v\n", err)
		return 2
	}
	log, err := newLogger(cfg.logFormat, cfg.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "slicedns: %v\n", err)
		return 2
	}
	defer log.Sync()
	memCeiling, userLimit := setMemoryLimit(log)
	sampleAllocations(cfg.pprof)
	watch.StreamInitialLists()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log, newSource, memCeiling, userLimit); err != nil {
		log.Error("exiting", zap.Error(err))
		fmt.Fprintf(stderr, "slicedns: %v\n", err)
		return 1
	}
	return 0
}

// source is what serve needs of a watch source.
type source interface {
	Run(ctx context.Context) error
	Synced() bool
}

// newSourceFunc is newSource's type, for tests to serve from a source of
// their own.
type newSourceFunc func(cfg *config, z *zone.Zone, log *zap.Logger, m *watch.Metrics) (source, string, error)

// serve runs slicedns, from the source newSrc makes, until ctx is done or
// the source fails. Once the source is synced it keeps the memory limit
// below memCeiling (0 for none; see tidyMemory), unless userLimit says
// GOMEMLIMIT is the user's.
func serve(ctx context.Context, cfg *config, log *zap.Logger, newSrc newSourceFunc, memCeiling uint64, userLimit bool) error {
	gcAfterSync := tuneGC() // before the source loads anything
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	z := zone.New()
	registerZoneMetrics(reg, z)
	wm := watch.NewMetrics(reg)

	src, desc, err := newSrc(cfg, z, log, wm)
	if err != nil {
		return err
	}
	srcCtx, stopSource := context.WithCancel(context.Background())
	defer stopSource()
	srcDone := make(chan struct{}) // closed once Run has returned srcErr
	var srcErr error
	go func() { srcErr = src.Run(srcCtx); close(srcDone) }()
	go gcAfterSync(srcCtx, src.Synced)
	var follow *memFollower
	if !userLimit {
		follow = &memFollower{synced: src.Synced, ceiling: memCeiling}
	}
	go tidyMemory(srcCtx, follow)
	var draining, dnsOpen atomic.Bool
	ready := func() (bool, string) {
		switch {
		case draining.Load():
			return false, "shutting down"
		case !src.Synced():
			return false, "not synced with " + desc
		case !dnsOpen.Load():
			// Between the sync and the bind, for a moment.
			return false, "DNS port not open yet"
		}
		return true, ""
	}
	var fwd *dns.Forwarder
	if len(cfg.upstreams) > 0 {
		cacheTTL, cacheSize := cfg.cacheTTL, cfg.cacheSize
		if cacheTTL == 0 || cacheSize == 0 {
			cacheTTL = -1 // off; 0 is the default to dns
		}
		if fwd, err = dns.NewForwarder(dns.ForwarderOptions{
			Upstreams: cfg.upstreams, Timeout: cfg.upstreamTimeout, Budget: cfg.upstreamBudget, MaxConcurrent: cfg.upstreamMax,
			CacheTTL: cacheTTL, CacheSize: cacheSize, Logger: log, Metrics: dns.NewForwardMetrics(reg),
		}); err != nil {
			return fmt.Errorf("--upstream: %w", err)
		}
	}
	self, err := serverAddrs(cfg.dnsAddr, net.InterfaceAddrs)
	if err != nil {
		// Only ns.dns.<zone> depends on them.
		log.Warn("cannot list this machine's addresses: ns.dns names will not resolve", zap.Error(err))
	}
	h := dns.NewHandler(z, dns.Options{
		Zones: cfg.zones, TTL: cfg.ttl, Ready: src.Synced,
		Metrics: dns.NewMetrics(reg), Logger: log, LogQueries: cfg.logQueries,
		Forwarder: fwd, PodRecords: cfg.podRecords, FixedOrder: cfg.fixedOrder,
		ServerAddrs: self, NSID: cfg.nsid, TransferTo: cfg.transferTo,
		Problems: problemsOf(src),
	})

	// The HTTP port opens before the wait for the first sync: the liveness
	// probe must find /healthz however long --startup-timeout is, and
	// /readyz says why the pod is not ready yet.
	httpLn, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	var explain func(string) *dns.Explanation
	if cfg.httpExplain {
		explain = h.Explain
	}
	httpSrv := &http.Server{Handler: httpMux(reg, ready, cfg.pprof, explain), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() {
		if err := httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	log.Info("HTTP endpoints open", zap.String("http_addr", httpLn.Addr().String()))

	waitSynced(ctx, src, srcDone, cfg.startupTimeout, log)
	// Failing at start ends slicedns as failing later does (below).
	select {
	case <-srcDone:
		if srcErr != nil {
			httpSrv.Close()
			return srcErr
		}
	default:
	}
	dnsSrv := &dns.Server{Addr: cfg.dnsAddr, Handler: h}
	if err := dnsSrv.Listen(); err != nil {
		httpSrv.Close()
		return bindHint(err)
	}
	dnsOpen.Store(true)
	go func() { errc <- dnsSrv.Serve() }()
	if len(cfg.notify) > 0 {
		// After the DNS server is up: a secondary told of the zone asks
		// for it at once.
		notifyCtx, stopNotify := context.WithCancel(context.Background())
		defer stopNotify()
		go (&dns.Notifier{Handler: h, Targets: cfg.notify, Logger: log}).Run(notifyCtx)
	}
	if fwd != nil {
		// The probes start once the DNS server is up: a loop probe is
		// detected when it comes back to it.
		fwdCtx, stopFwd := context.WithCancel(context.Background())
		defer stopFwd()
		go fwd.Run(fwdCtx)
	}
	log.Info("serving",
		zap.String("dns_addr", dnsSrv.LocalAddr().String()),
		zap.String("http_addr", httpLn.Addr().String()),
		zap.Strings("zones", cfg.zones),
		zap.Strings("upstreams", cfg.upstreams),
		zap.Duration("upstream_cache_ttl", cfg.cacheTTL),
		zap.String("source", desc),
		zap.Bool("synced", src.Synced()))

	select {
	case <-ctx.Done():
	case err := <-errc:
		dnsSrv.Shutdown(context.Background())
		httpSrv.Close()
		return err
	case <-srcDone:
		if srcErr != nil {
			dnsSrv.Shutdown(context.Background())
			httpSrv.Close()
			return srcErr
		}
	}
	// Lame duck: stay in service while load balancers see /readyz fail and
	// take this instance out, so a rolling update drops no queries.
	draining.Store(true)
	// On a laptop Ctrl-C waits the lame duck too, with the ports held.
	log.Info("shutting down: lame duck (a second Ctrl-C or SIGTERM stops at once)", zap.Duration("lameduck", cfg.lameduck))
	select {
	case <-time.After(cfg.lameduck):
	case <-forceSignal():
	}
	stopSource()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = errors.Join(dnsSrv.Shutdown(shutCtx), httpSrv.Shutdown(shutCtx))
	log.Info("stopped")
	return err
}

// forceSignal fires on a second SIGINT/SIGTERM, to skip the lame duck.
func forceSignal() <-chan os.Signal {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	return c
}

// waitSynced waits up to timeout for src's first sync, or until ctx is done
// or the source has ended (srcDone is closed): one that failed at start
// would never sync.
func waitSynced(ctx context.Context, src source, srcDone <-chan struct{}, timeout time.Duration, log *zap.Logger) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !src.Synced() {
		select {
		case <-ctx.Done():
			return
		case <-srcDone:
			return
		case <-deadline.C:
			log.Warn("not synced after --startup-timeout: answering SERVFAIL until synced", zap.Duration("startup_timeout", timeout))
			return
		case <-tick.C:
		}
	}
}

// bindHint adds the usual cause to a failure to bind a privileged port.
func bindHint(err error) error {
	if strings.Contains(err.Error(), "permission denied") {
		return fmt.Errorf("%w (ports below 1024 need root or CAP_NET_BIND_SERVICE; try --dns-addr 127.0.0.1:5353)", err)
	}
	return err
}

func registerZoneMetrics(reg prometheus.Registerer, z *zone.Zone) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "slicedns_zone_services", Help: "Services served.",
		}, func() float64 { return float64(z.Snapshot().Stats().Services) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "slicedns_zone_ready_endpoints", Help: "Ready endpoint addresses served, after de-duplication.",
		}, func() float64 { return float64(z.Snapshot().Stats().ReadyEndpoints) }),
	)
}
