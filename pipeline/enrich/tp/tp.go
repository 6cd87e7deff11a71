// Package tp reads the Snowplow tracker protocol out of a collector
// payload: GET pixel requests (tp1: parameters in the query string) and
// tp2 POST batches (a self-describing payload_data body holding many
// events). It splits a payload into raw events — parameter lists — and
// says, per event or for the whole payload, what broke the protocol.
package tp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/enrich/iglu"
	"github.com/plowline/plowline/pipeline/enrich/jsondec"
	"github.com/plowline/plowline/pipeline/payload"
)

// Vendor is the adapter vendor of the Snowplow tracker protocol.
const Vendor = "com.snowplowanalytics.snowplow"

// Versions of the tracker protocol adapter.
const (
	TP1 = "tp1"
	TP2 = "tp2"
)

// PayloadDataCriterion is the schema a tp2 body must be an instance of (any 1-x-x).
const PayloadDataCriterion = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-*-*"

// Param is one tracker-protocol parameter.
type Param struct{ Name, Value string }

// Event is one raw event: its parameters in the order they were sent
// (query-string parameters of a tp2 request first, the event's own after).
type Event struct {
	Version string
	Params  []Param
}

// Get returns the value of the named parameter; when a name repeats the
// last one wins (an event's own parameter overrides the query string's).
func (e *Event) Get(name string) (string, bool) {
	for i := len(e.Params) - 1; i >= 0; i-- {
		if e.Params[i].Name == name {
			return e.Params[i].Value, true
		}
	}
	return "", false
}

// Kind says which bad-row type a Failure becomes.
type Kind int

// Failure kinds.
const (
	TrackerProtocolViolation Kind = iota // tracker_protocol_violations
	AdapterFailure                       // adapter_failures
	SizeViolation                        // size_violation: the events of a batch past MaxEventsPerPayload
)

// MaxEventsPerPayload caps the events enriched from one tp2 batch. A 1 MB
// body of "{}" items holds 340,000 events, each of which would become a
// bad row carrying the payload's headers: enough to take gigabytes from
// one request (issue 12). Trackers batch far fewer (the JavaScript,
// Android and iOS trackers cap a POST at 40 kB; Android sends at most 150
// events at once), so 500 only stops abuse. The events past it become one
// size_violation bad row.
const MaxEventsPerPayload = 500

// maxRestBytes bounds the part of the events past the cap that the
// size_violation keeps, like the collector keeps a tenth of its limit.
const maxRestBytes = 100_000

// Failure is a payload, or one event of a tp2 batch, that breaks the protocol.
type Failure struct {
	Kind     Kind
	Vendor   string
	Version  string
	Messages []badrow.Message
	// Body is what the bad row carries as the payload body: the original
	// body for a whole-payload failure, or the failing event re-wrapped as
	// a payload_data body of its own, so it can be reprocessed alone.
	Body    string
	HasBody bool
	// Expectation and ActualBytes describe a SizeViolation: Body then holds
	// (the start of) the events past the cap, as a payload_data body.
	Expectation string
	ActualBytes int
}

// Validator checks an instance against a schema (iglu.Resolver does).
type Validator interface {
	Validate(ctx context.Context, key iglu.SchemaKey, instance any) error
}

// Parse splits a collector payload into raw events and failures. A
// failure of one event of a batch does not affect the others.
func Parse(ctx context.Context, v Validator, cp *payload.CollectorPayload) ([]Event, []Failure) {
	path := strings.TrimSuffix(cp.Path, "/")
	vendor, version, custom := route(path)
	whole := func(kind Kind, version string, msgs ...badrow.Message) []Failure {
		return []Failure{{Kind: kind, Vendor: vendor, Version: version, Messages: msgs, Body: cp.Body, HasBody: cp.Body != ""}}
	}
	if vendor != Vendor {
		val := cp.Path
		return nil, whole(AdapterFailure, version, badrow.InputData("path", &val,
			"a Snowplow tracker protocol path (/i, /ice.png, /com.snowplowanalytics.snowplow/tp2 or a custom path); vendor "+vendor+" has no adapter"))
	}
	qs, err := ParseQuery(cp.Querystring)
	if err != nil {
		val := cp.Querystring
		return nil, whole(TrackerProtocolViolation, version, badrow.InputData("querystring", &val, "a well-formed URL query string: "+err.Error()))
	}
	if custom {
		version = TP1
		if cp.Body != "" {
			version = TP2
		}
	}
	if version == TP1 || cp.Body == "" {
		if len(qs) == 0 {
			return nil, whole(TrackerProtocolViolation, version, badrow.InputData("querystring", nil, "a non-empty query string of tracker-protocol parameters"))
		}
		if path == "/r/tp2" {
			qs = redirectEvent(qs)
		}
		return []Event{{Version: version, Params: qs}}, nil
	}
	return parseBody(ctx, v, cp, qs, whole)
}

