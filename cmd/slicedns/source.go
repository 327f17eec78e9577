package main

import (
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
)

// newSource picks the source the flags ask for: a manifests folder, loaded
// once here so an unreadable folder fails at start, or a cluster.
func newSource(cfg *config, z *zone.Zone, log *zap.Logger, m *watch.Metrics) (source, string, error) {
	if cfg.manifests != "" {
		src := &watch.Manifests{Dir: cfg.manifests, Sink: z, Logger: log, Metrics: m,
			Namespaces: cfg.namespaces, LabelSelector: cfg.labelSelector}
		if err := src.Load(); err != nil {
			return nil, "", fmt.Errorf("--manifests: %w", err)
		}
		return src, "manifests " + cfg.manifests, nil
	}
	src, host, err := newKube(cfg.kubeconfig, z, log)
	if err != nil {
		return nil, "", fmt.Errorf("no cluster to watch: %w (give --manifests DIR, --kubeconfig PATH, or run in a pod)", err)
	}
	src.Namespaces, src.LabelSelector, src.Metrics = cfg.namespaces, cfg.labelSelector, m
	return src, "cluster " + host, nil
}

// newKube is the cluster source for a kubeconfig path ("" for $KUBECONFIG,
// else in-cluster), with client-go's logs routed to log. It returns the API
// server's address too, for messages.
func newKube(kubeconfig string, z *zone.Zone, log *zap.Logger) (*watch.Kube, string, error) {
	watch.KlogToZap(log)
	rc, err := watch.RESTConfig(kubeconfig)
	if err != nil {
		return nil, "", err
	}
	client, err := watch.NewClient(rc)
	if err != nil {
		return nil, "", err
	}
	return &watch.Kube{Client: client, Sink: z, Logger: log}, rc.Host, nil
}

// serviceProblems is what a source that can say what it refused offers
// explain: watch.Manifests does.
type serviceProblems interface {
	ServiceProblems(namespace, name string) []watch.Problem
}

// problemsOf adapts src to dns.Options.Problems, or returns nil when src
// cannot tell; dns does not import watch.
func problemsOf(src any) func(namespace, name string) []dns.Problem {
	ps, ok := src.(serviceProblems)
	if !ok {
		return nil
	}
	return func(namespace, name string) []dns.Problem {
		var out []dns.Problem
		for _, p := range ps.ServiceProblems(namespace, name) {
			out = append(out, dns.Problem{Message: oneLine(p.Err.Error()), Kind: p.Kind, Name: p.Name, Kept: p.Kept})
		}
		return out
	}
}

// oneLine keeps a problem to its line: a parser's message could span more.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
