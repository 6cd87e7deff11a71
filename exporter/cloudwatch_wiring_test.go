package exporter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/plowline/plowline/exporter/cloudwatch/cloudwatchtest"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/metricname"
)

// gitlabCloudWatchOnly is the default GitLab graph restricted to what
// CloudWatch counts, pointed at the wire-level double, plus a metrics
// source that stays healthy.
func gitlabCloudWatchOnly(t *testing.T, endpoint, metricsURL string) config.Config {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	def := config.Default()
	cfg := config.Config{Window: time.Hour, Lookback: 6 * time.Hour, Topology: def.Topology}
	for _, s := range def.Sources {
		if s.Kind == config.KindCloudWatch {
			s.Settings = config.EncodeNode(map[string]any{"endpoint": endpoint, "period": "1m", "delay": "5m"})
			s.Interval, s.Timeout = 5*time.Minute, 20*time.Second
			cfg.Sources = append(cfg.Sources, s)
		}
	}
	cfg.Sources = append(cfg.Sources, config.Source{Name: "pipeline", Kind: config.KindMetrics, Interval: time.Second, Timeout: time.Second,
		Settings: config.EncodeNode(map[string]string{"url": metricsURL})})
	cfg.Nodes = append(cfg.Nodes, config.Node{Name: "enricher_process", Source: "pipeline",
		Select: config.EncodeNode(map[string]string{"metric": metricname.EnricherEvents.Name})})
	cw := map[string]bool{}
	for _, n := range def.Nodes {
		if n.Source == "cloudwatch" {
			cfg.Nodes = append(cfg.Nodes, n)
			cw[n.Name] = true
		}
	}
	for _, e := range def.Edges {
		if cw[e.From] && cw[e.To] && (e.ToBad == "" || cw[e.ToBad]) {
			cfg.Edges = append(cfg.Edges, e)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestCloudWatchWiredFromDefaultGraph: the default graph's CloudWatch nodes
// read through the real SDK client from the wire-level double, in one
// GetMetricData call per refresh; with steady traffic every CloudWatch edge
// is in tolerance; with credentials refused the source is up 0 and the
// healthy source keeps reporting.
func TestCloudWatchWiredFromDefaultGraph(t *testing.T) {
	cwd := cloudwatchtest.NewServer(t, func(key string, ts time.Time) (float64, bool) {
		if strings.Contains(key, "Errors") || strings.Contains(key, "Throttles") || strings.Contains(key, "result=bad") ||
			strings.Contains(key, "enriched-bad") || strings.Contains(key, "processing_failed") {
			return 0, false
		}
		return 100, true // every counting metric sees 100 records a minute
	})
	_, metricsURL := pipelineTarget(t)
	cfg := gitlabCloudWatchOnly(t, cwd.URL, metricsURL)
	reg := prometheus.NewRegistry()
	exp, err := New(cfg, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	now := time.Now()
	if err := exp.RefreshOnce(context.Background(), now.Add(-cfg.Lookback), now); err != nil {
		t.Fatal(err)
	}
	calls, requested := cwd.Calls()
	if calls != 1 {
		t.Errorf("%d GetMetricData calls for one refresh, want 1", calls)
	}
	t.Logf("default topology: %d metrics requested per refresh (%d per hour at the 5m interval)", requested, requested*12)
	r := exp.Report()
	judged := 0
	for _, e := range r.Edges {
		if e.OutOfTolerance > 0 {
			t.Errorf("edge %s out of tolerance with steady traffic: %+v", e.Edge.Name, e.Latest)
		}
		if e.Latest != nil {
			judged++
		}
	}
	if judged == 0 {
		t.Error("no CloudWatch edge was judged")
	}

	cwd.Deny(true)
	err = exp.RefreshOnce(context.Background(), now.Add(-cfg.Lookback), now)
	if err == nil || !strings.Contains(err.Error(), "cloudwatch") {
		t.Fatalf("denied credentials: err %v", err)
	}
	want := `
# HELP plowline_source_up 1 if the source's latest refresh succeeded, else 0. Served from the exporter's cache, refreshed in the background per source.
# TYPE plowline_source_up gauge
plowline_source_up{kind="cloudwatch",source="cloudwatch"} 0
plowline_source_up{kind="metrics",source="pipeline"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metricname.SourceUp.Name); err != nil {
		t.Error(err)
	}
	// The last good CloudWatch counts are still served while it is down.
	if n := testutil.CollectAndCount(reg, metricname.EdgeExpectedEvents.Name); n != len(cfg.Edges) {
		t.Errorf("%d edges still reported, want %d", n, len(cfg.Edges))
	}
}
