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
	Now    time.Time `json:"now"`
	Window string    `json:"window"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// RootCause are the failing edges where a discrepancy starts: no
	// failing edge is upstream of them. Read them first.
	RootCause []Incident `json:"root_cause,omitempty"`
	// Incidents are all failing edges (root causes and the edges that
	// inherit them), each summed since its run began, in pipeline order.
	Incidents []Incident `json:"incidents,omitempty"`
	// Earlier are the columns summarising the windows older than Windows
	// (when more windows than the maximum shown were asked for); Nodes'
	// and Edges' Earlier values are aligned with it.
	Earlier []Span `json:"earlier,omitempty"`
	// Windows are the windows shown one by one, oldest first.
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
	Unjudged []string `json:"unjudged_edges,omitempty"`
	// Truncated is how many older windows are not shown one by one (they
	// are summarised in Earlier).
	Truncated int `json:"windows_not_shown,omitempty"`
}

// NodeRow is one node's counts per window; nil means unknown.
type NodeRow struct {
	Name      string     `json:"name"`
	Source    string     `json:"source"`
	Kind      string     `json:"kind"`
	Bucketing string     `json:"bucketing"`
	Help      string     `json:"help,omitempty"`
	Earlier   []NodeSum  `json:"earlier,omitempty"`
	Counts    []*float64 `json:"counts"`
}

// EdgeRow is one edge judged per window.
type EdgeRow struct {
	Name           string  `json:"name"`
	From           string  `json:"from"`
	To             string  `json:"to"`
	Relation       string  `json:"relation"`
	ToleranceRatio float64 `json:"tolerance_ratio"`
	ToleranceEvent float64 `json:"tolerance_events"`
	LatencyBudget  string  `json:"latency_budget"`
	Help           string  `json:"help,omitempty"`
	// Earlier summarises the older windows, aligned with Table.Earlier.
	Earlier        []Cell    `json:"earlier,omitempty"`
	Cells          []Cell    `json:"windows"`
	OutOfTolerance int       `json:"windows_out_of_tolerance"`
	Since          time.Time `json:"out_of_tolerance_since,omitzero"`
	// RootCause marks a failing edge with no failing edge upstream.
	RootCause bool `json:"root_cause,omitempty"`
}

// Cell is one edge in one window, or summed over a span of windows.
type Cell struct {
	Window      time.Time `json:"window"`
	Status      string    `json:"status"`
	Expected    float64   `json:"expected"`
	Observed    float64   `json:"observed"`
	Discrepancy float64   `json:"discrepancy"`
	Ratio       float64   `json:"ratio"`
	Allowed     float64   `json:"allowed"`
	// End, Windows and OutWindows are set on a summary of several
	// windows: where it ends, how many windows it covers and how many of
	// them are out of tolerance.
	End        time.Time `json:"end,omitzero"`
	Windows    int       `json:"windows,omitempty"`
	OutWindows int       `json:"windows_out,omitempty"`
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
	Stage   string  `json:"stage"`
	Seen    int64   `json:"seen"`
	Lost    int64   `json:"lost"`
	Latency float64 `json:"latency_seconds"`
	// Observed counts the events whose latency was measured (one each),
	// MeanLatency their mean and MaxRecent the largest among the recent
	// ones.
	Observed    uint64    `json:"latency_observations"`
	MeanLatency float64   `json:"latency_mean_seconds"`
	MaxRecent   float64   `json:"latency_max_recent_seconds"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// Build assembles the table from a judged report. maxWindows is how many
