package dashboards

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/plowline/plowline/alerts"
	"github.com/plowline/plowline/dashboards/grafana"
	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/testkit"
)

// dashboardQueries returns every PromQL target of the generated dashboards.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	ds, err := grafana.Dashboards(grafana.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		for _, p := range d.Model.Panels {
			if p.Panel == nil {
				continue
			}
			for _, q := range p.Panel.Targets {
				if pq, ok := q.(prometheus.Dataquery); ok {
					out = append(out, pq.Expr)
				}
			}
		}
	}
	return out
}

var literalAlternation = regexp.MustCompile(`^[A-Za-z0-9_:.\-]+(\|[A-Za-z0-9_:.\-]+)*$`)

// labelValues collects, per metric and label, the values the queries
// select on, so the synthetic target exposes series every query finds.
func labelValues(t *testing.T, queries []string) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	add := func(m, l, v string) {
		if out[m] == nil {
			out[m] = map[string][]string{}
		}
		for _, have := range out[m][l] {
			if have == v {
				return
			}
		}
		out[m][l] = append(out[m][l], v)
	}
	for _, q := range queries {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(strings.NewReplacer("$__rate_interval", "1m", "$environment", "test").Replace(q))
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			base := strings.TrimSuffix(vs.Name, "_bucket")
			for _, m := range vs.LabelMatchers {
				switch {
				case m.Name == labels.MetricName:
				case m.Type == labels.MatchEqual:
					add(base, m.Name, m.Value)
				case m.Type == labels.MatchRegexp && literalAlternation.MatchString(m.Value):
					for _, v := range strings.Split(m.Value, "|") {
						add(base, m.Name, v)
					}
				}
			}
			return nil
		})
	}
	return out
}

// exposition renders every metricname metric in the text format: one
// series per label value the queries use (other labels "x"), counters
// growing with time, histograms with two buckets.
func exposition(values map[string]map[string][]string, elapsed float64) string {
	var b strings.Builder
	for _, m := range metricname.All() {
		var sets []map[string]string
		base := map[string]string{}
		for _, l := range m.Labels {
			base[l] = "x"
		}
		sets = append(sets, base)
		for _, l := range m.Labels {
			for _, v := range values[m.Name][l] {
				s := map[string]string{}
				for k, bv := range base {
					s[k] = bv
				}
				s[l] = v
				sets = append(sets, s)
			}
		}
		render := func(name string, ls map[string]string, extra string, v float64) {
			keys := make([]string, 0, len(ls))
			for k := range ls {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s=%q", k, ls[k]))
			}
			if extra != "" {
				parts = append(parts, extra)
			}
			fmt.Fprintf(&b, "%s{%s} %g\n", name, strings.Join(parts, ","), v)
		}
		typ := m.Type
		fmt.Fprintf(&b, "# TYPE %s %s\n", m.Name, typ)
		for i, s := range sets {
			switch typ {
			case "counter":
				render(m.Name, s, "", 10*elapsed*float64(i+1))
			case "histogram":
				render(m.Name+"_bucket", s, `le="0.5"`, 5*elapsed)
				render(m.Name+"_bucket", s, `le="+Inf"`, 10*elapsed)
				render(m.Name+"_sum", s, "", 2*elapsed)
				render(m.Name+"_count", s, "", 10*elapsed)
			default:
				render(m.Name, s, "", float64(i+1))
			}
		}
	}
	return b.String()
}

type promResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
		Groups     []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name           string `json:"name"`
				Health         string `json:"health"`
				LastError      string `json:"lastError"`
				LastEvaluation string `json:"lastEvaluation"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"data"`
}

// promGet calls the HTTP API; a server still starting (503, not JSON)
// comes back as a non-success status.
func promGet(t *testing.T, base, path string, q url.Values) promResult {
	t.Helper()
	resp, err := http.Get(base + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r promResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return promResult{Status: "error", Error: fmt.Sprintf("HTTP %d, not JSON: %v", resp.StatusCode, err)}
	}
	return r
}

// TestQueriesRunOnPrometheus loads the generated rules into Debian's real
// Prometheus, lets it scrape a target exposing every metric plowline
// defines, and then runs every dashboard query: each must succeed and
// return data (a query that only parses may still fail at run time, or
// select nothing), and every rule must evaluate without error.
func TestQueriesRunOnPrometheus(t *testing.T) {
	promBin := testkit.LookPath(t, "prometheus", "apt-get install -y prometheus")
	queries := dashboardQueries(t)
	all := append([]string(nil), queries...)
	for _, r := range alerts.Rules(alerts.Options{}) {
		all = append(all, r.Expr)
	}
	values := labelValues(t, all)
	start := time.Now()
	var mu sync.Mutex
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, exposition(values, time.Since(start).Seconds()))
	}))
	defer target.Close()

	dir := t.TempDir()
	rules, err := alerts.RulesYAML(alerts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Groups evaluate every minute in production; every second here.
	rules = regexp.MustCompile(`(?m)^(\s+interval: )1m$`).ReplaceAll(rules, []byte("${1}1s"))
	rulesPath := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rulesPath, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: plowline
    static_configs:
      - targets: [%q]
        labels: {environment: test}
`, rulesPath, strings.TrimPrefix(target.URL, "http://"))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testkit.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	proc := testkit.Start(t, nil, promBin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	testkit.WaitTCP(t, addr, 30*time.Second)
	base := "http://" + addr

	// Wait for enough scrapes that rates over a minute have samples.
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := promGet(t, base, "/api/v1/query", url.Values{"query": {"count_over_time(" + metricname.CollectorEvents.Name + `{environment="test"}[1m]) >= 4`}})
		if r.Status == "success" && len(r.Data.Result) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not scrape the target in time:\n%s", proc.Output())
		}
		time.Sleep(500 * time.Millisecond)
	}

	for _, q := range queries {
		expr := strings.NewReplacer("$__rate_interval", "1m", "$environment", "test").Replace(q)
		r := promGet(t, base, "/api/v1/query", url.Values{"query": {expr}})
		if r.Status != "success" {
			t.Errorf("dashboard query %q failed on Prometheus: %s", q, r.Error)
			continue
		}
		if len(r.Data.Result) == 0 {
			t.Errorf("dashboard query %q returned no data although every metric it names is exposed", q)
		}
	}

	// Every rule evaluated at least once, without error.
	deadline = time.Now().Add(30 * time.Second)
	for {
		r := promGet(t, base, "/api/v1/rules", nil)
		pending, problems := 0, []string{}
		n := 0
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				n++
				if rule.LastEvaluation == "" || strings.HasPrefix(rule.LastEvaluation, "0001-") {
					pending++
				}
				if rule.Health == "err" || rule.LastError != "" {
					problems = append(problems, fmt.Sprintf("%s/%s: %s", g.Name, rule.Name, rule.LastError))
				}
			}
		}
		if len(problems) > 0 {
			t.Fatalf("rules failed to evaluate on Prometheus:\n%s", strings.Join(problems, "\n"))
		}
		if pending == 0 && n == len(alerts.Rules(alerts.Options{})) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d rules loaded, %d not evaluated yet", n, len(alerts.Rules(alerts.Options{})), pending)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
