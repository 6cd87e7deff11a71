package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/fault"
	"github.com/plowline/plowline/testkit"
)

// Matrix runs: 5-second windows, sources read every second, 1-second
// batch buffers (so the derived settling budget is 2×1s+5s).
const (
	mxWindow = 5 * time.Second
	mxDelay  = 12 * time.Second // fault starts this long after plowline run
	mxRun    = 45 * time.Second // continuous traffic: 9 windows
)

// faultEdge is the edge each fault point sits on (docs/exporter.md).
var faultEdge = map[string]string{
	"collector>raw-good":          "collector_to_enricher",
	"raw-good>enricher":           "collector_to_enricher",
	"collector>raw-bad":           "collector_bad_to_pseudonymizer",
	"raw-bad>pseudonymizer":       "collector_bad_to_pseudonymizer",
	"enricher>enriched-good":      "enricher_to_pseudonymizer",
	"enriched-good>pseudonymizer": "enricher_to_pseudonymizer",
	"enricher>enriched-bad":       "enricher_bad_to_pseudonymizer",
	"enriched-bad>pseudonymizer":  "enricher_bad_to_pseudonymizer",
	"pseudonymizer>output/":       "pseudonymizer_to_lake",
	"pseudonymizer>enriched-bad/": "pseudonymizer_bad_to_lake",
	"pseudonymizer>raw-bad/":      "pseudonymizer_raw_bad_to_lake",
	"output/>warehouse":           "s3_to_warehouse_good",
	"enriched-bad/>warehouse":     "s3_to_warehouse_bad",
	"raw-bad/>warehouse":          "s3_to_warehouse_bad",
}

// startMatrixRun starts plowline run tuned for the matrix, with its own
// environment (parallel subtests cannot use t.Setenv).
func startMatrixRun(t *testing.T, args ...string) *runProc {
	t.Helper()
	dir := t.TempDir()
	port, wport := testkit.FreePort(t), testkit.FreePort(t)
	r := &runProc{URL: fmt.Sprintf("http://127.0.0.1:%d", port), MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", wport), DataDir: dir}
	all := append([]string{"run", "--data-dir", dir, "--collector.listen-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", wport), "--lake.buffer-interval", "1s"}, args...)
	env := append(os.Environ(), "PLOWLINE_EXPORTER_WINDOW="+mxWindow.String(), "PLOWLINE_EXPORTER_INTERVAL=1s")
	r.Proc = testkit.Start(t, env, testkit.Binary(t), all...)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(r.URL + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plowline run not healthy:\n%s", r.Proc.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// traffic sends, until stop, ~10 page views/s (one event per payload), ~3
// events/s that become enricher bad rows, and one oversized event per
// second that becomes a collector bad row: every path carries records in
// every window.
func traffic(t *testing.T, collector string, d time.Duration) (sent int) {
	big, _ := json.Marshal(map[string]any{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
		"data": []map[string]string{{"e": "pv", "p": "web", "tv": "t-1", "url": "https://gitlab.example/" + strings.Repeat("x", 1_010_000)}}})
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		q := url.Values{"e": {"pv"}, "p": {"web"}, "tv": {"e2e-1.0.0"}, "aid": {"matrix"}, "url": {fmt.Sprintf("https://gitlab.example/%d", i)}}
		if i%3 == 0 {
			q.Set("e", "zz") // no such event type: a tracker_protocol_violations bad row
		}
		if resp, err := http.Get(collector + "/i?" + q.Encode()); err == nil {
			resp.Body.Close()
			sent++
		}
		if i%10 == 0 {
			if resp, err := http.Post(collector+"/com.snowplowanalytics.snowplow/tp2", "application/json", bytes.NewReader(big)); err == nil {
				resp.Body.Close()
			}
		}
		time.Sleep(75 * time.Millisecond)
	}
	return sent
}

// judgedReport polls /reconcile.json until every edge has judged every
// window up to last (or fails).
func judgedReport(t *testing.T, r *runProc, last time.Time) reconcileJSON {
	t.Helper()
	base := strings.TrimSuffix(r.MetricsURL, "/metrics")
	deadline := time.Now().Add(90 * time.Second)
	for {
		var rep reconcileJSON
		resp, err := http.Get(base + "/reconcile.json?windows=0")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&rep)
			resp.Body.Close()
		}
		if err == nil && allJudged(rep, last) {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("window %s not judged on every edge (err %v)\n%s", last, err, r.Proc.Output())
		}
		time.Sleep(time.Second)
	}
}

var faultStartRE = regexp.MustCompile(`fault injection enabled.*starts=(\S+)`)

// mxConcurrency is how many matrix cases run at once. Each case is a
// plowline run that mostly waits for 5 s windows to close and settle, so
// the whole matrix takes about two case lengths of wall time; t.Parallel
// would cap it at GOMAXPROCS (2 on CI) and take half an hour.
const mxConcurrency = 14

