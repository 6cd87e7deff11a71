package scrape

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/source"
)

// windowTarget serves event-time counts the way plowline run does: one
// counter series per (node, window_start), a retention gauge and the
// process start time.
type windowTarget struct {
	reg    *prometheus.Registry
	counts *prometheus.CounterVec
}

func (w *windowTarget) reset(processStart time.Time) {
	w.reg = prometheus.NewRegistry()
	w.counts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plowline_window_records_total", Help: "x"}, []string{"node", "window_start"})
	start := prometheus.NewGauge(prometheus.GaugeOpts{Name: "process_start_time_seconds", Help: "x"})
	start.Set(float64(processStart.Unix()))
	ret := prometheus.NewGauge(prometheus.GaugeOpts{Name: retentionMetric, Help: "x"})
	ret.Set(600)
	w.reg.MustRegister(w.counts, start, ret)
}

func (w *windowTarget) add(node string, window time.Time, n float64) {
	w.counts.WithLabelValues(node, strconv.FormatInt(window.Unix(), 10)).Add(n)
}

type windowGatherer struct{ w *windowTarget }

func (g windowGatherer) Gather() ([]*dto.MetricFamily, error) { return g.w.reg.Gather() }

// TestWindowedCountsGoToTheirOwnWindow: with window_label, a record counted
// late (after its window ended, after a scrape) still lands in its own
// window, never in the window of the scrape that saw it; the first scrape
// of a process started inside the lookback knows every window since the
// start; a restart makes the windows since the last scrape unknown.
func TestWindowedCountsGoToTheirOwnWindow(t *testing.T) {
	wt := &windowTarget{}
	wt.reset(t0.Add(5 * time.Second))
	srv := httptest.NewServer(promhttp.HandlerFor(windowGatherer{wt}, promhttp.HandlerOpts{}))
	defer srv.Close()
	cfg, err := config.Parse(strings.NewReader(`
window: 1m
lookback: 10m
sources:
  - {name: pipeline, kind: metrics, interval: 5s, metrics: {url: ` + srv.URL + `}}
nodes:
  - {name: lake, source: pipeline, select: {metric: plowline_window_records_total, match: {node: "lake:output/"}, window_label: window_start}}
  - {name: pseudo, source: pipeline, select: {metric: plowline_window_records_total, match: {node: "pseudo"}, window_label: window_start}}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg.Sources[0], cfg.NodesOf("pipeline"), false)
	if err != nil {
		t.Fatal(err)
	}
	clock := t0.Add(50 * time.Second)
	s.Now = func() time.Time { return clock }
	r := source.Range{From: t0.Add(-5 * time.Minute), To: t0.Add(10 * time.Minute), Window: time.Minute}
	get := func() map[string]map[time.Time]float64 {
		t.Helper()
		res, err := s.Refresh(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[time.Time]float64{}
		for _, se := range res.Series {
			if se.Bucketing != source.EventTime {
				t.Errorf("%s bucketing %s, want event_time", se.Node, se.Bucketing)
			}
			out[se.Node] = se.Counts
		}
		return out
	}
	// 10:00:50: the pseudonymizer passed 8 records of window 10:00, the
	// batch writer still buffers them.
	wt.add("pseudo", t0, 8)
	got := get()
	want(t, got["pseudo"], map[time.Duration]float64{0: 8}, "pseudo at 10:00:50")
	want(t, got["lake"], map[time.Duration]float64{0: 0}, "lake at 10:00:50")
	// 10:01:10: the buffer is flushed after the window ended; 3 records
	// of window 10:01 pass both stages.
	clock = t0.Add(70 * time.Second)
	wt.add("lake:output/", t0, 8)
	wt.add("pseudo", t0.Add(time.Minute), 3)
	wt.add("lake:output/", t0.Add(time.Minute), 3)
	got = get()
	want(t, got["pseudo"], map[time.Duration]float64{0: 8, time.Minute: 3}, "pseudo at 10:01:10")
	want(t, got["lake"], map[time.Duration]float64{0: 8, time.Minute: 3}, "lake at 10:01:10")
	// 10:02:20: the process restarted at 10:02:10 and counted 2 records
	// of window 10:02; what the old one counted after 10:01:10 is lost.
	clock = t0.Add(140 * time.Second)
	wt.reset(t0.Add(130 * time.Second))
	wt.add("lake:output/", t0.Add(2*time.Minute), 2)
	got = get()
	want(t, got["lake"], map[time.Duration]float64{0: 8}, "lake after a restart")
}