// redirectEvent completes a click through the collector's /r/tp2
// redirect: without an event of its own (no e), the request is a
// uri_redirect self-describing event whose uri is the target u, as
// Snowplow's enrich reads it.
func redirectEvent(qs []Param) []Param {
	ev := Event{Params: qs}
	u, hasU := ev.Get("u")
	if _, hasE := ev.Get("e"); hasE || !hasU {
		return qs
	}
	uri, _ := json.Marshal(u)
	ue := `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0","data":{"uri":` + string(uri) + `}}}`
	out := make([]Param, 0, len(qs)+2)
	out = append(out, qs...)
	return append(out, Param{Name: "e", Value: "ue"}, Param{Name: "ue_pr", Value: ue})
}

// route maps a collector path to the adapter that reads it. custom reports
// a path that names no adapter (GitLab's /-/collect_events, a proxy's
// prefix): it is read as tp2 if it has a body, as a pixel request if not.
func route(path string) (vendor, version string, custom bool) {
	switch path {
	case "/i", "/ice.png", "/" + Vendor + "/tp1", "/r/tp2":
		return Vendor, TP1, false
	case "/" + Vendor + "/tp2":
		return Vendor, TP2, false
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) == 2 && strings.Contains(parts[0], ".") && parts[0] != Vendor {
		// /{vendor}/{version}: a webhook adapter plowline does not implement.
		return parts[0], parts[1], false
	}
	return Vendor, TP2, true
}

func parseBody(ctx context.Context, v Validator, cp *payload.CollectorPayload, qs []Param,
	whole func(Kind, string, ...badrow.Message) []Failure) ([]Event, []Failure) {
	// As Snowplow's enrich: a body is read only as JSON, and only when the
	// request says so; a POST without a content type is not a tp2 batch.
	if ct := strings.ToLower(strings.TrimSpace(cp.ContentType)); !strings.HasPrefix(ct, "application/json") {
		if ct == "" {
			return nil, whole(TrackerProtocolViolation, TP2, badrow.InputData("contentType", nil, "application/json (optionally with a charset): a request with a body must say its content type"))
		}
		val := cp.ContentType
		return nil, whole(TrackerProtocolViolation, TP2, badrow.InputData("contentType", &val, "application/json (optionally with a charset)"))
	}
	// Fast path: the usual body, each event of the embedded payload_data's
	// shape (objects of known string properties, required ones present —
	// exactly what validating it checks): no generic tree, no validator.
	if schema, fb, ok := fastBody(cp.Body); ok {
		if key, err := iglu.ParseURI(schema); err == nil && key.Vendor == Vendor && key.Name == "payload_data" && key.Format == "jsonschema" {
			var fails []Failure
			if fb.total > MaxEventsPerPayload {
				fails = []Failure{restFailure(schema, fb.total, func(yield func(int, []byte) bool) {
					for i, raw := range fb.rest {
						if !yield(i, raw) {
							return
						}
					}
				})}
			}
			evs := fb.events
			if shape, ok := payloadDataShape(key); ok && shape.acceptsParams(evs) {
				events := make([]Event, len(evs))
				for i, ps := range evs {
					if len(qs) > 0 {
						ps = append(append(make([]Param, 0, len(qs)+len(ps)), qs...), ps...)
					}
					events[i] = Event{Version: TP2, Params: ps}
				}
				return events, fails
			}
			if fb.total > MaxEventsPerPayload {
				// Some of the first events need the validator: decode only
				// them (never the whole batch's tree), the rest is a
				// size_violation already.
				cut := *cp
				cut.Body = batchBody(schema, fb.items)
				events, more := parseBodyGeneric(ctx, v, &cut, qs, whole)
				return events, append(fails, more...)
			}
		}
	}
	return parseBodyGeneric(ctx, v, cp, qs, whole)
}

