package cloudwatch

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/alerts"
	"github.com/plowline/plowline/dashboards/cloudwatch/cwtest"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/metricname"
)

func testTopology() config.Topology {
	return config.Topology{
		Region:          "eu-central-1",
		Streams:         []config.Stream{{Name: "raw-good", RetentionHours: 48}, {Name: "enriched-good", RetentionHours: 24}},
		DeliveryStreams: []config.DeliveryStream{{Name: "fh-good", Prefix: "good/", Source: "enriched-good"}, {Name: "fh-bad", Prefix: "bad/"}},
		Functions:       []string{"sp-collector", "sp-enricher", "sp-pseudonymizer"},
		LoadBalancers:   []string{"net/sp-nlb/abc", "app/sp-alb/def"},
		Bucket:          "b", GoodTable: "good", BadTable: "bad",
	}
}

// lines decodes the body as generic JSON (what CloudWatch parses) and
// returns each metric line as namespace|metric|dimension value|stat, per
// widget title.
func lines(t *testing.T, body []byte) (map[string][]string, []map[string]any) {
	t.Helper()
	var b struct {
		Widgets []map[string]any `json:"widgets"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, w := range b.Widgets {
		props := w["properties"].(map[string]any)
		if w["type"] != "metric" {
			continue
		}
		if props["region"] == "" {
			t.Errorf("widget %v has no region", props["title"])
		}
		for _, m := range props["metrics"].([]any) {
			l := m.([]any)
			if l[0] == metricname.Namespace {
				// EMF lines: namespace, name, then dimension pairs; the metric
				// must be one plowline defines.
				if !metricname.Known(l[1].(string)) {
					t.Errorf("EMF metric %v is not defined in metricname", l[1])
				}
				var parts []string
				for _, v := range l[:len(l)-1] {
					parts = append(parts, v.(string))
				}
				out[props["title"].(string)] = append(out[props["title"].(string)], strings.Join(parts, "|"))
				continue
			}
			if len(l) != 5 {
				t.Fatalf("metric line %v: want namespace, name, dimension, value, options", l)
			}
			opts := l[4].(map[string]any)
			out[props["title"].(string)] = append(out[props["title"].(string)],
				strings.Join([]string{l[0].(string), l[1].(string), l[3].(string), opts["stat"].(string)}, "|"))
		}
	}
	return out, b.Widgets
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestBodyCoversTopology(t *testing.T) {
	body, err := Render(testTopology(), alerts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, widgets := lines(t, body)
	want := map[string][]string{
		"ELB new flow count":                                 {"AWS/NetworkELB|NewFlowCount|net/sp-nlb/abc|Sum", "AWS/ApplicationELB|NewConnectionCount|app/sp-alb/def|Sum"},
		"Collector Lambda invocations":                       {"AWS/Lambda|Invocations|sp-collector|Sum"},
		"Collector network: bytes through the load balancer": {"AWS/NetworkELB|ProcessedBytes|net/sp-nlb/abc|Sum", "AWS/ApplicationELB|ProcessedBytes|app/sp-alb/def|Sum"},
		"Kinesis incoming records":                           {"AWS/Kinesis|IncomingRecords|raw-good|Sum", "AWS/Kinesis|IncomingRecords|enriched-good|Sum"},
		"Kinesis iterator age (ms)": {"AWS/Kinesis|GetRecords.IteratorAgeMilliseconds|raw-good|Maximum",
			"AWS/Kinesis|GetRecords.IteratorAgeMilliseconds|enriched-good|Maximum"},
		"Firehose fh-good: incoming vs delivered to S3": {"AWS/Firehose|IncomingRecords|fh-good|Sum", "AWS/Firehose|DeliveryToS3.Records|fh-good|Sum"},
		"Firehose fh-bad: incoming vs delivered to S3":  {"AWS/Firehose|IncomingRecords|fh-bad|Sum", "AWS/Firehose|DeliveryToS3.Records|fh-bad|Sum"},
		"Firehose data freshness (s)": {"AWS/Firehose|DeliveryToS3.DataFreshness|fh-good|Maximum",
			"AWS/Firehose|DeliveryToS3.DataFreshness|fh-bad|Maximum"},
		"Lambda errors and throttles": {"AWS/Lambda|Errors|sp-collector|Sum", "AWS/Lambda|Errors|sp-enricher|Sum", "AWS/Lambda|Errors|sp-pseudonymizer|Sum"},
		"Lambda duration (ms)":        {"AWS/Lambda|Duration|sp-enricher|p99", "AWS/Lambda|Duration|sp-pseudonymizer|Average"},
		// EMF: exactly the dimension sets the Lambdas write (pipeline/lambda).
		"Events through the pipeline (plowline EMF)": {
			"plowline|plowline_collector_events_total|function|sp-collector",
			"plowline|plowline_enricher_events_total|function|sp-enricher|result|good",
			"plowline|plowline_enricher_events_total|function|sp-enricher|result|bad",
			"plowline|plowline_pseudonymizer_records_total|function|sp-pseudonymizer|stream|fh-good|result|ok",
		},
		"Pseudonymizer processing failures (unpseudonymized records)": {
			"plowline|plowline_pseudonymizer_records_total|function|sp-pseudonymizer|stream|fh-bad|result|processing_failed",
		},
	}
	for title, ls := range want {
		for _, l := range ls {
			if !has(got[title], l) {
				t.Errorf("widget %q lacks %s (has %v)", title, l, got[title])
			}
		}
	}
	// Widgets sit on CloudWatch's 24-column grid without overlapping.
	type cell struct{ x, y int }
	used := map[cell]string{}
	for _, w := range widgets {
		x, y, wd, h := int(w["x"].(float64)), int(w["y"].(float64)), int(w["width"].(float64)), int(w["height"].(float64))
		if x < 0 || wd < 1 || x+wd > 24 || h < 1 {
			t.Errorf("widget at %d,%d size %dx%d off the grid", x, y, wd, h)
		}
		for i := x; i < x+wd; i++ {
			for j := y; j < y+h; j++ {
				if other, taken := used[cell{i, j}]; taken {
					t.Fatalf("widgets overlap at %d,%d (%s)", i, j, other)
				}
				used[cell{i, j}] = w["type"].(string)
			}
		}
	}
}

func TestBodyRefusesUnusableTopology(t *testing.T) {
	if _, err := Render(config.Topology{Streams: []config.Stream{{Name: "s"}}}, alerts.Options{}); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("missing region accepted: %v", err)
	}
	if _, err := Render(config.Topology{Region: "us-east-1"}, alerts.Options{}); err == nil {
		t.Error("a topology with nothing to chart accepted")
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"SnowPlow", "snowplow-prod_2"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Snow Plow", "a/b", strings.Repeat("x", 256)} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func newTestClient(t *testing.T, url, region string) PutAPI {
	t.Helper()
	cwtest.SetEnv(t)
	c, err := NewClient(context.Background(), ClientOptions{Region: region, Endpoint: url, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPutOverTheWire sends the real SDK request to the double and checks
// what arrived — name, body, signature — and that CloudWatch's validation
// messages come back.
func TestPutOverTheWire(t *testing.T) {
	srv := cwtest.New(t)
	srv.Respond = func(p cwtest.Put) ([]cwtest.Message, bool) {
		return []cwtest.Message{{DataPath: "/widgets/3/properties/metrics/0", Message: "The metric does not exist"}}, false
	}
	topo := testTopology()
	body, err := Render(topo, alerts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := Put(context.Background(), newTestClient(t, srv.URL, topo.Region), "SnowPlow", body)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].DataPath != "/widgets/3/properties/metrics/0" || msgs[0].Message != "The metric does not exist" {
		t.Errorf("validation messages %+v", msgs)
	}
	puts := srv.Puts()
	if len(puts) != 1 {
		t.Fatalf("%d PutDashboard calls", len(puts))
	}
	if puts[0].Name != "SnowPlow" || puts[0].Body != string(body) {
		t.Errorf("received name %q and a body of %d bytes, want SnowPlow and %d bytes", puts[0].Name, len(puts[0].Body), len(body))
	}
	if !cwtest.SignedFor(puts[0].Authorization, topo.Region) {
		t.Errorf("request not SigV4-signed for CloudWatch in %s: %q", topo.Region, puts[0].Authorization)
	}
}

func TestPutRejectedBody(t *testing.T) {
	srv := cwtest.New(t)
	srv.Respond = func(p cwtest.Put) ([]cwtest.Message, bool) {
		return []cwtest.Message{{DataPath: "/widgets/0", Message: "Should have required property 'type'"}}, true
	}
	msgs, err := Put(context.Background(), newTestClient(t, srv.URL, "us-east-1"), "SnowPlow", []byte(`{"widgets":[{}]}`))
	if err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("want a rejection, got %v", err)
	}
	if len(msgs) != 1 || msgs[0].Message != "Should have required property 'type'" {
		t.Errorf("rejection messages %+v", msgs)
	}
}

func TestPutRefusesBadNameBeforeCalling(t *testing.T) {
	srv := cwtest.New(t)
	if _, err := Put(context.Background(), newTestClient(t, srv.URL, "us-east-1"), "Snow Plow", []byte(`{}`)); err == nil {
		t.Fatal("bad name accepted")
	}
	if n := len(srv.Puts()); n != 0 {
		t.Errorf("%d calls made with a bad name", n)
	}
}
