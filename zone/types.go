package zone

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// ServiceType says how a Service is published in DNS.
type ServiceType uint8

const (
	// Headless Services (clusterIP: None) answer with their ready endpoints.
	Headless ServiceType = iota
	// ClusterIP Services (and NodePort/LoadBalancer, which have a ClusterIP)
	// answer with their cluster IPs.
	ClusterIP
	// ExternalName Services answer with a CNAME to Service.ExternalName.
	ExternalName
)

func (t ServiceType) String() string {
	switch t {
	case Headless:
		return "Headless"
	case ClusterIP:
		return "ClusterIP"
	case ExternalName:
		return "ExternalName"
	}
	return "Unknown"
}

// Protocol is a port's transport protocol as Kubernetes spells it (TCP, UDP, SCTP).
type Protocol string

// Port is a named port of a Service or an EndpointSlice. Unnamed ports have no
// SRV records, so sources may drop them; they are kept for explain.
type Port struct {
	Name string
	// Protocol is TCP, UDP or SCTP; empty means TCP, as the API server
	// defaults it.
	Protocol Protocol
	Port     uint16
}

// clonePorts copies ports, with each empty protocol spelled TCP.
func clonePorts(ports []Port) []Port {
	if len(ports) == 0 {
		return nil
	}
	out := slices.Clone(ports)
	for i := range out {
		if out[i].Protocol == "" {
			out[i].Protocol = "TCP"
		}
	}
	return out
}

// clone is the copy of s the zone keeps: nothing the caller holds.
func (s *Service) clone() *Service {
	c := *s
	c.ClusterIPs = nil
	if len(s.ClusterIPs) > 0 {
		c.ClusterIPs = slices.Clone(s.ClusterIPs)
	}
	c.Ports = clonePorts(s.Ports)
	return &c
}

// Service is the slice of a v1 Service that DNS needs. Sources build it from
// the API object; nothing else of the object is kept.
type Service struct {
	Namespace string
	Name      string
	Type      ServiceType
	// ClusterIPs are the Service's cluster IPs (both families when dual-stack).
	ClusterIPs []netip.Addr
	// ExternalName is the CNAME target of an ExternalName Service.
	ExternalName string
	Ports        []Port
	// Selector and PublishNotReadyAddresses are not used for answers; they are
	// kept so that a person can be told why a Service has the endpoints it has.
	// Selector is in the form labels.Set.String gives ("app=db,tier=data",
	// keys sorted): a string costs a few bytes where a map costs hundreds.
	Selector                 string
	PublishNotReadyAddresses bool
}

// AddressType is an EndpointSlice's address family.
type AddressType uint8

const (
	IPv4 AddressType = iota
	IPv6
	// FQDN slices carry names, not addresses; DNS ignores them.
	FQDN
)

func (a AddressType) String() string {
	switch a {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return "FQDN"
}

// Slice is the slice of a discovery.k8s.io/v1 EndpointSlice that DNS needs.
type Slice struct {
	Namespace string
	Name      string
	// Service is the owning Service's name, from the kubernetes.io/service-name label.
	Service     string
	AddressType AddressType
	Ports       []Port
	Endpoints   []Endpoint
	// TriggerTime is the endpoints.kubernetes.io/last-change-trigger-time
	// annotation, zero when absent; it feeds the programming-latency metric.
	TriggerTime time.Time
}

// Endpoint is one endpoint of a Slice, with its conditions normalised once by
// the source: Ready is true when the API's ready is true or unset; Serving is
// the API's serving, or Ready when unset; Terminating is false when unset.
type Endpoint struct {
	Addresses   []netip.Addr
	Hostname    string
	Ready       bool
	Serving     bool
	Terminating bool
	NodeName    string
	Zone        string
	// TargetRef names what backs the endpoint, as "Kind/name" (usually a Pod).
	TargetRef string
}

// ExternalNameIsAddress reports whether an ExternalName Service's target is
// an IP address rather than a host name: such a Service has no records.
func ExternalNameIsAddress(externalName string) bool {
	_, err := netip.ParseAddr(strings.TrimSuffix(externalName, "."))
	return err == nil
}
