package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// KinesisSinkOptions tune a KinesisSink. Zero values take the defaults in
// the field comments.
type KinesisSinkOptions struct {
	// MaxBatchRecords flushes once this many records wait (default and
	// maximum 500, the PutRecords limit).
	MaxBatchRecords int
	// MaxBatchBytes flushes once this many bytes wait (default and maximum
	// 5 MiB, the PutRecords limit).
	MaxBatchBytes int
	// Linger is how long a record may wait for a batch to fill (default
	// 200ms; Snowplow's collector uses a similar time limit).
	Linger time.Duration
	// BufferLimitBytes bounds what is acknowledged but not yet written
	// (default 64 MiB). Put answers ErrFull beyond it.
	BufferLimitBytes int64
	// Retry governs each flush: how often records Kinesis rejects are
	// retried before the batch goes back to the buffer (defaults in
	// RetryPolicy). A batch that still fails is retried, after a pause
	// growing up to Retry.MaxDelay, until it is written or Close gives up.
	Retry RetryPolicy
	// UnhealthyAfter is how long writes may keep failing before Put refuses
	// new records (default 5s). Healthy reports the failure at once.
	UnhealthyAfter time.Duration
	// Concurrency is how many batches may be in flight at once (default 4;
	// Snowplow's collector also sends from a pool). Records are assigned to
	// a flusher by a hash of their partition key, so records with the same
	// key still reach their shard in Put order; keyless records are dealt
	// out in turn. Kinesis latency, not CPU, bounds one flusher: about
	// 500 records per round trip.
	Concurrency int
	// OnFlush, if set, is called after every flush with its outcome (for
	// metrics: sink latency, failures). It may be called from several
	// flushers at once and must not block.
	OnFlush func(FlushResult)
}

// FlushResult is the outcome of one flush of a sink's buffer.
type FlushResult struct {
	Records  int           // records in the flush
	Bytes    int           // their size
	Failed   int           // records not written (kept in the buffer)
	Duration time.Duration // time PutRecords took, retries included
	Err      error         // why records failed, nil if none did
}

