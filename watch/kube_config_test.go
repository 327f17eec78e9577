package watch

import (
	"errors"
	"path/filepath"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
)

func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "x"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKubeRESTConfig(t *testing.T) {
	explicit := writeKubeconfig(t, "https://explicit.example:6443")
	fromEnv := writeKubeconfig(t, "https://env.example:6443")
	t.Setenv("KUBECONFIG", fromEnv)

	cfg, err := RESTConfig(explicit)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://explicit.example:6443" {
		t.Errorf("--kubeconfig lost to $KUBECONFIG: host %s", cfg.Host)
	}
	if cfg.UserAgent != "slicedns" || cfg.ContentType != "application/vnd.kubernetes.protobuf" ||
		cfg.AcceptContentTypes != "application/vnd.kubernetes.protobuf,application/json" || cfg.QPS < 5 || cfg.Burst < int(cfg.QPS) {
		t.Errorf("config: user agent %q, content type %q, accept %q, QPS %v, burst %d",
			cfg.UserAgent, cfg.ContentType, cfg.AcceptContentTypes, cfg.QPS, cfg.Burst)
	}

	if cfg, err = RESTConfig(""); err != nil || cfg.Host != "https://env.example:6443" {
		t.Errorf("from $KUBECONFIG: %v, %v", cfg, err)
	}
	if _, err = RESTConfig(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing --kubeconfig file did not fail")
	}

	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err = RESTConfig(""); !errors.Is(err, rest.ErrNotInCluster) {
		t.Errorf("outside a cluster without a kubeconfig: %v, want %v", err, rest.ErrNotInCluster)
	}
}

func TestKubeKlogToZap(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	KlogToZap(zap.New(core))
	t.Cleanup(klog.ClearLogger)

	klog.InfoS("watch started", "reflector", "services")
	klog.ErrorS(errors.New("boom"), "watch failed")
	klog.V(4).InfoS("chatter")
	if got := logs.FilterMessage("watch started").FilterField(zap.String("reflector", "services")); got.Len() != 1 {
		t.Errorf("klog info did not reach zap: %v", logs.All())
	}
	if got := logs.FilterMessage("watch failed").FilterLevelExact(zapcore.ErrorLevel); got.Len() != 1 {
		t.Errorf("klog error did not reach zap at error level: %v", logs.All())
	}
	if got := logs.FilterMessage("chatter"); got.Len() != 0 {
		t.Errorf("klog V(4) reached zap: %v", got.All())
	}
}
