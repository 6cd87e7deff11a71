package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/flow"
	"github.com/plowline/plowline/exporter/source"
)

// chain is a pipeline-shaped graph: collector → raw → enricher (split
// into good and bad) → lake_good, with one-minute windows.
func chain() config.Config {
	tol := config.Tolerance{Ratio: 0.01}
	return config.Config{Window: time.Minute, Lookback: time.Hour,
		Sources: []config.Source{{Name: "m", Kind: config.KindWarehouse}},
		Nodes: []config.Node{{Name: "collector", Source: "m"}, {Name: "raw", Source: "m"}, {Name: "good", Source: "m"},
			{Name: "bad", Source: "m"}, {Name: "lake_good", Source: "m"}},
		Edges: []config.Edge{
			{Name: "collector_to_raw", From: "collector", To: "raw", Relation: config.RelationEq, Tolerance: tol},
			{Name: "raw_to_enriched", From: "raw", To: "good", ToBad: "bad", Relation: config.RelationSplit, Tolerance: tol},
			{Name: "good_to_lake", From: "good", To: "lake_good", Relation: config.RelationEq, Tolerance: tol},
		},
	}
}

// steady builds counts for n windows from start: 100 events a window at
// the collector, with drop[i] of window i lost between raw and the
// enricher and extraLake[i] more counted in the lake than the good stream
// delivered.
func steady(start time.Time, n int, drop, extraLake func(i int) float64) map[string]flow.Node {
	nodes := map[string]flow.Node{}
	asOf := start.Add(time.Duration(n+5) * time.Minute)
	for _, name := range []string{"collector", "raw", "good", "bad", "lake_good"} {
		nodes[name] = flow.Node{Bucketing: source.EventTime, AsOf: asOf, Counts: map[time.Time]float64{}}
	}
	for i := 0; i < n; i++ {
		w := start.Add(time.Duration(i) * time.Minute)
		d := drop(i)
		nodes["collector"].Counts[w] = 100
		nodes["raw"].Counts[w] = 100
		nodes["good"].Counts[w] = 95 - d
		nodes["bad"].Counts[w] = 5
		nodes["lake_good"].Counts[w] = 95 - d + extraLake(i)
	}
	return nodes
}

func build(t *testing.T, cfg config.Config, nodes map[string]flow.Node, from time.Time, n, maxWindows int) Table {
	t.Helper()
	to := from.Add(time.Duration(n) * time.Minute)
	r := flow.EvaluateRange(cfg, nodes, from, to, to.Add(5*time.Minute))
	return Build(cfg, r, nil, nil, maxWindows)
}

// TestRootCauseIsTheUpstreamMostEdgeWithTheRunTotal: a loss between raw
// and the enricher from window 3 on, and a downstream edge (the lake)
// flagged with a bigger number: the root cause is raw_to_enriched, with
// the loss summed over every window since window 3, not the latest only.
func TestRootCauseIsTheUpstreamMostEdgeWithTheRunTotal(t *testing.T) {
	from := t0
	drops := []float64{0, 0, 0, 10, 12, 9, 11, 10, 13}
	nodes := steady(from, len(drops), func(i int) float64 { return drops[i] }, func(i int) float64 {
		if i >= 6 {
			return -40 // the lake misses more, later (a false edge shows a bigger number)
		}
		return 0
	})
	tab := build(t, chain(), nodes, from, len(drops), 0)
	if len(tab.RootCause) != 1 {
		t.Fatalf("root causes %+v", tab.RootCause)
	}
	rc := tab.RootCause[0]
	wantLost := 10.0 + 12 + 9 + 11 + 10 + 13
	if rc.Edge != "raw_to_enriched" || rc.Direction != Lost || rc.Events != wantLost || rc.Windows != 6 ||
		!rc.Since.Equal(from.Add(3*time.Minute)) || rc.SinceClamped || rc.SinceIsRangeStart || rc.Expected != 600 {
		t.Errorf("root cause %+v, want raw_to_enriched, %v lost over 6 windows since 10:03, not clamped", rc, wantLost)
	}
	if len(rc.Downstream) != 1 || rc.Downstream[0] != "good_to_lake" {
		t.Errorf("downstream %v, want good_to_lake", rc.Downstream)
	}
	var b bytes.Buffer
	if err := tab.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	first := strings.SplitN(strings.TrimSpace(out[strings.Index(out, "\n"):]), "\n", 2)[0]
	want := "ROOT CAUSE: raw_to_enriched (raw → good+bad): 65 lost (10.83% of 600 expected) since 2026-11-26 10:03 UTC, 6 window(s) out of tolerance; latest window 10:08: 13 lost"
	if first != want {
		t.Errorf("first finding line\n got %q\nwant %q\n%s", first, want, out)
	}
	if !strings.Contains(out, "ALSO OUT OF TOLERANCE") || !strings.Contains(out, "good_to_lake (good → lake_good): 120 lost") {
		t.Errorf("the downstream edge is not listed after the root cause:\n%s", out)
	}
	if !strings.Contains(out, "▶ raw_to_enriched") {
		t.Errorf("root cause not marked in the table:\n%s", out)
	}
}

