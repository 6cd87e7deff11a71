package pseudonymize

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/testkit"
)

// marker plants a recognisable string that holds characters a hex
// pseudonym cannot: it must never come out in clear.
func marker(i int) string { return "wendy" + strings.Repeat("q", i%5) + "x" + string(rune('g'+i%20)) }

// TestEveryBadRowTypeAfterPseudonymization drives the real enricher with
// hostile requests that plant markers in every tracker-controlled string
// a bad row carries (path segments, content-type parameters, parameter
// names and values, made-up schema URIs, JSON keys, repeated keys, values
// quoted in error messages), adds the two types other stages write
// (size_violation, generic_error), pseudonymizes each bad row with the
// default allowlist, and checks that every type is produced, still
// validates against Iglu Central, and holds no marker in clear.
func TestEveryBadRowTypeAfterPseudonymization(t *testing.T) {
	cfg := enrich.DefaultConfig()
	cfg.Version = "1.2.3"
	cfg.Registries = []enrich.RegistryConfig{{URI: filepath.Join(testkit.SharedDir(t), "iglu-central")}}
	e, err := enrich.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var markers []string
	m := func() string { n++; s := marker(n) + "@example.com"; markers = append(markers, s); return s }
	mi := func() string { n++; s := marker(n) + "_id"; markers = append(markers, s); return s } // Iglu-name safe
	ctx := context.Background()
	var rows [][]byte
	rec := func(p *payload.CollectorPayload) {
		t.Helper()
		if p.Timestamp == 0 {
			p.IPAddress, p.Timestamp, p.Encoding, p.Collector = "192.0.2.7", 1764151200123, "UTF-8", "plowline-0.1.0"
			p.UserAgent, p.Hostname = "Mozilla/5.0 (X11; Linux x86_64; "+m()+")", "collector.example.com"
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out := e.Enrich(ctx, b)
		rows = append(rows, out.Bad...)
	}
	tp2 := func(body string, contentType string) {
		rec(&payload.CollectorPayload{Path: "/com.snowplowanalytics.snowplow/tp2", ContentType: contentType, Body: body,
			Headers: []string{"Cookie: sid=" + m()}, HasHeaders: true})
	}
	qs := func(q string) { rec(&payload.CollectorPayload{Path: "/i", Querystring: q}) }
	ev := func(kv ...string) string {
		mm := map[string]string{"e": "pv", "p": "web", "tv": "js-4.10.1"}
		for i := 0; i+1 < len(kv); i += 2 {
			mm[kv[i]] = kv[i+1]
		}
		b, _ := json.Marshal(map[string]any{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": []any{mm}})
		return string(b)
	}
	wrap := func(items ...string) string {
		return `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[` + strings.Join(items, ",") + `]}`
	}
	// adapter_failures: a made-up vendor and version in the path.
	rec(&payload.CollectorPayload{Path: "/com." + mi() + "/v" + mi(), Querystring: "e=pv&" + mi() + "=" + url.QueryEscape(m())})
	// tracker_protocol_violations: content-type parameters, a malformed
	// query string quoting input, a made-up payload_data schema, a body
	// with repeated keys.
	tp2(ev(), "text/plain; boundary="+m())
	qs("e=pv&uid=%zz" + mi())
	tp2(`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t","`+mi()+`":1}]}`, "application/json")
	tp2(`{"schema":"iglu:com.`+mi()+`/payload_data/jsonschema/1-0-4","data":[]}`, "application/json; charset=UTF-8")
	tp2(`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","uid":"a","uid":"`+m()+`"}]}`, "application/json")
	// schema_violations: an unresolvable made-up schema, invalid data
	// with planted keys, repeated keys (also escaped), not self-describing
	// JSON, a tracker-sent ua_parser_context.
	tp2(ev("co", wrap(`{"schema":"iglu:com.`+mi()+`/`+mi()+`/jsonschema/1-0-0","data":{"a":"`+m()+`"}}`)), "application/json")
	tp2(ev("co", wrap(`{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"`+m()+`","`+m()+`":[{"`+m()+`":"`+m()+`"}]}}`)), "application/json")
	tp2(ev("cx", base64.StdEncoding.EncodeToString([]byte(wrap(`{"schema":"iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0","data":{"deviceFamily":"`+m()+`"},"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"1f3a44c2-5d7e-4c1b-9a34-6b0e7d2f8a11"}}`)))), "application/json")
	tp2(ev("co", wrap(`{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"1f3a44c2-5d7e-4c1b-9a34-6b0e7d2f8a11","\u0069d":"`+m()+`"}}`)), "application/json")
	tp2(ev("e", "ue", "ue_pr", `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"`+m()+`":1}}`), "application/json")
	tp2(ev("e", "ue", "ue_pr", `{"nope":"`+m()+`"`), "application/json")
	// enrichment_failures: values quoted in expectations.
	tp2(ev("url", "http://"+m()+"/%zz", "eid", m(), "res", m()), "application/json")
	tp2(ev("e", "ue", "ue_px", "!!!"+m()+"!!!"), "application/json")
	// collector_payload_format_violation: not a collector payload.
	out := e.Enrich(ctx, []byte("\x0b\x00\x01garbage "+m()))
	rows = append(rows, out.Bad...)
	// The two types other stages write.
	p := badrow.Processor{Artifact: "plowline-collector", Version: "1.2.3"}
	rows = append(rows, badrow.NewSizeViolation(p, time.Unix(1764151200, 0), 1000, 5000, "a record under the stream's 1 MB limit", "GET /i?uid="+m()).Marshal(),
		badrow.NewGenericError(p, time.Unix(1764151200, 0), []string{"sink failed on " + m()}, m()).Marshal())
	// enrichment_failures (the enricher now reports invalid fields as
	// schema_violations): as an enrichment writes it, quoting input.
	url := m()
	rows = append(rows, badrow.NewEnrichmentFailures(badrow.Processor{Artifact: "plowline-enrich", Version: "1.2.3"}, time.Unix(1764151200, 0),
		[]badrow.EnrichmentFailure{{Message: badrow.InputData("url", &url, `an absolute URL: parse "`+m()+`": invalid`)}},
		badrow.RawEvent{Vendor: "com.snowplowanalytics.snowplow", Version: "tp2", Parameters: []badrow.NameValue{{Name: "url", Value: url}, {Name: mi(), Value: m()}},
			ContentType: "application/json; boundary=" + m(), LoaderName: "plowline-0.1.0", Encoding: "UTF-8", Timestamp: time.Unix(1764151200, 0), UserAgent: m()},
		map[string]any{"event_id": m(), "page_url": url, "page_urlport": 443, "geo_latitude": 52.1, "event_name": mi()}).Marshal())

	// The check can fail: every marker is in the enricher's bad rows.
	var all []byte
	for _, row := range rows {
		all = append(all, decodeEscapes(row)...)
	}
	for _, mk := range markers {
		if !bytes.Contains(all, []byte(mk[:strings.IndexAny(mk, "@_")])) {
			t.Errorf("marker %q is in no bad row: the request did not plant it", mk)
		}
	}
	ps := mustNew(t, "bad-row-key-0123456789abcdef0123")
	types := map[string]int{}
	for _, row := range rows {
		testkit.ValidateBadRow(t, row) // the enricher's own output is valid
		got, err := ps.Transform(nil, row)
		if err != nil {
			t.Fatalf("%v\n%s", err, row)
		}
		b := testkit.ValidateBadRow(t, got)
		types[badrow.TypeOf(b.Schema)]++
		dec := decodeEscapes(got)
		for _, mk := range markers {
			stem := mk[:strings.IndexAny(mk, "@_")]
			if bytes.Contains(got, []byte(stem)) || bytes.Contains(dec, []byte(stem)) {
				t.Errorf("marker %q survived:\nin:  %s\nout: %s", stem, row, got)
			}
		}
	}
	for _, want := range []string{"adapter_failures", "tracker_protocol_violations", "schema_violations", "enrichment_failures",
		"collector_payload_format_violation", "size_violation", "generic_error"} {
		if types[want] == 0 {
			t.Errorf("no %s produced (got %v)", want, types)
		}
	}
	t.Logf("%d bad rows (%v), %d markers, all valid after pseudonymization", len(rows), types, len(markers))
}

// TestAtomicFieldBadRows: every kind of atomic field the enricher parses
// (event type, platform, UUID, 32-bit integer, decimal, boolean, screen
// size, epoch milliseconds, base64 JSON) and the atomic maxLength check
// produce a schema_violations row against the atomic schema whose
// message quotes the tracker's value. After pseudonymization with the
// default allowlist no planted value survives, the row still validates
// against Iglu Central, and the machine-readable parts are kept: the
// atomic schema key, the keyword and the parameter or column the report
// names.
func TestAtomicFieldBadRows(t *testing.T) {
	cfg := enrich.DefaultConfig()
	cfg.Version = "1.2.3"
	cfg.Registries = []enrich.RegistryConfig{{URI: filepath.Join(testkit.SharedDir(t), "iglu-central")}}
	e, err := enrich.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := mustNew(t, "atomic-key-0123456789abcdef0123456")
	cases := []struct{ param, value, keyword string }{
		{"e", "zz", "atomic_field_parse_error"},
		{"p", "", "atomic_field_parse_error"},
		{"eid", "", "atomic_field_parse_error"},
		{"vid", "", "atomic_field_parse_error"},           // integer
		{"tr_tt", "", "atomic_field_parse_error"},         // decimal
		{"f_pdf", "", "atomic_field_parse_error"},         // boolean
		{"res", "x1080", "atomic_field_parse_error"},      // screen size
		{"dtm", "", "atomic_field_parse_error"},           // epoch ms
		{"ue_px", "!!", "atomic_field_parse_error"},       // base64 JSON
		{"se_la", "long", "atomic_field_length_exceeded"}, // over the atomic maxLength
	}
	for i, c := range cases {
		mk := marker(i) + "@example.com"
		value := c.value + mk
		kv := map[string]string{"e": "se", "p": "web", "tv": "js-4.10.1", "se_ca": "c", "se_ac": "a"}
		switch c.param {
		case "e":
			value = mk
		case "ue_px":
			kv["e"] = "ue"
		case "tr_tt":
			kv["e"], kv["tr_id"] = "tr", "o"
		case "se_la":
			value = mk + strings.Repeat("x", 5000)
		}
		kv[c.param] = value
		body, _ := json.Marshal(map[string]any{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": []any{kv}})
		rec, _ := (&payload.CollectorPayload{IPAddress: "192.0.2.7", Timestamp: 1764151200123, Encoding: "UTF-8", Collector: "plowline-0.1.0",
			Path: "/com.snowplowanalytics.snowplow/tp2", Body: string(body), ContentType: "application/json", Hostname: "c.example.com"}).Marshal()
		out := e.Enrich(context.Background(), rec)
		if len(out.Bad) != 1 {
			t.Errorf("%s=%.40q: %d good, %d bad rows; want one bad row", c.param, value, len(out.Good), len(out.Bad))
			continue
		}
		row := out.Bad[0]
		stem := mk[:strings.IndexByte(mk, '@')]
		if !bytes.Contains(decodeEscapes(row), []byte(stem)) {
			t.Errorf("%s: the enricher's bad row does not hold the value (the case plants nothing): %.400s", c.param, row)
		}
		got, err := ps.Transform(nil, row)
		if err != nil {
			t.Fatalf("%s: %v", c.param, err)
		}
		b := testkit.ValidateBadRow(t, got)
		if badrow.TypeOf(b.Schema) != "schema_violations" {
			t.Errorf("%s: a %s row, want schema_violations", c.param, b.Schema)
		}
		if bytes.Contains(got, []byte(stem)) || bytes.Contains(decodeEscapes(got), []byte(stem)) {
			t.Errorf("%s: value %q survived pseudonymization:\n%s", c.param, stem, got)
		}
		// The report on the atomic schema, with its path and keyword in clear.
		path := c.param
		if c.param == "se_la" {
			path = "se_label"
		}
		for _, want := range []string{`"schemaKey":"` + enrich.AtomicSchema + `"`, `"keyword":"` + c.keyword + `"`, `"path":"` + path + `"`} {
			if !bytes.Contains(got, []byte(want)) {
				t.Errorf("%s: %s not kept:\n%s", c.param, want, got)
			}
		}
	}
}
