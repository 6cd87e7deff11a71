// Package cloudwatch is the exporter's CloudWatch source: it reads AWS
// metrics (Kinesis, Firehose, Lambda, ELB) and the pipeline's own EMF
// counters with GetMetricData, sums them into the exporter's aligned
// windows for flow-graph nodes, and reports the latest settled value of
// lag metrics as gauges.
//
// # Calls
//
// A refresh makes one GetMetricData call for up to 500 queries (more calls
// only beyond 500), asking for [range start, now−delay) at the configured
// period (default 60 s), start and end aligned to the period. It follows
// NextToken until CloudWatch has returned everything (a page holds at most
// max_datapoints, 100,800 by default: 37 queries × 24 h of 1-minute periods
// is 53,280, one page). Throttling (Throttling, LimitExceeded…, HTTP 429)
// and transient failures (5xx, connection errors) are retried with
// exponential backoff and jitter, never past the refresh deadline and at
// most max_attempts times; then the refresh fails with an error that says
// so. Rejected credentials fail at once with an error naming the AWS error
// code and what to check. The SDK's own retries are off so every attempt
// is counted: Usage().Requests counts every call (throttled ones too), and
// the "metrics_requested" cost counts the queries of every successful call
// — one per metric per call, which is how AWS bills GetMetricData.
//
// The source caches nothing and is driven only by the exporter's refresh
// schedule: scrapes of /metrics read the last Result and never reach
// CloudWatch, so GetMetricData calls per hour = refreshes per hour
// (× pages, × ⌈queries/500⌉), whatever the scrape frequency.
//
// # No false zeroes
//
// A window is reported only when every period of it is settled (ends
// before now−delay, default 5 min, because CloudWatch sums keep growing
// for a few minutes) and CloudWatch answered the query completely over it.
// An answer left PartialData without a further page is known only from its
// oldest returned datapoint on (datapoints are requested newest first);
// an answer with status Forbidden or InternalError, or a malformed one, is
// known nowhere. Unknown windows are omitted from Series.Counts — the node
// is still listed, with fewer windows — so the reconciler sees "unknown",
// never 0. Inside a complete, settled answer a period without a datapoint
// counts as zero, because AWS publishes no datapoint for a period without
// activity (Lambda Errors, a quiet bad stream); a query with
// `missing: unknown` omits such windows instead. Windows older than
// CloudWatch keeps data at the period (15 days for 1-minute periods) would
// come back empty and complete, so they are never reported.
//
// # Nodes (QueriesForTopology)
//
// All nodes are bucketed by arrival time (when the AWS service counted the
// record), and feed per-window sums of the Sum statistic:
//
//	kinesis:<stream>                           AWS/Kinesis IncomingRecords
//	firehose:<delivery stream>:incoming        AWS/Firehose IncomingRecords
//	firehose:<delivery stream>:delivered       AWS/Firehose DeliveryToS3.Records
//	lambda:<function>:invocations              AWS/Lambda Invocations
//	lambda:<function>:errors                   AWS/Lambda Errors
//	lambda:<function>:throttles                AWS/Lambda Throttles
//	elb:<load balancer>:requests               AWS/ApplicationELB (app/…) or AWS/ELB RequestCount
//	elb:<load balancer>:connections            AWS/ApplicationELB NewConnectionCount
//	elb:<load balancer>:flows                  AWS/NetworkELB (net/…) NewFlowCount
//
// and, for the stages running as Lambda functions (recognised by the
// function name containing collector, enrich or pseudonym), their EMF
// counters in namespace "plowline", dimensions = the metric's labels plus
// function:
//
//	lambda:<collector fn>:events               plowline_collector_events_total {function}
//	lambda:<enricher fn>:events:good           plowline_enricher_events_total {function, result=good}
//	lambda:<enricher fn>:events:bad            plowline_enricher_events_total {function, result=bad}
//	lambda:<pseudonymizer fn>:records:<ds>:ok  plowline_pseudonymizer_records_total {function, stream=<ds>, result=ok}
//	lambda:<pseudonymizer fn>:records:<ds>:processing_failed   (same, result=processing_failed)
//
// For GitLab's topology (config.GitLabTopology) the nodes are for example
// kinesis:snowplow-raw-good, firehose:snowplow-enriched-good:incoming,
// firehose:snowplow-enriched-good:delivered,
// lambda:snowplow-enricher:events:good and
// elb:app/snowplow-collector/0123456789abcdef:requests.
//
// Gauges (latest settled period; for Maximum the newest datapoint at most
// gauge_max_age old): plowline_kinesis_iterator_age_seconds (Maximum of
// GetRecords.IteratorAgeMilliseconds × 0.001), plowline_kinesis_incoming_records,
// plowline_firehose_incoming_records, plowline_firehose_delivered_records,
// plowline_firehose_data_freshness_seconds, plowline_lambda_invocations,
// plowline_lambda_errors, plowline_lambda_throttles.
//
// # What it costs
//
// The default GitLab configuration has 37 queries: 4 Kinesis streams × 2
// (IncomingRecords, IteratorAge) = 8; 3 delivery streams × 3
// (IncomingRecords, DeliveryToS3.Records, DeliveryToS3.DataFreshness) = 9;
// 3 functions × 3 (Invocations, Errors, Throttles) = 9; 1 ALB × 2
// (RequestCount, NewConnectionCount) = 2; EMF: collector 1, enricher 2,
// pseudonymizer 3 delivery streams × 2 results = 6 — 8+9+9+2+1+2+6 = 37.
//
// Refreshed every 5 minutes (the default interval) that is 12 calls and
// 12 × 37 = 444 metrics billed per hour (≈ $0.0044/h, $3.24/month at
// $0.01 per 1,000 metrics), however often Prometheus scrapes.
//
// A scrape-synchronous exporter (cloudwatch_exporter's model: every scrape
// requests every metric) scraped every minute bills 60 × 37 = 2,220
// metrics per hour: 5× more. The ratio is interval ÷ scrape interval and
// does not depend on the number of queries; it grows to 10× when an HA
// pair of Prometheus servers scrapes (each scrape hits CloudWatch), and to
// 20× at 15-second scrapes. TestCallsPerHourIndependentOfScrapes measures
// these numbers on the wire-level double.
package cloudwatch
