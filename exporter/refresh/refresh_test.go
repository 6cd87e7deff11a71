package refresh

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plowline/plowline/exporter/source"
)

type fakeSource struct {
	name  string
	calls atomic.Int64
	fn    func(ctx context.Context) (source.Result, error)
	usage source.Usage
}

func (f *fakeSource) Name() string            { return f.name }
func (f *fakeSource) Kind() string            { return "metrics" }
func (f *fakeSource) Interval() time.Duration { return 20 * time.Millisecond }
func (f *fakeSource) Usage() *source.Usage    { return &f.usage }
func (f *fakeSource) Refresh(ctx context.Context, r source.Range) (source.Result, error) {
	f.calls.Add(1)
	return f.fn(ctx)
}

func TestKeepsLastGoodResultAndIsolatesFailures(t *testing.T) {
	var fail atomic.Bool
	good := source.Result{Series: []source.Series{{Node: "n", Counts: map[time.Time]float64{{}: 1}}}}
	flaky := &fakeSource{name: "flaky", fn: func(context.Context) (source.Result, error) {
		if fail.Load() {
			return source.Result{}, errors.New("throttled: rate exceeded")
		}
		return good, nil
	}}
	panicky := &fakeSource{name: "panicky", fn: func(context.Context) (source.Result, error) { panic("boom") }}
	slow := &fakeSource{name: "slow", fn: func(ctx context.Context) (source.Result, error) {
		<-ctx.Done()
		return source.Result{}, ctx.Err()
	}}
	s := New([]Entry{{Source: flaky}, {Source: panicky}, {Source: slow, Timeout: 10 * time.Millisecond}}, time.Minute, time.Hour, nil)
	if err := s.RefreshAll(context.Background(), s.Range(time.Now())); err == nil || !strings.Contains(err.Error(), "panicked: boom") || !strings.Contains(err.Error(), "timed out after 10ms") {
		t.Fatalf("err = %v", err)
	}
	fail.Store(true)
	s.RefreshAll(context.Background(), s.Range(time.Now()))
	st := map[string]State{}
	for _, x := range s.Snapshot() {
		st[x.Name] = x
	}
	f := st["flaky"]
	if f.Up || f.Errors != 1 || f.LastSuccess.IsZero() || len(f.Result.Series) != 1 || !strings.Contains(f.LastError, "throttled") {
		t.Errorf("flaky after a failure: %+v", f)
	}
	if st["panicky"].Up || st["slow"].Up || st["slow"].Errors != 2 {
		t.Errorf("states %+v", st)
	}
	if n := Nodes(s.Snapshot()); n["n"].AsOf != f.LastSuccess {
		t.Errorf("node as-of %s, want the last success %s", n["n"].AsOf, f.LastSuccess)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	s := New(nil, time.Minute, time.Hour, nil)
	s.MaxBackoff = 10 * time.Minute
	prev := time.Duration(0)
	for k := int64(1); k <= 8; k++ {
		d := s.backoff(time.Minute, k)
		if d < prev*8/10 || d > 11*time.Minute {
			t.Errorf("backoff after %d failures = %s (previous %s)", k, d, prev)
		}
		prev = d
	}
	if d := s.backoff(time.Minute, 1); d < 54*time.Second || d > 66*time.Second {
		t.Errorf("first backoff %s, want the interval ±10%%", d)
	}
}

func TestRunRefreshesOnInterval(t *testing.T) {
	// Refresh times are recorded and checked against the interval as a lower
	// bound only: a loaded machine may run late, never early.
	var mu sync.Mutex
	var at []time.Time
	third := make(chan struct{})
	src := &fakeSource{name: "x", fn: func(context.Context) (source.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, time.Now())
		if len(at) == 3 {
			close(third)
		}
		return source.Result{}, nil
	}}
	s := New([]Entry{{Source: src}}, time.Minute, time.Hour, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	select {
	case <-third:
	case <-time.After(30 * time.Second):
		t.Fatalf("%d refreshes in 30s at a 20ms interval", src.calls.Load())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 20*time.Millisecond {
			t.Errorf("refresh %d came %s after the previous one; the interval is 20ms", i, gap)
		}
	}
}

// TestAbandonsASourceIgnoringItsDeadline: a source that blocks whatever
// its context says (a driver hanging in open) is marked down with a
// counted, logged error at its timeout, is not called again while the
// abandoned call runs, and a cancelled RefreshAll returns at once.
func TestAbandonsASourceIgnoringItsDeadline(t *testing.T) {
	release := make(chan struct{})
	stuck := &fakeSource{name: "stuck", fn: func(context.Context) (source.Result, error) {
		<-release // ignores ctx
		return source.Result{}, nil
	}}
	var logs strings.Builder
	s := New([]Entry{{Source: stuck, Timeout: 20 * time.Millisecond}}, time.Minute, time.Hour, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)))
	start := time.Now()
	err := s.RefreshAll(context.Background(), s.Range(time.Now()))
	if err == nil || !strings.Contains(err.Error(), "timed out after 20ms") {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("RefreshAll waited %s for a source that ignores its deadline", took)
	}
	if err := s.RefreshAll(context.Background(), s.Range(time.Now())); err == nil || !strings.Contains(err.Error(), "has not returned yet") {
		t.Fatalf("second refresh while the first is abandoned: err = %v", err)
	}
	if n := stuck.calls.Load(); n != 1 {
		t.Errorf("source called %d times while its first call hung", n)
	}
	st := s.Snapshot()[0]
	if st.Up || st.Errors != 2 {
		t.Errorf("state %+v: want down with 2 errors", st)
	}
	if !strings.Contains(logs.String(), "source=stuck") || !strings.Contains(logs.String(), "timed out after 20ms") {
		t.Errorf("log lacks the abandoned source:\n%s", logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	close(release)
	time.Sleep(10 * time.Millisecond)
	blocked := &fakeSource{name: "blocked", fn: func(context.Context) (source.Result, error) { select {} }}
	s2 := New([]Entry{{Source: blocked, Timeout: time.Hour}}, time.Minute, time.Hour, nil)
	start = time.Now()
	if err := s2.RefreshAll(ctx, s2.Range(time.Now())); err == nil {
		t.Fatal("a cancelled refresh succeeded")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("cancelled RefreshAll took %s", took)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
