package tp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/enrich/iglu"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var resolver = iglu.NewResolver(nil, iglu.Options{})

func TestParseQuery(t *testing.T) {
	got, err := ParseQuery("e=pv&&url=https%3A%2F%2Fa.b%2F%3Fx%3D1&page=A+b%20c&=skip&flag&e=se")
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{"e", "pv"}, {"url", "https://a.b/?x=1"}, {"page", "A b c"}, {"flag", ""}, {"e", "se"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	ev := Event{Params: got}
	if v, _ := ev.Get("e"); v != "se" {
		t.Errorf("Get: last value should win, got %q", v)
	}
	if _, err := ParseQuery("a=%zz"); err == nil {
		t.Error("bad escape accepted")
	}
}

func TestDecodeBase64BothAlphabets(t *testing.T) {
	in := []byte("{\"a\":\"ü?>~~~\xff\xfe\"}")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		s := enc.EncodeToString(in)
		for _, variant := range []string{s, strings.ReplaceAll(s, "+", " "), s[:len(s)/2] + "\n" + s[len(s)/2:]} {
			got, err := DecodeBase64(variant)
			if err != nil || !bytes.Equal(got, in) {
				t.Errorf("%q: %q %v", variant, got, err)
			}
		}
	}
	for _, bad := range []string{"a", "ab=c", "!!!!", "YWJj=x"} {
		if _, err := DecodeBase64(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzDecodeBase64(f *testing.F) {
	for _, s := range []string{"", "YQ", "YQ==", "-_-_", "+/+/", "a b=", "YWJj\nZA=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBase64(s)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes in every alphabet.
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			back, err := DecodeBase64(enc.EncodeToString(b))
			if err != nil || !bytes.Equal(back, b) {
				t.Fatalf("%q: round trip through %v failed: %v", s, enc, err)
			}
		}
	})
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"e=pv&url=a%20b", "a=%zz", "&&=&", "x=1+2&y=%E2%82%AC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		ps, err := ParseQuery(q)
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.Name == "" {
				t.Fatalf("%q: empty name kept", q)
			}
		}
	})
}

func tp2(body string) *payload.CollectorPayload {
	return &payload.CollectorPayload{Path: "/com.snowplowanalytics.snowplow/tp2", Body: body, ContentType: "application/json"}
}

// TestShapeFastPathAgreesWithValidator checks, for every embedded
// payload_data version, that the fast shape check accepts exactly what the
// schema validator accepts.
func TestShapeFastPathAgreesWithValidator(t *testing.T) {
	items := []string{
		`{"e":"pv","p":"web","tv":"t"}`, `{"e":"pv","p":"web"}`, `{"e":"pv","p":"web","tv":"t","zz":"x"}`,
		`{"e":"pv","p":"web","tv":1}`, `{"e":"pv","p":"web","tv":"t","cx":"abc","ttm":"1","sid":"s"}`,
		`{"e":"pv","p":"web","tv":"t","ue_px":null}`, `{"e":"pv","p":"web","tv":"t","stm":"1","tnuid":"x"}`,
	}
	for add := 0; add <= 4; add++ {
		key := iglu.SchemaKey{Vendor: Vendor, Name: "payload_data", Format: "jsonschema", Model: 1, Addition: add}
		shape, ok := payloadDataShape(key)
		if !ok {
			t.Errorf("no fast shape for %s", key)
			continue
		}
		for _, it := range items {
			inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(it))
			slow := resolver.Validate(context.Background(), key, []any{inst}) == nil
			fast := shape.accepts(inst.(map[string]any))
			if slow != fast {
				t.Errorf("%s %s: validator %v, fast path %v", key, it, slow, fast)
			}
		}
	}
}

