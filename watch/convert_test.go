package watch

import (
	"errors"
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

// The API server stores IPv4 addresses with leading zeros (it warns, and
// kube-proxy reads them as decimal), so they must convert, to the
// canonical form; what is no address at all still fails.
func TestConvertLeadingZeroAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"010.8.0.2":      "10.8.0.2",
		"10.008.000.001": "10.8.0.1",
		"10.8.0.2":       "10.8.0.2",
		"fd00::1":        "fd00::1",
	} {
		got, err := parseIP(in)
		if err != nil || got.String() != want || got.Is4In6() {
			t.Errorf("parseIP(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10.8.0", "10.8.0.256", "0010.8.0.1.1", "::ffff:010.8.0.1"} {
		if a, err := parseIP(in); err == nil {
			t.Errorf("parseIP(%q) = %v, want an error", in, a)
		}
	}

	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "s-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "s"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.8.0.1"}}, {Addresses: []string{"010.8.0.6"}}},
	}
	s, err := SliceFromAPI(slice)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Endpoints[1].Addresses[0].String(); got != "10.8.0.6" {
		t.Errorf("endpoint address %s, want 10.8.0.6", got)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"},
		Spec: corev1.ServiceSpec{ClusterIP: "010.96.0.50", ClusterIPs: []string{"010.96.0.50"}}}
	v, err := ServiceFromAPI(svc)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.ClusterIPs[0].String(); got != "10.96.0.50" {
		t.Errorf("cluster IP %s, want 10.96.0.50", got)
	}
}

// A slice whose service-name label no Service can have belongs to none:
// it converts to ErrNoServiceName, as one without the label does, so a
// slice relabelled so stops serving under its old Service.
func TestConvertServiceNameNoServiceCanHave(t *testing.T) {
	for _, label := range []string{"S2_old", "a.b", "-x", strings.Repeat("a", 64)} {
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "s-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: label}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.8.0.1"}}},
		}
		if _, err := SliceFromAPI(slice); !errors.Is(err, ErrNoServiceName) {
			t.Errorf("label %q: err = %v, want ErrNoServiceName", label, err)
		}
	}
}

// The API server keeps spec.clusterIP and spec.clusterIPs[0] equal; a
// manifest edited in one of them only must not be served from the other.
func TestConvertClusterIPFieldsDiffer(t *testing.T) {
	svc := func(ip string, ips ...string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
			Spec: corev1.ServiceSpec{ClusterIP: ip, ClusterIPs: ips}}
	}
	for _, s := range []*corev1.Service{svc("10.96.0.30", "10.96.0.20"), svc("10.96.0.999", "10.96.0.20"), svc("None", "10.96.0.20")} {
		if _, err := ServiceFromAPI(s); err == nil || !strings.Contains(err.Error(), "differs from spec.clusterIPs[0]") {
			t.Errorf("clusterIP %q, clusterIPs %q: err = %v", s.Spec.ClusterIP, s.Spec.ClusterIPs, err)
		}
	}
	for _, s := range []*corev1.Service{svc("10.96.0.20", "10.96.0.20", "fd00::20"), svc("", "10.96.0.20"), svc("10.96.0.20")} {
		if _, err := ServiceFromAPI(s); err != nil {
			t.Errorf("clusterIP %q, clusterIPs %q: %v", s.Spec.ClusterIP, s.Spec.ClusterIPs, err)
		}
	}
	np := svc("")
	np.Spec.Type = corev1.ServiceTypeNodePort
	if _, err := ServiceFromAPI(np); err == nil || !strings.Contains(err.Error(), "type NodePort without") {
		t.Errorf("NodePort without a cluster IP: %v", err)
	}
}
