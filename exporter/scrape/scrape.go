// Package scrape is the exporter's "metrics" source: it scrapes a pipeline
// process's own Prometheus /metrics (collector, enricher, pseudonymizer,
// the local lake) and turns the increase of its counters into per-window
// counts.
//
// Counters are cumulative and carry no event times, so counts are bucketed
// by arrival: the increase between two scrapes goes to the window of the
// later scrape. Windows whose increase cannot be known — the partial window
// of the first scrape, windows spanned by a gap longer than a window, the
// window in which the process restarted — are left out (unknown), never
// reported as zero, so they are not judged.
package scrape

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/flow"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/exporter/statelock"
)

// Settings is the `metrics:` block of a source.
type Settings struct {
	// URL is the process's metrics endpoint, e.g. http://127.0.0.1:8080/metrics.
	URL string `yaml:"url"`
	// StateFile keeps per-window counts and the last counter values across
	// exporter restarts (optional; without it counting restarts from zero).
	StateFile string `yaml:"state_file"`
}

// Select is a node's `select:` block: the sum of a counter's series whose
// labels match.
//
// With WindowLabel set the counter is already split by event time: each
// series counts the records of one window, whose start (Unix seconds) is
// that label's value (plowline run's plowline_window_records_total). The
// node is then bucketed by event time: each series' increase goes to its
// own window, whenever it is scraped, so a window's count keeps growing
// until every stage has passed its records and no scrape timing can move
// a record into the next window.
type Select struct {
	Metric      string            `yaml:"metric"`
	Match       map[string]string `yaml:"match"`
	WindowLabel string            `yaml:"window_label,omitempty"`
}

type node struct {
	name string
	sel  Select
}

// Source scrapes one /metrics endpoint for several nodes.
type Source struct {
	name     string
	interval time.Duration
	url      string
	client   *http.Client
	nodes    []node
	state    string
	readOnly bool
	lock     *statelock.Lock
	usage    source.Usage
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu sync.Mutex
	st state
}

// state is what survives between refreshes (and restarts, via StateFile).
type state struct {
	// Window is the window length (seconds) counts are kept in; a state
	// kept with another window starts afresh (counts cannot be re-split).
	Window int64 `json:"window"`
	// LastScrape is the time of the latest successful scrape.
	LastScrape time.Time `json:"last_scrape"`
	// ProcessStart is the process's process_start_time_seconds at that scrape (0 if not exposed).
	ProcessStart float64               `json:"process_start"`
	Nodes        map[string]*nodeState `json:"nodes"`
}

type nodeState struct {
	// Last holds each matching series' value at the latest scrape, keyed by its label set.
	Last map[string]float64 `json:"last"`
	// Counts are increases per window (Unix seconds of the window start).
	Counts map[int64]float64 `json:"counts"`
	// KnownFrom is the first window whose whole increase was observed.
	KnownFrom int64 `json:"known_from"`
	// Unknown are windows after KnownFrom whose increase was lost.
	Unknown map[int64]bool `json:"unknown"`
}

// New builds the source from its configuration and its nodes. readOnly
// sources (the one-shot reconcile command) read the state file but never
// write it, so they cannot disturb a running exporter.
func New(src config.Source, nodes []config.Node, readOnly bool) (*Source, error) {
	var set Settings
	if err := src.DecodeSettings(&set); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(set.URL, "http://") && !strings.HasPrefix(set.URL, "https://") {
		return nil, fmt.Errorf("sources[%s].metrics.url: %q must be an http(s) URL", src.Name, set.URL)
	}
	s := &Source{name: src.Name, interval: src.Interval, url: set.URL, state: set.StateFile, readOnly: readOnly,
		client: &http.Client{}, Now: time.Now}
	for _, n := range nodes {
		var sel Select
		if err := n.DecodeSelect(&sel); err != nil {
			return nil, err
		}
		if sel.Metric == "" {
			return nil, fmt.Errorf("nodes[%s].select.metric: missing (name of a counter exposed at %s)", n.Name, set.URL)
		}
		s.nodes = append(s.nodes, node{name: n.Name, sel: sel})
	}
	s.st = state{Nodes: map[string]*nodeState{}}
	if s.state != "" && !readOnly {
		lock, err := statelock.Acquire(s.state)
		if err != nil {
			return nil, fmt.Errorf("sources[%s].metrics.state_file: %w", src.Name, err)
		}
		s.lock = lock
	}
	if s.state != "" {
		if err := s.load(); err != nil {
			s.lock.Release()
			return nil, err
		}
	}
	return s, nil
}

// Close releases the state file's lock.
func (s *Source) Close() error { return s.lock.Release() }

// Name implements source.Source.
func (s *Source) Name() string { return s.name }

// Kind implements source.Source.
func (s *Source) Kind() string { return config.KindMetrics }

// Interval implements source.Source.
func (s *Source) Interval() time.Duration { return s.interval }

