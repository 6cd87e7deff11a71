package alerts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/exporter/report"
	"github.com/plowline/plowline/testkit"
)

// runbookCommand is a shell command found in a runbook.
type runbookCommand struct {
	Line     string
	Runbooks []string
	// AWS is set for commands that need AWS (the aws CLI): they have no
	// local stand-in and must be marked *On AWS* where they appear.
	AWS bool
}

var (
	fenceOpen  = regexp.MustCompile("^\\s*```(\\S*)\\s*$")
	inlineSpan = regexp.MustCompile("`([^`]+)`")
	// A span is a command when it starts with a tool and has arguments
	// beyond a subcommand's name (`plowline query` names the tool).
	commandStart = regexp.MustCompile(`^(plowline|curl|aws|promtool|grep)\s`)
)

// extractCommands returns every shell command of a runbook: each line of
// its sh blocks and each inline code span that is a command line. The
// lines exporting production values are returned apart: they are what
// on-call sets on AWS.
func extractCommands(text string) (cmds []runbookCommand, exports []string, err error) {
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		m := fenceOpen.FindStringSubmatch(lines[i])
		if m == nil {
			for _, span := range inlineSpan.FindAllStringSubmatchIndex(lines[i], -1) {
				c := lines[i][span[2]:span[3]]
				if !commandStart.MatchString(c) || len(strings.Fields(c)) < 3 {
					continue
				}
				aws := strings.HasPrefix(c, "aws ")
				if aws && !strings.Contains(lines[i][:span[0]], "*On AWS*") {
					return nil, nil, fmt.Errorf("line %d: AWS command %q is not marked *On AWS*", i+1, c)
				}
				cmds = append(cmds, runbookCommand{Line: c, AWS: aws})
			}
			continue
		}
		lang := m[1]
		var block []string
		for i++; i < len(lines) && !fenceOpen.MatchString(lines[i]); i++ {
			block = append(block, strings.TrimSpace(lines[i]))
		}
		if i == len(lines) {
			return nil, nil, fmt.Errorf("unclosed code block")
		}
		if lang != "sh" {
			continue
		}
		for _, l := range block {
			switch {
			case l == "" || strings.HasPrefix(l, "#"):
			case strings.HasPrefix(l, "export "):
				exports = append(exports, l)
			default:
				cmds = append(cmds, runbookCommand{Line: l, AWS: strings.HasPrefix(l, "aws ")})
			}
		}
	}
	return cmds, exports, nil
}

