// Package report renders a judged flow graph for people: the table
// `plowline reconcile` prints, the same as JSON, and the exporter's HTML
// page — stages × recent windows, out-of-tolerance cells marked, with the
// sources' health beside it.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plowline/plowline/exporter/canary"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/flow"
	"github.com/plowline/plowline/exporter/refresh"
)

// Table is everything rendered, in a shape JSON keeps readable.
type Table struct {
	Now     time.Time   `json:"now"`
	Window  string      `json:"window"`
	From    time.Time   `json:"from"`
	To      time.Time   `json:"to"`
	Windows []time.Time `json:"windows"`
	Nodes   []NodeRow   `json:"nodes"`
	Edges   []EdgeRow   `json:"edges"`
	Failing []Finding   `json:"failing"`
	// Recovered are edges out of tolerance in some window of the range
	// whose latest judged window is back within tolerance.
	Recovered []Finding    `json:"recovered,omitempty"`
	Sources   []SourceRow  `json:"sources"`
	Canary    *CanaryTable `json:"canary,omitempty"`
	OutOfTol  bool         `json:"out_of_tolerance"`
	// Unjudged are edges with settled windows but none judged: a count
	// was unknown in every one of them.
	Unjudged  []string `json:"unjudged_edges,omitempty"`
	Truncated int      `json:"windows_not_shown,omitempty"`
}

// NodeRow is one node's counts per window; nil means unknown.
type NodeRow struct {
	Name      string     `json:"name"`
	Source    string     `json:"source"`
	Kind      string     `json:"kind"`
	Bucketing string     `json:"bucketing"`
	Help      string     `json:"help,omitempty"`
	Counts    []*float64 `json:"counts"`
}

// EdgeRow is one edge judged per window.
type EdgeRow struct {
	Name           string    `json:"name"`
	From           string    `json:"from"`
	To             string    `json:"to"`
	Relation       string    `json:"relation"`
	ToleranceRatio float64   `json:"tolerance_ratio"`
	ToleranceEvent float64   `json:"tolerance_events"`
	LatencyBudget  string    `json:"latency_budget"`
	Help           string    `json:"help,omitempty"`
	Cells          []Cell    `json:"windows"`
	OutOfTolerance int       `json:"windows_out_of_tolerance"`
	Since          time.Time `json:"out_of_tolerance_since,omitzero"`
}

// Cell is one edge in one window.
type Cell struct {
	Window      time.Time `json:"window"`
	Status      string    `json:"status"`
	Expected    float64   `json:"expected"`
	Observed    float64   `json:"observed"`
	Discrepancy float64   `json:"discrepancy"`
	Ratio       float64   `json:"ratio"`
	Allowed     float64   `json:"allowed"`
}