func TestParseBatchKeepsGoodNeighbours(t *testing.T) {
	body := `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[` +
		`{"e":"pv","p":"web","tv":"t","eid":"1"},{"e":"pv","p":"web"},{"e":"se","p":"web","tv":"t"}]}`
	cp := tp2(body)
	cp.Querystring = "aid=fromqs&e=ignored"
	evs, fails := Parse(context.Background(), resolver, cp)
	if len(evs) != 2 || len(fails) != 1 {
		t.Fatalf("events %d failures %d", len(evs), len(fails))
	}
	if v, _ := evs[0].Get("aid"); v != "fromqs" {
		t.Errorf("query-string parameter not merged: %v", evs[0].Params)
	}
	if v, _ := evs[1].Get("e"); v != "se" {
		t.Errorf("event's own parameter must override the query string's: %v", evs[1].Params)
	}
	var env struct {
		Data []map[string]string
	}
	if err := json.Unmarshal([]byte(fails[0].Body), &env); err != nil || len(env.Data) != 1 || env.Data[0]["e"] != "pv" || env.Data[0]["tv"] != "" {
		t.Errorf("failure body: %s", fails[0].Body)
	}
	names := make([]string, 0)
	for _, p := range evs[0].Params[2:] {
		names = append(names, p.Name)
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("event parameters not in a deterministic order: %v", names)
	}
}

func TestRoutes(t *testing.T) {
	for path, want := range map[string]string{"/i": TP1, "/ice.png": TP1, "/com.snowplowanalytics.snowplow/tp2": TP2,
		"/-/collect_events": TP1, "/com.snowplowanalytics.snowplow/tp1": TP1} {
		evs, fails := Parse(context.Background(), resolver, &payload.CollectorPayload{Path: path, Querystring: "e=pv"})
		if len(fails) != 0 || len(evs) != 1 || evs[0].Version != want {
			t.Errorf("%s: %v %v", path, evs, fails)
		}
	}
	_, fails := Parse(context.Background(), resolver, &payload.CollectorPayload{Path: "/com.mailchimp/v1", Querystring: "type=subscribe"})
	if len(fails) != 1 || fails[0].Kind != AdapterFailure || fails[0].Vendor != "com.mailchimp" || fails[0].Version != "v1" {
		t.Errorf("webhook vendor: %+v", fails)
	}
	// A custom path with a body is a tp2 POST (GitLab's /-/collect_events).
	evs, fails := Parse(context.Background(), resolver, &payload.CollectorPayload{Path: "/-/collect_events", ContentType: "application/json",
		Body: `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t"}]}`})
	if len(fails) != 0 || len(evs) != 1 || evs[0].Version != TP2 {
		t.Errorf("custom POST path: %v %v", evs, fails)
	}
}

// FuzzParse feeds arbitrary bodies and query strings: no panic, and every
// event or failure is accounted for.
func FuzzParse(f *testing.F) {
	f.Add("", `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t"},{"e":1}]}`)
	f.Add("e=pv&cx=abc", "")
	f.Add("a=%zz", `{"schema":"iglu:x/y/jsonschema/1-0-0","data":{}}`)
	f.Add("", `[1,2]`)
	f.Fuzz(func(t *testing.T, q, body string) {
		cp := tp2(body)
		cp.Querystring = q
		evs, fails := Parse(context.Background(), resolver, cp)
		if len(evs) == 0 && len(fails) == 0 {
			t.Fatalf("q=%q body=%q: neither events nor failures", q, body)
		}
		for _, fl := range fails {
			if len(fl.Messages) == 0 {
				t.Fatalf("failure without a message: %+v", fl)
			}
			if _, err := json.Marshal(fl.Messages); err != nil {
				t.Fatalf("failure messages do not marshal: %v", err)
			}
		}
	})
}

