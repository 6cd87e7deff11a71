package alerts

import (
	"fmt"
	"strings"
	"time"

	mn "github.com/plowline/plowline/metricname"
)

// Thresholds. Each says why it is where it is; change them here and the
// rules, their unit tests' expectations and the runbooks follow.
const (
	// EventsLostFor: the edge gauges describe a settled window and change at
	// most once per window. Two exporter refreshes filter out a refresh that
	// judged a window on half-read sources, and still page within minutes of
	// the window settling.
	EventsLostFor = 5 * time.Minute

	// GoodEventsDropRatio: product usage has a strong weekly rhythm, so the
	// same window a week earlier is the baseline. Holidays and incidents move
	// volume by tens of percent; halving is not normal.
	GoodEventsDropRatio = 0.5
	// GoodEventsBaseline: below this many events a week earlier a window is
	// too small for a halving to mean anything (a quiet night on staging).
	GoodEventsBaseline = 1000
	// GoodEventsDropFor: windows are an hour long by default; requiring the
	// drop for an hour means two consecutive windows, not one odd hour.
	GoodEventsDropFor = time.Hour
	// GoodNodesMatcher selects the nodes that count good events. In the
	// default flow graphs (config.Default, config.Local) nodes counting bad
	// rows have "bad" in their name and the trackers' failures "failed";
	// fewer of those is good news, not a drop.
	GoodNodesMatcher = `node!~".*(bad|failed).*"`

	// EnricherGoodNode and EnricherBadNode are the default flow graphs'
	// nodes for the enricher's output: in production the enricher's
	// counters reach CloudWatch (EMF), not Prometheus, so the bad-event
	// ratio falls back to the exporter's node counts.
	EnricherGoodNode = "enricher:good"
	EnricherBadNode  = "enricher:bad"

	// BadEventRatio: a healthy pipeline's enricher rejects a few percent of
	// events (old tracker versions, bots). A jump past 5% is usually a schema
	// or tracker release that broke validation.
	BadEventRatio = 0.05
	// BadEventMinRate (events/s): below this a handful of bad events swings
	// the ratio, so the alert needs real traffic.
	BadEventMinRate = 1.0
	// BadEventMinEvents: the exporter's settled window is judged only with
	// at least this many events behind the ratio. A healthy 2% of bad
	// events in a window of 100 exceeds 5% by chance in ~1.5% of windows
	// (6 or more bad; seen with plowline run's 5 s windows); with 1,000
	// the threshold is 7 standard deviations above 2%.
	BadEventMinEvents = 1000
	// BadEventWindow is the rate window; long enough to smooth batching.
	BadEventWindow = 30 * time.Minute
	// BadEventFor: a release that breaks validation stays broken; 15 minutes
	// ignores a short burst from a single misbehaving client.
	BadEventFor = 15 * time.Minute

	// StreamBackingUpWarningAge: consumers normally read within seconds. Half
	// an hour behind means the consumer is stalled or under-provisioned; no
	// data is at risk yet, which is why this only warns.
	StreamBackingUpWarningAge = 30 * time.Minute
	// StreamBackingUpCriticalFraction: past a quarter of the retention
	// (12 h of Kinesis's 48 h), the time left is what it takes to escalate
	// to AWS, reshard and let the consumer catch up: page.
	StreamBackingUpCriticalFraction = 0.25

	// FirehoseFreshnessMax: Firehose buffers at most 900 s before delivering,
	// so a healthy stream's oldest undelivered record is younger than that;
	// twice that means delivery is failing or not keeping up.
	FirehoseFreshnessMax = 30 * time.Minute
	// FirehoseDeliveredRatio: over an hour buffering shifts only minutes of
	// records between periods, so delivered tracks incoming within a few
	// percent; a tenth missing is failure, not buffering.
	FirehoseDeliveredRatio = 0.9
	// FirehoseMinIncoming (records per CloudWatch period): below this the
	// ratio is noise (the raw-bad stream is often nearly empty).
	FirehoseMinIncoming = 100

	// PseudonymizerFailedRatio: Firehose writes records the transformation
	// failed to the processing-failed prefix untransformed — personal data
	// that was never pseudonymized. No failure rate is acceptable.
	PseudonymizerFailedRatio = 0
	// LambdaErrorRatio: a failing Kinesis-triggered function retries its
	// whole batch and blocks the shard; 1% of invocations failing for a
	// quarter of an hour already shows as iterator age.
	LambdaErrorRatio = 0.01

	// TrackerSuccessRatio: GitLab's tracker does not persist events it
	// failed to send, so every failure is a lost event. A network blip
	// costs a percent or two over ten minutes; below 95% a twentieth of
	// product analytics is being lost and someone should look now.
	TrackerSuccessRatio = 0.95
	// TrackerRateWindow is the rate window of the success ratio: short
	// enough to page within half an hour of an outage (GitLab's own
	// Product Intelligence panel uses 1h windows, successful / emitted; the
	// trackers dashboard shows that number too).
	TrackerRateWindow = 10 * time.Minute

	// CanaryLostMax: one lost canary can be a single window straddling a
	// stage's deadline; more than one in an hour is a pattern.
	CanaryLostMax = 1
	// CanaryNotSeenAfter: the exporter's default canary deadline is 30
	// minutes and canaries go out every minute, so two hours without one at
	// a stage is four deadlines: the stage is not delivering at all.
	CanaryNotSeenAfter = 2 * time.Hour

	// SourceDownFor: sources refresh every minute by default (CloudWatch
	// every few); 15 minutes of failures is not a blip, and the reconciling
	// of every edge that reads the source is on hold meanwhile.
	SourceDownFor = 15 * time.Minute

	// ExporterAbsentFor: a restart or a failed scrape or two is not an
	// outage; ten minutes without the exporter is.
	ExporterAbsentFor = 10 * time.Minute

	// WarehouseLoadLagMax: Snowpipe loads within minutes of Firehose
	// delivering (itself within 15 minutes); three hours without a new row
	// in the good-events table is two missed hourly windows plus margin.
	WarehouseLoadLagMax = 3 * time.Hour

	// CollectorSinkUnhealthyFor: a throttled burst recovers within a minute
	// or two; five minutes unhealthy means Kinesis is refusing the
	// collector while its buffer fills.
	CollectorSinkUnhealthyFor = 5 * time.Minute
)

func pct(r float64) string { return fmt.Sprintf("%g%%", r*100) }

