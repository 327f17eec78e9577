package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/slicedns/slicedns/dns"
)

// config is everything the command line sets.
type config struct {
	manifests     string
	kubeconfig    string
	namespaces    listFlag
	labelSelector string

	dnsAddr  string
	httpAddr string
	zones    listFlag
	ttl      time.Duration

	upstreams       []string // host:port, from --upstream
	upstreamTimeout time.Duration
	upstreamBudget  time.Duration
	upstreamMax     int
	cacheTTL        time.Duration // --upstream-cache-ttl; 0: no cache
	cacheSize       int           // --upstream-cache-size; 0: no cache
	podRecords      bool
	fixedOrder      bool
	nsid            string
	transferTo      []netip.Prefix // --allow-transfer
	notify          []netip.AddrPort

	logFormat  string
	logLevel   string
	logQueries bool

	startupTimeout time.Duration
	lameduck       time.Duration
	pprof          bool
	httpExplain    bool
}

// defaultZones are served when no --zone is given, as CoreDNS's default
// Corefile does: the cluster zone and both reverse zones.
var defaultZones = listFlag{"cluster.local", "in-addr.arpa", "ip6.arpa"}

// hasForwardZone reports whether some zone is not a reverse zone.
func hasForwardZone(zones []string) bool {
	for _, z := range zones {
		if !dns.IsReverseZone(strings.Trim(z, ".")) {
			return true
		}
	}
	return false
}

// podRecordsUsage describes --pod-records, for the server and explain.
const podRecordsUsage = "answer <a-b-c-d>.<ns>.pod.<zone> names: insecure (the address in the name, unchecked, as CoreDNS's \"pods insecure\"; deprecated but required by the Kubernetes DNS specification 1.1.0), or disabled"

// podRecordsFlag reads --pod-records: whether pod names are answered.
func podRecordsFlag(v string) (bool, error) {
	switch v {
	case "insecure":
		return true, nil
	case "disabled":
		return false, nil
	}
	return false, fmt.Errorf("--pod-records %q: want insecure or disabled", v)
}