func TestExtractCommands(t *testing.T) {
	text := "intro `plowline query` and `plowline reconcile --config x`\n\n" +
		"- item:\n\n  ```sh\n  curl -fsS \"${A:-b}/metrics\" | grep -E '^x'\n  # comment\n  ```\n" +
		"```promql\nrate(x[5m])\n```\n" +
		"```sh\nexport PLOWLINE_EXPORTER_URL=http://<exporter host>:9807   # default\n```\n" +
		"Read logs (*On AWS* `aws logs tail /aws/lambda/f --since 1h`).\n"
	cmds, exports, err := extractCommands(text)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cmds {
		got = append(got, fmt.Sprintf("%v %s", c.AWS, c.Line))
	}
	want := []string{"false plowline reconcile --config x", "false curl -fsS \"${A:-b}/metrics\" | grep -E '^x'", "true aws logs tail /aws/lambda/f --since 1h"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(exports) != 1 {
		t.Errorf("commands\n%s\nwant\n%s\nexports %v", strings.Join(got, "\n"), strings.Join(want, "\n"), exports)
	}
	if _, _, err := extractCommands("Logs: `aws logs tail /aws/lambda/f --since 1h`\n"); err == nil {
		t.Error("an unmarked AWS command was accepted")
	}
}

// TestRunbookCommandsRunAgainstPlowlineRun starts a real `plowline run`
// (demo traffic, a fault dropping 30% of enriched-good records before the
// pseudonymizer, the exporter with 5-second windows and a canary) in a
// temporary directory, and runs every shell command of every runbook as
// written from that directory, with only the ports substituted through the
// documented environment variables. Each must succeed (plowline reconcile:
// exit 1, the fault is out of tolerance). The reading guide is checked
// against the real output: its headings are there and every edge cell is
// one of the forms the guide explains. Commands that need AWS cannot run
// here; they must be marked *On AWS* and parse as shell.
func TestRunbookCommandsRunAgainstPlowlineRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plowline run for about a minute")
	}
	bash := testkit.LookPath(t, "bash", "apt-get install -y bash")
	testkit.LookPath(t, "curl", "apt-get install -y curl")
	dir := filepath.Join(repoAlerts(t), "runbooks")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	byLine := map[string]*runbookCommand{}
	var order []string
	exportsSeen := map[string]bool{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		cmds, exports, err := extractCommands(string(b))
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		if !strings.Contains(string(b), ReconcileCommand) {
			t.Errorf("%s lacks the reconcile command", e.Name())
		}
		for _, x := range exports {
			exportsSeen[x] = true
		}
		for _, c := range cmds {
			if byLine[c.Line] == nil {
				cc := c
				byLine[c.Line] = &cc
				order = append(order, c.Line)
			}
			byLine[c.Line].Runbooks = append(byLine[c.Line].Runbooks, e.Name())
		}
	}
	// The production exports name exactly the documented variables.
	for x := range exportsSeen {
		name, _, _ := strings.Cut(strings.TrimPrefix(x, "export "), "=")
		if name != EnvExporterConfig && name != EnvExporterURL && name != EnvCollectorURL {
			t.Errorf("runbooks export undocumented variable %s", name)
		}
	}
	if len(order) < 10 {
		t.Fatalf("only %d commands found in the runbooks", len(order))
	}

	bin := testkit.Binary(t)
	work := t.TempDir()
	cport, wport := testkit.FreePort(t), testkit.FreePort(t)
	collectorURL := fmt.Sprintf("http://127.0.0.1:%d", cport)
	exporterURL := fmt.Sprintf("http://127.0.0.1:%d", wport)
	run := testkit.Start(t, []string{"PLOWLINE_EXPORTER_WINDOW=5s", "PLOWLINE_EXPORTER_BUDGET=5s", "PLOWLINE_EXPORTER_INTERVAL=1s",
		"PLOWLINE_EXPORTER_CANARY=2s"}, bin, "run",
		// The default data directory of a run started in work.
		"--data-dir", filepath.Join(work, "plowline-data"),
		"--collector.listen-address", fmt.Sprintf("127.0.0.1:%d", cport), "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", wport),
		"--demo", "--demo.rate", "20", "--lake.buffer-interval", "1s", "--fault", "drop 0.3 enriched-good>pseudonymizer")
	waitHealthy(t, collectorURL+"/health", run)

	env := append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		EnvExporterURL+"="+exporterURL, EnvCollectorURL+"="+collectorURL)
	env = withoutVar(env, EnvExporterConfig) // the default path must work as written
	sh := func(line string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bash, "-c", line)
		cmd.Dir, cmd.Env = work, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return out.String(), 0
		case errors.As(err, &ee):
			return out.String(), ee.ExitCode()
		}
		t.Fatalf("running %q: %v", line, err)
		return "", -1
	}

	// Wait until the fault shows in a settled window, as on-call would
	// find it: reconcile exits 1.
	var recOut string
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, code := sh(ReconcileCommand)
		if code == 1 && strings.Contains(out, report.HeadRootCause+": ") {
			recOut = out
			break
		}
		if code != 0 && code != 1 && code != 3 || time.Now().After(deadline) {
			t.Fatalf("reconcile exit %d, no root cause yet:\n%s", code, out)
		}
		time.Sleep(2 * time.Second)
	}
	checkReadingGuide(t, recOut)

	sort.Strings(order)
	ran := 0
	for _, line := range order {
		c := byLine[line]
		if c.AWS {
			// No AWS here: the command must at least be valid shell once
			// its placeholders are filled.
			filled := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(line, "x")
			if out, code := sh("set -n; " + filled); code != 0 {
				t.Errorf("AWS command %q (in %s) is not valid shell: %s", line, c.Runbooks[0], out)
			}
			continue
		}
		out, code := sh(line)
		want := 0
		if strings.HasPrefix(line, "plowline reconcile ") {
			want = 1 // the injected fault is out of tolerance
		}
		if code != want || strings.TrimSpace(out) == "" {
			t.Errorf("runbook command (in %d runbooks, e.g. %s) exited %d, want %d with output:\n  %s\n%s",
				len(c.Runbooks), c.Runbooks[0], code, want, line, tailOf(out, 1500))
		}
		ran++
	}
	t.Logf("%d distinct commands from %d runbooks ran against plowline run; %d AWS-only commands checked as shell", ran, len(entries), len(order)-ran)
}

// checkReadingGuide checks the guide against real output: the headings it
// names are printed, and every edge cell has one of the forms it explains.
func checkReadingGuide(t *testing.T, out string) {
	t.Helper()
	for _, h := range []string{report.HeadRootCause + ": ", report.HeadEdges, report.HeadNodes, report.HeadSources, "▶ ", "since "} {
		if !strings.Contains(out, h) {
			t.Errorf("the guide names %q, the output of reconcile lacks it:\n%s", h, out)
		}
	}
	guide := readingGuide()
	for _, l := range report.Legend {
		if !strings.Contains(guide, "`"+l.Example+"`") {
			t.Errorf("the guide does not explain the cell %q", l.Example)
		}
	}
	// The forms the legend explains, with any numbers.
	num := `\d+(\.\d)?`
	amount := num + ` (` + report.Lost + `|` + report.Duplicated + `)`
	cell := regexp.MustCompile(`^(` + regexp.QuoteMeta(report.MarkOK) + `(, ` + amount + `)?` +
		`|` + report.MarkOut + ` ` + amount + ` \(` + num + `%\)` +
		`|` + report.MarkOut + ` \d+/\d+w, ` + amount +
		`|` + regexp.QuoteMeta(report.MarkPending) + `|` + regexp.QuoteMeta(report.MarkUnknown) + `)$`)
	lines := strings.Split(out, "\n")
	cells := 0
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(strings.TrimSpace(lines[i]), report.HeadEdges+" ") {
			continue
		}
		ncols := len(regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(lines[i]), -1))
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(lines[i]), -1)
			if len(cols) != ncols {
				t.Errorf("edge row has %d columns, the heading %d: %q", len(cols), ncols, lines[i])
				continue
			}
			for _, c := range cols[3:] {
				cells++
				if !cell.MatchString(c) {
					t.Errorf("edge cell %q is not a form the reading guide explains (row %q)", c, cols[0])
				}
			}
		}
		break
	}
	if cells == 0 {
		t.Errorf("no edge cells found in:\n%s", out)
	}
}

func waitHealthy(t *testing.T, url string, p *testkit.Process) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if p.Cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("plowline run not healthy (last: %v):\n%s", err, p.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func tailOf(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
