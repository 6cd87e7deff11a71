package metricname

// The Snowplow Micro-compatible API's in-memory store (plowline micro,
// plowline run --micro). LabelResult is good or bad.
var (
	MicroEvents = define(Info{Name: "plowline_micro_events", Type: "gauge",
		Help: "Events the Micro API holds in memory (what /micro/all counts), good or bad.", Labels: []string{LabelResult}})
	MicroEventsDropped = define(Info{Name: "plowline_micro_events_dropped_total", Type: "counter",
		Help: "Events the Micro API dropped, oldest first, because it already held its maximum (--micro.max-events), good or bad.", Labels: []string{LabelResult}})
)
