// Package stream moves records between pipeline stages: the sinks stages
// write to (Kinesis, in-memory, stdout/file) and the sources they read from.
// In production the streams are Kinesis; `plowline run` uses in-memory
// streams with the same names and the same back-pressure semantics.
package stream

import (
	"context"
	"errors"
)

// Record is one stream record.
type Record struct {
	// PartitionKey spreads records over shards; empty lets the sink choose.
	PartitionKey string
	Data         []byte
}

// Sink is where a stage writes records. Put returns nil only once every
// record is durably accepted by the sink (or by a bounded buffer the sink
// drains on Close). On error the caller must treat the records as not
// written and retry or reject them; some may already be in the stream, so
// delivery is at-least-once, as with Kinesis.
type Sink interface {
	Put(ctx context.Context, records []Record) error
	// Close flushes anything buffered and releases resources.
	Close(ctx context.Context) error
}

// Source is where a stage reads records from.
type Source interface {
	// Read blocks until at least one record is available, ctx ends, or the
	// source is closed and drained (io.EOF-like ErrClosed). It returns at
	// most max records.
	Read(ctx context.Context, max int) ([]Record, error)
}

// ErrClosed is returned by a closed, drained Source and by Put on a closed Sink.
var ErrClosed = errors.New("stream closed")

// ErrFull is returned by Put when a sink's bounded buffer has no room: the
// collector answers 503 so the tracker retries, rather than accepting data
// it cannot keep.
var ErrFull = errors.New("stream buffer full")

// Health is implemented by sinks that can say whether they accept writes and
// how full their buffer is (the collector's /sink-health and buffer metrics).
type Health interface {
	// Healthy returns nil while the sink accepts writes, else why not.
	Healthy() error
	// Buffered returns bytes acknowledged but not yet written, and the limit.
	Buffered() (used, limit int64)
}
