package event

import (
	"encoding/json"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add(conformanceLine(f))
	f.Add(strings.Repeat("\t", NumFields-1))
	f.Add("a\tb\tc")
	e, _ := Parse(conformanceLine(f))
	e[Contexts] = `{"schema":"iglu:a/b/jsonschema/1-0-0","data":[{"schema":"iglu:c/d/jsonschema/1-0-0","data":1}]}`
	e[TxnID] = "-0"
	f.Add(e.TSV())
	f.Fuzz(func(t *testing.T, line string) {
		e, err := Parse(line)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if got := e.TSV(); got != line {
			t.Fatalf("round trip:\n got %q\nwant %q", got, line)
		}
		for fl := Field(0); fl < NumFields; fl++ {
			if v, ok := FieldOf(line, fl); !ok || v != e[fl] {
				t.Fatalf("FieldOf(%s) = %q, want %q", fl, v, e[fl])
			}
		}
		out, err := e.JSON()
		if err == nil && !json.Valid(out) {
			t.Fatalf("JSON produced invalid JSON: %s", out)
		}
	})
}

func FuzzJSON(f *testing.F) {
	f.Add("iglu:org.w3/PerformanceTiming/jsonschema/1-0-0", `{"a":1}`, "1.5", "1")
	f.Add("iglu:a/b/c/1-0-0", `[1,"\u0000"]`, "1e400", "x")
	f.Fuzz(func(t *testing.T, schema, data, num, text string) {
		var e Event
		e[Contexts] = `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":` + string(AppendJSONString(nil, schema)) + `,"data":` + data + `}]}`
		e[UnstructEvent] = `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":` + string(AppendJSONString(nil, schema)) + `,"data":` + data + `}}`
		e[GeoLatitude] = num
		e[BrCookies] = text
		e[PageTitle] = text
		e[TxnID] = num
		out, err := e.AppendJSON(nil, JSONOptions{Geo: true})
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
	})
}
