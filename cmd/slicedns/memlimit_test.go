package main

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

func TestCgroupMemoryLimit(t *testing.T) {
	const none = "\x00" // the file does not exist
	for _, c := range []struct {
		name   string
		v2, v1 string // memory.max, memory/memory.limit_in_bytes
		want   int64  // 0 for no limit
	}{
		{"v2 limit", "268435456\n", none, 268435456},
		{"v2 max", "max\n", none, 0},
		{"v2 empty", "", none, 0},
		{"v2 garbage", "garbage", none, 0},
		{"v1 limit", none, "268435456\n", 268435456},
		{"v1 unlimited, 4 KiB pages", none, "9223372036854771712\n", 0},
		{"v1 unlimited, 64 KiB pages", none, "9223372036854710272\n", 0},
		{"v1 negative", none, "-1\n", 0},
		{"v2 wins", "max\n", "268435456\n", 0},
		{"neither", none, none, 0},
	} {
		root := t.TempDir()
		for path, content := range map[string]string{"memory.max": c.v2, "memory/memory.limit_in_bytes": c.v1} {
			if content == none {
				continue
			}
			p := filepath.Join(root, path)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, ok := cgroupMemoryLimit(root)
		if got != c.want || ok != (c.want > 0) {
			t.Errorf("%s: got %d, %v; want %d", c.name, got, ok, c.want)
		}
	}
}

var live, garbage [][]byte

// After a burst of allocation the tidier gives the garbage back once no GC
// runs on its own; on a tidy heap it does nothing. The heap is shaped like
// slicedns's after a relist: a large live zone, and garbage below the next
// GC's trigger, which nothing would collect soon.
func TestMemTidier(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for range 40 {
		live = append(live, make([]byte, 1<<20))
	}
	debug.FreeOSMemory()
	tidy := newMemTidier()
	if tidy.tick() {
		t.Error("tidied a heap that was just released")
	}
	for range 24 {
		garbage = append(garbage, make([]byte, 1<<20))
	}
	garbage = nil
	if !tidy.tick() {
		t.Fatal("24 MB of garbage were not tidied")
	}
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if free, objects := s[0].Value.Uint64(), s[1].Value.Uint64(); free >= tidyMinSlack || objects >= 60<<20 {
		t.Errorf("after tidying: %d bytes free but not returned, %d in objects", free, objects)
	}
	for range 5 {
		if tidy.tick() {
			t.Fatal("tidied again with nothing allocated in between")
		}
	}
	// GCs of their own between every look only put it off for a while.
	for range 24 {
		garbage = append(garbage, make([]byte, 1<<20))
	}
	garbage = nil
	runtime.GC() // frees the garbage; the pages stay with the process
	for i := range tidyPatience {
		sink = make([]byte, 2<<20) // allocation since the last tidy
		runtime.GC()
		if tidy.tick() {
			t.Fatalf("tidied at look %d, with a GC since the last one", i)
		}
	}
	runtime.GC()
	if !tidy.tick() {
		t.Errorf("still not tidied after %d looks with GCs in between", tidyPatience+1)
	}
	live, sink = nil, nil
}

var sink []byte

// gcPercent reads GOGC as the runtime has it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTuneGC(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set in the environment, which tuneGC leaves alone")
	}
	defer debug.SetGCPercent(gcPercent())
	var synced atomic.Bool
	go tuneGC()(t.Context(), synced.Load)
	if got := gcPercent(); got != loadGOGC {
		t.Errorf("while loading GOGC = %d, want %d", got, loadGOGC)
	}
	synced.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for gcPercent() != serveGOGC {
		if time.Now().After(deadline) {
			t.Fatalf("once synced GOGC = %d, want %d", gcPercent(), serveGOGC)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSampleAllocations(t *testing.T) {
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	t.Setenv("GODEBUG", "")
	runtime.MemProfileRate = 512 * 1024
	sampleAllocations(true)
	if runtime.MemProfileRate != 512*1024 {
		t.Errorf("with --pprof the rate became %d", runtime.MemProfileRate)
	}
	sampleAllocations(false)
	if runtime.MemProfileRate != 0 {
		t.Errorf("without --pprof the rate is %d, want 0", runtime.MemProfileRate)
	}
	runtime.MemProfileRate = 1
	t.Setenv("GODEBUG", "memprofilerate=1")
	sampleAllocations(false)
	if runtime.MemProfileRate != 1 {
		t.Errorf("GODEBUG's memprofilerate was overridden: %d", runtime.MemProfileRate)
	}
}

func TestFollowLimit(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name                  string
		quiet, inUse, ceiling uint64
		want                  uint64
	}{
		{"a tenth over the quiet footprint", 40 * mib, 30 * mib, 0, 44 * mib},
		{"at least the minimum headroom", 10 * mib, 5 * mib, 0, 10*mib + followMinHeadroom},
		{"growth that lasts raises it", 40 * mib, 50 * mib, 0, 55 * mib},
		{"the cgroup's limit caps it", 40 * mib, 30 * mib, 42 * mib, 42 * mib},
		{"even when in use is over it", 40 * mib, 60 * mib, 42 * mib, 42 * mib},
	} {
		if got := followLimit(c.quiet, c.inUse, c.ceiling); got != c.want {
			t.Errorf("%s: followLimit(%d, %d, %d) = %d MiB, want %d MiB", c.name, c.quiet, c.inUse, c.ceiling, got/mib, c.want/mib)
		}
	}
}

// Once synced, the tidier keeps the runtime's memory limit a little above
// the quiet footprint, raises it when more stays in use, and leaves it
// alone before the sync.
func TestMemTidierFollowsTheFootprint(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	var synced atomic.Bool
	follow := &memFollower{synced: synced.Load}
	tidy := newMemTidier()
	tidy.follow = follow
	before := debug.SetMemoryLimit(-1)
	debug.FreeOSMemory()
	tidy.tick()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("the limit moved to %d before the sync", got)
	}

	synced.Store(true)
	footprint := func() uint64 {
		s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64() - s[1].Value.Uint64()
	}
	tidy.tick()
	limit := uint64(debug.SetMemoryLimit(-1))
	if fp := footprint(); limit != follow.limit || limit < fp || limit > fp+max(fp/10, followMinHeadroom)+1<<20 {
		t.Fatalf("limit %d MiB for a footprint of %d MiB", limit>>20, fp>>20)
	}
	for range 40 {
		live = append(live, make([]byte, 1<<20))
	}
	tidy.tick()
	if got := uint64(debug.SetMemoryLimit(-1)); got < limit+40<<20 {
		t.Errorf("with 40 MiB more in use the limit went from %d to %d MiB", limit>>20, got>>20)
	}
	live = nil
}
