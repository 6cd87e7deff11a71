package grafana

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/plowline/plowline/alerts"
	mn "github.com/plowline/plowline/metricname"
)

// Panel constructors: each sets the datasource, size and title; targets
// are added with withProm.

func tsPanel(title, desc, unit string, w, h uint32) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Title(title).Description(desc).Unit(unit).
		Datasource(promDS()).Span(w).Height(h).FillOpacity(10).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).ShowLegend(true).Calcs([]string{"lastNotNull", "max"}))
}

// thresholdLine marks a value (an alert threshold) as a dashed line.
func thresholdLine(p *timeseries.PanelBuilder, base, color string, v float64) *timeseries.PanelBuilder {
	return p.Thresholds(thresholds(base, v, color)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
}

func statPanel(title, desc, unit string, w, h uint32) *stat.PanelBuilder {
	return stat.NewPanelBuilder().Title(title).Description(desc).Unit(unit).
		Datasource(promDS()).Span(w).Height(h).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeNone).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
}

func barPanel(title, desc, unit string, w, h uint32) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().Title(title).Description(desc).Unit(unit).
		Datasource(promDS()).Span(w).Height(h).
		Orientation(common.VizOrientationHorizontal).DisplayMode(common.BarGaugeDisplayModeGradient).
		ShowUnfilled(true).Min(0).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
}

func tablePanel(title, desc, unit string, w, h uint32) *table.PanelBuilder {
	// The footer is spelled out: the SDK's default leaves its reducer null,
	// which its own strict decoder then refuses.
	return table.NewPanelBuilder().Title(title).Description(desc).Unit(unit).
		Datasource(promDS()).Span(w).Height(h).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}))
}

func row(title string) *dashboard.RowBuilder { return dashboard.NewRowBuilder(title) }

func links(ls ...cog.Builder[dashboard.DashboardLink]) []cog.Builder[dashboard.DashboardLink] {
	return ls
}

