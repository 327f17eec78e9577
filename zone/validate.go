package zone

import (
	"errors"
	"fmt"
	"strings"
)

// maxLabel is the longest DNS label (RFC 1035).
const maxLabel = 63

// isLabel reports whether s is an RFC 1123 label as Kubernetes validates
// names and hostnames: lower-case letters, digits and '-', alphanumeric at
// both ends, at most 63 characters.
func isLabel(s string) bool {
	if len(s) == 0 || len(s) > maxLabel {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// isDomain reports whether s (without a trailing dot) is a syntactically
// valid domain name for a CNAME target: labels of 1-63 bytes, 253 in all.
func isDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if len(l) == 0 || len(l) > maxLabel {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func validProtocol(p Protocol) bool { return p == "" || p == "TCP" || p == "UDP" || p == "SCTP" }

// Validate reports the first reason s cannot be served, or nil. The API server
// enforces the same rules, so only hand-written manifests and library callers
// ever fail it.
func (s *Service) Validate() error {
	if s == nil {
		return errors.New("zone: nil Service")
	}
	if !isLabel(s.Namespace) {
		return fmt.Errorf("service %s/%s: namespace %q is not a DNS label", s.Namespace, s.Name, s.Namespace)
	}
	if s.Name == "" {
		return fmt.Errorf("service %s/: no name (metadata.name)", s.Namespace)
	}
	if !isLabel(s.Name) {
		return fmt.Errorf("service %s/%s: name %q is not a DNS label", s.Namespace, s.Name, s.Name)
	}
	switch s.Type {
	case ExternalName:
		if !isDomain(s.ExternalName) {
			return fmt.Errorf("service %s/%s: externalName %q is not a domain name", s.Namespace, s.Name, s.ExternalName)
		}
	case ClusterIP:
		if len(s.ClusterIPs) == 0 {
			return fmt.Errorf("service %s/%s: type ClusterIP without a cluster IP", s.Namespace, s.Name)
		}
		for _, ip := range s.ClusterIPs {
			if !ip.IsValid() || ip.Is4In6() || ip.Zone() != "" {
				return fmt.Errorf("service %s/%s: invalid cluster IP %v", s.Namespace, s.Name, ip)
			}
		}
	case Headless:
	default:
		return fmt.Errorf("service %s/%s: unknown type %d", s.Namespace, s.Name, s.Type)
	}
	return validatePorts("service "+s.Namespace+"/"+s.Name, s.Ports)
}

// validatePorts checks port names as the API server checks those of
// Services and of EndpointSlices: DNS labels, up to 63 characters (only a
// container's port names are IANA service names of at most 15). They stand
// in SRV labels "_<name>"; at 63 characters the object is served whole,
// though no query can name that port's SRV records: "_" makes the label 64
// octets.
func validatePorts(what string, ports []Port) error {
	for _, p := range ports {
		if p.Name != "" && !isLabel(p.Name) {
			return fmt.Errorf("%s: port name %q is not a DNS label", what, p.Name)
		}
		if !validProtocol(p.Protocol) {
			return fmt.Errorf("%s: port %q: protocol %q is not TCP, UDP or SCTP", what, p.Name, p.Protocol)
		}
	}
	return nil
}

// Validate reports the first reason s cannot be served, or nil.
func (s *Slice) Validate() error {
	if s == nil {
		return errors.New("zone: nil EndpointSlice")
	}
	what := "endpointslice " + s.Namespace + "/" + s.Name
	if !isLabel(s.Namespace) {
		return fmt.Errorf("%s: namespace %q is not a DNS label", what, s.Namespace)
	}
	if s.Name == "" {
		return fmt.Errorf("%s: no name (metadata.name)", what)
	}
	if s.Service == "" {
		return fmt.Errorf("%s: no kubernetes.io/service-name label", what)
	}
	if !isLabel(s.Service) {
		return fmt.Errorf("%s: service name %q is not a DNS label", what, s.Service)
	}
	if s.AddressType > FQDN {
		return fmt.Errorf("%s: unknown address type %d", what, s.AddressType)
	}
	if err := validatePorts(what, s.Ports); err != nil {
		return err
	}
	for i, e := range s.Endpoints {
		if e.Hostname != "" && !isLabel(e.Hostname) {
			return fmt.Errorf("%s: endpoints[%d].hostname %q is not a DNS label", what, i, e.Hostname)
		}
		if s.AddressType == FQDN {
			continue
		}
		if len(e.Addresses) == 0 {
			return fmt.Errorf("%s: endpoints[%d] has no address", what, i)
		}
		for j, a := range e.Addresses {
			if !a.IsValid() || (s.AddressType == IPv4) != a.Is4() || a.Is4In6() || a.Zone() != "" {
				return fmt.Errorf("%s: endpoints[%d].addresses[%d]: %v is not a valid %v address", what, i, j, a, s.AddressType)
			}
		}
	}
	return nil
}
