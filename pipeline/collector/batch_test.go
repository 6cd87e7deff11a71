package collector

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// jsonBatch is the reference: what encoding/json (and so enrich's JSON
// parser, for valid input) sees as the "data" array of an object.
func jsonBatch(body []byte) ([]json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, false
	}
	raw, ok := obj["data"]
	if !ok {
		return nil, false
	}
	var events []json.RawMessage
	if err := json.Unmarshal(raw, &events); err != nil || events == nil {
		return nil, false
	}
	return events, true
}

var batchSeeds = []string{
	`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web"},{"e":"se","se_ca":"c\"a\\t"}]}`,
	` { "data" : [ 1 , "x" , null , true , false , [ ] , { } , -0.5e+10 ] , "schema" : "s" } `,
	`{"data":[]}`,
	`{"data":null}`,
	`{"data":"x"}`,
	`{"schema":"s"}`,
	`{"data":[1],"data":[1,2]}`,
	`{"data":[1,2],"data":3}`,
	`{"d\u0061ta":[1,2,3]}`,
	`{"DATA":[1]}`,
	`{"data":[01]}`,
	`{"data":[1.]}`,
	`{"data":[tru]}`,
	`{"data":["\x"]}`,
	`{"data":["\u12"]}`,
	"{\"data\":[\"\x01\"]}",
	"{\"data\":[\"\xff\xfe\"]}",
	`{"data":[1]} x`,
	`{"data":[1],}`,
	`[{"data":[1]}]`,
	`{"data":[{"a":[{"b":{}}]}]}`,
	``,
	`{`,
	`{"data":[1,]}`,
	strings.Repeat("[", 20000),
}

func TestParseBatchAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range batchSeeds {
		checkBatch(t, []byte(s))
	}
	deep := []byte(`{"data":[` + strings.Repeat("[", 10500) + strings.Repeat("]", 10500) + `]}`)
	if _, ok := countBatch(deep); ok {
		t.Error("accepted nesting deeper than encoding/json does")
	}
}

// parseBatch is countBatch with the events it reported, as sub-slices of
// body.
func parseBatch(body []byte) (batch, [][]byte, bool) {
	b, spans, ok := spanBatch(body)
	events := make([][]byte, len(spans))
	for i, sp := range spans {
		events[i] = body[sp[0]:sp[1]]
	}
	return b, events, ok
}

// spanBatch is countBatch with the spans eachEvent reports.
func spanBatch(body []byte) (batch, [][2]int, bool) {
	var spans [][2]int
	b, ok := countBatch(body)
	if ok {
		b.eachEvent(body, func(start, end int) { spans = append(spans, [2]int{start, end}) })
	}
	return b, spans, ok
}

func checkBatch(t *testing.T, body []byte) {
	t.Helper()
	got, gotEvents, ok := parseBatch(body)
	want, wantOK := jsonBatch(body)
	if ok != wantOK {
		t.Fatalf("%q: parseBatch ok=%v, encoding/json ok=%v", body, ok, wantOK)
	}
	if !ok {
		return
	}
	if c, cok := countBatch(body); cok != ok || c.count != len(want) {
		t.Fatalf("%q: countBatch = %d, %v; want %d", body, c.count, cok, len(want))
	}
	if len(gotEvents) != len(want) || got.count != len(want) {
		t.Fatalf("%q: %d events, encoding/json found %d", body, len(gotEvents), len(want))
	}
	for i := range want {
		if !bytes.Equal(gotEvents[i], want[i]) {
			t.Fatalf("%q: event %d = %q, want %q", body, i, gotEvents[i], want[i])
		}
	}
}

func FuzzParseBatch(f *testing.F) {
	for _, s := range batchSeeds[:len(batchSeeds)-1] {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkBatch(t, body)
		b, spans, ok := spanBatch(body)
		if !ok || len(b.schema) == 0 || b.schema[0] != '"' || len(spans) == 0 {
			return
		}
		// A rebuilt run of a batch's events (separators included, as
		// toRecords cuts them) is itself a batch with those events.
		from := len(spans) / 3
		part := b.bodyFor(body[spans[from][0]:spans[len(spans)-1][1]])
		again, againEvents, ok := parseBatch(part)
		want := len(spans) - from
		if !ok || again.count != want || len(againEvents) != want {
			t.Fatalf("rebuilt body %q does not parse back", part)
		}
	})
}

func BenchmarkParseBatch(b *testing.B) {
	ev := `{"e":"se","p":"srv","tv":"rb-0.8.0","eid":"5c4e3b2a-1a2b-4c3d-8e9f-0a1b2c3d4e5f","dtm":"1700000000123","se_ca":"projects","se_ac":"click_button","cx":"eyJzY2hlbWEiOiJpZ2x1OmNvbS5zbm93cGxvd2FuYWx5dGljcy5zbm93cGxvdy9jb250ZXh0cy9qc29uc2NoZW1hLzEtMC0xIiwiZGF0YSI6W119"}`
	body := []byte(`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[` + strings.Repeat(ev+",", 9) + ev + `]}`)
	b.SetBytes(int64(len(body)))
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if b, ok := countBatch(body); ok {
				b.eachEvent(body, func(int, int) {})
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v struct {
				Data []json.RawMessage `json:"data"`
			}
			json.Unmarshal(body, &v)
		}
	})
}
