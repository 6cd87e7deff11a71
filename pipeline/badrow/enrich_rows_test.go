package badrow_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/testkit"
)

func TestEnrichBadRowsValidateAgainstIgluCentral(t *testing.T) {
	p := Processor{Artifact: "plowline-enrich", Version: "0.1.0"}
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	long := strings.Repeat("x", 10000)
	v := "bad"
	cp := CollectorPayload{Vendor: "com.snowplowanalytics.snowplow", Version: "tp2",
		Querystring: []NameValue{{"e", "pv"}, {"cx", long}, {long, "n"}}, ContentType: "application/json; " + long,
		Body: long, HasBody: true, Collector: "ssc-2.10.0-kinesis-with-a-very-long-name-beyond-32", Encoding: "UTF-8",
		Hostname: "example.com", Timestamp: at, IPAddress: "203.0.113.7", UserAgent: long, RefererURI: long,
		Headers: []string{"Host: example.com", long}, NetworkUserID: "not-a-uuid"}
	raw := RawEvent{Vendor: "com.snowplowanalytics.snowplow", Version: "tp2", Parameters: []NameValue{{"e", "pv"}, {"ue_px", long}},
		Encoding: "UTF-8", Timestamp: at, IPAddress: "203.0.113.7", Headers: []string{"A: b"}, UserID: "c6ef3124-b53a-4b13-a233-0088f79dcbcb"}
	enriched := map[string]any{"app_id": "web", "page_urlport": 443, "br_cookies": 1, "geo_latitude": 1.5, "contexts": long}
	iglu := []Message{
		IgluResolutionError("iglu:com.acme/x/jsonschema/1-0-0", []LookupHistory{{Repository: "embedded", Errors: []LookupError{{Kind: "NotFound"}}, Attempts: 1, LastAttempt: at},
			{Repository: "http://127.0.0.1:1", Errors: []LookupError{{Kind: "RepoFailure", Message: long}}, Attempts: 1, LastAttempt: at}}),
		IgluResolutionError("iglu:com.acme/x/jsonschema/1-0-0", nil),
		IgluValidationError("iglu:com.acme/x/jsonschema/1-0-0", []DataReport{{Message: "missing id", Path: "$.id", Keyword: "required"}, {Message: "m", Path: "$"}}),
		IgluValidationError("iglu:com.acme/x/jsonschema/1-0-0", nil),
		IgluSchemaInvalid("iglu:com.acme/x/jsonschema/1-0-0", []SchemaIssue{{Path: "$.type", Message: "not a type"}}),
		NotJSON("cx", &v, "invalid character"),
		NotJSON("cx", nil, "empty"),
		NotIglu(map[string]any{"a": 1}, InvalidIgluURI),
		CriterionMismatch("iglu:com.acme/x/jsonschema/1-0-0", "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-*-*"),
	}
	rows := []BadRow{
		NewTrackerProtocolViolations(p, at, append([]Message{InputData("e", &v, "one of pv, pp, se, ue, tr, ti, ad"), InputData(long, nil, long)}, iglu[:6]...), cp),
		NewTrackerProtocolViolations(p, at, nil, CollectorPayload{Vendor: "v", Version: "tp2", Collector: "c", Encoding: "UTF-8"}),
		NewAdapterFailures(p, at, []Message{InputData("path", &v, "a supported vendor/version path"), NotJSON("body", &v, "x"), NotIglu("x", InvalidSchema)}, cp),
		NewCollectorPayloadFormatViolation(p, at, LoaderThrift, long, "AAEC"),
		NewSchemaViolations(p, at, iglu, raw, enriched),
		NewSchemaViolations(p, at, nil, RawEvent{Vendor: "v", Version: "tp1", Encoding: "UTF-8"}, nil),
		NewEnrichmentFailures(p, at, []EnrichmentFailure{
			{Message: InputData("dtm", &v, "milliseconds since the epoch")},
			{Enrichment: &EnrichmentID{SchemaKey: "iglu:com.snowplowanalytics.snowplow/ua_parser_config/jsonschema/1-0-0", Identifier: "ua_parser"}, Message: ExternalError(long)},
			{Message: iglu[0]},
		}, raw, enriched),
	}
	for _, b := range rows {
		testkit.ValidateBadRow(t, b.Marshal())
		back, err := Parse(b.Marshal())
		if err != nil || !json.Valid(back.Data) {
			t.Fatalf("%s does not round-trip: %v", b.Schema, err)
		}
	}
	// The unbounded fields keep the whole input for reprocessing.
	if !strings.Contains(string(rows[0].Data), `"body":"`+long+`"`) {
		t.Error("tracker_protocol_violations lost the body")
	}
	if !strings.Contains(string(rows[4].Data), `"contexts":"`+long+`"`) {
		t.Error("schema_violations lost the enriched contexts")
	}
}
