package grafana

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cloudwatch"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/plowline/plowline/alerts"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/metricname"
)

// RegionVar is the stage-detail dashboard's AWS region variable.
const RegionVar = "region"

// cwq is one CloudWatch metric target.
type cwq struct {
	namespace, metric, dimension, value, stat, label string
	// more are further dimension name/value pairs (EMF metrics carry
	// function plus their labels).
	more []string
}

func withCloudWatch(p *timeseries.PanelBuilder, qs ...cwq) *timeseries.PanelBuilder {
	for i, q := range qs {
		dims := cloudwatch.Dimensions{q.dimension: cloudwatch.StringOrArrayOfString{String: cog.ToPtr(q.value)}}
		for j := 0; j+1 < len(q.more); j += 2 {
			dims[q.more[j]] = cloudwatch.StringOrArrayOfString{String: cog.ToPtr(q.more[j+1])}
		}
		mq := cloudwatch.NewMetricsQueryBuilder().
			QueryMode(cloudwatch.QueryModeMetrics).
			MetricQueryType(cloudwatch.MetricQueryTypeSearch).
			MetricEditorMode(cloudwatch.MetricEditorModeBuilder).
			RefId(refID(i)).
			Datasource(cloudwatchDS()).
			Region("$" + RegionVar).
			Namespace(q.namespace).
			MetricName(q.metric).
			Dimensions(dims).
			MatchExact(true).
			Statistic(q.stat).
			Period("auto").
			Label(q.label)
		p = p.WithTarget(cloudwatch.NewMetricsQueryOrLogsQueryOrAnnotationQueryBuilder().MetricsQuery(mq))
	}
	return p
}

func cwPanel(title, desc, unit string, w, h uint32) *timeseries.PanelBuilder {
	return tsPanel(title, desc, unit, w, h).Datasource(cloudwatchDS())
}

// perResource makes one target per resource name.
func perResource(names []string, namespace, metric, dimension, stat, suffix string) []cwq {
	var out []cwq
	for _, n := range names {
		label := n
		if suffix != "" {
			label += " " + suffix
		}
		out = append(out, cwq{namespace: namespace, metric: metric, dimension: dimension, value: n, stat: stat, label: label})
	}
	return out
}

// loadBalancerMetric picks the namespace and connection metric for a load
// balancer by its CloudWatch dimension: net/… is a Network Load Balancer
// (NewFlowCount), app/… an Application Load Balancer (NewConnectionCount).
func loadBalancerMetric(lb string) (namespace, metric string) {
	if strings.HasPrefix(lb, "net/") {
		return "AWS/NetworkELB", "NewFlowCount"
	}
	return "AWS/ApplicationELB", "NewConnectionCount"
}

