package enrich

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/enrich/jsondec"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
)

var fuzzEnricher = func() *Enricher {
	cfg := DefaultConfig()
	cfg.Enrichments.AnonIP.Enabled = true
	e, err := New(cfg, nil, nil)
	if err != nil {
		panic(err)
	}
	return e
}()

// FuzzEnrich feeds arbitrary records — and arbitrary query strings and
// bodies inside well-formed payloads — to Enrich: it must not panic, must
// produce at least one output, every good line must parse as an enriched
// event with its SDK JSON, and every bad row must be a known type.
func FuzzEnrich(f *testing.F) {
	f.Add([]byte("garbage"), "e=pv&p=web&tv=t&url=http%3A%2F%2Fa.b%2F", "")
	f.Add([]byte{}, "e=ue&ue_px="+base64.RawURLEncoding.EncodeToString([]byte(`{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1","data":{"targetUrl":"x"}}}`)), "")
	f.Add([]byte{}, "", `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t","co":"{\"schema\":\"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0\",\"data\":[]}","res":"1x2","refr":"https://www.google.de/search?q=a"},{"e":"se"}]}`)
	f.Add([]byte{}, "e=pv&page=a%09b%00&dtm=99999999999999999&url=http://[::1", "")
	// Repeated keys (issue 11): must end as bad rows, never in a good event.
	f.Add([]byte{}, "e=pv&co="+url.QueryEscape(`{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0","data":{"e":"x@example.com"},"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"1f3a44c2-5d7e-4c1b-9a34-6b0e7d2f8a11"}}]}`), "")
	f.Add([]byte{}, "", `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t","uid":"a","u\u0069d":"b"}]}`)
	f.Fuzz(func(t *testing.T, raw []byte, q, body string) {
		rec := raw
		if len(raw) == 0 {
			p := &payload.CollectorPayload{IPAddress: "192.0.2.1", Timestamp: 1764151200000, Encoding: "UTF-8", Collector: "c",
				Path: "/i", Querystring: q, Body: body, UserAgent: q, RefererURI: body, Headers: []string{"X-Forwarded-For: " + q}}
			if body != "" {
				p.Path, p.ContentType = "/com.snowplowanalytics.snowplow/tp2", "application/json"
			}
			rec, _ = p.Marshal()
		}
		out := fuzzEnricher.Enrich(context.Background(), rec)
		if len(out.Good)+len(out.Bad) == 0 {
			t.Fatal("no output at all: the input was dropped")
		}
		for _, l := range out.Good {
			ev, err := event.ParseBytes(l)
			if err != nil {
				t.Fatalf("good line does not parse: %v\n%q", err, l)
			}
			if _, err := ev.JSON(); err != nil {
				t.Fatalf("good event has no SDK JSON: %v", err)
			}
			for _, f := range []event.Field{event.Contexts, event.UnstructEvent} {
				if v := ev[f]; v != "" {
					if _, err := jsondec.Decode([]byte(v)); err != nil {
						t.Fatalf("good event's %s is not JSON without repeated keys: %v\n%s", f.Name(), err, v)
					}
				}
			}
		}
		for i, l := range out.Bad {
			b, err := badrow.Parse(l)
			if err != nil || !json.Valid(l) {
				t.Fatalf("bad row invalid: %v\n%s", err, l)
			}
			if badrow.TypeOf(b.Schema) != out.BadTypes[i] {
				t.Fatalf("bad type %s vs %s", badrow.TypeOf(b.Schema), out.BadTypes[i])
			}
		}
	})
}