func overview(o Options) *dashboard.DashboardBuilder {
	win := "the latest settled window (one per edge's latency budget; 1h by default)"
	d := base(o, alerts.DashboardOverview, "plowline: pipeline overview",
		"Trackers → collector → streams → enricher → Firehose and pseudonymizer → S3 → warehouse: events per stage, "+
			"which edge loses events and since when, bad events, the canary and the exporter's sources.")

	// One target per node, in pipeline order, so the bars read as a funnel.
	var funnel []pq
	for _, n := range o.Nodes {
		funnel = append(funnel, pq{expr: fmt.Sprintf("max(%s)", sel(mn.NodeEvents, fmt.Sprintf("node=%q", n))), legend: n, instant: true})
	}
	d = d.WithRow(row("Alerts")).
		WithPanel(withProm(tablePanel("plowline alerts pending or firing",
			"Every plowline alert active now, with its severity and the stage (component) it is about; each has a runbook (link above).", "short", 24, 6).
			Links(links(dashboard.NewDashboardLinkBuilder("Runbooks").Type(dashboard.DashboardLinkTypeLink).Url(o.Alerts.RunbookIndexURL()).TargetBlank(true))),
			pq{expr: fmt.Sprintf(`sort_desc(max by (alertname, alertstate, severity, component) (%s))`, sel(mn.PrometheusAlerts, `alertname=~"Plowline.*"`)),
				legend: "{{alertname}}", instant: true}))

	d = d.WithRow(row("Funnel: events per stage")).
		WithPanel(withProm(barPanel("Events per stage", "plowline_node_events: what each node counted in "+win+
			", in pipeline order. A bar much shorter than the one above it is where events fall off.", "short", 12, 10+uint32(len(funnel)/3)),
			funnel...)).
		WithPanel(withProm(tsPanel("Events per stage, per window", "Each node's count of its latest settled window over time; steps once per window.", "short", 12, 10),
			pq{expr: fmt.Sprintf("max by (node) (%s)", sel(mn.NodeEvents)), legend: "{{node}}"}))

	d = d.WithRow(row("Reconciliation: which edge loses events, how many, since when")).
		WithPanel(withProm(statPanel("Edges out of tolerance", "Settled edges whose discrepancy exceeds their tolerance. Anything but 0 pages (PlowlineEventsLost).", "short", 4, 8).
			Thresholds(thresholds("green", 1.0, "red")).Links(links(runbookLink(o, "PlowlineEventsLost"))),
			pq{expr: fmt.Sprintf("sum(%s) or vector(0)", sel(mn.EdgeOutOfTolerance)), instant: true})).
		WithPanel(withProm(barPanel("Discrepancy per edge (events)", "Expected minus observed in each edge's latest settled window: positive = lost downstream, negative = duplicates.", "short", 10, 8).
			Thresholds(thresholds("green", 1.0, "orange")).Links(links(runbookLink(o, "PlowlineEventsLost"))),
			pq{expr: fmt.Sprintf("max by (edge) (%s)", sel(mn.EdgeDiscrepancyEvents)), legend: "{{edge}}", instant: true})).
		WithPanel(withProm(tablePanel("Out of tolerance since", "Start of the current run of out-of-tolerance windows, per edge, and how many windows in the lookback were out.", "dateTimeAsIso", 10, 8).
			OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "unit", Value: "short"}}),
			pq{expr: fmt.Sprintf("max by (edge) (%s) > 0", sel(mn.EdgeOutOfToleranceSince)), legend: "{{edge}}", instant: true},
			pq{expr: fmt.Sprintf("max by (edge) (%s) > 0", sel(mn.EdgeWindowsOutOfTolerance)), legend: "{{edge}} windows", instant: true})).
		WithPanel(withProm(tsPanel("Discrepancy ratio against tolerance", "Each edge's discrepancy as a share of expected (solid) and its tolerance (dashed legend 'tolerance').", "percentunit", 24, 9),
			pq{expr: fmt.Sprintf("max by (edge) (%s)", sel(mn.EdgeDiscrepancyRatio)), legend: "{{edge}}"},
			pq{expr: fmt.Sprintf("max by (edge) (%s)", sel(mn.EdgeToleranceRatio)), legend: "{{edge}} tolerance"}))

	d = d.WithRow(row("Bad events")).
		WithPanel(withProm(tsPanel("Bad rows per second by type", "Enricher and collector bad rows by Snowplow bad-row type (schema_violations, tracker_protocol_violations, size_violation, ...).", "ops", 12, 9).
			Links(links(runbookLink(o, "PlowlineBadEventRatioHigh"))),
			pq{expr: rate(mn.EnricherBadRows, "type"), legend: "enricher {{type}}"},
			pq{expr: rate(mn.CollectorBadRows, "type"), legend: "collector {{type}}"})).
		WithPanel(withProm(thresholdLine(tsPanel("Bad-event ratio", fmt.Sprintf("Bad events out of all events the enricher emitted; the dashed line is the alert threshold (%g%%).", alerts.BadEventRatio*100), "percentunit", 12, 9),
			"green", "red", alerts.BadEventRatio).Links(links(runbookLink(o, "PlowlineBadEventRatioHigh"))),
			pq{expr: fmt.Sprintf("%s / %s", rate(mn.EnricherEvents, "", `result="bad"`), rate(mn.EnricherEvents, "")), legend: "bad ratio"}))

	d = d.WithRow(row("Canary: one synthetic event followed end to end")).
		WithPanel(withProm(tsPanel("Canary latency by stage", "Time from sending a canary to finding it at each stage: the pipeline's end-to-end latency. 'latest' is the most recently sent canary found; p95 is over every canary event found in the last hour (one observation per event).", "s", 12, 9),
			pq{expr: fmt.Sprintf("max by (stage) (%s)", sel(mn.CanaryLatency)), legend: "{{stage}} latest"},
			pq{expr: fmt.Sprintf("histogram_quantile(0.95, sum by (stage, le) (rate(%s[1h])))", sel(mn.Info{Name: mn.CanaryEventLatency.Name + "_bucket"})), legend: "{{stage}} p95 (1h)"})).
		WithPanel(withProm(statPanel("Since a canary was last seen", "Per stage; red past the PlowlineCanaryNotSeen threshold.", "s", 6, 9).
			Thresholds(thresholds("green", alerts.CanaryNotSeenAfter.Seconds()/2, "orange", alerts.CanaryNotSeenAfter.Seconds(), "red")).
			Links(links(runbookLink(o, "PlowlineCanaryNotSeen"))),
			pq{expr: fmt.Sprintf("time() - max by (stage) (%s)", sel(mn.CanaryLastSeen)), legend: "{{stage}}", instant: true})).
		WithPanel(withProm(tsPanel("Canaries lost per hour", "Canaries not found at a stage within the deadline, and sends the collector refused.", "short", 6, 9).
			Links(links(runbookLink(o, "PlowlineCanaryLost"))),
			pq{expr: fmt.Sprintf("sum by (stage) (increase(%s[1h]))", sel(mn.CanaryLost)), legend: "lost at {{stage}}"},
			pq{expr: fmt.Sprintf("sum(increase(%s[1h]))", sel(mn.CanarySendFailures)), legend: "send failures"}))

	d = d.WithRow(row("Source health")).
		WithPanel(withProm(statPanel("Sources up", "1 = the source's latest refresh succeeded. A down source freezes the edges that read it.", "short", 12, 6).
			Thresholds(thresholds("red", 1.0, "green")).Links(links(runbookLink(o, "PlowlineSourceDown"))),
			pq{expr: fmt.Sprintf("min by (source) (%s)", sel(mn.SourceUp)), legend: "{{source}}", instant: true})).
		WithPanel(withProm(statPanel("Warehouse: since the latest load", "Time since the newest uploaded_at per table.", "s", 12, 6).
			Thresholds(thresholds("green", alerts.WarehouseLoadLagMax.Seconds(), "red")).Links(links(runbookLink(o, "PlowlineWarehouseLoadLag"))),
			pq{expr: fmt.Sprintf("time() - max by (table) (%s)", sel(mn.WarehouseLatestLoad)), legend: "{{table}}", instant: true}))
	return d
}