// TestFaultMatrix: under continuous traffic spanning 9 windows, each fault
// point × {drop, duplicate} started mid-run is flagged on exactly its
// edge, in the right direction, from the window the fault started in, by
// exactly the number of records the fault changed (which is itself within
// binomial bounds of the fraction), and no other edge is flagged.
// All 28 cases run, mxConcurrency at a time, each as its own subtest (so
// `-run 'TestFaultMatrix/drop_raw-bad'` picks one); PLOWLINE_FAULT_MATRIX=4
// lowers the concurrency on a slower machine.
func TestFaultMatrix(t *testing.T) {
	limit := mxConcurrency
	if v := os.Getenv("PLOWLINE_FAULT_MATRIX"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("PLOWLINE_FAULT_MATRIX=%q: want a concurrency of at least 1", v)
		}
		limit = n
	}
	testkit.Binary(t) // build once before the fleet starts
	began := time.Now()
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for _, p := range fault.Points {
		for _, action := range []string{"drop", "duplicate"} {
			name := action + " " + p.Name
			wg.Add(1)
			// t.Run may be called from several goroutines at once; each
			// subtest reports (and fails) on its own.
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				t.Run(strings.NewReplacer("/", "_", ">", "-", " ", "_").Replace(name), func(t *testing.T) {
					matrixCase(t, p.Name, action)
				})
			}()
		}
	}
	wg.Wait()
	t.Logf("fault matrix: %d cases, %d at a time, in %s", 2*len(fault.Points), limit, time.Since(began).Round(time.Second))
}

// matrixCase runs one fault point with one action under continuous
// traffic and checks where, how much and from when the exporter flags it.
func matrixCase(t *testing.T, point, action string) {
	name := action + " " + point
	const frac = 0.3
	r := startMatrixRun(t, "--fault", fmt.Sprintf("%s %g %s after %s", action, frac, point, mxDelay))
	m := faultStartRE.FindStringSubmatch(r.Proc.Output())
	if m == nil {
		t.Fatalf("no fault start logged:\n%s", r.Proc.Output())
	}
	start, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatal(err)
	}
	traffic(t, r.URL, mxRun)
	last := time.Now().UTC().Truncate(mxWindow)
	rep := judgedReport(t, r, last)
	changed := faultChanged(t, r.MetricsURL, point, action)
	r.stop(t)
	seen := faultSeen(t, r.Proc.Output())
	if now := faultChanged0(r.Proc.Output()); now < changed {
		t.Fatalf("summary says %v changed, metric said %v", now, changed)
	}
	if seen < 20 || changed == 0 {
		t.Fatalf("fault saw %v records and changed %v: too little traffic at %s", seen, changed, point)
	}
	if sd := math.Sqrt(seen * frac * (1 - frac)); math.Abs(changed-seen*frac) > 4*sd+1 {
		t.Errorf("fault changed %v of %v records, outside 4σ of %v", changed, seen, frac)
	}
	want := faultEdge[point]
	// Windows are event time: a record a late stage (the loader)
	// changes just after the fault starts can have left the
	// collector up to a buffer interval or two before it.
	startWin := start.UTC().Add(-3 * time.Second).Truncate(mxWindow)
	var total float64
	var first time.Time
	for _, e := range rep.Edges {
		for _, c := range e.Windows {
			if c.Status != "out" {
				continue
			}
			if e.Name != want {
				t.Errorf("edge %s flagged in window %s (discrepancy %v); only %s should be", e.Name, c.Window.Format("15:04:05"), c.Discrepancy, want)
				continue
			}
			if first.IsZero() || c.Window.Before(first) {
				first = c.Window
			}
		}
		if e.Name == want {
			for _, c := range e.Windows {
				if c.Status == "ok" || c.Status == "out" {
					total += c.Discrepancy
				}
			}
		}
	}
	if action == "duplicate" {
		total = -total
	}
	if total != changed {
		t.Errorf("edge %s: total discrepancy %v (sign for %s), fault changed %v records", want, total, action, changed)
	}
	if first.IsZero() || first.Before(startWin) || first.After(start.UTC().Truncate(mxWindow).Add(mxWindow)) {
		t.Errorf("edge %s first flagged in window %s; the fault started at %s", want, first.Format("15:04:05"), start.Format("15:04:05.000"))
	}
	t.Logf("%s: %v of %v records changed; %s flagged from %s (fault start %s), total %v", name, changed, seen, want,
		first.Format("15:04:05"), start.Format("15:04:05.000"), total)
}

func faultChanged(t *testing.T, metricsURL, point, action string) float64 {
	t.Helper()
	v, ok := metricValue(t, metricsURL, "plowline_fault_records_total", fmt.Sprintf(`{action=%q,point=%q}`, action, point))
	if !ok {
		return 0
	}
	return v
}

var summaryRE = regexp.MustCompile(`fault injection summary.*records_seen=(\d+)`)

// faultSeen reads how many records the rule saw from the exit summary.
func faultSeen(t *testing.T, out string) float64 {
	t.Helper()
	m := summaryRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no fault injection summary at exit:\n%s", out)
	}
	var n float64
	fmt.Sscan(m[1], &n)
	return n
}

var changedRE = regexp.MustCompile(`fault injection summary.*records_(?:dropped|duplicated)=(\d+)`)

func faultChanged0(out string) float64 {
	m := changedRE.FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	var n float64
	fmt.Sscan(m[1], &n)
	return n
}
