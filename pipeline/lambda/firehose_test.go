package lambda

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/pseudonymize"
	"github.com/plowline/plowline/testkit"
)

const firehoseTestKey = "firehose-test-key-0123456789"

func firehoseHMAC(v string) string {
	m := hmac.New(sha256.New, []byte(firehoseTestKey))
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

func firehoseConformance(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.TestData(t), "conformance", "analytics-sdk", "full-event.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(string(b), "\r\n")
}

// firehoseCase is one record of a test batch and what must come back.
type firehoseCase struct {
	id, data   string
	ok         bool
	date, hour string
	secret     string // a value that must not appear in the returned data
}

func firehoseCases(t testing.TB) []firehoseCase {
	line := firehoseConformance(t)
	e, _ := event.Parse(line)
	e[event.CollectorTstamp] = "2026-11-26 13:04:05.678"
	e[event.UserID] = "alice@example.com"
	second := e.TSV()
	const badRow = `{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/tracker_protocol_violations/jsonschema/1-0-0","data":{"processor":{"artifact":"plowline-enrich","version":"0.1.0"},"failure":{"timestamp":"2026-11-25T22:10:00.000Z","vendor":"com.snowplowanalytics.snowplow","version":"tp2","messages":[{"field":"uid","value":"bob@example.com","expectation":"a string"}]},"payload":{"vendor":"com.snowplowanalytics.snowplow","version":"tp2","querystring":[{"name":"uid","value":"bob@example.com"},{"name":"url","value":"https://gitlab.example/secret-project"}],"body":"{\"uid\":\"bob@example.com\"}","collector":"plowline","encoding":"UTF-8","headers":["Cookie: sp=bob-cookie-value","X-Forwarded-For: 203.0.113.7"],"ipAddress":"203.0.113.7"}}}`
	return []firehoseCase{
		{id: "good-1", data: line + "\n", ok: true, date: "2013-11-26", hour: "00", secret: "jon.doe@email.com"},
		{id: "good-2-no-newline", data: second, ok: true, date: "2026-11-26", hour: "13", secret: "alice@example.com"},
		{id: "bad-row", data: badRow + "\n", ok: true, date: "2026-11-25", hour: "22", secret: "bob@example.com"},
		{id: "two-lines", data: second + "\n" + line + "\n", ok: true, date: "2026-11-26", hour: "13", secret: "jon.doe@email.com"},
		{id: "garbage", data: "this is not an event: carol@example.com\n"},
		{id: "half-good", data: line + "\ngarbage-line\n"},
		{id: "truncated-json", data: badRow[:200]},
		{id: "empty", data: ""},
	}
}

func firehoseEvent(cases []firehoseCase) events.KinesisFirehoseEvent {
	ev := events.KinesisFirehoseEvent{
		InvocationID:      "invocation-1",
		DeliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/enriched-good",
		Region:            "us-east-1",
	}
	for _, c := range cases {
		ev.Records = append(ev.Records, events.KinesisFirehoseEventRecord{
			RecordID:                    c.id,
			ApproximateArrivalTimestamp: events.MilliSecondsEpochTime{Time: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)},
			Data:                        []byte(c.data),
		})
	}
	return ev
}

// checkFirehoseResponse checks every record of a response against its case.
func checkFirehoseResponse(t *testing.T, cases []firehoseCase, resp FirehoseResponse) {
	t.Helper()
	if len(resp.Records) != len(cases) {
		t.Fatalf("%d records back, want %d", len(resp.Records), len(cases))
	}
	for i, c := range cases {
		r := resp.Records[i]
		if r.RecordID != c.id {
			t.Fatalf("record %d: id %q, want %q", i, r.RecordID, c.id)
		}
		if !c.ok {
			if r.Result != FirehoseProcessingFailed || string(r.Data) != c.data || r.Metadata != nil {
				t.Errorf("%s: result %s data %q, want ProcessingFailed with the original data", c.id, r.Result, r.Data)
			}
			continue
		}
		if r.Result != FirehoseOk {
			t.Errorf("%s: result %s, want Ok", c.id, r.Result)
			continue
		}
		if r.Metadata == nil || r.Metadata.PartitionKeys["collector_date"] != c.date || r.Metadata.PartitionKeys["collector_hour"] != c.hour {
			t.Errorf("%s: partition keys %+v, want %s/%s", c.id, r.Metadata, c.date, c.hour)
		}
		if !bytes.HasSuffix(r.Data, []byte("\n")) {
			t.Errorf("%s: data not newline-terminated", c.id)
		}
		if bytes.Contains(r.Data, []byte(c.secret)) || !bytes.Contains(r.Data, []byte(firehoseHMAC(c.secret))) {
			t.Errorf("%s: %q not replaced by its pseudonym in %s", c.id, c.secret, r.Data)
		}
		want := strings.Count(c.data, "\n")
		if !strings.HasSuffix(c.data, "\n") {
			want++
		}
		if got := bytes.Count(r.Data, []byte("\n")); got != want {
			t.Errorf("%s: %d lines back, want %d", c.id, got, want)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(r.Data, []byte("\n")), []byte("\n")) {
			if line[0] == '{' {
				if !json.Valid(line) {
					t.Errorf("%s: bad row output is not JSON", c.id)
				}
			} else if _, err := event.Parse(string(line)); err != nil {
				t.Errorf("%s: output line is not an event: %v", c.id, err)
			}
		}
	}
}

