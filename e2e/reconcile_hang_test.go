package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plowline/plowline/testkit"
)

// hangingWarehouseConfig is an exporter configuration whose warehouse is
// a FIFO: SQLite's open(2) of it blocks until a writer appears, whatever
// the context says — a driver that ignores its deadline.
func hangingWarehouseConfig(t *testing.T, timeout string) string {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "warehouse.db")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	cfg := fmt.Sprintf(`window: 1m
lookback: 30m
sources:
  - {name: warehouse, kind: warehouse, interval: 15m, timeout: %s, warehouse: {driver: sqlite, path: %q}}
nodes:
  - {name: "warehouse:good", source: warehouse, select: {table: gitlab_events}}
  - {name: "warehouse:copy", source: warehouse, select: {table: gitlab_events}}
edges:
  - {name: copy, from: "warehouse:good", to: "warehouse:copy", relation: eq, latency_budget: 10s}
`, timeout, fifo)
	path := filepath.Join(dir, "exporter.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReconcileAbandonsASourcePastItsTimeout: a warehouse whose open
// blocks forever is abandoned at its 1s timeout; plowline reconcile
// answers (exit 3: incomplete) within seconds and names the source.
func TestReconcileAbandonsASourcePastItsTimeout(t *testing.T) {
	cfg := hangingWarehouseConfig(t, "1s")
	cmd := exec.Command(testkit.Binary(t), "reconcile", "--config", cfg, "--from", "-10m")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("exit %v, want status 3 (a source failed):\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("plowline reconcile still running after 60s with a 1s source timeout:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "warehouse") || !strings.Contains(out.String(), "timed out after 1s") {
		t.Errorf("output does not name the abandoned source and its timeout:\n%s", out.String())
	}
	t.Logf("answered in %s", time.Since(start).Round(time.Millisecond))
}

// TestReconcileExitsOnSIGTERM: with a source hanging under a long timeout,
// SIGTERM ends plowline reconcile at once with status 130.
func TestReconcileExitsOnSIGTERM(t *testing.T) {
	cfg := hangingWarehouseConfig(t, "10m")
	cmd := exec.Command(testkit.Binary(t), "reconcile", "--config", cfg, "--from", "-10m")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(time.Second)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("exit %v, want status 130 (interrupted):\n%s", err, out.String())
		}
		t.Logf("exited %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("plowline reconcile ignored SIGTERM for 15s:\n%s", out.String())
	}
}
