package local

import (
	"time"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/lake"
	"github.com/plowline/plowline/pipeline/payload"
)

// Counting points of the event-time counts (package windowcount), named
// as the exporter's local flow graph reads them.
const (
	CountCollectorGood   = metricname.WindowNodeCollector
	CountCollectorBad    = metricname.WindowNodeCollectorBad
	CountEnricherGood    = metricname.WindowNodeEnricherGood
	CountEnricherBad     = metricname.WindowNodeEnricherBad
	CountEnricherBadRows = metricname.WindowNodeEnricherBadRows
)

// CountPseudonymizer names the pseudonymizer's counting point for a
// stream (short name: enriched-good, enriched-bad, raw-bad).
func CountPseudonymizer(short string, ok bool) string {
	if ok {
		return metricname.WindowNodePseudonymizerPre + short + ":ok"
	}
	return metricname.WindowNodePseudonymizerPre + short + ":failed"
}

// CountLake names the batch writer's counting point for a prefix.
func CountLake(prefix string) string { return metricname.WindowNodeLakePre + prefix }

// CountNodes lists every counting point of the local pipeline.
func CountNodes() []string {
	out := []string{CountCollectorGood, CountCollectorBad, CountEnricherGood, CountEnricherBad, CountEnricherBadRows}
	for _, s := range []string{StreamEnrichedGood, StreamEnrichedBad, StreamRawBad} {
		out = append(out, CountPseudonymizer(shortName(s), true), CountPseudonymizer(shortName(s), false))
	}
	for _, pre := range []string{lake.PrefixOutput, lake.PrefixEnrichedBad, lake.PrefixRawBad} {
		out = append(out, CountLake(pre))
	}
	return out
}

// countEnriched counts one payload's enricher output: good events by their
// collector_tstamp, bad rows both by the collector time of the payload
// (what the collector counted them under) and by their own failure
// timestamp (what the object store and warehouse count them under).
func (p *Pipeline) countEnriched(raw []byte, good, bad [][]byte) {
	p.win.AddRecords(CountEnricherGood, good)
	if len(bad) == 0 {
		return
	}
	p.win.AddRecords(CountEnricherBadRows, bad)
	at := time.Now()
	if cp, err := payload.Unmarshal(raw); err == nil && cp.Timestamp > 0 {
		at = time.UnixMilli(cp.Timestamp)
	}
	p.win.Add(CountEnricherBad, at, len(bad))
}
