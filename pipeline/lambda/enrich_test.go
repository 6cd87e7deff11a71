package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/pipeline/stream"
)

// failingKinesis accepts every entry except those whose data contains a
// marker, which it rejects on every attempt (a shard that stays throttled
// for them). The Lambda RIE test in e2e covers the real wire against
// kinesalite; kinesalite cannot fail chosen entries.
type failingKinesis struct {
	mu      sync.Mutex
	marker  string
	written map[string][][]byte
}

func (f *failingKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &kinesis.PutRecordsOutput{}
	for _, e := range in.Records {
		if f.marker != "" && bytes.Contains(e.Data, []byte(f.marker)) {
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("slow down")})
			continue
		}
		f.written[aws.ToString(in.StreamName)] = append(f.written[aws.ToString(in.StreamName)], e.Data)
		out.Records = append(out.Records, types.PutRecordsResultEntry{SequenceNumber: aws.String("1"), ShardId: aws.String("shardId-000000000000")})
	}
	return out, nil
}

func pixel(t *testing.T, query string) []byte {
	t.Helper()
	p := &payload.CollectorPayload{IPAddress: "192.0.2.1", Timestamp: 1764151200000, Encoding: "UTF-8", Collector: "plowline-test",
		Path: "/i", Querystring: query, UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnrichHandlerReportsOnlyRecordsWithUnwrittenOutputs(t *testing.T) {
	e, err := enrich.New(enrich.DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := &failingKinesis{marker: "poison-page", written: map[string][][]byte{}}
	var emf bytes.Buffer
	h := &EnrichHandler{Enricher: e, API: api, GoodStream: "good", BadStream: "bad", Function: "plowline-enrich",
		Policy: stream.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}, EMF: &emf}
	inputs := [][]byte{
		pixel(t, "e=pv&p=web&tv=t&page=ok1"),
		pixel(t, "e=pv&p=web&tv=t&page=poison-page"), // its good event cannot be written
		[]byte("not thrift"),                         // a bad row, written
		pixel(t, "e=pv&p=web&tv=t&page=ok2"),
		pixel(t, "e=xx&p=web&tv=t&page=poison-page"), // its bad row (schema_violations: e=xx) cannot be written
	}
	var ev events.KinesisEvent
	for i, in := range inputs {
		var r events.KinesisEventRecord
		r.Kinesis.Data = in
		r.Kinesis.SequenceNumber = strings.Repeat("4", 10) + string(rune('0'+i))
		ev.Records = append(ev.Records, r)
	}
	resp, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range resp.BatchItemFailures {
		got = append(got, f.ItemIdentifier)
	}
	want := []string{ev.Records[1].Kinesis.SequenceNumber, ev.Records[4].Kinesis.SequenceNumber}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("batchItemFailures %v, want %v", got, want)
	}
	if len(api.written["good"]) != 2 || len(api.written["bad"]) != 1 {
		t.Fatalf("written good %d bad %d", len(api.written["good"]), len(api.written["bad"]))
	}
	for _, line := range api.written["good"] {
		if _, err := event.ParseBytes(line); err != nil {
			t.Errorf("good record is not an enriched event: %v", err)
		}
	}
	// EMF: one document per dimension set, metric names as in Prometheus.
	docs := strings.Split(strings.TrimSpace(emf.String()), "\n")
	seen := map[string]any{}
	for _, d := range docs {
		var m map[string]any
		if err := json.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("EMF line is not JSON: %v: %s", err, d)
		}
		aws := m["_aws"].(map[string]any)
		cw := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
		if cw["Namespace"] != "plowline" || m["function"] != "plowline-enrich" {
			t.Errorf("EMF namespace/function: %s", d)
		}
		for _, mm := range cw["Metrics"].([]any) {
			name := mm.(map[string]any)["Name"].(string)
			if !metricname.Known(name) {
				t.Errorf("EMF metric %s is not a metricname", name)
			}
			key := name
			if r, ok := m["result"]; ok {
				key += "/" + r.(string)
			}
			if ty, ok := m["type"]; ok {
				key += "/" + ty.(string)
			}
			seen[key] = m[name]
		}
	}
	if seen[metricname.EnricherPayloads.Name] != float64(5) || seen[metricname.EnricherEvents.Name+"/good"] != float64(3) ||
		seen[metricname.EnricherEvents.Name+"/bad"] != float64(2) || seen[metricname.EnricherBadRows.Name+"/schema_violations"] != float64(1) ||
		seen[metricname.EnricherBadRows.Name+"/collector_payload_format_violation"] != float64(1) {
		t.Errorf("EMF values: %v", seen)
	}
	if v, ok := seen[metricname.EnricherEnrichmentDuration.Name].([]any); !ok || len(v) != 5 {
		t.Errorf("EMF enrichment durations: %v", seen[metricname.EnricherEnrichmentDuration.Name])
	}
}

func TestEnrichHandlerTurnsOversizeEventsIntoSizeViolations(t *testing.T) {
	e, err := enrich.New(enrich.DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := &failingKinesis{written: map[string][][]byte{}}
	h := &EnrichHandler{Enricher: e, API: api, GoodStream: "good", BadStream: "bad"}
	// A 1.1 MB context is legal for the tracker protocol and its schema,
	// but too large for a Kinesis record.
	big := strings.Repeat("a", 1100<<10)
	var ev events.KinesisEvent
	var r events.KinesisEventRecord
	r.Kinesis.Data = pixel(t, "e=se&p=web&tv=t&se_ca=c&se_ac=a&co="+bigContexts(big))
	r.Kinesis.SequenceNumber = "1"
	ev.Records = append(ev.Records, r)
	resp, err := h.Handle(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	if len(api.written["good"]) != 0 || len(api.written["bad"]) != 1 || !bytes.Contains(api.written["bad"][0], []byte("size_violation")) {
		t.Fatalf("oversize event not turned into a size violation: good %d bad %d", len(api.written["good"]), len(api.written["bad"]))
	}
	if !bytes.Contains(api.written["bad"][0], []byte("an enriched event under the Kinesis record limit")) {
		t.Fatalf("size violation is not about the enriched event: %.300s", api.written["bad"][0])
	}
	if len(api.written["bad"][0]) > stream.KinesisMaxRecordBytes {
		t.Fatalf("size violation itself too large: %d bytes", len(api.written["bad"][0]))
	}
}

// bigContexts is a valid contexts parameter whose size is dominated by s.
func bigContexts(s string) string {
	return `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9","data":{"environment":"production","extra":{"blob":"` + s + `"}}}]}`
}
