package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plowline/plowline/dashboards/cloudwatch/cwtest"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/testkit"
)

func runDashboardsCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDashboardsCloudWatchPutPrintsValidationMessages(t *testing.T) {
	srv := cwtest.New(t)
	srv.Respond = func(p cwtest.Put) ([]cwtest.Message, bool) {
		return []cwtest.Message{{DataPath: "/widgets/2/properties/metrics/1", Message: "The metric does not exist"}}, false
	}
	cwtest.SetEnv(t)
	code, out, errOut := runDashboardsCLI(t, "dashboards", "cloudwatch", "--put", "--name", "SnowPlow-test", "--region", "eu-west-1", "--endpoint", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "validation: /widgets/2/properties/metrics/1: The metric does not exist") {
		t.Errorf("validation message not printed:\n%s", out)
	}
	puts := srv.Puts()
	if len(puts) != 1 || puts[0].Name != "SnowPlow-test" {
		t.Fatalf("calls: %+v", puts)
	}
	var body struct {
		Widgets []struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(puts[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	metrics := 0
	for _, w := range body.Widgets {
		if w.Type == "metric" {
			metrics++
			if w.Properties["region"] != "eu-west-1" {
				t.Errorf("widget %v in region %v, want the --region eu-west-1", w.Properties["title"], w.Properties["region"])
			}
		}
	}
	if metrics < 5 {
		t.Errorf("%d metric widgets uploaded", metrics)
	}
	if !cwtest.SignedFor(puts[0].Authorization, "eu-west-1") {
		t.Errorf("not signed for eu-west-1: %q", puts[0].Authorization)
	}
}

func TestDashboardsCloudWatchRejectedExitsNonZero(t *testing.T) {
	srv := cwtest.New(t)
	srv.Respond = func(cwtest.Put) ([]cwtest.Message, bool) {
		return []cwtest.Message{{DataPath: "/widgets/0", Message: "Invalid widget"}}, true
	}
	cwtest.SetEnv(t)
	code, out, errOut := runDashboardsCLI(t, "dashboards", "cloudwatch", "--put", "--endpoint", srv.URL)
	if code != 1 || !strings.Contains(out, "validation: /widgets/0: Invalid widget") || !strings.Contains(errOut, "rejected") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestDashboardsCloudWatchPrintsCommittedBody(t *testing.T) {
	code, out, errOut := runDashboardsCLI(t, "dashboards", "cloudwatch")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	committed, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "dashboards", "cloudwatch", "SnowPlow.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(committed) {
		t.Error("printed body differs from dashboards/cloudwatch/SnowPlow.json")
	}
}

func TestDashboardsGenerateAndCheck(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runDashboardsCLI(t, "dashboards", "generate", "--out", dir, "--check"); code != 1 {
		t.Fatalf("--check on an empty directory: exit %d, want 1 (%s)", code, errOut)
	}
	code, out, errOut := runDashboardsCLI(t, "dashboards", "generate", "--out", dir, "--runbook-url", "https://runbooks.example/plowline")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "wrote alerts/plowline.rules.yml") {
		t.Errorf("output:\n%s", out)
	}
	rules, err := os.ReadFile(filepath.Join(dir, "alerts", "plowline.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rules), "https://runbooks.example/plowline/PlowlineEventsLost.md") {
		t.Error("--runbook-url not applied")
	}
	if code, _, errOut := runDashboardsCLI(t, "dashboards", "generate", "--out", dir, "--check", "--runbook-url", "https://runbooks.example/plowline"); code != 0 {
		t.Errorf("--check right after generating: exit %d (%s)", code, errOut)
	}
	// The repository itself must be up to date (make dashboards was run).
	if code, out, errOut := runDashboardsCLI(t, "dashboards", "generate", "--out", testkit.RepoRoot(t), "--check"); code != 0 {
		t.Errorf("repository out of date; run make dashboards\n%s%s", out, errOut)
	}
}

func TestDashboardsRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dashboards", "cloudwatch", "--name", "Snow Plow"}, `"Snow Plow"`},
		{[]string{"dashboards", "cloudwatch", "--endpoint", "localhost:4566"}, `--endpoint "localhost:4566"`},
		{[]string{"dashboards", "generate", "--runbook-url", "ftp://x/y"}, `--runbook-url "ftp://x/y"`},
		{[]string{"dashboards", "generate", "--grafana-url", "grafana"}, `--grafana-url "grafana"`},
		{[]string{"dashboards", "generate", "--config", "/nonexistent/exporter.yaml"}, "/nonexistent/exporter.yaml"},
		{[]string{"dashboards", "nope"}, `"nope"`},
	} {
		code, _, errOut := runDashboardsCLI(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", c.args, code, errOut, c.want)
		}
	}
}

// TestDashboardsGenerateFromConfig: --config supplies the topology and the
// funnel's nodes; a topology the alerts cannot use is refused naming the key.
func TestDashboardsGenerateFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Topology.Streams = append(cfg.Topology.Streams, config.Stream{Name: "my-extra-stream", RetentionHours: 24})
	raw, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "exporter.yaml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if code, _, errOut := runDashboardsCLI(t, "dashboards", "generate", "--config", path, "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	stages, err := os.ReadFile(filepath.Join(out, "dashboards", "grafana", "plowline-stages.json"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join(out, "dashboards", "cloudwatch", "SnowPlow.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"stage detail": stages, "SnowPlow body": body} {
		if !strings.Contains(string(b), `"my-extra-stream"`) {
			t.Errorf("%s lacks the configured stream", name)
		}
	}

	cfg.Topology.GoodTable = ""
	raw, err = cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runDashboardsCLI(t, "dashboards", "generate", "--config", path, "--out", out)
	if code != 2 || !strings.Contains(errOut, "good_table") {
		t.Errorf("topology without good_table: exit %d, stderr %q", code, errOut)
	}
}
