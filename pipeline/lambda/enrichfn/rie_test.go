package enrichfn

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/testkit"
)

// TestEnrichLambdaUnderRIE runs the enricher's own bootstrap
// (cmd/lambda/enrich, as `make lambda` ships it) under the Lambda Runtime
// Interface Emulator with a Kinesis batch of a pixel request and garbage,
// and reads what it wrote to kinesalite. (e2e runs the same stage through
// `plowline lambda enrich`.)
func TestEnrichLambdaUnderRIE(t *testing.T) {
	endpoint := testkit.Kinesalite(t)
	kc := testkit.KinesisClient(endpoint)
	testkit.CreateStream(t, kc, "enriched-good", 1)
	testkit.CreateStream(t, kc, "enriched-bad", 1)
	fn := testkit.LambdaBootstrapRIE(t, "enrich", []string{
		EnvGoodStream + "=enriched-good", EnvBadStream + "=enriched-bad",
		"PLOWLINE_KINESIS_ENDPOINT=" + endpoint, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
	})
	var ev events.KinesisEvent
	for i, data := range [][]byte{pixel(t, "e=pv&p=web&tv=t&page=bootstrap&aid=rie"), []byte("garbage, not thrift")} {
		var rec events.KinesisEventRecord
		rec.EventSource, rec.EventName = "aws:kinesis", "aws:kinesis:record"
		rec.Kinesis.Data = data
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
	if err := json.Unmarshal(out, &resp); err != nil || resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("response %s (%v), want an empty batchItemFailures list", out, err)
	}
	good := testkit.ReadStream(t, kc, "enriched-good")
	bad := testkit.ReadStream(t, kc, "enriched-bad")
	if len(good) != 1 || len(bad) != 1 {
		t.Fatalf("good %d bad %d, want 1 and 1", len(good), len(bad))
	}
	e, err := event.ParseBytes(good[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if e[event.PageTitle] != "bootstrap" || e[event.AppID] != "rie" || e[event.EventType] != "page_view" {
		t.Errorf("enriched event: title %q app %q type %q", e[event.PageTitle], e[event.AppID], e[event.EventType])
	}
	b := testkit.ValidateBadRow(t, bad[0].Data)
	if got := badrow.TypeOf(b.Schema); got != "collector_payload_format_violation" {
		t.Errorf("bad row type %q, want collector_payload_format_violation", got)
	}
	if !strings.Contains(fn.Proc.Output(), `"_aws"`) {
		t.Errorf("no EMF metrics in the function's output:\n%s", fn.Proc.Output())
	}
}
