// Package grafana builds plowline's Grafana dashboards with the Grafana
// Foundation SDK: the pipeline overview (funnel, reconciliation, bad
// events, canary, source health), trackers → collector, stage detail over
// the CloudWatch datasource, and the exporter's own health.
//
// Every PromQL query is written with metricname constants, and every
// CloudWatch query names the resources of the same config.Topology the
// exporter reads, so the dashboards cannot drift from what is exposed.
package grafana

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/plowline/plowline/alerts"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/metricname"
)

// Datasource variables every dashboard declares; panels and queries refer
// to them, so one JSON file works against any Grafana's datasources.
const (
	PrometheusVar = "datasource"
	CloudWatchVar = "cloudwatch"
	// EnvironmentVar filters every PromQL query on the `environment` label
	// Prometheus attaches to targets (all values when unset).
	EnvironmentVar = "environment"
)

// Options are what the dashboards depend on besides metric names.
type Options struct {
	// Topology names the streams, delivery streams, functions and load
	// balancers the stage-detail dashboard queries.
	Topology config.Topology
	// Alerts gives the runbook and dashboard URLs (and the thresholds the
	// panels mark).
	Alerts alerts.Options
	// Nodes are the flow graph's node names in pipeline order; the funnel
	// shows one bar per node in this order. Empty: the default graph's.
	Nodes []string
}

func (o Options) withDefaults() Options {
	if len(o.Topology.Streams) == 0 && len(o.Topology.Functions) == 0 {
		o.Topology = config.GitLabTopology()
	}
	if o.Alerts.Topology.GoodTable == "" {
		o.Alerts.Topology = o.Topology
	}
	if len(o.Nodes) == 0 {
		for _, n := range config.Default().Nodes {
			o.Nodes = append(o.Nodes, n.Name)
		}
	}
	return o
}

// Dashboard is one generated dashboard: its UID (also its file name) and model.
type Dashboard struct {
	UID   string
	Model dashboard.Dashboard
}

// Dashboards builds every dashboard.
func Dashboards(o Options) ([]Dashboard, error) {
	o = o.withDefaults()
	builders := []struct {
		uid   string
		build func(Options) *dashboard.DashboardBuilder
	}{
		{alerts.DashboardOverview, overview},
		{alerts.DashboardTrackers, trackers},
		{alerts.DashboardStages, stages},
		{alerts.DashboardExporter, exporterHealth},
	}
	var out []Dashboard
	for _, b := range builders {
		d, err := b.build(o).Build()
		if err != nil {
			return nil, fmt.Errorf("building dashboard %s: %w", b.uid, err)
		}
		numberPanels(&d)
		out = append(out, Dashboard{UID: b.uid, Model: d})
	}
	return out, nil
}

// Files renders every dashboard as indented JSON, keyed by path relative to
// the repository root.
func Files(o Options) (map[string][]byte, error) {
	ds, err := Dashboards(o)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, d := range ds {
		b, err := json.MarshalIndent(d.Model, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encoding dashboard %s: %w", d.UID, err)
		}
		out["dashboards/grafana/"+d.UID+".json"] = append(b, '\n')
	}
	return out, nil
}

// numberPanels gives every panel and row a unique id in layout order;
// Grafana needs them unique within a dashboard for links and repeats.
func numberPanels(d *dashboard.Dashboard) {
	var id uint32
	for i := range d.Panels {
		p := &d.Panels[i]
		switch {
		case p.Panel != nil:
			id++
			p.Panel.Id = cog.ToPtr(id)
		case p.RowPanel != nil:
			id++
			p.RowPanel.Id = id
			for j := range p.RowPanel.Panels {
				id++
				p.RowPanel.Panels[j].Id = cog.ToPtr(id)
			}
		}
	}
}

func promDS() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + PrometheusVar + "}")}
}

func cloudwatchDS() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("cloudwatch"), Uid: cog.ToPtr("${" + CloudWatchVar + "}")}
}

