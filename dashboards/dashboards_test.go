package dashboards

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/plowline/plowline/dashboards/promqlcheck"
	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/testkit"
)

// TestGeneratedFilesUpToDate regenerates everything in memory and fails
// when the committed files differ, are missing, or are left over.
func TestGeneratedFilesUpToDate(t *testing.T) {
	files, err := Files(Options{})
	if err != nil {
		t.Fatal(err)
	}
	diff, err := Diff(testkit.RepoRoot(t), files)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) > 0 {
		t.Fatalf("generated files are out of date; run `make dashboards` and commit the result:\n  %s", strings.Join(diff, "\n  "))
	}
	for _, want := range []string{
		"dashboards/grafana/plowline-overview.json", "dashboards/grafana/plowline-trackers.json",
		"dashboards/grafana/plowline-stages.json", "dashboards/grafana/plowline-exporter.json",
		"dashboards/cloudwatch/SnowPlow.json", "alerts/plowline.rules.yml", "alerts/plowline.rules.test.yml",
		"alerts/runbooks/PlowlineEventsLost.md",
	} {
		if _, ok := files[want]; !ok {
			t.Errorf("%s is not generated", want)
		}
	}
}

// TestGenerationIsDeterministic: map order must not leak into the files,
// or the drift test above would flap.
func TestGenerationIsDeterministic(t *testing.T) {
	a, err := Files(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		b, err := Files(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatal("two generations differ")
		}
	}
}

func TestWriteRemovesStaleAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	files, err := Files(Options{})
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "alerts", "runbooks", "PlowlineRenamedAway.md")
	keep := filepath.Join(dir, "alerts", "README.txt")
	for _, p := range []string{stale, keep} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	changed, removed, err := Write(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != len(files) || !reflect.DeepEqual(removed, []string{"alerts/runbooks/PlowlineRenamedAway.md"}) {
		t.Errorf("first write: %d changed of %d, removed %v", len(changed), len(files), removed)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file no generator manages was removed: %v", err)
	}
	changed, removed, err = Write(dir, files)
	if err != nil || len(changed) != 0 || len(removed) != 0 {
		t.Errorf("second write changed %v removed %v (%v)", changed, removed, err)
	}
	if diff, err := Diff(dir, files); err != nil || len(diff) != 0 {
		t.Errorf("diff after write: %v %v", diff, err)
	}
}

// TestAllPromQLNamesKnown parses the PromQL of every generated rule file
// and dashboard: a crude but independent sweep (the per-package tests
// check the same from the Go side) that catches a hand-edit of a
// committed file as well.
func TestAllPromQLNamesKnown(t *testing.T) {
	files, err := Files(Options{})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for path, b := range files {
		var queries []string
		switch {
		case strings.HasSuffix(path, ".rules.yml"):
			queries = yamlExprs(t, b)
		case strings.HasPrefix(path, "dashboards/grafana/"):
			queries = jsonExprs(t, b)
		}
		for _, q := range queries {
			names, err := promqlcheck.MetricNames(q)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			for _, n := range names {
				checked++
				if !metricname.Known(n) {
					t.Errorf("%s: %q uses %s, which metricname does not define", path, q, n)
				}
			}
			if err := promqlcheck.Check(q, promqlcheck.Plowline, promqlcheck.TargetLabels...); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d metric references checked", checked)
	}
}

// BenchmarkFiles measures a full generation (four Grafana dashboards, the
// CloudWatch body, rules, promtool tests and runbooks): what `make
// dashboards` and the drift test pay.
func BenchmarkFiles(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Files(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
