package enrichfn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/plowline/plowline/metricname"
)

// emfCounts is what one enrich invocation reports.
type emfCounts struct {
	payloads, good, bad, failedRecords int
	badByType                          map[string]int
	validation, enrichment             []float64 // seconds, one value per payload
	duration                           float64
}

// emfMaxValues is the most values EMF accepts for one metric in one document.
const emfMaxValues = 100

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// emfDoc renders one EMF document: the metrics, under the dimension set
// (function plus extra), with their values as top-level members.
func emfDoc(function string, at time.Time, extra map[string]string, metrics []emfMetric, values map[string]any) ([]byte, error) {
	dims := []string{metricname.LabelFunction}
	doc := map[string]any{metricname.LabelFunction: function}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		dims = append(dims, k)
		doc[k] = extra[k]
	}
	doc["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": "plowline", "Dimensions": [][]string{dims}, "Metrics": metrics,
		}},
	}
	for k, v := range values {
		doc[k] = v
	}
	return json.Marshal(doc)
}

func capValues(v []float64) []float64 {
	if len(v) > emfMaxValues {
		return v[:emfMaxValues]
	}
	if v == nil {
		return []float64{}
	}
	return v
}

// writeEnrichEMF writes the invocation's metrics, named as the Prometheus
// metrics of process mode: totals by function, events by result, bad rows
// by type, and the per-payload latencies.
func writeEnrichEMF(w io.Writer, function string, at time.Time, m emfCounts) error {
	var buf bytes.Buffer
	add := func(b []byte, err error) error {
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
		return nil
	}
	seconds := func(name string) emfMetric { return emfMetric{name, "Seconds"} }
	count := func(name string) emfMetric { return emfMetric{name, "Count"} }
	values := map[string]any{metricname.EnricherPayloads.Name: m.payloads}
	metrics := []emfMetric{count(metricname.EnricherPayloads.Name)}
	if len(m.validation) > 0 {
		metrics = append(metrics, seconds(metricname.EnricherValidationDuration.Name), seconds(metricname.EnricherEnrichmentDuration.Name))
		values[metricname.EnricherValidationDuration.Name] = capValues(m.validation)
		values[metricname.EnricherEnrichmentDuration.Name] = capValues(m.enrichment)
	}
	if err := add(emfDoc(function, at, nil, metrics, values)); err != nil {
		return err
	}
	for _, r := range []struct {
		result string
		n      int
	}{{"good", m.good}, {"bad", m.bad}} {
		if err := add(emfDoc(function, at, map[string]string{metricname.LabelResult: r.result},
			[]emfMetric{count(metricname.EnricherEvents.Name)}, map[string]any{metricname.EnricherEvents.Name: r.n})); err != nil {
			return err
		}
	}
	types := make([]string, 0, len(m.badByType))
	for t := range m.badByType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if err := add(emfDoc(function, at, map[string]string{metricname.LabelType: t},
			[]emfMetric{count(metricname.EnricherBadRows.Name)}, map[string]any{metricname.EnricherBadRows.Name: m.badByType[t]})); err != nil {
			return err
		}
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing EMF: %w", err)
	}
	return nil
}
