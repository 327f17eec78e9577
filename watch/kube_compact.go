package watch

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Compact decoding of Services and EndpointSlices, for Kube's own
// reflectors.
//
// client-go's generated protobuf code decodes every field of an object, and
// each string, pointer and nested message is an allocation of its own: a
// 10-endpoint slice as the API server sends it took over 200 allocations and
// 11 KB, decoded and converted, and that was most of slicedns's garbage at
// start and at every relist. The compact decoder reads the same bytes into
// the same API types, but only the fields that ServiceFromAPI,
// SliceFromAPI and the reflector read:
//
//	metadata: name, namespace, resourceVersion, the initial-events-end
//	          annotation (a watch-list's closing bookmark); for slices also
//	          the kubernetes.io/service-name label and the
//	          last-change-trigger-time annotation
//	EndpointSlice: addressType; endpoints' addresses, conditions, hostname,
//	          targetRef (kind and name), nodeName, zone; ports' name,
//	          protocol, port
//	Service:  spec's type, clusterIP, clusterIPs, externalName, selector,
//	          publishNotReadyAddresses; ports' name, protocol, port
//
// Everything else is left zero. Transient strings are cut from one copy of
// the object's bytes and pointers point into a few arrays per object; the
// strings that outlive the decoded object (names, the slice's Service,
// hostnames, externalName, resourceVersion, and what the converters intern)
// are copies of their own, so nothing kept pins an object's bytes.
//
// The public Client's methods decode whole objects, as a clientset does: a
// program may use them for more than DNS.

// Protobuf field numbers of the messages read, from their generated.proto.
const (
	unknownTypeMeta, unknownRaw, unknownContentEncoding = 1, 2, 3
	typeMetaAPIVersion, typeMetaKind                    = 1, 2
	listMeta, listItems                                 = 1, 2
	listMetaResourceVersion, listMetaContinue           = 2, 3
	listMetaRemaining                                   = 4

	metaName, metaNamespace, metaResourceVersion = 1, 3, 6
	metaLabels, metaAnnotations                  = 11, 12
	mapKey, mapValue                             = 1, 2
)

// protobufMagic starts every protobuf-encoded Kubernetes object.
var protobufMagic = []byte("k8s\x00")

var (
	serviceGVK     = corev1.SchemeGroupVersion.WithKind("Service")
	serviceListGVK = corev1.SchemeGroupVersion.WithKind("ServiceList")
	sliceGVK       = discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice")
	sliceListGVK   = discoveryv1.SchemeGroupVersion.WithKind("EndpointSliceList")
)

// compactObjects decodes Services, EndpointSlices and their lists compactly
// and passes anything else (a Status, JSON) to the serializer it wraps.
type compactObjects struct{ runtime.Serializer }

var _ runtime.Decoder = compactObjects{}

func (d compactObjects) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	if raw, kind, ok := protobufEnvelope(data); ok {
		obj, handled, err := kind.decode(into, raw)
		if err != nil {
			return nil, &kind.gvk, fmt.Errorf("%s: %w", kind.gvk.Kind, err)
		}
		if handled {
			return obj, &kind.gvk, nil
		}
	}
	return d.Serializer.Decode(data, defaults, into)
}

// compactInto decodes raw into into, or into a new T when into is nil; it
// does not handle an into of another type.
func compactInto[T any, PT interface {
	*T
	runtime.Object
}](into runtime.Object, raw []byte, decode func([]byte, PT) error) (obj runtime.Object, handled bool, err error) {
	out, ok := into.(PT)
	if into != nil && !ok {
		return nil, false, nil
	}
	if out == nil {
		out = new(T)
	}
	var zero T
	*out = zero
	return out, true, decode(raw, out)
}

// compactSerializer is a NegotiatedSerializer whose protobuf decoder is
// compactObjects.
type compactSerializer struct {
	runtime.NegotiatedSerializer
	infos []runtime.SerializerInfo
}

