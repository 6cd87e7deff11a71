package canary

import "time"

// Status is the canary's state, for the metrics collector and the HTML page.
type Status struct {
	Sent, SendFailures int64
	// LastSent is when the latest canary event was sent (zero if never).
	LastSent time.Time
	// LastEventID is the latest canary event's id.
	LastEventID string
	// Stages are in pipeline order.
	Stages []StageStatus
}

// StageStatus is what the canary knows about one stage.
type StageStatus struct {
	Stage      string
	Seen, Lost int64
	// Latency is the latency of the most recently sent event found at
	// this stage (an older event found later does not replace it).
	Latency time.Duration
	// LastSeen is when an event was last found here (zero if never).
	LastSeen time.Time
	// LastError is the latest search failure, if any.
	LastError string
	// Latencies has one observation per canary event found here: two
	// events that reached the stage together (one S3 object) are two
	// observations with their own latencies, not one.
	Latencies Histogram
	// Recent are the latest events found here, oldest first (at most
	// RecentEvents).
	Recent []EventLatency
}

// EventLatency is one canary event's trip to a stage.
type EventLatency struct {
	EventID string
	// Sent is when the canary sent it; Arrived when the stage got it (S3:
	// the object's write time; warehouse: uploaded_at).
	Sent, Arrived time.Time
	Latency       time.Duration
}

// RecentEvents is how many found events each stage keeps for the page.
const RecentEvents = 20

// LatencyBuckets are the upper bounds in seconds of the latency
// histogram: from a local run's second to Firehose's 900 s buffer plus a
// warehouse load delay.
var LatencyBuckets = []float64{1, 2, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600}

// Histogram is a Prometheus-style histogram of latencies in seconds.
type Histogram struct {
	// Counts are per bucket of LatencyBuckets (not cumulative); the
	// observations above the last bound are only in Count.
	Counts []uint64
	Count  uint64
	Sum    float64
}

func (h *Histogram) observe(seconds float64) {
	if h.Counts == nil {
		h.Counts = make([]uint64, len(LatencyBuckets))
	}
	for i, b := range LatencyBuckets {
		if seconds <= b {
			h.Counts[i]++
			break
		}
	}
	h.Count++
	h.Sum += seconds
}

// Cumulative returns the histogram's buckets as Prometheus exposes them:
// upper bound → observations at or below it.
func (h Histogram) Cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(LatencyBuckets))
	var n uint64
	for i, b := range LatencyBuckets {
		if i < len(h.Counts) {
			n += h.Counts[i]
		}
		out[b] = n
	}
	return out
}

// MaxRecent is the largest latency among the recent events (0 if none).
func (s StageStatus) MaxRecent() time.Duration {
	var m time.Duration
	for _, e := range s.Recent {
		m = max(m, e.Latency)
	}
	return m
}