func (o KinesisSinkOptions) withDefaults() KinesisSinkOptions {
	if o.MaxBatchRecords <= 0 || o.MaxBatchRecords > KinesisMaxRecordsPerCall {
		o.MaxBatchRecords = KinesisMaxRecordsPerCall
	}
	if o.MaxBatchBytes <= 0 || o.MaxBatchBytes > KinesisMaxBytesPerCall {
		o.MaxBatchBytes = KinesisMaxBytesPerCall
	}
	if o.Linger <= 0 {
		o.Linger = 200 * time.Millisecond
	}
	if o.BufferLimitBytes <= 0 {
		o.BufferLimitBytes = 64 << 20
	}
	if o.UnhealthyAfter <= 0 {
		o.UnhealthyAfter = 5 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	o.Retry = o.Retry.withDefaults()
	return o
}

// ErrUnhealthy is wrapped by Put's error while the sink's stream has been
// failing for longer than UnhealthyAfter: the caller should refuse the data
// (the collector answers 503) rather than queue more behind a dead stream.
var ErrUnhealthy = errors.New("sink unhealthy")

// KinesisSink writes records to a Kinesis stream in the background. Put
// only places records in a bounded in-memory buffer; flushers send them
// with PutRecords when MaxBatchRecords or MaxBatchBytes are waiting or the
// oldest has waited Linger. Records Kinesis does not take stay in the buffer
// and are retried — nothing acknowledged is dropped while the process lives;
// Close drains the buffer. What is lost on a crash (SIGKILL, OOM) is exactly
// what Buffered reports at that moment.
//
// Each flusher sends one batch at a time and owns the partition keys that
// hash to it, so records with the same partition key reach their shard in
// Put order — except that a record Kinesis rejected and that is retried
// lands after records of its key that followed it in the same batch (as
// with Kinesis's own producer library).
type KinesisSink struct {
	api    KinesisAPI
	stream string
	opts   KinesisSinkOptions
	lanes  []*lane

	mu       sync.Mutex
	used     int64 // bytes acknowledged, not yet written (all lanes)
	next     int   // lane for the next keyless record
	urgent   int   // Flush/Close callers: ignore Linger
	closed   bool
	progress chan struct{} // closed and replaced after every flush

	runCtx  context.Context
	stopRun context.CancelFunc
	done    chan struct{} // closed when every flusher has stopped
}

// lane is one flusher's share of the buffer. Its fields are guarded by the
// sink's mu.
type lane struct {
	queue           []queued // waiting, oldest first
	queueBytes      int64
	inflight        int64 // bytes taken by the flusher, not yet written
	inflightRecords int
	failingSince    time.Time
	lastErr         error
	wake            chan struct{}
}

// NewKinesisSink starts a sink writing to streamName through api. Stop it
// with Close.
func NewKinesisSink(api KinesisAPI, streamName string, opts KinesisSinkOptions) *KinesisSink {
	s := &KinesisSink{
		api:      api,
		stream:   streamName,
		opts:     opts.withDefaults(),
		progress: make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.runCtx, s.stopRun = context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range s.opts.Concurrency {
		l := &lane{wake: make(chan struct{}, 1)}
		s.lanes = append(s.lanes, l)
		wg.Add(1)
		go func() { defer wg.Done(); s.run(l) }()
	}
	go func() { wg.Wait(); close(s.done) }()
	return s
}

// Stream returns the name of the stream the sink writes to.
func (s *KinesisSink) Stream() string { return s.stream }

// laneFor picks the flusher for a record; mu must be held.
func (s *KinesisSink) laneFor(key string) *lane {
	if len(s.lanes) == 1 {
		return s.lanes[0]
	}
	if key == "" {
		s.next = (s.next + 1) % len(s.lanes)
		return s.lanes[s.next]
	}
	// FNV-1a: cheap, and spreads short keys such as IP addresses well.
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return s.lanes[h%uint32(len(s.lanes))]
}

// Put places records in the buffer, all or none. It returns ErrFull when
// they do not fit, an error wrapping ErrUnhealthy when the stream has been
// failing for longer than UnhealthyAfter, ErrClosed after Close, and an
// error naming the record when one can never be written (over 1 MiB, or a
// partition key over 256 characters). Data slices are kept: the caller must
// not reuse them.
func (s *KinesisSink) Put(ctx context.Context, records []Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var size int64
	for i, r := range records {
		if err := checkRecord(r); err != nil {
			return fmt.Errorf("kinesis sink %q: record %d of %d: %w", s.stream, i, len(records), err)
		}
		size += int64(recordSize(r))
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if since, last := s.failingLocked(); !since.IsZero() && time.Since(since) >= s.opts.UnhealthyAfter {
		s.mu.Unlock()
		return fmt.Errorf("kinesis sink %q: %w: writes failing since %s: %v", s.stream, ErrUnhealthy, since.UTC().Format(time.RFC3339), last)
	}
	if s.used+size > s.opts.BufferLimitBytes {
		s.mu.Unlock()
		return ErrFull
	}
	s.used += size
	now := time.Now()
	var signal [8]*lane
	wake := signal[:0]
	for _, r := range records {
		l := s.laneFor(r.PartitionKey)
		first := len(l.queue) == 0
		l.queue = append(l.queue, queued{r, now})
		l.queueBytes += int64(recordSize(r))
		if first || len(l.queue) == s.opts.MaxBatchRecords || l.queueBytes >= int64(s.opts.MaxBatchBytes) {
			wake = append(wake, l)
		}
	}
	s.mu.Unlock()
	for _, l := range wake {
		l.signal()
	}
	return nil
}

func (l *lane) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// failingLocked returns since when the longest-failing flusher has been
// failing (zero if none is) and its last error; mu must be held.
func (s *KinesisSink) failingLocked() (since time.Time, last error) {
	for _, l := range s.lanes {
		if !l.failingSince.IsZero() && (since.IsZero() || l.failingSince.Before(since)) {
			since, last = l.failingSince, l.lastErr
		}
	}
	return since, last
}

// Healthy returns nil while writes succeed, else the error of the last
// failed flush and since when flushes have been failing.
func (s *KinesisSink) Healthy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	since, last := s.failingLocked()
	if since.IsZero() {
		return nil
	}
	return fmt.Errorf("kinesis sink %q: writes failing since %s (%s): %v", s.stream,
		since.UTC().Format(time.RFC3339), time.Since(since).Round(time.Millisecond), last)
}

// Buffered returns the bytes acknowledged by Put but not yet written, and
// the buffer limit.
func (s *KinesisSink) Buffered() (used, limit int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used, s.opts.BufferLimitBytes
}

// Pending returns the number of records acknowledged but not yet written.
func (s *KinesisSink) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingLocked()
}

func (s *KinesisSink) pendingLocked() int {
	n := 0
	for _, l := range s.lanes {
		n += len(l.queue) + l.inflightRecords
	}
	return n
}

// Flush waits until every record Put before the call is written (and any
// put since), or ctx ends. Lambda handlers call it before answering, since a
// frozen function cannot flush in the background.
func (s *KinesisSink) Flush(ctx context.Context) error {
	s.mu.Lock()
	s.urgent++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.urgent--
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		if s.used == 0 {
			s.mu.Unlock()
			return nil
		}
		ch := s.progress
		s.mu.Unlock()
		for _, l := range s.lanes {
			l.signal()
		}
		select {
		case <-ch:
		case <-s.done:
			return s.unwritten(ErrClosed)
		case <-ctx.Done():
			return s.unwritten(ctx.Err())
		}
	}
}