// parseBodyGeneric decodes any body into a JSON tree and validates it, so
// whatever is wrong is found and reported precisely.
func parseBodyGeneric(ctx context.Context, v Validator, cp *payload.CollectorPayload, qs []Param,
	whole func(Kind, string, ...badrow.Message) []Failure) ([]Event, []Failure) {
	body := []byte(cp.Body)
	doc, err := jsondec.Decode(body)
	if errors.Is(err, jsondec.ErrTooManyValues) {
		// Too big a tree to build (a batch of many tiny items): find the
		// items without decoding them, decode only the first
		// MaxEventsPerPayload, and the rest is the size_violation the fast
		// path makes of them too.
		if schema, first, total, rest, ok := splitBatch(body); ok && total > MaxEventsPerPayload {
			cut := *cp
			cut.Body = batchBody(schema, first)
			events, more := parseBodyGeneric(ctx, v, &cut, qs, whole)
			return events, append([]Failure{restFailure(schema, total, slices.All(rest))}, more...)
		}
		return nil, []Failure{{Kind: SizeViolation, Vendor: Vendor, Version: TP2, Body: clipUTF8(cp.Body, maxRestBytes), HasBody: true,
			ActualBytes: len(body), Expectation: fmt.Sprintf("a tp2 body of at most %d JSON values and %d objects and arrays; this one has more and is not a batch of events that could be cut",
				jsondec.MaxValues, jsondec.MaxContainers)}}
	}
	if err != nil {
		val := cp.Body
		return nil, whole(TrackerProtocolViolation, TP2, badrow.NotJSON("body", &val, err.Error()))
	}
	env, ok := doc.(map[string]any)
	if !ok {
		return nil, whole(TrackerProtocolViolation, TP2, badrow.NotIglu(json.RawMessage(body), badrow.InvalidDataPayload))
	}
	schema, ok := env["schema"].(string)
	if !ok {
		return nil, whole(TrackerProtocolViolation, TP2, badrow.NotIglu(json.RawMessage(body), badrow.InvalidSchema))
	}
	data, ok := env["data"]
	if !ok {
		return nil, whole(TrackerProtocolViolation, TP2, badrow.NotIglu(json.RawMessage(body), badrow.InvalidDataPayload))
	}
	key, err := iglu.ParseURI(schema)
	if err != nil {
		code := badrow.InvalidIgluURI
		var sv iglu.ErrSchemaVer
		if errors.As(err, &sv) {
			code = badrow.InvalidSchemaVer
		}
		return nil, whole(TrackerProtocolViolation, TP2, badrow.NotIglu(json.RawMessage(body), code))
	}
	if key.Vendor != Vendor || key.Name != "payload_data" || key.Format != "jsonschema" || key.Model != 1 {
		return nil, whole(TrackerProtocolViolation, TP2, badrow.CriterionMismatch(key.String(), PayloadDataCriterion))
	}
	items, ok := data.([]any)
	if !ok || len(items) == 0 {
		// Not an array (or an empty one): let the schema say what is wrong.
		verr := v.Validate(ctx, key, data)
		if verr == nil {
			verr = fmt.Errorf("payload_data holds no events")
		}
		return nil, whole(TrackerProtocolViolation, TP2, iglu.BadRowMessage(key, verr))
	}
	// Each event is checked on its own, so one bad event does not fail its
	// neighbours. Events that have the shape of the embedded payload_data
	// schema (objects of known string properties, required ones present —
	// exactly what validating it checks) skip the generic validator.
	var fails []Failure
	if len(items) > MaxEventsPerPayload {
		fails = append(fails, restFailure(key.String(), len(items), func(yield func(int, []byte) bool) {
			for i, item := range items[MaxEventsPerPayload:] {
				raw, err := json.Marshal(item)
				if err != nil {
					raw = []byte("null")
				}
				if !yield(i, raw) {
					return
				}
			}
		}))
		items = items[:MaxEventsPerPayload]
	}
	shape, fast := payloadDataShape(key)
	events := make([]Event, 0, len(items))
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !(fast && ok && shape.accepts(m)) {
			if err := v.Validate(ctx, key, []any{item}); err != nil {
				fails = append(fails, itemFailure(key, item, err))
				continue
			}
		}
		events = append(events, Event{Version: TP2, Params: merge(qs, m)})
	}
	return events, fails
}

