package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestApplyMemoryLimit: --memory-limit sets the runtime's soft limit, 0
// removes it, a bad size is refused, and a GOMEMLIMIT from the
// environment wins unless the flag was given.
func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	if err := applyMemoryLimit("64MiB", false); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Errorf("after 64MiB: limit %d, want %d", got, 64<<20)
	}
	if err := applyMemoryLimit("0", true); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("after 0: limit %d, want none (MaxInt64)", got)
	}
	if err := applyMemoryLimit("lots", true); err == nil {
		t.Error("--memory-limit lots accepted")
	}
	t.Setenv("GOMEMLIMIT", "200MiB")
	debug.SetMemoryLimit(200 << 20) // as the runtime would have at start
	if err := applyMemoryLimit("64MiB", false); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Errorf("default flag with GOMEMLIMIT set: limit %d, want GOMEMLIMIT's %d", got, 200<<20)
	}
	if err := applyMemoryLimit("64MiB", true); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Errorf("explicit flag with GOMEMLIMIT set: limit %d, want %d", got, 64<<20)
	}
}
