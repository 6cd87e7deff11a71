package trackers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/plowline/plowline/exporter/source"
)

// Kind is the source kind, the `kind` label of its metrics.
const Kind = "prometheus"

// maxPoints is Prometheus's limit on points per series in a range query.
const maxPoints = 11000

// Source counts tracker events per window with range queries against a
// Prometheus server: one query_range per configured query per refresh.
type Source struct {
	name  string
	cfg   Config
	api   v1.API
	usage source.Usage
	log   *slog.Logger
	now   func() time.Time
}

var _ source.Source = (*Source)(nil)

// New returns a source for cfg, validated; zero fields take the defaults.
// Nothing is sent to Prometheus until the first Refresh.
func New(name string, cfg Config) (*Source, error) {
	if name == "" {
		return nil, errors.New("trackers source: empty name")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("trackers source %q: %w", name, err)
	}
	cfg = cfg.withDefaults()
	hc, err := promconfig.NewClientFromConfig(cfg.HTTP, "plowline_trackers_"+name)
	if err != nil {
		return nil, fmt.Errorf("trackers source %q: HTTP client: %w", name, err)
	}
	c, err := api.NewClient(api.Config{Address: cfg.URL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("trackers source %q: Prometheus client for %s: %w", name, redactURL(cfg.URL), err)
	}
	return &Source{name: name, cfg: cfg, api: v1.NewAPI(c), log: slog.Default(), now: time.Now}, nil
}

// SetLogger sets where Prometheus's query warnings go (default slog.Default()).
func (s *Source) SetLogger(l *slog.Logger) {
	if l != nil {
		s.log = l
	}
}

// Name is the configured name.
func (s *Source) Name() string { return s.name }

// Kind is "prometheus".
func (s *Source) Kind() string { return Kind }

// Interval is how often the source should be refreshed.
func (s *Source) Interval() time.Duration { return s.cfg.Interval }

// Usage counts query_range requests.
func (s *Source) Usage() *source.Usage { return &s.usage }

// Refresh counts every query's events in the windows of r that ended at
// least Delay ago. Windows it cannot know are omitted. Any failed query
// fails the refresh.
func (s *Source) Refresh(ctx context.Context, r source.Range) (source.Result, error) {
	w := r.Window
	if w < time.Second || w%time.Millisecond != 0 {
		return source.Result{}, fmt.Errorf("trackers source %q: window %s is not a whole number of milliseconds of at least 1s", s.name, w)
	}
	limit := s.now().Add(-s.cfg.Delay)
	n := 0
	for end := r.From.Add(w); !end.After(r.To) && !end.After(limit); end = end.Add(w) {
		n++
	}
	if n+1 > maxPoints {
		return source.Result{}, fmt.Errorf("trackers source %q: %d windows of %s exceed Prometheus's %d points per query; shorten the lookback", s.name, n, w, maxPoints)
	}
	from := r.From.UTC()
	var res source.Result
	for _, q := range s.cfg.Queries {
		series := source.Series{Node: q.Node, Bucketing: source.ArrivalTime, Counts: map[time.Time]float64{}}
		if n > 0 {
			var counts []float64
			var known []bool
			var err error
			if q.Counter != "" {
				counts, known, err = s.counter(ctx, q, from, w, n)
			} else {
				counts, known, err = s.expr(ctx, q, from, w, n)
			}
			if err != nil {
				return source.Result{}, err
			}
			for k := range n {
				if known[k] {
					series.Counts[from.Add(time.Duration(k)*w)] = counts[k]
				}
			}
		}
		res.Series = append(res.Series, series)
	}
	return res, nil
}

// counter evaluates last_over_time(counter[w]) at the n+1 window
// boundaries and sums each series' increase per window: the difference of
// consecutive boundary values, or the new value after a reset (a
// decrease), or the whole value of a series first seen at a boundary (a
// counter born inside the window — increase() would miss it).
func (s *Source) counter(ctx context.Context, q Query, from time.Time, w time.Duration, n int) ([]float64, []bool, error) {
	query := fmt.Sprintf("last_over_time(%s[%s])", q.Counter, model.Duration(w))
	m, err := s.queryRange(ctx, q, query, from, from.Add(time.Duration(n)*w), w)
	if err != nil {
		return nil, nil, err
	}
	counts, known := increases(m, from, w, n, q.AbsentAsZero)
	return counts, known, nil
}

// increases is the per-window arithmetic of counter queries over the
// matrix Prometheus returned for boundaries 0..n.
func increases(m model.Matrix, from time.Time, w time.Duration, n int, absentAsZero bool) ([]float64, []bool) {
	counts := make([]float64, n)
	known := make([]bool, n)
	if len(m) == 0 {
		// No series at all: nothing is known unless absence means zero.
		for k := range known {
			known[k] = absentAsZero
		}
		return counts, known
	}
	present := make([]int, n+1) // series with a value at each boundary
	for _, ss := range m {
		prev, seen := 0.0, false
		for _, p := range ss.Values {
			k, ok := boundary(p.Timestamp.Time(), from, w)
			v := float64(p.Value)
			if !ok || k > n || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				continue
			}
			present[k]++
			if k > 0 {
				inc := v
				if seen && v >= prev {
					inc = v - prev
				}
				counts[k-1] += inc
			}
			prev, seen = v, true
		}
	}
	for k := range known {
		known[k] = true
	}
	if !absentAsZero {
		// A boundary where no series has a value is a gap in Prometheus's
		// data (it was down, or the targets were): the window ending there
		// lacks increments and the one starting there holds them. Both are
		// unknown rather than wrong.
		for k, c := range present {
			if c > 0 {
				continue
			}
			if k > 0 {
				known[k-1] = false
			}
			if k < n {
				known[k] = false
			}
		}
	}
	for k, c := range counts {
		if math.IsInf(c, 0) { // absurd values that overflowed
			known[k] = false
		}
	}
	return counts, known
}