// sel renders a selector of metric m filtered on the environment variable
// and on extra matchers (e.g. `result="bad"`).
func sel(m metricname.Info, matchers ...string) string {
	all := append([]string{EnvironmentVar + `=~"$` + EnvironmentVar + `"`}, matchers...)
	return m.Name + "{" + strings.Join(all, ",") + "}"
}

// rate renders sum by (by) (rate(m{...}[$__rate_interval])).
func rate(m metricname.Info, by string, matchers ...string) string {
	agg := "sum"
	if by != "" {
		agg = "sum by (" + by + ")"
	}
	return fmt.Sprintf("%s (rate(%s[$__rate_interval]))", agg, sel(m, matchers...))
}

// pq is one PromQL target.
type pq struct {
	expr, legend string
	instant      bool
}

func refID(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return fmt.Sprintf("Q%d", i)
}

// targeted is what every SDK panel builder offers for adding targets.
type targeted[T any] interface {
	WithTarget(cog.Builder[variants.Dataquery]) T
}

// withProm adds PromQL targets with refIds A, B, ... on the Prometheus
// datasource variable.
func withProm[T targeted[T]](p T, qs ...pq) T {
	for i, q := range qs {
		b := prometheus.NewDataqueryBuilder().Expr(q.expr).RefId(refID(i)).Datasource(promDS())
		if q.legend != "" {
			b = b.LegendFormat(q.legend)
		}
		if q.instant {
			b = b.Instant()
		} else {
			b = b.Range()
		}
		p = p.WithTarget(b)
	}
	return p
}

func thresholds(base string, steps ...any) *dashboard.ThresholdsConfigBuilder {
	ts := []dashboard.Threshold{{Value: nil, Color: base}}
	for i := 0; i+1 < len(steps); i += 2 {
		v := steps[i].(float64)
		ts = append(ts, dashboard.Threshold{Value: cog.ToPtr(v), Color: steps[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(ts)
}

func runbookLink(o Options, alert string) cog.Builder[dashboard.DashboardLink] {
	return dashboard.NewDashboardLinkBuilder("Runbook: " + alert).
		Type(dashboard.DashboardLinkTypeLink).Url(o.Alerts.RunbookURL(alert)).TargetBlank(true)
}

func dashboardLink(o Options, title, uid string) cog.Builder[dashboard.DashboardLink] {
	return dashboard.NewDashboardLinkBuilder(title).Type(dashboard.DashboardLinkTypeLink).
		Url("/d/" + uid).KeepTime(true).IncludeVars(true).Icon("dashboard")
}

// base is what every dashboard shares: tags, time, refresh, the
// datasource and environment variables and links to the others.
func base(o Options, uid, title, description string) *dashboard.DashboardBuilder {
	d := dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"plowline", "snowplow", "generated"}).
		Editable().
		Time("now-24h", "now").
		Refresh("1m").
		Timezone(common.TimeZoneUtc).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder(PrometheusVar).Label("Prometheus").Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder(EnvironmentVar).
			Label("Environment").
			Description("The environment label Prometheus attaches to plowline's targets; All when unset.").
			Datasource(promDS()).
			Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(" + metricname.ExporterBuildInfo.Name + ", " + EnvironmentVar + ")")}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			IncludeAll(true).AllValue(".*").Sort(dashboard.VariableSortAlphabeticalAsc))
	for _, l := range []struct{ title, uid string }{
		{"Pipeline overview", alerts.DashboardOverview},
		{"Trackers → collector", alerts.DashboardTrackers},
		{"Stage detail", alerts.DashboardStages},
		{"Exporter health", alerts.DashboardExporter},
	} {
		if l.uid != uid {
			d = d.Link(dashboardLink(o, l.title, l.uid))
		}
	}
	return d.Link(dashboard.NewDashboardLinkBuilder("Runbooks").Type(dashboard.DashboardLinkTypeLink).
		Url(o.Alerts.RunbookIndexURL()).Icon("doc").TargetBlank(true))
}
