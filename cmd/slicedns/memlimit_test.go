package main

import (
	"os"
	"path/filepath"
	"testing"
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
