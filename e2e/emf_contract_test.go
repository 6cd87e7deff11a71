package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plowline/plowline/exporter/cloudwatch"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/testkit"
)

// TestEMFMatchesExporterQueries is the contract between the two halves:
// every EMF query the exporter's CloudWatch source asks for by default must
// name a metric and dimension set (with values) that the real Lambda
// functions actually publish. CloudWatch matches dimensions exactly, so a
// mismatch would not fail anywhere — the exporter would just read nothing.
func TestEMFMatchesExporterQueries(t *testing.T) {
	endpoint := testkit.Kinesalite(t)
	kc := testkit.KinesisClient(endpoint)
	for _, s := range []string{"raw-good", "raw-bad", "enriched-good", "enriched-bad"} {
		testkit.CreateStream(t, kc, s, 1)
	}
	keyFile := filepath.Join(t.TempDir(), "hmac.key")
	if err := os.WriteFile(keyFile, []byte("contract-test-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	awsEnv := []string{"PLOWLINE_KINESIS_ENDPOINT=" + endpoint, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}

	// testkit.LambdaRIE names each function plowline-<handler>.
	const delivery = "snowplow-enriched-good"
	topo := config.Topology{
		Functions:       []string{"plowline-collector", "plowline-enrich", "plowline-pseudonymize"},
		DeliveryStreams: []config.DeliveryStream{{Name: delivery, Prefix: "output/", Source: "enriched-good"}},
	}

	collectorFn := testkit.LambdaRIE(t, "collector", append([]string{"PLOWLINE_GOOD_STREAM=raw-good", "PLOWLINE_BAD_STREAM=raw-bad"}, awsEnv...))
	enrichFn := testkit.LambdaRIE(t, "enrich", append([]string{"PLOWLINE_ENRICHED_GOOD_STREAM=enriched-good", "PLOWLINE_ENRICHED_BAD_STREAM=enriched-bad"}, awsEnv...))
	pseudoFn := testkit.LambdaRIE(t, "pseudonymize", []string{"PLOWLINE_HMAC_KEY_FILE=" + keyFile})

	// One pixel request through the collector (function URL shape).
	url := events.LambdaFunctionURLRequest{RawPath: "/i", RawQueryString: "e=pv&p=web&tv=contract-1&aid=emf",
		Headers: map[string]string{"user-agent": "contract-test"}}
	url.RequestContext.HTTP.Method = "GET"
	url.RequestContext.HTTP.Path = "/i"
	url.RequestContext.HTTP.SourceIP = "192.0.2.1"
	invokeJSON(t, collectorFn, url)

	// One good and one bad payload through the enricher.
	good, err := (&payload.CollectorPayload{IPAddress: "192.0.2.1", Timestamp: time.Now().UnixMilli(), Encoding: "UTF-8",
		Collector: "contract", Path: "/i", Querystring: "e=pv&p=web&tv=contract-1"}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var kev events.KinesisEvent
	for i, data := range [][]byte{good, []byte("not thrift")} {
		var r events.KinesisEventRecord
		r.EventSource, r.EventName = "aws:kinesis", "aws:kinesis:record"
		r.Kinesis.Data, r.Kinesis.PartitionKey = data, "pk"
		r.Kinesis.SequenceNumber = "4959" + string(rune('0'+i))
		kev.Records = append(kev.Records, r)
	}
	invokeJSON(t, enrichFn, kev)

	// One enriched event and one garbage record through the pseudonymizer.
	tsv, err := os.ReadFile(filepath.Join(testkit.TestData(t), "conformance", "analytics-sdk", "full-event.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	fev := events.KinesisFirehoseEvent{InvocationID: "contract", Region: "us-east-1",
		DeliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/" + delivery,
		Records: []events.KinesisFirehoseEventRecord{
			{RecordID: "good", Data: append(tsv, '\n'), ApproximateArrivalTimestamp: events.MilliSecondsEpochTime{Time: time.Now()}},
			{RecordID: "garbage", Data: []byte("garbage"), ApproximateArrivalTimestamp: events.MilliSecondsEpochTime{Time: time.Now()}},
		}}
	invokeJSON(t, pseudoFn, fev)

	emitted := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	var missing []string
	for {
		for _, fn := range []*testkit.LambdaFunction{collectorFn, enrichFn, pseudoFn} {
			for k := range emfKeys(fn.Proc.Output()) {
				emitted[k] = true
			}
		}
		missing = missing[:0]
		var asked int
		for _, q := range cloudwatch.QueriesForTopology(topo) {
			if q.Namespace != cloudwatch.EMFNamespace {
				continue
			}
			asked++
			if k := emfKey(q.MetricName, q.Dimensions); !emitted[k] {
				missing = append(missing, k)
			}
		}
		if asked == 0 {
			t.Fatal("the exporter asks for no EMF metric: the contract checks nothing")
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(missing) > 0 {
		var have []string
		for k := range emitted {
			have = append(have, k)
		}
		sort.Strings(have)
		t.Fatalf("the exporter queries EMF metrics no function publishes:\n  %s\npublished:\n  %s",
			strings.Join(missing, "\n  "), strings.Join(have, "\n  "))
	}
}

func invokeJSON(t *testing.T, fn *testkit.LambdaFunction, ev any) {
	t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	fn.Invoke(t, raw)
}

// emfKey names a CloudWatch metric as CloudWatch matches it: name plus the
// exact set of dimension names and values.
func emfKey(metric string, dims map[string]string) string {
	parts := make([]string, 0, len(dims))
	for k, v := range dims {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return metric + "{" + strings.Join(parts, ",") + "}"
}

// emfKeys extracts every metric × dimension set published by EMF lines in
// a function's output.
func emfKeys(output string) map[string]bool {
	keys := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "{"); i >= 0 {
			line = line[i:]
		}
		var doc map[string]any
		if json.Unmarshal([]byte(line), &doc) != nil {
			continue
		}
		aws, ok := doc["_aws"].(map[string]any)
		if !ok {
			continue
		}
		cwms, _ := aws["CloudWatchMetrics"].([]any)
		for _, c := range cwms {
			cm, _ := c.(map[string]any)
			dimSets, _ := cm["Dimensions"].([]any)
			metrics, _ := cm["Metrics"].([]any)
			for _, ds := range dimSets {
				names, _ := ds.([]any)
				dims := map[string]string{}
				for _, n := range names {
					name, _ := n.(string)
					v, _ := doc[name].(string)
					dims[name] = v
				}
				for _, m := range metrics {
					mm, _ := m.(map[string]any)
					if name, ok := mm["Name"].(string); ok {
						keys[emfKey(name, dims)] = true
					}
				}
			}
		}
	}
	return keys
}
