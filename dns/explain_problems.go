package dns

import (
	"maps"
	"slices"
	"strings"

	"github.com/slicedns/slicedns/zone"
)

// Problem is something the source could not serve as written, as
// Options.Problems reports it and Explanation.Problems shows it.
type Problem struct {
	// Message names the file and line, the object, and what is wrong.
	Message string `json:"message"`
	// Kind ("Service" or "EndpointSlice") and Name are the object's. They
	// are empty for a file that cannot be read or parsed whose content does
	// not say what it defines: it may hold the Service or not.
	Kind string `json:"kind,omitempty"`
	Name string `json:"name,omitempty"`
	// Kept: the source serves the object's last good version in its place.
	Kept bool `json:"kept,omitempty"`
}

// explainProblems adds the source's problems of the Service namespace/name
// to the explanation, with a note for each consequence. A problem that
// names no object is shown only when the zone lacks the Service or its
// slices: only then can it be why the name does not resolve.
func (x *explainer) explainProblems(namespace, name string) {
	if x.h.problems == nil {
		return
	}
	// Only a headless Service's names come from its slices: a ClusterIP
	// or ExternalName Service without any is whole.
	missing := x.st.Service == nil || x.st.Service.Type == zone.Headless && len(x.st.Slices) == 0
	unknown := 0
	for _, p := range x.h.problems(namespace, name) {
		switch {
		case p.Kind == "" && !missing:
			continue
		case p.Kind == "":
			unknown++
		case p.Kept:
			x.note("%s %s/%s is served from its last good version: what is on disk now cannot be served", p.Kind, namespace, p.Name)
		case p.Kind == "Service" && x.st.Service == nil:
			x.note("Service %s/%s is defined, but refused as invalid: it is not served", namespace, name)
		case p.Kind == "EndpointSlice":
			x.refusedSlices = true
			x.note("EndpointSlice %s/%s is labelled for %s, but refused as invalid: it is not served", namespace, p.Name, name)
		}
		x.e.Problems = append(x.e.Problems, p)
	}
	switch {
	case unknown == 1:
		x.note("a manifest file cannot be read or parsed, and may define this Service or its slices")
	case unknown > 1:
		x.note("%d manifest files cannot be read or parsed, and may define this Service or its slices", unknown)
	}
}

// slicesElsewhereNotes explains a Service without slices in its namespace:
// most often they were written without metadata.namespace, so are in
// "default", where they serve nothing of it.
func (x *explainer) slicesElsewhereNotes(svc, namespace string) {
	other := x.snap.SlicesNamingService(svc)
	delete(other, namespace)
	if len(other) == 0 && x.refusedSlices {
		return // the note on the refused slice says more
	}
	msg := "no EndpointSlice in " + namespace + " is labelled kubernetes.io/service-name=" + svc
	if len(other) > 0 {
		x.e.SlicesInOtherNamespaces = other
		var where []string
		for _, ns := range slices.Sorted(maps.Keys(other)) {
			where = append(where, ns+" ("+strings.Join(other[ns], ", ")+")")
		}
		word := "namespace "
		if len(where) > 1 {
			word = "namespaces "
		}
		msg += "; slices with that label exist in " + word + strings.Join(where, ", ")
	}
	x.note("%s", msg)
}
