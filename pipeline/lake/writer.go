// Package lake holds plowline's local stand-ins for the AWS data lake: a
// Firehose-like batch writer that buffers records and writes gzip objects
// through the real S3 API, an S3 server embedded in the process, and a
// warehouse loader (the local Snowpipe) that loads each new object into an
// embedded SQL database exactly once.
package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/stream"
	"github.com/plowline/plowline/pipeline/windowcount"
)

// Firehose's bounds for its S3 buffering hints; the writer enforces the same
// upper bounds but lets local runs go below the lower ones.
const (
	MaxBufferBytes    = 128 << 20
	MaxBufferInterval = 900 * time.Second
)

// ObjectPutter is the part of the S3 API the writer needs (*s3.Client has it).
type ObjectPutter interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// WriterConfig configures one delivery stream's batch writer.
type WriterConfig struct {
	// Bucket and Prefix say where objects go; Prefix ends in "/" (output/).
	Bucket string
	Prefix string
	// Name is the delivery stream's name, the first part of each object's
	// name, as Firehose does.
	Name string
	// BufferBytes and BufferInterval are Firehose's buffering hints: a
	// buffer is flushed when it holds BufferBytes (uncompressed) or when
	// its first record is BufferInterval old, whichever comes first.
	BufferBytes    int64
	BufferInterval time.Duration
	// RetryBackoff is the first wait after a failed put; it doubles up to
	// MaxRetryBackoff. Failed puts are retried until Close's context ends.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// Now returns the arrival time; tests set it. Default time.Now.
	Now func() time.Time
	// OnPut, if set, is called after each object is stored, with its key
	// and record count: the S3 event notification the loader listens to.
	OnPut func(key string, records int)
	// Counts, if set, counts the records of every stored object at
	// CountNode by their event time (collector_tstamp, bad-row failure
	// timestamp) once the object is in the store: the same basis the
	// object-store and warehouse nodes count on, so a record the writer
	// buffers across a window boundary is not counted in the wrong window.
	Counts    *windowcount.Counts
	CountNode string
}

// DefaultWriterConfig returns small local buffering hints (5 MiB / 10 s):
// Firehose's minimum interval is 60 s, far too slow to watch locally.
func DefaultWriterConfig(bucket, prefix, name string) WriterConfig {
	return WriterConfig{
		Bucket: bucket, Prefix: prefix, Name: name,
		BufferBytes: 5 << 20, BufferInterval: 10 * time.Second,
		RetryBackoff: 100 * time.Millisecond, MaxRetryBackoff: 10 * time.Second,
	}
}

// Validate refuses values Firehose would refuse, naming them.
func (c WriterConfig) Validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("lake writer: bucket is empty")
	case c.Name == "":
		return errors.New("lake writer: delivery stream name is empty")
	case c.Prefix != "" && c.Prefix[len(c.Prefix)-1] != '/':
		return fmt.Errorf("lake writer: prefix %q must end in /", c.Prefix)
	case c.BufferBytes < 1 || c.BufferBytes > MaxBufferBytes:
		return fmt.Errorf("lake writer %s: buffer size %d bytes is outside 1..%d", c.Name, c.BufferBytes, MaxBufferBytes)
	case c.BufferInterval <= 0 || c.BufferInterval > MaxBufferInterval:
		return fmt.Errorf("lake writer %s: buffer interval %s is outside (0s, %s]", c.Name, c.BufferInterval, MaxBufferInterval)
	}
	return nil
}

// batch is one sealed buffer on its way to one object.
type batch struct {
	data    []byte
	records int
	first   time.Time // arrival of the first record: names the object
	seq     uint64
	tally   windowcount.Tally
}

// Writer is a Firehose-like delivery stream into S3. It implements
// stream.Sink: Put returns once the records are in its bounded in-memory
// buffer (as Firehose acknowledges PutRecordBatch), and Close flushes it.
//
// Objects are named like Firehose's:
//
//	<prefix>YYYY/MM/DD/HH/<name>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz
//
// where the time is the UTC arrival time of the object's first record (the
// time Firehose uses, not the events' own timestamps). Each record is one
// line: a newline is added unless the record ends in one.
type Writer struct {
	cfg    WriterConfig
	client ObjectPutter
	log    *slog.Logger

	mu       sync.Mutex
	buf      *bytes.Buffer
	records  int
	first    time.Time
	timer    *time.Timer
	seq      uint64
	tally    windowcount.Tally // event times of the buffer's records (Counts set)
	closed   bool
	pending  int64 // bytes accepted and not yet put (buffer + queued + in flight)
	pendingN int64

	queue    chan batch
	senders  sync.WaitGroup // sealed batches not yet in queue; Close waits for them
	stop     chan struct{}  // closed when retries must give up
	done     chan struct{}
	failMu   sync.Mutex
	lostRecs int // records a stopped writer could not deliver

	objects, recordsOut, bytesOut, failures prometheus.Counter
	bufBytes, bufRecords                    prometheus.Gauge
}

