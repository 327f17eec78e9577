package watch

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	netutils "k8s.io/utils/net"

	"github.com/slicedns/slicedns/zone"
)

// ServiceFromAPI slims a v1 Service to what DNS needs. It fails for a Service
// that cannot be served: a ClusterIP Service without a cluster IP (only hand
// written manifests lack one; the API server allocates it), an address that
// does not parse, or anything zone.Service.Validate refuses.
func ServiceFromAPI(s *corev1.Service) (*zone.Service, error) {
	out := &zone.Service{
		Namespace:                namespaceOf(s.Namespace),
		Name:                     s.Name,
		Selector:                 labels.Set(s.Spec.Selector).String(),
		PublishNotReadyAddresses: s.Spec.PublishNotReadyAddresses,
	}
	// The API server refuses the two fields apart; in a hand-edited
	// manifest, whichever was left alone would win without a word.
	if ip, ips := s.Spec.ClusterIP, s.Spec.ClusterIPs; ip != "" && len(ips) > 0 && ip != ips[0] && s.Spec.Type != corev1.ServiceTypeExternalName {
		return nil, fmt.Errorf("service %s/%s: spec.clusterIP %q differs from spec.clusterIPs[0] %q (they must be equal: edit both, or drop clusterIPs)", out.Namespace, s.Name, ip, ips[0])
	}
	switch {
	case s.Spec.Type == corev1.ServiceTypeExternalName:
		out.Type = zone.ExternalName
		out.ExternalName = s.Spec.ExternalName
	case s.Spec.ClusterIP == corev1.ClusterIPNone:
		out.Type = zone.Headless
	default:
		out.Type = zone.ClusterIP
		ips := s.Spec.ClusterIPs
		if len(ips) == 0 && s.Spec.ClusterIP != "" {
			ips = []string{s.Spec.ClusterIP}
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("service %s/%s: type %s without spec.clusterIP (set an address, or clusterIP: None for a headless Service)", out.Namespace, s.Name, serviceType(s.Spec.Type))
		}

		for _, ip := range ips {
			a, err := parseIP(ip)
			if err != nil {
				return nil, fmt.Errorf("service %s/%s: cluster IP %q is not an IP address", out.Namespace, s.Name, ip)
			}
			out.ClusterIPs = append(out.ClusterIPs, a.Unmap())
		}
	}
	for _, p := range s.Spec.Ports {
		if err := checkPort(p.Port); err != nil {
			return nil, fmt.Errorf("service %s/%s: port %q: %w", out.Namespace, s.Name, p.Name, err)
		}
		out.Ports = append(out.Ports, zone.Port{Name: intern(p.Name), Protocol: protocol(p.Protocol), Port: uint16(p.Port)})
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// ErrNoServiceName is the error SliceFromAPI wraps for a slice without the
// kubernetes.io/service-name label, or with one that no Service can have
// (a label value may hold '_' or '.', a Service name may not). In a cluster
// such slices belong to other controllers and are simply not DNS's
// business; in a manifests folder they are a mistake.
var ErrNoServiceName = errors.New("no kubernetes.io/service-name label")

// serviceNameError is a kubernetes.io/service-name label no Service can
// have. It is an ErrNoServiceName, in a message that does not say the
// label is missing.
type serviceNameError string

func (e serviceNameError) Error() string {
	return fmt.Sprintf("label %s=%q names no possible Service (a Service name is a DNS label)", discoveryv1.LabelServiceName, string(e))
}

func (serviceNameError) Is(target error) bool { return target == ErrNoServiceName }

// TriggerTimeAnnotation is set by the EndpointSlice controller to when the
// change that produced a slice happened.
const TriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"

// SliceFromAPI slims a discovery.k8s.io/v1 EndpointSlice to what DNS needs,
// normalising conditions once: ready is true when unset, serving defaults to
// ready, terminating to false. It fails for a slice that cannot be served.
func SliceFromAPI(s *discoveryv1.EndpointSlice) (*zone.Slice, error) {
	out := &zone.Slice{
		Namespace: namespaceOf(s.Namespace),
		Name:      s.Name,
		Service:   s.Labels[discoveryv1.LabelServiceName],
	}
	// Built only for an error: most slices need none.
	what := func() string { return "endpointslice " + out.Namespace + "/" + s.Name }
	if out.Service == "" {
		return nil, fmt.Errorf("%s: %w", what(), ErrNoServiceName)
	}
	if len(validation.IsDNS1123Label(out.Service)) > 0 {
		// Not an invalid slice: one relabelled away from its Service, which
		// must stop serving under it like one whose label was removed.
		return nil, fmt.Errorf("%s: %w", what(), serviceNameError(out.Service))
	}
	switch s.AddressType {
	case discoveryv1.AddressTypeIPv4:
		out.AddressType = zone.IPv4
	case discoveryv1.AddressTypeIPv6:
		out.AddressType = zone.IPv6
	case discoveryv1.AddressTypeFQDN:
		out.AddressType = zone.FQDN
	default:
		return nil, fmt.Errorf("%s: unknown addressType %q", what(), s.AddressType)
	}
	if t, ok := s.Annotations[TriggerTimeAnnotation]; ok {
		if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
			out.TriggerTime = ts
		}
	}
	for _, p := range s.Ports {
		if p.Port == nil {
			// "All ports" in the API: nothing an SRV record could name.
			continue
		}
		port := zone.Port{Protocol: zone.Protocol("TCP")}
		if p.Name != nil {
			port.Name = intern(*p.Name)
		}
		if p.Protocol != nil {
			port.Protocol = protocol(*p.Protocol)
		}
		if err := checkPort(*p.Port); err != nil {
			return nil, fmt.Errorf("%s: port %q: %w", what(), port.Name, err)
		}
		port.Port = uint16(*p.Port)
		out.Ports = append(out.Ports, port)
	}
	out.Endpoints = make([]zone.Endpoint, 0, len(s.Endpoints))
	// The endpoints' addresses share one array, made to measure.
	var addrs []netip.Addr
	if out.AddressType != zone.FQDN {
		n := 0
		for i := range s.Endpoints {
			n += len(s.Endpoints[i].Addresses)
		}
		addrs = make([]netip.Addr, 0, n)
	}
	for i, e := range s.Endpoints {
		ready := e.Conditions.Ready == nil || *e.Conditions.Ready
		ep := zone.Endpoint{
			Ready:       ready,
			Serving:     ready,
			Terminating: e.Conditions.Terminating != nil && *e.Conditions.Terminating,
		}
		if e.Conditions.Serving != nil {
			ep.Serving = *e.Conditions.Serving
		}
		if e.Hostname != nil {
			ep.Hostname = *e.Hostname
		}
		if e.NodeName != nil {
			ep.NodeName = intern(*e.NodeName)
		}
		if e.Zone != nil {
			ep.Zone = intern(*e.Zone)
		}
		if e.TargetRef != nil {
			ep.TargetRef = e.TargetRef.Kind + "/" + e.TargetRef.Name
		}
		if out.AddressType != zone.FQDN {
			for j, a := range e.Addresses {
				ip, err := parseIP(a)
				if err != nil {
					return nil, fmt.Errorf("%s: endpoints[%d].addresses[%d]: %q is not an IP address", what(), i, j, a)
				}
				addrs = append(addrs, ip)
			}
			if len(e.Addresses) > 0 {
				ep.Addresses = addrs[len(addrs)-len(e.Addresses) : len(addrs) : len(addrs)]
			}
		}
		out.Endpoints = append(out.Endpoints, ep)
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseIP reads an address as the API server admits it. netip refuses IPv4
// octets with leading zeros ("010.8.0.2"), which the API server still
// stores, with only a warning, in EndpointSlices and cluster IPs, and which
// kube-proxy reads as decimal (k8s.io/utils/net.ParseIPSloppy): refusing
// them would drop a whole slice, valid endpoints and all, that every
// other part of the cluster serves.
func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err == nil || strings.IndexByte(s, ':') >= 0 {
		return a, err
	}
	if ip := netutils.ParseIPSloppy(s).To4(); ip != nil {
		return netip.AddrFrom4([4]byte(ip)), nil
	}
	return a, err
}

func serviceType(t corev1.ServiceType) corev1.ServiceType {
	if t == "" {
		return corev1.ServiceTypeClusterIP
	}
	return t
}

// checkPort refuses numbers that would wrap in a uint16: the API server
// never admits them, but a hand-written manifest can.
func checkPort(p int32) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("%d is not a port number (1-65535)", p)
	}
	return nil
}

func protocol(p corev1.Protocol) zone.Protocol {
	if p == "" {
		return "TCP"
	}
	return zone.Protocol(intern(string(p)))
}

// namespaceOf applies the API's default namespace to objects written without one.
func namespaceOf(ns string) string {
	if ns == "" {
		return corev1.NamespaceDefault
	}
	return intern(ns)
}

// interned holds one copy of each namespace, port name, protocol, node and
// topology-zone name: objects repeat a few of them, and the zone keeps them
// for as long as the objects exist. (Each decoded copy is also a tiny
// allocation that would pin a block of the decoder's garbage.) It is emptied when it grows past maxInterned
// (names of nodes long gone), which costs only sharing, never correctness.
var interned struct {
	sync.Mutex
	m map[string]string
}

const maxInterned = 1 << 14

// intern returns s, or an equal string that an earlier call returned.
func intern(s string) string {
	if s == "" {
		return ""
	}
	interned.Lock()
	defer interned.Unlock()
	if v, ok := interned.m[s]; ok {
		return v
	}
	if interned.m == nil || len(interned.m) >= maxInterned {
		interned.m = make(map[string]string)
	}
	s = strings.Clone(s) // s may be a part of a larger string (compactSlices)
	interned.m[s] = s
	return s
}
