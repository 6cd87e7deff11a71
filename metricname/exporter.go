package metricname

// Reconciliation metrics: values for the latest settled window of each edge.
var (
	NodeEvents = define(Info{Name: "plowline_node_events", Type: "gauge",
		Help:   "Events counted at a node in the latest settled window (cached; refreshed in the background).",
		Labels: []string{LabelNode, LabelKind, LabelBucketing}})
	EdgeExpectedEvents = define(Info{Name: "plowline_edge_expected_events", Type: "gauge",
		Help:   "Events the downstream side of an edge should have counted in its latest settled window.",
		Labels: []string{LabelEdge, LabelFrom, LabelTo, LabelRelation}})
	EdgeObservedEvents = define(Info{Name: "plowline_edge_observed_events", Type: "gauge",
		Help:   "Events the downstream side of an edge counted in its latest settled window.",
		Labels: []string{LabelEdge, LabelFrom, LabelTo, LabelRelation}})
	EdgeDiscrepancyEvents = define(Info{Name: "plowline_edge_discrepancy_events", Type: "gauge",
		Help:   "Expected minus observed events on an edge in its latest settled window; positive means events lost.",
		Labels: []string{LabelEdge, LabelFrom, LabelTo, LabelRelation}})
	EdgeDiscrepancyRatio = define(Info{Name: "plowline_edge_discrepancy_ratio", Type: "gauge",
		Help:   "Discrepancy on an edge as a fraction of expected events in its latest settled window.",
		Labels: []string{LabelEdge, LabelFrom, LabelTo, LabelRelation}})
	EdgeToleranceRatio = define(Info{Name: "plowline_edge_tolerance_ratio", Type: "gauge",
		Help:   "Configured tolerance of an edge, as a fraction of expected events.",
		Labels: []string{LabelEdge}})
	EdgeOutOfTolerance = define(Info{Name: "plowline_edge_out_of_tolerance", Type: "gauge",
		Help:   "1 if the edge's latest settled window is out of tolerance, else 0.",
		Labels: []string{LabelEdge, LabelFrom, LabelTo}})
	EdgeWindowsOutOfTolerance = define(Info{Name: "plowline_edge_windows_out_of_tolerance", Type: "gauge",
		Help:   "Settled windows within the lookback in which the edge was out of tolerance.",
		Labels: []string{LabelEdge, LabelFrom, LabelTo}})
	EdgeOutOfToleranceSince = define(Info{Name: "plowline_edge_out_of_tolerance_since_timestamp_seconds", Type: "gauge",
		Help:   "Start of the earliest window of the current unbroken run of out-of-tolerance windows; 0 when in tolerance.",
		Labels: []string{LabelEdge}})
	EdgeWindowStart = define(Info{Name: "plowline_edge_window_start_timestamp_seconds", Type: "gauge",
		Help:   "Start of the latest settled window judged for the edge.",
		Labels: []string{LabelEdge}})
	WindowSeconds = define(Info{Name: "plowline_window_seconds", Type: "gauge",
		Help: "Length of the reconciliation windows."})
)

// Canary metrics: one synthetic event sent per interval and followed to each stage.
var (
	CanarySent = define(Info{Name: "plowline_canary_sent_total", Type: "counter",
		Help: "Canary events sent to the collector."})
	CanarySendFailures = define(Info{Name: "plowline_canary_send_failures_total", Type: "counter",
		Help: "Canary events the collector did not accept."})
	CanarySeen = define(Info{Name: "plowline_canary_seen_total", Type: "counter",
		Help: "Canary events found at a stage.", Labels: []string{LabelStage}})
	CanaryLost = define(Info{Name: "plowline_canary_lost_total", Type: "counter",
		Help: "Canary events not found at a stage within its deadline.", Labels: []string{LabelStage}})
	CanaryLatency = define(Info{Name: "plowline_canary_latency_seconds", Type: "gauge",
		Help: "Time from sending the latest found canary event to finding it at a stage.", Labels: []string{LabelStage}})
	// CanaryEventLatency has one observation per canary event found at a
	// stage, so quantiles and means cover every event, not only the latest.
	CanaryEventLatency = define(Info{Name: "plowline_canary_event_latency_seconds", Type: "histogram",
		Help: "Time from sending each canary event to finding it at a stage; one observation per event (S3: the object's write time, warehouse: uploaded_at).", Labels: []string{LabelStage}})
	CanaryLastSeen = define(Info{Name: "plowline_canary_last_seen_timestamp_seconds", Type: "gauge",
		Help: "When a canary event was last found at a stage.", Labels: []string{LabelStage}})
	CanaryLastSent = define(Info{Name: "plowline_canary_last_sent_timestamp_seconds", Type: "gauge",
		Help: "When the latest canary event was sent."})
)