func reconciliationRules(o Options) []Rule {
	disc := mn.EdgeDiscrepancyEvents.Name
	oot := mn.EdgeOutOfTolerance.Name
	edgeQ := func(metric string) string { return metric + "{edge=%q}" }
	ratioQ := edgeQ(mn.EdgeDiscrepancyRatio.Name)
	tolQ := edgeQ(mn.EdgeToleranceRatio.Name)
	startQ := edgeQ(mn.EdgeWindowStart.Name)
	sinceQ := edgeQ(mn.EdgeOutOfToleranceSince.Name)
	windowsQ := edgeQ(mn.EdgeWindowsOutOfTolerance.Name)
	expectedQ := edgeQ(mn.EdgeExpectedEvents.Name)
	observedQ := edgeQ(mn.EdgeObservedEvents.Name)

	nodes := mn.NodeEvents.Name + "{" + GoodNodesMatcher + "}"
	weekAgoQ := mn.NodeEvents.Name + "{node=%q} offset 1w"
	weekRatioQ := mn.NodeEvents.Name + "{node=%q} / " + weekAgoQ

	edgeLabels := func(edge, from, to string) string {
		return fmt.Sprintf(`{edge=%q,from=%q,to=%q}`, edge, from, to)
	}
	lost := edgeLabels("s3_to_warehouse_good", "s3:good", "warehouse:good")
	ok := edgeLabels("enricher_to_kinesis_good", "enricher:good", "kinesis:enriched-good")
	return []Rule{
		{
			Alert:    "PlowlineEventsLost",
			Labels:   map[string]string{"component": "reconciliation"},
			Expr:     fmt.Sprintf("%s\n  and on (edge)\n(%s == 1)", disc, oot),
			For:      EventsLostFor,
			Severity: SeverityCritical,
			Summary:  "Events lost between {{ $labels.from }} and {{ $labels.to }}: {{ $value | humanize }} in a settled window",
			Description: "{{ $value | humanize }} events that {{ $labels.from }} counted are missing at {{ $labels.to }} (" +
				tmplValue(observedQ, "humanize", "$labels.edge") + " counted of " + tmplValue(expectedQ, "humanize", "$labels.edge") + " expected; " +
				"edge {{ $labels.edge }}, relation {{ $labels.relation }}): " + tmplValue(ratioQ, "humanizePercentage", "$labels.edge") +
				" of expected against a tolerance of " + tmplValue(tolQ, "humanizePercentage", "$labels.edge") +
				", in the settled window starting " + tmplValue(startQ, "humanizeTimestamp", "$labels.edge") +
				". Out of tolerance since the window starting " + tmplValue(sinceQ, "humanizeTimestamp", "$labels.edge") +
				"; " + tmplValue(windowsQ, "humanize", "$labels.edge") + " out-of-tolerance windows in the lookback. " +
				"A negative count means more events downstream than expected (duplicates).",
			Dashboard:       DashboardOverview,
			TemplateQueries: []string{ratioQ, tolQ, startQ, sinceQ, windowsQ, expectedQ, observedQ},
			Cases: []Case{
				{
					Name:     "an edge out of tolerance for longer than the for-duration fires, an edge in tolerance does not",
					Interval: time.Minute,
					Series: []Series{
						{disc + `{edge="s3_to_warehouse_good",from="s3:good",to="warehouse:good",relation="eq"}`, "1200x30"},
						{oot + lost, "0x9 1x20"},
						{mn.EdgeDiscrepancyRatio.Name + `{edge="s3_to_warehouse_good",from="s3:good",to="warehouse:good",relation="eq"}`, "0.012x30"},
						{mn.EdgeToleranceRatio.Name + `{edge="s3_to_warehouse_good"}`, "0.001x30"},
						{mn.EdgeWindowStart.Name + `{edge="s3_to_warehouse_good"}`, "7200x30"},
						{mn.EdgeOutOfToleranceSince.Name + `{edge="s3_to_warehouse_good"}`, "3600x30"},
						{mn.EdgeWindowsOutOfTolerance.Name + lost, "2x30"},
						{mn.EdgeExpectedEvents.Name + `{edge="s3_to_warehouse_good",from="s3:good",to="warehouse:good",relation="eq"}`, "100000x30"},
						{mn.EdgeObservedEvents.Name + `{edge="s3_to_warehouse_good",from="s3:good",to="warehouse:good",relation="eq"}`, "98800x30"},
						{disc + `{edge="enricher_to_kinesis_good",from="enricher:good",to="kinesis:enriched-good",relation="eq"}`, "5x30"},
						{oot + ok, "0x30"},
					},
					EvalTime: 20 * time.Minute,
					Fires: []Expected{{
						Labels:  map[string]string{"edge": "s3_to_warehouse_good", "from": "s3:good", "to": "warehouse:good", "relation": "eq"},
						Summary: "Events lost between s3:good and warehouse:good: 1.2k in a settled window",
						Description: "1.2k events that s3:good counted are missing at warehouse:good (98.8k counted of 100k expected; edge s3_to_warehouse_good, relation eq): " +
							"1.2% of expected against a tolerance of 0.1%, in the settled window starting 1970-01-01 02:00:00 +0000 UTC. " +
							"Out of tolerance since the window starting 1970-01-01 01:00:00 +0000 UTC; 2 out-of-tolerance windows in the lookback. " +
							"A negative count means more events downstream than expected (duplicates).",
					}},
				},
				{
					Name:     "an edge out of tolerance for less than the for-duration stays quiet",
					Interval: time.Minute,
					Series: []Series{
						{disc + `{edge="s3_to_warehouse_good",from="s3:good",to="warehouse:good",relation="eq"}`, "1200x30"},
						{oot + lost, "0x9 1x3 0x17"},
					},
					EvalTime: 20 * time.Minute,
				},
			},
			Runbook: runbookEventsLost,
		},
		{
			Alert:  "PlowlineGoodEventsDropped",
			Labels: map[string]string{"component": "reconciliation"},
			Expr: fmt.Sprintf("%s\n  < %g * %s offset 1w\nand\n%s offset 1w > %d",
				nodes, GoodEventsDropRatio, nodes, nodes, GoodEventsBaseline),
			For:      GoodEventsDropFor,
			Severity: SeverityWarning,
			Summary:  "{{ $labels.node }} counted {{ $value | humanize }} events, under " + pct(GoodEventsDropRatio) + " of the same window a week earlier",
			Description: "{{ $labels.node }} counted {{ $value | humanize }} events in its latest settled window, " +
				tmplValue(weekRatioQ, "humanizePercentage", "$labels.node", "$labels.node") + " of the " +
				tmplValue(weekAgoQ, "humanize", "$labels.node") + " it counted in the same window a week earlier (threshold " +
				pct(GoodEventsDropRatio) + ", for " + promDuration(GoodEventsDropFor) + ").",
			Dashboard:       DashboardOverview,
			TemplateQueries: []string{weekRatioQ, weekAgoQ},
			Cases: []Case{
				{
					Name:         "good events at 30% of last week fire",
					Interval:     5 * time.Minute,
					EvalInterval: 30 * time.Minute,
					Series: []Series{
						{mn.NodeEvents.Name + `{node="warehouse:good",kind="warehouse",bucketing="event_time"}`, "5000x2100 1500x30"},
						{mn.NodeEvents.Name + `{node="warehouse:bad",kind="warehouse",bucketing="event_time"}`, "5000x2100 10x30"},
						{mn.NodeEvents.Name + `{node="trackers:failed",kind="prometheus",bucketing="event_time"}`, "5000x2100 10x30"},
					},
					EvalTime: 10650 * time.Minute,
					Fires: []Expected{{
						Labels:      map[string]string{"node": "warehouse:good", "kind": "warehouse", "bucketing": "event_time"},
						Summary:     "warehouse:good counted 1.5k events, under 50% of the same window a week earlier",
						Description: "warehouse:good counted 1.5k events in its latest settled window, 30% of the 5k it counted in the same window a week earlier (threshold 50%, for 1h).",
					}},
				},
				{
					Name:         "a 20% dip and a drop on a small baseline stay quiet",
					Interval:     5 * time.Minute,
					EvalInterval: 30 * time.Minute,
					Series: []Series{
						{mn.NodeEvents.Name + `{node="warehouse:good",kind="warehouse",bucketing="event_time"}`, "5000x2100 4000x30"},
						{mn.NodeEvents.Name + `{node="s3:good",kind="s3",bucketing="event_time"}`, "500x2100 100x30"},
					},
					EvalTime: 10650 * time.Minute,
				},
			},
			Runbook: runbookGoodEventsDropped,
		},
	}
}