func trackers(o Options) *dashboard.DashboardBuilder {
	ok := rate(mn.GitLabSnowplowSuccessfulEvents, "")
	failed := rate(mn.GitLabSnowplowFailedEvents, "")
	ratio := fmt.Sprintf("%s / (%s + %s)", ok, ok, failed)
	d := base(o, alerts.DashboardTrackers, "plowline: trackers → collector",
		"What the GitLab application's trackers emitted, delivered and failed to deliver, next to what the collector accepted.")
	d = d.WithRow(row("Trackers (gitlab_snowplow_*)")).
		WithPanel(withProm(statPanel("Tracker success ratio", fmt.Sprintf("successful / (successful + failed) of the tracker's delivery attempts. Below %g%% pages (PlowlineTrackersFailing).", alerts.TrackerSuccessRatio*100), "percentunit", 6, 8).
			Thresholds(thresholds("red", alerts.TrackerSuccessRatio, "green")).Decimals(2).Links(links(runbookLink(o, "PlowlineTrackersFailing"))),
			pq{expr: ratio, instant: true})).
		WithPanel(withProm(tsPanel("Tracker events per second", "Emitted by the application; delivered to the collector; failed (and lost: the tracker keeps no failed events).", "ops", 18, 8),
			pq{expr: rate(mn.GitLabSnowplowEvents, ""), legend: "emitted"},
			pq{expr: ok, legend: "successful"},
			pq{expr: failed, legend: "failed"})).
		WithPanel(withProm(thresholdLine(tsPanel("Tracker success ratio over time",
			"successful / (successful + failed), what the alert judges (dashed line: its threshold), and successful / emitted over 1h, "+
				"the number GitLab's Product Intelligence dashboard shows (it also counts events not yet attempted).", "percentunit", 12, 8), "red", "green", alerts.TrackerSuccessRatio),
			pq{expr: ratio, legend: "successful / (successful + failed)"},
			pq{expr: fmt.Sprintf("sum(rate(%s[1h])) / sum(rate(%s[1h]))", sel(mn.GitLabSnowplowSuccessfulEvents), sel(mn.GitLabSnowplowEvents)), legend: "successful / emitted, 1h"})).
		WithPanel(withProm(tsPanel("Trackers delivered vs collector accepted", "The collector also receives browser and other trackers' events, so 'accepted' is normally at least 'delivered'; accepted falling below delivered means events lost at the collector.", "ops", 12, 8),
			pq{expr: ok, legend: "trackers: successful"},
			pq{expr: rate(mn.CollectorEvents, ""), legend: "collector: accepted"}))
	d = d.WithRow(row("Collector")).
		WithPanel(withProm(tsPanel("Requests by status", "503 = the sink buffer is full; 4xx = malformed tracker requests.", "reqps", 8, 8),
			pq{expr: rate(mn.CollectorRequests, "code"), legend: "{{code}}"})).
		WithPanel(withProm(tsPanel("Payloads by sink", "Collector payloads written to the good and bad raw streams.", "ops", 8, 8),
			pq{expr: rate(mn.CollectorPayloads, "sink"), legend: "{{sink}}"})).
		WithPanel(withProm(tsPanel("Received bytes per second", "Request bodies.", "Bps", 8, 8),
			pq{expr: rate(mn.CollectorReceivedBytes, ""), legend: "received"})).
		WithPanel(withProm(thresholdLine(tsPanel("Sink buffer fill", "Acknowledged but not yet written, as a share of the buffer; at 100% the collector answers 503.", "percentunit", 8, 8), "green", "red", 0.8).
			Links(links(runbookLink(o, "PlowlineCollectorSinkUnhealthy"))),
			pq{expr: fmt.Sprintf("max by (sink) (%s) / max by (sink) (%s)", sel(mn.CollectorBufferBytes), sel(mn.CollectorBufferLimitBytes)), legend: "{{sink}}"})).
		WithPanel(withProm(tsPanel("Sink write latency (p99)", "Time to write a batch to Kinesis.", "s", 8, 8),
			pq{expr: fmt.Sprintf("histogram_quantile(0.99, sum by (le, sink) (rate(%s_bucket{%s=~\"$%s\"}[$__rate_interval])))", mn.CollectorSinkLatency.Name, EnvironmentVar, EnvironmentVar), legend: "{{sink}}"})).
		WithPanel(withProm(statPanel("Sinks healthy", "1 = the sink accepts writes.", "short", 8, 8).
			Thresholds(thresholds("red", 1.0, "green")).Links(links(runbookLink(o, "PlowlineCollectorSinkUnhealthy"))),
			pq{expr: fmt.Sprintf("min by (sink) (%s)", sel(mn.CollectorSinkHealthy)), legend: "{{sink}}", instant: true}))
	return d
}

