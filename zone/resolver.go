package zone

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// A Resolver looks names up in a zone in-process, the way net.Resolver looks
// them up in DNS, with no sockets and no wire format: for a program that
// embeds a zone and wants the answers its pods would get. Names may be
// relative to the cluster domain ("my-db-0.my-db.default.svc") or fully
// qualified ("my-db-0.my-db.default.svc.cluster.local", with or without the
// final dot), in any case. With Namespace set, a relative name is first
// tried under "<namespace>.svc" and "svc", as a pod's search list has it
// ("my-db" finds my-db.<namespace>.svc). A name with a final dot is
// absolute, as in DNS: "my-db.default.svc." is not under the domain, and
// is not found, for a Resolver knows only the zone.
//
// Errors are *net.DNSError naming the host as given, with IsNotFound set
// when the name does not exist or holds no record of the kind asked for, as
// net.Resolver reports them.
// The zero Resolver is not usable: set Zone. A Resolver is safe for
// concurrent use; each call reads one snapshot.
type Resolver struct {
	// Zone is what the Resolver reads; *Zone is one. Each call reads the
	// snapshot current when it starts.
	Zone interface{ Snapshot() *Snapshot }
	// Domain is the cluster domain that fully qualified names end in.
	// Default "cluster.local".
	Domain string
	// FixedOrder keeps LookupHost's addresses in the zone's order. Without
	// it each family starts at a random address and wraps around, as
	// slicedns's DNS answers do, so that callers dialling the first address
	// spread over a Service's endpoints.
	FixedOrder bool
	// Namespace, when set, is the namespace whose search list relative
	// names are tried with: "<name>.<namespace>.svc", "<name>.svc", then
	// "<name>" (what resolv.conf gives a pod there, with ndots:5).
	Namespace string
	// PodRecords answers <a-b-c-d>.<namespace>.pod names, as the DNS
	// handler does with its option of that name (see LookupPod).
	PodRecords bool
}

// Result is what a name holds, with where each record came from.
type Result struct {
	// Name is the name resolved, fully qualified: lower case, ending in the
	// domain and a dot.
	Name string
	// Service is the Service the name belongs to; nil for names outside any
	// Service (the domain itself, "svc", "<namespace>.svc").
	Service *Service
	// Addresses are the name's A records then its AAAA records, in the
	// zone's order (which DNS answers rotate). Each names the endpoint it
	// came from, or none for a Service's cluster IP.
	Addresses []Address
	// SRV are the name's SRV records: those of a _<port>._<proto> name, or
	// of every port at a Service's name, with fully qualified Targets.
	SRV []net.SRV
	// CNAME is the target of an ExternalName Service, fully qualified with a
	// final dot; the name then holds nothing else.
	CNAME string
	// TXT is the name's TXT record's strings (dns-version's).
	TXT []string
	// Service is the zone's own object, shared by every reader: do not
	// modify it. The Addresses' Endpoints are copies, the caller's.
}

// Address is an A or AAAA record's data and the endpoint it came from (nil
// for a Service's cluster IP).
type Address struct {
	IP       netip.Addr
	Endpoint *Endpoint
}

// maxCNAMEs bounds how many in-zone CNAMEs LookupHost follows, against an
// ExternalName Service that points at itself.
const maxCNAMEs = 8

// Resolve returns every record name holds. It fails with IsNotFound when the
// name does not exist (NXDOMAIN) or holds no record (an empty non-terminal
// such as "default.svc"). It does not follow a CNAME: Result.CNAME says
// where it points.
func (r *Resolver) Resolve(ctx context.Context, name string) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(name, err)
	}
	snap := r.Zone.Snapshot()
	for _, cand := range r.candidates(name) {
		if n, ok := r.lookup(snap, cand.rel); ok && !n.Empty() {
			return r.result(n, cand.fqdn), nil
		}
	}
	return nil, notFound(name)
}

func (r *Resolver) lookup(snap *Snapshot, rel string) (Node, bool) {
	if r.PodRecords {
		if n, exists, isPod := LookupPod(rel); isPod {
			return n, exists
		}
	}
	return snap.Lookup(rel)
}

func (r *Resolver) result(n Node, fqdn string) *Result {
	res := &Result{Name: fqdn, Service: n.Service()}
	for _, ip := range slices.Concat(n.A().Slice(), n.AAAA().Slice()) {
		res.Addresses = append(res.Addresses, Address{IP: ip, Endpoint: n.Endpoint(ip)})
	}
	for _, s := range n.SRV() {
		target := n.Target(s).Name() + "." + r.domain() + "."
		res.SRV = append(res.SRV, net.SRV{Target: target, Port: s.Port, Priority: s.Priority, Weight: s.Weight})
	}
	if n.CNAME() != "" {
		res.CNAME = n.CNAME() + "."
	}
	res.TXT = slices.Clone(n.TXT())
	return res
}

