package watch

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// randomService fills every field of a Service, kept or not, with values
// and absences of every kind.
func randomService(r *rand.Rand, i int) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("svc-%d", i), Namespace: []string{"", "default", "ns-1"}[r.IntN(3)],
			UID: "uid", ResourceVersion: fmt.Sprint(2000 + i), Generation: 3,
			Labels:      map[string]string{"app": "web", "tier": fmt.Sprint(r.IntN(3))},
			Annotations: map[string]string{"note": "x"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply,
				APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{}}`)}}},
		},
		Spec: corev1.ServiceSpec{
			Type:            []corev1.ServiceType{"", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName}[r.IntN(5)],
			SessionAffinity: corev1.ServiceAffinityNone, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicySingleStack),
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster), ExternalIPs: []string{"192.0.2.1"},
			PublishNotReadyAddresses: r.IntN(2) == 0,
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.9"}}}},
	}
	if r.IntN(4) == 0 {
		s.Annotations[metav1.InitialEventsAnnotationKey] = "true"
	}
	switch r.IntN(4) {
	case 0:
		s.Spec.ClusterIP = corev1.ClusterIPNone
	case 1:
		s.Spec.ClusterIP = fmt.Sprintf("10.96.0.%d", r.IntN(256))
		s.Spec.ClusterIPs = []string{s.Spec.ClusterIP, fmt.Sprintf("fd00:96::%x", r.IntN(1<<16))}
	case 2:
		s.Spec.ClusterIP = "not-an-ip"
	}
	if r.IntN(3) > 0 {
		s.Spec.Selector = map[string]string{"app": fmt.Sprintf("web-%d", i)}
		if r.IntN(2) == 0 {
			s.Spec.Selector["tier"] = "front"
		}
	}
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		s.Spec.ExternalName = fmt.Sprintf("host-%d.example.com", i)
	}
	for range r.IntN(4) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{
			Name: []string{"", "http", "dns"}[r.IntN(3)], Protocol: []corev1.Protocol{"", corev1.ProtocolTCP, corev1.ProtocolUDP}[r.IntN(3)],
			Port: int32(r.IntN(70000)) - 10, TargetPort: intstr.FromString("web"), NodePort: 30080, AppProtocol: ptr.To("h2c"),
		})
	}
	return s
}

// keptService is s with only the fields the compact decoder reads (see
// compactObjects).
func keptService(s *corev1.Service) *corev1.Service {
	out := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, ResourceVersion: s.ResourceVersion},
		Spec: corev1.ServiceSpec{Type: s.Spec.Type, ClusterIP: s.Spec.ClusterIP, ClusterIPs: s.Spec.ClusterIPs,
			ExternalName: s.Spec.ExternalName, Selector: s.Spec.Selector, PublishNotReadyAddresses: s.Spec.PublishNotReadyAddresses},
	}
	if v, ok := s.Annotations[metav1.InitialEventsAnnotationKey]; ok {
		out.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: v}
	}
	for _, p := range s.Spec.Ports {
		out.Spec.Ports = append(out.Spec.Ports, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port})
	}
	return out
}

func TestCompactServicesDecodeWhatServiceFromAPIReads(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	list := &corev1.ServiceList{ListMeta: metav1.ListMeta{ResourceVersion: "77", Continue: "more"}}
	var services []*corev1.Service
	for i := range 300 {
		services = append(services, randomService(r, i))
		list.Items = append(list.Items, *services[i])
	}
	checkCompact(t, serviceGVK, services, keptService, func(s *corev1.Service) (any, error) { return ServiceFromAPI(s) })
	checkCompactList(t, serviceListGVK, list, func() runtime.Object { return &corev1.ServiceList{} }, func(o runtime.Object) runtime.Object {
		full := o.(*corev1.ServiceList)
		want := &corev1.ServiceList{ListMeta: full.ListMeta}
		for i := range full.Items {
			want.Items = append(want.Items, *keptService(&full.Items[i]))
		}
		return want
	})
}

// FuzzCompactServices: no input panics, and whatever both decoders accept
// they read alike.
func FuzzCompactServices(f *testing.F) {
	pb := protobufSerializer(f)
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 20 {
		raw, _, _ := protobufEnvelope(encodeProtobuf(f, pb, randomService(r, i), serviceGVK))
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var got corev1.Service
		errCompact := decodeService(raw, &got)
		var full corev1.Service
		if err := full.Unmarshal(raw); err != nil || errCompact != nil {
			return
		}
		if want := keptService(&full); !reflect.DeepEqual(&got, want) {
			t.Fatalf("got  %+v\nwant %+v", &got, want)
		}
	})
}
