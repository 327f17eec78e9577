package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"
)

// ForwarderOptions configure a Forwarder.
type ForwarderOptions struct {
	// Upstreams are "host:port" addresses (see ParseUpstreams), tried in order.
	Upstreams []string
	// Timeout bounds one try: how long an upstream has to answer before
	// the next is asked. Health and loop probes get as long. Default 2s.
	Timeout time.Duration
	// Budget bounds one forwarded query, over all its tries. Default
	// 4.5s: clients' resolvers (glibc, musl) wait 5s before they retry
	// themselves, so SERVFAIL should come before that.
	Budget time.Duration
	// HealthInterval is how often each upstream is probed. Default 5s.
	HealthInterval time.Duration
	// MaxConcurrent bounds the queries forwarded at once, waiting on the
	// upstreams for up to Budget each; past it Forward fails at once with
	// ErrOverloaded, which a Handler answers REFUSED, as CoreDNS's forward
	// max_concurrent does. Default 4096: at about 2 KB each, 8 MB, enough
	// for 900 queries a second to upstreams that never answer (the whole
	// default 4.5s budget each).
	MaxConcurrent int
	// CacheSize bounds the answers kept (DefaultCacheSize when 0), and
	// CacheTTL how long one is kept (DefaultCacheTTL when 0), at most:
	// less when its records' TTLs say so (see forwardCache). Either
	// negative: no cache.
	CacheSize int
	CacheTTL  time.Duration
	Logger    *zap.Logger
	// Metrics, when set, count per upstream (NewForwardMetrics).
	Metrics *ForwardMetrics
}

// A Forwarder sends queries for names outside the served zones to upstream
// resolvers: over UDP, again over TCP when the answer comes back truncated,
// each upstream in order until one answers (see Forward). Upstreams that
// fail their health probe, or refuse a query, are skipped until they pass
// the probe again (unless all are down: then all are tried), and an
// upstream found to send queries back to this server (a forwarding loop) is
// not used until a loop probe, repeated every HealthInterval, is answered
// without coming back. At most MaxConcurrent queries are forwarded at once,
// so that a dead upstream cannot grow goroutines and sockets without limit;
// more fail at once. Answers are kept for a while (ForwarderOptions.CacheTTL,
// less if their TTLs say so; negative ones by RFC 2308), and a query
// found in the cache reaches no upstream. Give it to a Handler in
// Options.Forwarder and call Run while the handler is served, so that the
// loop probes can come back to it.
type Forwarder struct {
	ups      []*upstream
	m        *ForwardMetrics
	timeout  time.Duration
	budget   time.Duration
	interval time.Duration
	log      *zap.Logger
	// inFlight counts the queries being forwarded, up to max.
	inFlight atomic.Int64
	max      int64
	cache    *forwardCache // nil: none

	// instance is a random label shared by this forwarder's loop probes, so
	// probes of another slicedns instance (which must be forwarded, not
	// taken as a loop) are told apart from ours.
	instance string
	probeMu  sync.Mutex
	probes   map[string]*upstream // lower-cased probe name -> upstream probed
	// checkedCh is closed, and replaced, whenever an upstream's first loop
	// probe is back: Forward waits on it for a first usable upstream.
	checkedCh chan struct{}
	firstOnce sync.Once
	checkMu   sync.Mutex // one Check at a time
}

type upstream struct {
	addr    string
	pubMu   sync.Mutex  // publish reads the flags and sets the gauges as one
	checked atomic.Bool // its first loop probe is back
	down    atomic.Bool // the last health probe failed, or a query was refused since
	loop    atomic.Bool // forwards back to us: unused until a loop probe is answered without coming back
	back    bool        // the current loop probe came back to us (under probeMu)
	m       *upstreamMetrics
}

// publish sets u's gauges from its flags, after every change of them.
func (u *upstream) publish() {
	u.pubMu.Lock()
	defer u.pubMu.Unlock()
	u.m.state(u.down.Load(), u.loop.Load())
}

// UpstreamStatus is an upstream as the forwarder sees it now.
type UpstreamStatus struct {
	Addr    string
	Healthy bool
	Loop    bool
}

// Errors from Forward.
var (
	// ErrNoUpstream: every upstream forwards back to this server.
	ErrNoUpstream = errors.New("dns: no usable upstream (every upstream is a forwarding loop)")
	// ErrUpstreamFailed: no upstream answered within the timeout.
	ErrUpstreamFailed = errors.New("dns: no upstream answered")
	// ErrOverloaded: ForwarderOptions.MaxConcurrent queries are being
	// forwarded already; this one was not sent.
	ErrOverloaded = errors.New("dns: too many queries being forwarded")
)

// defaultMaxForwards is ForwarderOptions.MaxConcurrent when unset.
const defaultMaxForwards = 4096

