package badrow

import (
	"sort"
	"time"
)

// This file holds the bad rows the enricher emits: collector payloads it
// cannot read, tracker-protocol violations, adapter failures, schema
// violations and enrichment failures. Constructors clip every field to its
// schema's maxLength so a row is always valid against its Iglu schema; the
// unbounded fields (body, failure values, the partially enriched event's
// contexts and unstruct_event) carry the full input, so nothing needed to
// reprocess an event is lost to clipping.

// Message is one failure message: one of the shapes the schemas' anyOf
// allows. Build it with the constructors below.
type Message map[string]any

// InputData reports a field whose value did not meet an expectation.
func InputData(field string, value *string, expectation string) Message {
	m := Message{"field": truncate(field, 64), "expectation": truncate(expectation, 256)}
	if value != nil {
		m["value"] = *value
	} else {
		m["value"] = nil
	}
	return m
}

// NotJSON reports a field that should have held JSON.
func NotJSON(field string, value *string, err string) Message {
	m := Message{"field": truncate(field, 64), "error": err}
	if value != nil {
		m["value"] = *value
	} else {
		m["value"] = nil
	}
	return m
}

// NotIglu codes for JSON that is not self-describing.
const (
	InvalidSchemaVer   = "INVALID_SCHEMAVER"
	InvalidIgluURI     = "INVALID_IGLUURI"
	InvalidDataPayload = "INVALID_DATA_PAYLOAD"
	InvalidSchema      = "INVALID_SCHEMA"
)

// NotIglu reports JSON that is not a self-describing {schema, data}
// document; code is one of the Invalid* constants.
func NotIglu(json any, code string) Message {
	return Message{"json": json, "error": code}
}

// CriterionMismatch reports a self-describing JSON whose schema is not the
// one expected at that place (e.g. a contexts field holding unstruct_event).
func CriterionMismatch(schemaKey, criterion string) Message {
	return Message{"schemaKey": schemaKey, "schemaCriterion": criterion}
}

// LookupHistory is what one registry answered in a failed schema resolution.
type LookupHistory struct {
	Repository  string
	Errors      []LookupError
	Attempts    int
	LastAttempt time.Time
}

// LookupError is one registry error: Kind is NotFound, RepoFailure or ClientFailure.
type LookupError struct {
	Kind    string
	Message string
}

// IgluResolutionError reports a schema found in no registry.
func IgluResolutionError(schemaKey string, history []LookupHistory) Message {
	hs := make([]map[string]any, 0, len(history))
	for _, h := range history {
		errs := make([]map[string]any, 0, len(h.Errors))
		for _, e := range h.Errors {
			m := map[string]any{"error": e.Kind}
			if e.Message != "" {
				m["message"] = truncate(e.Message, 256)
			}
			errs = append(errs, m)
		}
		if len(errs) == 0 {
			errs = append(errs, map[string]any{"error": "NotFound"})
		}
		hs = append(hs, map[string]any{"repository": h.Repository, "errors": errs,
			"attempts": max(h.Attempts, 0), "lastAttempt": Timestamp(h.LastAttempt)})
	}
	if len(hs) == 0 {
		hs = append(hs, map[string]any{"repository": "none", "errors": []map[string]any{{"error": "NotFound"}},
			"attempts": 0, "lastAttempt": Timestamp(time.Now())})
	}
	return Message{"schemaKey": schemaKey, "error": map[string]any{"error": "ResolutionError", "lookupHistory": hs}}
}

// DataReport is one way an instance failed its schema.
type DataReport struct {
	Message string
	Path    string
	Keyword string
	Targets []string
}

// IgluValidationError reports an instance invalid against its schema.
func IgluValidationError(schemaKey string, reports []DataReport) Message {
	rs := make([]map[string]any, 0, len(reports))
	for _, r := range reports {
		var kw, targets any
		if r.Keyword != "" {
			kw = r.Keyword
		}
		if len(r.Targets) > 0 {
			targets = r.Targets
		}
		rs = append(rs, map[string]any{"message": r.Message, "path": r.Path, "keyword": kw, "targets": targets})
	}
	if len(rs) == 0 {
		rs = append(rs, map[string]any{"message": "invalid", "path": "$", "keyword": nil, "targets": nil})
	}
	return Message{"schemaKey": schemaKey, "error": map[string]any{"error": "ValidationError", "dataReports": rs}}
}

