package cloudwatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/plowline/plowline/exporter/cloudwatch/cloudwatchtest"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/metricname"
)

const testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLOWLINEKEY"

// testNow is the fixed clock of most tests: 12:07:30, so with the default
// 5-minute delay the settled cutoff is 12:02.
var testNow = time.Date(2026, 11, 26, 12, 7, 30, 0, time.UTC)

// gen is the double's data: a deterministic pseudo-random datapoint per
// metric and period. Lambda Errors/Throttles are sparse (AWS publishes no
// datapoint for a period without activity); ages are in milliseconds.
func gen(key string, ts time.Time) (float64, bool) {
	h := fnv.New32a()
	h.Write([]byte(key))
	binary.Write(h, binary.BigEndian, ts.Unix())
	x := h.Sum32()
	switch {
	case strings.Contains(key, "Errors") || strings.Contains(key, "Throttles"):
		if x%7 != 0 {
			return 0, false
		}
		return float64(x%3 + 1), true
	case strings.Contains(key, "IteratorAge"):
		return float64(x % 60000), true
	case strings.Contains(key, "DataFreshness"):
		return float64(x % 900), true
	}
	return float64(x % 1000), true
}

// want is what a window [w, w+window) of key sums to in the double's data.
func want(key string, w time.Time, window time.Duration) float64 {
	return wantFrom(gen, key, w, window)
}

func wantFrom(g func(string, time.Time) (float64, bool), key string, w time.Time, window time.Duration) float64 {
	var sum float64
	for ts := w; ts.Before(w.Add(window)); ts = ts.Add(time.Minute) {
		if v, ok := g(key, ts); ok {
			sum += v
		}
	}
	return sum
}

