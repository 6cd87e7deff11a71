package metricname

// Collector metrics beyond the shared set in pipeline.go.
var (
	CollectorPanics = define(Info{Name: "plowline_collector_panics_total", Type: "counter",
		Help: "Requests that hit a bug (a recovered panic) and were answered 500; should stay 0."})
	CollectorDoNotTrack = define(Info{Name: "plowline_collector_do_not_track_requests_total", Type: "counter",
		Help: "Requests answered but not recorded because they carried the do-not-track cookie."})
	CollectorBodyBudgetRefusals = define(Info{Name: "plowline_collector_body_budget_refusals_total", Type: "counter",
		Help: "POST requests answered 503 because the bytes of bodies in flight were at limits.max_inflight_body_bytes for longer than the sink timeout."})
)

// Background writes of buffered sinks (Kinesis): the PutRecords rounds that
// move acknowledged records from the collector's buffer into the stream.
var (
	CollectorFlushDuration = define(Info{Name: "plowline_collector_sink_flush_duration_seconds", Type: "histogram",
		Help: "Time one background flush of a buffered sink took (PutRecords with retries).", Labels: []string{LabelSink}})
	CollectorFlushedRecords = define(Info{Name: "plowline_collector_sink_flushed_records_total", Type: "counter",
		Help: "Records a buffered sink wrote to its stream in the background.", Labels: []string{LabelSink}})
	CollectorFlushFailedRecords = define(Info{Name: "plowline_collector_sink_flush_failed_records_total", Type: "counter",
		Help: "Records a background flush could not write (kept in the buffer and retried).", Labels: []string{LabelSink}})
)