// FuzzFastBodyMatchesGeneric checks the fast tp2 reader against the
// generic decoder and validator: same events, same parameters.
func FuzzFastBodyMatchesGeneric(f *testing.F) {
	f.Add(`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t","url":"http:\/\/a\u00e9"},{"tv":"x","e":"se","p":"srv"}]}`)
	f.Add(` { "data" : [ {"e":"pv","p":"web","tv":"t"} ] , "schema" : "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-0" } `)
	f.Add(`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t","e":"se"}]}`)
	f.Add(`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t","zz":"1"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		cp := tp2(body)
		whole := func(k Kind, version string, msgs ...badrow.Message) []Failure {
			return []Failure{{Kind: k, Version: version, Messages: msgs}}
		}
		fastEvs, fastFails := Parse(context.Background(), resolver, cp)
		genEvs, genFails := parseBodyGeneric(context.Background(), resolver, cp, nil, whole)
		if len(fastFails) != len(genFails) || len(fastEvs) != len(genEvs) {
			t.Fatalf("%q: fast %d events %d failures, generic %d events %d failures", body, len(fastEvs), len(fastFails), len(genEvs), len(genFails))
		}
		for i := range fastEvs {
			if !reflect.DeepEqual(fastEvs[i].Params, genEvs[i].Params) {
				t.Fatalf("%q: event %d: fast %v generic %v", body, i, fastEvs[i].Params, genEvs[i].Params)
			}
		}
	})
}

// FuzzQueryValue checks QueryValue against url.ParseQuery(...).Get for
// well-formed query strings.
func FuzzQueryValue(f *testing.F) {
	f.Add("utm_source=a&utm_source=b&x=%20y", "utm_source")
	f.Add("a%5Fb=1&a_b=2", "a_b")
	f.Add("q=a+b&q", "q")
	f.Fuzz(func(t *testing.T, q, name string) {
		vals, err := url.ParseQuery(q)
		if err != nil || strings.Contains(q, ";") {
			return // url.ParseQuery drops whole malformed pairs; QueryValue skips them too, not compared
		}
		if got, want := QueryValue(q, name), vals.Get(name); got != want {
			t.Fatalf("QueryValue(%q, %q) = %q, url.Values.Get = %q", q, name, got, want)
		}
	})
}

// TestPostWithoutJSONContentTypeIsAViolation: as in Snowplow's enrich, a
// body is read as a tp2 batch only when the request says it is JSON; a
// POST without a content type is one tracker_protocol_violations row.
func TestPostWithoutJSONContentTypeIsAViolation(t *testing.T) {
	body := `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t"}]}`
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
		evs, fails := Parse(context.Background(), resolver, &payload.CollectorPayload{Path: "/com.snowplowanalytics.snowplow/tp2", ContentType: ct, Body: body})
		if len(evs) != 0 || len(fails) != 1 || fails[0].Kind != TrackerProtocolViolation || fails[0].Body != body {
			t.Errorf("content type %q: %d events, %+v; want one violation carrying the body", ct, len(evs), fails)
			continue
		}
		if msg, _ := json.Marshal(fails[0].Messages); !strings.Contains(string(msg), "contentType") {
			t.Errorf("content type %q: message %s does not name contentType", ct, msg)
		}
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		if evs, fails := Parse(context.Background(), resolver, &payload.CollectorPayload{Path: "/com.snowplowanalytics.snowplow/tp2", ContentType: ct, Body: body}); len(evs) != 1 || len(fails) != 0 {
			t.Errorf("content type %q: %d events, %v", ct, len(evs), fails)
		}
	}
}

