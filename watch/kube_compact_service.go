package watch

import (
	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Services, compactly (see compactObjects).

// Protobuf field numbers of core/v1's Service.
const (
	serviceMeta, serviceSpec = 1, 2

	specPorts, specSelector, specClusterIP, specType = 1, 2, 3, 4
	specExternalName, specPublishNotReady            = 10, 13
	specClusterIPs                                   = 18
	servicePortName, servicePortProtocol             = 1, 2
	servicePortNumber                                = 3
)

var serviceAnnotations = []string{metav1.InitialEventsAnnotationKey}

func decodeServiceList(raw []byte, l *corev1.ServiceList) error {
	return decodeList(raw, &l.ListMeta,
		func(n int) { l.Items = make([]corev1.Service, 0, n) },
		func(v []byte) error {
			l.Items = append(l.Items, corev1.Service{})
			return decodeService(v, &l.Items[len(l.Items)-1])
		})
}

func decodeService(raw []byte, s *corev1.Service) error {
	d := newCompactDecoder(raw)
	return eachField(raw, func(num protowire.Number, typ protowire.Type, v []byte, _ int) error {
		if num != serviceMeta && num != serviceSpec {
			return nil
		}
		if typ != protowire.BytesType {
			return errWireType
		}
		if num == serviceMeta {
			return d.meta(v, &s.ObjectMeta, "", serviceAnnotations)
		}
		return d.serviceSpec(v, &s.Spec)
	})
}

// serviceSpec reads what ServiceFromAPI uses of a ServiceSpec. The
// externalName is a copy of its own (the zone keeps it); the selector
// becomes one new string there.
func (d *compactDecoder) serviceSpec(b []byte, spec *corev1.ServiceSpec) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, n int) error {
		switch num {
		case specPorts, specSelector, specClusterIP, specType, specExternalName, specClusterIPs:
			if typ != protowire.BytesType {
				return errWireType
			}
		case specPublishNotReady:
			if typ != protowire.VarintType {
				return errWireType
			}
			spec.PublishNotReadyAddresses = n != 0
			return nil
		default:
			return nil
		}
		switch num {
		case specPorts:
			spec.Ports = append(spec.Ports, corev1.ServicePort{})
			return d.servicePort(v, &spec.Ports[len(spec.Ports)-1])
		case specSelector:
			k, val, err := d.mapEntry(v)
			if err == nil {
				if spec.Selector == nil {
					spec.Selector = make(map[string]string, 1)
				}
				spec.Selector[k] = val
			}
			return err
		case specClusterIP:
			spec.ClusterIP = d.str(v)
		case specClusterIPs:
			spec.ClusterIPs = append(spec.ClusterIPs, d.str(v))
		case specType:
			spec.Type = corev1.ServiceType(d.str(v))
		case specExternalName:
			spec.ExternalName = string(v)
		}
		return nil
	})
}

// servicePort reads a ServicePort's name, protocol and port;
// ServiceFromAPI interns the first two.
func (d *compactDecoder) servicePort(b []byte, p *corev1.ServicePort) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, n int) error {
		switch num {
		case servicePortName, servicePortProtocol:
			if typ != protowire.BytesType {
				return errWireType
			}
			if num == servicePortName {
				p.Name = d.str(v)
			} else {
				p.Protocol = corev1.Protocol(d.str(v))
			}
		case servicePortNumber:
			if typ != protowire.VarintType {
				return errWireType
			}
			p.Port = int32(n)
		}
		return nil
	})
}