func stageRules(o Options) []Rule {
	w := promDuration(BadEventWindow)
	events := mn.EnricherEvents.Name
	// Two forms, the first that has data wins: the enricher's own counters
	// (a scraped process, e.g. plowline run), else the exporter's counts of
	// the enricher nodes in the latest settled window (production, where
	// the enricher is a Lambda and its counters go to CloudWatch).
	nodeBad := fmt.Sprintf("sum(%s{node=%q})", mn.NodeEvents.Name, EnricherBadNode)
	nodeAll := fmt.Sprintf("sum(%s{node=~%q})", mn.NodeEvents.Name, EnricherGoodNode+"|"+EnricherBadNode)
	badRatio := fmt.Sprintf("(\n  sum(rate(%s{result=\"bad\"}[%s]))\n    / sum(rate(%s[%s]))\n    > %g\n  and\n  sum(rate(%s[%s])) > %g\n)\nor\n(\n  %s\n    / %s\n    > %g\n  and\n  %s > %g * scalar(max(%s))\n  and\n  %s >= %d\n)",
		events, w, events, w, BadEventRatio, events, w, BadEventMinRate,
		nodeBad, nodeAll, BadEventRatio, nodeAll, BadEventMinRate, mn.WindowSeconds.Name, nodeAll, BadEventMinEvents)
	byType := fmt.Sprintf("sort_desc(sum by (type) (rate(%s[%s])))", mn.EnricherBadRows.Name, w)
	collectorBad := fmt.Sprintf("sum(rate(%s[%s]))", mn.CollectorBadRows.Name, w)

	age := mn.KinesisIteratorAge.Name
	ret := mn.KinesisRetention.Name
	ageQ := age + "{stream=%q}"
	// The retention falls back to the topology's when the exporter does not
	// expose it for a stream, so a missing gauge cannot silence the alert.
	fallback := o.fallbackRetention().Seconds()
	retOr := fmt.Sprintf("(%s or %s * 0 + %g)", ret, age, fallback)
	retQ := fmt.Sprintf("%s{stream=%%q} or %s{stream=%%q} * 0 + %g", ret, age, fallback)
	backingDesc := func(threshold string) string {
		return "The oldest record in Kinesis stream {{ $labels.stream }} that its consumer has not read is " +
			tmplValue(ageQ, "humanizeDuration", "$labels.stream") + " old (GetRecords.IteratorAgeMilliseconds; threshold " + threshold +
			"). Kinesis keeps records for " + tmplValue(retQ, "humanizeDuration", "$labels.stream", "$labels.stream") +
			": unless the consumer catches up, records expire unread, lost for good, in {{ $value | humanizeDuration }}."
	}
	backingSummary := "Kinesis stream {{ $labels.stream }} backing up: {{ $value | humanizeDuration }} before unread records expire"
	stream := `{stream="snowplow-raw-good"}`
	retention := Series{ret + stream, "172800x60"}

	fresh := mn.FirehoseDataFreshness.Name
	inQ := mn.FirehoseIncomingRecords.Name + "{delivery_stream=%q}"
	outQ := mn.FirehoseDeliveredRecords.Name + "{delivery_stream=%q}"
	delivered := fmt.Sprintf("avg_over_time(%s[1h])\n  / avg_over_time(%s[1h])\n  < %g\nand\navg_over_time(%s[1h]) > %d",
		mn.FirehoseDeliveredRecords.Name, mn.FirehoseIncomingRecords.Name, FirehoseDeliveredRatio, mn.FirehoseIncomingRecords.Name, FirehoseMinIncoming)
	ds := `{delivery_stream="snowplow-enriched-good"}`

	recs := mn.PseudonymizerRecords.Name
	pseudo := fmt.Sprintf("sum by (stream) (rate(%s{result=\"processing_failed\"}[15m]))\n  / sum by (stream) (rate(%s[15m]))\n  > %g",
		recs, recs, float64(PseudonymizerFailedRatio))

	lambdaErr := fmt.Sprintf("avg_over_time(%s[15m])\n  / avg_over_time(%s[15m])\n  > %g",
		mn.LambdaErrors.Name, mn.LambdaInvocations.Name, LambdaErrorRatio)
	throttleQ := mn.LambdaThrottles.Name + "{function=%q}"
	fn := `{function="snowplow-pseudonymizer"}`

	goodTable := o.Topology.GoodTable
	load := fmt.Sprintf("time() - %s{table=%q} > %s", mn.WarehouseLatestLoad.Name, goodTable, seconds(WarehouseLoadLagMax))
	loadQ := mn.WarehouseLatestLoad.Name + "{table=%q}"

	healthy := mn.CollectorSinkHealthy.Name
	fillQ := mn.CollectorBufferBytes.Name + "{sink=%q} / " + mn.CollectorBufferLimitBytes.Name + "{sink=%q}"

	return []Rule{
		{
			Alert:    "PlowlineCollectorSinkUnhealthy",
			Labels:   map[string]string{"component": "collector"},
			Expr:     healthy + " == 0",
			For:      CollectorSinkUnhealthyFor,
			Severity: SeverityCritical,
			Summary:  "The collector cannot write to its {{ $labels.sink }} sink",
			Description: "The collector cannot write to its {{ $labels.sink }} sink (Kinesis). It keeps acknowledging events into its memory buffer, now " +
				tmplValue(fillQ, "humanizePercentage", "$labels.sink", "$labels.sink") +
				" full, and answers 503 once the buffer is full. Buffered events are lost if the collector is killed before it drains them.",
			Dashboard:       DashboardStages,
			TemplateQueries: []string{fillQ},
			Cases: []Case{
				{
					Name:     "an unhealthy sink fires with the buffer fill",
					Interval: time.Minute,
					Series: []Series{
						{healthy + `{sink="good"}`, "1x5 0x20"},
						{healthy + `{sink="bad"}`, "1x25"},
						{mn.CollectorBufferBytes.Name + `{sink="good"}`, "25000000x25"},
						{mn.CollectorBufferLimitBytes.Name + `{sink="good"}`, "100000000x25"},
					},
					EvalTime: 20 * time.Minute,
					Fires: []Expected{{
						Labels:  map[string]string{"sink": "good"},
						Summary: "The collector cannot write to its good sink",
						Description: "The collector cannot write to its good sink (Kinesis). It keeps acknowledging events into its memory buffer, now 25% full, " +
							"and answers 503 once the buffer is full. Buffered events are lost if the collector is killed before it drains them.",
					}},
				},
				{
					Name:     "a sink unhealthy for two minutes stays quiet",
					Interval: time.Minute,
					Series:   []Series{{healthy + `{sink="good"}`, "1x5 0x2 1x18"}},
					EvalTime: 20 * time.Minute,
				},
			},
			Runbook: runbookCollectorSinkUnhealthy,
		},
		{
			Alert:    "PlowlineBadEventRatioHigh",
			Labels:   map[string]string{"component": "enricher"},
			Expr:     badRatio,
			For:      BadEventFor,
			Severity: SeverityWarning,
			Summary:  "{{ $value | humanizePercentage }} of enriched events are bad",
			Description: "{{ $value | humanizePercentage }} of the events the enricher processed were bad (threshold " + pct(BadEventRatio) +
				"; from its counters over the last " + w + ", or from the exporter's " + EnricherGoodNode + "/" + EnricherBadNode + " counts of the latest settled window)." +
				"{{ with query \"" + byType + "\" }} Bad rows per second by type: {{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.type }} {{ printf \"%.2f\" $s.Value }}{{ end }}.{{ end }}" +
				"{{ with query \"" + collectorBad + "\" }} Collector bad rows per second: {{ . | first | value | printf \"%.2f\" }}.{{ end }}",
			Dashboard:       DashboardOverview,
			TemplateQueries: []string{byType, collectorBad},
			Cases: []Case{
				{
					Name:     "10% bad fires and lists the bad-row types",
					Interval: time.Minute,
					Series: []Series{
						{events + `{result="good"}`, "0+540x60"},
						{events + `{result="bad"}`, "0+60x60"},
						{mn.EnricherBadRows.Name + `{type="schema_violations"}`, "0+45x60"},
						{mn.EnricherBadRows.Name + `{type="enrichment_failures"}`, "0+15x60"},
						{mn.CollectorBadRows.Name + `{type="size_violation"}`, "0+6x60"},
					},
					EvalTime: time.Hour,
					Fires: []Expected{{
						Summary: "10% of enriched events are bad",
						Description: "10% of the events the enricher processed were bad (threshold 5%; from its counters over the last 30m, " +
							"or from the exporter's enricher:good/enricher:bad counts of the latest settled window). " +
							"Bad rows per second by type: schema_violations 0.75, enrichment_failures 0.25. Collector bad rows per second: 0.10.",
					}},
				},
				{
					Name:     "10% bad in the exporter's settled window fires without the enricher's counters",
					Interval: time.Minute,
					Series: []Series{
						{mn.NodeEvents.Name + `{node="enricher:good",kind="cloudwatch",bucketing="arrival_time"}`, "90000x40"},
						{mn.NodeEvents.Name + `{node="enricher:bad",kind="cloudwatch",bucketing="arrival_time"}`, "10000x40"},
						{mn.WindowSeconds.Name, "3600x40"},
					},
					EvalTime: 30 * time.Minute,
					Fires: []Expected{{
						Summary: "10% of enriched events are bad",
						Description: "10% of the events the enricher processed were bad (threshold 5%; from its counters over the last 30m, " +
							"or from the exporter's enricher:good/enricher:bad counts of the latest settled window).",
					}},
				},
				{
					Name:     "2% bad in the settled window, and a nearly empty window, stay quiet",
					Interval: time.Minute,
					Series: []Series{
						{mn.NodeEvents.Name + `{node="enricher:good",kind="cloudwatch",bucketing="arrival_time",instance="a"}`, "98000x40"},
						{mn.NodeEvents.Name + `{node="enricher:bad",kind="cloudwatch",bucketing="arrival_time",instance="a"}`, "2000x40"},
						{mn.WindowSeconds.Name + `{instance="a"}`, "3600x40"},
					},
					EvalTime: 30 * time.Minute,
				},
				{
					Name:     "all bad in a nearly empty window stays quiet",
					Interval: time.Minute,
					Series: []Series{
						{mn.NodeEvents.Name + `{node="enricher:bad",kind="cloudwatch",bucketing="arrival_time"}`, "20x40"},
						{mn.WindowSeconds.Name, "3600x40"},
					},
					EvalTime: 30 * time.Minute,
				},
				{
					Name:     "7% bad of a window of 500 events (chance, at this size) stays quiet",
					Interval: time.Minute,
					Series: []Series{
						{mn.NodeEvents.Name + `{node="enricher:good",kind="local",bucketing="event_time"}`, "465x40"},
						{mn.NodeEvents.Name + `{node="enricher:bad",kind="local",bucketing="event_time"}`, "35x40"},
						{mn.WindowSeconds.Name, "60x40"},
					},
					EvalTime: 30 * time.Minute,
				},
				{
					Name:     "2% bad stays quiet",
					Interval: time.Minute,
					Series: []Series{
						{events + `{result="good",instance="busy"}`, "0+588x60"},
						{events + `{result="bad",instance="busy"}`, "0+12x60"},
					},
					EvalTime: time.Hour,
				},
				{
					Name:     "all-bad at a trickle stays quiet",
					Interval: time.Minute,
					Series:   []Series{{events + `{result="bad"}`, "0+3x60"}},
					EvalTime: time.Hour,
				},
			},
			Runbook: runbookBadEventRatioHigh,
		},
		{
			Alert:           "PlowlineStreamBackingUp",
			Labels:          map[string]string{"component": "kinesis"},
			Expr:            fmt.Sprintf("%s - %s\n  and\n%s > %s", retOr, age, age, seconds(StreamBackingUpWarningAge)),
			For:             15 * time.Minute,
			Severity:        SeverityWarning,
			Summary:         backingSummary,
			Description:     backingDesc(promDuration(StreamBackingUpWarningAge)),
			Dashboard:       DashboardStages,
			TemplateQueries: []string{ageQ, retQ},
			Cases: []Case{
				{
					Name:     "an hour behind warns with the time left",
					Interval: time.Minute,
					Series:   []Series{retention, {age + stream, "0x10 3600x50"}},
					EvalTime: 40 * time.Minute,
					Fires: []Expected{{
						Labels:  map[string]string{"stream": "snowplow-raw-good"},
						Summary: "Kinesis stream snowplow-raw-good backing up: 1d 23h 0m 0s before unread records expire",
						Description: "The oldest record in Kinesis stream snowplow-raw-good that its consumer has not read is 1h 0m 0s old " +
							"(GetRecords.IteratorAgeMilliseconds; threshold 30m). Kinesis keeps records for 2d 0h 0m 0s: unless the consumer catches up, " +
							"records expire unread, lost for good, in 1d 23h 0m 0s.",
					}},
				},
				{
					Name:     "a consumer a few seconds behind, and a short spike, stay quiet",
					Interval: time.Minute,
					Series: []Series{retention, {age + stream, "0x10 4000x5 2x45"},
						{ret + `{stream="snowplow-enriched-good"}`, "172800x60"}, {age + `{stream="snowplow-enriched-good"}`, "3x60"}},
					EvalTime: 40 * time.Minute,
				},
			},
			Runbook: runbookStreamBackingUp,
		},
		{
			Alert:           "PlowlineStreamBackingUp",
			Labels:          map[string]string{"component": "kinesis"},
			Expr:            fmt.Sprintf("%s - %s\n  and\n%s > %g * %s", retOr, age, age, StreamBackingUpCriticalFraction, retOr),
			For:             5 * time.Minute,
			Severity:        SeverityCritical,
			Summary:         backingSummary,
			Description:     backingDesc(pct(StreamBackingUpCriticalFraction) + " of retention"),
			Dashboard:       DashboardStages,
			TemplateQueries: []string{ageQ, retQ},
			Cases: []Case{
				{
					Name:     "a quarter of the retention behind pages (and warns)",
					Interval: time.Minute,
					Series:   []Series{retention, {age + stream, "50000x60"}},
					EvalTime: 30 * time.Minute,
					Fires: []Expected{
						{
							Labels:  map[string]string{"stream": "snowplow-raw-good"},
							Summary: "Kinesis stream snowplow-raw-good backing up: 1d 10h 6m 40s before unread records expire",
							Description: "The oldest record in Kinesis stream snowplow-raw-good that its consumer has not read is 13h 53m 20s old " +
								"(GetRecords.IteratorAgeMilliseconds; threshold 25% of retention). Kinesis keeps records for 2d 0h 0m 0s: unless the consumer catches up, " +
								"records expire unread, lost for good, in 1d 10h 6m 40s.",
						},
						{
							Labels:   map[string]string{"stream": "snowplow-raw-good"},
							Severity: SeverityWarning,
							Summary:  "Kinesis stream snowplow-raw-good backing up: 1d 10h 6m 40s before unread records expire",
							Description: "The oldest record in Kinesis stream snowplow-raw-good that its consumer has not read is 13h 53m 20s old " +
								"(GetRecords.IteratorAgeMilliseconds; threshold 30m). Kinesis keeps records for 2d 0h 0m 0s: unless the consumer catches up, " +
								"records expire unread, lost for good, in 1d 10h 6m 40s.",
						},
					},
				},
				{
					Name:     "without a retention gauge the topology's retention applies",
					Interval: time.Minute,
					Series:   []Series{{age + `{stream="snowplow-enriched-good"}`, "50000x60"}},
					EvalTime: 30 * time.Minute,
					Fires: []Expected{
						{
							Labels:  map[string]string{"stream": "snowplow-enriched-good"},
							Summary: "Kinesis stream snowplow-enriched-good backing up: 1d 10h 6m 40s before unread records expire",
							Description: "The oldest record in Kinesis stream snowplow-enriched-good that its consumer has not read is 13h 53m 20s old " +
								"(GetRecords.IteratorAgeMilliseconds; threshold 25% of retention). Kinesis keeps records for 2d 0h 0m 0s: unless the consumer catches up, " +
								"records expire unread, lost for good, in 1d 10h 6m 40s.",
						},
						{
							Labels:   map[string]string{"stream": "snowplow-enriched-good"},
							Severity: SeverityWarning,
							Summary:  "Kinesis stream snowplow-enriched-good backing up: 1d 10h 6m 40s before unread records expire",
							Description: "The oldest record in Kinesis stream snowplow-enriched-good that its consumer has not read is 13h 53m 20s old " +
								"(GetRecords.IteratorAgeMilliseconds; threshold 30m). Kinesis keeps records for 2d 0h 0m 0s: unless the consumer catches up, " +
								"records expire unread, lost for good, in 1d 10h 6m 40s.",
						},
					},
				},
				{
					Name:     "two hours behind on a 48-hour stream does not page",
					Interval: time.Minute,
					Series:   []Series{retention, {age + stream, "7200x60"}},
					EvalTime: 30 * time.Minute,
					Fires: []Expected{{
						Labels:   map[string]string{"stream": "snowplow-raw-good"},
						Severity: SeverityWarning,
						Summary:  "Kinesis stream snowplow-raw-good backing up: 1d 22h 0m 0s before unread records expire",
						Description: "The oldest record in Kinesis stream snowplow-raw-good that its consumer has not read is 2h 0m 0s old " +
							"(GetRecords.IteratorAgeMilliseconds; threshold 30m). Kinesis keeps records for 2d 0h 0m 0s: unless the consumer catches up, " +
							"records expire unread, lost for good, in 1d 22h 0m 0s.",
					}},
				},
			},
			Runbook: runbookStreamBackingUp,
		},
		{
			Alert:    "PlowlineFirehoseDeliveryStale",
			Labels:   map[string]string{"component": "firehose"},
			Expr:     fmt.Sprintf("%s > %s", fresh, seconds(FirehoseFreshnessMax)),
			For:      10 * time.Minute,
			Severity: SeverityWarning,
			Summary:  "Firehose {{ $labels.delivery_stream }} has not delivered its oldest record for {{ $value | humanizeDuration }}",
			Description: "The oldest record in delivery stream {{ $labels.delivery_stream }} not yet delivered to S3 is {{ $value | humanizeDuration }} old (threshold " +
				promDuration(FirehoseFreshnessMax) + "); latest period: " + tmplValue(inQ, "humanize", "$labels.delivery_stream") + " records in, " +
				tmplValue(outQ, "humanize", "$labels.delivery_stream") + " delivered. Firehose retries S3 delivery for 24h, then discards the records.",
			Dashboard:       DashboardStages,
			TemplateQueries: []string{inQ, outQ},
			Cases: []Case{
				{
					Name:     "40 minutes stale fires",
					Interval: time.Minute,
					Series: []Series{
						{fresh + ds, "120x5 2400x40"},
						{mn.FirehoseIncomingRecords.Name + ds, "1000x45"},
						{mn.FirehoseDeliveredRecords.Name + ds, "0x45"},
					},
					EvalTime: 30 * time.Minute,
					Fires: []Expected{{
						Labels:  map[string]string{"delivery_stream": "snowplow-enriched-good"},
						Summary: "Firehose snowplow-enriched-good has not delivered its oldest record for 40m 0s",
						Description: "The oldest record in delivery stream snowplow-enriched-good not yet delivered to S3 is 40m 0s old (threshold 30m); " +
							"latest period: 1k records in, 0 delivered. Firehose retries S3 delivery for 24h, then discards the records.",
					}},
				},
				{
					Name:     "a 5-minute buffer stays quiet",
					Interval: time.Minute,
					Series:   []Series{{fresh + ds, "300x45"}},
					EvalTime: 30 * time.Minute,
				},
			},
			Runbook: runbookFirehoseDeliveryStale,
		},
		{
			Alert:    "PlowlineFirehoseDeliveryFailing",
			Labels:   map[string]string{"component": "firehose"},
			Expr:     delivered,
			For:      15 * time.Minute,
			Severity: SeverityCritical,
			Summary:  "Firehose {{ $labels.delivery_stream }} delivered {{ $value | humanizePercentage }} of its incoming records",
			Description: "Delivery stream {{ $labels.delivery_stream }} delivered {{ $value | humanizePercentage }} of its incoming records to S3 over the last hour (threshold " +
				pct(FirehoseDeliveredRatio) + "). The rest are being retried, or went to the error prefixes (pseudonymizer processing failures, S3 errors).",
			Dashboard: DashboardStages,
			Cases: []Case{
				{
					Name:     "half delivered fires",
					Interval: time.Minute,
					Series: []Series{
						{mn.FirehoseIncomingRecords.Name + ds, "1000x60"},
						{mn.FirehoseDeliveredRecords.Name + ds, "500x60"},
					},
					EvalTime: time.Hour,
					Fires: []Expected{{
						Labels:  map[string]string{"delivery_stream": "snowplow-enriched-good"},
						Summary: "Firehose snowplow-enriched-good delivered 50% of its incoming records",
						Description: "Delivery stream snowplow-enriched-good delivered 50% of its incoming records to S3 over the last hour (threshold 90%). " +
							"The rest are being retried, or went to the error prefixes (pseudonymizer processing failures, S3 errors).",
					}},
				},
				{
					Name:     "98% delivered, and an idle raw-bad stream, stay quiet",
					Interval: time.Minute,
					Series: []Series{
						{mn.FirehoseIncomingRecords.Name + ds, "1000x60"},
						{mn.FirehoseDeliveredRecords.Name + ds, "980x60"},
						{mn.FirehoseIncomingRecords.Name + `{delivery_stream="snowplow-raw-bad"}`, "50x60"},
						{mn.FirehoseDeliveredRecords.Name + `{delivery_stream="snowplow-raw-bad"}`, "0x60"},
					},
					EvalTime: time.Hour,
				},
			},
			Runbook: runbookFirehoseDeliveryFailing,
		},
		{
			Alert:    "PlowlinePseudonymizerFailingRecords",
			Labels:   map[string]string{"component": "pseudonymizer"},
			Expr:     pseudo,
			For:      5 * time.Minute,
			Severity: SeverityCritical,
			Summary:  "The pseudonymizer is failing {{ $value | humanizePercentage }} of records for {{ $labels.stream }}",
			Description: "{{ $value | humanizePercentage }} of the records the pseudonymizer transformed for {{ $labels.stream }} in the last 15m failed (ProcessingFailed). " +
				"Firehose writes failed records untransformed to the processing-failed prefix: they hold personal data that was not pseudonymized, " +
				"and they do not reach the warehouse.",
			Dashboard: DashboardStages,
			Cases: []Case{
				{
					Name:     "1% failing fires",
					Interval: time.Minute,
					Series: []Series{
						{recs + `{stream="snowplow-enriched-good",result="ok"}`, "0+990x30"},
						{recs + `{stream="snowplow-enriched-good",result="processing_failed"}`, "0+10x30"},
						{recs + `{stream="snowplow-enriched-bad",result="ok"}`, "0+10x30"},
						{recs + `{stream="snowplow-enriched-bad",result="processing_failed"}`, "0x30"},
					},
					EvalTime: 25 * time.Minute,
					Fires: []Expected{{
						Labels:  map[string]string{"stream": "snowplow-enriched-good"},
						Summary: "The pseudonymizer is failing 1% of records for snowplow-enriched-good",
						Description: "1% of the records the pseudonymizer transformed for snowplow-enriched-good in the last 15m failed (ProcessingFailed). " +
							"Firehose writes failed records untransformed to the processing-failed prefix: they hold personal data that was not pseudonymized, " +
							"and they do not reach the warehouse.",
					}},
				},
				{
					Name:     "no failures stays quiet",
					Interval: time.Minute,
					Series: []Series{
						{recs + `{stream="snowplow-enriched-good",result="ok"}`, "0+990x30"},
						{recs + `{stream="snowplow-enriched-good",result="processing_failed"}`, "0x30"},
					},
					EvalTime: 25 * time.Minute,
				},
			},
			Runbook: runbookPseudonymizerFailingRecords,
		},
		{
			Alert:    "PlowlineLambdaErrors",
			Labels:   map[string]string{"component": "lambda"},
			Expr:     lambdaErr,
			For:      15 * time.Minute,
			Severity: SeverityWarning,
			Summary:  "Lambda {{ $labels.function }} fails {{ $value | humanizePercentage }} of invocations",
			Description: "Lambda function {{ $labels.function }} failed {{ $value | humanizePercentage }} of its invocations over the last 15m (threshold " +
				pct(LambdaErrorRatio) + "); throttles in the latest period: " + tmplValue(throttleQ, "humanize", "$labels.function") +
				". A failing Kinesis-triggered function retries its batch and blocks its shard; a failing Firehose transformation sends records to the processing-failed prefix.",
			Dashboard:       DashboardStages,
			TemplateQueries: []string{throttleQ},
			Cases: []Case{
				{
					Name:     "2% errors fire",
					Interval: time.Minute,
					Series: []Series{
						{mn.LambdaErrors.Name + fn, "20x40"},
						{mn.LambdaInvocations.Name + fn, "1000x40"},
						{mn.LambdaThrottles.Name + fn, "0x40"},
					},
					EvalTime: 35 * time.Minute,
					Fires: []Expected{{
						Labels:  map[string]string{"function": "snowplow-pseudonymizer"},
						Summary: "Lambda snowplow-pseudonymizer fails 2% of invocations",
						Description: "Lambda function snowplow-pseudonymizer failed 2% of its invocations over the last 15m (threshold 1%); throttles in the latest period: 0. " +
							"A failing Kinesis-triggered function retries its batch and blocks its shard; a failing Firehose transformation sends records to the processing-failed prefix.",
					}},
				},
				{
					Name:     "an occasional error stays quiet",
					Interval: time.Minute,
					Series: []Series{
						{mn.LambdaErrors.Name + fn, "0x20 3 0x19"},
						{mn.LambdaInvocations.Name + fn, "1000x40"},
					},
					EvalTime: 35 * time.Minute,
				},
			},
			Runbook: runbookLambdaErrors,
		},
		{
			Alert:    "PlowlineWarehouseLoadLag",
			Labels:   map[string]string{"component": "warehouse"},
			Expr:     load,
			For:      10 * time.Minute,
			Severity: SeverityWarning,
			Summary:  "Nothing loaded into {{ $labels.table }} for {{ $value | humanizeDuration }}",
			Description: "The newest row in warehouse table {{ $labels.table }} was uploaded " + tmplValue(loadQ, "humanizeTimestamp", "$labels.table") +
				", {{ $value | humanizeDuration }} ago (threshold " + promDuration(WarehouseLoadLagMax) + "). Events are reaching S3 but not the warehouse, or not reaching S3.",
			Dashboard:       DashboardOverview,
			TemplateQueries: []string{loadQ},
			Cases: []Case{
				{
					Name:     "four hours without a load fires; the bad table is not judged",
					Interval: time.Minute,
					Series: []Series{
						{mn.WarehouseLatestLoad.Name + fmt.Sprintf("{table=%q}", goodTable), "0x300"},
						{mn.WarehouseLatestLoad.Name + fmt.Sprintf("{table=%q}", o.Topology.BadTable), "0x300"},
					},
					EvalTime: 4 * time.Hour,
					Fires: []Expected{{
						Labels:  map[string]string{"table": goodTable},
						Summary: "Nothing loaded into " + goodTable + " for 4h 0m 0s",
						Description: "The newest row in warehouse table " + goodTable + " was uploaded 1970-01-01 00:00:00 +0000 UTC, 4h 0m 0s ago (threshold 3h). " +
							"Events are reaching S3 but not the warehouse, or not reaching S3.",
					}},
				},
				{
					Name:     "regular loads stay quiet",
					Interval: time.Minute,
					Series:   []Series{{mn.WarehouseLatestLoad.Name + fmt.Sprintf("{table=%q}", goodTable), "0+60x300"}},
					EvalTime: 4 * time.Hour,
				},
			},
			Runbook: runbookWarehouseLoadLag,
		},
	}
}

