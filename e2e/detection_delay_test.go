package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/testkit"
)

// startPrometheus runs a real Prometheus that scrapes metricsURL every
// second and evaluates alerts/plowline.rules.yml as committed (its groups
// set their own evaluation interval, 1m), and returns its base URL once it
// has scraped the target, with when that was.
func startPrometheus(t *testing.T, metricsURL string) (string, time.Time) {
	t.Helper()
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus not installed (apt-get install prometheus)")
		}
		t.Skip("prometheus not installed")
	}
	rules, err := filepath.Abs(filepath.Join("..", "alerts", "plowline.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pport := testkit.FreePort(t)
	target := strings.TrimPrefix(strings.TrimSuffix(metricsURL, "/metrics"), "http://")
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: plowline
    static_configs: [{targets: [%q]}]
`, rules, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, nil, promBin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", pport))
	promURL := fmt.Sprintf("http://127.0.0.1:%d", pport)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(promURL + "/api/v1/query?query=up%3D%3D1"); err == nil {
			var q struct {
				Data struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			json.NewDecoder(resp.Body).Decode(&q)
			resp.Body.Close()
			if len(q.Data.Result) == 1 {
				return promURL, time.Now()
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus did not scrape plowline within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// promAlert is one alert from Prometheus's /api/v1/alerts.
type promAlert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"`
	ActiveAt time.Time         `json:"activeAt"`
}

// promAlerts lists the alerts pending or firing (nil if Prometheus is not
// up yet), except PlowlineExporterAbsent gone pending before Prometheus's
// first scrape (scraped): a rule evaluation that happens to precede the
// first scrape sees no series, which says nothing about plowline.
func promAlerts(promURL string, scraped time.Time) []promAlert {
	resp, err := http.Get(promURL + "/api/v1/alerts")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	var out []promAlert
	for _, a := range body.Data.Alerts {
		if a.Labels["alertname"] == "PlowlineExporterAbsent" && a.ActiveAt.Before(scraped) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// outOfTolerance reports whether the exporter's gauge for edge is 1.
func outOfTolerance(t *testing.T, metricsURL, edge string) bool {
	for k, v := range scrapeAll(t, metricsURL) {
		if strings.HasPrefix(k, `plowline_edge_out_of_tolerance{edge="`+edge+`"`) && v == 1 {
			return true
		}
	}
	return false
}

// TestDetectionDelay measures, under continuous --demo traffic, how long a
// loss takes from the fault's start to the exporter's
// plowline_edge_out_of_tolerance gauge and to PlowlineEventsLost pending
// in a real Prometheus evaluating alerts/plowline.rules.yml, and checks
// the alert names the faulty edge. Firing is pending + the rule's `for:`
// (5m); PLOWLINE_DETECTION_FIRING=1 (make measure-detection) waits for it
// too. Delays are logged, not asserted (the machine is shared); the
// formula and the measured numbers are in docs/exporter.md.
func TestDetectionDelay(t *testing.T) {
	const edge, after = "collector_to_enricher", 12 * time.Second
	firing := os.Getenv("PLOWLINE_DETECTION_FIRING") != ""
	r := startMatrixRun(t, "--demo", "--demo.rate", "20", "--fault", fmt.Sprintf("drop 0.3 collector>raw-good after %s", after))
	defer r.stop(t)
	m := faultStartRE.FindStringSubmatch(r.Proc.Output())
	if m == nil {
		t.Fatalf("no fault start logged:\n%s", r.Proc.Output())
	}
	start, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatal(err)
	}
	promURL, scraped := startPrometheus(t, r.MetricsURL)

	var gauge, pending, fired time.Time
	var pendingAlert promAlert
	limit := 4 * time.Minute
	if firing {
		limit += 6 * time.Minute
	}
	deadline := time.Now().Add(limit)
	for (gauge.IsZero() || pending.IsZero() || (firing && fired.IsZero())) && time.Now().Before(deadline) {
		if gauge.IsZero() && outOfTolerance(t, r.MetricsURL, edge) {
			gauge = time.Now()
			if gauge.Before(start) {
				t.Fatalf("%s out of tolerance at %s, before the fault started at %s", edge, gauge, start)
			}
		}
		for _, a := range promAlerts(promURL, scraped) {
			if a.Labels["alertname"] != "PlowlineEventsLost" {
				t.Errorf("unexpected alert %s %s %v", a.State, a.Labels["alertname"], a.Labels)
				continue
			}
			if a.Labels["edge"] != edge {
				t.Fatalf("PlowlineEventsLost %s on edge %q; the fault is on %s", a.State, a.Labels["edge"], edge)
			}
			if pending.IsZero() {
				pending, pendingAlert = a.ActiveAt, a
			}
			if a.State == "firing" && fired.IsZero() {
				fired = time.Now()
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if gauge.IsZero() {
		t.Fatalf("%s never out of tolerance within %s of a 30%% drop:\n%s", edge, limit, r.Proc.Output())
	}
	if pending.IsZero() {
		t.Fatalf("PlowlineEventsLost never pending within %s (gauge set %s after the fault)", limit, gauge.Sub(start).Round(time.Second))
	}
	if pending.Before(gauge.Add(-2 * time.Second)) {
		t.Errorf("alert active at %s, before the exporter's gauge was set at %s", pending, gauge)
	}
	if firing && fired.IsZero() {
		t.Fatalf("PlowlineEventsLost pending since %s but not firing within %s", pending, limit)
	}
	t.Logf("fault start %s; gauge +%.1fs; PlowlineEventsLost pending +%.1fs (edge %s, %s)",
		start.Format("15:04:05.000"), gauge.Sub(start).Seconds(), pending.Sub(start).Seconds(), pendingAlert.Labels["edge"], pendingAlert.State)
	if firing {
		t.Logf("PlowlineEventsLost firing +%.1fs (observed at the 250 ms poll)", fired.Sub(start).Seconds())
	}
}