// prefixesFlag reads a list of addresses (each its own prefix) and CIDRs.
func prefixesFlag(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR", s)
		}
		if p.Addr().Is4In6() {
			return nil, fmt.Errorf("%q: give IPv4 ranges in IPv4 form", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ttlSeconds is --ttl's value. One message serves every bad value ("-1",
// "1.5", "0"), where flag's own uint says only "parse error".
type ttlSeconds uint

func (t *ttlSeconds) String() string { return strconv.FormatUint(uint64(*t), 10) }
func (t *ttlSeconds) Set(v string) error {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > 3600 {
		return errors.New("want whole seconds, 1 to 3600")
	}
	*t = ttlSeconds(n)
	return nil
}

func (t ttlSeconds) duration() time.Duration { return time.Duration(t) * time.Second }

// ttlVar defines --ttl on fs, 5 seconds unless set; Set has checked it.
func ttlVar(fs *flag.FlagSet, usage string) *ttlSeconds {
	t := ttlSeconds(5)
	fs.Var(&t, "ttl", usage)
	return &t
}

// zonesFlag checks --zone values and applies the default. A zone that is
// no domain name ("a..b"), the root, or one given twice would be served
// without complaint, and answer nothing anyone asked for.
func zonesFlag(zones listFlag) ([]string, error) {
	if len(zones) == 0 {
		return slices.Clone(defaultZones), nil
	}
	var out []string
	notLabel := func(x string) bool { return !isHostLabel(x) }
	for _, z := range zones {
		l := strings.ToLower(strings.TrimSuffix(z, "."))
		if _, ok := mdns.IsDomainName(l); !ok || slices.ContainsFunc(strings.Split(l, "."), notLabel) {
			return nil, fmt.Errorf("--zone %q: not a domain name of letters, digits and '-' (e.g. cluster.local)", z)
		}
		if slices.Contains(out, l) {
			return nil, fmt.Errorf("--zone %q: given twice", z)
		}
		out = append(out, l)
	}
	return out, nil
}

// isHostLabel reports whether l is a label as host names have them
// (letters, digits, '-' inside; '_' too, as in service labels): what a
// cluster domain is made of, and what a resolver's search list can ask.
func isHostLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// listFlag is a flag that may be repeated or given comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// parseFlags parses args (without the program name). Errors are one line.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("slicedns", flag.ContinueOnError)
	// Errors are reported in one line by the caller; usage only on -h.
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.manifests, "manifests", "", "serve from the Service/EndpointSlice `DIR` (*.yaml, *.yml, *.json), watched for changes, instead of a cluster")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig `PATH` of the cluster to watch (default $KUBECONFIG, else in-cluster config)")
	fs.Var(&c.namespaces, "namespaces", "only serve these namespaces (comma-separated or repeated; default all)")
	fs.StringVar(&c.labelSelector, "label-selector", "", "only serve Services matching this label `selector`")
	fs.StringVar(&c.dnsAddr, "dns-addr", ":53", "DNS listen `address`, UDP and TCP")
	fs.StringVar(&c.httpAddr, "http-addr", ":8080", "HTTP listen `address` for /metrics, /healthz, /readyz")
	fs.Var(&c.zones, "zone", "DNS `zone` to answer for (repeatable; default cluster.local, in-addr.arpa, ip6.arpa); zones under in-addr.arpa or ip6.arpa answer PTR records pointing into the first other zone")
	var upstreams listFlag
	fs.Var(&upstreams, "upstream", "forward names outside the zones to these resolvers: `addresses` (10.0.0.10, 10.0.0.10:53, [2001:db8::1]:53; comma-separated or repeated) or a resolv.conf path such as /etc/resolv.conf (default: none, such names get REFUSED)")
	fs.DurationVar(&c.upstreamTimeout, "upstream-timeout", 2*time.Second, "how long one upstream has to answer a forwarded query before the next is asked; silent ones are asked again in turn while --upstream-budget lasts")
	fs.DurationVar(&c.upstreamBudget, "upstream-budget", dns.DefaultForwardBudget, "how long a forwarded query may take in all, over every try, before SERVFAIL; keep it under the clients' resolver timeout (5s with glibc and musl)")
	fs.IntVar(&c.upstreamMax, "upstream-max-concurrent", 4096, "how many forwarded queries may wait on the upstreams at once; more get REFUSED at once, as CoreDNS's forward max_concurrent (4096 lasts to about 900 queries a second of names no upstream answers)")
	fs.DurationVar(&c.cacheTTL, "upstream-cache-ttl", dns.DefaultCacheTTL, "keep forwarded answers at most this long (less when their TTLs say so; negative answers by their SOA, RFC 2308), as CoreDNS's cache 30; 0 turns the cache off")
	fs.IntVar(&c.cacheSize, "upstream-cache-size", dns.DefaultCacheSize, "how many forwarded answers the cache keeps at most (a typical one takes about 400 bytes; answers over 4 KB are not kept); 0 turns the cache off")
	podRecords := fs.String("pod-records", "insecure", podRecordsUsage)
	fs.StringVar(&c.nsid, "nsid", "", "`name` this server gives queries that ask for its NSID (RFC 5001, dig +nsid), e.g. the pod name (default: none)")
	var transferTo listFlag
	fs.Var(&transferTo, "allow-transfer", "allow zone transfers (AXFR over TCP, IXFR) of the forward zones to these clients: `addresses` or CIDRs (10.0.0.5, 10.0.0.0/8, ::/0; comma-separated or repeated). A transfer lists every Service and pod (default: none, transfers get REFUSED)")
	var notify listFlag
	fs.Var(&notify, "notify", "send DNS NOTIFY to these secondaries when the zone changes, so they transfer it at once: `addresses` (10.0.0.5, 10.0.0.5:5353, [2001:db8::1]:53; comma-separated or repeated); needs --allow-transfer (default: none)")
	fs.BoolVar(&c.fixedOrder, "fixed-order", false, "keep A and AAAA records in the zone's order (default: each answer starts at the address its query ID picks, spreading clients over endpoints as CoreDNS's loadbalance plugin does)")
	ttl := ttlVar(fs, "TTL of answers in `seconds`, also the negative-caching TTL")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.BoolVar(&c.logQueries, "log-queries", false, "log every query (costly under load)")
	fs.DurationVar(&c.startupTimeout, "startup-timeout", 5*time.Second, "how long to wait for the first sync before opening the DNS listener (names get SERVFAIL until synced)")
	fs.DurationVar(&c.lameduck, "lameduck", 5*time.Second, "on SIGTERM, keep answering this long while /readyz reports 503")
	fs.BoolVar(&c.httpExplain, "http-explain", false, "serve /explain?name=NAME on the HTTP address, for `slicedns explain --server` (it shows selectors, nodes, pod names and not-ready endpoints to whoever reaches the port)")
	fs.BoolVar(&c.pprof, "pprof", false, "serve /debug/pprof on the HTTP address (and sample allocations for heap profiles, which costs ~1.5 MB)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "Usage: slicedns [flags]\n       slicedns explain [flags] NAME   (slicedns explain -h)\n       slicedns check --manifests DIR  (slicedns check -h)\n\nA Kubernetes cluster DNS server that answers for Services from EndpointSlices.\n\nFlags:\n")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, fmt.Errorf("%v (see slicedns -h)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see slicedns -h)", fs.Arg(0))
	}
	c.ttl = ttl.duration()
	var err error
	if c.zones, err = zonesFlag(c.zones); err != nil {
		return nil, err
	}
	if !hasForwardZone(c.zones) {
		return nil, fmt.Errorf("--zone %s: give a zone outside in-addr.arpa and ip6.arpa too (e.g. cluster.local), for the names PTR records point at", c.zones.String())
	}
	if c.upstreams, err = dns.ParseUpstreams(upstreams); err != nil {
		return nil, fmt.Errorf("--upstream: %v", err)
	}
	if c.upstreamTimeout <= 0 {
		return nil, errors.New("--upstream-timeout must be positive")
	}
	if c.upstreamBudget <= 0 {
		return nil, errors.New("--upstream-budget must be positive")
	}
	if c.upstreamBudget < c.upstreamTimeout {
		return nil, fmt.Errorf("--upstream-budget %v is shorter than --upstream-timeout %v: no try could last its timeout", c.upstreamBudget, c.upstreamTimeout)
	}
	if c.upstreamMax < 1 {
		return nil, errors.New("--upstream-max-concurrent must be at least 1")
	}
	if c.cacheTTL != 0 && (c.cacheTTL < time.Second || c.cacheTTL > 24*time.Hour) {
		return nil, fmt.Errorf("--upstream-cache-ttl %v: want 0 (no cache) or 1s to 24h (TTLs are whole seconds)", c.cacheTTL)
	}
	if c.cacheSize < 0 {
		return nil, errors.New("--upstream-cache-size must not be negative (0 turns the cache off)")
	}
	if c.podRecords, err = podRecordsFlag(*podRecords); err != nil {
		return nil, err
	}
	if c.transferTo, err = prefixesFlag(transferTo); err != nil {
		return nil, fmt.Errorf("--allow-transfer: %v", err)
	}
	if c.notify, err = dns.ParseNotifyTargets(notify); err != nil {
		return nil, fmt.Errorf("--notify: %v", err)
	}
	for _, t := range c.notify {
		if !slices.ContainsFunc(c.transferTo, func(p netip.Prefix) bool { return p.Contains(t.Addr().WithZone("")) }) {
			return nil, fmt.Errorf("--notify %s: the secondary could not transfer the zone it is told of; add its address to --allow-transfer", t)
		}
	}
	if c.manifests != "" && c.kubeconfig != "" {
		return nil, errors.New("--manifests and --kubeconfig are exclusive: serve a folder or a cluster, not both")
	}
	// Kube.Run would refuse it too, but only once the ports are bound and
	// --startup-timeout has passed.
	if _, err := labels.Parse(c.labelSelector); err != nil {
		return nil, fmt.Errorf("--label-selector %q: %v", c.labelSelector, err)
	}
	if c.kubeconfig == "" && c.manifests == "" {
		c.kubeconfig = os.Getenv("KUBECONFIG")
	}
	if c.dnsAddr == "" || c.httpAddr == "" {
		// net.Listen would take "" as any port on every address.
		return nil, errors.New("--dns-addr and --http-addr must not be empty (e.g. :53, 127.0.0.1:8080)")
	}
	if c.logFormat != "json" && c.logFormat != "console" {
		return nil, fmt.Errorf("--log-format %q: want json or console", c.logFormat)
	}
	if c.startupTimeout < 0 || c.lameduck < 0 {
		return nil, errors.New("--startup-timeout and --lameduck must not be negative")
	}
	return c, nil
}
