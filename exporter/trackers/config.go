package trackers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/plowline/plowline/metricname"
)

// Defaults for the fields of Config left zero.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultInterval = time.Minute
	DefaultDelay    = time.Minute
)

// WindowVar is replaced by the window length (e.g. 1h) in Expr queries.
const WindowVar = "$__window"

// Config configures one trackers source: a Prometheus server and the
// PromQL that counts events at flow-graph nodes.
type Config struct {
	// URL is the Prometheus server's base URL (http://host:9090, or a
	// path prefix such as https://host/prometheus). Credentials do not go
	// in it: use basic_auth.password_file or authorization.credentials_file.
	URL     string  `yaml:"url"`
	Queries []Query `yaml:"queries"`
	// Timeout bounds each query (sent to Prometheus as its timeout too).
	Timeout time.Duration `yaml:"timeout"`
	// Interval is how often the source is refreshed.
	Interval time.Duration `yaml:"interval"`
	// Delay is how long after a window's end its last scrape is surely in
	// Prometheus (scrape interval plus ingestion); later windows are not
	// reported.
	Delay time.Duration `yaml:"delay"`
	// HTTP is Prometheus's own HTTP client configuration, inline: basic_auth
	// (password_file), authorization (credentials_file), bearer_token_file,
	// oauth2, tls_config, proxy_url, http_headers. Secret files are read
	// per request, so rotated credentials are picked up.
	HTTP promconfig.HTTPClientConfig `yaml:",inline"`
}

// Query counts events at one node. Exactly one of Counter and Expr is set.
type Query struct {
	Node string `yaml:"node"`
	// Counter is a series selector of counters, e.g.
	// gitlab_snowplow_events_total{env="gprd"}. The source reads each
	// series' last value at every window boundary and sums the per-series
	// increases (see the package comment): exact, reset-aware, and it
	// counts series born inside a window.
	Counter string `yaml:"counter"`
	// Expr is any PromQL whose value at a window's end is that window's
	// count, with $__window standing for the window length, e.g.
	// sum(increase(gitlab_snowplow_events_total[$__window])). Prometheus
	// extrapolates increase(), so these counts are estimates.
	Expr string `yaml:"expr"`
	// AbsentAsZero reports 0 for windows where the query finds no series
	// at all (a counter created lazily, such as failed events); otherwise
	// those windows are unknown and omitted.
	AbsentAsZero bool `yaml:"absent_as_zero"`
}

// DefaultQueries are the nodes for GitLab's tracker counters:
// trackers:emitted, trackers:successful and trackers:failed.
func DefaultQueries() []Query {
	return []Query{
		{Node: "trackers:emitted", Counter: metricname.GitLabSnowplowEvents.Name},
		{Node: "trackers:successful", Counter: metricname.GitLabSnowplowSuccessfulEvents.Name},
		{Node: "trackers:failed", Counter: metricname.GitLabSnowplowFailedEvents.Name, AbsentAsZero: true},
	}
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Delay == 0 {
		c.Delay = DefaultDelay
	}
	return c
}

var promql = parser.NewParser(parser.Options{})

// Validate reports every invalid field, naming its key and value; PromQL
// is parsed. Zero durations stand for the defaults.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, why string) {
		errs = append(errs, fmt.Errorf("trackers %s: %v %s", key, v, why))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url", fmt.Sprintf("%q", redactURL(c.URL)), "is not an http(s) URL with a host")
	} else if u.User != nil {
		bad("url", fmt.Sprintf("%q", redactURL(c.URL)), "carries credentials: use basic_auth with password_file instead")
	}
	if c.Timeout < 0 {
		bad("timeout", c.Timeout, "is negative")
	}
	if c.Interval < 0 {
		bad("interval", c.Interval, "is negative")
	}
	if c.Delay < 0 {
		bad("delay", c.Delay, "is negative")
	}
	if len(c.Queries) == 0 {
		errs = append(errs, errors.New("trackers queries: none configured"))
	}
	nodes := map[string]int{}
	for i, q := range c.Queries {
		key := func(f string) string { return fmt.Sprintf("queries[%d].%s", i, f) }
		if q.Node == "" {
			bad(key("node"), `""`, "is empty")
		} else if j, dup := nodes[q.Node]; dup {
			bad(key("node"), fmt.Sprintf("%q", q.Node), fmt.Sprintf("is also fed by queries[%d]", j))
		}
		nodes[q.Node] = i
		switch {
		case (q.Counter == "") == (q.Expr == ""):
			bad(key("counter"), fmt.Sprintf("%q", q.Counter), "and expr: set exactly one")
		case q.Counter != "":
			if err := checkCounter(q.Counter); err != nil {
				bad(key("counter"), fmt.Sprintf("%q", q.Counter), err.Error())
			}
		default:
			if _, err := promql.ParseExpr(strings.ReplaceAll(q.Expr, WindowVar, "1h")); err != nil {
				bad(key("expr"), fmt.Sprintf("%q", q.Expr), "is not valid PromQL: "+err.Error())
			}
		}
	}
	if err := c.HTTP.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("trackers HTTP client settings: %w", err))
	}
	return errors.Join(errs...)
}

// checkCounter accepts a plain series selector: the source wraps it in
// last_over_time(…[window]) and must see every series on its own.
func checkCounter(s string) error {
	e, err := promql.ParseExpr(s)
	if err != nil {
		return fmt.Errorf("is not valid PromQL: %w", err)
	}
	vs, ok := e.(*parser.VectorSelector)
	if !ok {
		return fmt.Errorf("is not a series selector (it is a %T); aggregations go in expr", e)
	}
	if vs.OriginalOffset != 0 || vs.OriginalOffsetExpr != nil || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return errors.New("uses offset or @, which would shift the windows")
	}
	return nil
}

// redactURL drops any password from u for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil && strings.Contains(s, "@"):
		return "(unparsable URL with credentials)"
	case err != nil || u.User == nil:
		return s
	}
	return u.Redacted()
}
