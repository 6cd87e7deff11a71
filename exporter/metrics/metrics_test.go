package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/plowline/plowline/exporter/canary"
)

// TestCanaryEventLatencyHistogram: the per-event canary latencies are
// exposed as a Prometheus histogram per stage with cumulative buckets, the
// observations above the last bound only in +Inf.
func TestCanaryEventLatencyHistogram(t *testing.T) {
	// Observations 0.5 s, 3 s, 3 s and 4000 s at s3, none at the warehouse.
	// Counts are per bucket of canary.LatencyBuckets (1, 2, 5, 10, …, 3600).
	counts := make([]uint64, len(canary.LatencyBuckets))
	counts[0], counts[2] = 1, 2
	st := &canary.Status{Stages: []canary.StageStatus{
		{Stage: "s3", Seen: 4, Latencies: canary.Histogram{Counts: counts, Count: 4, Sum: 4006.5}},
		{Stage: "warehouse"},
	}}
	c := New(func() View { return View{Canary: st} }, "test")
	want := `# HELP plowline_canary_event_latency_seconds Time from sending each canary event to finding it at a stage; one observation per event (S3: the object's write time, warehouse: uploaded_at). Served from the exporter's cache, refreshed in the background per source.
# TYPE plowline_canary_event_latency_seconds histogram
plowline_canary_event_latency_seconds_bucket{stage="s3",le="1"} 1
plowline_canary_event_latency_seconds_bucket{stage="s3",le="2"} 1
plowline_canary_event_latency_seconds_bucket{stage="s3",le="5"} 3
plowline_canary_event_latency_seconds_bucket{stage="s3",le="10"} 3
plowline_canary_event_latency_seconds_bucket{stage="s3",le="30"} 3
plowline_canary_event_latency_seconds_bucket{stage="s3",le="60"} 3
plowline_canary_event_latency_seconds_bucket{stage="s3",le="120"} 3
plowline_canary_event_latency_seconds_bucket{stage="s3",le="300"} 3
plowline_canary_event_latency_seconds_bucket{stage="s3",le="600"} 3
plowline_canary_event_latency_seconds_bucket{stage="s3",le="900"} 3
plowline_canary_event_latency_seconds_bucket{stage="s3",le="1800"} 3
plowline_canary_event_latency_seconds_bucket{stage="s3",le="3600"} 3
plowline_canary_event_latency_seconds_bucket{stage="s3",le="+Inf"} 4
plowline_canary_event_latency_seconds_sum{stage="s3"} 4006.5
plowline_canary_event_latency_seconds_count{stage="s3"} 4
` + zeroBuckets("warehouse")
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "plowline_canary_event_latency_seconds"); err != nil {
		t.Fatal(err)
	}
}

func zeroBuckets(stage string) string {
	var b strings.Builder
	for _, le := range []string{"1", "2", "5", "10", "30", "60", "120", "300", "600", "900", "1800", "3600", "+Inf"} {
		b.WriteString(`plowline_canary_event_latency_seconds_bucket{stage="` + stage + `",le="` + le + `"} 0` + "\n")
	}
	b.WriteString(`plowline_canary_event_latency_seconds_sum{stage="` + stage + `"} 0` + "\n")
	b.WriteString(`plowline_canary_event_latency_seconds_count{stage="` + stage + `"} 0` + "\n")
	return b.String()
}
