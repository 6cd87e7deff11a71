package exporter

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/metrics"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/metricname"

	_ "modernc.org/sqlite"
)

// pipelineTarget is a real client_golang registry standing in for a
// pipeline process's /metrics.
func pipelineTarget(t testing.TB) (*prometheus.CounterVec, string) {
	reg := prometheus.NewRegistry()
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricname.EnricherEvents.Name, Help: "x"}, []string{"result"})
	start := prometheus.NewGauge(prometheus.GaugeOpts{Name: "process_start_time_seconds", Help: "x"})
	start.Set(float64(time.Now().Unix()))
	reg.MustRegister(events, start)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return events, srv.URL + "/metrics"
}

func warehouseDB(t testing.TB, rows int, at time.Time) string {
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE gitlab_events (collector_tstamp TEXT, event_id TEXT, uploaded_at TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < rows; i++ {
		ts := at.Format("2006-01-02 15:04:05.000")
		if _, err := db.Exec(`INSERT INTO gitlab_events VALUES (?, ?, ?)`, ts, fmt.Sprint(i), ts); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func testConfig(t testing.TB, metricsURL, dbPath, brokenURL string) config.Config {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(fmt.Sprintf(`
window: 1m
lookback: 10m
sources:
  - {name: pipeline, kind: metrics, interval: 1s, metrics: {url: %q}}
  - {name: warehouse, kind: warehouse, interval: 1s, warehouse: {driver: sqlite, path: %q}}
  - {name: broken, kind: metrics, interval: 1s, timeout: 200ms, metrics: {url: %q}}
nodes:
  - {name: enriched, source: pipeline, select: {metric: plowline_enricher_events_total, match: {result: good}}}
  - {name: loaded, source: warehouse, select: {table: gitlab_events}}
  - {name: elsewhere, source: broken, select: {metric: x_total}}
edges:
  - {name: enriched_to_loaded, from: enriched, to: loaded, relation: eq, latency_budget: 1s}
  - {name: broken_edge, from: enriched, to: elsewhere, relation: eq}
`, metricsURL, dbPath, brokenURL)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestFailingSourceDoesNotHideOthers: a source that times out is up 0 with
// its reason logged; the other sources and their edge keep reporting.
func TestFailingSourceDoesNotHideOthers(t *testing.T) {
	events, url := pipelineTarget(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	now := time.Now()
	dbPath := warehouseDB(t, 0, now)
	exp, err := New(testConfig(t, url, dbPath, hang.URL+"/metrics"), reg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	events.WithLabelValues("good").Add(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-exp.Done() }()
	exp.Start(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		<-exp.Changed()
		var up = map[string]bool{}
		var failed bool
		for _, s := range exp.Sources() {
			up[s.Name] = s.Up
			failed = failed || s.Errors > 0
		}
		if up["pipeline"] && up["warehouse"] && failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sources never settled: %+v", exp.Sources())
		}
	}
	want := fmt.Sprintf(`
# HELP plowline_source_up 1 if the source's latest refresh succeeded, else 0. Served from the exporter's cache, refreshed in the background per source.
# TYPE plowline_source_up gauge
plowline_source_up{kind="metrics",source="broken"} 0
plowline_source_up{kind="metrics",source="pipeline"} 1
plowline_source_up{kind="warehouse",source="warehouse"} 1
`)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metricname.SourceUp.Name); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logs.String(), "source=broken") || !strings.Contains(logs.String(), "timed out after 200ms") {
		t.Errorf("log lacks the failing source and reason:\n%s", logs.String())
	}
	if n := testutil.CollectAndCount(metrics.New(exp.View, "test"), metricname.SourceErrors.Name); n != 3 {
		t.Errorf("%d source error series", n)
	}
}

// TestReconcilesAndFlagsLoss drives two real sources to a settled window
// and checks the edge reports the right discrepancy, on /metrics, the page
// and the JSON.
func TestReconcilesAndFlagsLoss(t *testing.T) {
	events, url := pipelineTarget(t)
	// The process started now, so the first scrape's counts belong to this window.
	now := time.Now().UTC()
	w := now.Truncate(time.Minute)
	events.WithLabelValues("good").Add(10)
	dbPath := warehouseDB(t, 7, w.Add(time.Second))
	cfg := testConfig(t, url, dbPath, url)
	cfg.Nodes[2].Select = config.EncodeNode(map[string]any{"metric": metricname.EnricherEvents.Name, "match": map[string]string{"result": "good"}})
	reg := prometheus.NewRegistry()
	exp, err := New(cfg, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	var mu sync.Mutex
	exp.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	if err := exp.RefreshOnce(context.Background(), w.Add(-5*time.Minute), w.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Later, past the window's end and budget, the sources read again.
	mu.Lock()
	clock = w.Add(time.Minute + 2*time.Second)
	mu.Unlock()
	if err := exp.RefreshOnce(context.Background(), w.Add(-5*time.Minute), w.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	r := exp.Report()
	var found bool
	for _, e := range r.Edges {
		if e.Edge.Name != "enriched_to_loaded" {
			continue
		}
		found = true
		if e.Latest == nil || !e.Latest.Window.Equal(w) || e.Latest.Discrepancy != 3 || e.Latest.Status != "out" || !e.Since.Equal(w) {
			t.Errorf("edge: latest %+v since %s", e.Latest, e.Since)
		}
	}
	if !found {
		t.Fatal("edge missing")
	}
	want := `
# HELP plowline_edge_discrepancy_events Expected minus observed events on an edge in its latest settled window; positive means events lost. Served from the exporter's cache, refreshed in the background per source.
# TYPE plowline_edge_discrepancy_events gauge
plowline_edge_discrepancy_events{edge="broken_edge",from="enriched",relation="eq",to="elsewhere"} 0
plowline_edge_discrepancy_events{edge="enriched_to_loaded",from="enriched",relation="eq",to="loaded"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metricname.EdgeDiscrepancyEvents.Name); err != nil {
		t.Error(err)
	}
	// Every series passes client_golang's linter (promtool check metrics rules).
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(metrics.New(exp.View, "test"), metricname.KinesisRetention.Name); n != 0 {
		t.Errorf("retention reported for a topology without streams: %d", n)
	}
	rec := httptest.NewRecorder()
	exp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	for _, s := range []string{"enriched_to_loaded", `class="out"`, "3 lost", "Out of tolerance"} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	rec = httptest.NewRecorder()
	exp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/reconcile.json", nil))
	if !strings.Contains(rec.Body.String(), `"edge": "enriched_to_loaded"`) {
		t.Errorf("json lacks the failing edge:\n%s", rec.Body.String())
	}
}

// blockedSource never returns from Refresh until released.
type blockedSource struct {
	release chan struct{}
	usage   source.Usage
}

func (b *blockedSource) Name() string            { return "blocked" }
func (b *blockedSource) Kind() string            { return config.KindCloudWatch }
func (b *blockedSource) Interval() time.Duration { return time.Second }
func (b *blockedSource) Usage() *source.Usage    { return &b.usage }
func (b *blockedSource) Refresh(ctx context.Context, r source.Range) (source.Result, error) {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return source.Result{}, ctx.Err()
}

// BenchmarkScrapeWhileSourceBlocked measures a full /metrics scrape (HTTP,
// text format) while one source hangs in Refresh: scrapes never wait for sources.
func BenchmarkScrapeWhileSourceBlocked(b *testing.B) {
	_, url := pipelineTarget(b)
	blocked := &blockedSource{release: make(chan struct{})}
	orig := Kinds[config.KindCloudWatch]
	Kinds[config.KindCloudWatch] = func(config.Source, config.Config, Options, *slog.Logger) (source.Source, error) { return blocked, nil }
	defer func() { Kinds[config.KindCloudWatch] = orig }()
	cfg := config.Default()
	cfg.Sources = []config.Source{
		{Name: "pipeline", Kind: config.KindMetrics, Interval: time.Second, Timeout: time.Second, Settings: config.EncodeNode(map[string]string{"url": url})},
		{Name: "blocked", Kind: config.KindCloudWatch, Interval: time.Second, Timeout: time.Hour},
	}
	for i := range cfg.Nodes {
		cfg.Nodes[i].Source = "pipeline"
		cfg.Nodes[i].Select = config.EncodeNode(map[string]string{"metric": metricname.EnricherEvents.Name})
	}
	cfg.Window = time.Minute
	cfg.Lookback = 24 * time.Hour // 1440 windows × 12 edges judged per scrape
	reg := prometheus.NewRegistry()
	exp, err := New(cfg, reg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); close(blocked.release) }()
	exp.Start(ctx)
	<-exp.Changed()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	b.ResetTimer()
	var worst time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		resp, err := http.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n == 0 {
			b.Fatal("empty scrape")
		}
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStateFileHasOneWriter: a second exporter over the same state file is
// refused at start, naming the file; a read-only one (reconcile) is not.
func TestStateFileHasOneWriter(t *testing.T) {
	_, url := pipelineTarget(t)
	state := filepath.Join(t.TempDir(), "pipeline-state.json")
	cfg, err := config.Parse(strings.NewReader(fmt.Sprintf(`
sources: [{name: p, kind: metrics, interval: 1s, metrics: {url: %q, state_file: %q}}]
nodes: [{name: n, source: p, select: {metric: x_total}}]
`, url, state)))
	if err != nil {
		t.Fatal(err)
	}
	first, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), state) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second writer: %v", err)
	}
	ro, err := NewWithOptions(cfg, nil, nil, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only beside a writer: %v", err)
	}
	ro.Close()
	first.Close()
	again, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	again.Close()
}