// realClient is the production client from NewClient, pointed at the
// double with fake static credentials from the environment.
func realClient(t *testing.T, f *cloudwatchtest.Server) *cloudwatch.Client {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDPLOWLINETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	c, err := NewClient(context.Background(), Config{Region: "us-east-1", Endpoint: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTestSource(t *testing.T, f *cloudwatchtest.Server, cfg Config) *Source {
	t.Helper()
	s, err := New("cw", cfg, realClient(t, f))
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return testNow }
	s.sleep = func(context.Context, time.Duration) error { return nil }
	s.SetLogger(slog.New(slog.NewTextHandler(testLog{t}, nil)))
	return s
}

// testLog sends the source's log lines to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func keyOf(q Query) string {
	return cloudwatchtest.Key(q.Namespace, q.MetricName, q.Dimensions, q.Stat)
}

func gitlabConfig() Config {
	return Config{Queries: QueriesForTopology(config.GitLabTopology())}
}

func hours(from, to int) source.Range {
	d := func(h int) time.Time { return time.Date(2026, 11, 26, h, 0, 0, 0, time.UTC) }
	return source.Range{From: d(from), To: d(to), Window: time.Hour}
}

func TestDefaultGitLabQueriesOneCallSettledWindows(t *testing.T) {
	f := cloudwatchtest.NewServer(t, gen)
	cfg := gitlabConfig()
	s := newTestSource(t, f, cfg)
	res, err := s.Refresh(context.Background(), hours(6, 13))
	if err != nil {
		t.Fatal(err)
	}
	calls, metrics := f.Calls()
	reqs := f.Requests()
	if calls != 1 || metrics != len(cfg.Queries) {
		t.Fatalf("one refresh of %d queries made %d calls requesting %d metrics; want 1 call", len(cfg.Queries), calls, metrics)
	}
	settled := time.Date(2026, 11, 26, 12, 2, 0, 0, time.UTC)
	if !reqs[0].Start.Equal(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)) || !reqs[0].End.Equal(settled) {
		t.Errorf("asked for %s..%s; want 06:00..12:02 (no unconverged period)", reqs[0].Start, reqs[0].End)
	}
	if got := s.Usage().Requests.Load(); got != 1 {
		t.Errorf("usage requests %d, want 1", got)
	}
	if got := s.Usage().Costs()[CostUnit]; got != int64(len(cfg.Queries)) {
		t.Errorf("usage %s %d, want %d", CostUnit, got, len(cfg.Queries))
	}

	byNode := map[string]source.Series{}
	for _, se := range res.Series {
		byNode[se.Node] = se
	}
	for _, q := range cfg.Queries {
		if q.Node == "" {
			continue
		}
		se, ok := byNode[q.Node]
		if !ok {
			t.Errorf("node %s missing", q.Node)
			continue
		}
		if se.Bucketing != source.ArrivalTime {
			t.Errorf("node %s bucketed by %s", q.Node, se.Bucketing)
		}
		// 06:00..12:00 are settled; 12:00..13:00 is not and must be absent.
		if len(se.Counts) != 6 {
			t.Errorf("node %s: %d windows, want 6 (06..11h): %v", q.Node, len(se.Counts), se.Counts)
		}
		for h := 6; h < 12; h++ {
			w := time.Date(2026, 11, 26, h, 0, 0, 0, time.UTC)
			if got, want := se.Counts[w], want(keyOf(q), w, time.Hour); got != want {
				t.Errorf("node %s window %s: %v, want %v", q.Node, w.Format("15:04"), got, want)
			}
		}
	}
	for _, node := range []string{"kinesis:snowplow-raw-good", "firehose:snowplow-enriched-good:incoming",
		"firehose:snowplow-enriched-good:delivered", "lambda:snowplow-enricher:errors",
		"lambda:snowplow-collector:events", "lambda:snowplow-enricher:events:good",
		"lambda:snowplow-pseudonymizer:records:snowplow-enriched-good:ok",
		"elb:app/snowplow-collector/0123456789abcdef:requests"} {
		if _, ok := byNode[node]; !ok {
			t.Errorf("documented node %s not produced", node)
		}
	}

	// Gauges: the latest settled period (12:01) of each gauge query.
	last := settled.Add(-time.Minute)
	gauges := map[string]float64{}
	for _, g := range res.Gauges {
		gauges[g.Name+labelKey(g.Labels)] = g.Value
	}
	for _, q := range cfg.Queries {
		if q.Gauge == "" {
			continue
		}
		v, ok := gen(keyOf(q), last)
		if !ok && q.Stat != "Sum" {
			continue
		}
		scale := q.Scale
		if scale == 0 {
			scale = 1
		}
		id := q.Gauge + labelKey(q.GaugeLabels)
		got, present := gauges[id]
		if !present || got != v*scale {
			t.Errorf("gauge %s = %v (present %v), want %v", id, got, present, v*scale)
		}
	}
	age := gauges[metricname.KinesisIteratorAge.Name+labelKey(map[string]string{"stream": "snowplow-raw-good"})]
	if age <= 0 || age >= 60 {
		t.Errorf("iterator age %v s: not converted from milliseconds", age)
	}
}

func TestBatchesOf500QueriesPerCall(t *testing.T) {
	f := cloudwatchtest.NewServer(t, gen)
	var qs []Query
	for i := range 1201 {
		qs = append(qs, Query{Namespace: "AWS/Kinesis", MetricName: "IncomingRecords", Stat: "Sum",
			Dimensions: map[string]string{"StreamName": fmt.Sprintf("s%d", i)}, Node: fmt.Sprintf("kinesis:s%d", i)})
	}
	s := newTestSource(t, f, Config{Queries: qs})
	res, err := s.Refresh(context.Background(), hours(10, 12))
	if err != nil {
		t.Fatal(err)
	}
	calls, metrics := f.Calls()
	reqs := f.Requests()
	if calls != 3 || metrics != 1201 {
		t.Fatalf("%d calls for %d metrics; want 3 calls (500+500+201)", calls, metrics)
	}
	for i, want := range []int{500, 500, 201} {
		if reqs[i].Queries != want {
			t.Errorf("call %d carried %d queries, want %d", i, reqs[i].Queries, want)
		}
	}
	if len(res.Series) != 1201 {
		t.Fatalf("%d series", len(res.Series))
	}
	w := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i, se := range res.Series {
		if got, want := se.Counts[w], want(keyOf(qs[i]), w, time.Hour); got != want || len(se.Counts) != 2 {
			t.Fatalf("series %d: %v, want %v in 2 windows", i, se.Counts, want)
		}
	}
}

