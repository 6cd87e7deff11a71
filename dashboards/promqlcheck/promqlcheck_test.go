package promqlcheck

import (
	"reflect"
	"testing"
)

func TestMetricNames(t *testing.T) {
	got, err := MetricNames(`sum(rate(b_total{environment=~"$environment"}[$__rate_interval])) / on() group_left a{x="1"} offset 1w and {__name__="c"}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b_total", "c"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := MetricNames(`{__name__=~"plowline_.*"}`); err == nil {
		t.Fatal("a selector without a metric name was accepted")
	}
	if _, err := MetricNames(`sum(rate(x[5m])`); err == nil {
		t.Fatal("a syntax error was accepted")
	}
}

func TestCheckLabels(t *testing.T) {
	labelsOf := func(m string) ([]string, bool) {
		switch m {
		case "a_total":
			return []string{"type"}, true
		case "b":
			return []string{"stream"}, true
		}
		return nil, false
	}
	for _, ok := range []string{
		`sum by (type) (rate(a_total{type="x",job="j"}[5m]))`,
		`b - on (stream) b`,
		`sum without (type) (a_total)`,
		`sum by (instance) (b)`,
	} {
		if err := Check(ok, labelsOf, "job", "instance"); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{
		`a_total{stream="x"}`,       // label the metric lacks
		`sum by (stream) (a_total)`, // grouping nothing carries
		`a_total / on (stream) b`,   // matching label only one side has
		`c`,                         // unknown metric
	} {
		if err := Check(bad, labelsOf, "job", "instance"); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestPlowlineLabels(t *testing.T) {
	if ls, ok := Plowline("plowline_collector_sink_write_duration_seconds_bucket"); !ok || !reflect.DeepEqual(ls, []string{"sink", "le"}) {
		t.Errorf("bucket labels %v %v", ls, ok)
	}
	if _, ok := Plowline("plowline_nope"); ok {
		t.Error("unknown metric known")
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{`sum by (type) (rate(plowline_enricher_bad_rows_total[$__rate_interval]))`, `a / on (x) b`, `{__name__="x"}`, `time() - x > 3600`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		// Must not panic on any input; errors are fine.
		_ = Check(q, Plowline, TargetLabels...)
		_, _ = MetricNames(q)
	})
}
