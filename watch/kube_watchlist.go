package watch

import (
	"os"

	clientfeatures "k8s.io/client-go/features"
)

// StreamInitialLists makes client-go's reflectors, Kube's included, fetch
// their initial state as a stream of watch events (the WatchListClient
// feature, "sendInitialEvents") rather than as one LIST response, unless
// the KUBE_FEATURE_WatchListClient environment variable decides otherwise.
// A LIST of 10,000 EndpointSlices is decoded whole before the first object
// is handed on: at 100k endpoints that held about 40 MB at once, at start
// and at every relist after an API server restart. Streamed, objects are
// applied one by one as they arrive. API servers without the feature are
// sent a LIST as before (client-go falls back by itself).
//
// It changes process-wide state: call it once at start, before any
// reflector is created.
func StreamInitialLists() {
	if _, set := os.LookupEnv("KUBE_FEATURE_" + string(clientfeatures.WatchListClient)); set {
		return
	}
	clientfeatures.ReplaceFeatureGates(watchListGates{clientfeatures.FeatureGates()})
}

// watchListGates are client-go's feature gates with WatchListClient on.
type watchListGates struct{ clientfeatures.Gates }

func (g watchListGates) Enabled(f clientfeatures.Feature) bool {
	return f == clientfeatures.WatchListClient || g.Gates.Enabled(f)
}
