package dns

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"
)

// loopSuffix ends the names of loop probes. The TLD does not exist, so a
// sane upstream answers NXDOMAIN, and only a loop brings one back to us.
const loopSuffix = ".slicedns-loop"

// loopEchoGrace is how long after a loop probe's answer its echo may still
// come back, from an upstream that forwards to all its servers at once.
const loopEchoGrace = 250 * time.Millisecond

// Run probes every upstream now and then every HealthInterval until ctx
// ends: a loop probe (<nonce>.<instance>.slicedns-loop. HINFO), which comes
// back to the handler only through a forwarding loop, and a health probe
// (". NS"), which any answer passes.
func (f *Forwarder) Run(ctx context.Context) {
	f.startChecks()
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.Check(ctx)
		}
	}
}

// Check probes every upstream once and returns when the probes are done.
func (f *Forwarder) Check(ctx context.Context) {
	// One round at a time: a loop probe's verdict is read from the round
	// that sent it, and the first Forward's round may overlap Run's.
	f.checkMu.Lock()
	defer f.checkMu.Unlock()
	f.checkLoops(ctx)
	f.checkHealth(ctx)
}

// startChecks runs the first probes once, by Run or else by the first
// Forward.
func (f *Forwarder) startChecks() {
	f.firstOnce.Do(func() { go f.Check(context.Background()) })
}

// checkLoops probes loops too: a loop is often a passing misconfiguration
// (a node's resolv.conf being rewritten, an upstream restarted with the
// wrong forwarders), and with one nameserver a permanent verdict would end
// all outside resolution until a restart.
func (f *Forwarder) checkLoops(ctx context.Context) {
	f.each(func(u *upstream) {
		name := nonce() + "." + f.instance + loopSuffix + "."
		f.probeMu.Lock()
		// The previous probe's name is kept until now, so a late one that
		// comes back is still recognised.
		for n, pu := range f.probes {
			if pu == u {
				delete(f.probes, n)
			}
		}
		f.probes[name] = u
		u.back = false
		f.probeMu.Unlock()
		err := f.probe(ctx, u, name, mdns.TypeHINFO)
		f.probeMu.Lock()
		back := u.back
		f.probeMu.Unlock()
		// A probe that came back through a forwarder that asks its
		// servers one after another reached ownProbe before its answer
		// reached us. One that asks them all at once ("fastest wins") may
		// answer first and echo the probe a moment later: a loop is
		// cleared only when no echo came within loopEchoGrace of the
		// answer, or it would be cleared and found again every round. No
		// answer proves nothing: the loop may be slower than the timeout.
		if err == nil && !back && u.loop.Load() {
			select {
			case <-ctx.Done():
			case <-time.After(loopEchoGrace):
			}
			f.probeMu.Lock()
			back = u.back
			f.probeMu.Unlock()
		}
		if err == nil && !back {
			f.setLoop(u, false)
		}
		if !u.checked.Swap(true) {
			f.probeMu.Lock()
			close(f.checkedCh)
			f.checkedCh = make(chan struct{})
			f.probeMu.Unlock()
		}
	})
}

func (f *Forwarder) checkHealth(ctx context.Context) {
	f.each(func(u *upstream) {
		// A loop's health probe would come back and be forwarded to the
		// others, whose answer would pass it.
		if u.loop.Load() {
			return
		}
		err := f.probe(ctx, u, ".", mdns.TypeNS)
		if u.loop.Load() {
			return
		}
		if err != nil {
			u.m.probeFailed()
			f.setDown(u, true, "upstream failed its health probe; skipping it until it passes", err)
			return
		}
		f.setDown(u, false, "", nil)
	})
}

// setDown records whether u is down, and logs when that changes: why (a
// warning) when it goes down, and when it is healthy again.
func (f *Forwarder) setDown(u *upstream, down bool, why string, err error) {
	if u.down.Swap(down) == down {
		return
	}
	u.publish()
	if down {
		f.log.Warn(why, zap.String("upstream", u.addr), zap.Error(err))
		return
	}
	f.log.Info("upstream healthy again", zap.String("upstream", u.addr))
}

// each runs fn for every upstream, concurrently.
func (f *Forwarder) each(fn func(*upstream)) {
	var wg sync.WaitGroup
	for _, u := range f.ups {
		wg.Go(func() { fn(u) })
	}
	wg.Wait()
}

// probe sends one query to u; any answer, whatever its rcode, passes.
func (f *Forwarder) probe(ctx context.Context, u *upstream, name string, qtype uint16) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	q := new(mdns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(advertisedUDPSize, false)
	// Timeout too: without it miekg/dns cuts every read at its own 2s.
	c := &mdns.Client{Net: "udp", UDPSize: mdns.MaxMsgSize, Timeout: f.timeout}
	_, _, err := c.ExchangeContext(ctx, q, u.addr)
	return err
}

// ownProbe reports whether name is one of this forwarder's loop probes,
// which reached the handler only because an upstream sent it back: that
// upstream is a loop, and is not forwarded to until a later loop probe is
// answered without coming back. Another instance's
// probes are not ours; they are forwarded like any other name, so that
// instance can see its own loop.
func (f *Forwarder) ownProbe(name string) bool {
	name = strings.TrimSuffix(name, ".")
	// Every forwarded query passes here: no allocation unless it is a probe.
	if len(name) <= len(loopSuffix) || !strings.EqualFold(name[len(name)-len(loopSuffix):], loopSuffix) {
		return false
	}
	name = strings.ToLower(name)
	if !strings.HasSuffix(strings.TrimSuffix(name, loopSuffix), "."+f.instance) {
		return false
	}
	f.probeMu.Lock()
	u := f.probes[name+"."]
	if u != nil {
		u.back = true
	}
	f.probeMu.Unlock()
	if u != nil {
		f.setLoop(u, true)
	}
	// A stale probe of ours, whose upstream is unknown, is still refused:
	// forwarding it would feed the loop.
	return true
}

// setLoop records whether u is a loop, and logs when that changes: the
// probes repeat every interval, the log lines only with the verdict.
func (f *Forwarder) setLoop(u *upstream, loop bool) {
	if u.loop.Swap(loop) == loop {
		return
	}
	u.publish()
	if loop {
		f.log.Error(fmt.Sprintf("forwarding loop: upstream %s sends queries back to slicedns; not forwarding to it until a loop probe (every %v) is answered without coming back (point --upstream at a resolver that does not use slicedns)", u.addr, f.interval),
			zap.String("upstream", u.addr))
		return
	}
	f.log.Warn(fmt.Sprintf("forwarding loop gone: upstream %s answered its loop probe itself; forwarding to it again", u.addr), zap.String("upstream", u.addr))
}

func nonce() string { return fmt.Sprintf("%016x", rand.Uint64()) }
