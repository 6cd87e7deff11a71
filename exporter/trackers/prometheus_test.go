package trackers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"

	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/testkit"
)

const (
	promUser     = "plowline"
	promPassword = "s3cret-trackers-password"
)

// realPrometheus starts Debian's prometheus scraping target every second,
// with basic auth on its API (password file for the source), and returns
// its URL once it has scraped the target.
func realPrometheus(t *testing.T, target string) (url, passwordFile string) {
	t.Helper()
	bin := testkit.LookPath(t, "prometheus", "apt-get install -y prometheus")
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(promPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("prometheus.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gitlab
    scrape_interval: 1s
    static_configs:
      - targets: [%q]
`, target))
	web := write("web.yml", fmt.Sprintf("basic_auth_users:\n  %s: %s\n", promUser, hash))
	passwordFile = write("password", promPassword+"\n")
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	testkit.Start(t, nil, bin, "--config.file="+cfg, "--web.config.file="+web,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	testkit.WaitTCP(t, addr, 20*time.Second)
	url = "http://" + addr

	// Wait until the target has been scraped.
	c, err := api.NewClient(api.Config{Address: url, RoundTripper: promconfig.NewBasicAuthRoundTripper(
		promconfig.NewInlineSecret(promUser), promconfig.NewInlineSecret(promPassword), http.DefaultTransport)})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, _, _, err := v1.NewAPI(c).Query(context.Background(), `up{job="gitlab"}`, time.Now())
		if vec, ok := v.(model.Vector); err == nil && ok && len(vec) == 1 && vec[0].Value == 1 {
			return url, passwordFile
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus has not scraped the target: %v %v", v, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

// TestCountsMatchWhatTheTargetEmitted runs a GitLab-like target whose
// tracker counters the test increments at known times, a real Prometheus
// scraping it every second, and checks the source's per-window counts
// against the increments made in each window: including a pod born inside
// a window, a counter reset, a window without events and a lazily created
// failed-events counter.
func TestCountsMatchWhatTheTargetEmitted(t *testing.T) {
	reg := prometheus.NewRegistry()
	family := func(m metricname.Info) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: m.Name, Help: m.Help}, []string{"pod"})
		reg.MustRegister(c)
		return c
	}
	emitted := family(metricname.GitLabSnowplowEvents)
	successful := family(metricname.GitLabSnowplowSuccessfulEvents)
	failed := family(metricname.GitLabSnowplowFailedEvents)
	emitted.WithLabelValues("a").Add(10) // history before the range
	successful.WithLabelValues("a").Add(10)
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(target.Close)

	url, passwordFile := realPrometheus(t, strings.TrimPrefix(target.URL, "http://"))

	const w = 4 * time.Second
	cfg := Config{
		URL: url,
		Queries: append(DefaultQueries(),
			Query{Node: "trackers:emitted:increase", Expr: fmt.Sprintf("sum(increase(%s[%s]))", metricname.GitLabSnowplowEvents.Name, WindowVar)}),
		Delay:   1500 * time.Millisecond,
		Timeout: 10 * time.Second,
		HTTP:    promconfig.HTTPClientConfig{BasicAuth: &promconfig.BasicAuth{Username: promUser, PasswordFile: passwordFile}},
	}
	s, err := New("trackers", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.SetLogger(slog.New(slog.NewTextHandler(testLog{t}, nil)))

	// Increments happen 1.2 s into each window, so the 1 s scrape that sees
	// them falls inside the same window.
	b0 := time.Now().Add(time.Second).Truncate(w).Add(w).UTC() // Series keys are UTC
	type step struct{ emitted, successful, failed map[string]float64 }
	steps := []step{
		{emitted: map[string]float64{"a": 5}, successful: map[string]float64{"a": 4}, failed: map[string]float64{"a": 1}},
		{emitted: map[string]float64{"a": 3, "b": 7}, successful: map[string]float64{"a": 3, "b": 7}},
		{},
		{emitted: map[string]float64{"a": -1, "b": 1}, successful: map[string]float64{"b": 1}, failed: map[string]float64{"a": 2}},
	}
	wantCounts := map[string][]float64{}
	for k, st := range steps {
		sleepUntil(b0.Add(time.Duration(k)*w + 1200*time.Millisecond))
		apply := func(node string, c *prometheus.CounterVec, incs map[string]float64) {
			total := 0.0
			for pod, n := range incs {
				if n < 0 { // the pod restarts: its counter starts again from 0, then counts 2
					c.DeleteLabelValues(pod)
					n = 2
				}
				c.WithLabelValues(pod).Add(n)
				total += n
			}
			wantCounts[node] = append(wantCounts[node], total)
		}
		apply("trackers:emitted", emitted, st.emitted)
		apply("trackers:successful", successful, st.successful)
		apply("trackers:failed", failed, st.failed)
	}
	end := b0.Add(time.Duration(len(steps)) * w)
	sleepUntil(end.Add(cfg.Delay + 200*time.Millisecond))

	res, err := s.Refresh(context.Background(), source.Range{From: b0, To: end.Add(w), Window: w})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]source.Series{}
	for _, se := range res.Series {
		got[se.Node] = se
	}
	for node, want := range wantCounts {
		se := got[node]
		if len(se.Counts) != len(steps) {
			t.Errorf("%s: %d windows %v, want %d (the unfinished window must be absent)", node, len(se.Counts), se.Counts, len(steps))
		}
		for k, n := range want {
			wstart := b0.Add(time.Duration(k) * w)
			if c, ok := se.Counts[wstart]; !ok || c != n {
				t.Errorf("%s window %d: %v (present %v), want %v", node, k, c, ok, n)
			}
		}
		if se.Bucketing != source.ArrivalTime {
			t.Errorf("%s bucketed by %s", node, se.Bucketing)
		}
	}
	// increase() extrapolates and misses the pod born in window 1, so only
	// its shape is checked: four windows, events in window 0, none in 2.
	inc := got["trackers:emitted:increase"].Counts
	if len(inc) != len(steps) || inc[b0] <= 0 || inc[b0.Add(2*w)] != 0 {
		t.Errorf("expr counts %v", inc)
	}
	if n := s.Usage().Requests.Load(); n != int64(len(cfg.Queries)) {
		t.Errorf("%d requests for %d queries", n, len(cfg.Queries))
	}

	t.Run("execution error", func(t *testing.T) {
		bad := cfg
		bad.Queries = []Query{{Node: "x", Expr: metricname.GitLabSnowplowEvents.Name + " + on() " + metricname.GitLabSnowplowSuccessfulEvents.Name}}
		bs, err := New("bad", bad)
		if err != nil {
			t.Fatal(err)
		}
		_, err = bs.Refresh(context.Background(), source.Range{From: b0, To: end, Window: w})
		if err == nil || !strings.Contains(err.Error(), "query is wrong") || !strings.Contains(err.Error(), "node x") {
			t.Errorf("want a clear query error, got %v", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		wrong := cfg
		pf := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pf, []byte("not-the-password"), 0o600)
		wrong.HTTP = promconfig.HTTPClientConfig{BasicAuth: &promconfig.BasicAuth{Username: promUser, PasswordFile: pf}}
		ws, err := New("wrong", wrong)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ws.Refresh(context.Background(), source.Range{From: b0, To: end, Window: w})
		if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("want a 401 error without the password, got %v", err)
		}
	})
}

func TestPrometheusDownFailsClearly(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)) // nothing listens
	s, err := New("trackers", Config{URL: "http://" + addr, Queries: DefaultQueries(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	_, err = s.Refresh(context.Background(), source.Range{From: from, To: from.Add(2 * time.Hour), Window: time.Hour})
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("want a connection error naming the server, got %v", err)
	}
}

// testLog sends the source's log lines to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
