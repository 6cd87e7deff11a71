package tp

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzSplitBatch: whenever splitBatch accepts a body, encoding/json reads
// the same envelope from it: the same schema, the same number of items,
// the same first items byte for byte, and rest items that follow them in
// order; a body encoding/json refuses is never accepted.
func FuzzSplitBatch(f *testing.F) {
	for _, s := range []string{
		`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":1},{"e":"pv"}, {} ,[1,2],"x",null]}`,
		`{"data":[],"schema":"s"}`,
		`{"schema":"s","data":[1],"data":[2]}`,
		`{"schema":"s","data":[1],"x":0}`,
		`{"sch\u0065ma":"s","data":[{"a":"\u0041"}]} `,
		`{"schema":"s","data":[1]} x`,
		`[{},{}]`,
		`{"schema":"s","data":[` + strings.Repeat(`{"e":1},`, MaxEventsPerPayload+5) + `{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		schema, first, total, rest, ok := splitBatch(body)
		var env struct {
			Schema *string           `json:"schema"`
			Data   []json.RawMessage `json:"data"`
		}
		jerr := json.Unmarshal(body, &env)
		if !ok {
			return
		}
		if jerr != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, jerr)
		}
		if env.Schema == nil || *env.Schema != schema {
			t.Fatalf("%q: schema %q, encoding/json read %v", body, schema, env.Schema)
		}
		if total != len(env.Data) || len(first) != min(total, MaxEventsPerPayload) {
			t.Fatalf("%q: %d items (%d first), encoding/json read %d", body, total, len(first), len(env.Data))
		}
		for i, raw := range first {
			if !bytes.Equal(raw, env.Data[i]) {
				t.Fatalf("%q: item %d = %q, encoding/json read %q", body, i, raw, env.Data[i])
			}
		}
		for i, raw := range rest {
			if !bytes.Equal(raw, env.Data[MaxEventsPerPayload+i]) {
				t.Fatalf("%q: rest item %d = %q, encoding/json read %q", body, i, raw, env.Data[MaxEventsPerPayload+i])
			}
		}
	})
}
