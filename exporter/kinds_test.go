package exporter

import (
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/exporter/config"
)

// TestTrackersWiring: a prometheus source's nodes become trackers queries
// (the source itself is tested against a real Prometheus in its package),
// and a bad query is refused at start naming the node.
func TestTrackersWiring(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader(`
sources:
  - {name: trackers, kind: prometheus, interval: 1m, prometheus: {url: "http://127.0.0.1:9/"}}
nodes:
  - {name: emitted, source: trackers, select: {counter: gitlab_snowplow_events_total}}
  - {name: failed, source: trackers, select: {counter: gitlab_snowplow_failed_events_total, absent_as_zero: true}}
  - {name: estimate, source: trackers, select: {expr: 'sum(increase(gitlab_snowplow_events_total[$__window]))'}}
`))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	if len(exp.sources) != 1 || exp.sources[0].Kind() != config.KindPrometheus || exp.sources[0].Interval() != time.Minute {
		t.Fatalf("sources %+v", exp.sources)
	}
	cfg.Nodes[0].Select = config.EncodeNode(map[string]string{"counter": "rate(x[5m]"})
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "trackers") {
		t.Errorf("broken PromQL accepted: %v", err)
	}
	cfg.Nodes[0].Select = config.EncodeNode(map[string]string{"countr": "x"})
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "nodes[emitted].select") || !strings.Contains(err.Error(), "countr") {
		t.Errorf("unknown select key accepted or not named: %v", err)
	}
}

// TestCloudWatchTopologyNodeMustExist: renaming a query the topology does
// not have is refused naming the node and the value.
func TestCloudWatchTopologyNodeMustExist(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	def := config.Default()
	cfg := config.Config{Window: time.Hour, Lookback: 24 * time.Hour, Topology: def.Topology,
		Sources: []config.Source{{Name: "cw", Kind: config.KindCloudWatch, Interval: 5 * time.Minute, Timeout: 30 * time.Second}},
		Nodes:   []config.Node{{Name: "k", Source: "cw", Select: config.EncodeNode(map[string]string{"topology_node": "kinesis:no-such-stream"})}},
	}
	_, err := New(cfg, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `nodes[k].select.topology_node: "kinesis:no-such-stream"`) {
		t.Errorf("err = %v", err)
	}
}
