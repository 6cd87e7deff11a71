// Package source defines what the exporter's sources have in common: each
// counts events at one or more nodes of the flow graph, bucketed into
// aligned windows, and is refreshed in the background on its own interval.
package source

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Bucketing says which clock a node's counts are bucketed by.
type Bucketing string

const (
	// EventTime buckets by each event's collector timestamp (collector, S3 records, warehouse rows).
	EventTime Bucketing = "event_time"
	// ArrivalTime buckets by when the stage saw the record (CloudWatch metrics, object listings).
	ArrivalTime Bucketing = "arrival_time"
)

// Series is a node's counts per aligned window start (UTC).
type Series struct {
	Node      string
	Bucketing Bucketing
	Counts    map[time.Time]float64
}

// Gauge is a point value a source exposes beside counts, e.g. Kinesis
// iterator age. Name is a metricname constant's Name.
type Gauge struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Result is what one refresh produced.
type Result struct {
	Series []Series
	Gauges []Gauge
}

// Range is the span a refresh must cover: [From, To) in whole windows of Window.
type Range struct {
	From, To time.Time
	Window   time.Duration
}

// Source is one configured place the exporter reads counts from.
type Source interface {
	// Name is the configured name, used as the `source` label.
	Name() string
	// Kind is the source type: prometheus, metrics, cloudwatch, s3, warehouse.
	Kind() string
	// Interval is how often the source should be refreshed.
	Interval() time.Duration
	// Refresh reads counts for r. It must honour ctx's deadline and must not
	// keep state that a failed refresh leaves half-updated.
	Refresh(ctx context.Context, r Range) (Result, error)
	// Usage returns the source's request and cost counters.
	Usage() *Usage
}

// Usage counts what a source spent: API calls or queries made, and
// billable units by name (CloudWatch "metrics_requested", warehouse
// "queries", S3 "bytes_read", ...). Safe for concurrent use.
type Usage struct {
	Requests atomic.Int64
	mu       sync.Mutex
	costs    map[string]int64
}

// AddCost adds n billable units of the named kind.
func (u *Usage) AddCost(unit string, n int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.costs == nil {
		u.costs = map[string]int64{}
	}
	u.costs[unit] += n
}

// Costs returns a copy of the billable units counted so far.
func (u *Usage) Costs() map[string]int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]int64, len(u.costs))
	for k, v := range u.costs {
		out[k] = v
	}
	return out
}