// NewForwarder returns a forwarder to opts.Upstreams, which must not be empty.
func NewForwarder(opts ForwarderOptions) (*Forwarder, error) {
	if len(opts.Upstreams) == 0 {
		return nil, errors.New("dns: forwarder without upstreams")
	}
	f := &Forwarder{
		timeout: opts.Timeout, budget: opts.Budget, interval: opts.HealthInterval, log: opts.Logger, m: opts.Metrics,
		max: int64(opts.MaxConcurrent), cache: newForwardCache(opts.CacheSize, opts.CacheTTL, opts.Metrics),
		instance: nonce(), probes: map[string]*upstream{}, checkedCh: make(chan struct{}),
	}
	if f.timeout <= 0 {
		f.timeout = 2 * time.Second
	}
	if f.budget <= 0 {
		f.budget = DefaultForwardBudget
	}
	if f.interval <= 0 {
		f.interval = 5 * time.Second
	}
	if f.max <= 0 {
		f.max = defaultMaxForwards
	}
	if f.log == nil {
		f.log = zap.NewNop()
	}
	for _, a := range opts.Upstreams {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("dns: upstream %q: %w", a, err)
		}
		u := &upstream{addr: a, m: opts.Metrics.upstream(a)}
		u.publish()
		f.ups = append(f.ups, u)
	}
	return f, nil
}

// DefaultForwardBudget is ForwarderOptions.Budget's default.
const DefaultForwardBudget = 4500 * time.Millisecond

// Timeout is the bound of one try of a forwarded query.
func (f *Forwarder) Timeout() time.Duration { return f.timeout }

// Budget is the bound of one forwarded query, over all its tries.
func (f *Forwarder) Budget() time.Duration { return f.budget }

// Status reports every upstream, in order.
func (f *Forwarder) Status() []UpstreamStatus {
	out := make([]UpstreamStatus, len(f.ups))
	for i, u := range f.ups {
		out[i] = UpstreamStatus{Addr: u.addr, Healthy: !u.down.Load(), Loop: u.loop.Load()}
	}
	return out
}

// Forward sends r upstream and returns the first answer, as it came (its ID
// is the one Forward chose; the caller restores its client's), or the one
// in the cache, its TTLs aged, its question r's. It fails with
// ErrNoUpstream when every upstream is a loop, with an error wrapping
// ErrUpstreamFailed when none answered within the budget, and with
// ErrOverloaded, at once, when MaxConcurrent queries are being forwarded.
//
// Each upstream in turn gets Timeout to answer. While the budget lasts,
// those that timed out are asked again, in the same order: a recursive
// resolver still working on a cold name answers the repeat once it is
// done, as it would a stub resolver's retransmission. One that failed
// otherwise (refused, a wrong reply) is not asked again.
func (f *Forwarder) Forward(ctx context.Context, r *mdns.Msg) (*mdns.Msg, error) {
	return f.forward(ctx, r, nil)
}

// forward is Forward, calling admitted (when set) once r holds a slot
// among the MaxConcurrent and is about to wait on an upstream. An answer
// in the cache takes neither: it is returned at once, the caller's to
// change like any.
func (f *Forwarder) forward(ctx context.Context, r *mdns.Msg, admitted func()) (*mdns.Msg, error) {
	if resp := f.cache.get(r); resp != nil {
		return resp, nil
	}
	if f.inFlight.Add(1) > f.max {
		f.inFlight.Add(-1)
		return nil, ErrOverloaded
	}
	defer f.inFlight.Add(-1)
	if admitted != nil {
		admitted()
	}
	ctx, cancel := context.WithTimeout(ctx, f.budget)
	defer cancel()
	ups, err := f.await(ctx)
	if err != nil {
		f.m.unansweredQuery(errors.Is(err, ErrNoUpstream))
		return nil, err
	}
	q := r.Copy()
	var errs []error
	// The deadline, not ctx.Err(), says when the budget is spent: the last
	// try times out at the deadline, a moment before the context's timer
	// has run, and a try started then fails at once as a timeout too, and
	// so would be retried, and counted, until it had.
	deadline, _ := ctx.Deadline()
	timeLeft := func() bool { return ctx.Err() == nil && time.Until(deadline) > minTry }
	for len(ups) > 0 && timeLeft() {
		var silent []*upstream
		for _, u := range ups {
			if !timeLeft() {
				break
			}
			resp, err := f.try(ctx, u, q)
			if err == nil {
				f.cache.put(r, resp)
				return resp, nil
			}
			if failure(err) == failTimeout {
				silent = append(silent, u)
			}
			errs = append(errs, fmt.Errorf("%s: %w", u.addr, err))
		}
		ups = silent
	}
	f.m.unansweredQuery(false)
	return nil, fmt.Errorf("%w within %v: %w", ErrUpstreamFailed, f.budget, errors.Join(errs...))
}

// minTry is the least time left worth a try.
const minTry = 10 * time.Millisecond