func TestPaginationFollowedToTheEnd(t *testing.T) {
	f := cloudwatchtest.NewServer(t, gen)
	cfg := gitlabConfig()
	whole := newTestSource(t, f, cfg)
	want, err := whole.Refresh(context.Background(), hours(6, 13))
	if err != nil {
		t.Fatal(err)
	}
	f = cloudwatchtest.NewServer(t, gen)
	cfg.MaxDatapoints = 1000
	paged := newTestSource(t, f, cfg)
	got, err := paged.Refresh(context.Background(), hours(6, 13))
	if err != nil {
		t.Fatal(err)
	}
	calls, metrics := f.Calls()
	reqs := f.Requests()
	if calls < 10 {
		t.Fatalf("%d calls with 1000 datapoints per page; pagination not exercised", calls)
	}
	for i, r := range reqs {
		if (i == 0) != (r.Token == "") {
			t.Errorf("call %d token %q", i, r.Token)
		}
	}
	if metrics != calls*len(cfg.Queries) || paged.Usage().Costs()[CostUnit] != int64(metrics) {
		t.Errorf("metrics requested %d (usage %d) over %d pages of %d queries", metrics, paged.Usage().Costs()[CostUnit], calls, len(cfg.Queries))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged result differs from one-page result:\n%v\n%v", got, want)
	}
}

func TestPartialAndFailedAnswersAreUnknownNotZero(t *testing.T) {
	// holes: the enriched stream has no datapoint 10:30..10:35.
	holes := func(key string, ts time.Time) (float64, bool) {
		if strings.Contains(key, "snowplow-enriched-good") && ts.Hour() == 10 && ts.Minute() >= 30 && ts.Minute() < 35 {
			return 0, false
		}
		if strings.Contains(key, "quiet") {
			return 0, false
		}
		return gen(key, ts)
	}
	f := cloudwatchtest.NewServer(t, holes)
	raw := Query{Namespace: "AWS/Kinesis", MetricName: "IncomingRecords", Stat: "Sum",
		Dimensions: map[string]string{"StreamName": "snowplow-raw-good"}, Node: "raw"}
	forbidden := Query{Namespace: "AWS/Kinesis", MetricName: "IncomingRecords", Stat: "Sum",
		Dimensions: map[string]string{"StreamName": "other-account"}, Node: "forbidden",
		Gauge: metricname.KinesisIncomingRecords.Name, GaugeLabels: map[string]string{"stream": "other-account"}}
	strict := Query{Namespace: "AWS/Kinesis", MetricName: "IncomingRecords", Stat: "Sum",
		Dimensions: map[string]string{"StreamName": "snowplow-enriched-good"}, Node: "strict", Missing: "unknown"}
	lenient := Query{Namespace: "AWS/Firehose", MetricName: "IncomingRecords", Stat: "Sum",
		Dimensions: map[string]string{"DeliveryStreamName": "snowplow-enriched-good"}, Node: "lenient"}
	quiet := Query{Namespace: "AWS/Lambda", MetricName: "Errors", Stat: "Sum",
		Dimensions: map[string]string{"FunctionName": "quiet"}, Node: "quiet"}
	// CloudWatch returns only the newest 150 periods of raw, flagged
	// PartialData and without a NextToken.
	f.Partial(keyOf(raw), 150)
	f.Status(keyOf(forbidden), "Forbidden")

	s := newTestSource(t, f, Config{Queries: []Query{raw, forbidden, strict, lenient, quiet}})
	res, err := s.Refresh(context.Background(), hours(6, 13))
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]map[time.Time]float64{}
	for _, se := range res.Series {
		series[se.Node] = se.Counts
	}
	at := func(h int) time.Time { return time.Date(2026, 11, 26, h, 0, 0, 0, time.UTC) }

	// raw: 150 periods back from 12:02 reach 09:32; the 09h window is
	// incomplete and must be absent, 10h and 11h present and exact.
	if len(series["raw"]) != 2 {
		t.Errorf("partial answer: windows %v; want only 10h and 11h", series["raw"])
	}
	for _, h := range []int{10, 11} {
		if got, want := series["raw"][at(h)], want(keyOf(raw), at(h), time.Hour); got != want {
			t.Errorf("raw %dh = %v, want %v", h, got, want)
		}
	}
	if c, ok := series["forbidden"]; !ok || len(c) != 0 {
		t.Errorf("a query CloudWatch refused must be a node without windows, got %v (present %v)", c, ok)
	}
	for _, g := range res.Gauges {
		if g.Labels["stream"] == "other-account" {
			t.Errorf("gauge reported for a refused query: %v", g)
		}
	}
	if _, ok := series["strict"][at(10)]; ok || len(series["strict"]) != 5 {
		t.Errorf("missing: unknown must omit the window with holes, got %v", series["strict"])
	}
	if got, want := series["lenient"][at(10)], wantFrom(holes, keyOf(lenient), at(10), time.Hour); got != want || want == 0 || want == wantFrom(gen, keyOf(lenient), at(10), time.Hour) {
		t.Errorf("missing: zero window with holes = %v, want %v", got, want)
	}
	if len(series["quiet"]) != 6 || series["quiet"][at(6)] != 0 {
		t.Errorf("a complete answer without datapoints is a real zero: %v", series["quiet"])
	}
}

