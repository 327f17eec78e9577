package main

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slicedns/slicedns/dns"
)

// httpMux serves the operator endpoints: /metrics, /healthz (liveness: the
// process answers), /readyz (the zone is synced and not shutting down),
// and, when explain is set, /explain?name=NAME (why NAME resolves as it
// does, as JSON).
func httpMux(reg *prometheus.Registry, ready func() (bool, string), withPprof bool, explain func(string) *dns.Explanation) *http.ServeMux {
	mux := http.NewServeMux()
	if explain != nil {
		mux.Handle("GET /explain", explainHandler(explain))
	} else {
		// What /explain shows (selectors, nodes, pod names, endpoints
		// that are not ready) is more than DNS tells, and more than most
		// pods may read from the API server; say how to turn it on.
		mux.HandleFunc("/explain", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "/explain is off: start slicedns with --http-explain", http.StatusNotFound)
		})
	}
	// Uncompressed: the page is a few kilobytes, and each gzip writer the
	// handler pools holds about a megabyte for the life of the process.
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, DisableCompression: true}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := ready()
		if !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
