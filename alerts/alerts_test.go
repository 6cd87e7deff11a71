package alerts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/dashboards/promqlcheck"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/testkit"
)

// TestRulesAreComplete checks what every alert must carry: a severity we
// route on, the annotations on-call reads, a case that fires and a case
// in which the rule stays quiet.
func TestRulesAreComplete(t *testing.T) {
	o := Options{}.withDefaults()
	for _, r := range Rules(o) {
		if r.Severity != SeverityCritical && r.Severity != SeverityWarning {
			t.Errorf("%s: severity %q", r.Alert, r.Severity)
		}
		if r.Labels["component"] == "" {
			t.Errorf("%s: no component label to route and group on", r.Alert)
		}
		ann := o.annotations(r)
		for _, k := range []string{"summary", "description", "runbook_url", "dashboard_url"} {
			if strings.TrimSpace(ann[k]) == "" {
				t.Errorf("%s: annotation %s empty", r.Alert, k)
			}
		}
		if !strings.Contains(r.Description, "{{") {
			t.Errorf("%s: description carries no values", r.Alert)
		}
		fires, quiet := false, false
		for _, c := range r.Cases {
			mine := false
			for _, e := range c.Fires {
				if e.Severity == "" || e.Severity == r.Severity {
					mine = true
				}
			}
			if mine {
				fires = true
			} else {
				quiet = true
			}
		}
		if !fires || !quiet {
			t.Errorf("%s (%s): needs a case that fires (%v) and one that stays quiet (%v)", r.Alert, r.Severity, fires, quiet)
		}
	}
}

// TestQueriesNameKnownMetrics parses every rule expression and every query
// the annotations run, and checks each metric name is one plowline exposes
// or queries.
func TestQueriesNameKnownMetrics(t *testing.T) {
	for _, r := range Rules(Options{}) {
		queries := []string{r.Expr}
		for _, q := range r.TemplateQueries {
			queries = append(queries, templateQuery(q))
		}
		for _, q := range queries {
			names, err := promqlcheck.MetricNames(q)
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
				continue
			}
			if len(names) == 0 {
				t.Errorf("%s: query %q selects no metric", r.Alert, q)
			}
			for _, n := range names {
				if !metricname.Known(n) {
					t.Errorf("%s: %q uses metric %s, which metricname does not define", r.Alert, q, n)
				}
			}
			if err := promqlcheck.Check(q, promqlcheck.Plowline, promqlcheck.TargetLabels...); err != nil {
				t.Errorf("%s: %v", r.Alert, err)
			}
		}
	}
}

// templateQueryRE finds the queries annotations pass to `query`, so the
// test above cannot miss one that was not listed in TemplateQueries.
var templateQueryRE = regexp.MustCompile(`(?:printf|query) "((?:[^"\\]|\\.)*)"`)

func TestTemplateQueriesAreListed(t *testing.T) {
	for _, r := range Rules(Options{}) {
		listed := map[string]bool{}
		for _, q := range r.TemplateQueries {
			listed[q] = true
		}
		for _, text := range []string{r.Summary, r.Description} {
			for _, m := range templateQueryRE.FindAllStringSubmatch(text, -1) {
				q := strings.ReplaceAll(m[1], `\"`, `"`)
				if strings.HasPrefix(q, "%") { // printf "%.2f"
					continue
				}
				if !listed[q] {
					t.Errorf("%s: annotation query %q not in TemplateQueries (so not checked)", r.Alert, q)
				}
			}
		}
	}
}

func repoAlerts(t *testing.T) string {
	return filepath.Join(testkit.RepoRoot(t), "alerts")
}

// TestPromtool runs Debian's promtool on the committed rule file and its
// unit tests (TestGeneratedFilesUpToDate in dashboards/ proves they are
// what this package generates).
func TestPromtool(t *testing.T) {
	promtool := testkit.LookPath(t, "promtool", "apt-get install -y prometheus")
	dir := repoAlerts(t)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if strings.Contains(string(out), "WARNING") {
			t.Errorf("promtool %s warns:\n%s", strings.Join(args, " "), out)
		}
	}
	run("check", "rules", RulesFile)
	tests, err := filepath.Glob(filepath.Join(dir, "*.test.yml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no promtool test files in %s (%v)", dir, err)
	}
	args := []string{"test", "rules"}
	for _, f := range tests {
		args = append(args, filepath.Base(f))
	}
	run(args...)
}

// TestPromtoolCatchesBrokenRules proves the unit tests can fail: with every
// expression replaced by one that never fires, promtool must report every
// case that expected an alert.
func TestPromtoolCatchesBrokenRules(t *testing.T) {
	promtool := testkit.LookPath(t, "promtool", "apt-get install -y prometheus")
	dir := t.TempDir()
	rules, err := RulesYAML(Options{})
	if err != nil {
		t.Fatal(err)
	}
	broken := regexp.MustCompile(`(?m)^(\s+expr: ).*(\n\s{10}.*)*`).ReplaceAll(rules, []byte("${1}vector(0) > 1"))
	if err := os.WriteFile(filepath.Join(dir, RulesFile), broken, 0o644); err != nil {
		t.Fatal(err)
	}
	tests, err := TestsYAML(Options{})
	if err != nil {
		t.Fatal(err)
	}
	delete(tests, TestFileName(30*time.Minute)) // the week-long cases are slow; the minute file suffices
	for name, b := range tests {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool, "test", "rules", TestsFile)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("promtool passed rules that never fire:\n%s", out)
	}
	for _, r := range Rules(Options{}) {
		for _, c := range r.Cases {
			if len(c.Fires) > 0 && c.EvalInterval == 0 && !strings.Contains(string(out), c.Name) {
				t.Errorf("promtool did not report the broken case %q", c.Name)
			}
		}
	}
}