func newCompactSerializer(n runtime.NegotiatedSerializer) compactSerializer {
	infos := slices.Clone(n.SupportedMediaTypes())
	for i := range infos {
		if infos[i].MediaType == runtime.ContentTypeProtobuf {
			infos[i].Serializer = compactObjects{infos[i].Serializer}
		}
	}
	return compactSerializer{n, infos}
}

func (n compactSerializer) SupportedMediaTypes() []runtime.SerializerInfo { return n.infos }

// compactKind is a kind compactObjects decodes: its apiVersion as the
// envelope names it, and how to decode it into an object of its type.
type compactKind struct {
	apiVersion string
	gvk        schema.GroupVersionKind
	decode     func(into runtime.Object, raw []byte) (obj runtime.Object, handled bool, err error)
}

func newCompactKind[T any, PT interface {
	*T
	runtime.Object
}](gvk schema.GroupVersionKind, decode func([]byte, PT) error) *compactKind {
	return &compactKind{apiVersion: gvk.GroupVersion().String(), gvk: gvk,
		decode: func(into runtime.Object, raw []byte) (runtime.Object, bool, error) {
			return compactInto(into, raw, decode)
		}}
}

var compactKinds = []*compactKind{
	newCompactKind(serviceGVK, decodeService), newCompactKind(serviceListGVK, decodeServiceList),
	newCompactKind(sliceGVK, decodeSlice), newCompactKind(sliceListGVK, decodeSliceList),
}

// protobufEnvelope unwraps the runtime.Unknown around a protobuf object of
// one of compactKinds: its raw bytes and kind. ok is false for anything
// else, including an encoded (compressed) object. It allocates nothing.
func protobufEnvelope(data []byte) (raw []byte, kind *compactKind, ok bool) {
	if !bytes.HasPrefix(data, protobufMagic) {
		return nil, nil, false
	}
	var apiVersion, kindName []byte
	err := eachField(data[len(protobufMagic):], func(num protowire.Number, typ protowire.Type, v []byte, _ int) error {
		switch {
		case num == unknownTypeMeta && typ == protowire.BytesType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ int) error {
				switch {
				case num == typeMetaAPIVersion && typ == protowire.BytesType:
					apiVersion = v
				case num == typeMetaKind && typ == protowire.BytesType:
					kindName = v
				}
				return nil
			})
		case num == unknownRaw && typ == protowire.BytesType:
			raw = v
		case num == unknownContentEncoding && typ == protowire.BytesType && len(v) > 0:
			return errors.ErrUnsupported
		}
		return nil
	})
	if err != nil {
		return nil, nil, false
	}
	for _, k := range compactKinds {
		if string(apiVersion) == k.apiVersion && string(kindName) == k.gvk.Kind {
			return raw, k, true
		}
	}
	return nil, nil, false
}

var errWireType = errors.New("protobuf: unexpected wire type")

// eachField calls f with each field of a protobuf message: its number, wire
// type and value, as bytes for a length-delimited field and as an int for a
// varint (callers truncate it as the generated code does). It returns the
// first error, f's or the parser's.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, n int) error) error {
	for len(b) > 0 {
		num, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return protowire.ParseError(tagLen)
		}
		b = b[tagLen:]
		var v []byte
		var n int
		var size int
		switch typ {
		case protowire.BytesType:
			v, size = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			var u uint64
			u, size = protowire.ConsumeVarint(b)
			n = int(u)
		default:
			size = protowire.ConsumeFieldValue(num, typ, b)
		}
		if size < 0 {
			return protowire.ParseError(size)
		}
		b = b[size:]
		if err := f(num, typ, v, n); err != nil {
			return err
		}
	}
	return nil
}

