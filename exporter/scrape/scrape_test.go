package scrape

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/source"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// target is a real client_golang registry served over HTTP, standing in
// for a pipeline process.
type target struct {
	srv    *httptest.Server
	events *prometheus.CounterVec
	start  prometheus.Gauge
	reg    *prometheus.Registry
}

func newTarget(t *testing.T, processStart time.Time) *target {
	tg := &target{}
	tg.reset(processStart)
	tg.srv = httptest.NewServer(promhttp.HandlerFor(prometheusGatherer{tg}, promhttp.HandlerOpts{}))
	t.Cleanup(tg.srv.Close)
	return tg
}

// prometheusGatherer lets the test swap the registry (a process restart).
type prometheusGatherer struct{ tg *target }

func (g prometheusGatherer) Gather() ([]*dto.MetricFamily, error) { return g.tg.reg.Gather() }

// reset replaces the registry: counters back at zero, a new start time.
func (tg *target) reset(processStart time.Time) {
	tg.reg = prometheus.NewRegistry()
	tg.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plowline_enricher_events_total", Help: "x"}, []string{"result"})
	tg.start = prometheus.NewGauge(prometheus.GaugeOpts{Name: "process_start_time_seconds", Help: "x"})
	tg.start.Set(float64(processStart.Unix()))
	tg.reg.MustRegister(tg.events, tg.start)
}

