// Package refresh runs the exporter's sources in the background, each on
// its own interval with a timeout and backoff, and keeps the last good
// result of each so a scrape never waits for (or triggers) a source call.
package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/plowline/plowline/exporter/flow"
	"github.com/plowline/plowline/exporter/source"
)

// Entry is a source and how long one refresh of it may take.
type Entry struct {
	Source  source.Source
	Timeout time.Duration
}

// State is what the scheduler knows about one source.
type State struct {
	Name, Kind string
	Interval   time.Duration
	// Up is true if the latest refresh succeeded.
	Up bool
	// LastSuccess is when the latest successful refresh started: the
	// instant the kept Result is "as of".
	LastSuccess time.Time
	// LastAttempt is when the latest refresh (successful or not) started.
	LastAttempt time.Time
	// Duration is how long the latest refresh took.
	Duration time.Duration
	// Errors counts failed refreshes; Failures the current run of them.
	Errors, Failures int64
	// LastError is the latest failure's message (empty after a success).
	LastError string
	// Result is the latest successful refresh's result.
	Result source.Result
	// Usage is the source's request and cost counters.
	Usage *source.Usage
}

// Scheduler refreshes sources in the background.
type Scheduler struct {
	entries  []Entry
	window   time.Duration
	lookback time.Duration
	log      *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time
	// MaxBackoff caps the wait after repeated failures (default: the larger
	// of the source's interval and 15 minutes).
	MaxBackoff time.Duration

	mu     sync.RWMutex
	states map[string]*State
	// running holds, per source, a channel closed when its latest call to
	// Refresh returns; a call abandoned at its timeout keeps it open, and
	// the source is not called again until it closes (a source need not
	// be safe for overlapping refreshes).
	running map[string]chan struct{}
	// changed is closed and replaced after every refresh, so tests and the
	// canary can wait for fresh data without polling.
	changed chan struct{}
}

// New returns a scheduler for the given sources. Windows of length window
// over lookback are requested from each source.
func New(entries []Entry, window, lookback time.Duration, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{entries: entries, window: window, lookback: lookback, log: log, Now: time.Now,
		states: map[string]*State{}, running: map[string]chan struct{}{}, changed: make(chan struct{})}
	for _, e := range entries {
		src := e.Source
		s.states[src.Name()] = &State{Name: src.Name(), Kind: src.Kind(), Interval: src.Interval(), Usage: src.Usage()}
	}
	return s
}

// Range is the span every refresh covers at now: the whole windows of the
// lookback up to and including the current one.
func (s *Scheduler) Range(now time.Time) source.Range {
	to := flow.Align(now, s.window).Add(s.window)
	return source.Range{From: flow.Align(now.Add(-s.lookback), s.window), To: to, Window: s.window}
}

