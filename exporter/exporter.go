// Package exporter is the reconciling exporter: it builds the configured
// sources, refreshes them in the background, judges the flow graph, and
// serves the result as Prometheus metrics, an HTML page for on-call and
// JSON. `plowline exporter` runs it alone; `plowline run` mounts it on its
// own web listener; `plowline reconcile` uses it for one pass.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/exporter/canary"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/flow"
	"github.com/plowline/plowline/exporter/metrics"
	"github.com/plowline/plowline/exporter/refresh"
	"github.com/plowline/plowline/exporter/report"
	"github.com/plowline/plowline/exporter/s3count"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/exporter/warehouse"
)

// Exporter owns the sources, their refresh loop, the canary and the views.
type Exporter struct {
	cfg     config.Config
	log     *slog.Logger
	sources []source.Source
	sched   *refresh.Scheduler
	canary  *canary.Canary
	// Now is the clock judgements use; tests replace it.
	Now func() time.Time
	// MetricsPath is linked from the HTML page (default /metrics).
	MetricsPath string

	startOnce sync.Once
	done      chan struct{}
}

// New builds an exporter from a validated configuration and registers its
// collector with reg (if not nil).
func New(cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (*Exporter, error) {
	return NewWithOptions(cfg, reg, log, Options{})
}

// NewWithOptions is New with injected clients and modes.
func NewWithOptions(cfg config.Config, reg prometheus.Registerer, log *slog.Logger, opts Options) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Exporter{cfg: cfg, log: log, Now: time.Now, MetricsPath: "/metrics", done: make(chan struct{})}
	var entries []refresh.Entry
	byName := map[string]source.Source{}
	for _, sc := range cfg.Sources {
		f, ok := Kinds[sc.Kind]
		if !ok {
			e.closeSources()
			return nil, fmt.Errorf("sources[%s].kind: %q has no implementation in this build", sc.Name, sc.Kind)
		}
		s, err := f(sc, cfg, opts, log.With("source", sc.Name))
		if err != nil {
			e.closeSources()
			return nil, fmt.Errorf("source %s (%s): %w", sc.Name, sc.Kind, err)
		}
		e.sources = append(e.sources, s)
		byName[sc.Name] = s
		entries = append(entries, refresh.Entry{Source: s, Timeout: sc.Timeout})
	}
	e.sched = refresh.New(entries, cfg.Window, cfg.Lookback, log)
	e.sched.Now = func() time.Time { return e.Now() }
	if k := cfg.Canary; k != nil && !opts.ReadOnly {
		var stages []canary.Stage
		for _, st := range k.Stages {
			src := byName[st.Source]
			sc, _ := cfg.SourceOf(st.Node)
			node := st.Node
			switch s := src.(type) {
			case *s3count.Source:
				stages = append(stages, canary.Stage{Name: st.Name, Every: time.Second, Find: func(_ context.Context, id string) (time.Time, bool, error) {
					t, ok := s.CanarySeen(id)
					return t, ok, nil
				}})
			case *warehouse.Source:
				stages = append(stages, canary.Stage{Name: st.Name, Every: sc.Interval, Find: func(ctx context.Context, id string) (time.Time, bool, error) {
					return s.Find(ctx, node, id)
				}})
			default:
				e.closeSources()
				return nil, fmt.Errorf("canary.stages[%s]: source %s cannot be searched for the canary", st.Name, st.Source)
			}
		}
		e.canary = canary.New(*k, stages, log.With("component", "canary"))
	}
	if reg != nil {
		if err := reg.Register(metrics.New(e.View, opts.Version)); err != nil {
			e.closeSources()
			return nil, fmt.Errorf("registering exporter metrics: %w", err)
		}
	}
	return e, nil
}

func (e *Exporter) closeSources() {
	for _, s := range e.sources {
		if c, ok := s.(io.Closer); ok {
			c.Close()
		}
	}
}