// restFailure is the size_violation for the events of a batch of total
// events past MaxEventsPerPayload: a payload_data body of them, cut after
// maxRestBytes. rest yields each event's JSON.
func restFailure(schema string, total int, rest iter.Seq2[int, []byte]) Failure {
	var b strings.Builder
	b.WriteString(`{"schema":`)
	sj, _ := json.Marshal(schema)
	b.Write(sj)
	b.WriteString(`,"data":[`)
	for i, raw := range rest {
		if b.Len()+len(raw) > maxRestBytes {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(raw)
	}
	b.WriteString("]}")
	return Failure{Kind: SizeViolation, Vendor: Vendor, Version: TP2, Body: b.String(), HasBody: true, ActualBytes: b.Len(),
		Expectation: fmt.Sprintf("a tp2 batch of at most %d events; this one has %d, so the %d after the first %d are not enriched",
			MaxEventsPerPayload, total, total-MaxEventsPerPayload, MaxEventsPerPayload)}
}

// clipUTF8 is the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// batchBody is a payload_data body holding items (raw JSON objects).
func batchBody(schema string, items [][]byte) string {
	var b strings.Builder
	sj, _ := json.Marshal(schema)
	n := len(sj) + 20
	for _, it := range items {
		n += len(it) + 1
	}
	b.Grow(n)
	b.WriteString(`{"schema":`)
	b.Write(sj)
	b.WriteString(`,"data":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteString("]}")
	return b.String()
}

// itemFailure is one failing event of a batch; it travels in a body of
// its own so it can be reprocessed alone.
func itemFailure(key iglu.SchemaKey, item any, err error) Failure {
	raw, merr := json.Marshal(item)
	if merr != nil {
		raw = []byte("null")
	}
	return Failure{Kind: TrackerProtocolViolation, Vendor: Vendor, Version: TP2,
		Messages: []badrow.Message{iglu.BadRowMessage(key, err)},
		Body:     `{"schema":"` + key.String() + `","data":[` + string(raw) + `]}`, HasBody: true}
}

// merge puts an event's own parameters (sorted by name: map order is
// random, output must be deterministic) after the query string's.
func merge(qs []Param, m map[string]any) []Param {
	params := make([]Param, 0, len(qs)+len(m))
	params = append(params, qs...)
	start := len(params)
	for k, val := range m {
		params = append(params, Param{Name: k, Value: stringify(val)})
	}
	own := params[start:]
	slices.SortFunc(own, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
	return params
}

// stringify renders a parameter value; the payload_data schema requires
// strings, but a schema from a configured registry may allow more.
func stringify(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// ParseQuery splits a query string into parameters in order, decoding
// percent-escapes and '+' as space, as the tracker protocol's GET requests
// are encoded. Empty names are dropped.
func ParseQuery(q string) ([]Param, error) {
	if q == "" {
		return nil, nil
	}
	out := make([]Param, 0, strings.Count(q, "&")+1)
	for part := range strings.SplitSeq(q, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		n, err := unescape(name)
		if err != nil {
			return nil, fmt.Errorf("parameter name %q: %w", clip(name, 64), err)
		}
		if n == "" {
			continue
		}
		v, err := unescape(value)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", clip(n, 64), err)
		}
		out = append(out, Param{Name: n, Value: v})
	}
	return out, nil
}

// QueryValue returns the first value of the named parameter in a raw
// query string, as url.Values.Get would, without building the map: only
// the matching value is unescaped. Pairs that do not unescape are skipped.
func QueryValue(rawQuery, name string) string {
	for rest := rawQuery; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, "&")
		k, v, _ := strings.Cut(part, "=")
		if strings.IndexByte(k, '%') < 0 && strings.IndexByte(k, '+') < 0 {
			if k != name {
				continue
			}
		} else if uk, err := unescape(k); err != nil || uk != name {
			continue
		}
		if uv, err := unescape(v); err == nil {
			return uv
		}
	}
	return ""
}

func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// DecodeBase64 decodes base64 in either alphabet (standard or URL-safe,
// even mixed), with or without padding. A space is read as '+', because a
// standard-alphabet value put in a query string unencoded arrives with its
// '+' decoded to a space; line breaks are ignored.
func DecodeBase64(s string) ([]byte, error) {
	// Common case: one alphabet, nothing to normalise — decode in place.
	trimmed := strings.TrimRight(s, "=")
	std, url, other := false, false, false
	for i := 0; i < len(trimmed); i++ {
		switch c := trimmed[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '+' || c == '/':
			std = true
		case c == '-' || c == '_':
			url = true
		default:
			other = true
		}
	}
	if !other && !(std && url) && len(s)-len(trimmed) <= 2 {
		enc := base64.RawStdEncoding
		if url {
			enc = base64.RawURLEncoding
		}
		out := make([]byte, enc.DecodedLen(len(trimmed)))
		n, err := enc.Decode(out, unsafe.Slice(unsafe.StringData(trimmed), len(trimmed)))
		if err != nil {
			return nil, err
		}
		return out[:n], nil
	}
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '-':
			buf = append(buf, '+')
		case '_':
			buf = append(buf, '/')
		case ' ':
			buf = append(buf, '+')
		case '\r', '\n':
		case '=':
			// Padding may only trail; anything after it is an error below.
			for j := i; j < len(s); j++ {
				if s[j] != '=' && s[j] != '\r' && s[j] != '\n' {
					return nil, fmt.Errorf("illegal base64 data: %q after padding at offset %d", s[j], j)
				}
			}
			i = len(s)
		default:
			buf = append(buf, c)
		}
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(buf)))
	n, err := base64.RawStdEncoding.Decode(out, buf)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