// Run refreshes every source on its interval until ctx is done. Each
// source has its own goroutine: a slow or failing source delays nobody else.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range s.entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, e)
		}()
	}
	wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context, e Entry) {
	for {
		err := s.refresh(ctx, e, s.Range(s.Now()))
		wait := e.Source.Interval()
		if err != nil {
			s.mu.RLock()
			k := s.states[e.Source.Name()].Failures
			s.mu.RUnlock()
			wait = s.backoff(e.Source.Interval(), k)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the wait after k consecutive failures: the interval doubled
// per further failure, capped, with ±10% jitter so sources throttled
// together do not retry together.
func (s *Scheduler) backoff(interval time.Duration, k int64) time.Duration {
	limit := s.MaxBackoff
	if limit == 0 {
		limit = max(interval, 15*time.Minute)
	}
	d := interval
	for i := int64(1); i < k && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return d + jitter
}

// RefreshAll refreshes every source once, concurrently, over r, and
// returns the failures joined (nil if all succeeded). Used by the one-shot
// reconcile command.
func (s *Scheduler) RefreshAll(ctx context.Context, r source.Range) error {
	var wg sync.WaitGroup
	errs := make([]error, len(s.entries))
	for i, e := range s.entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.refresh(ctx, e, r)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Scheduler) refresh(ctx context.Context, e Entry, r source.Range) error {
	src := e.Source
	start := s.Now()
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = src.Interval()
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	res, err := s.call(rctx, src, r)
	if err == nil && rctx.Err() != nil {
		// Finished, but past its deadline: the result may be partial.
		err = rctx.Err()
	}
	cancel()
	took := s.Now().Sub(start)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	if err != nil && ctx.Err() == nil {
		s.mu.RLock()
		k := s.states[src.Name()].Failures + 1
		s.mu.RUnlock()
		s.log.Warn("source refresh failed; serving its last good result", "source", src.Name(), "kind", src.Kind(), "duration", took, "consecutive_failures", k, "err", err)
	}
	s.mu.Lock()
	st := s.states[src.Name()]
	st.LastAttempt, st.Duration = start, took
	if err != nil {
		st.Up = false
		st.Errors++
		st.Failures++
		st.LastError = err.Error()
	} else {
		st.Up, st.LastSuccess, st.Failures, st.LastError = true, start, 0, ""
		st.Result = res
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("source %s: %w", src.Name(), err)
	}
	s.log.Debug("source refreshed", "source", src.Name(), "kind", src.Kind(), "duration", took, "series", len(res.Series))
	return nil
}

// errStillRunning refuses a refresh while an abandoned one has not returned.
var errStillRunning = errors.New("its previous refresh, abandoned at its timeout, has not returned yet (the source ignores its deadline)")

// call runs one Refresh and returns when it does or when ctx ends,
// whichever is first: a source whose driver ignores the deadline (a
// database open that blocks, a hung connection) is abandoned, so neither
// the background loop nor plowline reconcile waits for it. The abandoned
// call runs on; the source is not called again until it returns.
func (s *Scheduler) call(ctx context.Context, src source.Source, r source.Range) (source.Result, error) {
	s.mu.Lock()
	if prev := s.running[src.Name()]; prev != nil {
		select {
		case <-prev:
		default:
			s.mu.Unlock()
			return source.Result{}, errStillRunning
		}
	}
	done := make(chan struct{})
	s.running[src.Name()] = done
	s.mu.Unlock()
	type outcome struct {
		res source.Result
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		defer close(done)
		res, err := safeRefresh(ctx, src, r)
		ch <- outcome{res, err}
	}()
	select {
	case o := <-ch:
		return o.res, o.err
	case <-ctx.Done():
		// Give a source that honours its context a moment to return its
		// own error, then abandon it.
		select {
		case o := <-ch:
			return o.res, o.err
		case <-time.After(50 * time.Millisecond):
			return source.Result{}, fmt.Errorf("abandoned: %w", ctx.Err())
		}
	}
}

// safeRefresh turns a panicking source into a failed refresh, so one bad
// source cannot take the exporter down.
func safeRefresh(ctx context.Context, src source.Source, r source.Range) (res source.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("source panicked: %v", p)
		}
	}()
	return src.Refresh(ctx, r)
}

// Snapshot returns a copy of every source's state, sorted by name. Results
// are shared, not deep-copied: sources must not modify a Result after
// returning it.
func (s *Scheduler) Snapshot() []State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]State, 0, len(s.states))
	for _, st := range s.states {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Changed returns a channel closed at the next completed refresh.
func (s *Scheduler) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// Nodes turns the kept results into the flow judge's input: every node
// any source reported, with the as-of time of its source.
func Nodes(states []State) map[string]flow.Node {
	out := map[string]flow.Node{}
	for _, st := range states {
		for _, se := range st.Result.Series {
			out[se.Node] = flow.Node{Name: se.Node, Kind: st.Kind, Bucketing: se.Bucketing, Counts: se.Counts, AsOf: st.LastSuccess}
		}
	}
	return out
}
