package refresh

import (
	"context"
	"errors"
	"strings"
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
	src := &fakeSource{name: "x", fn: func(context.Context) (source.Result, error) { return source.Result{}, nil }}
	s := New([]Entry{{Source: src}}, time.Minute, time.Hour, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	s.Run(ctx)
	if n := src.calls.Load(); n < 3 || n > 12 {
		t.Errorf("%d refreshes in 200ms at a 20ms interval", n)
	}
}