func exporterHealth(o Options) *dashboard.DashboardBuilder {
	d := base(o, alerts.DashboardExporter, "plowline: exporter health",
		"The reconciling exporter's sources: are they up, how long refreshes take, and what they cost (CloudWatch bills per metric requested, warehouse queries wake a warehouse).")
	d = d.WithRow(row("Sources")).
		WithPanel(withProm(statPanel("Sources up", "1 = the latest refresh succeeded.", "short", 8, 8).
			Thresholds(thresholds("red", 1.0, "green")).Links(links(runbookLink(o, "PlowlineSourceDown"))),
			pq{expr: fmt.Sprintf("min by (source, kind) (%s)", sel(mn.SourceUp)), legend: "{{source}} ({{kind}})", instant: true})).
		WithPanel(withProm(statetimeline.NewPanelBuilder().Title("Source up over time").Description("Green: refreshes succeed; red: failing.").
			Datasource(promDS()).Span(16).Height(8).Thresholds(thresholds("red", 1.0, "green")),
			pq{expr: fmt.Sprintf("min by (source) (%s)", sel(mn.SourceUp)), legend: "{{source}}"})).
		WithPanel(withProm(tsPanel("Refresh duration", "How long each source's latest refresh took.", "s", 8, 8),
			pq{expr: fmt.Sprintf("max by (source) (%s)", sel(mn.SourceRefreshDuration)), legend: "{{source}}"})).
		WithPanel(withProm(tsPanel("Since the last successful refresh", "Age of the counts each source serves.", "s", 8, 8),
			pq{expr: fmt.Sprintf("time() - max by (source) (%s)", sel(mn.SourceLastSuccess)), legend: "{{source}}"})).
		WithPanel(withProm(tsPanel("Requests and failed refreshes per second", "API calls or queries each source made, and its failed refreshes.", "reqps", 8, 8),
			pq{expr: rate(mn.SourceRequests, "source"), legend: "{{source}} requests"},
			pq{expr: rate(mn.SourceErrors, "source"), legend: "{{source}} errors"}))
	d = d.WithRow(row("Cost")).
		WithPanel(withProm(tsPanel("Billable units per hour", "CloudWatch metrics requested, warehouse queries, S3 bytes read.", "short", 16, 8),
			pq{expr: fmt.Sprintf("sum by (source, unit) (increase(%s[1h]))", sel(mn.SourceCost)), legend: "{{source}} {{unit}}"})).
		WithPanel(withProm(statPanel("Billable units, last 24h", "Per unit, summed over sources.", "short", 8, 8).Thresholds(thresholds("blue")),
			pq{expr: fmt.Sprintf("sum by (unit) (increase(%s[24h]))", sel(mn.SourceCost)), legend: "{{unit}}", instant: true}))
	d = d.WithRow(row("Build")).
		WithPanel(withProm(tablePanel("Exporter version", "plowline_exporter_build_info by instance.", "short", 24, 5),
			pq{expr: sel(mn.ExporterBuildInfo), legend: "{{version}}", instant: true}))
	return d
}