// Finding is an edge whose latest judged window is out of tolerance.
type Finding struct {
	Edge        string    `json:"edge"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Window      time.Time `json:"window"`
	Discrepancy float64   `json:"discrepancy"`
	Ratio       float64   `json:"ratio"`
	Since       time.Time `json:"since"`
	Windows     int       `json:"windows_out_of_tolerance"`
}

// SourceRow is one source's health.
type SourceRow struct {
	Name        string           `json:"name"`
	Kind        string           `json:"kind"`
	Up          bool             `json:"up"`
	LastSuccess time.Time        `json:"last_success,omitzero"`
	Duration    string           `json:"refresh_duration"`
	Errors      int64            `json:"errors"`
	LastError   string           `json:"last_error,omitempty"`
	Requests    int64            `json:"requests"`
	Costs       map[string]int64 `json:"costs,omitempty"`
}

// CanaryTable is the canary's state.
type CanaryTable struct {
	Sent         int64         `json:"sent"`
	SendFailures int64         `json:"send_failures"`
	LastSent     time.Time     `json:"last_sent,omitzero"`
	Stages       []CanaryStage `json:"stages"`
}

// CanaryStage is one stage of the canary.
type CanaryStage struct {
	Stage     string    `json:"stage"`
	Seen      int64     `json:"seen"`
	Lost      int64     `json:"lost"`
	Latency   float64   `json:"latency_seconds"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// Build assembles the table from a judged report, showing at most
// maxWindows of the most recent windows (0: all).
func Build(cfg config.Config, r flow.Report, states []refresh.State, ks *canary.Status, maxWindows int) Table {
	t := Table{Now: r.Now.UTC(), Window: cfg.Window.String(), Windows: r.Windows}
	if len(r.Windows) > 0 {
		t.From, t.To = r.Windows[0], r.Windows[len(r.Windows)-1].Add(r.Window)
	}
	skip := 0
	if maxWindows > 0 && len(r.Windows) > maxWindows {
		skip = len(r.Windows) - maxWindows
		t.Windows = r.Windows[skip:]
		t.Truncated = skip
	}
	srcOf := map[string]config.Node{}
	for _, n := range cfg.Nodes {
		srcOf[n.Name] = n
	}
	kindOf := map[string]string{}
	for _, s := range cfg.Sources {
		kindOf[s.Name] = s.Kind
	}
	for _, n := range r.Nodes {
		cn := srcOf[n.Name]
		row := NodeRow{Name: n.Name, Source: cn.Source, Kind: kindOf[cn.Source], Bucketing: string(n.Bucketing), Help: cn.Help}
		for _, w := range t.Windows {
			if v, ok := n.Counts[w]; ok {
				row.Counts = append(row.Counts, &v)
			} else {
				row.Counts = append(row.Counts, nil)
			}
		}
		t.Nodes = append(t.Nodes, row)
	}
	for _, er := range r.Edges {
		e := er.Edge
		row := EdgeRow{Name: e.Name, From: e.FromLabel(), To: e.ToLabel(), Relation: e.Relation, ToleranceRatio: e.Tolerance.Ratio,
			ToleranceEvent: e.Tolerance.Events, LatencyBudget: e.LatencyBudget.String(), Help: e.Help,
			OutOfTolerance: er.OutOfTolerance, Since: er.Since}
		for _, j := range er.Windows[skip:] {
			row.Cells = append(row.Cells, Cell{Window: j.Window, Status: string(j.Status), Expected: j.Expected,
				Observed: j.Observed, Discrepancy: j.Discrepancy, Ratio: finite(j.Ratio), Allowed: j.Allowed})
		}
		t.Edges = append(t.Edges, row)
		if er.OutOfTolerance > 0 {
			t.OutOfTol = true
		}
		settled, judged := 0, 0
		for _, j := range er.Windows {
			switch j.Status {
			case flow.OK, flow.Out:
				judged++
				settled++
			case flow.Unknown:
				settled++
			}
		}
		if settled > 0 && judged == 0 {
			t.Unjudged = append(t.Unjudged, e.Name)
		}
	}
	for _, er := range r.Failing() {
		t.Failing = append(t.Failing, Finding{Edge: er.Edge.Name, From: er.Edge.FromLabel(), To: er.Edge.ToLabel(), Window: er.Latest.Window,
			Discrepancy: er.Latest.Discrepancy, Ratio: finite(er.Latest.Ratio), Since: er.Since, Windows: er.OutOfTolerance})
	}
	failing := map[string]bool{}
	for _, f := range t.Failing {
		failing[f.Edge] = true
	}
	for _, er := range r.Edges {
		if er.OutOfTolerance == 0 || failing[er.Edge.Name] {
			continue
		}
		f := Finding{Edge: er.Edge.Name, From: er.Edge.FromLabel(), To: er.Edge.ToLabel(), Windows: er.OutOfTolerance}
		var expected float64
		for _, j := range er.Windows {
			if j.Status != flow.Out {
				continue
			}
			if f.Since.IsZero() {
				f.Since = j.Window
			}
			f.Window = j.Window
			f.Discrepancy += j.Discrepancy
			expected += j.Expected
		}
		if expected != 0 {
			f.Ratio = f.Discrepancy / expected
		}
		t.Recovered = append(t.Recovered, f)
	}
	for _, s := range states {
		row := SourceRow{Name: s.Name, Kind: s.Kind, Up: s.Up, LastSuccess: s.LastSuccess, Duration: s.Duration.Round(time.Millisecond).String(),
			Errors: s.Errors, LastError: s.LastError}
		if s.Usage != nil {
			row.Requests = s.Usage.Requests.Load()
			row.Costs = s.Usage.Costs()
		}
		t.Sources = append(t.Sources, row)
	}
	if ks != nil {
		ct := &CanaryTable{Sent: ks.Sent, SendFailures: ks.SendFailures, LastSent: ks.LastSent}
		for _, st := range ks.Stages {
			ct.Stages = append(ct.Stages, CanaryStage{Stage: st.Stage, Seen: st.Seen, Lost: st.Lost, Latency: st.Latency.Seconds(),
				LastSeen: st.LastSeen, LastError: st.LastError})
		}
		t.Canary = ct
	}
	return t
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// WriteJSON writes the table as indented JSON.
func (t Table) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// windowLabel is a column heading: the time of day, with the date when
// the range spans days.
func (t Table) windowLabel(w time.Time) string {
	if !t.From.IsZero() && t.To.Sub(t.From) > 24*time.Hour {
		return w.Format("01-02 15:04")
	}
	if t.Window != "" {
		if d, err := time.ParseDuration(t.Window); err == nil && d < time.Minute {
			return w.Format("15:04:05")
		}
	}
	return w.Format("15:04")
}

// Num formats a count: whole numbers without decimals.
func Num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// CellText is how an edge cell reads in the terminal and on the page.
func CellText(c Cell) string {
	switch c.Status {
	case string(flow.OK):
		if c.Discrepancy == 0 {
			return "ok"
		}
		return "ok, " + signed(c.Discrepancy)
	case string(flow.Out):
		return fmt.Sprintf("OUT %s (%.1f%%)", signed(c.Discrepancy), 100*c.Ratio)
	case string(flow.Unknown):
		return "?"
	}
	return "…"
}

func signed(v float64) string {
	if v > 0 {
		return Num(v) + " lost"
	}
	return Num(-v) + " extra"
}

// WriteText writes the table for a terminal.
func (t Table) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "plowline reconcile: windows of %s from %s to %s (now %s)\n", t.Window,
		t.From.Format("2006-01-02 15:04"), t.To.Format("2006-01-02 15:04 MST"), t.Now.Format("15:04:05"))
	if t.Truncated > 0 {
		fmt.Fprintf(w, "(%d older windows not shown)\n", t.Truncated)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"NODE", "SOURCE", "BUCKETING"}
	for _, win := range t.Windows {
		head = append(head, t.windowLabel(win))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, n := range t.Nodes {
		cols := []string{n.Name, n.Source, n.Bucketing}
		for _, c := range n.Counts {
			if c == nil {
				cols = append(cols, "?")
			} else {
				cols = append(cols, Num(*c))
			}
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	}
	fmt.Fprintln(tw)
	head = []string{"EDGE", "RELATION", "TOLERANCE"}
	for _, win := range t.Windows {
		head = append(head, t.windowLabel(win))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, e := range t.Edges {
		cols := []string{e.Name, e.From + " " + relSymbol(e.Relation) + " " + e.To, tolText(e.ToleranceRatio, e.ToleranceEvent)}
		for _, c := range e.Cells {
			cols = append(cols, CellText(c))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n(… = not settled yet: within the edge's latency budget or not read since; ? = a count is unknown)")
	fmt.Fprintln(w)
	if len(t.Unjudged) > 0 {
		fmt.Fprintf(w, "NOT JUDGED (a count is unknown in every settled window): %s\n", strings.Join(t.Unjudged, ", "))
	}
	if len(t.Recovered) > 0 {
		fmt.Fprintln(w, "OUT OF TOLERANCE EARLIER IN THE RANGE (latest judged window back within tolerance):")
		for _, f := range t.Recovered {
			fmt.Fprintf(w, "  %s (%s → %s): %s over %d window(s) from %s to %s (%.2f%%)\n",
				f.Edge, f.From, f.To, strings.TrimSpace(signed(f.Discrepancy)), f.Windows, f.Since.Format("2006-01-02 15:04:05"),
				f.Window.Format("15:04:05 MST"), 100*f.Ratio)
		}
	}
	if len(t.Failing) == 0 {
		if !t.OutOfTol {
			fmt.Fprintln(w, "Every judged window of every edge is within tolerance.")
		}
	} else {
		fmt.Fprintln(w, "OUT OF TOLERANCE:")
		for _, f := range t.Failing {
			fmt.Fprintf(w, "  %s (%s → %s): %s in window %s (%.2f%%), out of tolerance since %s (%d windows)\n",
				f.Edge, f.From, f.To, strings.TrimSpace(signed(f.Discrepancy)), f.Window.Format("2006-01-02 15:04"),
				100*f.Ratio, f.Since.Format("2006-01-02 15:04 MST"), f.Windows)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tKIND\tUP\tLAST SUCCESS\tDURATION\tERRORS\tLAST ERROR")
	for _, s := range t.Sources {
		last := "never"
		if !s.LastSuccess.IsZero() {
			last = s.LastSuccess.UTC().Format("15:04:05")
		}
		up := "up"
		if !s.Up {
			up = "DOWN"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.Name, s.Kind, up, last, s.Duration, s.Errors, s.LastError)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if t.Canary != nil {
		fmt.Fprintf(w, "\nCANARY: %d sent, %d not accepted\n", t.Canary.Sent, t.Canary.SendFailures)
		for _, s := range t.Canary.Stages {
			fmt.Fprintf(w, "  %-14s seen %d, lost %d, latest latency %.1fs\n", s.Stage, s.Seen, s.Lost, s.Latency)
		}
	}
	return nil
}

func relSymbol(r string) string {
	switch r {
	case config.RelationEq:
		return "="
	case config.RelationGe:
		return "≤"
	case config.RelationSplit:
		return "= (split)"
	case config.RelationMerge:
		return "= (merge)"
	}
	return r
}

func tolText(ratio, events float64) string {
	parts := []string{}
	if ratio > 0 {
		parts = append(parts, fmt.Sprintf("%g%%", 100*ratio))
	}
	if events > 0 {
		parts = append(parts, Num(events)+" ev")
	}
	if len(parts) == 0 {
		return "exact"
	}
	sort.Strings(parts)
	return strings.Join(parts, " or ")
}