var _ stream.Sink = (*Writer)(nil)
var _ stream.Health = (*Writer)(nil)

// WriterMetrics are the batch writers' metrics; one set serves every
// writer, labelled by prefix.
type WriterMetrics struct {
	objects, records, bytes, failures *prometheus.CounterVec
	bufBytes, bufRecords              *prometheus.GaugeVec
}

// NewWriterMetrics registers the writers' metrics with reg (nil: unregistered).
func NewWriterMetrics(reg prometheus.Registerer) *WriterMetrics {
	m := &WriterMetrics{
		objects:    counterVec(metricname.LakeObjectsWritten),
		records:    counterVec(metricname.LakeRecordsWritten),
		bytes:      counterVec(metricname.LakeBytesWritten),
		failures:   counterVec(metricname.LakePutFailures),
		bufBytes:   gaugeVec(metricname.LakeBufferBytes),
		bufRecords: gaugeVec(metricname.LakeBufferRecords),
	}
	if reg != nil {
		reg.MustRegister(m.objects, m.records, m.bytes, m.failures, m.bufBytes, m.bufRecords)
	}
	return m
}

func counterVec(i metricname.Info) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: i.Name, Help: i.Help}, i.Labels)
}

func gaugeVec(i metricname.Info) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: i.Name, Help: i.Help}, i.Labels)
}

// NewWriter starts a writer. metrics may be nil.
func NewWriter(cfg WriterConfig, client ObjectPutter, metrics *WriterMetrics, log *slog.Logger) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 100 * time.Millisecond
	}
	if cfg.MaxRetryBackoff < cfg.RetryBackoff {
		cfg.MaxRetryBackoff = cfg.RetryBackoff
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = NewWriterMetrics(nil)
	}
	w := &Writer{
		cfg: cfg, client: client, log: log.With("delivery_stream", cfg.Name, "prefix", cfg.Prefix),
		buf:   new(bytes.Buffer),
		queue: make(chan batch, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),

		objects:    metrics.objects.WithLabelValues(cfg.Prefix),
		recordsOut: metrics.records.WithLabelValues(cfg.Prefix),
		bytesOut:   metrics.bytes.WithLabelValues(cfg.Prefix),
		failures:   metrics.failures.WithLabelValues(cfg.Prefix),
		bufBytes:   metrics.bufBytes.WithLabelValues(cfg.Prefix),
		bufRecords: metrics.bufRecords.WithLabelValues(cfg.Prefix),
	}
	go w.deliver()
	return w, nil
}

// Put appends records to the buffer. It blocks while a full buffer waits
// for the previous object to be written (back-pressure, never a drop).
func (w *Writer) Put(ctx context.Context, records []stream.Record) error {
	for len(records) > 0 {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return stream.ErrClosed
		}
		n := 0
		for _, r := range records {
			if w.records == 0 {
				w.first = w.cfg.Now()
				w.armTimer()
			}
			w.buf.Write(r.Data)
			added := int64(len(r.Data))
			if len(r.Data) == 0 || r.Data[len(r.Data)-1] != '\n' {
				w.buf.WriteByte('\n')
				added++
			}
			w.records++
			if w.cfg.Counts != nil {
				w.tally.Record(r.Data, w.cfg.Now())
			}
			w.pending += added
			w.pendingN++
			n++
			if int64(w.buf.Len()) >= w.cfg.BufferBytes {
				break
			}
		}
		records = records[n:]
		var sealed *batch
		if int64(w.buf.Len()) >= w.cfg.BufferBytes {
			b := w.sealLocked()
			sealed = &b
		}
		w.gaugesLocked()
		w.mu.Unlock()
		if sealed != nil {
			// The records are accepted already: the send ignores ctx
			// rather than lose them, and is the back-pressure point.
			w.queue <- *sealed
			w.senders.Done()
		}
	}
	return nil
}

// armTimer starts the interval timer for a buffer that just got its first record.
func (w *Writer) armTimer() {
	seq := w.seq
	w.timer = time.AfterFunc(w.cfg.BufferInterval, func() {
		w.mu.Lock()
		if w.closed || w.seq != seq || w.records == 0 {
			w.mu.Unlock()
			return
		}
		b := w.sealLocked()
		w.mu.Unlock()
		w.queue <- b
		w.senders.Done()
	})
}

