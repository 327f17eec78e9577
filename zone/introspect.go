package zone

import (
	"slices"
	"strings"
)

// ServiceState is everything a snapshot holds under one Service name,
// served or not: what a person needs to be told why the Service's names
// resolve as they do. Lookup is the way to answer queries; this is the way
// to explain them.
type ServiceState struct {
	// Service is nil when EndpointSlices name a Service the zone does not
	// hold (not created yet, deleted, or filtered out by the source): such
	// slices are kept but publish nothing.
	Service *Service
	// Slices are the EndpointSlices whose kubernetes.io/service-name label
	// names the Service, in name order: the order in which the zone reads
	// them, so that the first slice holding a duplicate address is the one
	// that serves it. They are the zone's own objects; do not modify them.
	Slices []*Slice
}

// Service returns what the snapshot holds for the Service namespace/name,
// and false when it holds neither the Service nor any slice of it.
func (s *Snapshot) Service(namespace, name string) (ServiceState, bool) {
	e, ok := s.services.Get(serviceKey(namespace, name))
	if !ok {
		return ServiceState{}, false
	}
	st := ServiceState{Service: e.service}
	for _, p := range e.slices {
		st.Slices = append(st.Slices, p.unpack())
	}
	return st, true
}

// NamespacesWithService returns, sorted, the namespaces that hold a Service
// called name: the answer to "which namespace did I mean?". It walks every
// Service in the zone, so it is for people, not for the query path.
func (s *Snapshot) NamespacesWithService(name string) []string {
	var out []string
	prefix := name + "."
	it := s.services.Iterator()
	for !it.Done() {
		key, e, _ := it.Next()
		// The key is "<name>.<namespace>" and neither part holds a dot.
		if e.service != nil && strings.HasPrefix(key, prefix) {
			out = append(out, key[len(prefix):])
		}
	}
	slices.Sort(out)
	return out
}

// SlicesNamingService returns, by namespace, the names (sorted) of the
// EndpointSlices whose kubernetes.io/service-name label is name, whether or
// not their namespace holds that Service: a slice written without its
// namespace lands in "default", away from its Service. Like
// NamespacesWithService it walks every Service, for people only.
func (s *Snapshot) SlicesNamingService(name string) map[string][]string {
	out := map[string][]string{}
	prefix := name + "."
	it := s.services.Iterator()
	for !it.Done() {
		key, e, _ := it.Next()
		if len(e.slices) == 0 || !strings.HasPrefix(key, prefix) {
			continue
		}
		for _, p := range e.slices {
			out[key[len(prefix):]] = append(out[key[len(prefix):]], p.name)
		}
	}
	return out
}