func TestThrottlingRetriedWithGrowingBackoff(t *testing.T) {
	for _, use429 := range []bool{false, true} {
		t.Run(fmt.Sprintf("429=%v", use429), func(t *testing.T) {
			f := cloudwatchtest.NewServer(t, gen)
			f.Throttle(3, use429)
			cfg := gitlabConfig()
			s := newTestSource(t, f, cfg)
			var waits []time.Duration
			s.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			if _, err := s.Refresh(context.Background(), hours(10, 12)); err != nil {
				t.Fatal(err)
			}
			calls, metrics := f.Calls()
			if calls != 4 || len(waits) != 3 {
				t.Fatalf("%d calls, %d waits; want 3 throttled calls then success", calls, len(waits))
			}
			for i, w := range waits {
				lo, hi := 125*time.Millisecond<<i, 250*time.Millisecond<<i
				if w < lo || w > hi {
					t.Errorf("wait %d = %s, want within [%s, %s]", i, w, lo, hi)
				}
			}
			if s.Usage().Requests.Load() != 4 || s.Usage().Costs()[CostUnit] != int64(metrics) || metrics != len(cfg.Queries) {
				t.Errorf("usage %d requests %v; want 4 requests and %d metrics billed once", s.Usage().Requests.Load(), s.Usage().Costs(), len(cfg.Queries))
			}
		})
	}
}

