package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"
)

// A Notifier tells secondary servers that the zone changed (DNS NOTIFY,
// RFC 1996), so that they transfer it again at once instead of at the SOA's
// refresh interval, two hours. It pairs with Options.TransferTo: the
// secondaries must be allowed the transfer that follows.
//
// It looks at the zone's serial every Interval and, when it has changed
// (and once when the handler is first ready, for secondaries that kept an
// older copy across a restart), sends a NOTIFY for each forward zone to
// each target over UDP, trying three times until acknowledged (waiting one
// Timeout, then two, between tries), and again every 30 s while the
// target does not acknowledge. Changes
// within one Interval are told as one. Writers never wait on it.
type Notifier struct {
	// Handler is the handler whose zones are told of; its Ready gates the
	// first NOTIFY and its Metrics count them.
	Handler *Handler
	// Targets are the secondaries' addresses, "ip:port".
	Targets []netip.AddrPort
	// Interval between looks at the serial. Default 1s; from a second up,
	// looks come just after the second starts.
	Interval time.Duration
	// Timeout for each try. Default 2s.
	Timeout time.Duration
	Logger  *zap.Logger
}

// notifyTries is how many times a NOTIFY is sent before the target is given
// up on until the next change (RFC 1996 3.6 leaves the count to the server).
const notifyTries = 3

// ParseNotifyTargets reads secondaries' addresses: IP addresses with or
// without a port (53 by default), IPv6 with a port in brackets.
func ParseNotifyTargets(list []string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, s := range list {
		ap, err := addrPort(s, 53)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address, nor ip:port", s)
		}
		out = append(out, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	return out, nil
}

// Run notifies until ctx ends. Each target is told on its own, so one that
// does not answer delays no other.
func (n *Notifier) Run(ctx context.Context) {
	log := n.Logger
	if log == nil {
		log = zap.NewNop()
	}
	var zones []servedZone
	for _, z := range n.Handler.zones {
		if !z.reverse {
			zones = append(zones, z)
		}
	}
	var wg sync.WaitGroup
	for _, target := range n.Targets {
		wg.Go(func() { n.tell(ctx, target, zones, log) })
	}
	wg.Wait()
}

// tell notifies target of each new serial of zones until ctx ends.
func (n *Notifier) tell(ctx context.Context, target netip.AddrPort, zones []servedZone, log *zap.Logger) {
	h := n.Handler
	var last uint32
	told, failing := false, false
	var retryAt time.Time
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		wait.Reset(n.untilNextLook())
		snap := h.snapshot()
		if snap == nil {
			continue
		}
		// The serial a secondary is handed is the zone's once its second
		// is over (zone.Snapshot.HandOutSerial); looking just after each
		// second starts, it nearly always is, so one change is one NOTIFY.
		serial := snap.HandOutSerial()
		if told && serial == last && !(failing && time.Now().After(retryAt)) {
			continue
		}
		last, told = serial, true
		var errs []error
		for _, z := range zones {
			soa := h.soa(z, snap)
			soa.Serial = serial
			if err := n.notify(ctx, target, soa); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", z.fqdn, err))
			}
		}
		err := errors.Join(errs...)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			log.Warn("secondary did not acknowledge NOTIFY; told again every 30 s until it does, or at its next refresh it asks", zap.Stringer("target", target),
				zap.Uint32("serial", serial), zap.Error(err))
		case err == nil && failing:
			log.Info("secondary acknowledges NOTIFY again", zap.Stringer("target", target), zap.Uint32("serial", serial))
		case err == nil:
			log.Debug("secondary notified", zap.Stringer("target", target), zap.Uint32("serial", serial))
		}
		failing = err != nil
		retryAt = time.Now().Add(notifyRetry)
	}
}

// notifyRetry is how long a secondary that did not acknowledge waits for
// the same NOTIFY again (a secondary down at start would otherwise hear
// nothing until the next change).
const notifyRetry = 30 * time.Second

// untilNextLook is the wait before the next look at the serial: Interval,
// or with an Interval of a second or more, until 20 ms past the second it
// ends in, when the serial of a change in the second before can go out.
func (n *Notifier) untilNextLook() time.Duration {
	interval := n.Interval
	if interval <= 0 {
		interval = time.Second
	}
	if interval < time.Second {
		return interval
	}
	now := time.Now()
	return now.Truncate(time.Second).Add(interval + 20*time.Millisecond).Sub(now)
}

// notify sends one NOTIFY for soa's zone to target until it is acknowledged.
func (n *Notifier) notify(ctx context.Context, target netip.AddrPort, soa *mdns.SOA) error {
	m := new(mdns.Msg)
	m.SetNotify(soa.Hdr.Name)
	m.Authoritative = true
	m.Answer = []mdns.RR{soa} // the new serial (RFC 1996 3.7)
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	c := &mdns.Client{Net: "udp", Timeout: timeout}
	var err error
	for try := range notifyTries {
		if try > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(try) * timeout): // backing off
			}
		}
		m.Id = mdns.Id()
		var r *mdns.Msg
		r, _, err = c.ExchangeContext(ctx, m, target.String())
		switch {
		case err != nil:
		case r.Opcode != mdns.OpcodeNotify || r.Rcode != mdns.RcodeSuccess:
			err = fmt.Errorf("answered %s, opcode %s", mdns.RcodeToString[r.Rcode], mdns.OpcodeToString[r.Opcode])
		default:
			n.Handler.m.notified(true)
			return nil
		}
	}
	n.Handler.m.notified(false)
	return err
}
