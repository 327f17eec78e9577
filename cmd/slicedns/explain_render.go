package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/slicedns/slicedns/dns"
)

// ANSI colours. Only the last column of a table, or a line without tabs, is
// ever coloured: tabwriter would count the escape codes as width.
const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// colourful reports whether w is a terminal that wants colour (see no-color.org).
func colourful(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type painter bool

func (p painter) paint(colour, s string) string {
	if !p || s == "" {
		return s
	}
	return colour + s + reset
}

// renderExplanation writes e for a person. The same renderer serves all
// sources, so --manifests, --kubeconfig and --server print alike.
func renderExplanation(w io.Writer, e *dns.Explanation, colour bool) error {
	p := painter(colour)
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	name := e.FQDN
	if name == "" {
		name = e.Name
	}
	fmt.Fprintf(tw, "Name\t%s\n", p.paint(bold, name))
	if e.Parsed != nil {
		fmt.Fprintf(tw, "Parsed\t%s\n", describeParsed(e.Parsed))
	}
	if e.ParseError != "" {
		fmt.Fprintf(tw, "Problem\t%s\n", p.paint(red, e.ParseError))
	}
	if s := e.Service; s != nil {
		fmt.Fprintf(tw, "Service\t%s/%s: %s, publishNotReadyAddresses %t\n", s.Namespace, s.Name, s.Type, s.PublishNotReadyAddresses)
		if len(s.ClusterIPs) > 0 {
			fmt.Fprintf(tw, "ClusterIPs\t%s\n", strings.Join(s.ClusterIPs, ", "))
		}
		if s.ExternalName != "" {
			fmt.Fprintf(tw, "ExternalName\t%s\n", s.ExternalName)
		}
		fmt.Fprintf(tw, "Selector\t%s\n", orNone(selector(s.Selector)))
		fmt.Fprintf(tw, "Ports\t%s\n", orNone(ports(s.Ports)))
	}
	if e.ServiceError != "" {
		fmt.Fprintf(tw, "Service\t%s\n", p.paint(red, e.ServiceError))
		if len(e.NamespacesWithService) > 0 {
			fmt.Fprintf(tw, "Elsewhere\tin namespaces %s\n", strings.Join(e.NamespacesWithService, ", "))
		}
	}
	for _, pr := range e.Problems {
		fmt.Fprintf(tw, "Problem\t%s\n", p.paint(red, pr.Message))
	}
	tw.Flush()

	for _, s := range e.Slices {
		fmt.Fprintf(&b, "\nEndpointSlice %s (%s, ports %s)\n", s.Name, s.AddressType, orNone(ports(s.Ports)))
		if len(s.Endpoints) == 0 {
			b.WriteString("  no endpoints\n")
			continue
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ADDRESSES\tHOSTNAME\tREADY\tSERVING\tTERMINATING\tNODE\tZONE\tTARGET\tDNS")
		for _, ep := range s.Endpoints {
			fmt.Fprintf(tw, "  %s\t%s\t%t\t%t\t%t\t%s\t%s\t%s\t%s\n", orDash(strings.Join(ep.Addresses, ",")), orDash(ep.Hostname),
				ep.Ready, ep.Serving, ep.Terminating, orDash(ep.Node), orDash(ep.Zone), orDash(ep.TargetRef), endpointState(p, ep))
		}
		tw.Flush()
	}

	for _, q := range e.Queries {
		fmt.Fprintf(&b, "\n%s query: %s, TTL %d\n", q.Type, rcode(p, q), q.TTL)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, sec := range []struct {
			name string
			rrs  []string
		}{{"answer", q.Answer}, {"authority", q.Authority}, {"additional", q.Additional}} {
			for _, rr := range sec.rrs {
				fmt.Fprintf(tw, "  %s\t%s\n", sec.name, rr)
			}
		}
		tw.Flush()
	}

	if len(e.Notes) > 0 {
		b.WriteString("\nNotes\n")
		for _, n := range e.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func describeParsed(p *dns.ParsedName) string {
	of := fmt.Sprintf("Service %s in namespace %s", p.Service, p.Namespace)
	var s string
	switch p.Kind {
	case "service":
		s = of
	case "endpoint":
		s = "endpoint " + p.Endpoint + " of " + of
	case "srv":
		s = fmt.Sprintf("SRV records of port %s (%s) of %s", p.Port, p.Proto, of)
	case "proto":
		s = fmt.Sprintf("protocol %s of %s", p.Proto, of)
	case "namespace":
		s = "namespace " + p.Namespace
	case "svc":
		s = "the parent of every Service name"
	case "apex":
		s = "the zone apex"
	case "dns-version":
		s = "the DNS schema version record"
	case "pod":
		s = "a pod name"
	case "nameserver":
		s = "the name server (the NS record's target)"
	case "reverse":
		s = "a reverse (PTR) name"
	default:
		if p.Service == "" {
			return "zone " + p.Zone
		}
		s = "a name under " + of
	}
	return s + ", zone " + p.Zone
}

func endpointState(p painter, ep dns.EndpointInfo) string {
	switch {
	case ep.Served && ep.Reason != "":
		return p.paint(green, "served") + " (" + ep.Reason + ")"
	case ep.Served:
		return p.paint(green, "served")
	case strings.HasPrefix(ep.Reason, "ready: false"):
		return p.paint(red, "excluded: "+ep.Reason)
	}
	return p.paint(yellow, "excluded: "+ep.Reason)
}

func rcode(p painter, q dns.QueryResult) string {
	switch {
	case q.Rcode == "NOERROR" && len(q.Answer) > 0:
		return p.paint(green, q.Rcode)
	case q.Rcode == "NOERROR":
		return p.paint(yellow, "NOERROR, no records")
	}
	return p.paint(red, q.Rcode)
}

func ports(ps []dns.PortInfo) string {
	var out []string
	for _, p := range ps {
		s := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.Name != "" {
			s = p.Name + " " + s
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func selector(m map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return strings.Join(out, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