// TestSinceSaysWhenTheRangeClampedIt: out of tolerance from the first
// window of the range: "since" says it may have begun earlier.
func TestSinceSaysWhenTheRangeClampedIt(t *testing.T) {
	nodes := steady(t0, 5, func(int) float64 { return 20 }, func(int) float64 { return 0 })
	tab := build(t, chain(), nodes, t0, 5, 0)
	if len(tab.RootCause) != 1 || !tab.RootCause[0].SinceIsRangeStart || !tab.RootCause[0].SinceClamped {
		t.Fatalf("root cause %+v, want clamped at the range start", tab.RootCause)
	}
	var b bytes.Buffer
	tab.WriteText(&b)
	if !strings.Contains(b.String(), "100 lost (20.00% of 500 expected) since 2026-11-26 10:00 UTC (clamped: out of tolerance from the first window of the range, so it may have begun earlier; widen --from") {
		t.Errorf("clamp not said:\n%s", b.String())
	}
	// The same loss seen over a wider range that starts healthy is not clamped.
	nodes = steady(t0, 8, func(i int) float64 {
		if i < 3 {
			return 0
		}
		return 20
	}, func(int) float64 { return 0 })
	if rc := build(t, chain(), nodes, t0, 8, 0).RootCause; len(rc) != 1 || rc[0].SinceClamped || !rc[0].Since.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("wider range: %+v", rc)
	}
}

// TestDuplicatesReadAsDuplicated: a duplicating edge says "N duplicated",
// never a negative loss.
func TestDuplicatesReadAsDuplicated(t *testing.T) {
	nodes := steady(t0, 4, func(int) float64 { return 0 }, func(i int) float64 { return []float64{0, 31, 30, 29}[i] })
	tab := build(t, chain(), nodes, t0, 4, 0)
	if len(tab.RootCause) != 1 || tab.RootCause[0].Edge != "good_to_lake" || tab.RootCause[0].Direction != Duplicated || tab.RootCause[0].Events != 90 {
		t.Fatalf("root cause %+v", tab.RootCause)
	}
	var b bytes.Buffer
	tab.WriteText(&b)
	var h bytes.Buffer
	if err := tab.WriteHTML(&h, "/", "/metrics"); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": b.String(), "html": h.String()} {
		if !strings.Contains(out, "90 duplicated") || !strings.Contains(out, "OUT 31 duplicated (32.6%)") {
			t.Errorf("%s lacks the duplicated wording:\n%s", name, out)
		}
		for _, bad := range []string{"-31", "-90", "lost: -", "extra"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s says %q:\n%s", name, bad, out)
			}
		}
	}
}

