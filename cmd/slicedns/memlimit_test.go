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
	dir := t.TempDir()
	for content, want := range map[string]int64{"268435456\n": 268435456, "max\n": 0, "": 0, "garbage": 0} {
		p := filepath.Join(dir, "memory.max")
		os.WriteFile(p, []byte(content), 0o644)
		got, ok := cgroupMemoryLimit(p)
		if got != want || ok != (want > 0) {
			t.Errorf("%q: got %d, %v; want %d", content, got, ok, want)
		}
	}
	if _, ok := cgroupMemoryLimit(filepath.Join(dir, "missing")); ok {
		t.Error("a missing file gave a limit")
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
