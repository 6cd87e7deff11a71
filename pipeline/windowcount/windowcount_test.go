package windowcount

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// tsv builds an enriched line whose collector_tstamp (4th field) is ts.
func tsv(ts string) []byte {
	f := make([]string, 131)
	f[0], f[1], f[2], f[3] = "app", "web", "2026-11-26 10:00:59.999", ts
	return []byte(strings.Join(f, "\t"))
}

// TestCountsByEventTimeNotByArrival: records are counted in the window of
// their own event time (collector_tstamp, a bad row's failure timestamp),
// whenever they are counted; windows past the retention are dropped and
// records for them are counted as late.
func TestCountsByEventTimeNotByArrival(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 1, 7, 0, time.UTC)
	c := New(time.Minute, 0)
	c.Now = func() time.Time { return now }
	c.AddRecords("lake:output/", [][]byte{
		tsv("2026-11-26 10:00:59.999"), tsv("2026-11-26 10:00:59.999"), tsv("2026-11-26 10:01:00.000"),
		[]byte(`{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0","data":{"processor":{},"failure":{"timestamp":"2026-11-26T09:59:30.5Z"}}}`),
		[]byte("no timestamp here"),
	})
	c.Add("collector", time.Date(2026, 11, 26, 9, 40, 0, 0, time.UTC), 4) // 21 minutes old: late
	want := `
# HELP plowline_window_records_total Records counted at a node of the local flow graph, by the window of their event time (collector_tstamp of an event, failure timestamp of a bad row); a window's series is dropped plowline_window_retention_seconds after the window starts.
# TYPE plowline_window_records_total counter
plowline_window_records_total{node="lake:output/",window_start="1795687140"} 1
plowline_window_records_total{node="lake:output/",window_start="1795687200"} 2
plowline_window_records_total{node="lake:output/",window_start="1795687260"} 2
# HELP plowline_window_late_records_total Records that arrived at a node after their window was dropped (older than the retention): counted nowhere else, so the exporter sees them as lost.
# TYPE plowline_window_late_records_total counter
plowline_window_late_records_total{node="collector"} 4
plowline_window_late_records_total{node="lake:output/"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "plowline_window_records_total", "plowline_window_late_records_total"); err != nil {
		t.Error(err)
	}
	// 21 minutes later every window above is past the 20-minute retention.
	now = now.Add(21 * time.Minute)
	if n := testutil.CollectAndCount(c, "plowline_window_records_total"); n != 0 {
		t.Errorf("%d window series kept past the retention", n)
	}
	var nilCounts *Counts
	nilCounts.Add("x", now, 1) // a nil Counts counts nothing, without panicking
	nilCounts.AddRecords("x", [][]byte{tsv("2026-11-26 10:00:00.000")})
}
