// Package flow judges the flow graph: it aligns time into windows, decides
// which windows are settled, and for every edge and window compares what
// the upstream node counted with what the downstream node(s) counted.
//
// Everything here is a pure function of counts and clocks, so the whole
// reconciliation logic is tested without any source.
package flow

import (
	"math"
	"sort"
	"time"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/source"
)

// Align returns the start of the window containing t (windows are aligned
// to the Unix epoch in UTC, so 1h windows start on the hour).
func Align(t time.Time, window time.Duration) time.Time {
	return t.UTC().Truncate(window)
}

// Windows returns the starts of the whole windows overlapping [from, to),
// oldest first.
func Windows(from, to time.Time, window time.Duration) []time.Time {
	if window <= 0 || !to.After(from) {
		return nil
	}
	var out []time.Time
	for w := Align(from, window); w.Before(to); w = w.Add(window) {
		out = append(out, w)
	}
	return out
}

// Settled reports whether the window starting at start is settled at now
// for an edge with the given latency budget: now is at or past its end plus
// the budget.
func Settled(start time.Time, window, budget time.Duration, now time.Time) bool {
	return !now.Before(start.Add(window + budget))
}

// Node is one node's counts and how fresh they are.
type Node struct {
	Name      string
	Kind      string
	Bucketing source.Bucketing
	// Counts per window start. A window missing from the map is unknown
	// (the source has no data for it), which is not the same as zero.
	Counts map[time.Time]float64
	// AsOf is when the source read these counts (start of its last
	// successful refresh); a window can only be judged from counts read
	// after it settled. Zero means the source never succeeded.
	AsOf time.Time
}

// Status is the outcome of judging one edge in one window.
type Status string

// Statuses of a judged window.
const (
	// Pending: the window is not settled yet (or a source has not read it since it settled).
	Pending Status = "pending"
	// Unknown: settled, but a node has no count for the window.
	Unknown Status = "unknown"
	// OK: within tolerance.
	OK Status = "ok"
	// Out: out of tolerance.
	Out Status = "out"
)

// Judgement is one edge in one window.
type Judgement struct {
	Window time.Time
	Status Status
	// Expected is the upstream count; Observed the downstream count (good +
	// bad for a split edge).
	Expected, Observed float64
	// Discrepancy is Expected − Observed: positive means events lost,
	// negative means more arrived downstream (duplicates, or early arrival).
	Discrepancy float64
	// Ratio is Discrepancy / Expected (±1 when Expected is 0 and Observed is not).
	Ratio float64
	// Allowed is the tolerance in events for this window.
	Allowed float64
}

// Judge compares the counts of one edge for one window. second is the
// to_bad node's counts for a split edge, the from_also node's for a merge
// (nil otherwise). A missing count makes the judgement Unknown.
func Judge(e config.Edge, from, to, second map[time.Time]float64, w time.Time) Judgement {
	j := Judgement{Window: w}
	exp, ok1 := from[w]
	obs, ok2 := to[w]
	ok3 := true
	switch e.Relation {
	case config.RelationSplit:
		var v float64
		v, ok3 = second[w]
		obs += v
	case config.RelationMerge:
		var v float64
		v, ok3 = second[w]
		exp += v
	}
	if !ok1 || !ok2 || !ok3 {
		j.Status = Unknown
		return j
	}
	j.Expected, j.Observed = exp, obs
	j.Discrepancy = exp - obs
	switch {
	case exp != 0:
		j.Ratio = j.Discrepancy / exp
	case obs != 0:
		j.Ratio = -math.Copysign(1, obs)
	}
	j.Allowed = math.Max(e.Tolerance.Ratio*math.Abs(exp), e.Tolerance.Events)
	out := math.Abs(j.Discrepancy) > j.Allowed
	if e.Relation == config.RelationGe {
		// At-least-once downstream: only a shortfall counts.
		out = j.Discrepancy > j.Allowed
	}
	j.Status = OK
	if out {
		j.Status = Out
	}
	return j
}

