package watch

import (
	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EndpointSlices, compactly (see compactObjects).

// Protobuf field numbers of discovery/v1 and the ObjectReference in it.
const (
	sliceMeta, sliceEndpoints, slicePorts, sliceAddressType = 1, 2, 3, 4

	endpointAddresses, endpointConditions, endpointHostname = 1, 2, 3
	endpointTargetRef, endpointNodeName, endpointZone       = 4, 6, 7
	conditionReady, conditionServing, conditionTerminating  = 1, 2, 3
	refKind, refName                                        = 1, 3
	slicePortName, slicePortProtocol, slicePortNumber       = 1, 2, 3
)

var sliceAnnotations = []string{TriggerTimeAnnotation, metav1.InitialEventsAnnotationKey}

func decodeSliceList(raw []byte, l *discoveryv1.EndpointSliceList) error {
	return decodeList(raw, &l.ListMeta,
		func(n int) { l.Items = make([]discoveryv1.EndpointSlice, 0, n) },
		func(v []byte) error {
			l.Items = append(l.Items, discoveryv1.EndpointSlice{})
			return decodeSlice(v, &l.Items[len(l.Items)-1])
		})
}

// sliceDecoder adds the arrays of a slice's endpoints.
type sliceDecoder struct {
	compactDecoder
	refs  []corev1.ObjectReference
	addrs []string
}

func decodeSlice(raw []byte, s *discoveryv1.EndpointSlice) error {
	// A first pass counts what the arrays must hold.
	var endpoints, ports, addresses int
	if err := eachField(raw, func(num protowire.Number, typ protowire.Type, v []byte, _ int) error {
		switch {
		case num == sliceEndpoints && typ == protowire.BytesType:
			endpoints++
			return eachField(v, func(num protowire.Number, _ protowire.Type, _ []byte, _ int) error {
				if num == endpointAddresses {
					addresses++
				}
				return nil
			})
		case num == slicePorts:
			ports++
		}
		return nil
	}); err != nil {
		return err
	}
	d := &sliceDecoder{compactDecoder: newCompactDecoder(raw)}
	d.strs = make([]string, 0, 3*endpoints+2*ports)
	d.bools = make([]bool, 0, 3*endpoints)
	if endpoints > 0 {
		s.Endpoints = make([]discoveryv1.Endpoint, 0, endpoints)
		d.addrs = make([]string, 0, addresses)
		d.refs = make([]corev1.ObjectReference, 0, endpoints)
	}
	if ports > 0 {
		s.Ports = make([]discoveryv1.EndpointPort, 0, ports)
		d.ints = make([]int32, 0, ports)
	}
	return eachField(raw, func(num protowire.Number, typ protowire.Type, v []byte, _ int) error {
		if num < sliceMeta || num > sliceAddressType {
			return nil
		}
		if typ != protowire.BytesType {
			return errWireType
		}
		switch num {
		case sliceMeta:
			return d.meta(v, &s.ObjectMeta, discoveryv1.LabelServiceName, sliceAnnotations)
		case sliceAddressType:
			s.AddressType = discoveryv1.AddressType(d.str(v))
		case sliceEndpoints:
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{})
			return d.endpoint(v, &s.Endpoints[len(s.Endpoints)-1])
		case slicePorts:
			s.Ports = append(s.Ports, discoveryv1.EndpointPort{})
			return d.port(v, &s.Ports[len(s.Ports)-1])
		}
		return nil
	})
}

// endpoint reads one Endpoint. Its hostname is a copy of its own (the zone
// keeps it); SliceFromAPI interns node and zone names.
func (d *sliceDecoder) endpoint(b []byte, e *discoveryv1.Endpoint) error {
	first := len(d.addrs)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ int) error {
		switch num {
		case endpointAddresses, endpointConditions, endpointHostname, endpointTargetRef, endpointNodeName, endpointZone:
			if typ != protowire.BytesType {
				return errWireType
			}
		default:
			return nil
		}
		switch num {
		case endpointAddresses:
			d.addrs = append(d.addrs, d.str(v))
		case endpointConditions:
			return d.conditions(v, &e.Conditions)
		case endpointHostname:
			e.Hostname = d.ptrString(string(v))
		case endpointTargetRef:
			if e.TargetRef == nil { // a repeated message merges, as in the generated code
				d.refs = append(d.refs, corev1.ObjectReference{})
				e.TargetRef = &d.refs[len(d.refs)-1]
			}
			return d.targetRef(v, e.TargetRef)
		case endpointNodeName:
			e.NodeName = d.ptrString(d.str(v))
		case endpointZone:
			e.Zone = d.ptrString(d.str(v))
		}
		return nil
	})
	if n := len(d.addrs); n > first {
		e.Addresses = d.addrs[first:n:n]
	}
	return err
}

// conditions reads EndpointConditions; a repeated message merges.
func (d *sliceDecoder) conditions(b []byte, c *discoveryv1.EndpointConditions) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, _ []byte, n int) error {
		var field **bool
		switch num {
		case conditionReady:
			field = &c.Ready
		case conditionServing:
			field = &c.Serving
		case conditionTerminating:
			field = &c.Terminating
		default:
			return nil
		}
		if typ != protowire.VarintType {
			return errWireType
		}
		*field = d.ptrBool(n != 0)
		return nil
	})
}

// targetRef reads the kind and name of an ObjectReference: all SliceFromAPI
// uses of it (it keeps "kind/name", a string of its own).
func (d *sliceDecoder) targetRef(b []byte, r *corev1.ObjectReference) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ int) error {
		if num != refKind && num != refName {
			return nil
		}
		if typ != protowire.BytesType {
			return errWireType
		}
		if num == refKind {
			r.Kind = d.str(v)
		} else {
			r.Name = d.str(v)
		}
		return nil
	})
}

// port reads one EndpointPort; SliceFromAPI interns its name and protocol.
func (d *sliceDecoder) port(b []byte, p *discoveryv1.EndpointPort) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, n int) error {
		switch num {
		case slicePortName, slicePortProtocol:
			if typ != protowire.BytesType {
				return errWireType
			}
			s := d.ptrString(d.str(v))
			if num == slicePortName {
				p.Name = s
			} else {
				p.Protocol = (*corev1.Protocol)(s)
			}
		case slicePortNumber:
			if typ != protowire.VarintType {
				return errWireType
			}
			p.Port = d.ptrInt32(int32(n))
		}
		return nil
	})
}
