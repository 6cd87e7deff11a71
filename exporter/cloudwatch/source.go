package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/plowline/plowline/exporter/source"
)

// API is the part of the CloudWatch client the source uses.
type API interface {
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// CostUnit is the Usage cost unit this source counts: CloudWatch bills
// GetMetricData per metric requested, so every query of every call counts.
const CostUnit = "metrics_requested"

// Kind is the source kind, the `kind` label of its metrics.
const Kind = "cloudwatch"

// Source reads its queries from CloudWatch with GetMetricData, one call
// per refresh for up to 500 queries. It keeps no state between refreshes
// and caches nothing: the exporter calls Refresh on the interval and serves
// the Result it returned, so calls made are independent of scrapes.
type Source struct {
	name    string
	cfg     Config
	api     API
	usage   source.Usage
	log     *slog.Logger
	queries []types.MetricDataQuery

	// now is the clock windows and convergence are judged by; sleep waits
	// between retries. Tests replace both.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

var _ source.Source = (*Source)(nil)

// New returns a source reading cfg's queries through api. cfg is
// validated; its zero fields take the defaults.
func New(name string, cfg Config, api API) (*Source, error) {
	if name == "" {
		return nil, errors.New("cloudwatch source: empty name")
	}
	if api == nil {
		return nil, fmt.Errorf("cloudwatch source %q: nil API client", name)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cloudwatch source %q: %w", name, err)
	}
	cfg = cfg.withDefaults()
	s := &Source{name: name, cfg: cfg, api: api, log: slog.Default(), now: time.Now, sleep: sleepCtx}
	period := int32(cfg.Period / time.Second)
	for i, q := range cfg.Queries {
		s.queries = append(s.queries, types.MetricDataQuery{
			// GetMetricData ids must match ^[a-z][a-zA-Z0-9_]*$.
			Id: aws.String(fmt.Sprintf("q%d", i)),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{
					Namespace:  aws.String(q.Namespace),
					MetricName: aws.String(q.MetricName),
					Dimensions: dimensions(q.Dimensions),
				},
				Period: aws.Int32(period),
				Stat:   aws.String(q.Stat),
			},
			ReturnData: aws.Bool(true),
		})
		if q.AccountID != "" {
			s.queries[i].AccountId = aws.String(q.AccountID)
		}
	}
	return s, nil
}

// SetLogger sets where the source reports per-query problems CloudWatch
// signals inside a successful answer (a metric it could not read); the
// default is slog.Default().
func (s *Source) SetLogger(l *slog.Logger) {
	if l != nil {
		s.log = l
	}
}

// Name is the configured name.
func (s *Source) Name() string { return s.name }

// Kind is "cloudwatch".
func (s *Source) Kind() string { return Kind }

// Interval is how often the source should be refreshed.
func (s *Source) Interval() time.Duration { return s.cfg.Interval }

// Usage counts GetMetricData calls (every attempt, throttled ones too) and
// metrics requested (per successful call, which is what AWS bills).
func (s *Source) Usage() *source.Usage { return &s.usage }

// Queries returns the number of CloudWatch metrics requested per call set.
func (s *Source) Queries() int { return len(s.queries) }

// Refresh reads every query for r. Only windows that end before
// now-Delay (converged periods) and that CloudWatch answered completely
// appear in the series; anything else is omitted, meaning unknown. It
// fails if any call fails after retries, so a Result is never half-built.
func (s *Source) Refresh(ctx context.Context, r source.Range) (source.Result, error) {
	p := s.cfg.Period
	if r.Window <= 0 || r.Window%p != 0 {
		return source.Result{}, fmt.Errorf("cloudwatch source %q: window %s is not a positive multiple of the period %s", s.name, r.Window, p)
	}
	if !r.From.Equal(alignDown(r.From, p)) {
		return source.Result{}, fmt.Errorf("cloudwatch source %q: range start %s is not aligned to the period %s", s.name, r.From.UTC().Format(time.RFC3339), p)
	}
	if !r.To.After(r.From) {
		return source.Result{}, fmt.Errorf("cloudwatch source %q: empty range %s..%s", s.name, r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	}
	now := s.now()
	settled := alignDown(now.Add(-s.cfg.Delay), p)
	// CloudWatch keeps data at this period only so long; older windows
	// would come back empty and "complete" — false zeroes — so they are
	// neither asked for nor reported.
	retained := now.Add(-retention(p))

	var windows []time.Time
	for w := r.From.UTC(); !w.Add(r.Window).After(r.To) && !w.Add(r.Window).After(settled); w = w.Add(r.Window) {
		if !w.Before(retained) {
			windows = append(windows, w)
		}
	}
	var start, end time.Time
	if len(windows) > 0 {
		start, end = windows[0], windows[len(windows)-1].Add(r.Window)
	}
	if s.hasGauges() {
		gStart := alignDown(settled.Add(-s.cfg.GaugeMaxAge), p)
		if start.IsZero() || gStart.Before(start) {
			start = gStart
		}
		end = settled
	}

	answers := map[string]*answer{}
	if start.Before(end) {
		var err error
		if answers, err = s.fetch(ctx, start, end); err != nil {
			return source.Result{}, err
		}
	}
	return s.build(answers, windows, r.Window, start, end, settled), nil
}

// retention is how long CloudWatch keeps datapoints at period p: under a
// minute 3 hours, a minute 15 days, five minutes 63 days, an hour 455 days.
func retention(p time.Duration) time.Duration {
	const day = 24 * time.Hour
	switch {
	case p < time.Minute:
		return 3 * time.Hour
	case p%time.Hour == 0:
		return 455 * day
	case p%(5*time.Minute) == 0:
		return 63 * day
	}
	return 15 * day
}

func (s *Source) hasGauges() bool {
	for _, q := range s.cfg.Queries {
		if q.Gauge != "" {
			return true
		}
	}
	return false
}

// answer gathers one query's datapoints over all pages.
type answer struct {
	start, step int64     // first period start and period, Unix seconds
	vals        []float64 // per period of the request: value
	has         []bool    // per period: CloudWatch returned a datapoint
	status      types.StatusCode
	failed      string // why CloudWatch could not answer it, if it could not
	oldest      int64  // oldest timestamp returned (ScanBy descending)
}

// at is the datapoint of the period starting at sec, if there is one.
func (a *answer) at(sec int64) (float64, bool) {
	if sec < a.start || (sec-a.start)%a.step != 0 {
		return 0, false
	}
	i := (sec - a.start) / a.step
	if i >= int64(len(a.vals)) {
		return 0, false
	}
	return a.vals[i], a.has[i]
}

// fetch asks for every query over [start, end): one call per 500 queries,
// following NextToken until CloudWatch has returned everything.
func (s *Source) fetch(ctx context.Context, start, end time.Time) (map[string]*answer, error) {
	answers := make(map[string]*answer, len(s.queries))
	periods := int64(end.Sub(start) / s.cfg.Period)
	for lo := 0; lo < len(s.queries); lo += MaxQueriesPerCall {
		hi := min(lo+MaxQueriesPerCall, len(s.queries))
		in := &cloudwatch.GetMetricDataInput{
			StartTime:         aws.Time(start),
			EndTime:           aws.Time(end),
			MetricDataQueries: s.queries[lo:hi],
			MaxDatapoints:     aws.Int32(s.cfg.MaxDatapoints),
			// Newest first: if an answer is ever cut short, what is missing
			// is the oldest data, and the source knows where known data starts.
			ScanBy: types.ScanByTimestampDescending,
		}
		// A well-behaved CloudWatch needs ceil(points/page) pages; allow
		// slack, but never loop forever on a misbehaving endpoint.
		maxPages := int(periods*int64(hi-lo)/int64(s.cfg.MaxDatapoints)) + 10
		seen := map[string]bool{}
		for page := 1; ; page++ {
			out, err := s.call(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, res := range out.MetricDataResults {
				if err := collect(answers, res, start, end, s.cfg.Period); err != nil {
					return nil, fmt.Errorf("cloudwatch source %q: %w", s.name, err)
				}
			}
			for _, m := range out.Messages {
				s.log.Warn("CloudWatch GetMetricData message", "source", s.name, "code", aws.ToString(m.Code), "message", aws.ToString(m.Value))
			}
			token := aws.ToString(out.NextToken)
			if token == "" {
				break
			}
			if seen[token] || page >= maxPages {
				return nil, fmt.Errorf("cloudwatch source %q: GetMetricData pagination does not end (page %d, token repeated: %v)", s.name, page, seen[token])
			}
			seen[token] = true
			next := *in
			next.NextToken = aws.String(token)
			in = &next
		}
	}
	return answers, nil
}

// collect merges one page's result for a query into answers.
func collect(answers map[string]*answer, res types.MetricDataResult, start, end time.Time, period time.Duration) error {
	id := aws.ToString(res.Id)
	a := answers[id]
	if a == nil {
		n := int(end.Sub(start) / period)
		a = &answer{start: start.Unix(), step: int64(period / time.Second), vals: make([]float64, n), has: make([]bool, n), oldest: -1}
		answers[id] = a
	}
	a.status = res.StatusCode
	switch res.StatusCode {
	case types.StatusCodeComplete, types.StatusCodePartialData:
	default:
		var msgs []string
		for _, m := range res.Messages {
			msgs = append(msgs, aws.ToString(m.Code)+": "+aws.ToString(m.Value))
		}
		a.failed = fmt.Sprintf("status %q %s", res.StatusCode, strings.Join(msgs, "; "))
		return nil
	}
	if len(res.Timestamps) != len(res.Values) {
		a.failed = fmt.Sprintf("%d timestamps but %d values", len(res.Timestamps), len(res.Values))
		return nil
	}
	for i, ts := range res.Timestamps {
		if math.IsNaN(res.Values[i]) || math.IsInf(res.Values[i], 0) {
			a.failed = fmt.Sprintf("non-finite value %v at %s", res.Values[i], ts.UTC().Format(time.RFC3339))
			return nil
		}
		sec := alignDown(ts, period).Unix()
		if sec < a.start || sec >= a.start+a.step*int64(len(a.vals)) {
			continue // outside what was asked for
		}
		j := (sec - a.start) / a.step
		a.vals[j], a.has[j] = res.Values[i], true
		if a.oldest < 0 || sec < a.oldest {
			a.oldest = sec
		}
	}
	return nil
}

// build turns the answers into the Result: per node the sums of windows
// CloudWatch answered completely, per gauge the latest settled value.
func (s *Source) build(answers map[string]*answer, windows []time.Time, window time.Duration, start, end, settled time.Time) source.Result {
	var res source.Result
	p := s.cfg.Period
	for i, q := range s.cfg.Queries {
		a := answers[aws.ToString(s.queries[i].Id)]
		known := knownFrom(a, start, end)
		if a != nil && a.failed != "" {
			s.log.Warn("CloudWatch could not answer a query; its windows are unknown",
				"source", s.name, "query", queryLabel(q), "reason", a.failed)
		}
		if q.Node != "" {
			series := source.Series{Node: q.Node, Bucketing: source.ArrivalTime, Counts: map[time.Time]float64{}}
			for _, w := range windows {
				if known.IsZero() || w.Before(known) {
					continue
				}
				if sum, ok := windowSum(a, w, window, p, q.Missing == "unknown"); ok {
					series.Counts[w] = sum
				}
			}
			res.Series = append(res.Series, series)
		}
		if q.Gauge != "" && !known.IsZero() {
			if v, ok := s.gaugeValue(q, a, known, settled); ok {
				res.Gauges = append(res.Gauges, source.Gauge{Name: q.Gauge, Labels: copyLabels(q.GaugeLabels), Value: v})
			}
		}
	}
	return res
}

// knownFrom is the start of the span [known, end) CloudWatch answered in
// full for a query, or zero if it answered nothing usable.
func knownFrom(a *answer, start, end time.Time) time.Time {
	switch {
	case a == nil || a.failed != "":
		return time.Time{}
	case a.status == types.StatusCodeComplete:
		return start
	case a.oldest >= 0:
		// PartialData with no further page: the newest data down to the
		// oldest returned timestamp is there, older periods are not.
		return time.Unix(a.oldest, 0).UTC()
	}
	return time.Time{}
}

func windowSum(a *answer, w time.Time, window, p time.Duration, strict bool) (float64, bool) {
	var sum float64
	for t := w; t.Before(w.Add(window)); t = t.Add(p) {
		v, ok := a.at(t.Unix())
		if !ok && strict {
			return 0, false
		}
		sum += v
	}
	if math.IsInf(sum, 0) { // absurd values that overflowed
		return 0, false
	}
	return sum, true
}

// gaugeValue is a Sum query's value in the latest settled period (zero if
// CloudWatch has no datapoint there and missing periods mean zero), or
// another statistic's newest datapoint no older than GaugeMaxAge.
func (s *Source) gaugeValue(q Query, a *answer, known, settled time.Time) (float64, bool) {
	scale := q.Scale
	if scale == 0 {
		scale = 1
	}
	p := s.cfg.Period
	last := settled.Add(-p)
	if last.Before(known) {
		return 0, false
	}
	if q.Stat == "Sum" {
		v, ok := a.at(last.Unix())
		if !ok && q.Missing == "unknown" {
			return 0, false
		}
		return v * scale, true
	}
	for t := last; !t.Before(settled.Add(-s.cfg.GaugeMaxAge)) && !t.Before(known); t = t.Add(-p) {
		if v, ok := a.at(t.Unix()); ok {
			return v * scale, true
		}
	}
	return 0, false
}

// call makes one GetMetricData call, retrying throttling and transient
// failures with exponential backoff and jitter for at most MaxAttempts
// attempts, and never sleeping past ctx's deadline.
func (s *Source) call(ctx context.Context, in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
	for attempt := 1; ; attempt++ {
		s.usage.Requests.Add(1)
		out, err := s.api.GetMetricData(ctx, in)
		if err == nil {
			s.usage.AddCost(CostUnit, int64(len(in.MetricDataQueries)))
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cloudwatch source %q: GetMetricData abandoned at the refresh deadline: %w", s.name, describe(err))
		}
		throttled := isThrottle(err)
		if !throttled && retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
			return nil, fmt.Errorf("cloudwatch source %q: %w", s.name, describe(err))
		}
		what := "failing"
		if throttled {
			what = "throttled"
		}
		if attempt >= s.cfg.MaxAttempts {
			return nil, fmt.Errorf("cloudwatch source %q: GetMetricData still %s after %d attempts: %w", s.name, what, attempt, describe(err))
		}
		d := backoff(attempt)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return nil, fmt.Errorf("cloudwatch source %q: GetMetricData %s after %d attempts; the next retry (in %s) would pass the refresh deadline: %w",
				s.name, what, attempt, d.Round(time.Millisecond), describe(err))
		}
		s.log.Debug("retrying CloudWatch GetMetricData", "source", s.name, "attempt", attempt, "backoff", d, "error", err)
		if err := s.sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("cloudwatch source %q: waiting to retry GetMetricData: %w", s.name, err)
		}
	}
}