func trackerRules(o Options) []Rule {
	w := promDuration(TrackerRateWindow)
	ok := fmt.Sprintf("sum(rate(%s[%s]))", mn.GitLabSnowplowSuccessfulEvents.Name, w)
	failed := fmt.Sprintf("sum(rate(%s[%s]))", mn.GitLabSnowplowFailedEvents.Name, w)
	return []Rule{{
		Alert:    "PlowlineTrackersFailing",
		Labels:   map[string]string{"component": "trackers"},
		Expr:     fmt.Sprintf("%s\n/\n(\n  %s\n  +\n  %s\n)\n< %g", ok, ok, failed, TrackerSuccessRatio),
		For:      15 * time.Minute,
		Severity: SeverityCritical,
		Summary:  "Only {{ $value | humanizePercentage }} of tracker events reach the collector",
		Description: "Only {{ $value | humanizePercentage }} of the events GitLab's trackers tried to send reached the collector over the last " + w +
			" (successful / (successful + failed); threshold " + pct(TrackerSuccessRatio) + "); " + tmplValue(failed, `printf "%.2f"`) +
			" events/s failed. The tracker does not keep events it failed to send: they are lost.",
		Dashboard:       DashboardTrackers,
		TemplateQueries: []string{failed},
		Cases: []Case{
			{
				Name:     "90% success fires",
				Interval: time.Minute,
				Series: []Series{
					{mn.GitLabSnowplowSuccessfulEvents.Name + `{instance="web-1"}`, "0+540x40"},
					{mn.GitLabSnowplowFailedEvents.Name + `{instance="web-1"}`, "0+60x40"},
				},
				EvalTime: 35 * time.Minute,
				Fires: []Expected{{
					Summary: "Only 90% of tracker events reach the collector",
					Description: "Only 90% of the events GitLab's trackers tried to send reached the collector over the last 10m (successful / (successful + failed); threshold 95%); " +
						"1.00 events/s failed. The tracker does not keep events it failed to send: they are lost.",
				}},
			},
			{
				Name:     "99% success stays quiet",
				Interval: time.Minute,
				Series: []Series{
					{mn.GitLabSnowplowSuccessfulEvents.Name + `{instance="web-1"}`, "0+594x40"},
					{mn.GitLabSnowplowFailedEvents.Name + `{instance="web-1"}`, "0+6x40"},
				},
				EvalTime: 35 * time.Minute,
			},
		},
		Runbook: runbookTrackersFailing,
	}}
}

