package dns_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/zone"
)

// TestExplainProblems: what the source could not serve is shown with the
// Service it bears on, and said in a note, so that "no such Service" is not
// all a person reads about a Service defined wrongly.
func TestExplainProblems(t *testing.T) {
	z := newZone(t,
		clusterIP("team", "web", nil, "10.96.0.20"),
		headless("team", "hl"),
		headless("team", "db"),
		slice("team", "db-1", "db", zone.IPv4, nil, ep("db-0", true, "10.42.1.1")),
	)
	bad := func(kind, name string, kept bool) dns.Problem {
		return dns.Problem{Message: fmt.Sprintf("d/x.yaml: line 3: invalid %s team/%s: no", kind, name), Kind: kind, Name: name, Kept: kept}
	}
	unparsed := dns.Problem{Message: "d/y.yaml: line 1: yaml: did not find expected key"}
	tests := []struct {
		name     string
		problems []dns.Problem // given for the asked Service
		shown    int           // how many the explanation keeps
		notes    []string      // substrings of notes
		not      string        // a substring of no note
	}{
		{"badip.team.svc", []dns.Problem{bad("Service", "badip", false)}, 1,
			[]string{"Service team/badip is defined, but refused as invalid: it is not served"}, "last good"},
		{"web.team.svc", []dns.Problem{bad("Service", "web", true)}, 1,
			[]string{"Service team/web is served from its last good version"}, "refused"},
		{"hl.team.svc", []dns.Problem{bad("EndpointSlice", "hl-1", false)}, 1,
			[]string{"EndpointSlice team/hl-1 is labelled for hl, but refused as invalid",
				"a headless Service without EndpointSlices has no names"}, "no EndpointSlice in team"},
		{"db.team.svc", []dns.Problem{bad("EndpointSlice", "db-1", true), unparsed}, 1,
			[]string{"EndpointSlice team/db-1 is served from its last good version"}, "may define"},
		{"nope.team.svc", []dns.Problem{unparsed}, 1,
			[]string{"a manifest file cannot be read or parsed, and may define this Service"}, "refused"},
		{"hl.team.svc", []dns.Problem{unparsed}, 1, []string{"may define this Service", "no EndpointSlice in team"}, ""},
		// A ClusterIP Service without slices is whole: no file can be
		// why it resolves as it does.
		{"web.team.svc", []dns.Problem{unparsed}, 0, nil, "may define"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var asked string
			h := dns.NewHandler(z, dns.Options{Problems: func(ns, name string) []dns.Problem {
				asked = ns + "/" + name
				return tc.problems
			}})
			e := h.Explain(tc.name)
			if want := "team/" + strings.TrimSuffix(tc.name, ".team.svc"); asked != want {
				t.Errorf("Problems asked for %q, want %s", asked, want)
			}
			if len(e.Problems) != tc.shown {
				t.Errorf("problems = %+v, want %d of %+v", e.Problems, tc.shown, tc.problems)
			}
			notes := strings.Join(e.Notes, "\n")
			for _, n := range tc.notes {
				if !strings.Contains(notes, n) {
					t.Errorf("notes %q, want one containing %q", e.Notes, n)
				}
			}
			if tc.not != "" && strings.Contains(notes, tc.not) {
				t.Errorf("notes %q, want none containing %q", e.Notes, tc.not)
			}
		})
	}
}

// TestExplainSlicesElsewhere: a Service without slices in its namespace is
// told apart from one whose slices have no ready endpoint, and pointed at
// the slices labelled for it in another namespace, where a manifest
// without metadata.namespace puts them.
func TestExplainSlicesElsewhere(t *testing.T) {
	z := newZone(t,
		headless("team", "hs"),
		slice("default", "hs-1", "hs", zone.IPv4, nil, ep("hs-0", true, "10.42.2.1")),
		headless("team", "lone"),
		headless("team", "cold"),
		slice("team", "cold-1", "cold", zone.IPv4, nil, ep("cold-0", false, "10.42.3.1")),
		clusterIP("team", "web", nil, "10.96.0.20"),
		slice("default", "web-a", "web", zone.IPv4, nil, ep("", true, "10.42.4.1")),
		slice("other", "web-b", "web", zone.IPv4, nil, ep("", true, "10.42.4.2")),
	)
	h := dns.NewHandler(z, dns.Options{})
	tests := []struct {
		name      string
		elsewhere string // SlicesInOtherNamespaces
		note, not string // substrings of a note, and of none
	}{
		{"hs.team.svc", "map[default:[hs-1]]",
			"no EndpointSlice in team is labelled kubernetes.io/service-name=hs; slices with that label exist in namespace default (hs-1)",
			"without a ready endpoint"},
		{"lone.team.svc", "map[]", "no EndpointSlice in team is labelled kubernetes.io/service-name=lone\n", "exist in"},
		{"cold.team.svc", "map[]", "a headless Service without a ready endpoint has no names", "is labelled"},
		{"web.team.svc", "map[default:[web-a] other:[web-b]]",
			"slices with that label exist in namespaces default (web-a), other (web-b)", "NXDOMAIN"},
	}
	for _, tc := range tests {
		e := h.Explain(tc.name)
		if got := fmt.Sprint(e.SlicesInOtherNamespaces); got != tc.elsewhere {
			t.Errorf("%s: slices elsewhere %s, want %s", tc.name, got, tc.elsewhere)
		}
		notes := strings.Join(e.Notes, "\n") + "\n"
		if !strings.Contains(notes, tc.note) || strings.Contains(notes, tc.not) {
			t.Errorf("%s: notes %q, want one containing %q and none %q", tc.name, e.Notes, tc.note, tc.not)
		}
	}
}