// try asks u once, for at most Timeout.
func (f *Forwarder) try(ctx context.Context, u *upstream, q *mdns.Msg) (*mdns.Msg, error) {
	actx, acancel := context.WithTimeout(ctx, f.timeout)
	defer acancel()
	u.m.sent()
	start := time.Now()
	resp, err := exchange(actx, u.addr, q, f.timeout)
	if err == nil {
		u.m.answered(resp.Rcode, time.Since(start))
		return resp, nil
	}
	// A timeout may be the name's (a slow or dead authority), and one
	// client retrying one such name must not move everyone's queries off
	// a good upstream; the health probe judges the upstream. A refusal or
	// an ICMP unreachable is the upstream's own.
	reason := failure(err)
	u.m.failed(reason)
	if reason == failUnreachable {
		f.setDown(u, true, "upstream refuses queries or is unreachable; skipping it until it answers a health probe", err)
	}
	return nil, err
}

// lookup resolves name upstream, for an ExternalName target outside the
// served zones, and returns the answer section.
func (f *Forwarder) lookup(ctx context.Context, name string, qtype uint16, admitted func()) ([]mdns.RR, error) {
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), qtype)
	q.SetEdns0(advertisedUDPSize, false)
	resp, err := f.forward(ctx, q, admitted)
	if err != nil {
		return nil, err
	}
	return resp.Answer, nil
}

// await returns the upstreams to try, in order. Until an upstream's first
// loop probe is back, a query may be one it sent back to us, and forwarding
// it would feed the loop: so at start Forward waits for one upstream to be
// known good, for as long as a loop probe takes to come back (a loop is
// quick; a dead upstream is not, and is then tried like the others).
func (f *Forwarder) await(ctx context.Context) ([]*upstream, error) {
	f.startChecks()
	var grace <-chan time.Time
	for {
		f.probeMu.Lock()
		changed := f.checkedCh
		f.probeMu.Unlock()
		ups, pending := f.usable()
		if !pending {
			if len(ups) == 0 {
				return nil, ErrNoUpstream
			}
			return ups, nil
		}
		if grace == nil {
			t := time.NewTimer(min(f.timeout/2, 500*time.Millisecond))
			defer t.Stop()
			grace = t.C
		}
		select {
		case <-changed:
		case <-grace:
			return ups, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("%w within %v: waiting for the loop probes", ErrUpstreamFailed, f.budget)
		}
	}
}

// usable are the upstreams to try in order: the checked, healthy ones; or
// when none is, all of them (a failed probe may be wrong, and trying costs
// only time), with pending set if some have their first loop probe out;
// never a loop.
func (f *Forwarder) usable() (ups []*upstream, pending bool) {
	var healthy, all []*upstream
	for _, u := range f.ups {
		if u.loop.Load() {
			continue
		}
		all = append(all, u)
		pending = pending || !u.checked.Load()
		if u.checked.Load() && !u.down.Load() {
			healthy = append(healthy, u)
		}
	}
	if len(healthy) > 0 {
		return healthy, false
	}
	return all, pending
}

// exchange asks addr over UDP, and again over TCP when the answer is
// truncated; if TCP then fails the truncated answer is returned, and the
// client retries over TCP itself.
//
// An answer must be to the question asked: miekg/dns checks only the ID,
// and a reply for another name (a spoofed or confused one) is an upstream
// failure here, as in CoreDNS's forward plugin, not an answer to pass on.
//
// timeout is given to the clients as well as the context's deadline:
// without it miekg/dns cuts every read at its own 2s.
func exchange(ctx context.Context, addr string, q *mdns.Msg, timeout time.Duration) (*mdns.Msg, error) {
	q.Id = mdns.Id()
	c := &mdns.Client{Net: "udp", UDPSize: mdns.MaxMsgSize, Timeout: timeout}
	resp, _, err := c.ExchangeContext(ctx, q, addr)
	if err == nil {
		err = answersQuestion(q, resp)
	}
	if err != nil || !resp.Truncated {
		return resp, err
	}
	q.Id = mdns.Id()
	tcp := &mdns.Client{Net: "tcp", Timeout: timeout}
	if full, _, err := tcp.ExchangeContext(ctx, q, addr); err == nil && answersQuestion(q, full) == nil {
		return full, nil
	}
	return resp, nil
}

// errWrongQuestion is an upstream's reply to a question other than ours.
var errWrongQuestion = errors.New("reply to another question")

func answersQuestion(q, resp *mdns.Msg) error {
	if len(resp.Question) != 1 {
		return fmt.Errorf("%w: %d questions", errWrongQuestion, len(resp.Question))
	}
	want, got := q.Question[0], resp.Question[0]
	if got.Qtype != want.Qtype || got.Qclass != want.Qclass || !strings.EqualFold(got.Name, want.Name) {
		return fmt.Errorf("%w: %s %s, asked %s %s", errWrongQuestion, got.Name, mdns.TypeToString[got.Qtype], want.Name, mdns.TypeToString[want.Qtype])
	}
	return nil
}
