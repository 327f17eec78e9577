package watch

import (
	"strings"
	"testing"

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
