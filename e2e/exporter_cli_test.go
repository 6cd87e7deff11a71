package e2e

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"

	"github.com/plowline/plowline/testkit"
)

// exporterConfig writes a configuration with a healthy warehouse source
// (SQLite with GitLab's table shape) and a source whose endpoint refuses
// connections.
func exporterConfig(t *testing.T, dir string) string {
	t.Helper()
	dbPath := filepath.Join(dir, "warehouse.db")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE gitlab_events (collector_tstamp TEXT, event_id TEXT, uploaded_at TEXT)`); err != nil {
		t.Fatal(err)
	}
	ts := time.Now().UTC().Add(-2 * time.Minute).Format("2006-01-02 15:04:05.000")
	for i := 0; i < 5; i++ {
		if _, err := db.Exec(`INSERT INTO gitlab_events VALUES (?, ?, ?)`, ts, fmt.Sprint(i), ts); err != nil {
			t.Fatal(err)
		}
	}
	closed := fmt.Sprintf("http://127.0.0.1:%d/metrics", testkit.FreePort(t))
	cfg := fmt.Sprintf(`window: 1m
lookback: 30m
sources:
  - {name: warehouse, kind: warehouse, interval: 1s, warehouse: {driver: sqlite, path: %q}}
  - {name: collector, kind: metrics, interval: 1s, timeout: 500ms, metrics: {url: %q}}
nodes:
  - {name: "warehouse:good", source: warehouse, select: {table: gitlab_events}}
  - {name: collector, source: collector, select: {metric: plowline_collector_events_total}}
edges:
  - {name: collector_to_warehouse, from: collector, to: "warehouse:good", relation: eq, latency_budget: 10s}
`, dbPath, closed)
	path := filepath.Join(dir, "exporter.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExporterCommand: plowline exporter behind exporter-toolkit basic auth
// serves /metrics and the page; a refusing source is up 0 while the other
// is up 1; the password never shows in its output.
func TestExporterCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := exporterConfig(t, dir)
	const password = "correct-horse-battery-staple"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, []byte("basic_auth_users:\n  oncall: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	p := testkit.Start(t, nil, testkit.Binary(t), "exporter", "--config", cfg, "--web.listen-address", addr, "--web.config.file", webCfg)
	testkit.WaitTCP(t, addr, 20*time.Second)

	get := func(path string, auth bool) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if auth {
			req.SetBasicAuth("oncall", password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/metrics", false); code != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d, want 401", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := get("/metrics", true)
		if code == http.StatusOK && strings.Contains(body, `plowline_source_up{kind="warehouse",source="warehouse"} 1`) &&
			strings.Contains(body, `plowline_source_up{kind="metrics",source="collector"} 0`) &&
			strings.Contains(body, `plowline_source_errors_total{kind="metrics",source="collector"}`) &&
			strings.Contains(body, "go_goroutines") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed one source up and one down (HTTP %d):\n%s\n%s", code, body, p.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, page := get("/", true)
	if code != http.StatusOK || !strings.Contains(page, "DOWN") || !strings.Contains(page, "collector_to_warehouse") {
		t.Errorf("page (HTTP %d) lacks the down source or the edge:\n%s", code, page)
	}
	if !p.Contains("source refresh failed") || !p.Contains("connection refused") {
		t.Errorf("the failing source's reason is not logged:\n%s", p.Output())
	}
	if p.Contains(password) {
		t.Error("the password appears in the exporter's output")
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// testkit reaps the process; once it has, signal 0 finds no such process.
	deadline = time.Now().Add(15 * time.Second)
	for syscall.Kill(p.Cmd.Process.Pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("exporter did not stop within 15s of SIGTERM:\n%s", p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !p.Contains("exporter stopping") {
		t.Errorf("no orderly stop logged:\n%s", p.Output())
	}
}

// TestExporterRefusesBadInput: bad flags and configuration exit 2 naming
// the key and the offending value.
func TestExporterRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	good := exporterConfig(t, dir)
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("window: 7m\nedges: [{name: e, from: a, to: b, relation: approx}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"exporter", "--config", bad}, []string{"window: 7m0s must divide an hour", `edges[0].relation: "approx" unknown`, `edges[0].from: "a" is not a configured node`}},
		{[]string{"exporter"}, []string{"--config is required"}},
		{[]string{"exporter", "--config", good, "--log.level", "loud"}, []string{`--log.level "loud"`}},
		{[]string{"exporter", "--config", good, "--web.config.file", filepath.Join(dir, "missing.yml")}, []string{"--web.config.file", "missing.yml"}},
		{[]string{"reconcile", "--config", good, "--from", "yesterday"}, []string{`--from: "yesterday" is neither RFC 3339`}},
		{[]string{"reconcile", "--config", good, "--from", "-1h", "--to", "-2h"}, []string{"is not before --to"}},
	}
	for _, c := range cases {
		cmd := exec.Command(testkit.Binary(t), c.args...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("plowline %s: %v, want exit status 2\n%s", strings.Join(c.args, " "), err, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("plowline %s: output lacks %q:\n%s", strings.Join(c.args, " "), w, out)
			}
		}
	}
	// A reconcile over a source that is down is status 3, not 0.
	cmd := exec.Command(testkit.Binary(t), "reconcile", "--config", good, "--from", "-10m")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "DOWN") {
		t.Errorf("reconcile with a source down: %v, want exit 3 and the source DOWN:\n%s", err, out)
	}
}
