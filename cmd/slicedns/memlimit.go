package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// container's cgroup limit, unless GOMEMLIMIT is set: the GC then works
// harder near the limit instead of letting the kernel OOM-kill the pod during
// a relist. Outside a limited cgroup it sets none. It returns the limit set
// (0 for none) and whether GOMEMLIMIT is the user's, which tidyMemory then
// leaves alone.
func setMemoryLimit(log *zap.Logger) (ceiling uint64, userSet bool) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, true
	}
	limit, ok := cgroupMemoryLimit("/sys/fs/cgroup")
	if !ok {
		return 0, false
	}
	soft := limit / 10 * 9
	debug.SetMemoryLimit(soft)
	log.Info("Go memory limit set from the cgroup", zap.Int64("cgroup_bytes", limit), zap.Int64("soft_limit_bytes", soft))
	return uint64(soft), false
}

// sampleAllocations turns the runtime's allocation sampling off unless
// /debug/pprof is served (or GODEBUG sets memprofilerate): without it no
// one can fetch a heap profile, and the samples' table costs about 1.5 MB
// of RSS by itself.
func sampleAllocations(pprof bool) {
	if !pprof && !strings.Contains(os.Getenv("GODEBUG"), "memprofilerate=") {
		runtime.MemProfileRate = 0
	}
}

// GOGC while the initial state loads, and after. The query path allocates
// nothing, so once synced the GC runs only when the zone changes and a low
// GOGC costs little CPU while keeping the heap close to the zone's live
// size: at 10, a relist of 100k endpoints (about 40 MB of decoding garbage)
// peaks 3 MB lower than at 20, for some 15 more GC cycles of ~30 ms. During
// the load, when nothing is served yet, a higher one makes the first answer
// come sooner (at 20 instead of 30 it came ~0.3 s later for 2 MB less).
const (
	loadGOGC  = 30
	serveGOGC = 10
)

// tuneGC sets loadGOGC, unless GOGC is set in the environment, which wins.
// It returns what to run once the source is synced, to set serveGOGC.
func tuneGC() (afterSync func(ctx context.Context, synced func() bool)) {
	if os.Getenv("GOGC") != "" {
		return func(context.Context, func() bool) {}
	}
	debug.SetGCPercent(loadGOGC)
	return func(ctx context.Context, synced func() bool) {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for !synced() {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		debug.SetGCPercent(serveGOGC)
	}
}

// Memory tidying: see tidyMemory.
const (
	tidyEvery = 2 * time.Second
	// tidyMinSlack is the least reclaimable memory worth a tidy; below it,
	// and below tidyRatio of the live heap, the runtime's own pace is fine.
	tidyMinSlack = 1 << 20
	tidyRatio    = 0.05
)

// tidyMemory hands the garbage of a burst of work back to the OS once the
// process is quiet again. slicedns allocates nothing per query, so after a
// burst (the initial load, a relist after an API server restart, a large
// rollout) the GC may not run again for minutes, and until it does the
// burst's garbage stays resident: after a relist of 100k endpoints that was
// 50 MB. Every tidyEvery it reads the runtime's metrics and, when no GC ran
// since the last look (or tidyPatience looks in a row found GCs running
// and memory to return) and the heap holds more reclaimable memory (garbage,
// or freed memory not yet returned) than tidyMinSlack and tidyRatio of the
// live heap, runs debug.FreeOSMemory: one GC and a release, at most once per
// tick, once the work has stopped or slowed, and only if at least tidyMinSlack
// was allocated since the last one.
//
// Once synced it also keeps a soft memory limit a little above the quiet
// footprint (see followLimit), so that a burst cannot grow the process for
// those seconds: the GC runs more often instead, and the runtime returns
// freed pages at once. A relist of 10,000 Services after an API server
// restart allocates some 45 MB in a fifth of a second; at GOGC 10 alone
// that still added 5-7 MiB of RSS until the tidy. follow is nil to leave the
// limit alone (GOMEMLIMIT is the user's).
func tidyMemory(ctx context.Context, follow *memFollower) {
	t := newMemTidier()
	t.follow = follow
	tick := time.NewTicker(tidyEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.tick()
		}
	}
}

type memTidier struct {
	samples    []metrics.Sample
	lastCycles uint64
	lastAllocs uint64 // bytes allocated when the last tidy ended
	// waited counts the ticks in a row that would have tidied but for a GC
	// in between: after tidyPatience of them it tidies anyway, so that a
	// trickle of small GCs cannot put it off for ever.
	waited int
	follow *memFollower
}

// memFollower keeps the memory limit that follows the quiet footprint.
type memFollower struct {
	synced  func() bool // the limit follows only once the source is synced
	ceiling uint64      // the cgroup's soft limit, 0 for none
	quiet   uint64      // footprint at the last quiet look
	limit   uint64      // the limit set, 0 before the first
}

