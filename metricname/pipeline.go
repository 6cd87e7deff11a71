package metricname

// Collector metrics (process mode on /metrics; Lambda mode as EMF).
var (
	CollectorRequests = define(Info{Name: "plowline_collector_requests_total", Type: "counter",
		Help: "HTTP requests by route and status code.", Labels: []string{LabelRoute, LabelCode}})
	CollectorPayloads = define(Info{Name: "plowline_collector_payloads_total", Type: "counter",
		Help: "Collector payloads written, by sink (good or bad).", Labels: []string{LabelSink}})
	CollectorEvents = define(Info{Name: "plowline_collector_events_total", Type: "counter",
		Help: "Events in payloads acknowledged to trackers (written or safely buffered)."})
	CollectorBadRows = define(Info{Name: "plowline_collector_bad_rows_total", Type: "counter",
		Help: "Bad rows the collector emitted, by bad-row type.", Labels: []string{LabelType}})
	CollectorReceivedBytes = define(Info{Name: "plowline_collector_received_bytes_total", Type: "counter",
		Help: "Request body bytes received."})
	CollectorSinkLatency = define(Info{Name: "plowline_collector_sink_write_duration_seconds", Type: "histogram",
		Help: "Time to write a batch to a sink.", Labels: []string{LabelSink}})
	CollectorBufferBytes = define(Info{Name: "plowline_collector_buffer_bytes", Type: "gauge",
		Help: "Bytes acknowledged but not yet written to a sink.", Labels: []string{LabelSink}})
	CollectorBufferLimitBytes = define(Info{Name: "plowline_collector_buffer_limit_bytes", Type: "gauge",
		Help: "Capacity of the sink buffer; when full the collector answers 503.", Labels: []string{LabelSink}})
	CollectorSinkFailures = define(Info{Name: "plowline_collector_sink_failures_total", Type: "counter",
		Help: "Failed sink writes (after retries).", Labels: []string{LabelSink}})
	CollectorSinkHealthy = define(Info{Name: "plowline_collector_sink_healthy", Type: "gauge",
		Help: "1 if the sink accepts writes, else 0.", Labels: []string{LabelSink}})
)

// Enricher metrics.
var (
	EnricherPayloads = define(Info{Name: "plowline_enricher_payloads_total", Type: "counter",
		Help: "Collector payloads read."})
	EnricherEvents = define(Info{Name: "plowline_enricher_events_total", Type: "counter",
		Help: "Events out, by result (good or bad).", Labels: []string{LabelResult}})
	EnricherBadRows = define(Info{Name: "plowline_enricher_bad_rows_total", Type: "counter",
		Help: "Bad rows the enricher emitted, by bad-row type.", Labels: []string{LabelType}})
	EnricherValidationDuration = define(Info{Name: "plowline_enricher_validation_duration_seconds", Type: "histogram",
		Help: "Time to validate one event's self-describing JSON against its schemas."})
	EnricherEnrichmentDuration = define(Info{Name: "plowline_enricher_enrichment_duration_seconds", Type: "histogram",
		Help: "Time to enrich one event (all enrichments)."})
)

// Pseudonymizer metrics.
var (
	PseudonymizerRecords = define(Info{Name: "plowline_pseudonymizer_records_total", Type: "counter",
		Help: "Records transformed, by delivery stream and result (ok or processing_failed).", Labels: []string{LabelStream, LabelResult}})
)

// Local lake and warehouse (plowline run).
var (
	LakeObjectsWritten = define(Info{Name: "plowline_lake_objects_written_total", Type: "counter",
		Help: "Objects the batch writer put to the object store, by prefix.", Labels: []string{LabelPrefix}})
	LakeRecordsWritten = define(Info{Name: "plowline_lake_records_written_total", Type: "counter",
		Help: "Records the batch writer put to the object store, by prefix.", Labels: []string{LabelPrefix}})
	WarehouseRowsLoaded = define(Info{Name: "plowline_warehouse_rows_loaded_total", Type: "counter",
		Help: "Rows the loader inserted, by table.", Labels: []string{LabelTable}})
	WarehouseObjectsLoaded = define(Info{Name: "plowline_warehouse_objects_loaded_total", Type: "counter",
		Help: "Objects the loader loaded, by table.", Labels: []string{LabelTable}})
)

// The GitLab application's tracker counters (exposed by GitLab, queried by
// plowline's dashboards, alerts and the exporter's trackers source).
var (
	GitLabSnowplowEvents = define(Info{Name: "gitlab_snowplow_events_total", Type: "counter", External: true,
		Help: "Snowplow events the GitLab application emitted."})
	GitLabSnowplowSuccessfulEvents = define(Info{Name: "gitlab_snowplow_successful_events_total", Type: "counter", External: true,
		Help: "Snowplow events the GitLab application's tracker delivered to the collector."})
	GitLabSnowplowFailedEvents = define(Info{Name: "gitlab_snowplow_failed_events_total", Type: "counter", External: true,
		Help: "Snowplow events the GitLab application's tracker failed to deliver."})
)