func canaryRules(o Options) []Rule {
	lost := mn.CanaryLost.Name
	seen := mn.CanaryLastSeen.Name
	seenQ := seen + "{stage=%q}"
	sentQ := mn.CanaryLastSent.Name
	failQ := fmt.Sprintf("sum(increase(%s[1h]))", mn.CanarySendFailures.Name)
	return []Rule{
		{
			Alert:    "PlowlineCanaryLost",
			Labels:   map[string]string{"component": "canary"},
			Expr:     fmt.Sprintf("sum by (stage) (increase(%s[1h])) > %d", lost, CanaryLostMax),
			Severity: SeverityWarning,
			Summary:  "Canary events lost at stage {{ $labels.stage }}",
			Description: "{{ $value | printf \"%.0f\" }} canary events sent in the last hour were not found at stage {{ $labels.stage }} within their deadline (threshold: more than " +
				fmt.Sprint(CanaryLostMax) + "). The canary was last found there " + tmplValue(seenQ, "humanizeTimestamp", "$labels.stage") + ".",
			Dashboard:       DashboardOverview,
			TemplateQueries: []string{seenQ},
			Cases: []Case{
				{
					Name:     "three lost in an hour fire",
					Interval: time.Minute,
					Series: []Series{
						{lost + `{stage="warehouse"}`, "0x30 1 2 3x28"},
						{lost + `{stage="s3"}`, "0x61"},
						{seen + `{stage="warehouse"}`, "1800x61"},
					},
					EvalTime: time.Hour,
					Fires: []Expected{{
						Labels:      map[string]string{"stage": "warehouse"},
						Summary:     "Canary events lost at stage warehouse",
						Description: "3 canary events sent in the last hour were not found at stage warehouse within their deadline (threshold: more than 1). The canary was last found there 1970-01-01 00:30:00 +0000 UTC.",
					}},
				},
				{
					Name:     "a single lost canary stays quiet",
					Interval: time.Minute,
					Series:   []Series{{lost + `{stage="warehouse"}`, "0x30 1x30"}},
					EvalTime: time.Hour,
				},
			},
			Runbook: runbookCanaryLost,
		},
		{
			Alert:    "PlowlineCanaryNotSeen",
			Labels:   map[string]string{"component": "canary"},
			Expr:     fmt.Sprintf("time() - %s > %s", seen, seconds(CanaryNotSeenAfter)),
			For:      10 * time.Minute,
			Severity: SeverityWarning,
			Summary:  "No canary found at stage {{ $labels.stage }} for {{ $value | humanizeDuration }}",
			Description: "No canary event has been found at stage {{ $labels.stage }} for {{ $value | humanizeDuration }} (threshold " + promDuration(CanaryNotSeenAfter) +
				"). The latest canary was sent " + tmplValue(sentQ, "humanizeTimestamp") + "; canary sends the collector refused in the last hour: " +
				tmplValue(failQ, `printf "%.0f"`) + ".",
			Dashboard:       DashboardOverview,
			TemplateQueries: []string{sentQ, failQ},
			Cases: []Case{
				{
					Name:     "nearly three hours without a canary fires",
					Interval: time.Minute,
					Series: []Series{
						{seen + `{stage="s3"}`, "600x200"},
						{seen + `{stage="collector"}`, "0+60x200"},
						{mn.CanaryLastSent.Name, "10740x200"},
						{mn.CanarySendFailures.Name, "0x200"},
					},
					EvalTime: 3 * time.Hour,
					Fires: []Expected{{
						Labels:  map[string]string{"stage": "s3"},
						Summary: "No canary found at stage s3 for 2h 50m 0s",
						Description: "No canary event has been found at stage s3 for 2h 50m 0s (threshold 2h). " +
							"The latest canary was sent 1970-01-01 02:59:00 +0000 UTC; canary sends the collector refused in the last hour: 0.",
					}},
				},
				{
					Name:     "canaries arriving every minute stay quiet",
					Interval: time.Minute,
					Series:   []Series{{seen + `{stage="s3"}`, "0+60x200"}},
					EvalTime: 3 * time.Hour,
				},
			},
			Runbook: runbookCanaryNotSeen,
		},
	}
}

