package watch

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func protobufSerializer(t testing.TB) *protobuf.Serializer {
	scheme := clientScheme(t)
	return protobuf.NewSerializer(scheme, scheme)
}

// encodeProtobuf encodes obj as the API server sends it, with kind gvk.
func encodeProtobuf(t testing.TB, s *protobuf.Serializer, obj runtime.Object, gvk schema.GroupVersionKind) []byte {
	t.Helper()
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	var b bytes.Buffer
	if err := s.Encode(obj, &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkCompact decodes objects, and a list of them, both whole and compactly,
// and wants the compact result to be keep of the whole one, and to convert
// to the same zone object (or error).
func checkCompact[T any, PT interface {
	*T
	runtime.Object
}](t *testing.T, gvk schema.GroupVersionKind, objs []PT, keep func(PT) PT, convert func(PT) (any, error)) {
	t.Helper()
	pb := protobufSerializer(t)
	d := compactObjects{pb}
	for i, obj := range objs {
		data := encodeProtobuf(t, pb, obj, gvk)
		full, _, err := pb.Decode(data, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := keep(full.(PT))
		stale := PT(new(T))
		runtime.Object(stale).(metav1.Object).SetUID("stale")
		for _, into := range []runtime.Object{nil, stale} {
			got, gotKind, err := d.Decode(data, nil, into)
			if err != nil {
				t.Fatalf("%s %d: %v", gvk.Kind, i, err)
			}
			if *gotKind != gvk {
				t.Errorf("%s %d: kind %v", gvk.Kind, i, gotKind)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %d (into %T):\ngot  %+v\nwant %+v", gvk.Kind, i, into, got, want)
			}
			zGot, errGot := convert(got.(PT))
			zWant, errWant := convert(full.(PT))
			if !reflect.DeepEqual(zGot, zWant) || fmt.Sprint(errGot) != fmt.Sprint(errWant) {
				t.Fatalf("%s %d converts differently:\ngot  %+v, %v\nwant %+v, %v", gvk.Kind, i, zGot, errGot, zWant, errWant)
			}
		}
	}
}

// checkCompactList decodes list whole and compactly (into a new list of its
// type) and wants the compact one to be keep of the whole one.
func checkCompactList(t *testing.T, gvk schema.GroupVersionKind, list runtime.Object, newList func() runtime.Object, keep func(runtime.Object) runtime.Object) {
	t.Helper()
	pb := protobufSerializer(t)
	data := encodeProtobuf(t, pb, list, gvk)
	full, _, err := pb.Decode(data, nil, newList())
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := compactObjects{pb}.Decode(data, nil, newList())
	if err != nil {
		t.Fatal(err)
	}
	if want := keep(full); !reflect.DeepEqual(got, want) {
		t.Errorf("%s decodes differently:\ngot  %+v\nwant %+v", gvk.Kind, got, want)
	}
}

func TestCompactObjectsPassOthersOn(t *testing.T) {
	pb := protobufSerializer(t)
	d := compactObjects{pb}
	status := &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure, Reason: metav1.StatusReasonExpired, Code: 410}
	got, _, err := d.Decode(encodeProtobuf(t, pb, status, metav1.SchemeGroupVersion.WithKind("Status")), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := got.(*metav1.Status); !ok || s.Code != 410 || s.Reason != metav1.StatusReasonExpired {
		t.Errorf("Status decoded as %#v", got)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "u"}}
	got, _, err = d.Decode(encodeProtobuf(t, pb, pod, corev1.SchemeGroupVersion.WithKind("Pod")), nil, &corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := got.(*corev1.Pod); !ok || p.Name != "web" || p.UID != "u" {
		t.Errorf("Pod decoded as %#v", got)
	}
	// A slice asked into another type is the wrapped serializer's business
	// (it returns the whole slice).
	slice := encodeProtobuf(t, pb, randomSlice(rand.New(rand.NewPCG(3, 4)), 1), sliceGVK)
	got, _, err = d.Decode(slice, nil, &corev1.Service{})
	want, _, wantErr := pb.Decode(slice, nil, &corev1.Service{})
	if !reflect.DeepEqual(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Errorf("a slice asked into a Service: got %T, %v; the serializer gives %T, %v", got, err, want, wantErr)
	}
	for _, bad := range [][]byte{nil, []byte("k8s\x00"), []byte("k8s\x00\x0a\xff"), append([]byte("k8s\x00"), slice[4:len(slice)-3]...)} {
		if _, _, err := d.Decode(bad, nil, nil); err == nil {
			t.Errorf("%q decoded without an error", bad)
		}
	}
}

// An EndpointSlice as the API server sends it (managedFields included) and a
// zone.Slice from it, by both decoders.
func BenchmarkDecodeSlice(b *testing.B) {
	pb := protobufSerializer(b)
	s := randomSlice(rand.New(rand.NewPCG(7, 8)), 1)
	s.Endpoints = nil
	for j := range 10 {
		pod := fmt.Sprintf("svc-00042-%d", j)
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{fmt.Sprintf("10.0.42.%d", j+1)}, Hostname: ptr.To(pod),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: pod, UID: types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", 42, j))},
			NodeName:   ptr.To(fmt.Sprintf("node-%03d", j)), Zone: ptr.To(fmt.Sprintf("zone-%c", 'a'+j%3)),
		})
	}
	s.AddressType = discoveryv1.AddressTypeIPv4
	s.Labels[discoveryv1.LabelServiceName] = "svc-00042"
	s.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](80)}}
	benchDecode(b, pb, encodeProtobuf(b, pb, s, sliceGVK), func(obj runtime.Object) error {
		_, err := SliceFromAPI(obj.(*discoveryv1.EndpointSlice))
		return err
	})
}

// benchDecode decodes data and converts it, by the generated code and
// compactly.
func benchDecode(b *testing.B, pb *protobuf.Serializer, data []byte, convert func(runtime.Object) error) {
	for _, c := range []struct {
		name string
		d    runtime.Decoder
	}{{"generated", pb}, {"compact", compactObjects{pb}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				obj, _, err := c.d.Decode(data, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := convert(obj); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A ClusterIP Service as kubectl creates it and a zone.Service from it, by
// both decoders.
func BenchmarkDecodeService(b *testing.B) {
	pb := protobufSerializer(b)
	s := randomService(rand.New(rand.NewPCG(13, 14)), 1)
	s.Spec.Type, s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ServiceTypeClusterIP, "10.96.0.10", []string{"10.96.0.10"}
	s.Spec.Ports = []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}
	benchDecode(b, pb, encodeProtobuf(b, pb, s, serviceGVK), func(obj runtime.Object) error {
		_, err := ServiceFromAPI(obj.(*corev1.Service))
		return err
	})
}