func TestThrottlingGivesUpBeforeTheDeadline(t *testing.T) {
	f := cloudwatchtest.NewServer(t, gen)
	f.Throttle(1<<30, false)
	cfg := gitlabConfig()
	cfg.MaxAttempts = 50
	s := newTestSource(t, f, cfg)
	s.sleep = sleepCtx // real waits
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := s.Refresh(ctx, hours(10, 12))
	took := time.Since(begin)
	if err == nil {
		t.Fatal("refresh succeeded against a CloudWatch that always throttles")
	}
	if !strings.Contains(err.Error(), "throttled") || !strings.Contains(err.Error(), "refresh deadline") || !strings.Contains(err.Error(), "Rate exceeded") {
		t.Errorf("error does not say it was throttled and gave up: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || took >= 1500*time.Millisecond {
		t.Errorf("gave up only at the deadline (%s): %v", took, err)
	}
	calls, _ := f.Calls()
	if calls < 3 || s.Usage().Costs()[CostUnit] != 0 {
		t.Errorf("%d calls, %v billed; want several attempts and nothing billed", calls, s.Usage().Costs())
	}

	// MaxAttempts bounds retries too.
	f2 := cloudwatchtest.NewServer(t, gen)
	f2.Throttle(1<<30, false)
	cfg.MaxAttempts = 4
	s2 := newTestSource(t, f2, cfg)
	_, err = s2.Refresh(context.Background(), hours(10, 12))
	if calls, _ := f2.Calls(); err == nil || calls != 4 || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Errorf("%d calls, error %v; want 4 attempts then failure", calls, err)
	}
}

func TestBadCredentialsFailTheRefreshClearly(t *testing.T) {
	f := cloudwatchtest.NewServer(t, gen)
	f.Deny(true)
	s := newTestSource(t, f, gitlabConfig())
	_, err := s.Refresh(context.Background(), hours(10, 12))
	if err == nil {
		t.Fatal("refresh succeeded with rejected credentials")
	}
	msg := err.Error()
	for _, want := range []string{`"cw"`, "credentials", "HTTP 403", "UnrecognizedClientException", "cloudwatch:GetMetricData"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, testSecret) {
		t.Errorf("error leaks the secret key: %s", msg)
	}
	if calls, _ := f.Calls(); calls != 1 {
		t.Errorf("%d calls; a credentials error must not be retried", calls)
	}
}

func TestUnreachableEndpointFails(t *testing.T) {
	f := cloudwatchtest.NewServer(t, gen)
	s := newTestSource(t, f, Config{Queries: gitlabConfig().Queries, MaxAttempts: 2})
	f.Close()
	_, err := s.Refresh(context.Background(), hours(10, 12))
	if err == nil || !strings.Contains(err.Error(), "calling CloudWatch GetMetricData") {
		t.Fatalf("want a clear connection error, got %v", err)
	}
}

// TestCallsPerHourIndependentOfScrapes runs an hour of simulated time
// twice, with Prometheus scraping the exporter every 15 s and every 60 s:
// the exporter refreshes the source on its interval and serves the cached
// Result, so CloudWatch sees the same calls either way. A scrape-
// synchronous exporter (cloudwatch_exporter's model: every scrape requests
// every metric) is simulated through the same double for the billed ratio.
func TestCallsPerHourIndependentOfScrapes(t *testing.T) {
	cfg := gitlabConfig()
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	rangeAt := func(now time.Time) source.Range {
		to := alignDown(now, time.Hour).Add(time.Hour)
		// A short lookback keeps the test fast; billing does not depend on it.
		return source.Range{From: to.Add(-4 * time.Hour), To: to, Window: time.Hour}
	}
	hour := func(scrape time.Duration, synchronous bool) (calls, metrics, served int) {
		f := cloudwatchtest.NewServer(t, gen)
		s := newTestSource(t, f, cfg)
		var cached source.Result
		var last time.Time
		for now := start; now.Before(start.Add(time.Hour)); now = now.Add(scrape) {
			s.now = func() time.Time { return now }
			if synchronous || last.IsZero() || now.Sub(last) >= s.Interval() {
				res, err := s.Refresh(context.Background(), rangeAt(now))
				if err != nil {
					t.Fatal(err)
				}
				cached, last = res, now
			}
			served += len(cached.Series) // the scrape reads the cache
		}
		calls, metrics = f.Calls()
		return calls, metrics, served
	}
	c15, m15, s15 := hour(15*time.Second, false)
	c60, m60, s60 := hour(time.Minute, false)
	if c15 != c60 || m15 != m60 || s15 <= s60 {
		t.Errorf("calls depend on scrapes: 15 s scrapes %d calls/%d metrics, 60 s scrapes %d/%d", c15, m15, c60, m60)
	}
	perHour := int(time.Hour / DefaultInterval)
	if c60 != perHour || m60 != perHour*len(cfg.Queries) {
		t.Errorf("an hour at the default interval: %d calls, %d metrics; want %d and %d", c60, m60, perHour, perHour*len(cfg.Queries))
	}
	cs, ms, _ := hour(time.Minute, true)
	ratio := float64(ms) / float64(m60)
	t.Logf("default GitLab configuration: %d queries; background refresh every %s: %d calls, %d metrics billed per hour; scrape-synchronous at 1-minute scrapes: %d calls, %d metrics per hour; %.1f× fewer",
		len(cfg.Queries), DefaultInterval, c60, m60, cs, ms, ratio)
	if ratio < 5 {
		t.Errorf("only %.1f× fewer metrics billed than a scrape-synchronous exporter", ratio)
	}
}

