package watch

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// randomSlice fills every field of an EndpointSlice, kept or not, with
// values and absences of every kind.
func randomSlice(r *rand.Rand, i int) *discoveryv1.EndpointSlice {
	maybe := func() bool { return r.IntN(3) > 0 }
	str := func(prefix string) *string {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return ptr.To("")
		}
		return ptr.To(fmt.Sprintf("%s-%d", prefix, r.IntN(50)))
	}
	boolp := func() *bool {
		if r.IntN(3) == 0 {
			return nil
		}
		return ptr.To(r.IntN(2) == 0)
	}
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("svc-%d-x%d", i, r.IntN(9)), Namespace: fmt.Sprintf("ns-%d", r.IntN(5)),
			GenerateName: "svc-", UID: types.UID(fmt.Sprintf("uid-%d", i)), ResourceVersion: fmt.Sprint(1000 + i),
			Generation: int64(r.IntN(9)), CreationTimestamp: metav1.NewTime(time.Unix(1700000000+int64(i), 0)),
			Labels:      map[string]string{"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
			Annotations: map[string]string{"other": "x"},
			Finalizers:  []string{"f"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "svc", UID: "u",
				Controller: ptr.To(true)}},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate,
				APIVersion: "discovery.k8s.io/v1", FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:addressType":{},"f:endpoints":{}}`)}}},
		},
		AddressType: []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN, "Other"}[r.IntN(4)],
	}
	if maybe() {
		s.Labels[discoveryv1.LabelServiceName] = fmt.Sprintf("svc-%d", i)
	}
	if maybe() {
		s.Annotations[TriggerTimeAnnotation] = time.Unix(1700000000+int64(i), int64(r.IntN(1e9))).UTC().Format(time.RFC3339Nano)
	}
	if r.IntN(8) == 0 {
		s.Annotations[metav1.InitialEventsAnnotationKey] = "true"
	}
	for range r.IntN(13) {
		e := discoveryv1.Endpoint{
			Conditions: discoveryv1.EndpointConditions{Ready: boolp(), Serving: boolp(), Terminating: boolp()},
			Hostname:   str("pod"), NodeName: str("node"), Zone: str("zone"),
			DeprecatedTopology: map[string]string{"kubernetes.io/hostname": "node-1"},
		}
		for range r.IntN(4) {
			if r.IntN(2) == 0 {
				e.Addresses = append(e.Addresses, fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256)))
			} else {
				e.Addresses = append(e.Addresses, fmt.Sprintf("fd00::%x", r.IntN(1<<16)))
			}
		}
		if maybe() {
			e.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: fmt.Sprintf("pod-%d", r.IntN(99)),
				UID: "pod-uid", APIVersion: "v1", ResourceVersion: "7", FieldPath: "spec"}
		}
		if maybe() {
			e.Hints = &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: "zone-a"}}}
		}
		s.Endpoints = append(s.Endpoints, e)
	}
	for range r.IntN(4) {
		p := discoveryv1.EndpointPort{Name: str("port"), AppProtocol: str("http")}
		if maybe() {
			p.Protocol = ptr.To([]corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP, ""}[r.IntN(4)])
		}
		if maybe() {
			p.Port = ptr.To(int32(r.IntN(70000)) - 10)
		}
		s.Ports = append(s.Ports, p)
	}
	return s
}

// keptSlice is s with only the fields the compact decoder reads (see
// compactObjects).
func keptSlice(s *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	out := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, ResourceVersion: s.ResourceVersion},
		AddressType: s.AddressType,
	}
	if v, ok := s.Labels[discoveryv1.LabelServiceName]; ok {
		out.Labels = map[string]string{discoveryv1.LabelServiceName: v}
	}
	for _, k := range []string{TriggerTimeAnnotation, metav1.InitialEventsAnnotationKey} {
		if v, ok := s.Annotations[k]; ok {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[k] = v
		}
	}
	for _, e := range s.Endpoints {
		k := discoveryv1.Endpoint{Addresses: e.Addresses, Conditions: e.Conditions, Hostname: e.Hostname, NodeName: e.NodeName, Zone: e.Zone}
		if e.TargetRef != nil {
			k.TargetRef = &corev1.ObjectReference{Kind: e.TargetRef.Kind, Name: e.TargetRef.Name}
		}
		out.Endpoints = append(out.Endpoints, k)
	}
	for _, p := range s.Ports {
		out.Ports = append(out.Ports, discoveryv1.EndpointPort{Name: p.Name, Protocol: p.Protocol, Port: p.Port})
	}
	return out
}

func TestCompactSlicesDecodeWhatSliceFromAPIReads(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	list := &discoveryv1.EndpointSliceList{ListMeta: metav1.ListMeta{ResourceVersion: "4242", Continue: "next", RemainingItemCount: ptr.To[int64](7)}}
	var slices []*discoveryv1.EndpointSlice
	for i := range 300 {
		slices = append(slices, randomSlice(r, i))
		list.Items = append(list.Items, *slices[i])
	}
	checkCompact(t, sliceGVK, slices, keptSlice, func(s *discoveryv1.EndpointSlice) (any, error) { return SliceFromAPI(s) })
	checkCompactList(t, sliceListGVK, list, func() runtime.Object { return &discoveryv1.EndpointSliceList{} }, func(o runtime.Object) runtime.Object {
		full := o.(*discoveryv1.EndpointSliceList)
		want := &discoveryv1.EndpointSliceList{ListMeta: full.ListMeta}
		want.SelfLink = ""
		for i := range full.Items {
			want.Items = append(want.Items, *keptSlice(&full.Items[i]))
		}
		return want
	})
}

// FuzzCompactSlices: no input panics, and whatever both decoders accept
// they read alike.
func FuzzCompactSlices(f *testing.F) {
	pb := protobufSerializer(f)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20 {
		data := encodeProtobuf(f, pb, randomSlice(r, i), sliceGVK)
		raw, _, _ := protobufEnvelope(data)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var got discoveryv1.EndpointSlice
		errCompact := decodeSlice(raw, &got)
		var full discoveryv1.EndpointSlice
		if err := full.Unmarshal(raw); err != nil || errCompact != nil {
			return
		}
		if want := keptSlice(&full); !reflect.DeepEqual(&got, want) {
			t.Fatalf("got  %+v\nwant %+v", &got, want)
		}
	})
}