func newSource(t *testing.T, url, stateFile string, clock *time.Time) *Source {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(`
window: 1m
lookback: 10m
sources:
  - name: enricher
    kind: metrics
    interval: 5s
    metrics:
      url: ` + url + `
      state_file: ` + stateFile + `
nodes:
  - name: good
    source: enricher
    select: {metric: plowline_enricher_events_total, match: {result: good}}
  - name: all
    source: enricher
    select: {metric: plowline_enricher_events_total}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg.Sources[0], cfg.NodesOf("enricher"), false)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return *clock }
	return s
}

func refresh(t *testing.T, s *Source, now time.Time) map[string]map[time.Time]float64 {
	t.Helper()
	r := source.Range{From: t0.Add(-5 * time.Minute), To: t0.Add(10 * time.Minute), Window: time.Minute}
	_ = now
	res, err := s.Refresh(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[time.Time]float64{}
	for _, se := range res.Series {
		if se.Bucketing != source.ArrivalTime {
			t.Errorf("%s bucketing %s", se.Node, se.Bucketing)
		}
		out[se.Node] = se.Counts
	}
	return out
}

func want(t *testing.T, got map[time.Time]float64, exp map[time.Duration]float64, what string) {
	t.Helper()
	if len(got) != len(exp) {
		t.Errorf("%s: got %d windows %v, want %v", what, len(got), got, exp)
	}
	for off, v := range exp {
		if g, ok := got[t0.Add(off)]; !ok || g != v {
			t.Errorf("%s: window +%s = %v (present %v), want %v", what, off, g, ok, v)
		}
	}
}

func TestCountsIncreasesPerWindow(t *testing.T) {
	clock := t0.Add(10 * time.Second)
	tg := newTarget(t, t0.Add(5*time.Second)) // process started in the first window
	state := filepath.Join(t.TempDir(), "state.json")
	s := newSource(t, tg.srv.URL+"/metrics", state, &clock)

	tg.events.WithLabelValues("good").Add(3)
	tg.events.WithLabelValues("bad").Add(1)
	c := refresh(t, s, clock)
	want(t, c["good"], map[time.Duration]float64{0: 3}, "first scrape of a fresh process")
	want(t, c["all"], map[time.Duration]float64{0: 4}, "sum over label sets")

	clock = t0.Add(40 * time.Second)
	tg.events.WithLabelValues("good").Add(5)
	c = refresh(t, s, clock)
	want(t, c["good"], map[time.Duration]float64{0: 8}, "second scrape")

	clock = t0.Add(65 * time.Second)
	tg.events.WithLabelValues("good").Add(7)
	c = refresh(t, s, clock)
	want(t, c["good"], map[time.Duration]float64{0: 8, time.Minute: 7}, "next window")

	// A scrape with no increase reports zero, not unknown.
	clock = t0.Add(125 * time.Second)
	c = refresh(t, s, clock)
	want(t, c["good"], map[time.Duration]float64{0: 8, time.Minute: 7, 2 * time.Minute: 0}, "quiet window")

	// The exporter restarts: a new Source reads the state file and continues.
	s.Close() // the first exporter stops and releases the state file
	s2 := newSource(t, tg.srv.URL+"/metrics", state, &clock)
	clock = t0.Add(130 * time.Second)
	tg.events.WithLabelValues("good").Add(2)
	c = refresh(t, s2, clock)
	want(t, c["good"], map[time.Duration]float64{0: 8, time.Minute: 7, 2 * time.Minute: 2}, "after exporter restart")

	// The process restarts: what it counted since the last scrape is lost,
	// so the windows from the last scrape to now are unknown.
	tg.reset(t0.Add(3*time.Minute + 5*time.Second))
	tg.events.WithLabelValues("good").Add(4)
	clock = t0.Add(3*time.Minute + 10*time.Second)
	c = refresh(t, s2, clock)
	want(t, c["good"], map[time.Duration]float64{0: 8, time.Minute: 7}, "after process restart")

	clock = t0.Add(4*time.Minute + 10*time.Second)
	tg.events.WithLabelValues("good").Add(1)
	c = refresh(t, s2, clock)
	want(t, c["good"], map[time.Duration]float64{0: 8, time.Minute: 7, 4 * time.Minute: 1}, "after restart settles")

	// A gap longer than a window: the increase cannot be split.
	clock = t0.Add(7*time.Minute + 10*time.Second)
	tg.events.WithLabelValues("good").Add(9)
	c = refresh(t, s2, clock)
	want(t, c["good"], map[time.Duration]float64{0: 8, time.Minute: 7, 4 * time.Minute: 1}, "after a gap")
}

func TestFirstScrapeOfOldProcessIsBaseline(t *testing.T) {
	clock := t0.Add(30 * time.Second)
	tg := newTarget(t, t0.Add(-time.Hour))
	s := newSource(t, tg.srv.URL+"/metrics", filepath.Join(t.TempDir(), "s.json"), &clock)
	tg.events.WithLabelValues("good").Add(100)
	c := refresh(t, s, clock)
	want(t, c["good"], nil, "baseline only")
	clock = t0.Add(70 * time.Second)
	tg.events.WithLabelValues("good").Add(1)
	c = refresh(t, s, clock)
	want(t, c["good"], map[time.Duration]float64{time.Minute: 1}, "first whole window")
}

func TestScrapeFailures(t *testing.T) {
	clock := t0
	srv := httptest.NewServer(promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{}))
	url := srv.URL
	srv.Close()
	s := newSource(t, url+"/metrics", "", &clock)
	if _, err := s.Refresh(context.Background(), source.Range{From: t0, To: t0.Add(time.Minute), Window: time.Minute}); err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("refused connection: err %v should name %s", err, url)
	}
	if s.Usage().Requests.Load() != 1 {
		t.Errorf("requests = %d", s.Usage().Requests.Load())
	}
	if _, err := New(config.Source{Name: "x", Kind: "metrics", Settings: config.EncodeNode(map[string]string{"url": "ftp://x"})}, nil, false); err == nil || !strings.Contains(err.Error(), "ftp://x") {
		t.Errorf("bad url accepted or not named: %v", err)
	}
}

func TestWindowChangeStartsAfresh(t *testing.T) {
	clock := t0.Add(10 * time.Second)
	tg := newTarget(t, t0.Add(-time.Hour)) // a process older than any window here
	s := newSource(t, tg.srv.URL+"/metrics", "", &clock)
	tg.events.WithLabelValues("good").Add(3)
	refresh(t, s, clock)
	clock = t0.Add(70 * time.Second)
	tg.events.WithLabelValues("good").Add(4)
	// The configuration changed to 5-minute windows: 1-minute counts cannot
	// be re-split, so counting restarts from a baseline.
	r := source.Range{From: t0.Add(-5 * time.Minute), To: t0.Add(10 * time.Minute), Window: 5 * time.Minute}
	res, err := s.Refresh(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	for _, se := range res.Series {
		if len(se.Counts) != 0 {
			t.Errorf("%s after a window change: %v, want nothing known yet", se.Node, se.Counts)
		}
	}
}
