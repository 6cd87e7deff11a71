package cloudwatch

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/plowline/plowline/metricname"
)

// Defaults for the fields of Config left zero.
const (
	DefaultPeriod      = time.Minute
	DefaultDelay       = 5 * time.Minute
	DefaultInterval    = 5 * time.Minute
	DefaultGaugeMaxAge = 15 * time.Minute
	DefaultMaxAttempts = 6
	// MaxQueriesPerCall is GetMetricData's limit on MetricDataQueries per call.
	MaxQueriesPerCall = 500
	// MaxDatapointsPerCall is GetMetricData's default and largest page size.
	MaxDatapointsPerCall = 100800
)

// Config configures one CloudWatch source. Credentials are never part of
// it: the SDK's default chain (environment, web identity, instance role)
// provides them.
type Config struct {
	// Region is the AWS region; empty uses AWS_REGION or the shared config.
	Region string `yaml:"region"`
	// Endpoint overrides the CloudWatch endpoint (tests, VPC endpoints).
	Endpoint string `yaml:"endpoint"`
	// Period is the CloudWatch period asked for; windows are sums of periods.
	Period time.Duration `yaml:"period"`
	// Delay is how long CloudWatch needs to converge: periods ending later
	// than now-Delay are not asked for, because their sums still grow.
	Delay time.Duration `yaml:"delay"`
	// Interval is how often the source is refreshed.
	Interval time.Duration `yaml:"interval"`
	// Queries are the metrics to read; QueriesForTopology gives the default set.
	Queries []Query `yaml:"queries"`
	// MaxDatapoints is the page size (datapoints per GetMetricData call)
	// before CloudWatch paginates; at most 100,800.
	MaxDatapoints int32 `yaml:"max_datapoints"`
	// MaxAttempts bounds the calls made for one page when CloudWatch
	// throttles or fails transiently (the refresh deadline bounds it too).
	MaxAttempts int `yaml:"max_attempts"`
	// GaugeMaxAge is how old the latest datapoint of a gauge query may be
	// and still be reported; older means the gauge is omitted (unknown).
	GaugeMaxAge time.Duration `yaml:"gauge_max_age"`
}

// Query is one CloudWatch metric and what the source does with it: count
// it per window at a flow-graph node, expose its latest settled value as a
// gauge, or both.
type Query struct {
	Namespace  string            `yaml:"namespace"`
	MetricName string            `yaml:"metric_name"`
	Dimensions map[string]string `yaml:"dimensions"`
	// AccountID reads the metric from another account, for a CloudWatch
	// cross-account monitoring account; empty is the caller's account.
	AccountID string `yaml:"account_id"`
	// Stat is the CloudWatch statistic: Sum, Maximum, Minimum, Average,
	// SampleCount or a percentile such as p99. Nodes need Sum.
	Stat string `yaml:"stat"`
	// Node is the flow-graph node fed by per-window sums (bucketed by
	// arrival time). Empty: no series.
	Node string `yaml:"node"`
	// Missing says what a period without a datapoint in a settled, complete
	// answer means: "zero" (default; AWS publishes no datapoint for a period
	// without activity) or "unknown" (the window is omitted).
	Missing string `yaml:"missing"`
	// Gauge is a metricname Name to expose the latest settled value as.
	Gauge       string            `yaml:"gauge"`
	GaugeLabels map[string]string `yaml:"gauge_labels"`
	// Scale multiplies gauge values (0.001 turns milliseconds into seconds);
	// zero means 1.
	Scale float64 `yaml:"scale"`
}

