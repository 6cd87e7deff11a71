package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/testkit"
)

// The exporter inside plowline run, tuned for a test: 10-second windows,
// sources read every second, 8 seconds for the batch writers and the
// loader to catch up.
const (
	e2eWindow = 10 * time.Second
	e2eBudget = 8 * time.Second
)

type reconcileJSON struct {
	Windows []time.Time `json:"windows"`
	Nodes   []struct {
		Name   string     `json:"name"`
		Counts []*float64 `json:"counts"`
	} `json:"nodes"`
	Edges []struct {
		Name    string `json:"name"`
		Windows []struct {
			Window      time.Time `json:"window"`
			Status      string    `json:"status"`
			Expected    float64   `json:"expected"`
			Observed    float64   `json:"observed"`
			Discrepancy float64   `json:"discrepancy"`
		} `json:"windows"`
		OutOfTolerance int `json:"windows_out_of_tolerance"`
	} `json:"edges"`
	Sources []struct {
		Name      string `json:"name"`
		Up        bool   `json:"up"`
		LastError string `json:"last_error"`
	} `json:"sources"`
}

// startRunWithExporter starts plowline run with the exporter tuned by
// environment, and returns the run and its web base URL.
func startRunWithExporter(t *testing.T, args ...string) (*runProc, string) {
	t.Setenv("PLOWLINE_EXPORTER_WINDOW", e2eWindow.String())
	t.Setenv("PLOWLINE_EXPORTER_INTERVAL", "1s")
	t.Setenv("PLOWLINE_EXPORTER_BUDGET", e2eBudget.String())
	dir := t.TempDir()
	r := startRun(t, dir, append([]string{"--lake.buffer-interval", "1s"}, args...)...)
	return r, strings.TrimSuffix(r.MetricsURL, "/metrics")
}

// sendInOneWindow waits for the start of the next window and sends n valid
// page views, all inside that window; it returns the window's start.
func sendInOneWindow(t *testing.T, collectorURL string, n int) time.Time {
	t.Helper()
	w := time.Now().UTC().Truncate(e2eWindow).Add(e2eWindow)
	time.Sleep(time.Until(w.Add(500 * time.Millisecond)))
	for i := 0; i < n; i++ {
		q := url.Values{"e": {"pv"}, "p": {"web"}, "tv": {"e2e-1.0.0"}, "aid": {"exporter-e2e"},
			"url": {fmt.Sprintf("https://gitlab.example/page/%d", i)}, "uid": {fmt.Sprintf("user-%d", i)}}
		resp, err := http.Get(collectorURL + "/i?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("collector answered %s", resp.Status)
		}
	}
	if sent := time.Now(); sent.After(w.Add(e2eWindow - time.Second)) {
		t.Fatalf("sending %d events took until %s, past window %s", n, sent, w)
	}
	return w
}