// backoff is the wait before retry n (1-based): exponential from 250 ms,
// capped at 20 s, with the upper half jittered so that exporters started
// together do not retry in step.
func backoff(n int) time.Duration {
	d := 250 * time.Millisecond << min(n-1, 7)
	d = min(d, 20*time.Second)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isThrottle reports CloudWatch telling the client to slow down: the SDK's
// throttle codes (Throttling, LimitExceeded…), HTTP 429, and CloudWatch's
// own LimitExceededFault.
func isThrottle(err error) bool {
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 429 {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "LimitExceededFault"
}

var credentialCodes = map[string]bool{
	"UnrecognizedClientException": true, "InvalidClientTokenId": true, "AccessDenied": true,
	"AccessDeniedException": true, "ExpiredToken": true, "ExpiredTokenException": true,
	"SignatureDoesNotMatch": true, "InvalidSignatureException": true, "MissingAuthenticationToken": true,
	"IncompleteSignature": true, "AuthFailure": true, "UnauthorizedOperation": true,
}

// describe turns an SDK error into one that says what went wrong and what
// to do, keeping the original for errors.As. AWS error messages carry no
// secrets; they are cut short anyway.
func describe(err error) error {
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("calling CloudWatch GetMetricData: %w", err)
	}
	msg := ae.ErrorMessage()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	detail := fmt.Sprintf("HTTP %d %s: %s", status, ae.ErrorCode(), msg)
	switch {
	case credentialCodes[ae.ErrorCode()] || status == 401 || status == 403:
		return &apiError{err: err, text: "CloudWatch rejected the exporter's credentials or permissions (" + detail +
			"): check the AWS credentials the exporter runs with and that they allow cloudwatch:GetMetricData"}
	case isThrottle(err):
		return &apiError{err: err, text: "CloudWatch throttled GetMetricData (" + detail +
			"): lengthen the source's interval or ask AWS for a higher GetMetricData quota"}
	}
	return &apiError{err: err, text: "CloudWatch GetMetricData failed (" + detail + ")"}
}

type apiError struct {
	err  error
	text string
}

func (e *apiError) Error() string { return e.text }
func (e *apiError) Unwrap() error { return e.err }

// alignDown rounds t down to a multiple of d since the Unix epoch, the
// way CloudWatch aligns periods.
func alignDown(t time.Time, d time.Duration) time.Time {
	n := t.UnixNano()
	r := n % int64(d)
	if r < 0 {
		r += int64(d)
	}
	return time.Unix(0, n-r).UTC()
}

func dimensions(m map[string]string) []types.Dimension {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.Dimension, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.Dimension{Name: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// queryLabel names a query in logs and CloudWatch labels:
// Namespace/MetricName{dims} Stat.
func queryLabel(q Query) string {
	return q.Namespace + "/" + q.MetricName + labelKey(q.Dimensions) + " " + q.Stat
}

func labelKey(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	b.WriteByte('}')
	return b.String()
}

func copyLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