// sealLocked takes the current buffer as a batch and starts a new one. The
// caller must send the batch to the queue and then call senders.Done.
func (w *Writer) sealLocked() batch {
	w.senders.Add(1)
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	b := batch{data: w.buf.Bytes(), records: w.records, first: w.first, seq: w.seq, tally: w.tally}
	w.tally = windowcount.Tally{}
	w.seq++
	w.buf = bytes.NewBuffer(make([]byte, 0, min(int(w.cfg.BufferBytes)+64<<10, 8<<20)))
	w.records = 0
	return b
}

func (w *Writer) gaugesLocked() {
	w.bufBytes.Set(float64(w.pending))
	w.bufRecords.Set(float64(w.pendingN))
}

// deliver writes batches in order, one object each, retrying failed puts.
func (w *Writer) deliver() {
	defer close(w.done)
	var zbuf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zbuf, gzip.BestSpeed)
	for b := range w.queue {
		zbuf.Reset()
		zw.Reset(&zbuf)
		zw.Write(b.data)
		zw.Close()
		key := w.objectKey(b.first)
		if err := w.putWithRetry(key, zbuf.Bytes()); err != nil {
			w.failMu.Lock()
			w.lostRecs += b.records
			w.failMu.Unlock()
			w.log.Error("batch not delivered: writer stopped while retrying", "key", key, "records", b.records, "err", err)
		} else {
			w.objects.Inc()
			w.recordsOut.Add(float64(b.records))
			b.tally.AddTo(w.cfg.Counts, w.cfg.CountNode)
			w.bytesOut.Add(float64(zbuf.Len()))
			if w.cfg.OnPut != nil {
				w.cfg.OnPut(key, b.records)
			}
		}
		w.mu.Lock()
		w.pending -= int64(len(b.data))
		w.pendingN -= int64(b.records)
		w.gaugesLocked()
		w.mu.Unlock()
	}
}

func (w *Writer) putWithRetry(key string, body []byte) error {
	backoff := w.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		go func() {
			select {
			case <-w.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		_, err := w.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:          aws.String(w.cfg.Bucket),
			Key:             aws.String(key),
			Body:            bytes.NewReader(body),
			ContentLength:   aws.Int64(int64(len(body))),
			ContentType:     aws.String("application/octet-stream"),
			ContentEncoding: aws.String("gzip"),
		})
		cancel()
		if err == nil {
			return nil
		}
		w.failures.Inc()
		w.log.Warn("object put failed; retrying", "key", key, "attempt", attempt, "backoff", backoff, "err", err)
		select {
		case <-w.stop:
			return fmt.Errorf("putting s3://%s/%s after %d attempts: %w", w.cfg.Bucket, key, attempt, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, w.cfg.MaxRetryBackoff)
	}
}

// objectKey names an object like Firehose does, from the arrival time of
// its first record, with a random UUID so names never collide.
func (w *Writer) objectKey(first time.Time) string {
	t := first.UTC()
	return fmt.Sprintf("%s%s/%s-1-%s-%s.gz", w.cfg.Prefix, t.Format("2006/01/02/15"), w.cfg.Name,
		t.Format("2006-01-02-15-04-05"), uuid.NewString())
}

// Flush seals the current buffer now (as if its interval had passed) and
// waits until everything accepted so far is in the object store or ctx ends.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return stream.ErrClosed
	}
	var sealed *batch
	if w.records > 0 {
		b := w.sealLocked()
		sealed = &b
	}
	w.mu.Unlock()
	if sealed != nil {
		select {
		case w.queue <- *sealed:
			w.senders.Done()
		case <-ctx.Done():
			go func() { w.queue <- *sealed; w.senders.Done() }()
			return ctx.Err()
		}
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if used, _ := w.Buffered(); used == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close flushes the buffer and waits for every batch to be written. If ctx
// ends first, retries stop and Close reports how many records were not
// delivered.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	var last *batch
	if w.records > 0 {
		b := w.sealLocked()
		last = &b
	} else if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	go func() {
		if last != nil {
			w.queue <- *last
			w.senders.Done()
		}
		// Batches sealed before closed was set may still be on their way.
		w.senders.Wait()
		close(w.queue)
	}()
	select {
	case <-w.done:
	case <-ctx.Done():
		close(w.stop)
		<-w.done
	}
	w.failMu.Lock()
	lost := w.lostRecs
	w.failMu.Unlock()
	if lost > 0 {
		return fmt.Errorf("lake writer %s: %d records not delivered to s3://%s/%s: %w", w.cfg.Name, lost, w.cfg.Bucket, w.cfg.Prefix, ctx.Err())
	}
	return nil
}

// Healthy reports whether the writer accepts records.
func (w *Writer) Healthy() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return stream.ErrClosed
	}
	return nil
}

// Buffered returns the bytes accepted but not yet in the object store and
// the most that can be held (current buffer, one queued, one in flight).
func (w *Writer) Buffered() (used, limit int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending, 3 * w.cfg.BufferBytes
}