// expr evaluates the query with $__window replaced at the n window ends;
// the (summed) value at a window's end is its count.
func (s *Source) expr(ctx context.Context, q Query, from time.Time, w time.Duration, n int) ([]float64, []bool, error) {
	query := strings.ReplaceAll(q.Expr, WindowVar, model.Duration(w).String())
	m, err := s.queryRange(ctx, q, query, from.Add(w), from.Add(time.Duration(n)*w), w)
	if err != nil {
		return nil, nil, err
	}
	counts := make([]float64, n)
	known := make([]bool, n)
	for _, ss := range m {
		for _, p := range ss.Values {
			k, ok := boundary(p.Timestamp.Time(), from, w)
			v := float64(p.Value)
			if !ok || k < 1 || k > n || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			counts[k-1] += v
			known[k-1] = true
		}
	}
	if q.AbsentAsZero {
		for k := range known {
			known[k] = true
		}
	}
	return counts, known, nil
}

// boundary is the index k of the boundary from+k·w that t falls on.
func boundary(t, from time.Time, w time.Duration) (int, bool) {
	d := t.Sub(from)
	k := int(math.Round(float64(d) / float64(w)))
	off := d - time.Duration(k)*w
	return k, k >= 0 && off > -time.Millisecond && off < time.Millisecond
}

func (s *Source) queryRange(ctx context.Context, q Query, query string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	s.usage.Requests.Add(1)
	v, warnings, _, err := s.api.QueryRange(ctx, query, v1.Range{Start: start, End: end, Step: step}, v1.WithTimeout(s.cfg.Timeout))
	if err != nil {
		return nil, fmt.Errorf("trackers source %q: node %s: query_range %q on Prometheus at %s: %w", s.name, q.Node, query, redactURL(s.cfg.URL), explain(err))
	}
	for _, w := range warnings {
		s.log.Warn("Prometheus query warning", "source", s.name, "node", q.Node, "query", query, "warning", w)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("trackers source %q: node %s: query %q returned a %s, want a range vector", s.name, q.Node, query, v.Type())
	}
	return m, nil
}

// explain adds what Prometheus's error type means for the operator.
func explain(err error) error {
	var pe *v1.Error
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Type {
	case v1.ErrBadData, v1.ErrExec:
		return fmt.Errorf("the query is wrong for this Prometheus (%w)", err)
	case v1.ErrTimeout, v1.ErrCanceled:
		return fmt.Errorf("Prometheus gave up (%w); raise timeout or shorten the lookback", err)
	case v1.ErrClient:
		return fmt.Errorf("the server did not answer as Prometheus (%w); check url and credentials", err)
	}
	return err
}
