package watch

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestKubeInvalidObjects(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"}}}
	e := startFake(t, &Kube{}, svc)
	e.waitWatches(t, 2)
	invalid := func(kind string) float64 { return counterValue(t, e.kube.Metrics.invalid.WithLabelValues(kind)) }
	kubeEventually(t, time.Second, wantZoneAddrs(e.zone, "db.ns.svc", "10.96.0.10"))

	// The fake clientset does not validate, so it can store what the API
	// server would refuse.
	ctx := context.Background()
	services := e.client.CoreV1().Services("ns")
	svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "10.96.0.300", []string{"10.96.0.300"}
	if _, err := services.Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeEventually(t, 5*time.Second, func() error {
		if invalid("Service") != 1 {
			return errors.New("the invalid update was not counted")
		}
		return nil
	})
	if got := zoneAddrs(e.zone, "db.ns.svc"); !slices.Equal(got, []string{"10.96.0.10"}) {
		t.Errorf("after an invalid update db.ns.svc = %v, want the previous version", got)
	}
	if logs := e.logs.FilterMessageSnippet("cannot be served").FilterField(zap.String("name", "db")); logs.Len() != 1 || logs.All()[0].Level != zapcore.WarnLevel {
		t.Errorf("want one warning naming the Service, got %v", logs.All())
	}
	svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "10.96.0.11", []string{"10.96.0.11"}
	if _, err := services.Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeEventually(t, 5*time.Second, wantZoneAddrs(e.zone, "db.ns.svc", "10.96.0.11"))

	eps := e.client.DiscoveryV1().EndpointSlices("ns")
	if _, err := eps.Create(ctx, kubeSlice("ns", "db-x", "db", "10.0.0.1.1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeEventually(t, 5*time.Second, func() error {
		if invalid("EndpointSlice") != 1 {
			return errors.New("the invalid slice was not counted")
		}
		return nil
	})
	if err := eps.Delete(ctx, "db-x", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeEventually(t, 5*time.Second, func() error {
		if counterValue(t, e.kube.Metrics.events.WithLabelValues("EndpointSlice", "delete")) != 1 {
			return errors.New("the delete was not seen")
		}
		return nil
	})
	if got := invalid("Service") + invalid("EndpointSlice"); got != 2 {
		t.Errorf("%v invalid objects counted, want 2", got)
	}
}

// Slices that no Service owns (other controllers write them) are ignored
// quietly in a cluster: not counted as invalid, no warning per update.
func TestKubeIgnoresSlicesOfNoService(t *testing.T) {
	e := startFake(t, &Kube{})
	e.waitWatches(t, 2)
	eps := e.client.DiscoveryV1().EndpointSlices("ns")
	orphan := kubeSlice("ns", "other-x", "db", "10.0.0.1")
	delete(orphan.Labels, discoveryv1.LabelServiceName)
	if _, err := eps.Create(context.Background(), orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeEventually(t, 5*time.Second, func() error {
		if counterValue(t, e.kube.Metrics.events.WithLabelValues("EndpointSlice", "add")) != 1 {
			return errors.New("the slice was not seen")
		}
		return nil
	})
	if got := counterValue(t, e.kube.Metrics.invalid.WithLabelValues("EndpointSlice")); got != 0 {
		t.Errorf("a slice of no Service counted as invalid %v times", got)
	}
	if logs := e.logs.FilterLevelExact(zapcore.WarnLevel); logs.Len() != 0 {
		t.Errorf("warnings for a slice of no Service: %v", logs.All())
	}
}