// decodeList reads a list's metadata into m and hands each item to item,
// after telling items how many there are.
func decodeList(raw []byte, m *metav1.ListMeta, items func(n int), item func(v []byte) error) error {
	n := 0
	if err := eachField(raw, func(num protowire.Number, _ protowire.Type, _ []byte, _ int) error {
		if num == listItems {
			n++
		}
		return nil
	}); err != nil {
		return err
	}
	items(n)
	i := 0
	return eachField(raw, func(num protowire.Number, typ protowire.Type, v []byte, _ int) error {
		if (num == listMeta || num == listItems) && typ != protowire.BytesType {
			return errWireType
		}
		switch num {
		case listMeta:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, n int) error {
				switch {
				case num == listMetaResourceVersion && typ == protowire.BytesType:
					m.ResourceVersion = string(v)
				case num == listMetaContinue && typ == protowire.BytesType:
					m.Continue = string(v)
				case num == listMetaRemaining && typ == protowire.VarintType:
					remaining := int64(n)
					m.RemainingItemCount = &remaining
				}
				return nil
			})
		case listItems:
			if err := item(v); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
			i++
		}
		return nil
	})
}

// compactDecoder is one object's decoding: the copy of its bytes that
// transient strings are cut from, and the arrays its pointers point into.
// An array that fills up is replaced by a larger one; what pointed into the
// old one stays valid.
type compactDecoder struct {
	text  string // the object's bytes
	raw   []byte // the same bytes, to find where a value starts in text
	strs  []string
	bools []bool
	ints  []int32
}

func newCompactDecoder(raw []byte) compactDecoder {
	return compactDecoder{text: string(raw), raw: raw}
}

// str is v, a part of raw, as the same part of text: no copy. The parser
// hands out parts of raw that keep its capacity, which places them; a value
// from anywhere else is copied.
func (d *compactDecoder) str(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	start := cap(d.raw) - cap(v)
	if start < 0 || start+len(v) > len(d.raw) || &d.raw[start] != &v[0] {
		return string(v)
	}
	return d.text[start : start+len(v)]
}

func (d *compactDecoder) ptrString(s string) *string {
	d.strs = append(d.strs, s)
	return &d.strs[len(d.strs)-1]
}

func (d *compactDecoder) ptrBool(b bool) *bool {
	d.bools = append(d.bools, b)
	return &d.bools[len(d.bools)-1]
}

func (d *compactDecoder) ptrInt32(n int32) *int32 {
	d.ints = append(d.ints, n)
	return &d.ints[len(d.ints)-1]
}

// meta reads the ObjectMeta fields the converters and the reflector use:
// name, namespace, resourceVersion, the label named label (none if empty)
// and the annotations named. The name, the label's value and the
// resourceVersion are copies of their own (kept by the zone or the
// reflector); the namespace is interned by the converters.
func (d *compactDecoder) meta(b []byte, m *metav1.ObjectMeta, label string, annotations []string) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ int) error {
		switch num {
		case metaName, metaNamespace, metaResourceVersion, metaLabels, metaAnnotations:
			if typ != protowire.BytesType {
				return errWireType
			}
		default:
			return nil
		}
		switch num {
		case metaName:
			m.Name = string(v)
		case metaNamespace:
			m.Namespace = d.str(v)
		case metaResourceVersion:
			m.ResourceVersion = string(v)
		case metaLabels:
			k, val, err := d.mapEntry(v)
			if err == nil && label != "" && k == label {
				if m.Labels == nil {
					m.Labels = make(map[string]string, 1)
				}
				m.Labels[k] = strings.Clone(val)
			}
			return err
		case metaAnnotations:
			k, val, err := d.mapEntry(v)
			if err == nil && slices.Contains(annotations, k) {
				if m.Annotations == nil {
					m.Annotations = make(map[string]string, 1)
				}
				m.Annotations[k] = val
			}
			return err
		}
		return nil
	})
}

// mapEntry reads one entry of a map<string, string>.
func (d *compactDecoder) mapEntry(b []byte) (k, v string, err error) {
	err = eachField(b, func(num protowire.Number, typ protowire.Type, val []byte, _ int) error {
		if num != mapKey && num != mapValue {
			return nil
		}
		if typ != protowire.BytesType {
			return errWireType
		}
		if num == mapKey {
			k = d.str(val)
		} else {
			v = d.str(val)
		}
		return nil
	})
	return k, v, err
}
