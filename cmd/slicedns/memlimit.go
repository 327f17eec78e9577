package main

import (
	"context"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// container's cgroup limit, unless GOMEMLIMIT is set: the GC then works
// harder near the limit instead of letting the kernel OOM-kill the pod during
// a relist. Outside a limited cgroup it does nothing.
func setMemoryLimit(log *zap.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit, ok := cgroupMemoryLimit("/sys/fs/cgroup/memory.max")
	if !ok {
		return
	}
	soft := limit / 10 * 9
	debug.SetMemoryLimit(soft)
	log.Info("Go memory limit set from the cgroup", zap.Int64("cgroup_bytes", limit), zap.Int64("soft_limit_bytes", soft))
}

// tuneGC trades a little CPU during zone updates for memory: the query path
// allocates nothing, so the GC only runs when the zone changes, and a lower
// GOGC keeps the heap closer to the zone's live size. GOGC in the
// environment wins.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

// releaseAfterSync hands the memory of the initial load (decoded lists,
// snapshots replaced thousands of times) back to the OS once synced, instead
// of waiting for the background scavenger; RSS then reflects the zone.
func releaseAfterSync(ctx context.Context, synced func() bool) {
	for !synced() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	debug.FreeOSMemory()
}

// cgroupMemoryLimit reads a cgroup v2 memory.max file: a byte count, or
// "max" for no limit.
func cgroupMemoryLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
