package trackers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/plowline/plowline/exporter/source"
)

func TestConfigFromYAML(t *testing.T) {
	doc := `
url: https://prometheus.example.com/prom
timeout: 20s
interval: 2m
delay: 90s
basic_auth:
  username: exporter
  password_file: /etc/plowline/prometheus-password
tls_config:
  ca_file: /etc/ssl/ca.pem
queries:
  - node: trackers:emitted
    counter: gitlab_snowplow_events_total{env="gprd"}
  - node: trackers:estimated
    expr: sum(increase(gitlab_snowplow_events_total[$__window]))
    absent_as_zero: true
`
	// Strictly, as the exporter decodes source settings: no unknown keys.
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Timeout != 20*time.Second || c.Interval != 2*time.Minute || c.Delay != 90*time.Second ||
		c.HTTP.BasicAuth == nil || c.HTTP.BasicAuth.PasswordFile != "/etc/plowline/prometheus-password" ||
		c.HTTP.TLSConfig.CAFile != "/etc/ssl/ca.pem" || len(c.Queries) != 2 || !c.Queries[1].AbsentAsZero {
		t.Errorf("decoded %+v", c)
	}
	if err := (Config{URL: "http://p:9090", Queries: DefaultQueries()}).Validate(); err != nil {
		t.Errorf("default queries invalid: %v", err)
	}
}

func TestValidateNamesKeyAndValue(t *testing.T) {
	for name, tc := range map[string]struct {
		c    Config
		want string
	}{
		"url":      {Config{URL: "prometheus:9090", Queries: DefaultQueries()}, `url: "prometheus:9090"`},
		"userinfo": {Config{URL: "http://u:hunter2@p:9090", Queries: DefaultQueries()}, "password_file"},
		"none":     {Config{URL: "http://p:9090"}, "none configured"},
		"both":     {Config{URL: "http://p:9090", Queries: []Query{{Node: "n", Counter: "x", Expr: "x"}}}, "set exactly one"},
		"neither":  {Config{URL: "http://p:9090", Queries: []Query{{Node: "n"}}}, "set exactly one"},
		"agg":      {Config{URL: "http://p:9090", Queries: []Query{{Node: "n", Counter: "sum(x)"}}}, `queries[0].counter: "sum(x)" is not a series selector`},
		"offset":   {Config{URL: "http://p:9090", Queries: []Query{{Node: "n", Counter: "x offset 5m"}}}, "offset"},
		"badExpr":  {Config{URL: "http://p:9090", Queries: []Query{{Node: "n", Expr: "sum(rate(x[$__window])"}}}, `queries[0].expr: "sum(rate(x[$__window])"`},
		"dup":      {Config{URL: "http://p:9090", Queries: []Query{{Node: "n", Counter: "x"}, {Node: "n", Counter: "y"}}}, `queries[1].node: "n" is also fed by queries[0]`},
		"timeout":  {Config{URL: "http://p:9090", Queries: DefaultQueries(), Timeout: -time.Second}, "timeout: -1s"},
	} {
		err := tc.c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to mention %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error leaks the URL's password: %v", name, err)
		}
		if _, err := New("x", tc.c); err == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
}

// scripted is a Prometheus HTTP API stand-in answering query_range with a
// fixed matrix, for edge cases a live Prometheus cannot be made to show
// on demand (a gap in its data, non-finite values).
func scripted(t *testing.T, series []map[int]float64, from time.Time, w time.Duration) string {
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.URL.Path != "/api/v1/query_range" || r.Form.Get("step") != strconv.FormatFloat(w.Seconds(), 'f', -1, 64) {
			http.Error(rw, "unexpected "+r.URL.String(), 400)
			return
		}
		var result []map[string]any
		for i, s := range series {
			var values [][2]any
			for k := 0; k < 100; k++ {
				if v, ok := s[k]; ok {
					ts := float64(from.Add(time.Duration(k)*w).UnixMilli()) / 1000
					values = append(values, [2]any{ts, strconv.FormatFloat(v, 'f', -1, 64)})
				}
			}
			if len(values) > 0 {
				result = append(result, map[string]any{"metric": map[string]string{"pod": fmt.Sprint(i)}, "values": values})
			}
		}
		json.NewEncoder(rw).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": result}})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCounterArithmetic(t *testing.T) {
	from := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	w := time.Hour
	r := source.Range{From: from, To: from.Add(6 * w), Window: w}
	for name, tc := range map[string]struct {
		series []map[int]float64
		absent bool
		want   map[int]float64 // window → count; absent windows unknown
	}{
		"steady": {[]map[int]float64{{0: 10, 1: 15, 2: 15, 3: 20, 4: 21, 5: 30, 6: 31}}, false,
			map[int]float64{0: 5, 1: 0, 2: 5, 3: 1, 4: 9, 5: 1}},
		"reset and birth": {[]map[int]float64{{0: 10, 1: 15, 2: 3, 3: 4, 4: 4, 5: 4, 6: 4}, {3: 6, 4: 8, 5: 8, 6: 8}}, false,
			map[int]float64{0: 5, 1: 3, 2: 1 + 6, 3: 2, 4: 0, 5: 0}},
		// Prometheus had no data at boundary 3: windows 2 and 3 unknown; the
		// series keeps its last value across the gap.
		"gap": {[]map[int]float64{{0: 1, 1: 2, 2: 3, 4: 9, 5: 10, 6: 11}}, false,
			map[int]float64{0: 1, 1: 1, 4: 1, 5: 1}},
		"absent unknown": {nil, false, map[int]float64{}},
		"absent zero":    {nil, true, map[int]float64{0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0}},
		// Lazily created: zero before it exists, its first value when born.
		"lazy": {[]map[int]float64{{4: 2, 5: 2, 6: 5}}, true, map[int]float64{0: 0, 1: 0, 2: 0, 3: 2, 4: 0, 5: 3}},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := New("t", Config{URL: scripted(t, tc.series, from, w), Delay: time.Minute,
				Queries: []Query{{Node: "n", Counter: "x", AbsentAsZero: tc.absent}}})
			if err != nil {
				t.Fatal(err)
			}
			s.now = func() time.Time { return from.Add(6*w + 2*time.Minute) }
			res, err := s.Refresh(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			got := res.Series[0].Counts
			if len(got) != len(tc.want) {
				t.Errorf("windows %v, want %v", got, tc.want)
			}
			for k, n := range tc.want {
				if c, ok := got[from.Add(time.Duration(k)*w)]; !ok || c != n {
					t.Errorf("window %d: %v (present %v), want %v", k, c, ok, n)
				}
			}
		})
	}
}

func TestUnsettledWindowsAreNotQueried(t *testing.T) {
	from := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	s, err := New("t", Config{URL: "http://127.0.0.1:1", Queries: DefaultQueries()})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return from.Add(time.Hour + 30*time.Second) } // delay 1m not passed
	res, err := s.Refresh(context.Background(), source.Range{From: from, To: from.Add(2 * time.Hour), Window: time.Hour})
	if err != nil || len(res.Series) != 3 || len(res.Series[0].Counts) != 0 || s.Usage().Requests.Load() != 0 {
		t.Errorf("%v %+v, %d requests", err, res, s.Usage().Requests.Load())
	}
}