// Usage implements source.Source.
func (s *Source) Usage() *source.Usage { return &s.usage }

const accept = `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3`

// Refresh scrapes once and returns every node's per-window counts.
func (s *Source) Refresh(ctx context.Context, r source.Range) (source.Result, error) {
	fams, err := s.scrape(ctx)
	if err != nil {
		return source.Result{}, err
	}
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.st.clone()
	if w := int64(r.Window / time.Second); next.Window != w {
		next = state{Window: w, Nodes: map[string]*nodeState{}}
	}
	next.observe(fams, s.nodes, now, r.Window)
	next.prune(r.From.Unix())
	if s.state != "" && !s.readOnly {
		if err := next.save(s.state); err != nil {
			return source.Result{}, err
		}
	}
	s.st = next
	return s.st.result(s.nodes, r, now), nil
}

func (s *Source) scrape(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	s.usage.Requests.Add(1)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return nil, fmt.Errorf("scraping %s: HTTP %s: %s", s.url, resp.Status, strings.TrimSpace(string(body)))
	}
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	fams := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("parsing metrics from %s: %w", s.url, err)
		}
		fams[mf.GetName()] = &mf
	}
	return fams, nil
}

// values returns each matching series' value keyed by its label set.
func values(fams map[string]*dto.MetricFamily, sel Select) map[string]float64 {
	out := map[string]float64{}
	mf := fams[sel.Metric]
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range sel.Match {
			if labels[k] != v {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		var v float64
		switch {
		case m.Counter != nil:
			v = m.GetCounter().GetValue()
		case m.Untyped != nil:
			v = m.GetUntyped().GetValue()
		case m.Gauge != nil:
			v = m.GetGauge().GetValue()
		default:
			continue
		}
		out[labelKey(m.GetLabel())] = v
	}
	return out
}

func labelKey(ls []*dto.LabelPair) string {
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func processStart(fams map[string]*dto.MetricFamily) float64 {
	mf := fams["process_start_time_seconds"]
	if mf == nil || len(mf.GetMetric()) == 0 {
		return 0
	}
	m := mf.GetMetric()[0]
	if m.Gauge != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// observe folds one scrape taken at now into the state.
func (st *state) observe(fams map[string]*dto.MetricFamily, nodes []node, now time.Time, window time.Duration) {
	cur := flow.Align(now, window).Unix()
	win := int64(window / time.Second)
	start := processStart(fams)
	first := st.LastScrape.IsZero()
	prev := flow.Align(st.LastScrape, window).Unix()
	restarted := !first && st.ProcessStart != 0 && start != 0 && start != st.ProcessStart
	gap := !first && now.Sub(st.LastScrape) > window
	// The process started inside the current window: everything its
	// counters hold happened in this window.
	freshProcess := start != 0 && start >= float64(cur)
	for _, n := range nodes {
		if n.sel.WindowLabel != "" {
			st.observeWindowed(fams, n, now, window, start, first, restarted)
			continue
		}
		ns := st.Nodes[n.name]
		vals := values(fams, n.sel)
		if ns == nil || first {
			ns = &nodeState{Counts: map[int64]float64{}, Unknown: map[int64]bool{}}
			st.Nodes[n.name] = ns
			if freshProcess {
				ns.KnownFrom = cur
				ns.Counts[cur] += sum(vals)
			} else {
				ns.KnownFrom = cur + win
			}
			ns.Last = vals
			continue
		}
		var inc float64
		for k, v := range vals {
			old, seen := ns.Last[k]
			switch {
			case !seen || v < old:
				// A new series starts from zero; a lower value is a reset.
				inc += v
			default:
				inc += v - old
			}
		}
		ns.Last = vals
		switch {
		case restarted:
			// Increases between the last scrape and the restart are lost
			// somewhere in the windows from the last scrape to now.
			for w := prev; w <= cur; w += win {
				ns.Unknown[w] = true
			}
		case gap:
			// The increase spans windows we cannot split.
			for w := prev + win; w <= cur; w += win {
				ns.Unknown[w] = true
			}
		default:
			ns.Counts[cur] += inc
		}
	}
	st.LastScrape, st.ProcessStart = now, start
}

// retentionMetric says how long plowline run keeps a window's series.
const retentionMetric = "plowline_window_retention_seconds"

// observeWindowed folds one scrape of an event-time node (Select.WindowLabel)
// into the state: every series' increase since the last scrape goes to
// the window its label names.
func (st *state) observeWindowed(fams map[string]*dto.MetricFamily, n node, now time.Time, window time.Duration, start float64, first, restarted bool) {
	cur := flow.Align(now, window).Unix()
	win := int64(window / time.Second)
	vals := values(fams, n.sel)
	var retention int64
	if mf := fams[retentionMetric]; mf != nil && len(mf.GetMetric()) > 0 {
		retention = int64(mf.GetMetric()[0].GetGauge().GetValue())
	}
	windowOf := func(key string) (int64, bool) {
		for part := range strings.SplitSeq(key, ",") {
			if v, ok := strings.CutPrefix(part, n.sel.WindowLabel+"="); ok {
				sec, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, false
				}
				return flow.Align(time.Unix(sec, 0), window).Unix(), true
			}
		}
		return 0, false
	}
	ns := st.Nodes[n.name]
	if ns == nil || first {
		ns = &nodeState{Counts: map[int64]float64{}, Unknown: map[int64]bool{}}
		st.Nodes[n.name] = ns
		// Every window since the process started is complete in its
		// series, as long as they are all still kept.
		switch {
		case start != 0 && (retention == 0 || now.Unix()-int64(start) < retention-win):
			ns.KnownFrom = flow.Align(time.Unix(int64(start), 0), window).Unix()
		case retention > 0:
			ns.KnownFrom = flow.Align(now.Add(-time.Duration(retention)*time.Second), window).Unix() + win
		default:
			ns.KnownFrom = cur + win
		}
		for k, v := range vals {
			if w, ok := windowOf(k); ok {
				ns.Counts[w] += v
			}
		}
		ns.Last = vals
		return
	}
	if restarted {
		// What the old process counted after the last scrape is lost, in
		// the windows between that scrape and now.
		for w := flow.Align(st.LastScrape, window).Unix(); w <= cur; w += win {
			ns.Unknown[w] = true
		}
		ns.Last = map[string]float64{}
	} else if retention > 0 && now.Sub(st.LastScrape) > time.Duration(retention)*time.Second/2 {
		// Series dropped between the scrapes may have grown unseen.
		from := flow.Align(st.LastScrape.Add(-time.Duration(retention)*time.Second), window).Unix()
		for w := from; w <= flow.Align(now.Add(-time.Duration(retention)*time.Second), window).Unix(); w += win {
			ns.Unknown[w] = true
		}
	}
	for k, v := range vals {
		w, ok := windowOf(k)
		if !ok {
			continue
		}
		old, seen := ns.Last[k]
		if !seen || v < old {
			ns.Counts[w] += v
		} else {
			ns.Counts[w] += v - old
		}
	}
	ns.Last = vals
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

func (st *state) prune(from int64) {
	for _, ns := range st.Nodes {
		for w := range ns.Counts {
			if w < from {
				delete(ns.Counts, w)
			}
		}
		for w := range ns.Unknown {
			if w < from {
				delete(ns.Unknown, w)
			}
		}
	}
}

func (st *state) result(nodes []node, r source.Range, now time.Time) source.Result {
	var res source.Result
	for _, n := range nodes {
		ns := st.Nodes[n.name]
		se := source.Series{Node: n.name, Bucketing: source.ArrivalTime, Counts: map[time.Time]float64{}}
		if n.sel.WindowLabel != "" {
			se.Bucketing = source.EventTime
		}
		if ns != nil {
			for _, w := range flow.Windows(r.From, r.To, r.Window) {
				u := w.Unix()
				if u < ns.KnownFrom || ns.Unknown[u] || w.After(now) {
					continue
				}
				se.Counts[w] = ns.Counts[u]
			}
		}
		res.Series = append(res.Series, se)
	}
	return res
}

func (st state) clone() state {
	out := state{Window: st.Window, LastScrape: st.LastScrape, ProcessStart: st.ProcessStart, Nodes: map[string]*nodeState{}}
	for k, ns := range st.Nodes {
		c := &nodeState{KnownFrom: ns.KnownFrom, Last: map[string]float64{}, Counts: map[int64]float64{}, Unknown: map[int64]bool{}}
		for a, b := range ns.Last {
			c.Last[a] = b
		}
		for a, b := range ns.Counts {
			c.Counts[a] = b
		}
		for a, b := range ns.Unknown {
			c.Unknown[a] = b
		}
		out.Nodes[k] = c
	}
	return out
}

func (s *Source) load() error {
	data, err := os.ReadFile(s.state)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading state of source %s: %w", s.name, err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("state file %s of source %s is corrupt (delete it to start counting afresh): %w", s.state, s.name, err)
	}
	if st.Nodes == nil {
		st.Nodes = map[string]*nodeState{}
	}
	for _, ns := range st.Nodes {
		if ns.Counts == nil {
			ns.Counts = map[int64]float64{}
		}
		if ns.Unknown == nil {
			ns.Unknown = map[int64]bool{}
		}
		for k, v := range ns.Last {
			if math.IsNaN(v) {
				delete(ns.Last, k)
			}
		}
	}
	s.st = st
	return nil
}

func (st state) save(path string) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

// writeAtomic writes via a temporary file and rename so a crash never
// leaves a half-written state file.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating state directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing state %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing state %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing state %s: %w", path, err)
	}
	return nil
}
