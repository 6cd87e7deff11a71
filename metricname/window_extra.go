package metricname

// LabelWindowStart is the Unix second a counting window starts at.
const LabelWindowStart = "window_start"

// Event-time counts of the local pipeline (plowline run), served at
// /metrics/windows for the exporter: each counting point's records per
// window of their event time, so every node of the local flow graph counts
// on one time basis and a record late at one stage is still counted in the
// window it belongs to.
var (
	WindowRecords = define(Info{Name: "plowline_window_records_total", Type: "counter",
		Help:   "Records counted at a node of the local flow graph, by the window of their event time (collector_tstamp of an event, failure timestamp of a bad row); a window's series is dropped plowline_window_retention_seconds after the window starts.",
		Labels: []string{LabelNode, LabelWindowStart}})
	WindowLength = define(Info{Name: "plowline_window_length_seconds", Type: "gauge",
		Help: "Length of the windows plowline_window_records_total counts in."})
	WindowRetention = define(Info{Name: "plowline_window_retention_seconds", Type: "gauge",
		Help: "How long after its start a window's plowline_window_records_total series is kept; counts for older windows go to plowline_window_late_records_total."})
	WindowLateRecords = define(Info{Name: "plowline_window_late_records_total", Type: "counter",
		Help:   "Records that arrived at a node after their window was dropped (older than the retention): counted nowhere else, so the exporter sees them as lost.",
		Labels: []string{LabelNode}})
)

// Values of the node label of plowline_window_records_total: the counting
// points of plowline run, named as the nodes of the exporter's local flow
// graph (config.Local) that read them.
const (
	WindowNodeCollector        = "collector"         // events acknowledged, by collector time
	WindowNodeCollectorBad     = "collector:bad"     // collector bad rows (size violations), by failure time = collector time
	WindowNodeEnricherGood     = "enricher:good"     // enriched events, by collector_tstamp
	WindowNodeEnricherBad      = "enricher:bad"      // enricher bad rows, by the collector time of their payload
	WindowNodeEnricherBadRows  = "enricher:bad-rows" // the same bad rows, by their failure timestamp
	WindowNodePseudonymizerPre = "pseudonymizer:"    // + stream (enriched-good, enriched-bad, raw-bad) + ":ok" or ":failed"
	WindowNodeLakePre          = "lake:"             // + prefix (output/, enriched-bad/, raw-bad/): records in objects put
)
