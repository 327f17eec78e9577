package watch

import (
	"strings"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Port numbers outside 1-65535 would wrap when narrowed to the wire's
// uint16 and be served as some other port; they must be refused instead.
func TestConvertRefusesPortsOutOfRange(t *testing.T) {
	for _, port := range []int32{0, -1, 65536, 70000} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"},
			Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Name: "http", Port: port}}}}
		if _, err := ServiceFromAPI(svc); err == nil || !strings.Contains(err.Error(), "not a port number") {
			t.Errorf("Service port %d: err = %v", port, err)
		}
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "s-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "s"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port)}},
		}
		if _, err := SliceFromAPI(slice); err == nil || !strings.Contains(err.Error(), "not a port number") {
			t.Errorf("EndpointSlice port %d: err = %v", port, err)
		}
	}
	ok := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"},
		Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Name: "http", Port: 65535}}}}
	if _, err := ServiceFromAPI(ok); err != nil {
		t.Errorf("port 65535 refused: %v", err)
	}
}

// Every endpoint names its node and zone: converted slices share one copy
// of each name rather than keeping one per endpoint.
func TestConvertInternsNodeAndZone(t *testing.T) {
	conv := func() *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "s-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "s"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"},
				NodeName: ptr.To(strings.Clone("node-1")), Zone: ptr.To(strings.Clone("zone-a"))}},
		}
	}
	a, err := SliceFromAPI(conv())
	if err != nil {
		t.Fatal(err)
	}
	b, err := SliceFromAPI(conv())
	if err != nil {
		t.Fatal(err)
	}
	ea, eb := a.Endpoints[0], b.Endpoints[0]
	if ea.NodeName != "node-1" || ea.Zone != "zone-a" {
		t.Fatalf("endpoint %+v", ea)
	}
	if unsafe.StringData(ea.NodeName) != unsafe.StringData(eb.NodeName) || unsafe.StringData(ea.Zone) != unsafe.StringData(eb.Zone) {
		t.Error("node and zone names are not shared")
	}
}

// A selector is kept as one string, keys sorted, for explain.
func TestConvertSelector(t *testing.T) {
	svc := kubeHeadless("ns", "db")
	svc.Spec.Selector = map[string]string{"tier": "data", "app": "db"}
	got, err := ServiceFromAPI(svc)
	if err != nil || got.Selector != "app=db,tier=data" {
		t.Errorf("Selector = %q, %v; want app=db,tier=data", got.Selector, err)
	}
	svc.Spec.Selector = nil
	if got, _ := ServiceFromAPI(svc); got.Selector != "" {
		t.Errorf("no selector: %q", got.Selector)
	}
}