func TestRefreshRejectsMisalignedRanges(t *testing.T) {
	f := cloudwatchtest.NewServer(t, gen)
	s := newTestSource(t, f, gitlabConfig())
	r := hours(10, 12)
	r.Window = 90 * time.Second
	if _, err := s.Refresh(context.Background(), r); err == nil || !strings.Contains(err.Error(), "1m30s") {
		t.Errorf("window not a multiple of the period: %v", err)
	}
	r = hours(10, 12)
	r.From = r.From.Add(30 * time.Second)
	if _, err := s.Refresh(context.Background(), r); err == nil || !strings.Contains(err.Error(), "not aligned") {
		t.Errorf("unaligned start: %v", err)
	}
	// Windows older than CloudWatch keeps 1-minute data (15 days) would
	// come back empty: they are not reported.
	one := newTestSource(t, f, Config{Queries: gitlabConfig().Queries[:1]})
	old := source.Range{From: testNow.Add(-16 * 24 * time.Hour).Truncate(time.Hour), To: testNow.Truncate(time.Hour), Window: time.Hour}
	res, err := one.Refresh(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Series[0].Counts); n != 15*24-1 && n != 15*24 {
		t.Errorf("%d windows over 16 days; want only the 15 days CloudWatch retains", n)
	}
	for w := range res.Series[0].Counts {
		if w.Before(testNow.Add(-15 * 24 * time.Hour)) {
			t.Errorf("window %s is older than CloudWatch's retention", w)
		}
	}
	f = cloudwatchtest.NewServer(t, gen)
	s = newTestSource(t, f, gitlabConfig())

	// A range that is entirely unsettled asks CloudWatch only for gauges.
	res, err = s.Refresh(context.Background(), hours(12, 13))
	if err != nil {
		t.Fatal(err)
	}
	for _, se := range res.Series {
		if len(se.Counts) != 0 {
			t.Fatalf("unsettled window reported: %v", se)
		}
	}
	if reqs := f.Requests(); len(reqs) != 1 || !reqs[0].Start.Equal(time.Date(2026, 11, 26, 11, 47, 0, 0, time.UTC)) {
		t.Errorf("gauge-only request: %+v", reqs)
	}
}

func TestCrossAccountQueriesCarryTheAccountID(t *testing.T) {
	f := cloudwatchtest.NewServer(t, gen)
	qs := gitlabConfig().Queries[:2]
	qs[1].AccountID = "123456789012"
	s := newTestSource(t, f, Config{Queries: qs})
	if _, err := s.Refresh(context.Background(), hours(10, 12)); err != nil {
		t.Fatal(err)
	}
	if got := f.Requests()[0].AccountIDs; len(got) != 2 || got[0] != "" || got[1] != "123456789012" {
		t.Errorf("account ids on the wire: %q", got)
	}
}
