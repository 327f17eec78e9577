package watch

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slicedns/slicedns/internal/kubetest"
)

// TestKubeAPIServerWhatItAdmits: objects the API server stores must be
// served as the rest of the cluster reads them. It admits IPv4 addresses
// with leading zeros (with a warning), which kube-proxy reads as decimal;
// and a slice relabelled to a service-name no Service can have has left
// its Service, as one whose label was removed.
func TestKubeAPIServerWhatItAdmits(t *testing.T) {
	c := kubetest.Require(t, kc)
	t.Parallel()
	ns := c.Namespace(t)
	ctx := t.Context()
	svcs, eps := c.Client.CoreV1().Services(ns), c.Client.DiscoveryV1().EndpointSlices(ns)
	k := runKube(t, slicednsConfig(t, c), &Kube{Namespaces: []string{ns}})
	k.waitSynced(t)

	create(t, ctx, svcs.Create, kubeHeadless(ns, "db"))
	sl := kubeSlice(ns, "db-a", "db", "10.8.0.1", "10.8.0.5")
	create(t, ctx, eps.Create, sl)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, "db."+ns+".svc", "10.8.0.1", "10.8.0.5"))
	sl = kubeSlice(ns, "db-a", "db", "10.8.0.1", "010.8.0.6")
	update(t, ctx, eps.Update, sl)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, "db."+ns+".svc", "10.8.0.1", "10.8.0.6"))

	lz := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lz"},
		Spec: corev1.ServiceSpec{ClusterIP: "010.096.251.007", Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	create(t, ctx, svcs.Create, lz)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, "lz."+ns+".svc", "10.96.251.7"))

	got, err := eps.Get(ctx, "db-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Labels[discoveryv1.LabelServiceName] = "db_old"
	update(t, ctx, eps.Update, got)
	kubeEventually(t, 10*time.Second, wantZoneAddrs(k.zone, "db."+ns+".svc"))
	if n := k.countLogs("skipping an object"); n > 0 {
		t.Errorf("%d objects the API server admitted were skipped", n)
	}
}