func exporterRules(o Options) []Rule {
	up := mn.SourceUp.Name
	lastQ := mn.SourceLastSuccess.Name + "{source=%q}"
	errQ := "sum(increase(" + mn.SourceErrors.Name + "{source=%q}[1h]))"
	src := `{source="cloudwatch",kind="cloudwatch"}`
	lastSeenQ := fmt.Sprintf("max(last_over_time(timestamp(%s)[6h:1m]))", mn.ExporterBuildInfo.Name)
	return []Rule{{
		Alert:    "PlowlineExporterAbsent",
		Labels:   map[string]string{"component": "exporter"},
		Expr:     fmt.Sprintf("absent(%s)", mn.ExporterBuildInfo.Name),
		For:      ExporterAbsentFor,
		Severity: SeverityCritical,
		Summary:  "The plowline exporter is not being scraped",
		Description: "Prometheus has had no " + mn.ExporterBuildInfo.Name + " series for " + promDuration(ExporterAbsentFor) +
			" (last seen " + strings.Replace(tmplValue(lastSeenQ, "humanizeTimestamp"), "unknown", "more than 6h ago", 1) +
			"): the exporter is down or not scraped, and every reconciliation, canary and stage alert is blind.",
		Dashboard:       DashboardExporter,
		TemplateQueries: []string{lastSeenQ},
		Cases: []Case{
			{
				Name:     "no exporter series for 20 minutes fires",
				Interval: time.Minute,
				Series:   []Series{{mn.ExporterBuildInfo.Name + `{version="v1"}`, "1x5 _x30"}},
				EvalTime: 30 * time.Minute,
				Fires: []Expected{{
					Summary: "The plowline exporter is not being scraped",
					Description: "Prometheus has had no plowline_exporter_build_info series for 10m (last seen 1970-01-01 00:05:00 +0000 UTC): " +
						"the exporter is down or not scraped, and every reconciliation, canary and stage alert is blind.",
				}},
			},
			{
				Name:     "a scraped exporter, and a five-minute gap, stay quiet",
				Interval: time.Minute,
				Series:   []Series{{mn.ExporterBuildInfo.Name + `{version="v1"}`, "1x10 _x5 1x20"}},
				EvalTime: 30 * time.Minute,
			},
		},
		Runbook: runbookExporterAbsent,
	}, {
		Alert:    "PlowlineSourceDown",
		Labels:   map[string]string{"component": "exporter"},
		Expr:     up + " == 0",
		For:      SourceDownFor,
		Severity: SeverityWarning,
		Summary:  "Exporter source {{ $labels.source }} is failing its refreshes",
		Description: "Exporter source {{ $labels.source }} ({{ $labels.kind }}) has failed every refresh for at least " + promDuration(SourceDownFor) +
			"; last success " + tmplValue(lastQ, "humanizeTimestamp", "$labels.source") + ", " + tmplValue(errQ, `printf "%.0f"`, "$labels.source") +
			" failed refreshes in the last hour. The exporter serves the source's last good counts, so edges that read it are not judged on new windows.",
		Dashboard:       DashboardExporter,
		TemplateQueries: []string{lastQ, errQ},
		Cases: []Case{
			{
				Name:     "a source failing for 25 minutes fires",
				Interval: time.Minute,
				Series: []Series{
					{up + src, "1x5 0x30"},
					{up + `{source="warehouse",kind="warehouse"}`, "1x35"},
					{mn.SourceLastSuccess.Name + src, "300x35"},
					{mn.SourceErrors.Name + src, "0+1x35"},
				},
				EvalTime: 30 * time.Minute,
				Fires: []Expected{{
					Labels:  map[string]string{"source": "cloudwatch", "kind": "cloudwatch"},
					Summary: "Exporter source cloudwatch is failing its refreshes",
					Description: "Exporter source cloudwatch (cloudwatch) has failed every refresh for at least 15m; last success 1970-01-01 00:05:00 +0000 UTC, " +
						"30 failed refreshes in the last hour. The exporter serves the source's last good counts, so edges that read it are not judged on new windows.",
				}},
			},
			{
				Name:     "a source failing for five minutes stays quiet",
				Interval: time.Minute,
				Series:   []Series{{up + src, "1x5 0x5 1x25"}},
				EvalTime: 30 * time.Minute,
			},
		},
		Runbook: runbookSourceDown,
	}}
}
