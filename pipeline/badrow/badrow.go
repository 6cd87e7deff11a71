// Package badrow builds Snowplow bad rows: self-describing JSON documents
// (iglu:com.snowplowanalytics.snowplow.badrows/<type>/jsonschema/<version>)
// that carry what failed, why, and enough of the input to reprocess it.
// Every stage that rejects input emits one instead of dropping it.
package badrow

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Vendor is the Iglu vendor of every bad-row schema.
const Vendor = "com.snowplowanalytics.snowplow.badrows"

// The bad-row schemas plowline emits, at the versions it writes.
const (
	SchemaSizeViolation                   = "iglu:" + Vendor + "/size_violation/jsonschema/1-0-0"
	SchemaCollectorPayloadFormatViolation = "iglu:" + Vendor + "/collector_payload_format_violation/jsonschema/1-0-0"
	SchemaTrackerProtocolViolations       = "iglu:" + Vendor + "/tracker_protocol_violations/jsonschema/1-0-0"
	SchemaAdapterFailures                 = "iglu:" + Vendor + "/adapter_failures/jsonschema/1-0-0"
	SchemaSchemaViolations                = "iglu:" + Vendor + "/schema_violations/jsonschema/2-0-0"
	SchemaEnrichmentFailures              = "iglu:" + Vendor + "/enrichment_failures/jsonschema/2-0-0"
	SchemaGenericError                    = "iglu:" + Vendor + "/generic_error/jsonschema/1-0-0"
)

// Processor names the software that produced a bad row. Version must look
// like semver (the schemas require ^\d+\.\d+\.\d+).
type Processor struct {
	Artifact string `json:"artifact"`
	Version  string `json:"version"`
}

// BadRow is a self-describing bad row. Data holds the type-specific
// {processor, failure, payload} object.
type BadRow struct {
	Schema string          `json:"schema"`
	Data   json.RawMessage `json:"data"`
}

// New wraps data (marshalled to JSON) under schema.
func New(schema string, data any) (BadRow, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return BadRow{}, fmt.Errorf("encoding %s bad row: %w", TypeOf(schema), err)
	}
	return BadRow{Schema: schema, Data: raw}, nil
}

// Marshal returns the bad row as one line of JSON (no trailing newline).
func (b BadRow) Marshal() []byte {
	out, err := json.Marshal(b)
	if err != nil {
		// Data is always valid JSON produced by New or Parse; keep the
		// promise that a bad row is never lost by degrading to a string.
		out, _ = json.Marshal(map[string]any{"schema": b.Schema, "data": string(b.Data)})
	}
	return out
}

// Parse reads one bad-row line and checks that it is a self-describing
// document under the bad-rows vendor.
func Parse(line []byte) (BadRow, error) {
	var b BadRow
	if err := json.Unmarshal(line, &b); err != nil {
		return BadRow{}, fmt.Errorf("bad row is not JSON: %w", err)
	}
	if !strings.HasPrefix(b.Schema, "iglu:"+Vendor+"/") {
		return BadRow{}, fmt.Errorf("bad row schema %q is not under %s", b.Schema, Vendor)
	}
	if len(b.Data) == 0 {
		return BadRow{}, fmt.Errorf("bad row %s has no data", b.Schema)
	}
	return b, nil
}

// TypeOf returns the bad-row type (size_violation, schema_violations, ...)
// named by an Iglu URI, or "unknown". Metrics label bad rows with it.
func TypeOf(schema string) string {
	rest, ok := strings.CutPrefix(schema, "iglu:"+Vendor+"/")
	if !ok {
		return "unknown"
	}
	name, _, _ := strings.Cut(rest, "/")
	if name == "" {
		return "unknown"
	}
	return name
}

// Timestamp formats t as the schemas' date-time (RFC 3339, UTC, milliseconds).
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// SizeViolationFailure is the failure object of a size_violation.
type SizeViolationFailure struct {
	Timestamp               string `json:"timestamp"`
	MaximumAllowedSizeBytes int    `json:"maximumAllowedSizeBytes"`
	ActualSizeBytes         int    `json:"actualSizeBytes"`
	Expectation             string `json:"expectation,omitempty"`
}

// NewSizeViolation reports a payload too large for the sink. payload is the
// truncated start of the offending data, kept so the row can be inspected.
func NewSizeViolation(p Processor, at time.Time, maxBytes, actualBytes int, expectation, truncatedPayload string) BadRow {
	b, _ := New(SchemaSizeViolation, struct {
		Processor Processor            `json:"processor"`
		Failure   SizeViolationFailure `json:"failure"`
		Payload   string               `json:"payload"`
	}{p, SizeViolationFailure{Timestamp(at), maxBytes, actualBytes, truncate(expectation, 256)}, truncatedPayload})
	return b
}

// NewGenericError reports a failure no more specific type describes.
func NewGenericError(p Processor, at time.Time, errs []string, payload string) BadRow {
	b, _ := New(SchemaGenericError, struct {
		Processor Processor `json:"processor"`
		Failure   struct {
			Timestamp string   `json:"timestamp"`
			Errors    []string `json:"errors"`
		} `json:"failure"`
		Payload string `json:"payload"`
	}{Processor: p, Failure: struct {
		Timestamp string   `json:"timestamp"`
		Errors    []string `json:"errors"`
	}{Timestamp(at), errs}, Payload: payload})
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the result stays valid UTF-8.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
