package grafana

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cloudwatch"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/plowline/plowline/alerts"
)

// RegionVar is the stage-detail dashboard's AWS region variable.
const RegionVar = "region"

// cwq is one CloudWatch metric target.
type cwq struct {
	namespace, metric, dimension, value, stat, label string
}

func withCloudWatch(p *timeseries.PanelBuilder, qs ...cwq) *timeseries.PanelBuilder {
	for i, q := range qs {
		mq := cloudwatch.NewMetricsQueryBuilder().
			QueryMode(cloudwatch.QueryModeMetrics).
			MetricQueryType(cloudwatch.MetricQueryTypeSearch).
			MetricEditorMode(cloudwatch.MetricEditorModeBuilder).
			RefId(refID(i)).
			Datasource(cloudwatchDS()).
			Region("$" + RegionVar).
			Namespace(q.namespace).
			MetricName(q.metric).
			Dimensions(cloudwatch.Dimensions{q.dimension: cloudwatch.StringOrArrayOfString{String: cog.ToPtr(q.value)}}).
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
		out = append(out, cwq{namespace, metric, dimension, n, stat, label})
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
			flows = append(flows, cwq{ns, metric, "LoadBalancer", lb, "Sum", lb + " new flows"},
				cwq{ns, "ProcessedBytes", "LoadBalancer", lb, "Sum", lb + " bytes"})
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
			cwq{"AWS/Firehose", "IncomingRecords", "DeliveryStreamName", n, "Sum", n + " incoming"},
			cwq{"AWS/Firehose", "DeliveryToS3.Records", "DeliveryStreamName", n, "Sum", n + " delivered to S3"})
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