// of the most recent windows are shown one by one (0: all); older ones are
// summarised in a few columns (Earlier), never dropped, and the root cause
// and incident totals always cover the whole range.
func Build(cfg config.Config, r flow.Report, states []refresh.State, ks *canary.Status, maxWindows int) Table {
	t := Table{Now: r.Now.UTC(), Window: cfg.Window.String(), Windows: r.Windows}
	if len(r.Windows) > 0 {
		t.From, t.To = r.Windows[0], r.Windows[len(r.Windows)-1].Add(r.Window)
	}
	skip := 0
	var groups [][2]int
	if maxWindows > 0 && len(r.Windows) > maxWindows {
		skip = len(r.Windows) - maxWindows
		t.Windows = r.Windows[skip:]
		t.Truncated = skip
		t.Earlier, groups = groupWindows(r.Windows[:skip], r.Window, maxEarlierGroups)
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
		for _, g := range groups {
			row.Earlier = append(row.Earlier, sumCounts(n.Counts, r.Windows[g[0]:g[1]]))
		}
		for _, w := range t.Windows {
			if v, ok := n.Counts[w]; ok {
				row.Counts = append(row.Counts, &v)
			} else {
				row.Counts = append(row.Counts, nil)
			}
		}
		t.Nodes = append(t.Nodes, row)
	}
	t.RootCause = rootCauses(r)
	roots := map[string]bool{}
	for _, in := range t.RootCause {
		roots[in.Edge] = true
	}
	for _, er := range r.Edges {
		e := er.Edge
		row := EdgeRow{Name: e.Name, From: e.FromLabel(), To: e.ToLabel(), Relation: e.Relation, ToleranceRatio: e.Tolerance.Ratio,
			ToleranceEvent: e.Tolerance.Events, LatencyBudget: e.LatencyBudget.String(), Help: e.Help,
			OutOfTolerance: er.OutOfTolerance, Since: er.Since, RootCause: roots[e.Name]}
		for i, g := range groups {
			row.Earlier = append(row.Earlier, aggregate(er.Windows[g[0]:g[1]], t.Earlier[i]))
		}
		for _, j := range er.Windows[skip:] {
			row.Cells = append(row.Cells, Cell{Window: j.Window, Status: string(j.Status), Expected: j.Expected,
				Observed: j.Observed, Discrepancy: j.Discrepancy, Ratio: finite(j.Ratio), Allowed: j.Allowed})
		}
		t.Edges = append(t.Edges, row)
		if er.OutOfTolerance > 0 {
			t.OutOfTol = true
		}
		if er.Latest != nil && er.Latest.Status == flow.Out {
			t.Incidents = append(t.Incidents, incident(er))
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
			cs := CanaryStage{Stage: st.Stage, Seen: st.Seen, Lost: st.Lost, Latency: st.Latency.Seconds(),
				LastSeen: st.LastSeen, LastError: st.LastError, Observed: st.Latencies.Count, MaxRecent: st.MaxRecent().Seconds()}
			if st.Latencies.Count > 0 {
				cs.MeanLatency = st.Latencies.Sum / float64(st.Latencies.Count)
			}
			ct.Stages = append(ct.Stages, cs)
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

// spanLabel is the heading of a summary column: its start and end.
func (t Table) spanLabel(s Span) string {
	return t.windowLabel(s.Start) + "–" + t.windowLabel(s.End)
}

// Num formats a count: whole numbers without decimals.
func Num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// Amount says a discrepancy in words: "45 lost" for a positive one (fewer
// downstream than expected), "31 duplicated" for a negative one (more
// downstream), never a negative number.
func Amount(discrepancy float64) string {
	if discrepancy < 0 {
		return Num(-discrepancy) + " " + Duplicated
	}
	return Num(discrepancy) + " " + Lost
}

// Marks in the edge cells, shared by the terminal, the page and the
// runbooks' reading guide (which is generated from Legend).
const (
	MarkOK      = "ok"
	MarkOut     = "OUT"
	MarkPending = "…"
	MarkUnknown = "?"
)

// Headings of the terminal output, shared with the runbooks' reading guide.
const (
	HeadRootCause = "ROOT CAUSE"
	HeadAlsoOut   = "ALSO OUT OF TOLERANCE"
	HeadRecovered = "OUT OF TOLERANCE EARLIER IN THE RANGE"
	HeadAllWithin = "Every judged window of every edge is within tolerance."
	HeadNodes     = "NODE"
	HeadEdges     = "EDGE"
	HeadSources   = "SOURCE"
	HeadCanary    = "CANARY"
)

// LegendItem explains one mark of the edge cells.
type LegendItem struct{ Example, Meaning string }

// Legend explains every form an edge cell takes; the terminal output, the
// page and the runbooks print it from here, and a test renders each form
// through CellText to keep the examples true.
var Legend = []LegendItem{
	{MarkOK, "within tolerance, no discrepancy"},
	{MarkOK + ", 2 " + Lost, "within tolerance: 2 events fewer downstream than expected, inside the edge's tolerance"},
	{MarkOut + " 45 " + Lost + " (14.3%)", "out of tolerance: 45 events (14.3% of expected) did not arrive downstream"},
	{MarkOut + " 31 " + Duplicated + " (3.1%)", "out of tolerance: 31 events more downstream than upstream (retries delivering twice)"},
	{MarkOut + " 3/60w, 120 " + Lost, "a summary column of older windows: 3 of its 60 windows out of tolerance, 120 events lost over them"},
	{MarkPending, "not settled yet: within the edge's latency budget, or not read since (do not judge it)"},
	{MarkUnknown, "a count is unknown (its source failed or has no data for the window)"},
}

// CellText is how an edge cell reads in the terminal and on the page.
func CellText(c Cell) string {
	switch c.Status {
	case string(flow.OK):
		if c.Discrepancy == 0 {
			return MarkOK
		}
		return MarkOK + ", " + Amount(c.Discrepancy)
	case string(flow.Out):
		if c.Windows > 1 {
			return fmt.Sprintf("%s %d/%dw, %s", MarkOut, c.OutWindows, c.Windows, Amount(c.Discrepancy))
		}
		return fmt.Sprintf("%s %s (%.1f%%)", MarkOut, Amount(c.Discrepancy), 100*math.Abs(c.Ratio))
	case string(flow.Unknown):
		return MarkUnknown
	}
	return MarkPending
}

// nodeSumText is a node's count over a summary column: "?" when unknown
// throughout, "≥n" when some of its windows are unknown.
func nodeSumText(s NodeSum) string {
	switch {
	case s.Count == nil:
		return MarkUnknown
	case s.Unknown > 0:
		return "≥" + Num(*s.Count)
	}
	return Num(*s.Count)
}

// stamp formats an instant to the minute, or to the second when it is
// not on a minute (windows shorter than a minute).
func stamp(t time.Time, withDate bool) string {
	layout := "15:04"
	if t.Second() != 0 {
		layout = "15:04:05"
	}
	if withDate {
		layout = "2006-01-02 " + layout + " MST"
	}
	return t.UTC().Format(layout)
}

// SinceText says when an incident began, and whether the range clamped it
// (rangeHint says how to widen the range: "widen --from").
func SinceText(in Incident, rangeHint string) string {
	s := "since " + stamp(in.Since, true)
	switch {
	case in.SinceIsRangeStart:
		s += " (clamped: out of tolerance from the first window of the range, so it may have begun earlier; " + rangeHint + ")"
	case in.SinceClamped:
		s += " (clamped: the earlier windows of the range could not be judged, their counts are unknown)"
	}
	return s
}

// TotalText is an incident's total in words: "65 lost", "90 duplicated",
// or for a run whose windows go both ways "net 2 lost (5 lost and 3
// duplicated in different windows)".
func TotalText(in Incident) string {
	s := Num(in.Events) + " " + in.Direction
	if in.LostEvents > 0 && in.DuplicatedEvents > 0 {
		s = fmt.Sprintf("net %s (%s %s and %s %s in different windows: events counted a window late or early, or both a loss and duplicates)",
			s, Num(in.LostEvents), Lost, Num(in.DuplicatedEvents), Duplicated)
	}
	return s
}

// IncidentText is one incident in a line: edge, direction and total since
// it began, share of expected, since when, and the latest window.
func IncidentText(in Incident, rangeHint string) string {
	return fmt.Sprintf("%s (%s → %s): %s (%.2f%% of %s expected) %s, %d window(s) out of tolerance; latest window %s: %s",
		in.Edge, in.From, in.To, TotalText(in), 100*in.Ratio, Num(in.Expected), SinceText(in, rangeHint),
		in.Windows, stamp(in.Latest, false), Amount(in.LatestEvents))
}

// WriteText writes the table for a terminal: the root cause first, then
// edges and nodes × windows, then the sources' health and the canary.
func (t Table) WriteText(w io.Writer) error {
	const hint = "widen --from to see when it began"
	fmt.Fprintf(w, "plowline reconcile: windows of %s from %s to %s (now %s)\n", t.Window,
		t.From.Format("2006-01-02 15:04"), t.To.Format("2006-01-02 15:04 MST"), t.Now.Format("15:04:05"))
	fmt.Fprintln(w)
	for _, in := range t.RootCause {
		fmt.Fprintf(w, "%s: %s\n", HeadRootCause, IncidentText(in, hint))
		if len(in.Downstream) > 0 {
			fmt.Fprintf(w, "  downstream edges also out of tolerance, most likely inheriting it: %s\n", strings.Join(in.Downstream, ", "))
		}
	}
	roots := map[string]bool{}
	for _, in := range t.RootCause {
		roots[in.Edge] = true
	}
	var also []Incident
	for _, in := range t.Incidents {
		if !roots[in.Edge] {
			also = append(also, in)
		}
	}
	if len(also) > 0 {
		fmt.Fprintf(w, "%s (downstream of a root cause):\n", HeadAlsoOut)
		for _, in := range also {
			fmt.Fprintf(w, "  %s\n", IncidentText(in, hint))
		}
	}
	if len(t.Recovered) > 0 {
		fmt.Fprintf(w, "%s (latest judged window back within tolerance):\n", HeadRecovered)
		for _, f := range t.Recovered {
			fmt.Fprintf(w, "  %s (%s → %s): %s over %d window(s) from %s to %s (%.2f%%)\n",
				f.Edge, f.From, f.To, Amount(f.Discrepancy), f.Windows, f.Since.Format("2006-01-02 15:04:05"),
				f.Window.Format("15:04:05 MST"), 100*math.Abs(f.Ratio))
		}
	}
	if len(t.Incidents) == 0 && !t.OutOfTol {
		fmt.Fprintln(w, HeadAllWithin)
	}
	if len(t.Unjudged) > 0 {
		fmt.Fprintf(w, "NOT JUDGED (a count is unknown in every settled window): %s\n", strings.Join(t.Unjudged, ", "))
	}
	fmt.Fprintln(w)
	if t.Truncated > 0 {
		fmt.Fprintf(w, "(%d older windows summarised in %d column(s); --windows 0 shows every window)\n", t.Truncated, len(t.Earlier))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	heads := func(first ...string) string {
		for _, s := range t.Earlier {
			first = append(first, t.spanLabel(s))
		}
		for _, win := range t.Windows {
			first = append(first, t.windowLabel(win))
		}
		return strings.Join(first, "\t") + "\t"
	}
	fmt.Fprintln(tw, heads(HeadEdges, "RELATION", "TOLERANCE"))
	for _, e := range t.Edges {
		name := e.Name
		if e.RootCause {
			name = "▶ " + name
		}
		cols := []string{name, e.From + " " + relSymbol(e.Relation) + " " + e.To, tolText(e.ToleranceRatio, e.ToleranceEvent)}
		for _, c := range e.Earlier {
			cols = append(cols, CellText(c))
		}
		for _, c := range e.Cells {
			cols = append(cols, CellText(c))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, heads(HeadNodes, "SOURCE", "BUCKETING"))
	for _, n := range t.Nodes {
		cols := []string{n.Name, n.Source, n.Bucketing}
		for _, s := range n.Earlier {
			cols = append(cols, nodeSumText(s))
		}
		for _, c := range n.Counts {
			if c == nil {
				cols = append(cols, MarkUnknown)
			} else {
				cols = append(cols, Num(*c))
			}
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "▶ = root cause (the upstream-most edge out of tolerance)")
	for _, l := range Legend {
		fmt.Fprintf(w, "%s = %s\n", l.Example, l.Meaning)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, HeadSources+"\tKIND\tUP\tLAST SUCCESS\tDURATION\tERRORS\tLAST ERROR")
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
		fmt.Fprintf(w, "\n%s: %d sent, %d not accepted\n", HeadCanary, t.Canary.Sent, t.Canary.SendFailures)
		for _, s := range t.Canary.Stages {
			fmt.Fprintf(w, "  %-14s seen %d, lost %d, latest latency %.1fs, mean %.1fs over %d events, max of recent %.1fs\n",
				s.Stage, s.Seen, s.Lost, s.Latency, s.MeanLatency, s.Observed, s.MaxRecent)
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
