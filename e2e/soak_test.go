package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/plowline/plowline/testkit"
)

// TestSoakNoFalseAlarms: 12 windows of continuous --demo traffic (5s
// windows, 1s batch buffers) with no fault: not one settled window of any
// edge is out of tolerance, plowline reconcile over the whole run exits 0,
// and a real Prometheus scraping run's /metrics and evaluating
// alerts/plowline.rules.yml never has an alert pending or firing.
// PLOWLINE_SOAK=20m soaks longer (the false-positive measurement in
// docs/exporter.md; the 2h lookback keeps every window).
func TestSoakNoFalseAlarms(t *testing.T) {
	var err error
	soak := 12 * mxWindow
	if v := os.Getenv("PLOWLINE_SOAK"); v != "" {
		if soak, err = time.ParseDuration(v); err != nil {
			t.Fatalf("PLOWLINE_SOAK=%q: %v", v, err)
		}
	}
	r := startMatrixRun(t, "--demo", "--demo.rate", "20")
	began := time.Now().UTC()
	promURL, scraped := startPrometheus(t, r.MetricsURL)
	alerts := func() []string {
		var out []string
		for _, a := range promAlerts(promURL, scraped) {
			out = append(out, a.State+" "+a.Labels["alertname"]+" "+a.Labels["edge"])
		}
		return out
	}
	seen := map[string]bool{}
	for end := time.Now().Add(soak); time.Now().Before(end); time.Sleep(2 * time.Second) {
		for _, a := range alerts() {
			seen[a] = true
		}
	}
	last := time.Now().UTC().Truncate(mxWindow).Add(-mxWindow)
	rep := judgedReport(t, r, last)
	// Keep watching the alerts while the last windows settle.
	for _, a := range alerts() {
		seen[a] = true
	}
	judged := 0
	for _, e := range rep.Edges {
		for _, c := range e.Windows {
			switch c.Status {
			case "out":
				t.Errorf("edge %s out of tolerance in window %s: expected %v, observed %v", e.Name, c.Window.Format("15:04:05"), c.Expected, c.Observed)
			case "ok":
				if e.Name == "collector_to_enricher" && c.Expected > 0 {
					judged++ // a settled window with traffic
				}
			}
		}
	}
	if judged < 10 {
		t.Errorf("only %d settled windows with traffic judged; the soak needs 10+", judged)
	}
	for a := range seen {
		t.Errorf("Prometheus alert during the soak: %s", a)
	}
	// Prometheus really evaluated the rules against the exporter's series.
	resp, err := http.Get(promURL + "/api/v1/query?query=count(plowline_edge_out_of_tolerance)")
	if err != nil {
		t.Fatal(err)
	}
	var q struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&q)
	resp.Body.Close()
	if len(q.Data.Result) != 1 {
		t.Errorf("Prometheus has no plowline_edge_out_of_tolerance series: %+v", q)
	}
	cmd := exec.Command(testkit.Binary(t), "reconcile", "--config", filepath.Join(r.DataDir, "exporter", "exporter.yaml"),
		"--from", began.Format(time.RFC3339), "--to", last.Add(mxWindow).Format(time.RFC3339))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("plowline reconcile over the soak: %v, want exit 0:\n%s", err, out)
	}
	t.Logf("%d settled windows with traffic judged on %d edges, 0 out of tolerance; alerts seen: %d", judged, len(rep.Edges), len(seen))
	r.stop(t)
}
