package cloudwatch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"go.yaml.in/yaml/v3"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/metricname"
)

func TestDefaultQueriesAreValidAndComplete(t *testing.T) {
	topo := config.GitLabTopology()
	qs := QueriesForTopology(topo)
	if err := (Config{Queries: qs}).Validate(); err != nil {
		t.Fatal(err)
	}
	// Per stream 2, per delivery stream 3, per function 3 AWS/Lambda
	// metrics, per ALB 2, plus EMF: collector 1, enricher 2 (good, bad),
	// pseudonymizer 2 results per delivery stream.
	want := 2*len(topo.Streams) + 3*len(topo.DeliveryStreams) + 3*len(topo.Functions) + 2*len(topo.LoadBalancers) +
		1 + 2 + 2*len(topo.DeliveryStreams)
	if len(qs) != want {
		t.Errorf("%d default queries, want %d", len(qs), want)
	}
	for _, q := range qs {
		if q.Namespace == EMFNamespace && !metricname.Known(q.MetricName) {
			t.Errorf("EMF query for unknown metric %s", q.MetricName)
		}
		if q.Namespace == EMFNamespace && q.Dimensions[metricname.LabelFunction] == "" {
			t.Errorf("EMF query without the function dimension: %+v", q)
		}
	}
}

func TestLoadBalancerKinds(t *testing.T) {
	for lb, want := range map[string]string{
		"app/a/1": "AWS/ApplicationELB/RequestCount AWS/ApplicationELB/NewConnectionCount",
		"net/b/2": "AWS/NetworkELB/NewFlowCount",
		"classic": "AWS/ELB/RequestCount",
	} {
		var got []string
		for _, q := range loadBalancerQueries(lb) {
			got = append(got, q.Namespace+"/"+q.MetricName)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: %v, want %s", lb, got, want)
		}
	}
}

func TestConfigFromYAML(t *testing.T) {
	doc := `
region: eu-west-1
endpoint: https://monitoring.eu-west-1.amazonaws.com
period: 5m
delay: 4m
interval: 10m
max_datapoints: 5000
queries:
  - namespace: AWS/Kinesis
    metric_name: GetRecords.IteratorAgeMilliseconds
    dimensions: {StreamName: raw}
    stat: Maximum
    gauge: plowline_kinesis_iterator_age_seconds
    gauge_labels: {stream: raw}
    scale: 0.001
  - namespace: AWS/Kinesis
    metric_name: IncomingRecords
    dimensions: {StreamName: raw}
    stat: Sum
    node: kinesis:raw
    missing: unknown
`
	// Strictly, as the exporter decodes source settings: no unknown keys.
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Period != 5*time.Minute || c.Delay != 4*time.Minute || c.Interval != 10*time.Minute || c.MaxDatapoints != 5000 ||
		c.Queries[0].Scale != 0.001 || c.Queries[1].Node != "kinesis:raw" || c.Queries[0].Dimensions["StreamName"] != "raw" {
		t.Errorf("decoded %+v", c)
	}
	if d := (Config{}).withDefaults(); d.Period != time.Minute || d.Delay != 5*time.Minute || d.Interval != 5*time.Minute || d.MaxDatapoints != 100800 {
		t.Errorf("defaults %+v", d)
	}
}

func TestValidateNamesKeyAndValue(t *testing.T) {
	ok := Query{Namespace: "AWS/Kinesis", MetricName: "IncomingRecords", Stat: "Sum", Node: "n"}
	for name, tc := range map[string]struct {
		mutate func(*Config)
		want   string
	}{
		"period":     {func(c *Config) { c.Period = 45 * time.Second }, "period: 45s"},
		"subsecond":  {func(c *Config) { c.Period = 1500 * time.Millisecond }, "period: 1.5s"},
		"delay":      {func(c *Config) { c.Delay = -time.Second }, "delay: -1s"},
		"endpoint":   {func(c *Config) { c.Endpoint = "monitoring:443" }, `endpoint: "monitoring:443"`},
		"datapoints": {func(c *Config) { c.MaxDatapoints = 200000 }, "max_datapoints: 200000"},
		"none":       {func(c *Config) { c.Queries = nil }, "none configured"},
		"stat":       {func(c *Config) { c.Queries[0].Stat = "Summ" }, `queries[0].stat: "Summ"`},
		"nodeStat":   {func(c *Config) { c.Queries[0].Stat = "Maximum" }, `per-window counts need Sum`},
		"namespace":  {func(c *Config) { c.Queries[0].Namespace = "" }, `queries[0].namespace`},
		"nothing":    {func(c *Config) { c.Queries[0].Node = "" }, `feed nothing`},
		"dupNode":    {func(c *Config) { c.Queries = append(c.Queries, ok) }, `queries[1].node: "n" is also fed by queries[0]`},
		"gauge":      {func(c *Config) { c.Queries[0].Gauge = "plowline_nope" }, `queries[0].gauge: "plowline_nope"`},
		"label":      {func(c *Config) { c.Queries[0].GaugeLabels = map[string]string{"bad-label": "x"} }, `"bad-label"`},
		"missing":    {func(c *Config) { c.Queries[0].Missing = "skip" }, `queries[0].missing: "skip"`},
		"account":    {func(c *Config) { c.Queries[0].AccountID = "12345" }, `queries[0].account_id: "12345"`},
	} {
		c := Config{Queries: []Query{ok}}
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, tc.want)
		}
		if _, nerr := New("x", c, nopAPI{}); nerr == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
}

type nopAPI struct{}

func (nopAPI) GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return &cloudwatch.GetMetricDataOutput{}, nil
}
