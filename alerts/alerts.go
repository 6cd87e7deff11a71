// Package alerts builds plowline's Prometheus alerting rules, their promtool
// unit tests and a runbook per alert, all from Go so that every expression
// is written with the metric names defined in metricname: a renamed metric
// fails the build of this package's tests rather than leaving a silent rule.
//
// `plowline dashboards generate` writes the results to alerts/plowline.rules.yml,
// alerts/plowline.rules.test.yml and alerts/runbooks/<Alert>.md; a test
// fails when the committed files differ from what this package generates.
package alerts

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/plowline/plowline/exporter/config"
)

// DefaultRunbookBaseURL is where runbook_url annotations point unless
// Options says otherwise: the runbooks as rendered by the code host.
const DefaultRunbookBaseURL = "https://github.com/plowline/plowline/blob/main/alerts/runbooks"

// DefaultGrafanaURL is the Grafana base URL dashboard_url annotations use
// unless Options says otherwise (Grafana's own default listen address).
const DefaultGrafanaURL = "http://localhost:3000"

// Dashboard UIDs. The grafana package builds its dashboards under these
// UIDs; they live here because the alerts are what must keep linking to them.
const (
	DashboardOverview = "plowline-overview"
	DashboardTrackers = "plowline-trackers"
	DashboardStages   = "plowline-stages"
	DashboardExporter = "plowline-exporter"
)

// Severities. critical pages (events are being or are about to be lost),
// warning goes to the team's channel.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
)

// Options are the deployment-specific parts of the rules.
type Options struct {
	// RunbookBaseURL prefixes runbook_url: <base>/<AlertName>.md.
	RunbookBaseURL string
	// GrafanaURL prefixes dashboard_url: <grafana>/d/<uid>.
	GrafanaURL string
	// Topology names the warehouse tables and streams the rules mention.
	Topology config.Topology
}

func (o Options) withDefaults() Options {
	if o.RunbookBaseURL == "" {
		o.RunbookBaseURL = DefaultRunbookBaseURL
	}
	if o.GrafanaURL == "" {
		o.GrafanaURL = DefaultGrafanaURL
	}
	o.RunbookBaseURL = strings.TrimRight(o.RunbookBaseURL, "/")
	o.GrafanaURL = strings.TrimRight(o.GrafanaURL, "/")
	if isEmpty(o.Topology) {
		o.Topology = config.GitLabTopology()
	}
	return o
}

func isEmpty(t config.Topology) bool {
	return len(t.Streams) == 0 && len(t.DeliveryStreams) == 0 && len(t.Functions) == 0 &&
		len(t.LoadBalancers) == 0 && t.GoodTable == "" && t.BadTable == "" && t.Bucket == ""
}

// Validate refuses a topology the rules cannot be generated from, naming
// the key.
func (o Options) Validate() error {
	o = o.withDefaults()
	if o.Topology.GoodTable == "" {
		return fmt.Errorf("topology.good_table is empty: the warehouse load-lag alert needs the good-events table")
	}
	if len(o.Topology.Streams) == 0 {
		return fmt.Errorf("topology.streams is empty: the stream alerts need at least one Kinesis stream")
	}
	return nil
}

// RunbookURL is the runbook_url of an alert.
func (o Options) RunbookURL(alert string) string {
	o = o.withDefaults()
	return o.RunbookBaseURL + "/" + alert + ".md"
}

// DashboardURL is the URL of a Grafana dashboard by UID.
func (o Options) DashboardURL(uid string) string {
	o = o.withDefaults()
	return o.GrafanaURL + "/d/" + uid
}

// Rule is one alerting rule with everything generated from it: the rule
// itself, its promtool test cases and its runbook.
type Rule struct {
	Alert    string
	Expr     string
	For      time.Duration
	Severity string
	// Labels are extra labels beside severity.
	Labels      map[string]string
	Summary     string
	Description string
	// Dashboard is the UID of the dashboard dashboard_url points to.
	Dashboard string
	// TemplateQueries are the PromQL queries the annotations run through
	// the `query` template function; tests parse them like Expr.
	TemplateQueries []string
	// Cases are promtool unit tests; each rule needs at least one case in
	// which it fires and one in which it stays quiet.
	Cases []Case
	// Runbook is the alert-specific text of alerts/runbooks/<Alert>.md.
	Runbook Runbook
}