// waitJudged polls /reconcile.json until every edge has judged window w.
func waitJudged(t *testing.T, base string, w time.Time, r *runProc) reconcileJSON {
	t.Helper()
	deadline := w.Add(e2eWindow + e2eBudget + 25*time.Second)
	for {
		var rep reconcileJSON
		resp, err := http.Get(base + "/reconcile.json?windows=6")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&rep)
			resp.Body.Close()
		}
		if err == nil && allJudged(rep, w) {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("window %s not judged on every edge by %s (err %v): %+v\n%s", w, deadline, err, rep, r.Proc.Output())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func allJudged(rep reconcileJSON, w time.Time) bool {
	if len(rep.Edges) == 0 {
		return false
	}
	for _, e := range rep.Edges {
		found := false
		for _, c := range e.Windows {
			if c.Window.Equal(w) {
				found = c.Status == "ok" || c.Status == "out"
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func nodeCount(t *testing.T, rep reconcileJSON, node string, w time.Time) float64 {
	t.Helper()
	for i, win := range rep.Windows {
		if !win.Equal(w) {
			continue
		}
		for _, n := range rep.Nodes {
			if n.Name == node {
				if n.Counts[i] == nil {
					t.Fatalf("node %s unknown in window %s", node, w)
				}
				return *n.Counts[i]
			}
		}
	}
	t.Fatalf("node %s or window %s missing", node, w)
	return 0
}

// reconcileCLI runs plowline reconcile over the window with the
// configuration the exporter inside run wrote.
func reconcileCLI(t *testing.T, r *runProc, w time.Time) (string, int) {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), "reconcile", "--config", filepath.Join(r.DataDir, "exporter", "exporter.yaml"),
		"--from", w.Add(-e2eWindow).Format(time.RFC3339), "--to", w.Add(e2eWindow).Format(time.RFC3339))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// faultCount reads plowline_fault_records_total for a point from run's /metrics.
func faultCount(t *testing.T, metricsURL, point string) float64 {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	prefix := metricname.FaultRecords.Name + "{"
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, prefix) && strings.Contains(l, `point="`+point+`"`) && strings.Contains(l, `action="drop"`) {
			v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no %s for point %s on %s", metricname.FaultRecords.Name, point, metricsURL)
	return 0
}

// TestExporterReconcilesPlowlineRun: N events through plowline run are
// counted N at every stage of the window and every edge is exact; with a
// fault dropping a fraction of records between the pseudonymizer and the
// output/ batch writer, exactly that edge is flagged, by exactly the number
// of records the fault dropped — on the page's JSON and by plowline
// reconcile's exit status.
func TestExporterReconcilesPlowlineRun(t *testing.T) {
	const n = 60
	t.Run("clean", func(t *testing.T) {
		r, base := startRunWithExporter(t)
		defer r.stop(t)
		w := sendInOneWindow(t, r.URL, n)
		rep := waitJudged(t, base, w, r)
		for _, node := range []string{"collector", "enricher:good", "pseudonymizer:good", "lake:good", "s3:good", "warehouse:good"} {
			if got := nodeCount(t, rep, node, w); got != n {
				t.Errorf("node %s counted %v in window %s, want %d", node, got, w.Format("15:04:05"), n)
			}
		}
		for _, e := range rep.Edges {
			for _, c := range e.Windows {
				if c.Window.Equal(w) && (c.Status != "ok" || c.Discrepancy != 0) {
					t.Errorf("edge %s in window %s: %s, discrepancy %v", e.Name, w.Format("15:04:05"), c.Status, c.Discrepancy)
				}
			}
			if e.OutOfTolerance != 0 {
				t.Errorf("edge %s has %d windows out of tolerance", e.Name, e.OutOfTolerance)
			}
		}
		for _, s := range rep.Sources {
			if !s.Up {
				t.Errorf("source %s down: %s", s.Name, s.LastError)
			}
		}
		out, code := reconcileCLI(t, r, w)
		if code != 0 || !strings.Contains(out, "within tolerance") {
			t.Errorf("plowline reconcile exit %d, want 0:\n%s", code, out)
		}
	})
	t.Run("fault", func(t *testing.T) {
		const point = "pseudonymizer>output/"
		r, base := startRunWithExporter(t, "--fault", "drop 0.25 "+point)
		defer r.stop(t)
		w := sendInOneWindow(t, r.URL, n)
		rep := waitJudged(t, base, w, r)
		dropped := faultCount(t, r.MetricsURL, point)
		if dropped <= 0 || dropped >= n {
			t.Fatalf("fault dropped %v of %d records; the test needs some, not all", dropped, n)
		}
		flagged := map[string]float64{}
		for _, e := range rep.Edges {
			for _, c := range e.Windows {
				if c.Status == "out" {
					flagged[e.Name] = c.Discrepancy
				}
			}
		}
		if len(flagged) != 1 || flagged["pseudonymizer_to_lake"] != dropped {
			t.Errorf("flagged edges %v; want exactly pseudonymizer_to_lake with %v events lost", flagged, dropped)
		}
		if got := nodeCount(t, rep, "warehouse:good", w); got != n-dropped {
			t.Errorf("warehouse counted %v, want %v", got, n-dropped)
		}
		out, code := reconcileCLI(t, r, w)
		want := fmt.Sprintf("pseudonymizer_to_lake (pseudonymizer:good → lake:good): %d lost", int(dropped))
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("plowline reconcile exit %d, want 1 and %q:\n%s", code, want, out)
		}
	})
}

// metricValue reads one sample's value from a /metrics text page.
func metricValue(t *testing.T, metricsURL, name, labels string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, name+labels+" ") {
			v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// TestExporterCanaryThroughPlowlineRun: the canary's synthetic event goes
// through the real collector, enricher, pseudonymizer, object store and
// loader, and is found at S3 and in the warehouse with a latency.
func TestExporterCanaryThroughPlowlineRun(t *testing.T) {
	t.Setenv("PLOWLINE_EXPORTER_CANARY", "2s")
	r, _ := startRunWithExporter(t)
	defer r.stop(t)
	deadline := time.Now().Add(40 * time.Second)
	for {
		s3Seen, _ := metricValue(t, r.MetricsURL, metricname.CanarySeen.Name, `{stage="s3"}`)
		whSeen, _ := metricValue(t, r.MetricsURL, metricname.CanarySeen.Name, `{stage="warehouse"}`)
		if s3Seen >= 1 && whSeen >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("canary not seen at s3 (%v) and warehouse (%v) within 40s:\n%s", s3Seen, whSeen, r.Proc.Output())
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, stage := range []string{"collector", "s3", "warehouse"} {
		lat, ok := metricValue(t, r.MetricsURL, metricname.CanaryLatency.Name, `{stage="`+stage+`"}`)
		if !ok || lat <= 0 || lat > 30 {
			t.Errorf("canary latency at %s = %v (present %v)", stage, lat, ok)
		}
		if lost, _ := metricValue(t, r.MetricsURL, metricname.CanaryLost.Name, `{stage="`+stage+`"}`); lost != 0 {
			t.Errorf("canary lost at %s: %v", stage, lost)
		}
	}
	s3Lat, _ := metricValue(t, r.MetricsURL, metricname.CanaryLatency.Name, `{stage="s3"}`)
	whLat, _ := metricValue(t, r.MetricsURL, metricname.CanaryLatency.Name, `{stage="warehouse"}`)
	t.Logf("canary latency: s3 %.2fs, warehouse %.2fs", s3Lat, whLat)
	// The histogram has one observation per canary event found: its count
	// is the seen counter of the same scrape, every observation is in the
	// +Inf bucket, and the latencies are positive.
	page := scrapeAll(t, r.MetricsURL)
	h := metricname.CanaryEventLatency.Name
	for _, stage := range []string{"collector", "s3", "warehouse"} {
		seen, count := page[metricname.CanarySeen.Name+`{stage="`+stage+`"}`], page[h+`_count{stage="`+stage+`"}`]
		if count < 1 || count != seen {
			t.Errorf("%s_count at %s = %v, want the %v canary events seen there", h, stage, count, seen)
		}
		if inf := page[h+`_bucket{stage="`+stage+`",le="+Inf"}`]; inf != count {
			t.Errorf("%s +Inf bucket at %s = %v, count %v", h, stage, inf, count)
		}
		if sum := page[h+`_sum{stage="`+stage+`"}`]; sum <= 0 || sum > 30*count {
			t.Errorf("%s_sum at %s = %v for %v events", h, stage, sum, count)
		}
	}
}

// scrapeAll reads one /metrics page into series (name and labels as
// written) → value, so values compared come from the same instant.
func scrapeAll(t *testing.T, metricsURL string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		i := strings.LastIndexByte(l, ' ')
		if strings.HasPrefix(l, "#") || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
			out[l[:i]] = v
		}
	}
	return out
}
