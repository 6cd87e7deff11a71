// Package collector is a Snowplow-compatible HTTP collector: it accepts the
// tracker protocol (GET pixels, POSTed payload_data batches), turns each
// request into a Thrift CollectorPayload byte-identical to what Snowplow's
// Scala stream collector writes, and puts it on the good sink; payloads too
// big for the sink become size_violation bad rows on the bad sink.
//
// It acknowledges only what is safe: a 200 means the sink accepted the
// record (Kinesis: into a bounded buffer that is drained on Shutdown). When
// a sink is full, slow or failing, the answer is 503, which every Snowplow
// tracker retries.
package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/stream"
)

// Collector serves the tracker protocol. Create it with New.
type Collector struct {
	cfg       Config
	name      string
	processor badrow.Processor
	good, bad *sinkRef
	log       *slog.Logger
	m         *metrics
	dnt       *regexp.Regexp
	paths     map[string]string

	cookieAttrs []byte // "; Path=/; Secure; HttpOnly; SameSite=None"
	maxAge      []string
	expires     atomic.Pointer[cachedDate]
	dntCount    prometheus.Counter

	// bodies holds the bytes of POST bodies in flight
	// (Limits.MaxInflightBodyBytes).
	bodies *semaphore.Weighted

	closing  atomic.Bool
	inflight atomic.Int64
	shutOnce sync.Once
	shutErr  error

	now func() time.Time
	// accepted, if set, is told what each request put (SetAcceptHook).
	accepted func(at time.Time, events, badRows int)
}

// SetAcceptHook makes the collector call f for every request whose records
// were accepted by a sink: at is the collector time stamped on them
// (payload timestamp, bad-row failure timestamp), events the events in the
// good payloads, badRows the bad rows. plowline run counts them by event
// time with it. Call it before the collector serves.
func (c *Collector) SetAcceptHook(f func(at time.Time, events, badRows int)) { c.accepted = f }

// New builds a collector writing payloads to good and bad rows to bad, and
// registers its metrics with reg (nil: not registered).
func New(cfg Config, good, bad stream.Sink, reg prometheus.Registerer, log *slog.Logger) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("collector config: %w", err)
	}
	if good == nil || bad == nil {
		return nil, errors.New("collector: both a good and a bad sink are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	version := cfg.Version
	if version == "" {
		version = "0.0.0"
	}
	c := &Collector{
		cfg:       cfg,
		name:      cfg.CollectorName,
		processor: badrow.Processor{Artifact: "plowline-collector", Version: semver(version)},
		log:       log,
		m:         newMetrics(),
		paths:     cfg.Paths,
		maxAge:    []string{strconv.Itoa(int(cfg.CORS.AccessControlMaxAge / time.Second))},
		now:       time.Now,
		bodies:    semaphore.NewWeighted(cfg.Limits.MaxInflightBodyBytes),
	}
	if c.name == "" {
		c.name = "plowline-" + version + "-" + cfg.Sink.Type
	}
	c.good = newSinkRef(sinkGood, good, c)
	c.bad = newSinkRef(sinkBad, bad, c)
	if cfg.DoNotTrackCookie.Enabled {
		// Validate compiled it already; anchor it so the whole value must match.
		c.dnt = regexp.MustCompile("^(?:" + cfg.DoNotTrackCookie.Value + ")$")
	}
	var attrs bytes.Buffer
	attrs.WriteString("; Path=/")
	if cfg.Cookie.Secure {
		attrs.WriteString("; Secure")
	}
	if cfg.Cookie.HTTPOnly {
		attrs.WriteString("; HttpOnly")
	}
	if cfg.Cookie.SameSite != "" {
		attrs.WriteString("; SameSite=" + cfg.Cookie.SameSite)
	}
	c.cookieAttrs = attrs.Bytes()
	c.dntCount = prometheus.NewCounter(prometheus.CounterOpts{
		Name: metricname.CollectorDoNotTrack.Name, Help: metricname.CollectorDoNotTrack.Help})
	if reg != nil {
		if err := c.m.register(reg, newSinkCollector(c.good, c.bad)); err != nil {
			return nil, fmt.Errorf("registering collector metrics: %w", err)
		}
		if err := reg.Register(c.dntCount); err != nil {
			return nil, fmt.Errorf("registering collector metrics: %w", err)
		}
	}
	if cfg.Cookie.SameSite == "None" && cfg.Cookie.Enabled && !cfg.Cookie.Secure {
		log.Warn("cookie.same_site is None but cookie.secure is false: browsers will reject the cookie")
	}
	return c, nil
}

// Name returns the collector name written into every payload.
func (c *Collector) Name() string { return c.name }

// Handler returns the HTTP handler serving every collector route.
func (c *Collector) Handler() http.Handler { return http.HandlerFunc(c.serve) }

// Shutdown stops accepting requests (they get 503), waits for requests in
// flight, then closes both sinks, which flushes what they buffered. It
// returns when the sinks are drained or ctx ends.
func (c *Collector) Shutdown(ctx context.Context) error {
	c.shutOnce.Do(func() {
		c.closing.Store(true)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var errs []error
	wait:
		for c.inflight.Load() > 0 {
			select {
			case <-ctx.Done():
				// Close the sinks anyway: they release what they hold and
				// say what could not be written.
				errs = append(errs, fmt.Errorf("%d requests still in flight: %w", c.inflight.Load(), ctx.Err()))
				break wait
			case <-tick.C:
			}
		}
		if err := c.good.sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("closing good sink: %w", err))
		}
		if err := c.bad.sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("closing bad sink: %w", err))
		}
		c.shutErr = errors.Join(errs...)
	})
	return c.shutErr
}

