package metricname

// Further exporter metrics: what on-call needs to read the reconciliation
// gauges without opening the configuration.
var (
	NodeWindowStart = define(Info{Name: "plowline_node_window_start_timestamp_seconds", Type: "gauge",
		Help:   "Start of the window plowline_node_events reports for a node: the latest window settled for every edge touching it.",
		Labels: []string{LabelNode}})
	EdgeToleranceEvents = define(Info{Name: "plowline_edge_tolerance_events", Type: "gauge",
		Help:   "Configured absolute tolerance of an edge, in events; the allowed discrepancy is the larger of this and ratio × expected.",
		Labels: []string{LabelEdge}})
	EdgeLatencyBudget = define(Info{Name: "plowline_edge_latency_budget_seconds", Type: "gauge",
		Help:   "How long after a window ends an edge waits before judging it.",
		Labels: []string{LabelEdge}})
	EdgeWindowsJudged = define(Info{Name: "plowline_edge_windows_judged", Type: "gauge",
		Help:   "Settled windows within the lookback for which both sides of the edge had counts.",
		Labels: []string{LabelEdge}})
	S3ObjectsTracked = define(Info{Name: "plowline_s3_objects_tracked", Type: "gauge",
		Help:   "Objects an s3 source remembers having read (each is read once, across restarts).",
		Labels: []string{LabelSource}})
)