// Start refreshes every source (and runs the canary) in the background
// until ctx is done; it returns at once. Sources are closed when ctx ends.
func (e *Exporter) Start(ctx context.Context) {
	e.startOnce.Do(func() {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); e.sched.Run(ctx) }()
		if e.canary != nil {
			wg.Add(1)
			go func() { defer wg.Done(); e.canary.Run(ctx) }()
		}
		go func() {
			wg.Wait()
			e.closeSources()
			close(e.done)
		}()
	})
}

// Done is closed once Start's goroutines have stopped after ctx ended.
func (e *Exporter) Done() <-chan struct{} { return e.done }

// RefreshOnce refreshes every source once over [from, to) — what
// `plowline reconcile` does — and returns the sources that failed.
func (e *Exporter) RefreshOnce(ctx context.Context, from, to time.Time) error {
	r := source.Range{From: flow.Align(from, e.cfg.Window), To: flow.Align(to.Add(e.cfg.Window-time.Nanosecond), e.cfg.Window), Window: e.cfg.Window}
	return e.sched.RefreshAll(ctx, r)
}

// Close releases the sources (database connections) of an exporter that
// was never started; a started one closes them when its context ends.
func (e *Exporter) Close() { e.closeSources() }

// Changed returns a channel closed at the next completed source refresh.
func (e *Exporter) Changed() <-chan struct{} { return e.sched.Changed() }

// Sources returns the scheduler's state of every source.
func (e *Exporter) Sources() []refresh.State { return e.sched.Snapshot() }

// Report judges the flow graph over the lookback as of now.
func (e *Exporter) Report() flow.Report {
	return flow.Evaluate(e.cfg, refresh.Nodes(e.sched.Snapshot()), e.Now())
}

// ReportRange judges the windows overlapping [from, to).
func (e *Exporter) ReportRange(from, to time.Time) flow.Report {
	return flow.EvaluateRange(e.cfg, refresh.Nodes(e.sched.Snapshot()), from, to, e.Now())
}

// Table builds the human view of a report.
func (e *Exporter) Table(r flow.Report, maxWindows int) report.Table {
	var ks *canary.Status
	if e.canary != nil {
		st := e.canary.Status()
		ks = &st
	}
	return report.Build(e.cfg, r, e.sched.Snapshot(), ks, maxWindows)
}

// View is what a scrape reports; it only reads cached state.
func (e *Exporter) View() metrics.View {
	states := e.sched.Snapshot()
	v := metrics.View{Config: e.cfg, Sources: states,
		Report: flow.Evaluate(e.cfg, refresh.Nodes(states), e.Now())}
	if e.canary != nil {
		st := e.canary.Status()
		v.Canary = &st
	}
	return v
}

// Handler serves the on-call page at / and the same table as JSON at
// /reconcile.json (relative to where it is mounted). Query parameter
// windows=N limits the page to the N latest windows (default 12).
func (e *Exporter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/reconcile.json", func(w http.ResponseWriter, r *http.Request) {
		t := e.Table(e.Report(), windowsParam(r, 0))
		w.Header().Set("Content-Type", "application/json")
		if err := t.WriteJSON(w); err != nil {
			e.log.Debug("writing reconcile.json", "err", err)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		t := e.Table(e.Report(), windowsParam(r, 12))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		prefix := strings.TrimSuffix(r.Header.Get("X-Forwarded-Prefix"), "/") + "/"
		if err := t.WriteHTML(w, prefix, e.MetricsPath); err != nil {
			e.log.Debug("writing page", "err", err)
		}
	})
	return mux
}

func windowsParam(r *http.Request, def int) int {
	var n int
	if _, err := fmt.Sscan(r.URL.Query().Get("windows"), &n); err == nil && n >= 0 {
		return n
	}
	return def
}

// ErrOutOfTolerance is returned by Check when a settled edge is out of tolerance.
var ErrOutOfTolerance = errors.New("a settled edge is out of tolerance")
