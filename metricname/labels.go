package metricname

// Label names shared across metrics.
const (
	LabelNode      = "node"      // a counting point in the flow graph
	LabelEdge      = "edge"      // a pair of nodes that should agree
	LabelFrom      = "from"      // upstream node of an edge
	LabelTo        = "to"        // downstream node of an edge
	LabelRelation  = "relation"  // eq, ge, or split (in = good + bad)
	LabelBucketing = "bucketing" // event_time or arrival_time
	LabelKind      = "kind"      // source kind: prometheus, metrics, cloudwatch, s3, warehouse
	LabelSource    = "source"    // a configured source's name
	LabelStage     = "stage"     // canary stage reached
	LabelUnit      = "unit"      // what a cost counter counts
	LabelStream    = "stream"
	LabelDelivery  = "delivery_stream"
	LabelFunction  = "function"
	LabelTable     = "table"
	LabelType      = "type"   // bad-row type
	LabelRoute     = "route"  // collector route: tp2, pixel, vendor, custom, ...
	LabelCode      = "code"   // HTTP status code
	LabelSink      = "sink"   // good or bad
	LabelResult    = "result" // ok / processing_failed, good / bad, ...
	LabelPrefix    = "prefix" // object-store prefix
)