// TestBatchCapKeepsTheFirstEventsAndReportsTheRest: a batch past
// MaxEventsPerPayload yields the first MaxEventsPerPayload events (both on
// the fast path and on the generic one, which a bad event forces) and one
// size_violation whose body starts with the first event past the cap.
func TestBatchCapKeepsTheFirstEventsAndReportsTheRest(t *testing.T) {
	const n = MaxEventsPerPayload + 1234
	for _, generic := range []bool{false, true} {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"e":"pv","p":"web","tv":"t","eid":"%d"}`, i)
		}
		if generic {
			items[1] = `{"e":42}` // not a string: the generic path
		}
		body := `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[` + strings.Join(items, ",") + `]}`
		evs, fails := Parse(context.Background(), resolver, &payload.CollectorPayload{Path: "/com.snowplowanalytics.snowplow/tp2", ContentType: "application/json", Body: body})
		wantEvents := MaxEventsPerPayload
		if generic {
			wantEvents-- // items[1] is a violation of its own
		}
		if len(evs) != wantEvents {
			t.Errorf("generic=%v: %d events, want %d", generic, len(evs), wantEvents)
		}
		var sv []Failure
		for _, f := range fails {
			if f.Kind == SizeViolation {
				sv = append(sv, f)
			}
		}
		if len(sv) != 1 {
			t.Fatalf("generic=%v: %d size violations, want 1", generic, len(sv))
		}
		first := fmt.Sprintf(`"eid":"%d"`, MaxEventsPerPayload)
		if !strings.Contains(sv[0].Body, first) || strings.Contains(sv[0].Body, fmt.Sprintf(`"eid":"%d"`, MaxEventsPerPayload-1)) {
			t.Errorf("generic=%v: size violation body does not start at event %d: %.200s", generic, MaxEventsPerPayload, sv[0].Body)
		}
		if !json.Valid([]byte(sv[0].Body)) || len(sv[0].Body) > maxRestBytes+200 {
			t.Errorf("generic=%v: body of %d bytes, valid JSON %v", generic, len(sv[0].Body), json.Valid([]byte(sv[0].Body)))
		}
		if !strings.Contains(sv[0].Expectation, fmt.Sprint(n)) {
			t.Errorf("expectation %q does not say how many events there were", sv[0].Expectation)
		}
		if last, _ := evs[len(evs)-1].Get("eid"); last != fmt.Sprint(MaxEventsPerPayload-1) {
			t.Errorf("generic=%v: last event kept is %s", generic, last)
		}
	}
}

// TestBatchCapBoundsDecodingMemory: a ~1 MB body that would expand the
// most when decoded into a tree is decoded only up to the cap: what Parse
// allocates stays within a small multiple of the body, where decoding every
// item took hundreds of MB (issue 12). "{}" items take the fast path's cut;
// {"e":1} items (a number: the generic path) are split without decoding
// once the tree passes jsondec.MaxValues; a body that is not a batch at all
// becomes one size_violation.
func TestBatchCapBoundsDecodingMemory(t *testing.T) {
	envelope := func(item string, n int) string {
		items := strings.Repeat(item+",", n)
		return `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[` + items[:len(items)-1] + `]}`
	}
	for _, tc := range []struct {
		name      string
		body      string
		wantItems int // events + failures before the size violation
	}{
		{"empty items", envelope(`{}`, 340_000), MaxEventsPerPayload},
		{"number items", envelope(`{"e":1}`, 130_000), MaxEventsPerPayload},
		{"invalid items", envelope(`{"e":"pv"}`, 95_000), MaxEventsPerPayload},
		{"not a batch", `[` + strings.Repeat(`{},`, 340_000) + `{}]`, 0},
		{"extra envelope key", `{"x":0,` + envelope(`{"e":1}`, 130_000)[1:], 0},
	} {
		cp := &payload.CollectorPayload{Path: "/com.snowplowanalytics.snowplow/tp2", ContentType: "application/json", Body: tc.body}
		var evs []Event
		var fails []Failure
		allocs := testing.AllocsPerRun(1, func() { evs, fails = Parse(context.Background(), resolver, cp) })
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		Parse(context.Background(), resolver, cp)
		runtime.ReadMemStats(&ms1)
		allocated := ms1.TotalAlloc - ms0.TotalAlloc
		var sv []Failure
		for _, f := range fails {
			if f.Kind == SizeViolation {
				sv = append(sv, f)
			}
		}
		if len(evs)+len(fails)-len(sv) != tc.wantItems || len(sv) != 1 {
			t.Errorf("%s: %d events + %d failures of which %d size violations, want %d items and one size_violation",
				tc.name, len(evs), len(fails), len(sv), tc.wantItems)
		}
		for _, f := range sv {
			if len(f.Body) > maxRestBytes+200 || f.Expectation == "" {
				t.Errorf("%s: size violation keeps %d bytes, expectation %q", tc.name, len(f.Body), f.Expectation)
			}
		}
		if allocated > 20*uint64(len(tc.body)) {
			t.Errorf("%s: Parse of a %d-byte body allocated %d bytes (%d allocations); want at most 20× the body", tc.name, len(tc.body), allocated, int(allocs))
		}
		t.Logf("%s: body %d bytes: %d bytes allocated, %.0f allocations", tc.name, len(tc.body), allocated, allocs)
	}
}