func (s *KinesisSink) unwritten(cause error) error {
	s.mu.Lock()
	n, b := s.pendingLocked(), s.used
	var last error
	for _, l := range s.lanes {
		if l.lastErr != nil {
			last = l.lastErr
		}
	}
	s.mu.Unlock()
	if n == 0 {
		return nil
	}
	if last != nil {
		return fmt.Errorf("kinesis sink %q: %d records (%d bytes) not written: %w (last write error: %v)", s.stream, n, b, cause, last)
	}
	return fmt.Errorf("kinesis sink %q: %d records (%d bytes) not written: %w", s.stream, n, b, cause)
}

// Close stops accepting records and writes everything buffered. If ctx ends
// first it stops and returns an error naming how many records could not be
// written; they are lost.
func (s *KinesisSink) Close(ctx context.Context) error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		<-s.done
		return nil
	}
	err := s.Flush(ctx)
	s.stopRun()
	<-s.done
	if err != nil {
		return err
	}
	return s.unwritten(ErrClosed)
}

// run is one flusher: it sends its lane's batches until Close stops it.
func (s *KinesisSink) run(l *lane) {
	failures := 0
	for {
		s.mu.Lock()
		n := len(l.queue)
		ready := n >= s.opts.MaxBatchRecords || l.queueBytes >= int64(s.opts.MaxBatchBytes) || s.urgent > 0 || s.closed
		var wait time.Duration
		if n > 0 && !ready {
			wait = s.opts.Linger - time.Since(l.queue[0].at)
			ready = wait <= 0
		}
		if n == 0 || !ready {
			s.mu.Unlock()
			var timer *time.Timer
			var fire <-chan time.Time
			if n > 0 {
				timer = time.NewTimer(wait)
				fire = timer.C
			}
			select {
			case <-l.wake:
			case <-fire:
			case <-s.runCtx.Done():
				return
			}
			if timer != nil {
				timer.Stop()
			}
			continue
		}
		taken, batch, bytes := s.takeLocked(l)
		s.mu.Unlock()

		start := time.Now()
		failed, err := putRecords(s.runCtx, s.api, s.stream, batch, s.opts.Retry, func(n int, err error) { s.round(l, n, err) })
		took := time.Since(start)

		s.mu.Lock()
		var failedBytes int
		if len(failed) > 0 {
			back := make([]queued, 0, len(failed)+len(l.queue))
			for _, i := range failed {
				back = append(back, taken[i])
				failedBytes += recordSize(batch[i])
			}
			l.queue = append(back, l.queue...)
			l.queueBytes += int64(failedBytes)
			if l.failingSince.IsZero() && s.runCtx.Err() == nil {
				l.failingSince = start
			}
			l.lastErr = err
		} else {
			l.failingSince = time.Time{}
			l.lastErr = nil
		}
		l.inflight -= int64(bytes)
		l.inflightRecords -= len(batch)
		s.used -= int64(bytes - failedBytes)
		close(s.progress)
		s.progress = make(chan struct{})
		s.mu.Unlock()

		if s.opts.OnFlush != nil {
			s.opts.OnFlush(FlushResult{Records: len(batch), Bytes: bytes, Failed: len(failed), Duration: took, Err: err})
		}
		if len(failed) == 0 {
			failures = 0
			continue
		}
		// The stream is refusing writes: pause before the next round so a
		// dead endpoint is not hammered, growing up to Retry.MaxDelay.
		failures++
		if !sleep(s.runCtx, s.opts.Retry.backoff(failures)) {
			return
		}
	}
}

// round records the outcome of each round of PutRecords calls, so Healthy
// reports a dead stream at its first failed call, not after the whole
// retry policy has run out.
func (s *KinesisSink) round(l *lane, failed int, err error) {
	if failed == 0 || s.runCtx.Err() != nil {
		return
	}
	s.mu.Lock()
	if l.failingSince.IsZero() {
		l.failingSince = time.Now()
	}
	l.lastErr = err
	s.mu.Unlock()
}

// takeLocked removes the next batch from the front of a lane's queue and
// counts it as in flight.
func (s *KinesisSink) takeLocked(l *lane) ([]queued, []Record, int) {
	n, bytes := 0, 0
	for n < len(l.queue) && n < s.opts.MaxBatchRecords {
		sz := recordSize(l.queue[n].rec)
		if n > 0 && bytes+sz > s.opts.MaxBatchBytes {
			break
		}
		bytes += sz
		n++
	}
	taken := make([]queued, n)
	copy(taken, l.queue[:n])
	batch := make([]Record, n)
	for i, q := range taken {
		batch[i] = q.rec
	}
	// Drop the references so written data can be collected; append
	// reallocates once the front has been sliced away.
	clear(l.queue[:n])
	l.queue = l.queue[n:]
	l.queueBytes -= int64(bytes)
	l.inflight += int64(bytes)
	l.inflightRecords += n
	return taken, batch, bytes
}

// queued is a buffered record and when Put accepted it (for Linger).
type queued struct {
	rec Record
	at  time.Time
}
