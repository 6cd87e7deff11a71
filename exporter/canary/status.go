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
	// Latency is from sending to finding the latest event found at this stage.
	Latency time.Duration
	// LastSeen is when an event was last found here (zero if never).
	LastSeen time.Time
	// LastError is the latest search failure, if any.
	LastError string
}