// TestLongRangeIsSummarised: six hours of one-minute windows are a dozen
// windows plus at most four summary columns, and the summaries add up to
// what the windows they cover say.
func TestLongRangeIsSummarised(t *testing.T) {
	const n = 361
	from := t0.Add(-6 * time.Hour)
	lost := func(i int) float64 {
		if i >= 100 && i < 110 {
			return 30 // an old incident, long recovered
		}
		return 0
	}
	nodes := steady(from, n, lost, func(int) float64 { return 0 })
	tab := build(t, chain(), nodes, from, n, 12)
	if len(tab.Windows) != 12 || len(tab.Earlier) == 0 || len(tab.Earlier) > maxEarlierGroups || tab.Truncated != n-12 {
		t.Fatalf("%d windows, %d summary columns, %d truncated", len(tab.Windows), len(tab.Earlier), tab.Truncated)
	}
	covered := 0
	for _, s := range tab.Earlier {
		covered += s.Windows
	}
	if covered != n-12 || !tab.Earlier[0].Start.Equal(from) || !tab.Earlier[len(tab.Earlier)-1].End.Equal(tab.Windows[0]) {
		t.Errorf("summary columns %+v cover %d windows, want %d up to %s", tab.Earlier, covered, n-12, tab.Windows[0])
	}
	var sumLost float64
	var outWindows int
	for _, e := range tab.Edges {
		if e.Name != "raw_to_enriched" {
			continue
		}
		for _, c := range e.Earlier {
			sumLost += c.Discrepancy
			outWindows += c.OutWindows
		}
	}
	if sumLost != 300 || outWindows != 10 {
		t.Errorf("summaries say %v lost in %d windows, want 300 in 10", sumLost, outWindows)
	}
	var b bytes.Buffer
	tab.WriteText(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "EDGE") {
			if cols := len(strings.Fields(line)); cols > 3+maxEarlierGroups+12 {
				t.Errorf("edge heading has %d columns: %q", cols, line)
			}
		}
	}
	if !strings.Contains(b.String(), "OUT 10/") || !strings.Contains(b.String(), "300 lost") {
		t.Errorf("the old incident is not visible in the summary:\n%s", b.String())
	}
	var j bytes.Buffer
	tab.WriteJSON(&j)
	var back Table
	if err := json.Unmarshal(j.Bytes(), &back); err != nil || len(back.Earlier) != len(tab.Earlier) {
		t.Errorf("JSON round trip: %v", err)
	}
}

// TestLegendExamplesAreWhatCellsPrint: every example in the legend (which
// the runbooks print) is exactly what CellText renders for such a cell.
func TestLegendExamplesAreWhatCellsPrint(t *testing.T) {
	cells := []Cell{
		{Status: string(flow.OK)},
		{Status: string(flow.OK), Discrepancy: 2, Expected: 300},
		{Status: string(flow.Out), Discrepancy: 45, Expected: 315, Ratio: 45.0 / 315},
		{Status: string(flow.Out), Discrepancy: -31, Expected: 1000, Ratio: -0.031},
		{Status: string(flow.Out), Discrepancy: 120, Windows: 60, OutWindows: 3},
		{Status: string(flow.Pending)},
		{Status: string(flow.Unknown)},
	}
	if len(cells) != len(Legend) {
		t.Fatalf("%d legend items, %d cells", len(Legend), len(cells))
	}
	for i, c := range cells {
		if got := CellText(c); got != Legend[i].Example {
			t.Errorf("legend %d says %q, the cell prints %q", i, Legend[i].Example, got)
		}
	}
}

// TestMixedRunSaysBothDirections: a run whose windows go both ways (late
// then early) says net, lost and duplicated, not a bare "0 lost".
func TestMixedRunSaysBothDirections(t *testing.T) {
	nodes := steady(t0, 4, func(int) float64 { return 0 }, func(i int) float64 { return []float64{0, -5, 3, 4}[i] })
	tab := build(t, chain(), nodes, t0, 4, 0)
	if len(tab.RootCause) != 1 {
		t.Fatalf("root causes %+v", tab.RootCause)
	}
	rc := tab.RootCause[0]
	if rc.LostEvents != 5 || rc.DuplicatedEvents != 7 || rc.Direction != Duplicated || rc.Events != 2 {
		t.Errorf("incident %+v, want 5 lost and 7 duplicated, net 2 duplicated", rc)
	}
	if got := TotalText(rc); !strings.HasPrefix(got, "net 2 duplicated (5 lost and 7 duplicated in different windows") {
		t.Errorf("TotalText = %q", got)
	}
}