// LookupHost returns host's addresses, IPv4 before IPv6, each family
// rotated to start at a random address unless FixedOrder is set
// (net.Resolver sorts them by RFC 6724 instead). An IP
// address is returned as it is. A CNAME to a name in the zone is followed;
// one to a name outside it fails, because a Resolver asks no other server:
// Resolve returns the CNAME so that the caller can ask one.
func (r *Resolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []string{ip.String()}, nil
	}
	name := host
	for range maxCNAMEs {
		res, err := r.Resolve(ctx, name)
		if err != nil {
			return nil, err
		}
		if res.CNAME == "" {
			if len(res.Addresses) == 0 {
				return nil, notFound(host)
			}
			out := make([]string, len(res.Addresses))
			for i, a := range res.Addresses {
				out[i] = a.IP.String()
			}
			if !r.FixedOrder {
				v4 := 0
				for v4 < len(res.Addresses) && res.Addresses[v4].IP.Is4() {
					v4++
				}
				rotate(out[:v4])
				rotate(out[v4:])
			}
			return out, nil
		}
		if !r.inDomain(res.CNAME) {
			return nil, &net.DNSError{Err: "CNAME to " + res.CNAME + ", outside the cluster domain", Name: res.Name}
		}
		name = res.CNAME
	}
	return nil, &net.DNSError{Err: "too many CNAMEs", Name: host}
}

// LookupSRV looks up _service._proto.name, or name itself when service and
// proto are both empty, as net.Resolver.LookupSRV does. It returns the name
// looked up, fully qualified, and its records with fully qualified targets.
// The records keep the zone's order rather than being shuffled by weight:
// every record of a name has priority 0 and the same weight, so clients
// may pick any.
func (r *Resolver) LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error) {
	if service != "" || proto != "" {
		name = "_" + service + "._" + proto + "." + name
	}
	res, err := r.Resolve(ctx, name)
	if err != nil {
		return "", nil, err
	}
	if len(res.SRV) == 0 {
		return "", nil, notFound(name)
	}
	out := make([]*net.SRV, len(res.SRV))
	for i := range res.SRV {
		out[i] = &res.SRV[i]
	}
	return res.Name, out, nil
}

// LookupAddr returns the names that point back at addr (its PTR records),
// fully qualified, as net.Resolver.LookupAddr does: each Service's name for
// its cluster IP, and the endpoint name of each Service that has addr as a
// ready endpoint, in name order.
func (r *Resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(addr, err)
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	var out []string
	for _, n := range r.Zone.Snapshot().LookupAddr(ip) {
		out = append(out, n.Name()+"."+r.domain()+".")
	}
	if len(out) == 0 {
		return nil, notFound(addr)
	}
	return out, nil
}

// rotate moves a random number of s's first elements to its end.
func rotate(s []string) {
	if len(s) > 1 {
		k := rand.IntN(len(s))
		slices.Reverse(s[:k])
		slices.Reverse(s[k:])
		slices.Reverse(s)
	}
}

func (r *Resolver) domain() string {
	if r.Domain == "" {
		return "cluster.local"
	}
	return strings.ToLower(strings.Trim(r.Domain, "."))
}

// candidate is one name to try, relative to the domain as Lookup wants it
// and fully qualified.
type candidate struct{ rel, fqdn string }

// candidates are the names that name stands for, in the order to try
// them: itself when it ends in the domain; nothing when it ends in a dot
// elsewhere; else the search list's names (Namespace), then itself under
// the domain.
func (r *Resolver) candidates(name string) []candidate {
	d := r.domain()
	absolute := strings.HasSuffix(name, ".")
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	switch {
	case name == "":
		return nil
	case name == d:
		return []candidate{{"", d + "."}}
	case strings.HasSuffix(name, "."+d):
		return []candidate{{name[:len(name)-len(d)-1], name + "."}}
	case absolute:
		return nil
	}
	var out []candidate
	if ns := strings.ToLower(r.Namespace); ns != "" {
		for _, rel := range []string{name + "." + ns + ".svc", name + ".svc"} {
			out = append(out, candidate{rel, rel + "." + d + "."})
		}
	}
	return append(out, candidate{name, name + "." + d + "."})
}

func (r *Resolver) inDomain(fqdn string) bool {
	d := r.domain()
	fqdn = strings.ToLower(strings.TrimSuffix(fqdn, "."))
	return fqdn == d || strings.HasSuffix(fqdn, "."+d)
}

func notFound(fqdn string) error {
	return &net.DNSError{Err: "no such host", Name: fqdn, IsNotFound: true}
}

func ctxError(name string, err error) error {
	return &net.DNSError{Err: err.Error(), Name: name, IsTimeout: errors.Is(err, context.DeadlineExceeded), UnwrapErr: err}
}