// semver makes v acceptable to the bad-row schemas (^\d+\.\d+\.\d+.*, at
// most 32 characters), e.g. for a git-describe version like "cd051c4".
func semver(v string) string {
	if !semverRe.MatchString(v) {
		v = "0.0.0-" + v
	}
	if len(v) > 32 {
		v = v[:32]
	}
	return v
}

var semverRe = regexp.MustCompile(`^\d+\.\d+\.\d+`)

// sinkRef is a sink with its metrics and the health the collector tracks
// for sinks that do not report their own.
type sinkRef struct {
	label    string
	sink     stream.Sink
	health   stream.Health // nil if the sink does not implement it
	c        *Collector
	latency  prometheus.Observer
	payloads prometheus.Counter
	failures prometheus.Counter

	lastOK      atomic.Int64 // unix nanos
	lastFailure atomic.Int64
	lastErr     atomic.Pointer[error]
	lastLog     atomic.Int64
	deadline    atomic.Pointer[sharedDeadline]
}

func newSinkRef(label string, s stream.Sink, c *Collector) *sinkRef {
	r := &sinkRef{label: label, sink: s, c: c,
		latency:  c.m.latency.WithLabelValues(label),
		payloads: c.m.payloads.WithLabelValues(label),
		failures: c.m.sinkFailures.WithLabelValues(label),
	}
	r.health, _ = s.(stream.Health)
	return r
}

// recentFailure is how long a failed write marks a sink without its own
// health report as unhealthy when no write has succeeded since.
const recentFailure = 10 * time.Second

// healthy returns nil if the sink accepts writes.
func (r *sinkRef) healthy() error {
	if r.health != nil {
		return r.health.Healthy()
	}
	f := r.lastFailure.Load()
	if f > r.lastOK.Load() && time.Since(time.Unix(0, f)) < recentFailure {
		if e := r.lastErr.Load(); e != nil {
			return fmt.Errorf("last write failed: %w", *e)
		}
		return errors.New("last write failed")
	}
	return nil
}

// sharedDeadline is a context that requests arriving within a short
// interval share: a per-request context.WithTimeout would start a timer on
// every request of the hot path.
type sharedDeadline struct {
	deadline time.Time
	ctx      context.Context
	cancel   context.CancelFunc // never needed: the context ends at its deadline
}

// putContext returns a context ending between SinkTimeout and
// SinkTimeout plus a tenth of it (at most 100ms) from now.
func (r *sinkRef) putContext(now time.Time) context.Context {
	timeout := r.c.cfg.Limits.SinkTimeout
	want := now.Add(timeout)
	if d := r.deadline.Load(); d != nil && !d.deadline.Before(want) {
		return d.ctx
	}
	dl := want.Add(min(timeout/10, 100*time.Millisecond))
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	r.deadline.Store(&sharedDeadline{deadline: dl, ctx: ctx, cancel: cancel})
	return ctx
}

// put writes records within the configured timeout.
func (r *sinkRef) put(recs []stream.Record) error {
	start := time.Now()
	err := r.sink.Put(r.putContext(start), recs)
	end := time.Now()
	r.latency.Observe(end.Sub(start).Seconds())
	if err != nil {
		r.failures.Inc()
		r.lastFailure.Store(end.UnixNano())
		r.lastErr.Store(&err)
		// At most one log line per second per sink: an outage must not
		// flood the logs.
		if last := r.lastLog.Load(); end.UnixNano()-last > int64(time.Second) && r.lastLog.CompareAndSwap(last, end.UnixNano()) {
			r.c.log.Warn("sink write failed; answering 503 so trackers retry", "sink", r.label, "records", len(recs), "error", err)
		}
		return fmt.Errorf("writing %d records to the %s sink: %w", len(recs), r.label, err)
	}
	if r.health == nil && r.lastOK.Load() < start.UnixNano() {
		r.lastOK.Store(end.UnixNano())
	}
	r.payloads.Add(float64(len(recs)))
	return nil
}

// bodyPool recycles request-body buffers; buffers that grew past
// maxPooledBody are dropped so one large request does not pin memory.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBody = 64 << 10

// bodyWeight is what a request's body takes of the in-flight budget: its
// declared length, or the most it may be when the length is unknown.
func bodyWeight(r *http.Request, limit int64) int64 {
	if r.ContentLength >= 0 && r.ContentLength <= limit {
		return max(r.ContentLength, 1)
	}
	return limit
}

// acquireBody waits for room for n bytes of body, at most SinkTimeout: a
// collector flooded with large bodies answers 503 rather than hold them
// all in memory.
func (c *Collector) acquireBody(r *http.Request, n int64) bool {
	if c.bodies.TryAcquire(n) {
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.cfg.Limits.SinkTimeout)
	defer cancel()
	return c.bodies.Acquire(ctx, n) == nil
}

func readBody(r *http.Request, limit int64) (*bytes.Buffer, error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err == nil && n > limit {
		err = errTooLarge
	}
	if err != nil {
		putBody(buf)
		return nil, err
	}
	return buf, nil
}

func putBody(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBody {
		bodyPool.Put(b)
	}
}

var errTooLarge = errors.New("request body too large")

// cachedDate is the cookie expiry date, formatted once per second.
type cachedDate struct {
	sec int64
	s   string
}

func (c *Collector) cookieExpires(now time.Time) string {
	sec := now.Unix()
	if d := c.expires.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &cachedDate{sec: sec, s: now.Add(c.cfg.Cookie.Expiration).UTC().Format(http.TimeFormat)}
	c.expires.Store(d)
	return d.s
}
