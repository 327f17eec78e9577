package main

// The deploy/ base checked against the binary it runs, without an API
// server: the dry run in deploy_test.go proves the objects valid, not that
// slicedns accepts its arguments, listens where the ports say or answers
// the probes' paths the way the probes need.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const deployDir = "../../deploy"

// deployObjects reads the Deployment and the Service from the files that
// deploy/kustomization.yaml lists: kustomize itself is not a dependency,
// and its transformers (namespace, labels, image) change none of the fields
// checked here.
func deployObjects(t *testing.T) (*appsv1.Deployment, *corev1.Service) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(deployDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	var deps []*appsv1.Deployment
	var svcs []*corev1.Service
	for _, res := range k.Resources {
		data, err := os.ReadFile(filepath.Join(deployDir, res))
		if err != nil {
			t.Fatalf("kustomization.yaml resource %s: %v", res, err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", res, err)
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", res, err)
			}
			switch tm.Kind {
			case "Deployment":
				d := &appsv1.Deployment{}
				if err := yaml.Unmarshal(doc, d); err != nil {
					t.Fatalf("%s: %v", res, err)
				}
				deps = append(deps, d)
			case "Service":
				s := &corev1.Service{}
				if err := yaml.Unmarshal(doc, s); err != nil {
					t.Fatalf("%s: %v", res, err)
				}
				svcs = append(svcs, s)
			}
		}
	}
	if len(deps) != 1 || len(svcs) != 1 {
		t.Fatalf("deploy/ has %d Deployments and %d Services, want one of each", len(deps), len(svcs))
	}
	return deps[0], svcs[0]
}

// listenPort is the port of a --dns-addr or --http-addr value.
func listenPort(t *testing.T, flagName, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s=%s: %v", flagName, addr, err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		t.Fatalf("%s=%s: want a numeric port, as the manifests' ports are", flagName, addr)
	}
	return int32(n)
}

// protocolOr is p, or TCP when unset: the API server's default.
func protocolOr(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// resolvePort is the container port number a probe or targetPort names.
func resolvePort(ports []corev1.ContainerPort, p intstr.IntOrString, proto corev1.Protocol) (int32, error) {
	if p.Type == intstr.Int {
		for _, cp := range ports {
			if cp.ContainerPort == p.IntVal && protocolOr(cp.Protocol) == proto {
				return cp.ContainerPort, nil
			}
		}
		return 0, fmt.Errorf("no %s containerPort %d", proto, p.IntVal)
	}
	for _, cp := range ports {
		if cp.Name == p.StrVal {
			if protocolOr(cp.Protocol) != proto {
				return 0, fmt.Errorf("containerPort %q is %s, not %s", p.StrVal, protocolOr(cp.Protocol), proto)
			}
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("no containerPort named %q", p.StrVal)
}

func TestDeployManifestsMatchBinary(t *testing.T) {
	dep, svc := deployObjects(t)
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	// The args are handed to the image's ENTRYPOINT, /slicedns; a command
	// would make them some other program's.
	if len(c.Command) > 0 {
		t.Fatalf("container command %q: the args below are checked as slicedns's", c.Command)
	}
	cfg, err := parseFlags(c.Args, io.Discard)
	if err != nil {
		t.Fatalf("slicedns rejects the Deployment's args %q: %v", c.Args, err)
	}
	dnsPort := listenPort(t, "--dns-addr", cfg.dnsAddr)
	httpPort := listenPort(t, "--http-addr", cfg.httpAddr)

	// Each port slicedns listens on is declared, and nothing else: a port
	// left behind by a changed flag would be one that nothing answers.
	type portProto struct {
		port  int32
		proto corev1.Protocol
	}
	want := map[portProto]bool{
		{dnsPort, corev1.ProtocolUDP}:  false,
		{dnsPort, corev1.ProtocolTCP}:  false,
		{httpPort, corev1.ProtocolTCP}: false,
	}
	for _, cp := range c.Ports {
		k := portProto{cp.ContainerPort, protocolOr(cp.Protocol)}
		if _, ok := want[k]; !ok {
			t.Errorf("containerPort %q %d/%s: slicedns listens on %d/UDP, %d/TCP (--dns-addr) and %d/TCP (--http-addr)",
				cp.Name, k.port, k.proto, dnsPort, dnsPort, httpPort)
			continue
		}
		want[k] = true
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no containerPort %d/%s, where slicedns listens", k.port, k.proto)
		}
	}

	// The probes hit the HTTP listener, and the paths behave as the kubelet
	// needs: readiness fails while slicedns is not ready (not synced, or
	// lameducking), liveness does not, or a lameducking pod would be killed.
	var notReady bool
	mux := httpMux(prometheus.NewRegistry(), func() (bool, string) { return !notReady, "test" }, cfg.pprof, nil)
	succeeds := func(path string) bool {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		// The kubelet's rule for an HTTP probe.
		return rec.Code >= 200 && rec.Code < 400
	}
	for _, p := range []struct {
		name             string
		probe            *corev1.Probe
		succeedsNotReady bool
	}{
		{"readinessProbe", c.ReadinessProbe, false},
		{"livenessProbe", c.LivenessProbe, true},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe", p.name)
			continue
		}
		g := p.probe.HTTPGet
		if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s: scheme %s, but slicedns serves plain HTTP", p.name, g.Scheme)
		}
		if port, err := resolvePort(c.Ports, g.Port, corev1.ProtocolTCP); err != nil {
			t.Errorf("%s: port %s: %v", p.name, g.Port.String(), err)
		} else if port != httpPort {
			t.Errorf("%s: port %d, but --http-addr is %s", p.name, port, cfg.httpAddr)
		}
		notReady = false
		if !succeeds(g.Path) {
			t.Errorf("%s: GET %s fails while slicedns is ready", p.name, g.Path)
		}
		notReady = true
		if got := succeeds(g.Path); got != p.succeedsNotReady {
			t.Errorf("%s: GET %s succeeds=%v while slicedns is not ready, want %v", p.name, g.Path, got, p.succeedsNotReady)
		}
	}

	// The Service reaches these pods, on ports they declare.
	for k, v := range svc.Spec.Selector {
		if pod := dep.Spec.Template.Labels[k]; pod != v {
			t.Errorf("Service selects %s=%s, pods are labelled %s=%q", k, v, k, pod)
		}
	}
	for _, sp := range svc.Spec.Ports {
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port) // the API server's default
		}
		if _, err := resolvePort(c.Ports, target, protocolOr(sp.Protocol)); err != nil {
			t.Errorf("Service port %q targetPort %s: %v", sp.Name, target.String(), err)
		}
	}
	// Annotation-based scraping sends Prometheus to the endpoints (the
	// pods) on this port.
	if p := svc.Annotations["prometheus.io/port"]; p != "" && p != strconv.Itoa(int(httpPort)) {
		t.Errorf("Service annotation prometheus.io/port %s, but --http-addr is %s", p, cfg.httpAddr)
	}
}
