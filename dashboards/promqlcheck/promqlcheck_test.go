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