// SchemaIssue is a problem with a schema document itself.
type SchemaIssue struct{ Path, Message string }

// IgluSchemaInvalid reports a schema that cannot be used to validate.
func IgluSchemaInvalid(schemaKey string, issues []SchemaIssue) Message {
	is := make([]map[string]any, 0, len(issues))
	for _, i := range issues {
		is = append(is, map[string]any{"path": i.Path, "message": i.Message})
	}
	if len(is) == 0 {
		is = append(is, map[string]any{"path": "$", "message": "invalid schema"})
	}
	return Message{"schemaKey": schemaKey, "error": map[string]any{"error": "ValidationError", "schemaIssues": is}}
}

// ExternalError reports a failure outside the input (an enrichment's
// dependency failing); only enrichment_failures accepts it.
func ExternalError(err string) Message { return Message{"error": truncate(err, 512)} }

// CollectorPayload is the collector payload as the tracker_protocol_violations
// and adapter_failures rows carry it.
type CollectorPayload struct {
	Vendor, Version string
	Querystring     []NameValue
	ContentType     string
	Body            string
	HasBody         bool
	Collector       string
	Encoding        string
	Hostname        string
	Timestamp       time.Time
	IPAddress       string
	UserAgent       string
	RefererURI      string
	Headers         []string
	NetworkUserID   string
}

// NameValue is one query-string or tracker-protocol parameter.
type NameValue struct {
	Name  string
	Value string
}

func nvps(in []NameValue, sorted bool) []map[string]any {
	out := make([]map[string]any, 0, len(in))
	for _, p := range in {
		out = append(out, map[string]any{"name": truncate(p.Name, 512), "value": truncate(p.Value, 512)})
	}
	if sorted {
		sort.SliceStable(out, func(i, j int) bool { return out[i]["name"].(string) < out[j]["name"].(string) })
	}
	return out
}

func nullable(s string, n int) any {
	if s == "" {
		return nil
	}
	return truncate(s, n)
}

func headers(hs []string) any {
	if hs == nil {
		return nil
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = truncate(h, 8192)
	}
	return out
}

func tstamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return Timestamp(t)
}

// uuidOrNil keeps a network user id only if it has the UUID form the
// schemas require; otherwise it is still in the parameters.
func uuidOrNil(s string) any {
	if len(s) != 36 {
		return nil
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return nil
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return nil
			}
		}
	}
	return s
}

func (c CollectorPayload) toJSON() map[string]any {
	var body any
	if c.HasBody || c.Body != "" {
		body = c.Body
	}
	var qs any
	if c.Querystring != nil {
		qs = nvps(c.Querystring, false)
	}
	return map[string]any{
		"vendor": truncate(c.Vendor, 64), "version": truncate(c.Version, 16),
		"querystring": qs, "contentType": nullable(c.ContentType, 256), "body": body,
		"collector": truncate(c.Collector, 32), "encoding": truncate(c.Encoding, 32),
		"hostname": nullable(c.Hostname, 8192), "timestamp": tstamp(c.Timestamp),
		"ipAddress": nullable(c.IPAddress, 128), "useragent": nullable(c.UserAgent, 4096),
		"refererUri": nullable(c.RefererURI, 8192), "headers": headers(c.Headers),
		"networkUserId": uuidOrNil(c.NetworkUserID),
	}
}

func failure(at time.Time, vendor, version string, msgs []Message) map[string]any {
	if msgs == nil {
		msgs = []Message{}
	}
	return map[string]any{"timestamp": Timestamp(at), "vendor": truncate(vendor, 64), "version": truncate(version, 16), "messages": msgs}
}

// NewTrackerProtocolViolations reports a payload (or one event of a batch,
// re-wrapped as its own body) that breaks the tracker protocol.
func NewTrackerProtocolViolations(p Processor, at time.Time, msgs []Message, cp CollectorPayload) BadRow {
	b, _ := New(SchemaTrackerProtocolViolations, map[string]any{
		"processor": p, "failure": failure(at, cp.Vendor, cp.Version, msgs), "payload": cp.toJSON()})
	return b
}