// Source health: each source is refreshed in the background and served from cache.
var (
	SourceUp = define(Info{Name: "plowline_source_up", Type: "gauge",
		Help: "1 if the source's latest refresh succeeded, else 0.", Labels: []string{LabelSource, LabelKind}})
	SourceLastSuccess = define(Info{Name: "plowline_source_last_success_timestamp_seconds", Type: "gauge",
		Help: "When the source last refreshed successfully.", Labels: []string{LabelSource, LabelKind}})
	SourceRefreshDuration = define(Info{Name: "plowline_source_refresh_duration_seconds", Type: "gauge",
		Help: "How long the source's latest refresh took.", Labels: []string{LabelSource, LabelKind}})
	SourceRequests = define(Info{Name: "plowline_source_requests_total", Type: "counter",
		Help: "Requests (API calls or queries) the source made.", Labels: []string{LabelSource, LabelKind}})
	SourceErrors = define(Info{Name: "plowline_source_errors_total", Type: "counter",
		Help: "Refreshes of the source that failed.", Labels: []string{LabelSource, LabelKind}})
	SourceCost = define(Info{Name: "plowline_source_cost_units_total", Type: "counter",
		Help:   "Billable units the source consumed: CloudWatch metrics requested, warehouse queries, S3 bytes read.",
		Labels: []string{LabelSource, LabelKind, LabelUnit}})
)

// Stage gauges the exporter reads from CloudWatch (latest complete period)
// and the warehouse, for alerts that need more than counts.
var (
	KinesisIteratorAge = define(Info{Name: "plowline_kinesis_iterator_age_seconds", Type: "gauge",
		Help: "Maximum GetRecords.IteratorAgeMilliseconds of a Kinesis stream, in seconds.", Labels: []string{LabelStream}})
	KinesisRetention = define(Info{Name: "plowline_kinesis_retention_seconds", Type: "gauge",
		Help: "Configured retention of a Kinesis stream; records older than this are lost.", Labels: []string{LabelStream}})
	KinesisIncomingRecords = define(Info{Name: "plowline_kinesis_incoming_records", Type: "gauge",
		Help: "Kinesis IncomingRecords of a stream in the latest complete period.", Labels: []string{LabelStream}})
	FirehoseIncomingRecords = define(Info{Name: "plowline_firehose_incoming_records", Type: "gauge",
		Help: "Firehose IncomingRecords of a delivery stream in the latest complete period.", Labels: []string{LabelDelivery}})
	FirehoseDeliveredRecords = define(Info{Name: "plowline_firehose_delivered_records", Type: "gauge",
		Help: "Firehose DeliveryToS3.Records of a delivery stream in the latest complete period.", Labels: []string{LabelDelivery}})
	FirehoseDataFreshness = define(Info{Name: "plowline_firehose_data_freshness_seconds", Type: "gauge",
		Help: "Firehose DeliveryToS3.DataFreshness (age of the oldest undelivered record).", Labels: []string{LabelDelivery}})
	LambdaInvocations = define(Info{Name: "plowline_lambda_invocations", Type: "gauge",
		Help: "Lambda Invocations of a function in the latest complete period.", Labels: []string{LabelFunction}})
	LambdaErrors = define(Info{Name: "plowline_lambda_errors", Type: "gauge",
		Help: "Lambda Errors of a function in the latest complete period.", Labels: []string{LabelFunction}})
	LambdaThrottles = define(Info{Name: "plowline_lambda_throttles", Type: "gauge",
		Help: "Lambda Throttles of a function in the latest complete period.", Labels: []string{LabelFunction}})
	WarehouseLatestLoad = define(Info{Name: "plowline_warehouse_latest_upload_timestamp_seconds", Type: "gauge",
		Help: "Latest uploaded_at in a warehouse table: when data last arrived.", Labels: []string{LabelTable}})
	ExporterBuildInfo = define(Info{Name: "plowline_exporter_build_info", Type: "gauge",
		Help: "Constant 1, labelled with the exporter's version.", Labels: []string{"version"}})
)
