package watch

import (
	"os"
	"path/filepath"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

// Client-side rate limit of the Kube source. It only lists and watches, two
// requests per reflector plus a relist after each broken watch, so the limit
// matters only when many namespaces start at once or the API server flaps;
// the burst lets a few hundred namespaced reflectors start without waiting.
const (
	kubeQPS   = 20
	kubeBurst = 200
)

// RESTConfig returns the client config for the Kube source: from the
// kubeconfig file at path if it is not empty, else from the files listed in
// $KUBECONFIG, else the in-cluster ServiceAccount config. It never falls
// back to ~/.kube/config, so a misconfigured pod fails instead of quietly
// using a developer's credentials baked into an image.
//
// The config identifies as user agent "slicedns", asks for protobuf (several
// times cheaper to decode than JSON for Services and EndpointSlices) and has
// a modest client-side rate limit.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	if kubeconfig == "" {
		rules.Precedence = filepath.SplitList(os.Getenv(clientcmd.RecommendedConfigPathEnvVar))
	}
	if kubeconfig != "" || len(rules.Precedence) > 0 {
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "slicedns"
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cfg.QPS, cfg.Burst = kubeQPS, kubeBurst
	return cfg, nil
}

// KlogToZap sends what client-go logs through klog to l. klog's verbosity
// flag still decides which V-levels are emitted (by default none above 0);
// those that are reach l at zap's debug levels and below, so l's level
// filters them too. It changes process-wide state: call it once at start.
func KlogToZap(l *zap.Logger) {
	klog.SetLogger(zapr.NewLogger(l))
}