var metricToken = regexp.MustCompile(`\b(?:plowline|gitlab_snowplow)_[a-z_]+\b`)

// TestRunbooks checks each alert has a committed runbook that names it and
// tells on-call how to reconcile, and that no runbook is left for an alert
// that no longer exists.
func TestRunbooks(t *testing.T) {
	dir := filepath.Join(repoAlerts(t), "runbooks")
	names := Names(Options{})
	want := map[string]bool{}
	for _, n := range names {
		want[n+".md"] = true
		b, err := os.ReadFile(filepath.Join(dir, n+".md"))
		if err != nil {
			t.Errorf("alert %s has no runbook: %v", n, err)
			continue
		}
		text := string(b)
		if !strings.Contains(text, "# "+n+"\n") {
			t.Errorf("runbook %s.md does not name its alert in its title", n)
		}
		for _, name := range metricToken.FindAllString(text, -1) {
			if !metricname.Known(name) {
				t.Errorf("runbook %s.md mentions metric %s, which metricname does not define", n, name)
			}
		}
		for _, must := range []string{ReconcileCommand, "## What it means", "## Impact", "## Diagnosis by stage", "## Mitigation", "## Escalation"} {
			if !strings.Contains(text, must) {
				t.Errorf("runbook %s.md lacks %q", n, must)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("runbooks/%s belongs to no alert", e.Name())
		}
	}
}

func TestRunbookURLsFollowOptions(t *testing.T) {
	o := Options{RunbookBaseURL: "https://runbooks.example/plowline/", GrafanaURL: "https://grafana.example/"}
	if got := o.RunbookURL("PlowlineEventsLost"); got != "https://runbooks.example/plowline/PlowlineEventsLost.md" {
		t.Errorf("runbook URL %q", got)
	}
	if got := o.DashboardURL(DashboardOverview); got != "https://grafana.example/d/plowline-overview" {
		t.Errorf("dashboard URL %q", got)
	}
	rules, err := RulesYAML(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rules), DefaultRunbookBaseURL) || !strings.Contains(string(rules), "https://runbooks.example/plowline/PlowlineSourceDown.md") {
		t.Error("rules ignore the configured runbook base URL")
	}
}

func TestPromDuration(t *testing.T) {
	for d, want := range map[string]string{"1h": "1h", "90m": "1h30m", "168h": "1w", "30s": "30s", "0s": "0s", "25h": "1d1h"} {
		dur, _ := time.ParseDuration(d)
		if got := promDuration(dur); got != want {
			t.Errorf("promDuration(%s) = %s, want %s", d, got, want)
		}
	}
}

// TestNodeNamesMatchDefaultGraphs: the rules name nodes of the exporter's
// default flow graphs; renaming a node there must fail here.
func TestNodeNamesMatchDefaultGraphs(t *testing.T) {
	m := regexp.MustCompile(`^node!~"(.*)"$`).FindStringSubmatch(GoodNodesMatcher)
	if m == nil {
		t.Fatalf("GoodNodesMatcher %q is not a node!~ matcher", GoodNodesMatcher)
	}
	notGood := regexp.MustCompile("^(?:" + m[1] + ")$")
	for name, c := range map[string]config.Config{
		"Default": config.Default(),
		"Local":   config.Local(config.LocalOptions{DataDir: t.TempDir(), MetricsURL: "http://127.0.0.1:1/metrics", S3Endpoint: "http://127.0.0.1:1", Bucket: "b", WarehousePath: "w.db"}),
	} {
		for _, want := range []string{EnricherGoodNode, EnricherBadNode} {
			if _, ok := c.Node(want); !ok {
				t.Errorf("config.%s has no node %q", name, want)
			}
		}
		good := func(n string) bool { return !notGood.MatchString(n) }
		for _, e := range c.Edges {
			if e.Relation == config.RelationSplit {
				// The good branch continues its source's kind of events; the
				// bad branch never counts good events.
				if good(e.To) != good(e.From) || good(e.ToBad) {
					t.Errorf("config.%s edge %s: %s (good %v) splits into %s (good %v) and %s (good %v)",
						name, e.Name, e.From, good(e.From), e.To, good(e.To), e.ToBad, good(e.ToBad))
				}
				continue
			}
			if good(e.From) != good(e.To) {
				t.Errorf("config.%s edge %s joins %s (good %v) and %s (good %v)", name, e.Name, e.From, good(e.From), e.To, good(e.To))
			}
		}
	}
}

func TestFilesRefuseIncompleteTopology(t *testing.T) {
	topo := config.GitLabTopology()
	topo.GoodTable = ""
	if _, err := Files(Options{Topology: topo}); err == nil || !strings.Contains(err.Error(), "good_table") {
		t.Errorf("a topology without good_table accepted: %v", err)
	}
	topo = config.GitLabTopology()
	topo.Streams = nil
	if _, err := Files(Options{Topology: topo}); err == nil || !strings.Contains(err.Error(), "streams") {
		t.Errorf("a topology without streams accepted: %v", err)
	}
}