// Headroom of the following limit over the footprint: a tenth, and at
// least followMinHeadroom. At GOGC 10 the heap itself grows by a tenth
// between collections; the rest is slack for stacks and buffers.
const followMinHeadroom = 2 << 20

// followLimit is the soft memory limit for a process whose footprint (the
// Go runtime's memory, less what it returned to the OS) was quiet when last
// measured while nothing was being tidied, and which now keeps inUse (the
// footprint less free heap pages) in use: quiet plus headroom, but never
// less than inUse plus headroom, so that growth that lasts (a larger zone)
// raises it at the next look rather than starving the GC; ceiling, when not
// 0, caps it.
func followLimit(quiet, inUse, ceiling uint64) uint64 {
	headroom := func(n uint64) uint64 { return n + max(n/10, followMinHeadroom) }
	limit := max(headroom(quiet), headroom(inUse))
	if ceiling > 0 {
		limit = min(limit, ceiling)
	}
	return limit
}

// look updates the limit from the metrics just read (see newMemTidier's
// samples); quiet says nothing is going on, so the footprint is the steady
// one.
func (f *memFollower) look(s []metrics.Sample, quiet bool) {
	if f == nil || !f.synced() {
		return
	}
	footprint := s[5].Value.Uint64() - s[6].Value.Uint64()
	inUse := footprint - min(footprint, s[3].Value.Uint64())
	if quiet || f.quiet == 0 {
		f.quiet = footprint
	}
	if limit := followLimit(f.quiet, inUse, f.ceiling); limit != f.limit {
		debug.SetMemoryLimit(int64(limit))
		f.limit = limit
	}
}

const tidyPatience = 3

func newMemTidier() *memTidier {
	t := &memTidier{samples: []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/live:bytes"},                 // live after the last GC
		{Name: "/memory/classes/heap/objects:bytes"},  // live plus garbage not yet swept
		{Name: "/memory/classes/heap/free:bytes"},     // free, not yet returned to the OS
		{Name: "/gc/heap/allocs:bytes"},               // allocated since start
		{Name: "/memory/classes/total:bytes"},         // all the runtime has mapped
		{Name: "/memory/classes/heap/released:bytes"}, // of which returned to the OS
	}}
	metrics.Read(t.samples)
	t.lastCycles = t.samples[0].Value.Uint64()
	return t
}

// tick looks once and tidies if it is worth it; it reports whether it did.
func (t *memTidier) tick() bool {
	metrics.Read(t.samples)
	cycles := t.samples[0].Value.Uint64()
	quiet := cycles == t.lastCycles
	t.lastCycles = cycles
	live := t.samples[1].Value.Uint64()
	objects := t.samples[2].Value.Uint64()
	free := t.samples[3].Value.Uint64()
	var reclaimable uint64
	if objects > live {
		reclaimable = objects - live
	}
	reclaimable += free
	// Only what was allocated since the last tidy can be new garbage: the
	// heap keeps some free memory it cannot return, and a tidy for it
	// would be a GC every tick of an idle server.
	allocated := t.samples[4].Value.Uint64() - t.lastAllocs
	if allocated < tidyMinSlack || reclaimable < tidyMinSlack || float64(reclaimable) < tidyRatio*float64(live) {
		t.waited = 0
		t.follow.look(t.samples, quiet)
		return false
	}
	if !quiet && t.waited < tidyPatience {
		t.waited++
		t.follow.look(t.samples, false)
		return false
	}
	t.waited = 0
	debug.FreeOSMemory()
	metrics.Read(t.samples)
	t.lastCycles, t.lastAllocs = t.samples[0].Value.Uint64(), t.samples[4].Value.Uint64()
	t.follow.look(t.samples, true)
	return true
}

// cgroupMemoryLimit reads the memory limit of the cgroup mounted at root:
// cgroup v2's memory.max, a byte count or "max" for none, or, where there
// is none (a cgroup v1 node), v1's memory/memory.limit_in_bytes, where no
// limit reads as the largest page-aligned int64, just under 2^63.
func cgroupMemoryLimit(root string) (int64, bool) {
	b, err := os.ReadFile(filepath.Join(root, "memory.max"))
	if err != nil {
		if b, err = os.ReadFile(filepath.Join(root, "memory", "memory.limit_in_bytes")); err != nil {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n > cgroupV1Unlimited {
		return 0, false
	}
	return n, true
}

// cgroupV1Unlimited is the largest limit taken for one: v1's "none" is
// 2^63 less a page, 2^63 - 4096 with 4 KiB pages and 2^63 - 65536 with 64
// KiB ones, and no machine has an exbibyte to give.
const cgroupV1Unlimited = 1 << 62