func stages(o Options) *dashboard.DashboardBuilder {
	t := o.Topology
	var streams, deliveries []string
	for _, s := range t.Streams {
		streams = append(streams, s.Name)
	}
	for _, s := range t.DeliveryStreams {
		deliveries = append(deliveries, s.Name)
	}
	d := base(o, alerts.DashboardStages, "plowline: stage detail (CloudWatch)",
		"Kinesis, Firehose, Lambda and the load balancer in front of the collector, straight from CloudWatch, for the resources in the exporter's topology.").
		WithVariable(dashboard.NewDatasourceVariableBuilder(CloudWatchVar).Label("CloudWatch").Type("cloudwatch")).
		WithVariable(dashboard.NewCustomVariableBuilder(RegionVar).Label("Region").
			Values(dashboard.StringOrMap{String: cog.ToPtr(t.Region)}).
			Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr(t.Region)}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(t.Region)}}))

	if len(t.LoadBalancers) > 0 {
		var flows []cwq
		for _, lb := range t.LoadBalancers {
			ns, metric := loadBalancerMetric(lb)
			flows = append(flows, cwq{namespace: ns, metric: metric, dimension: "LoadBalancer", value: lb, stat: "Sum", label: lb + " new flows"},
				cwq{namespace: ns, metric: "ProcessedBytes", dimension: "LoadBalancer", value: lb, stat: "Sum", label: lb + " bytes"})
		}
		d = d.WithRow(row("Load balancer")).
			WithPanel(withCloudWatch(cwPanel("New flows and processed bytes", "NewFlowCount (NLB) or NewConnectionCount (ALB), and ProcessedBytes, per load balancer.", "short", 24, 8), flows...))
	}

	d = d.WithRow(row("Kinesis streams")).
		WithPanel(withCloudWatch(cwPanel("Incoming records", "IncomingRecords per stream (Sum): what producers wrote.", "short", 6, 8),
			perResource(streams, "AWS/Kinesis", "IncomingRecords", "StreamName", "Sum", "")...)).
		WithPanel(withCloudWatch(cwPanel("Records read", "GetRecords.Records per stream (Sum): what consumers read. Below incoming for long means the backlog grows.", "short", 6, 8),
			perResource(streams, "AWS/Kinesis", "GetRecords.Records", "StreamName", "Sum", "")...)).
		WithPanel(withCloudWatch(thresholdLine(cwPanel("Iterator age", "GetRecords.IteratorAgeMilliseconds (Maximum): how far the consumer is behind. Past the stream's retention, unread records expire.", "ms", 6, 8),
			"green", "orange", float64(alerts.StreamBackingUpWarningAge.Milliseconds())).Links(links(runbookLink(o, "PlowlineStreamBackingUp"))),
			perResource(streams, "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", "Maximum", "")...)).
		WithPanel(withCloudWatch(cwPanel("Write throttling", "WriteProvisionedThroughputExceeded (Sum): the collector is writing faster than the shards accept.", "short", 6, 8),
			perResource(streams, "AWS/Kinesis", "WriteProvisionedThroughputExceeded", "StreamName", "Sum", "")...))

	var firehoseIO []cwq
	for _, n := range deliveries {
		firehoseIO = append(firehoseIO,
			cwq{namespace: "AWS/Firehose", metric: "IncomingRecords", dimension: "DeliveryStreamName", value: n, stat: "Sum", label: n + " incoming"},
			cwq{namespace: "AWS/Firehose", metric: "DeliveryToS3.Records", dimension: "DeliveryStreamName", value: n, stat: "Sum", label: n + " delivered to S3"})
	}
	d = d.WithRow(row("Firehose and the pseudonymizer")).
		WithPanel(withCloudWatch(cwPanel("Incoming vs delivered to S3", "IncomingRecords and DeliveryToS3.Records per delivery stream; delivered should track incoming.", "short", 8, 8).
			Links(links(runbookLink(o, "PlowlineFirehoseDeliveryFailing"))), firehoseIO...)).
		WithPanel(withCloudWatch(thresholdLine(cwPanel("Data freshness", "DeliveryToS3.DataFreshness (Maximum): age of the oldest record not yet in S3.", "s", 8, 8),
			"green", "red", alerts.FirehoseFreshnessMax.Seconds()).Links(links(runbookLink(o, "PlowlineFirehoseDeliveryStale"))),
			perResource(deliveries, "AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", "Maximum", "")...)).
		WithPanel(withCloudWatch(cwPanel("Transformation and delivery success", "ExecuteProcessing.Success (the pseudonymizer) and DeliveryToS3.Success (Average; 1 = all succeeded).", "percentunit", 8, 8).
			Links(links(runbookLink(o, "PlowlinePseudonymizerFailingRecords"))),
			append(perResource(deliveries, "AWS/Firehose", "ExecuteProcessing.Success", "DeliveryStreamName", "Average", "processing"),
				perResource(deliveries, "AWS/Firehose", "DeliveryToS3.Success", "DeliveryStreamName", "Average", "delivery")...)...))

	// The pipeline's own counters, as its Lambdas publish them (EMF:
	// namespace plowline, Prometheus names, dimensions function + labels).
	emf := func(m metricname.Info, fn, label string, more ...string) cwq {
		return cwq{namespace: metricname.Namespace, metric: m.Name, dimension: metricname.LabelFunction, value: fn, stat: "Sum", label: label, more: more}
	}
	var flow, failed []cwq
	if f, ok := functionFor(t, "collector"); ok {
		flow = append(flow, emf(metricname.CollectorEvents, f, "collector: acknowledged"))
	}
	if f, ok := functionFor(t, "enricher"); ok {
		flow = append(flow, emf(metricname.EnricherEvents, f, "enricher: good", metricname.LabelResult, "good"),
			emf(metricname.EnricherEvents, f, "enricher: bad", metricname.LabelResult, "bad"))
	}
	if f, ok := functionFor(t, "pseudonymi"); ok {
		for _, n := range deliveries {
			flow = append(flow, emf(metricname.PseudonymizerRecords, f, "pseudonymized: "+n, metricname.LabelStream, n, metricname.LabelResult, "ok"))
			failed = append(failed, emf(metricname.PseudonymizerRecords, f, n, metricname.LabelStream, n, metricname.LabelResult, "processing_failed"))
		}
	}
	if len(flow) > 0 {
		d = d.WithRow(row("Pipeline counters (plowline EMF)")).
			WithPanel(withCloudWatch(cwPanel("Events through the pipeline", "What the collector acknowledged, the enricher wrote as good and bad, and the pseudonymizer transformed, per period (Sum).", "short", 12, 8), flow...))
		if len(failed) > 0 {
			d = d.WithPanel(withCloudWatch(cwPanel("Pseudonymizer processing failures", "Records written untransformed to the processing-failed prefix: personal data not pseudonymized.", "short", 12, 8).
				Links(links(runbookLink(o, "PlowlinePseudonymizerFailingRecords"))), failed...))
		}
	}

	d = d.WithRow(row("Lambda functions")).
		WithPanel(withCloudWatch(cwPanel("Invocations", "Invocations per function (Sum).", "short", 6, 8),
			perResource(t.Functions, "AWS/Lambda", "Invocations", "FunctionName", "Sum", "")...)).
		WithPanel(withCloudWatch(cwPanel("Errors", "Errors per function (Sum). A Kinesis-triggered function retries the failed batch and blocks its shard.", "short", 6, 8).
			Links(links(runbookLink(o, "PlowlineLambdaErrors"))),
			perResource(t.Functions, "AWS/Lambda", "Errors", "FunctionName", "Sum", "")...)).
		WithPanel(withCloudWatch(cwPanel("Throttles", "Throttles per function (Sum): concurrency limits reached.", "short", 6, 8),
			perResource(t.Functions, "AWS/Lambda", "Throttles", "FunctionName", "Sum", "")...)).
		WithPanel(withCloudWatch(cwPanel("Duration", "Duration per function: p99 and average.", "ms", 6, 8),
			append(perResource(t.Functions, "AWS/Lambda", "Duration", "FunctionName", "p99", "p99"),
				perResource(t.Functions, "AWS/Lambda", "Duration", "FunctionName", "Average", "avg")...)...))
	return d.Tooltip(dashboard.DashboardCursorSyncCrosshair).Timezone(common.TimeZoneUtc)
}

// functionFor picks the topology's function whose name contains role.
func functionFor(t config.Topology, role string) (string, bool) {
	for _, f := range t.Functions {
		if strings.Contains(f, role) {
			return f, true
		}
	}
	return "", false
}
