package cloudwatch

import (
	"strings"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/metricname"
)

// EMFNamespace is the CloudWatch namespace the pipeline's Lambda functions
// publish their own counters to (Embedded Metric Format).
const EMFNamespace = metricname.Namespace

// QueriesForTopology returns the default queries for a pipeline: per
// Kinesis stream, Firehose delivery stream, Lambda function and load
// balancer the AWS metrics that count events or show lag, and the
// pipeline's own EMF counters for the stages that run as Lambdas. Node
// names are documented in the package comment.
func QueriesForTopology(t config.Topology) []Query {
	var qs []Query
	for _, s := range t.Streams {
		dims := map[string]string{"StreamName": s.Name}
		labels := map[string]string{metricname.LabelStream: s.Name}
		qs = append(qs,
			Query{Namespace: "AWS/Kinesis", MetricName: "IncomingRecords", Dimensions: dims, Stat: "Sum",
				Node: "kinesis:" + s.Name, Gauge: metricname.KinesisIncomingRecords.Name, GaugeLabels: labels},
			Query{Namespace: "AWS/Kinesis", MetricName: "GetRecords.IteratorAgeMilliseconds", Dimensions: dims, Stat: "Maximum",
				Gauge: metricname.KinesisIteratorAge.Name, GaugeLabels: labels, Scale: 0.001},
		)
	}
	for _, d := range t.DeliveryStreams {
		dims := map[string]string{"DeliveryStreamName": d.Name}
		labels := map[string]string{metricname.LabelDelivery: d.Name}
		qs = append(qs,
			Query{Namespace: "AWS/Firehose", MetricName: "IncomingRecords", Dimensions: dims, Stat: "Sum",
				Node: "firehose:" + d.Name + ":incoming", Gauge: metricname.FirehoseIncomingRecords.Name, GaugeLabels: labels},
			Query{Namespace: "AWS/Firehose", MetricName: "DeliveryToS3.Records", Dimensions: dims, Stat: "Sum",
				Node: "firehose:" + d.Name + ":delivered", Gauge: metricname.FirehoseDeliveredRecords.Name, GaugeLabels: labels},
			Query{Namespace: "AWS/Firehose", MetricName: "DeliveryToS3.DataFreshness", Dimensions: dims, Stat: "Maximum",
				Gauge: metricname.FirehoseDataFreshness.Name, GaugeLabels: labels},
		)
	}
	for _, fn := range t.Functions {
		dims := map[string]string{"FunctionName": fn}
		labels := map[string]string{metricname.LabelFunction: fn}
		for _, m := range []struct {
			name, node string
			gauge      metricname.Info
		}{
			{"Invocations", "invocations", metricname.LambdaInvocations},
			{"Errors", "errors", metricname.LambdaErrors},
			{"Throttles", "throttles", metricname.LambdaThrottles},
		} {
			qs = append(qs, Query{Namespace: "AWS/Lambda", MetricName: m.name, Dimensions: dims, Stat: "Sum",
				Node: "lambda:" + fn + ":" + m.node, Gauge: m.gauge.Name, GaugeLabels: labels})
		}
	}
	for _, lb := range t.LoadBalancers {
		qs = append(qs, loadBalancerQueries(lb)...)
	}
	for _, fn := range t.Functions {
		qs = append(qs, emfQueries(fn, t)...)
	}
	return qs
}

// loadBalancerQueries picks the namespace and metrics by the load
// balancer's kind, which its CloudWatch dimension value shows: app/… is an
// ALB, net/… an NLB, anything else a Classic ELB.
func loadBalancerQueries(lb string) []Query {
	switch {
	case strings.HasPrefix(lb, "app/"):
		dims := map[string]string{"LoadBalancer": lb}
		return []Query{
			{Namespace: "AWS/ApplicationELB", MetricName: "RequestCount", Dimensions: dims, Stat: "Sum", Node: "elb:" + lb + ":requests"},
			{Namespace: "AWS/ApplicationELB", MetricName: "NewConnectionCount", Dimensions: dims, Stat: "Sum", Node: "elb:" + lb + ":connections"},
		}
	case strings.HasPrefix(lb, "net/"):
		dims := map[string]string{"LoadBalancer": lb}
		return []Query{
			{Namespace: "AWS/NetworkELB", MetricName: "NewFlowCount", Dimensions: dims, Stat: "Sum", Node: "elb:" + lb + ":flows"},
		}
	default:
		dims := map[string]string{"LoadBalancerName": lb}
		return []Query{
			{Namespace: "AWS/ELB", MetricName: "RequestCount", Dimensions: dims, Stat: "Sum", Node: "elb:" + lb + ":requests"},
		}
	}
}

// emfQueries reads the counters a pipeline stage running as this Lambda
// function publishes in EMF: the metric name equals the Prometheus name,
// dimensions are the metric's low-cardinality labels plus function. The
// stage is recognised by the function's name.
func emfQueries(fn string, t config.Topology) []Query {
	q := func(m metricname.Info, node string, dims map[string]string) Query {
		d := map[string]string{metricname.LabelFunction: fn}
		for k, v := range dims {
			d[k] = v
		}
		return Query{Namespace: EMFNamespace, MetricName: m.Name, Dimensions: d, Stat: "Sum", Node: "lambda:" + fn + ":" + node}
	}
	switch {
	case strings.Contains(fn, "collector"):
		return []Query{q(metricname.CollectorEvents, "events", nil)}
	case strings.Contains(fn, "enrich"):
		return []Query{
			q(metricname.EnricherEvents, "events:good", map[string]string{metricname.LabelResult: "good"}),
			q(metricname.EnricherEvents, "events:bad", map[string]string{metricname.LabelResult: "bad"}),
		}
	case strings.Contains(fn, "pseudonym"):
		var qs []Query
		for _, d := range t.DeliveryStreams {
			for _, result := range []string{"ok", "processing_failed"} {
				qs = append(qs, q(metricname.PseudonymizerRecords, "records:"+d.Name+":"+result,
					map[string]string{metricname.LabelStream: d.Name, metricname.LabelResult: result}))
			}
		}
		return qs
	}
	return nil
}
