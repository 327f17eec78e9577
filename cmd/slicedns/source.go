package main

import (
	"fmt"

	"go.uber.org/zap"

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
