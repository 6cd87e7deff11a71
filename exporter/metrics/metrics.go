// Package metrics exposes the exporter's cached state as Prometheus
// metrics. Every value is built at collect time from state the background
// refreshes keep (const metrics), so a scrape never calls a source.
package metrics

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/exporter/canary"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/flow"
	"github.com/plowline/plowline/exporter/refresh"
	"github.com/plowline/plowline/metricname"
)

// View is everything one scrape reports, taken at one instant.
type View struct {
	Config  config.Config
	Sources []refresh.State
	Report  flow.Report
	// Canary is nil when no canary is configured.
	Canary *canary.Status
	// Extra are gauges sources track about themselves (e.g. objects tracked).
	Extra []Gauge
}

// Gauge is a labelled value outside the flow graph.
type Gauge struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Collector is a prometheus.Collector over a View function.
type Collector struct {
	view    func() View
	version string
	descs   map[string]*prometheus.Desc
	help    map[string]metricname.Info
}

// New returns a collector that calls view at every scrape. view must be
// cheap and must not block on sources.
func New(view func() View, version string) *Collector {
	c := &Collector{view: view, version: version, descs: map[string]*prometheus.Desc{}, help: map[string]metricname.Info{}}
	for _, i := range metricname.All() {
		c.help[i.Name] = i
		if len(i.Labels) > 0 || i.Type != "histogram" {
			c.descs[i.Name] = prometheus.NewDesc(i.Name, cachedHelp(i), i.Labels, nil)
		}
	}
	return c
}

// cachedHelp says in HELP that values come from the background refresh.
func cachedHelp(i metricname.Info) string {
	if strings.Contains(i.Help, "cached") {
		return i.Help
	}
	return i.Help + " Served from the exporter's cache, refreshed in the background per source."
}

// Describe sends nothing: the set of series depends on configuration and
// on what sources report, so the collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect builds every metric from the current view.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	v := c.view()
	emit := func(info metricname.Info, value float64, labels ...string) {
		d := c.descs[info.Name]
		t := prometheus.GaugeValue
		if info.Type == "counter" {
			t = prometheus.CounterValue
		}
		m, err := prometheus.NewConstMetric(d, t, value, labels...)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(d, err)
			return
		}
		ch <- m
	}
	emit(metricname.ExporterBuildInfo, 1, c.version)
	emit(metricname.WindowSeconds, v.Config.Window.Seconds())
	// Retention is configuration, not a CloudWatch metric: alerts compare
	// iterator age with it.
	for _, st := range v.Config.Topology.Streams {
		if st.RetentionHours > 0 {
			emit(metricname.KinesisRetention, st.RetentionHours*3600, st.Name)
		}
	}

	for _, s := range v.Sources {
		emit(metricname.SourceUp, b2f(s.Up), s.Name, s.Kind)
		if !s.LastSuccess.IsZero() {
			emit(metricname.SourceLastSuccess, unix(s.LastSuccess), s.Name, s.Kind)
		}
		if !s.LastAttempt.IsZero() {
			emit(metricname.SourceRefreshDuration, s.Duration.Seconds(), s.Name, s.Kind)
		}
		emit(metricname.SourceErrors, float64(s.Errors), s.Name, s.Kind)
		if s.Usage != nil {
			emit(metricname.SourceRequests, float64(s.Usage.Requests.Load()), s.Name, s.Kind)
			costs := s.Usage.Costs()
			units := make([]string, 0, len(costs))
			for u := range costs {
				units = append(units, u)
			}
			sort.Strings(units)
			for _, u := range units {
				emit(metricname.SourceCost, float64(costs[u]), s.Name, s.Kind, u)
			}
		}
		for _, g := range s.Result.Gauges {
			c.emitGauge(ch, g.Name, g.Labels, g.Value)
		}
	}
	for _, g := range v.Extra {
		c.emitGauge(ch, g.Name, g.Labels, g.Value)
	}

	c.collectFlow(v, emit)

	if k := v.Canary; k != nil {
		emit(metricname.CanarySent, float64(k.Sent))
		emit(metricname.CanarySendFailures, float64(k.SendFailures))
		if !k.LastSent.IsZero() {
			emit(metricname.CanaryLastSent, unix(k.LastSent))
		}
		for _, st := range k.Stages {
			emit(metricname.CanarySeen, float64(st.Seen), st.Stage)
			emit(metricname.CanaryLost, float64(st.Lost), st.Stage)
			if !st.LastSeen.IsZero() {
				emit(metricname.CanaryLatency, st.Latency.Seconds(), st.Stage)
				emit(metricname.CanaryLastSeen, unix(st.LastSeen), st.Stage)
			}
			c.emitHistogram(ch, metricname.CanaryEventLatency, st.Latencies, st.Stage)
		}
	}
}

