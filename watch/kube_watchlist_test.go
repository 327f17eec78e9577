package watch

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	clientfeatures "k8s.io/client-go/features"
)

// StreamInitialLists changes process-wide state, so it is tried in child
// processes: on by default, and the environment variable still wins.
func TestStreamInitialLists(t *testing.T) {
	if os.Getenv("SLICEDNS_WATCHLIST_CHILD") == "1" {
		StreamInitialLists()
		if clientfeatures.FeatureGates().Enabled(clientfeatures.WatchListClient) {
			os.Stdout.WriteString("watchlist=on\n")
		} else {
			os.Stdout.WriteString("watchlist=off\n")
		}
		return
	}
	for env, want := range map[string]string{
		"":                                   "watchlist=on",
		"KUBE_FEATURE_WatchListClient=false": "watchlist=off",
		"KUBE_FEATURE_WatchListClient=true":  "watchlist=on",
	} {
		// -test.short: the child needs no kube-apiserver (see TestMain).
		cmd := exec.Command(os.Args[0], "-test.run=^TestStreamInitialLists$", "-test.v", "-test.short")
		cmd.Env = append(os.Environ(), "SLICEDNS_WATCHLIST_CHILD=1")
		if env != "" {
			cmd.Env = append(cmd.Env, env)
		}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), want+"\n") {
			t.Errorf("with %q: %v\n%s\nwant %s", env, err, out, want)
		}
	}
}
