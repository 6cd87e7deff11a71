package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/stream"
)

// FlushMetrics reports the background writes of buffered sinks: for the
// Kinesis sink, a 200 means "in the buffer", and these say how the buffer
// reaches the stream. Pass Observer(label) as KinesisSinkOptions.OnFlush;
// the sinks exist before the collector, hence a separate type.
type FlushMetrics struct {
	duration       *prometheus.HistogramVec
	records, fails *prometheus.CounterVec
}

// NewFlushMetrics registers the flush metrics with reg (nil: unregistered).
func NewFlushMetrics(reg prometheus.Registerer) (*FlushMetrics, error) {
	l := []string{metricname.LabelSink}
	f := &FlushMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricname.CollectorFlushDuration.Name, Help: metricname.CollectorFlushDuration.Help,
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, l),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricname.CollectorFlushedRecords.Name, Help: metricname.CollectorFlushedRecords.Help}, l),
		fails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricname.CollectorFlushFailedRecords.Name, Help: metricname.CollectorFlushFailedRecords.Help}, l),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{f.duration, f.records, f.fails} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// Observer returns the OnFlush callback for the sink labelled sink
// ("good" or "bad"). It does not block.
func (f *FlushMetrics) Observer(sink string) func(stream.FlushResult) {
	d, r, x := f.duration.WithLabelValues(sink), f.records.WithLabelValues(sink), f.fails.WithLabelValues(sink)
	return func(res stream.FlushResult) {
		d.Observe(res.Duration.Seconds())
		r.Add(float64(res.Records - res.Failed))
		x.Add(float64(res.Failed))
	}
}