// EdgeReport is one edge judged over the lookback.
type EdgeReport struct {
	Edge config.Edge
	// Windows are all windows of the lookback, oldest first.
	Windows []Judgement
	// Latest is the latest judged (OK or Out) window; nil if none is.
	Latest *Judgement
	// OutOfTolerance counts judged windows out of tolerance.
	OutOfTolerance int
	// Since is the start of the earliest window of the current run of
	// out-of-tolerance windows (unjudged windows inside the run neither
	// break nor extend it); zero when the latest judged window is OK.
	Since time.Time
}

// Report is the whole graph judged at one instant.
type Report struct {
	Now      time.Time
	Window   time.Duration
	Windows  []time.Time
	Nodes    []Node
	Edges    []EdgeReport
	Lookback time.Duration
}

// Evaluate judges every edge over the windows of [now−lookback, now).
// nodes maps node name to its counts.
func Evaluate(cfg config.Config, nodes map[string]Node, now time.Time) Report {
	return EvaluateRange(cfg, nodes, now.Add(-cfg.Lookback), now, now)
}

// EvaluateRange judges every edge over the windows overlapping [from, to)
// as they stand at now.
func EvaluateRange(cfg config.Config, nodes map[string]Node, from, to, now time.Time) Report {
	r := Report{Now: now, Window: cfg.Window, Lookback: to.Sub(from), Windows: Windows(from, to, cfg.Window)}
	for _, n := range cfg.Nodes {
		nn := nodes[n.Name]
		nn.Name = n.Name
		r.Nodes = append(r.Nodes, nn)
	}
	for _, e := range cfg.Edges {
		r.Edges = append(r.Edges, evaluateEdge(e, nodes, r.Windows, cfg.Window, now))
	}
	return r
}

func evaluateEdge(e config.Edge, nodes map[string]Node, windows []time.Time, window time.Duration, now time.Time) EdgeReport {
	er := EdgeReport{Edge: e}
	from, to := nodes[e.From], nodes[e.To]
	second := nodes[e.ToBad]
	if e.Relation == config.RelationMerge {
		second = nodes[e.FromAlso]
	}
	asOf := minTime(from.AsOf, to.AsOf)
	if e.Relation == config.RelationSplit || e.Relation == config.RelationMerge {
		asOf = minTime(asOf, second.AsOf)
	}
	for _, w := range windows {
		var j Judgement
		switch {
		case !Settled(w, window, e.LatencyBudget, now):
			j = Judgement{Window: w, Status: Pending}
		case asOf.IsZero():
			// A source never succeeded: settled, but nothing to judge with.
			j = Judgement{Window: w, Status: Unknown}
		case !Settled(w, window, e.LatencyBudget, asOf):
			// Settled, but not read since: the counts may still grow.
			j = Judgement{Window: w, Status: Pending}
		default:
			j = Judge(e, from.Counts, to.Counts, second.Counts, w)
		}
		er.Windows = append(er.Windows, j)
	}
	runOpen := true
	for i := len(er.Windows) - 1; i >= 0; i-- {
		j := er.Windows[i]
		if j.Status != OK && j.Status != Out {
			continue
		}
		if er.Latest == nil {
			jj := j
			er.Latest = &jj
		}
		if j.Status == Out {
			er.OutOfTolerance++
			if runOpen {
				er.Since = j.Window
			}
		} else {
			runOpen = false
		}
	}
	return er
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Failing returns the edges whose latest judged window is out of tolerance,
// sorted by name.
func (r Report) Failing() []EdgeReport {
	var out []EdgeReport
	for _, e := range r.Edges {
		if e.Latest != nil && e.Latest.Status == Out {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Edge.Name < out[j].Edge.Name })
	return out
}

// AnyOut reports whether any judged window of any edge is out of tolerance.
func (r Report) AnyOut() bool {
	for _, e := range r.Edges {
		if e.OutOfTolerance > 0 {
			return true
		}
	}
	return false
}