// NewAdapterFailures reports a payload no adapter can turn into events
// (an unsupported vendor/version path, for instance).
func NewAdapterFailures(p Processor, at time.Time, msgs []Message, cp CollectorPayload) BadRow {
	b, _ := New(SchemaAdapterFailures, map[string]any{
		"processor": p, "failure": failure(at, cp.Vendor, cp.Version, msgs), "payload": cp.toJSON()})
	return b
}

// Loaders of collector payloads named in collector_payload_format_violation.
const LoaderThrift = "thrift"

// NewCollectorPayloadFormatViolation reports a record that is not a
// collector payload; payload is the record, base64-encoded.
func NewCollectorPayloadFormatViolation(p Processor, at time.Time, loader, errMsg, payload string) BadRow {
	b, _ := New(SchemaCollectorPayloadFormatViolation, map[string]any{
		"processor": p,
		"failure":   map[string]any{"timestamp": Timestamp(at), "loader": loader, "message": map[string]any{"error": truncate(errMsg, 512)}},
		"payload":   payload,
	})
	return b
}

// RawEvent is one event's tracker-protocol parameters with the collector
// payload's metadata, as schema_violations and enrichment_failures carry it.
type RawEvent struct {
	Vendor, Version string
	Parameters      []NameValue
	ContentType     string
	LoaderName      string
	Encoding        string
	Hostname        string
	Timestamp       time.Time
	IPAddress       string
	UserAgent       string
	RefererURI      string
	Headers         []string
	UserID          string
}

func (r RawEvent) toJSON() map[string]any {
	loader := r.LoaderName
	if loader == "" {
		loader = LoaderThrift
	}
	return map[string]any{
		"vendor": truncate(r.Vendor, 64), "version": truncate(r.Version, 16),
		"parameters": nvps(r.Parameters, true), "contentType": nullable(r.ContentType, 256),
		"loaderName": truncate(loader, 32), "encoding": truncate(r.Encoding, 32),
		"hostname": nullable(r.Hostname, 8192), "timestamp": tstamp(r.Timestamp),
		"ipAddress": nullable(r.IPAddress, 128), "useragent": nullable(r.UserAgent, 4096),
		"refererUri": nullable(r.RefererURI, 8192), "headers": headers(r.Headers),
		"userId": uuidOrNil(r.UserID),
	}
}

// NewSchemaViolations reports an event whose self-describing JSON (contexts,
// unstruct event) failed validation or resolution. enriched is the
// partially enriched event in the schema's typed form (see the enrich
// package), or nil.
func NewSchemaViolations(p Processor, at time.Time, msgs []Message, raw RawEvent, enriched map[string]any) BadRow {
	if msgs == nil {
		msgs = []Message{}
	}
	payload := map[string]any{"raw": raw.toJSON()}
	if enriched != nil {
		payload["enriched"] = enriched
	}
	b, _ := New(SchemaSchemaViolations, map[string]any{
		"processor": p, "failure": map[string]any{"timestamp": Timestamp(at), "messages": msgs}, "payload": payload})
	return b
}

// EnrichmentID names the enrichment that failed; nil for a failure of the
// event's own fields (the atomic mapping).
type EnrichmentID struct {
	SchemaKey  string
	Identifier string
}

// EnrichmentFailure is one failure of one enrichment.
type EnrichmentFailure struct {
	Enrichment *EnrichmentID
	Message    Message
}

// NewEnrichmentFailures reports an event an enrichment (or the mapping of
// its tracker-protocol fields) could not process.
func NewEnrichmentFailures(p Processor, at time.Time, fails []EnrichmentFailure, raw RawEvent, enriched map[string]any) BadRow {
	msgs := make([]map[string]any, 0, len(fails))
	for _, f := range fails {
		var id any
		if f.Enrichment != nil {
			id = map[string]any{"schemaKey": f.Enrichment.SchemaKey, "identifier": truncate(f.Enrichment.Identifier, 256)}
		}
		msgs = append(msgs, map[string]any{"enrichment": id, "message": f.Message})
	}
	payload := map[string]any{"raw": raw.toJSON()}
	if enriched != nil {
		payload["enriched"] = enriched
	}
	b, _ := New(SchemaEnrichmentFailures, map[string]any{
		"processor": p, "failure": map[string]any{"timestamp": Timestamp(at), "messages": msgs}, "payload": payload})
	return b
}
