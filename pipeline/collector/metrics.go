package collector

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/metricname"
)

// Route labels. They name the endpoint, never the request path, so a
// client cannot create label values.
const (
	routeTP2        = "tp2"         // POST /com.snowplowanalytics.snowplow/tp2
	routePixel      = "pixel"       // GET /i, /ice.png
	routeVendorGet  = "vendor_get"  // GET /{vendor}/{version}
	routeVendorPost = "vendor_post" // POST /{vendor}/{version} other than tp2
	routeCustom     = "custom"      // a configured custom path
	routeRedirect   = "redirect"    // GET /r/tp2
	routeOptions    = "options"     // CORS preflight
	routeHealth     = "health"
	routeSinkHealth = "sink_health"
	routeRobots     = "robots"
	routeOther      = "other" // anything else (404)
)

// Sink labels.
const (
	sinkGood = "good"
	sinkBad  = "bad"
)

type metrics struct {
	requests     *prometheus.CounterVec
	payloads     *prometheus.CounterVec
	events       prometheus.Counter
	badRows      *prometheus.CounterVec
	bytes        prometheus.Counter
	latency      *prometheus.HistogramVec
	sinkFailures *prometheus.CounterVec
	panics       prometheus.Counter
	// bodiesRefused counts POSTs refused for want of in-flight body budget.
	bodiesRefused prometheus.Counter

	// hot holds pre-bound children for the common (route, code) pairs, so
	// the request path does not hash label values.
	hot map[string]map[int]prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricname.CollectorRequests.Name, Help: metricname.CollectorRequests.Help,
		}, []string{metricname.LabelRoute, metricname.LabelCode}),
		payloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricname.CollectorPayloads.Name, Help: metricname.CollectorPayloads.Help,
		}, []string{metricname.LabelSink}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricname.CollectorEvents.Name, Help: metricname.CollectorEvents.Help,
		}),
		badRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricname.CollectorBadRows.Name, Help: metricname.CollectorBadRows.Help,
		}, []string{metricname.LabelType}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricname.CollectorReceivedBytes.Name, Help: metricname.CollectorReceivedBytes.Help,
		}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricname.CollectorSinkLatency.Name, Help: metricname.CollectorSinkLatency.Help,
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{metricname.LabelSink}),
		sinkFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricname.CollectorSinkFailures.Name, Help: metricname.CollectorSinkFailures.Help,
		}, []string{metricname.LabelSink}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricname.CollectorPanics.Name, Help: metricname.CollectorPanics.Help,
		}),
		bodiesRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricname.CollectorBodyBudgetRefusals.Name, Help: metricname.CollectorBodyBudgetRefusals.Help,
		}),
		hot: map[string]map[int]prometheus.Counter{},
	}
	for _, r := range []string{routeTP2, routePixel, routeVendorGet, routeVendorPost, routeCustom, routeOptions} {
		m.hot[r] = map[int]prometheus.Counter{}
		for _, code := range []int{200, 503} {
			m.hot[r][code] = m.requests.WithLabelValues(r, strconv.Itoa(code))
		}
	}
	// Make the series exist from the start, so rate() and absent() work
	// before the first failure.
	for _, s := range []string{sinkGood, sinkBad} {
		m.payloads.WithLabelValues(s)
		m.sinkFailures.WithLabelValues(s)
		m.latency.WithLabelValues(s)
	}
	m.badRows.WithLabelValues("size_violation")
	return m
}

func (m *metrics) request(route string, code int) {
	if c, ok := m.hot[route][code]; ok {
		c.Inc()
		return
	}
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

func (m *metrics) register(reg prometheus.Registerer, sinks *sinkCollector) error {
	for _, c := range []prometheus.Collector{m.requests, m.payloads, m.events, m.badRows, m.bytes,
		m.latency, m.sinkFailures, m.panics, m.bodiesRefused, sinks} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// sinkCollector reports the sinks' health and buffer fill at scrape time.
type sinkCollector struct {
	sinks                    []*sinkRef
	healthy, buffered, limit *prometheus.Desc
}

func newSinkCollector(sinks ...*sinkRef) *sinkCollector {
	l := []string{metricname.LabelSink}
	return &sinkCollector{
		sinks:    sinks,
		healthy:  prometheus.NewDesc(metricname.CollectorSinkHealthy.Name, metricname.CollectorSinkHealthy.Help, l, nil),
		buffered: prometheus.NewDesc(metricname.CollectorBufferBytes.Name, metricname.CollectorBufferBytes.Help, l, nil),
		limit:    prometheus.NewDesc(metricname.CollectorBufferLimitBytes.Name, metricname.CollectorBufferLimitBytes.Help, l, nil),
	}
}

func (s *sinkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.healthy
	ch <- s.buffered
	ch <- s.limit
}

func (s *sinkCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range s.sinks {
		v := 1.0
		if r.healthy() != nil {
			v = 0
		}
		ch <- prometheus.MustNewConstMetric(s.healthy, prometheus.GaugeValue, v, r.label)
		if h, ok := r.sink.(interface{ Buffered() (int64, int64) }); ok {
			used, limit := h.Buffered()
			ch <- prometheus.MustNewConstMetric(s.buffered, prometheus.GaugeValue, float64(used), r.label)
			ch <- prometheus.MustNewConstMetric(s.limit, prometheus.GaugeValue, float64(limit), r.label)
		}
	}
}
