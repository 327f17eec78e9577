package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/slicedns/slicedns/dns"
	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
	"go.uber.org/zap"
)

const explainUsage = `Usage: slicedns explain [--manifests DIR | --kubeconfig PATH | --server URL] [-o text|json] NAME

Explains why NAME resolves the way it does: the name taken apart, its Service,
every endpoint of its EndpointSlices served or excluded (and why), and the
records, rcode and TTL that a query gets. NAME may be fully qualified
(my-db-0.my-db.default.svc.cluster.local) or relative (my-db-0.my-db.default.svc),
or an IP address (explained through its PTR name).

The zone is read from a manifests folder, a cluster (default $KUBECONFIG), or a
running slicedns through its HTTP address. From a folder, or a slicedns serving
one, what the folder refused of NAME's Service (an invalid definition or slice,
a file that does not parse) is shown too; slicedns check lists all of it.

The exit status is 0 whenever NAME was explained, even when it does not exist.

Flags:
`

// explainConfig is the explain command line.
type explainConfig struct {
	manifests, kubeconfig, server string
	output                        string
	zones                         listFlag
	ttl                           time.Duration
	podRecords                    bool
	timeout                       time.Duration
	name                          string
}

// runExplain is `slicedns explain`: 0 when the name was explained, 2 for a
// bad command line, 1 when the zone could not be read.
func runExplain(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseExplainFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "slicedns explain: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	e, err := explain(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "slicedns explain: %v\n", err)
		return 1
	}
	if cfg.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(e)
	} else {
		err = renderExplanation(stdout, e, colourful(stdout))
	}
	if err != nil {
		fmt.Fprintf(stderr, "slicedns explain: %v\n", err)
		return 1
	}
	return 0
}

func parseExplainFlags(args []string, stderr io.Writer) (*explainConfig, error) {
	c := &explainConfig{}
	fs := flag.NewFlagSet("slicedns explain", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.manifests, "manifests", "", "read the zone from the manifests in `DIR`")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "read the zone from the cluster of this kubeconfig `PATH` (default $KUBECONFIG)")
	fs.StringVar(&c.server, "server", "", "ask a running slicedns at its HTTP `URL` (http://host:port, the --http-addr)")
	fs.StringVar(&c.output, "o", "text", "output `format`: text or json")
	fs.Var(&c.zones, "zone", "DNS `zone` served (repeatable; default cluster.local, in-addr.arpa, ip6.arpa); not with --server")
	ttl := ttlVar(fs, "TTL of answers in `seconds`, as served; not with --server")
	podRecords := fs.String("pod-records", "insecure", podRecordsUsage+"; as served, not with --server")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "how long to wait for the cluster or the server")
	// Flags may follow NAME: parse again after each positional argument.
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stderr, explainUsage)
				fs.SetOutput(stderr)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, fmt.Errorf("%v (see slicedns explain -h)", err)
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(names) != 1 {
		return nil, errors.New("want exactly one NAME to explain (see slicedns explain -h)")
	}
	c.name = names[0]
	if c.output != "text" && c.output != "json" {
		return nil, fmt.Errorf("-o %q: want text or json", c.output)
	}
	c.ttl = ttl.duration()
	var err error
	if c.podRecords, err = podRecordsFlag(*podRecords); err != nil {
		return nil, err
	}
	if c.kubeconfig == "" && c.manifests == "" && c.server == "" {
		c.kubeconfig = os.Getenv("KUBECONFIG")
	}
	given := 0
	for _, s := range []string{c.manifests, c.kubeconfig, c.server} {
		if s != "" {
			given++
		}
	}
	switch {
	case given == 0:
		return nil, errors.New("nothing to explain from: give --manifests DIR, --kubeconfig PATH or --server URL")
	case given > 1:
		return nil, errors.New("--manifests, --kubeconfig and --server are exclusive")
	case c.server != "" && (len(c.zones) > 0 || *ttl != 5 || *podRecords != "insecure"):
		return nil, errors.New("--zone, --ttl and --pod-records are the server's own with --server")
	}
	if c.zones, err = zonesFlag(c.zones); err != nil {
		return nil, err
	}
	return c, nil
}

// explain reads the zone where the flags say and explains the name.
func explain(ctx context.Context, cfg *explainConfig, stderr io.Writer) (*dns.Explanation, error) {
	if cfg.server != "" {
		return explainRemote(ctx, cfg.server, cfg.name, cfg.timeout)
	}
	log, err := newLogger("console", "warn")
	if err != nil {
		return nil, err
	}
	z := zone.New()
	var problems func(namespace, name string) []dns.Problem
	if cfg.manifests != "" {
		// Files or objects that cannot be served are logged as warnings,
		// and those of the name's Service are in the report too.
		src := &watch.Manifests{Dir: cfg.manifests, Sink: z, Logger: log}
		if err := src.Load(); err != nil {
			return nil, fmt.Errorf("--manifests: %w", err)
		}
		problems = problemsOf(src)
	} else if err := readCluster(ctx, cfg, z, log); err != nil {
		return nil, err
	}
	h := dns.NewHandler(z, dns.Options{Zones: cfg.zones, TTL: cfg.ttl, PodRecords: cfg.podRecords, Problems: problems})
	return h.Explain(cfg.name), nil
}

// readCluster fills z with the cluster's Services and EndpointSlices: the
// Kube source's first full list, after which the watch is stopped.
func readCluster(ctx context.Context, cfg *explainConfig, z *zone.Zone, log *zap.Logger) error {
	src, host, err := newKube(cfg.kubeconfig, z, log)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- src.Run(runCtx) }()
	defer func() { stop(); <-done }()

	deadline := time.NewTimer(cfg.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !src.Synced() {
		select {
		case err := <-done:
			done <- err // for the deferred wait
			if err == nil {
				err = ctx.Err()
			}
			return err
		case <-deadline.C:
			return fmt.Errorf("could not list Services and EndpointSlices from %s within %v", host, cfg.timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// explainRemote asks a running slicedns: GET /explain?name=NAME.
func explainRemote(ctx context.Context, server, name string, timeout time.Duration) (*dns.Explanation, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	u = u.JoinPath("explain")
	u.RawQuery = url.Values{"name": {name}}.Encode()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: %s: %s", u.Redacted(), resp.Status, strings.TrimSpace(string(body)))
	}
	var e dns.Explanation
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return nil, fmt.Errorf("%s: %w", u.Redacted(), err)
	}
	return &e, nil
}
