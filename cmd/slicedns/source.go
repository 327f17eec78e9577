package main

import (
	"fmt"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"

	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
)

// newSource picks the source the flags ask for: a manifests folder, loaded
// once here so an unreadable folder fails at start, or a cluster.
func newSource(cfg *config, z *zone.Zone, log *zap.Logger, m *watch.Metrics) (source, string, error) {
	if cfg.manifests != "" {
		src := &watch.Manifests{Dir: cfg.manifests, Sink: z, Logger: log, Metrics: m}
		if err := src.Load(); err != nil {
			return nil, "", fmt.Errorf("--manifests: %w", err)
		}
		return src, "manifests " + cfg.manifests, nil
	}
	watch.KlogToZap(log)
	rc, err := watch.RESTConfig(cfg.kubeconfig)
	if err != nil {
		return nil, "", fmt.Errorf("no cluster to watch: %w (give --manifests DIR, --kubeconfig PATH, or run in a pod)", err)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes client: %w", err)
	}
	src := &watch.Kube{
		Client: client, Sink: z, Namespaces: cfg.namespaces, LabelSelector: cfg.labelSelector,
		Logger: log, Metrics: m,
	}
	return src, "cluster " + rc.Host, nil
}