func TestPseudonymizeHandler(t *testing.T) {
	var logs, emf bytes.Buffer
	h := &Pseudonymize{
		Load: func(context.Context) (*pseudonymize.Pseudonymizer, error) {
			return pseudonymize.New(pseudonymize.DefaultAllowlist(), []byte(firehoseTestKey))
		},
		Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
		EMF:      &emf,
		Function: "plowline-pseudonymize",
		Now:      func() time.Time { return time.UnixMilli(1764151200000) },
	}
	cases := firehoseCases(t)
	resp, err := h.Handle(context.Background(), firehoseEvent(cases))
	if err != nil {
		t.Fatal(err)
	}
	checkFirehoseResponse(t, cases, *resp)
	if ok, failed := h.Counts(); ok != 4 || failed != 4 {
		t.Errorf("counts ok=%d failed=%d, want 4/4", ok, failed)
	}
	// Failures are logged with id and reason, never content.
	for _, id := range []string{"garbage", "half-good", "truncated-json", "empty"} {
		if !strings.Contains(logs.String(), `"record_id":"`+id+`"`) {
			t.Errorf("no failure log for %s:\n%s", id, logs.String())
		}
	}
	for _, secret := range []string{"carol@example.com", "garbage-line", "bob@example.com", "jon.doe"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain record content %q", secret)
		}
	}
	checkFirehoseEMF(t, emf.String(), "plowline-pseudonymize", 4, 4)
}

// checkFirehoseEMF checks the EMF documents for both results.
func checkFirehoseEMF(t *testing.T, out, function string, ok, failed int) {
	t.Helper()
	found := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		var doc map[string]any
		if json.Unmarshal([]byte(line), &doc) != nil {
			continue
		}
		aws, _ := doc["_aws"].(map[string]any)
		if aws == nil {
			continue
		}
		cw := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
		if cw["Namespace"] != "plowline" || doc["function"] != function || doc["stream"] != "enriched-good" {
			t.Errorf("EMF document %s", line)
		}
		if v, ok := doc[metricname.PseudonymizerRecords.Name].(float64); ok {
			found[doc["result"].(string)] += v
		}
	}
	if found[ResultOk] != float64(ok) || found[ResultProcessingFailed] != float64(failed) {
		t.Errorf("EMF counts %v, want ok=%d processing_failed=%d\n%s", found, ok, failed, out)
	}
}

func TestPseudonymizeHandlerWithoutKeyFailsInvocation(t *testing.T) {
	calls := 0
	h := &Pseudonymize{Load: func(ctx context.Context) (*pseudonymize.Pseudonymizer, error) {
		calls++
		_, err := pseudonymize.LoadKey(ctx, pseudonymize.KeySource{}, nil)
		return nil, err
	}}
	for i := 0; i < 2; i++ {
		resp, err := h.Handle(context.Background(), firehoseEvent(firehoseCases(t)))
		if err == nil || resp != nil || !errors.Is(err, pseudonymize.ErrNoKey) {
			t.Fatalf("invocation without key: resp %v err %v; want an error and no records", resp, err)
		}
	}
	if calls != 2 {
		t.Fatalf("key load tried %d times, want a retry per invocation", calls)
	}
	if StreamName("arn:aws:firehose:eu-west-1:1:deliverystream/raw-bad") != "raw-bad" || StreamName("") != "unknown" {
		t.Fatal("StreamName")
	}
}

// TestPseudonymizeInvokeMatchesHandle: the raw-bytes path the Lambda
// runtime uses produces the same response as Handle, and a malformed
// request is an error that quotes nothing.
func TestPseudonymizeInvokeMatchesHandle(t *testing.T) {
	h := &Pseudonymize{Load: func(context.Context) (*pseudonymize.Pseudonymizer, error) {
		return pseudonymize.New(pseudonymize.DefaultAllowlist(), []byte(firehoseTestKey))
	}}
	cases := firehoseCases(t)
	req, _ := json.Marshal(firehoseEvent(cases))
	raw, err := h.Invoke(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var got FirehoseResponse
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("Invoke output is not JSON: %v\n%s", err, raw)
	}
	checkFirehoseResponse(t, cases, got)
	want, _ := h.Handle(context.Background(), firehoseEvent(cases))
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Fatalf("Invoke and Handle differ:\n%s\n%s", gotJSON, wantJSON)
	}
	r, err := h.HandleJSON(context.Background(), firehoseEvent(cases))
	if err != nil {
		t.Fatal(err)
	}
	if enc, _ := json.Marshal(r); string(enc) != "{}" {
		t.Fatalf("the streamed response must encode as {} for the runtime to stream it, got %s", enc)
	}
	if _, err := h.Invoke(context.Background(), []byte(`{"records":[{"recordId":"x","data":"secret!!"}]}`)); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("malformed request: %v", err)
	}
}