var (
	statPattern    = regexp.MustCompile(`^(Sum|Maximum|Minimum|Average|SampleCount|p\d{1,2}(\.\d+)?|p100)$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	labelPattern   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Period == 0 {
		c.Period = DefaultPeriod
	}
	if c.Delay == 0 {
		c.Delay = DefaultDelay
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.MaxDatapoints == 0 {
		c.MaxDatapoints = MaxDatapointsPerCall
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.GaugeMaxAge == 0 {
		c.GaugeMaxAge = DefaultGaugeMaxAge
	}
	return c
}

// Validate reports every invalid field, naming its key and value. Zero
// values stand for the defaults and are valid.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, why string) {
		errs = append(errs, fmt.Errorf("cloudwatch %s: %v %s", key, v, why))
	}
	if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		bad("endpoint", fmt.Sprintf("%q", c.Endpoint), "is not an http(s) URL")
	}
	if p := c.Period; p != 0 {
		s := p / time.Second
		switch {
		case p%time.Second != 0 || p < time.Second:
			bad("period", p, "is not a whole number of seconds")
		case s != 1 && s != 5 && s != 10 && s != 30 && s%60 != 0:
			bad("period", p, "is not 1s, 5s, 10s, 30s or a multiple of 60s (CloudWatch's periods)")
		}
	}
	if c.Delay < 0 {
		bad("delay", c.Delay, "is negative")
	}
	if c.Interval < 0 {
		bad("interval", c.Interval, "is negative")
	}
	if c.GaugeMaxAge < 0 {
		bad("gauge_max_age", c.GaugeMaxAge, "is negative")
	}
	if c.MaxDatapoints < 0 || c.MaxDatapoints > MaxDatapointsPerCall {
		bad("max_datapoints", c.MaxDatapoints, fmt.Sprintf("is outside 1..%d", MaxDatapointsPerCall))
	}
	if c.MaxAttempts < 0 {
		bad("max_attempts", c.MaxAttempts, "is negative")
	}
	if len(c.Queries) == 0 {
		errs = append(errs, errors.New("cloudwatch queries: none configured"))
	}
	nodes := map[string]int{}
	gauges := map[string]int{}
	for i, q := range c.Queries {
		key := func(f string) string { return fmt.Sprintf("queries[%d].%s", i, f) }
		if q.Namespace == "" {
			bad(key("namespace"), `""`, "is empty")
		}
		if q.MetricName == "" {
			bad(key("metric_name"), `""`, "is empty")
		}
		if q.AccountID != "" && !accountPattern.MatchString(q.AccountID) {
			bad(key("account_id"), fmt.Sprintf("%q", q.AccountID), "is not a 12-digit AWS account id")
		}
		if !statPattern.MatchString(q.Stat) {
			bad(key("stat"), fmt.Sprintf("%q", q.Stat), "is not Sum, Maximum, Minimum, Average, SampleCount or pNN")
		}
		for name, v := range q.Dimensions {
			if name == "" || v == "" {
				bad(key("dimensions"), fmt.Sprintf("%q=%q", name, v), "has an empty name or value")
			}
		}
		if len(q.Dimensions) > 30 {
			bad(key("dimensions"), len(q.Dimensions), "dimensions exceed CloudWatch's 30")
		}
		if q.Node == "" && q.Gauge == "" {
			bad(key("node"), `""`, "is empty and so is gauge: the query would feed nothing")
		}
		if q.Node != "" {
			if q.Stat != "Sum" {
				bad(key("stat"), fmt.Sprintf("%q", q.Stat), "cannot feed a node: per-window counts need Sum")
			}
			if j, dup := nodes[q.Node]; dup {
				bad(key("node"), fmt.Sprintf("%q", q.Node), fmt.Sprintf("is also fed by queries[%d]", j))
			}
			nodes[q.Node] = i
		}
		switch q.Missing {
		case "", "zero", "unknown":
		default:
			bad(key("missing"), fmt.Sprintf("%q", q.Missing), `is not "zero" or "unknown"`)
		}
		if q.Gauge != "" {
			if !metricname.Known(q.Gauge) {
				bad(key("gauge"), fmt.Sprintf("%q", q.Gauge), "is not a metric name defined in package metricname")
			}
			id := q.Gauge + labelKey(q.GaugeLabels)
			if j, dup := gauges[id]; dup {
				bad(key("gauge"), fmt.Sprintf("%q%v", q.Gauge, q.GaugeLabels), fmt.Sprintf("duplicates queries[%d] (same name and labels)", j))
			}
			gauges[id] = i
		}
		for l := range q.GaugeLabels {
			if !labelPattern.MatchString(l) || strings.HasPrefix(l, "__") {
				bad(key("gauge_labels"), fmt.Sprintf("%q", l), "is not a valid Prometheus label name")
			}
		}
		if q.Scale < 0 {
			bad(key("scale"), q.Scale, "is negative")
		}
	}
	return errors.Join(errs...)
}
