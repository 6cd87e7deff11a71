package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/flow"
	"github.com/plowline/plowline/exporter/refresh"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/testkit"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func sample() (config.Config, flow.Report, []refresh.State) {
	cfg := config.Config{Window: time.Hour, Lookback: 3 * time.Hour,
		Sources: []config.Source{{Name: "s", Kind: config.KindWarehouse}},
		Nodes:   []config.Node{{Name: "a", Source: "s", Help: `<script>alert("x")</script>`}, {Name: "b", Source: "s"}},
		Edges:   []config.Edge{{Name: "a_to_b", From: "a", To: "b", Relation: config.RelationEq, Tolerance: config.Tolerance{Ratio: 0.01}}},
	}
	asOf := t0.Add(90 * time.Minute)
	nodes := map[string]flow.Node{
		"a": {Bucketing: source.EventTime, AsOf: asOf, Counts: map[time.Time]float64{t0.Add(-2 * time.Hour): 100, t0.Add(-time.Hour): 100, t0: 1000}},
		"b": {Bucketing: source.EventTime, AsOf: asOf, Counts: map[time.Time]float64{t0.Add(-2 * time.Hour): 100, t0.Add(-time.Hour): 99.5, t0: 900}},
	}
	r := flow.Evaluate(cfg, nodes, asOf)
	st := []refresh.State{{Name: "s", Kind: config.KindWarehouse, Up: false, LastError: "timed out after 30s", Usage: &source.Usage{}}}
	return cfg, r, st
}

func TestTextNamesTheLossAndSince(t *testing.T) {
	cfg, r, st := sample()
	var b bytes.Buffer
	if err := Build(cfg, r, st, nil, 0).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"OUT 100 lost (10.0%)", // the 10:00 window
		"ok, 0.5 lost",         // within 1%
		"ROOT CAUSE: a_to_b (a → b): 100 lost (10.00% of 1000 expected) since 2026-11-26 10:00 UTC, 1 window(s) out of tolerance; latest window 10:00: 100 lost",
		"DOWN", "timed out after 30s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

func TestHTMLEscapesAndMarksCells(t *testing.T) {
	cfg, r, st := sample()
	var b bytes.Buffer
	if err := Build(cfg, r, st, nil, 2).WriteHTML(&b, "/", "/metrics"); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "<script>alert") {
		t.Error("help text not escaped")
	}
	if !strings.Contains(page, `<td class="out"`) || !strings.Contains(page, "root cause: a_to_b</strong> (a → b): <strong>100 lost</strong>") {
		t.Errorf("out-of-tolerance cell not marked:\n%s", page)
	}
	if strings.Count(page, "<th>10:00</th>")+strings.Count(page, "<th>11:00</th>") != 4 || strings.Contains(page, "<th>09:00</th>") {
		t.Error("page should show exactly the 2 latest windows in both tables")
	}
}

func TestJSONIsComplete(t *testing.T) {
	cfg, r, st := sample()
	var b bytes.Buffer
	if err := Build(cfg, r, st, nil, 0).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got Table
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Failing) != 1 || got.Failing[0].Discrepancy != 100 || !got.Failing[0].Since.Equal(t0) || !got.OutOfTol {
		t.Errorf("failing = %+v", got.Failing)
	}
	if len(got.Windows) != 4 || len(got.Edges[0].Cells) != 4 || got.Nodes[0].Counts[2] == nil || *got.Nodes[0].Counts[2] != 1000 || got.Nodes[0].Counts[3] != nil {
		t.Errorf("table = %+v", got)
	}
}

func TestRecoveredEdgeIsStillReported(t *testing.T) {
	cfg, _, st := sample()
	asOf := t0.Add(2*time.Hour + 30*time.Minute)
	nodes := map[string]flow.Node{
		"a": {AsOf: asOf, Counts: map[time.Time]float64{t0: 1000, t0.Add(time.Hour): 50}},
		"b": {AsOf: asOf, Counts: map[time.Time]float64{t0: 900, t0.Add(time.Hour): 50}},
	}
	tab := Build(cfg, flow.Evaluate(cfg, nodes, asOf), st, nil, 0)
	if len(tab.Failing) != 0 || len(tab.Recovered) != 1 || tab.Recovered[0].Discrepancy != 100 || !tab.Recovered[0].Since.Equal(t0) {
		t.Fatalf("failing %+v recovered %+v", tab.Failing, tab.Recovered)
	}
	var b bytes.Buffer
	tab.WriteText(&b)
	if !strings.Contains(b.String(), "a_to_b (a → b): 100 lost over 1 window(s) from 2026-11-26 10:00:00") {
		t.Errorf("text:\n%s", b.String())
	}
}

// TestDocsShowTheLegend: docs/exporter.md shows every cell form the
// terminal and the page print.
func TestDocsShowTheLegend(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "docs", "exporter.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range Legend {
		if !strings.Contains(string(b), "| `"+l.Example+"` |") {
			t.Errorf("docs/exporter.md does not show the cell %q", l.Example)
		}
	}
}
