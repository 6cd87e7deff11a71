package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/testkit"
)

func enrichPayload(t *testing.T, p payload.CollectorPayload) []byte {
	t.Helper()
	if p.IPAddress == "" {
		p.IPAddress = "192.0.2.9"
	}
	p.Timestamp, p.Encoding, p.Collector = 1764151200000, "UTF-8", "ssc-3.2.0-kinesis"
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEnrichLambdaUnderRIE runs the real binary as the enrich function
// under the Lambda Runtime Interface Emulator, writing to kinesalite.
func TestEnrichLambdaUnderRIE(t *testing.T) {
	endpoint := testkit.Kinesalite(t)
	kc := testkit.KinesisClient(endpoint)
	testkit.CreateStream(t, kc, "enriched-good", 1)
	testkit.CreateStream(t, kc, "enriched-bad", 1)
	cfg := filepath.Join(t.TempDir(), "enrich.yaml")
	if err := os.WriteFile(cfg, []byte("enrichments:\n  anon_ip: {enabled: true, ipv4_octets: 4}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fn := testkit.LambdaRIE(t, "enrich", []string{
		"PLOWLINE_ENRICHED_GOOD_STREAM=enriched-good", "PLOWLINE_ENRICHED_BAD_STREAM=enriched-bad",
		"PLOWLINE_KINESIS_ENDPOINT=" + endpoint, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"PLOWLINE_ENRICH_CONFIG=" + cfg,
	})
	body := `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[` +
		`{"e":"pv","p":"web","tv":"js-4.10.1","eid":"c6ef3124-b53a-4b13-a233-0088f79dcbcb","url":"https://gitlab.com/explore"},` +
		`{"e":"se","p":"web","tv":"js-4.10.1","se_ca":"nav","se_ac":"click"},` +
		`{"e":"pv","p":"web","tv":"js-4.10.1","co":"{\"schema\":\"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0\",\"data\":[{\"schema\":\"iglu:com.acme/missing/jsonschema/1-0-0\",\"data\":{}}]}"}]}`
	records := [][]byte{
		enrichPayload(t, payload.CollectorPayload{Path: "/com.snowplowanalytics.snowplow/tp2", Body: body, ContentType: "application/json"}),
		enrichPayload(t, payload.CollectorPayload{Path: "/i", Querystring: "e=pv&p=web&tv=t&page=pixel"}),
		[]byte("garbage, not thrift"),
	}
	var ev events.KinesisEvent
	for i, r := range records {
		var rec events.KinesisEventRecord
		rec.EventSource, rec.EventName = "aws:kinesis", "aws:kinesis:record"
		rec.Kinesis.Data = r
		rec.Kinesis.SequenceNumber = "4959000000000000000000000000000000000000000000000000000" + string(rune('0'+i))
		rec.Kinesis.PartitionKey = "pk"
		ev.Records = append(ev.Records, rec)
	}
	in, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	out := fn.Invoke(t, in)
	var resp events.KinesisEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batchItemFailures %s, want an empty list", out)
	}
	good := testkit.ReadStream(t, kc, "enriched-good")
	bad := testkit.ReadStream(t, kc, "enriched-bad")
	if len(good) != 3 || len(bad) != 2 {
		t.Fatalf("good %d bad %d, want 3 and 2", len(good), len(bad))
	}
	titles := map[string]bool{}
	for _, r := range good {
		e, err := event.ParseBytes(r.Data)
		if err != nil {
			t.Fatalf("good record: %v", err)
		}
		if r.PartitionKey != e[event.EventID] {
			t.Errorf("partition key %q is not the event id %q", r.PartitionKey, e[event.EventID])
		}
		titles[e[event.EventType]+":"+e[event.PageTitle]] = true
		if e[event.UserIPAddress] != "x.x.x.x" {
			t.Errorf("user_ipaddress %q: PLOWLINE_ENRICH_CONFIG (anon_ip, 4 octets) not applied", e[event.UserIPAddress])
		}
	}
	if !titles["page_view:pixel"] || !titles["struct:"] || !titles["page_view:"] {
		t.Errorf("good events: %v", titles)
	}
	types := map[string]bool{}
	for _, r := range bad {
		b, err := badrow.Parse(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		types[badrow.TypeOf(b.Schema)] = true
	}
	if !types["schema_violations"] || !types["collector_payload_format_violation"] {
		t.Errorf("bad rows: %v", types)
	}
	if !strings.Contains(fn.Proc.Output(), `"_aws"`) {
		t.Errorf("no EMF metrics in the function's output:\n%s", fn.Proc.Output())
	}
}

// TestEnrichLambdaReportsUnwritableRecords points the function at a bad
// stream that does not exist: the records whose bad rows cannot be written
// (and only those) come back in batchItemFailures.
func TestEnrichLambdaReportsUnwritableRecords(t *testing.T) {
	endpoint := testkit.Kinesalite(t)
	kc := testkit.KinesisClient(endpoint)
	testkit.CreateStream(t, kc, "enriched-good", 1)
	fn := testkit.LambdaRIE(t, "enrich", []string{
		"PLOWLINE_ENRICHED_GOOD_STREAM=enriched-good", "PLOWLINE_ENRICHED_BAD_STREAM=no-such-stream",
		"PLOWLINE_KINESIS_ENDPOINT=" + endpoint, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
	})
	records := [][]byte{
		enrichPayload(t, payload.CollectorPayload{Path: "/i", Querystring: "e=pv&p=web&tv=t"}),
		[]byte("garbage"),
		enrichPayload(t, payload.CollectorPayload{Path: "/i", Querystring: "e=pv&p=web&tv=t"}),
	}
	var ev events.KinesisEvent
	for i, r := range records {
		var rec events.KinesisEventRecord
		rec.Kinesis.Data = r
		rec.Kinesis.SequenceNumber = "100" + string(rune('0'+i))
		ev.Records = append(ev.Records, rec)
	}
	in, _ := json.Marshal(ev)
	var resp events.KinesisEventResponse
	if err := json.Unmarshal(fn.Invoke(t, in), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "1001" {
		t.Fatalf("batchItemFailures %+v, want only 1001", resp.BatchItemFailures)
	}
	if n := len(testkit.ReadStream(t, kc, "enriched-good")); n != 2 {
		t.Fatalf("good stream has %d records, want 2", n)
	}
}
