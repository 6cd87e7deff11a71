package metricname

// Collector metrics beyond the shared set in pipeline.go.
var (
	CollectorPanics = define(Info{Name: "plowline_collector_panics_total", Type: "counter",
		Help: "Requests that hit a bug (a recovered panic) and were answered 500; should stay 0."})
	CollectorDoNotTrack = define(Info{Name: "plowline_collector_do_not_track_requests_total", Type: "counter",
		Help: "Requests answered but not recorded because they carried the do-not-track cookie."})
)
