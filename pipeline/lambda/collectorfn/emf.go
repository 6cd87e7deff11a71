package collectorfn

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/plowline/plowline/metricname"
)

// collectorEMFGroup is one EMF document: metrics sharing one set of
// dimension values.
type collectorEMFGroup struct {
	labels  []*dto.LabelPair
	names   []string
	units   []string
	values  []float64
	orderBy string
}

// emitEMF writes, as CloudWatch Embedded Metric Format lines, how much each
// of the collector's counters grew during the invocation (its Prometheus
// name is the EMF metric name; its labels, all low-cardinality, plus
// "function" are the dimensions), and the mean sink write time.
func (h *CollectorHandler) emitEMF() {
	if h.EMF == nil || h.Metrics == nil {
		return
	}
	mfs, err := h.Metrics.Gather()
	if err != nil && h.Log != nil {
		h.Log.Warn("gathering metrics for EMF", "error", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.prev == nil {
		h.prev = map[string]float64{}
	}
	groups := map[string]*collectorEMFGroup{}
	add := func(labels []*dto.LabelPair, name, unit string, v float64) {
		var key strings.Builder
		for _, l := range labels {
			key.WriteString(l.GetName() + "=" + l.GetValue() + ",")
		}
		g := groups[key.String()]
		if g == nil {
			g = &collectorEMFGroup{labels: labels, orderBy: key.String()}
			groups[key.String()] = g
		}
		g.names = append(g.names, name)
		g.units = append(g.units, unit)
		g.values = append(g.values, v)
	}
	delta := func(key string, v float64) float64 {
		d := v - h.prev[key]
		h.prev[key] = v
		return d
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, metricname.Namespace+"_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var key strings.Builder
			key.WriteString(name)
			for _, l := range m.GetLabel() {
				key.WriteString("|" + l.GetName() + "=" + l.GetValue())
			}
			switch {
			case m.Counter != nil:
				if d := delta(key.String(), m.Counter.GetValue()); d > 0 {
					unit := "Count"
					if strings.HasSuffix(name, "_bytes_total") {
						unit = "Bytes"
					}
					add(m.GetLabel(), name, unit, d)
				}
			case m.Histogram != nil:
				dc := delta(key.String()+"#count", float64(m.Histogram.GetSampleCount()))
				ds := delta(key.String()+"#sum", m.Histogram.GetSampleSum())
				if dc > 0 {
					add(m.GetLabel(), name, "Seconds", ds/dc)
				}
			}
		}
	}
	order := make([]*collectorEMFGroup, 0, len(groups))
	for _, g := range groups {
		order = append(order, g)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].orderBy < order[j].orderBy })
	var buf bytes.Buffer
	now := time.Now().UnixMilli()
	for _, g := range order {
		dims := []string{metricname.LabelFunction}
		doc := map[string]any{metricname.LabelFunction: h.Function}
		for _, l := range g.labels {
			dims = append(dims, l.GetName())
			doc[l.GetName()] = l.GetValue()
		}
		metrics := make([]map[string]string, len(g.names))
		for i, n := range g.names {
			metrics[i] = map[string]string{"Name": n, "Unit": g.units[i]}
			doc[n] = g.values[i]
		}
		doc["_aws"] = map[string]any{
			"Timestamp": now,
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace": metricname.Namespace, "Dimensions": [][]string{dims}, "Metrics": metrics,
			}},
		}
		line, err := json.Marshal(doc)
		if err != nil {
			continue
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if buf.Len() > 0 {
		if _, err := h.EMF.Write(buf.Bytes()); err != nil && h.Log != nil {
			h.Log.Warn("writing EMF", "error", err)
		}
	}
}