func (c *Collector) collectFlow(v View, emit func(metricname.Info, float64, ...string)) {
	r := v.Report
	// A node's reported window is the latest one settled for every edge
	// touching it, so its value lines up with those edges' gauges.
	budget := map[string]time.Duration{}
	for _, e := range v.Config.Edges {
		for _, n := range e.Nodes() {
			budget[n] = max(budget[n], e.LatencyBudget)
		}
	}
	for _, n := range r.Nodes {
		if n.AsOf.IsZero() {
			continue
		}
		for i := len(r.Windows) - 1; i >= 0; i-- {
			w := r.Windows[i]
			if !flow.Settled(w, r.Window, budget[n.Name], r.Now) || !flow.Settled(w, r.Window, budget[n.Name], n.AsOf) {
				continue
			}
			if val, ok := n.Counts[w]; ok {
				emit(metricname.NodeEvents, val, n.Name, n.Kind, string(n.Bucketing))
				emit(metricname.NodeWindowStart, unix(w), n.Name)
			}
			break
		}
	}
	for _, er := range r.Edges {
		e := er.Edge
		from, to := e.FromLabel(), e.ToLabel()
		emit(metricname.EdgeToleranceRatio, e.Tolerance.Ratio, e.Name)
		emit(metricname.EdgeToleranceEvents, e.Tolerance.Events, e.Name)
		emit(metricname.EdgeLatencyBudget, e.LatencyBudget.Seconds(), e.Name)
		emit(metricname.EdgeWindowsOutOfTolerance, float64(er.OutOfTolerance), e.Name, from, to)
		judged := 0
		for _, j := range er.Windows {
			if j.Status == flow.OK || j.Status == flow.Out {
				judged++
			}
		}
		emit(metricname.EdgeWindowsJudged, float64(judged), e.Name)
		since := 0.0
		if !er.Since.IsZero() {
			since = unix(er.Since)
		}
		emit(metricname.EdgeOutOfToleranceSince, since, e.Name)
		j := er.Latest
		if j == nil {
			continue
		}
		emit(metricname.EdgeExpectedEvents, j.Expected, e.Name, from, to, e.Relation)
		emit(metricname.EdgeObservedEvents, j.Observed, e.Name, from, to, e.Relation)
		emit(metricname.EdgeDiscrepancyEvents, j.Discrepancy, e.Name, from, to, e.Relation)
		emit(metricname.EdgeDiscrepancyRatio, j.Ratio, e.Name, from, to, e.Relation)
		emit(metricname.EdgeOutOfTolerance, b2f(j.Status == flow.Out), e.Name, from, to)
		emit(metricname.EdgeWindowStart, unix(j.Window), e.Name)
	}
}

// emitHistogram exposes a canary latency histogram (every bucket, even
// before the first observation, so rate() over it starts at zero).
func (c *Collector) emitHistogram(ch chan<- prometheus.Metric, info metricname.Info, h canary.Histogram, labels ...string) {
	d := c.descs[info.Name]
	m, err := prometheus.NewConstHistogram(d, h.Count, h.Sum, h.Cumulative(), labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}

// emitGauge exposes a gauge a source reported, under its metricname
// definition's HELP; unknown names are refused rather than invented.
func (c *Collector) emitGauge(ch chan<- prometheus.Metric, name string, labels map[string]string, value float64) {
	info, ok := c.help[name]
	if !ok {
		ch <- prometheus.NewInvalidMetric(prometheus.NewDesc(name, "undefined", nil, nil),
			errUndefined(name))
		return
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = labels[k]
	}
	d := prometheus.NewDesc(name, cachedHelp(info), keys, nil)
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, value, vals...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}

type errUndefined string

func (e errUndefined) Error() string {
	return "metric " + strconv.Quote(string(e)) + " is not defined in package metricname"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
