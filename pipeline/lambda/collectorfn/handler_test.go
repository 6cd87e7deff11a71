package collectorfn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/collector"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/pipeline/stream"
	"github.com/plowline/plowline/testkit"
)

const collectorTP2 = `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","url":"https://a.example/"},{"e":"se","se_ca":"c","se_ac":"a"}]}`

// collectorRecords keeps what the collector wrote.
type collectorRecords struct {
	mu   sync.Mutex
	recs []stream.Record
}

func (s *collectorRecords) Put(_ context.Context, recs []stream.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, recs...)
	return nil
}
func (s *collectorRecords) Close(context.Context) error { return nil }

func (s *collectorRecords) payloads(t *testing.T) []*payload.CollectorPayload {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*payload.CollectorPayload
	for _, r := range s.recs {
		p, err := payload.Unmarshal(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func newCollectorHandler(t *testing.T) (*CollectorHandler, *collectorRecords, *bytes.Buffer) {
	t.Helper()
	good := &collectorRecords{}
	reg := prometheus.NewRegistry()
	cfg := collector.DefaultConfig()
	cfg.Sink.Type = "kinesis"
	c, err := collector.New(cfg, good, &collectorRecords{}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var emf bytes.Buffer
	return &CollectorHandler{Handler: c.Handler(), Metrics: reg, Function: "plowline-collector", EMF: &emf}, good, &emf
}

func invokeCollector(t *testing.T, h *CollectorHandler, ev any) any {
	t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func albPixelEvent(multi bool) events.ALBTargetGroupRequest {
	ev := events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/i",
		RequestContext: events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/c/1"}}}
	if multi {
		ev.MultiValueQueryStringParameters = map[string][]string{"e": {"pv"}, "url": {"https%3A%2F%2Fa.example%2F"}, "aid": {"web"}}
		ev.MultiValueHeaders = map[string][]string{"host": {"c.example.com"}, "user-agent": {"UA/1"}, "x-forwarded-for": {"198.51.100.7"},
			"cookie": {"sp=aaaaaaaa-0000-4000-8000-000000000001"}}
	} else {
		ev.QueryStringParameters = map[string]string{"e": "pv", "url": "https%3A%2F%2Fa.example%2F", "aid": "web"}
		ev.Headers = map[string]string{"host": "c.example.com", "user-agent": "UA/1", "x-forwarded-for": "198.51.100.7",
			"cookie": "sp=aaaaaaaa-0000-4000-8000-000000000001"}
	}
	return ev
}

func urlPostEvent(body string, b64 bool) events.LambdaFunctionURLRequest {
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/com.snowplowanalytics.snowplow/tp2", RawQueryString: "",
		Cookies: []string{"sp=bbbbbbbb-0000-4000-8000-000000000002", "other=1"},
		Headers: map[string]string{"host": "abc.lambda-url.us-east-1.on.aws", "content-type": "application/json; charset=UTF-8",
			"origin": "https://a.example", "user-agent": "UA/2"},
		Body: body, IsBase64Encoded: b64}
	ev.RequestContext.HTTP.Method = "POST"
	ev.RequestContext.HTTP.SourceIP = "203.0.113.20"
	if b64 {
		ev.Body = base64.StdEncoding.EncodeToString([]byte(body))
	}
	return ev
}

func checkPixelPayload(t *testing.T, p *payload.CollectorPayload) {
	t.Helper()
	if p.Path != "/i" || p.Querystring != "aid=web&e=pv&url=https%3A%2F%2Fa.example%2F" || p.IPAddress != "198.51.100.7" ||
		p.UserAgent != "UA/1" || p.Hostname != "c.example.com" || p.NetworkUserID != "aaaaaaaa-0000-4000-8000-000000000001" {
		t.Fatalf("pixel payload %+v", p)
	}
}

func checkPostPayload(t *testing.T, p *payload.CollectorPayload) {
	t.Helper()
	if p.Path != collector.PathTP2 || p.Body != collectorTP2 || p.IPAddress != "203.0.113.20" || p.ContentType != "application/json; charset=utf-8" ||
		p.NetworkUserID != "bbbbbbbb-0000-4000-8000-000000000002" || p.Hostname != "abc.lambda-url.us-east-1.on.aws" {
		t.Fatalf("POST payload %+v", p)
	}
	hosts := 0
	for _, h := range p.Headers {
		if strings.HasPrefix(h, "Host:") {
			hosts++
		}
	}
	if hosts != 1 {
		t.Fatalf("%d Host headers in %q", hosts, p.Headers)
	}
}

func TestCollectorHandlerALBAndFunctionURLShapes(t *testing.T) {
	h, good, emf := newCollectorHandler(t)
	for _, multi := range []bool{false, true} {
		resp := invokeCollector(t, h, albPixelEvent(multi)).(events.ALBTargetGroupResponse)
		if resp.StatusCode != 200 || resp.StatusDescription != "200 OK" || !resp.IsBase64Encoded {
			t.Fatalf("ALB pixel: %+v", resp)
		}
		gif, _ := base64.StdEncoding.DecodeString(resp.Body)
		if !bytes.HasPrefix(gif, []byte("GIF89a")) {
			t.Fatalf("ALB pixel body %q", resp.Body)
		}
		if multi {
			if len(resp.MultiValueHeaders["Set-Cookie"]) != 1 || resp.Headers != nil {
				t.Fatalf("multi-value ALB answered %+v", resp)
			}
		} else if !strings.HasPrefix(resp.Headers["Set-Cookie"], "sp=aaaaaaaa-") || resp.Headers["Cache-Control"] == "" {
			t.Fatalf("ALB headers %v", resp.Headers)
		}
	}
	for _, b64 := range []bool{false, true} {
		resp := invokeCollector(t, h, urlPostEvent(collectorTP2, b64)).(events.LambdaFunctionURLResponse)
		if resp.StatusCode != 200 || resp.Body != "ok" || resp.IsBase64Encoded {
			t.Fatalf("URL POST: %+v", resp)
		}
		if len(resp.Cookies) != 1 || !strings.HasPrefix(resp.Cookies[0], "sp=bbbbbbbb-") || resp.Headers["Set-Cookie"] != "" {
			t.Fatalf("URL cookies %v headers %v", resp.Cookies, resp.Headers)
		}
		if resp.Headers["Access-Control-Allow-Origin"] != "https://a.example" {
			t.Fatalf("URL CORS %v", resp.Headers)
		}
	}
	ps := good.payloads(t)
	if len(ps) != 4 {
		t.Fatalf("%d payloads", len(ps))
	}
	checkPixelPayload(t, ps[0])
	checkPixelPayload(t, ps[1])
	checkPostPayload(t, ps[2])
	checkPostPayload(t, ps[3])

	bad := urlPostEvent("", false)
	bad.Body, bad.IsBase64Encoded = "!!!not base64", true
	if resp := invokeCollector(t, h, bad).(events.LambdaFunctionURLResponse); resp.StatusCode != 400 {
		t.Fatalf("bad base64: %d", resp.StatusCode)
	}
	if _, err := h.Handle(context.Background(), json.RawMessage(`{"Records":[]}`)); err == nil {
		t.Fatal("a Kinesis event was accepted as an HTTP request")
	}

	// EMF: each invocation reports its increments, named as the Prometheus metrics.
	docs := parseEMF(t, emf.Bytes())
	var requests, events float64
	for _, d := range docs {
		if v, ok := d[metricname.CollectorRequests.Name].(float64); ok && d["code"] == "200" {
			requests += v
		}
		if v, ok := d[metricname.CollectorEvents.Name].(float64); ok {
			events += v
		}
		if d["function"] != "plowline-collector" {
			t.Fatalf("EMF without function dimension: %v", d)
		}
	}
	if requests != 4 || events != 2+2*2 {
		t.Fatalf("EMF counted %v requests, %v events", requests, events)
	}
}

// collectorRejectingKinesis refuses every record, as a stream whose shards
// stay throttled does.
type collectorRejectingKinesis struct{ calls int }

func (k *collectorRejectingKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	k.calls++
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(int32(len(in.Records)))}
	for range in.Records {
		out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("slow down")})
	}
	return out, nil
}

func TestCollectorLambdaAnswers503WhenKinesisRefuses(t *testing.T) {
	api := &collectorRejectingKinesis{}
	retry := stream.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
	reg := prometheus.NewRegistry()
	cfg := collector.DefaultConfig()
	cfg.Sink.Type = "kinesis"
	c, err := collector.New(cfg, &KinesisPutSink{API: api, Stream: "raw-good", Retry: retry},
		&KinesisPutSink{API: api, Stream: "raw-bad", Retry: retry}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var emf bytes.Buffer
	h := &CollectorHandler{Handler: c.Handler(), Metrics: reg, Function: "f", EMF: &emf}
	resp := invokeCollector(t, h, urlPostEvent(collectorTP2, false)).(events.LambdaFunctionURLResponse)
	if resp.StatusCode != 503 || len(resp.Cookies) != 0 {
		t.Fatalf("refused write answered %d, cookies %v", resp.StatusCode, resp.Cookies)
	}
	if api.calls != 3 {
		t.Fatalf("%d PutRecords attempts, want 3 (retries)", api.calls)
	}
	for _, d := range parseEMF(t, emf.Bytes()) {
		if _, ok := d[metricname.CollectorEvents.Name]; ok {
			t.Fatal("refused events reported as accepted")
		}
		if v, ok := d[metricname.CollectorSinkFailures.Name].(float64); ok && v != 1 {
			t.Fatalf("sink failures %v", v)
		}
	}
	if !bytes.Contains(emf.Bytes(), []byte(metricname.CollectorSinkFailures.Name)) {
		t.Fatal("sink failure not in EMF")
	}
}

// parseEMF decodes EMF lines and checks each is a well-formed document
// whose every declared metric and dimension is present.
func parseEMF(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, line := range bytes.Split(out, []byte("\n")) {
		if !bytes.Contains(line, []byte(`"_aws"`)) {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatalf("EMF line %q: %v", line, err)
		}
		aws := d["_aws"].(map[string]any)
		for _, cwm := range aws["CloudWatchMetrics"].([]any) {
			m := cwm.(map[string]any)
			if m["Namespace"] != "plowline" {
				t.Fatalf("namespace %v", m["Namespace"])
			}
			for _, set := range m["Dimensions"].([]any) {
				for _, dim := range set.([]any) {
					if _, ok := d[dim.(string)]; !ok {
						t.Fatalf("dimension %v missing in %s", dim, line)
					}
				}
			}
			for _, met := range m["Metrics"].([]any) {
				name := met.(map[string]any)["Name"].(string)
				if _, ok := d[name]; !ok || !metricname.Known(name) {
					t.Fatalf("metric %s missing or unknown in %s", name, line)
				}
			}
		}
		docs = append(docs, d)
	}
	return docs
}

// TestCollectorLambdaUnderRIE runs the collector's own bootstrap
// (cmd/lambda/collector, as `make lambda` ships it) in the Runtime
// Interface Emulator, writing to kinesalite, and reads the
// records back with GetRecords.
func TestCollectorLambdaUnderRIE(t *testing.T) {
	endpoint := testkit.Kinesalite(t)
	kc := testkit.KinesisClient(endpoint)
	testkit.CreateStream(t, kc, "raw-good", 2)
	testkit.CreateStream(t, kc, "raw-bad", 1)
	fn := testkit.LambdaBootstrapRIE(t, "collector", []string{"PLOWLINE_GOOD_STREAM=raw-good", "PLOWLINE_BAD_STREAM=raw-bad",
		"PLOWLINE_KINESIS_ENDPOINT=" + endpoint})

	invoke := func(ev any) []byte {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return fn.Invoke(t, raw)
	}
	var alb events.ALBTargetGroupResponse
	json.Unmarshal(invoke(albPixelEvent(false)), &alb)
	if alb.StatusCode != 200 || !alb.IsBase64Encoded {
		t.Fatalf("ALB pixel: %+v", alb)
	}
	for _, b64 := range []bool{false, true} {
		var u events.LambdaFunctionURLResponse
		json.Unmarshal(invoke(urlPostEvent(collectorTP2, b64)), &u)
		if u.StatusCode != 200 || u.Body != "ok" || len(u.Cookies) != 1 {
			t.Fatalf("URL POST (base64 %v): %+v", b64, u)
		}
	}
	recs := testkit.ReadStream(t, kc, "raw-good")
	if len(recs) != 3 {
		t.Fatalf("%d records in raw-good, want 3", len(recs))
	}
	var pixels, posts int
	for _, r := range recs {
		p, err := payload.Unmarshal(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Collector, "plowline-") || !strings.HasSuffix(p.Collector, "-kinesis") {
			t.Errorf("collector name %q", p.Collector)
		}
		switch p.Path {
		case "/i":
			checkPixelPayload(t, p)
			pixels++
		default:
			checkPostPayload(t, p)
			posts++
		}
	}
	if pixels != 1 || posts != 2 {
		t.Fatalf("%d pixels, %d posts", pixels, posts)
	}
	docs := parseEMF(t, []byte(fn.Proc.Output()))
	var events float64
	for _, d := range docs {
		if v, ok := d[metricname.CollectorEvents.Name].(float64); ok {
			events += v
		}
	}
	if events != 5 {
		t.Fatalf("EMF reported %v events, want 5:\n%s", events, fn.Proc.Output())
	}
}
