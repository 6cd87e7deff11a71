package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plowline/plowline/testkit"
)

// runProc is the real binary running `plowline run`.
type runProc struct {
	URL        string // collector, http://127.0.0.1:PORT
	MetricsURL string
	DataDir    string
	Proc       *testkit.Process
}

// startRun runs `plowline run` on free loopback ports over dataDir and
// waits until the collector answers /health.
func startRun(t *testing.T, dataDir string, args ...string) *runProc {
	t.Helper()
	port, wport := testkit.FreePort(t), testkit.FreePort(t)
	r := &runProc{
		URL:        fmt.Sprintf("http://127.0.0.1:%d", port),
		MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", wport),
		DataDir:    dataDir,
	}
	all := append([]string{"run", "--data-dir", dataDir,
		"--collector.listen-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", wport)}, args...)
	r.Proc = testkit.Start(t, nil, testkit.Binary(t), all...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(r.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if r.Proc.Cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("plowline run not healthy (last: %v):\n%s", err, r.Proc.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit (every stage drained).
func (r *runProc) stop(t *testing.T) {
	t.Helper()
	if err := r.Proc.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(r.Proc.Output(), "every acknowledged event is in the warehouse") {
		if time.Now().After(deadline) {
			t.Fatalf("plowline run did not drain and stop within 60s:\n%s", r.Proc.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// query runs `plowline query --format json` and returns the rows.
func query(t *testing.T, dataDir, sql string) []map[string]any {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), "query", "--data-dir", dataDir, "--format", "json", sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("plowline query %q: %v\n%s", sql, err, stderr.String())
	}
	var rows []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil {
		t.Fatalf("plowline query output is not a JSON array: %v\n%s", err, stdout.String())
	}
	return rows
}

func queryCount(t *testing.T, dataDir, sql string) int {
	t.Helper()
	rows := query(t, dataDir, sql)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%s: want one value, got %v", sql, rows)
	}
	for _, v := range rows[0] {
		if f, ok := v.(float64); ok {
			return int(f)
		}
	}
	t.Fatalf("%s: not a number: %v", sql, rows)
	return 0
}

// pseudonym is what the pseudonymizer must make of v: the lowercase hex
// HMAC-SHA256 under the key in the data directory (trimmed file content).
func pseudonym(t *testing.T, dataDir, v string) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(dataDir, "hmac.key"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, bytes.TrimSpace(key))
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

// waitRows polls until sql counts at least want rows.
func waitRows(t *testing.T, dataDir, sql string, want int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := queryCount(t, dataDir, sql)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}