// Group is a Prometheus rule group.
type Group struct {
	Name     string
	Interval time.Duration
	Rules    []Rule
}

// Case is one promtool alert_rule_test: input series, the time to
// evaluate at, and the alerts expected to be firing then (none = quiet).
type Case struct {
	Name     string
	Interval time.Duration
	// EvalInterval is how often promtool evaluates the rules; cases with
	// the same value share a test file. Zero means a minute; cases spanning
	// a week use a longer one to keep the test fast.
	EvalInterval time.Duration
	Series       []Series
	EvalTime     time.Duration
	Fires        []Expected
}

// Series is one promtool input series in expanding notation.
type Series struct {
	Series string
	Values string
}

// Expected is an alert promtool must find firing. Labels exclude alertname
// and severity, which are added from the rule; runbook_url and dashboard_url
// are added from Options.
type Expected struct {
	// Severity defaults to the rule's; set it when another rule with the
	// same alert name is expected to fire too.
	Severity    string
	Labels      map[string]string
	Summary     string
	Description string
}

// Groups returns every rule group.
func Groups(o Options) []Group {
	o = o.withDefaults()
	return []Group{
		{Name: "plowline.reconciliation", Interval: time.Minute, Rules: reconciliationRules(o)},
		{Name: "plowline.stages", Interval: time.Minute, Rules: stageRules(o)},
		{Name: "plowline.trackers", Interval: time.Minute, Rules: trackerRules(o)},
		{Name: "plowline.canary", Interval: time.Minute, Rules: canaryRules(o)},
		{Name: "plowline.exporter", Interval: time.Minute, Rules: exporterRules(o)},
	}
}

// Rules returns every rule of every group, in order.
func Rules(o Options) []Rule {
	var out []Rule
	for _, g := range Groups(o) {
		out = append(out, g.Rules...)
	}
	return out
}

// Names returns the distinct alert names, sorted.
func Names(o Options) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range Rules(o) {
		if !seen[r.Alert] {
			seen[r.Alert] = true
			out = append(out, r.Alert)
		}
	}
	sort.Strings(out)
	return out
}

// promDuration renders d the way Prometheus writes durations (1h30m, 15m, 1w).
func promDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	units := []struct {
		suffix string
		d      time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	for _, u := range units {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.suffix)
			d -= n * u.d
		}
	}
	return b.String()
}

// seconds renders d as a number of seconds for PromQL arithmetic.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%g", d.Seconds())
}

// tmplValue is a template snippet that runs query (a printf format whose
// arguments are args, template expressions such as $labels.edge) and
// renders its first sample's value through fn, or "unknown" when the query
// returns nothing.
func tmplValue(query, fn string, args ...string) string {
	call := fmt.Sprintf("%q", query)
	if len(args) > 0 {
		call = fmt.Sprintf("printf %q %s", query, strings.Join(args, " "))
	}
	return fmt.Sprintf("{{ with %s | query }}{{ . | first | value | %s }}{{ else }}unknown{{ end }}", call, fn)
}

// templateQuery turns a printf-style query format into a PromQL string the
// tests can parse, filling every %q with a placeholder label value.
func templateQuery(format string) string {
	return strings.ReplaceAll(format, "%q", `"x"`)
}

// RunbookIndexURL is where the runbooks are listed (the runbook base URL).
func (o Options) RunbookIndexURL() string {
	return o.withDefaults().RunbookBaseURL
}

// KinesisDefaultRetention is Kinesis's default retention, assumed for
// streams whose retention neither the exporter nor the topology gives.
const KinesisDefaultRetention = 24 * time.Hour

// fallbackRetention is the shortest retention the topology gives its
// streams (the conservative choice when one value must stand for all), or
// Kinesis's default.
func (o Options) fallbackRetention() time.Duration {
	var shortest time.Duration
	for _, s := range o.Topology.Streams {
		d := time.Duration(s.RetentionHours * float64(time.Hour))
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	if shortest == 0 {
		return KinesisDefaultRetention
	}
	return shortest
}
