package pseudonymize

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/plowline/plowline/pipeline/event"
)

// FuzzTransform: arbitrary input never panics; it is either an error (with
// dst restored) or a well-formed line of the same kind.
func FuzzTransform(f *testing.F) {
	f.Add(conformanceLine(f))
	f.Add(benchLine(f))
	f.Add([]byte(`{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/adapter_failures/jsonschema/1-0-0","data":{"payload":{"querystring":[{"name":"e","value":"pv"}],"body":"x"}}}`))
	f.Add([]byte(`{"data":[1,2,{"schema":"iglu:a/b/c/1-0-0"}],"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"}`))
	f.Add([]byte(`{"a":"\ud800\u00e9\\"}`))
	p := mustNew(f, "fuzz-key")
	f.Fuzz(func(t *testing.T, line []byte) {
		out, err := p.Transform([]byte("x"), line)
		if err != nil {
			if string(out) != "x" {
				t.Fatalf("dst not restored on error: %q", out)
			}
			return
		}
		out = out[1:]
		in := bytes.TrimRight(line, "\r\n")
		if len(in) > 0 && in[0] == '{' {
			if !json.Valid(out) {
				t.Fatalf("output is not JSON: %q", out)
			}
			return
		}
		if bytes.Count(out, []byte{'\t'}) != event.NumFields-1 {
			t.Fatalf("output has %d tabs", bytes.Count(out, []byte{'\t'}))
		}
		for _, fl := range []event.Field{event.Contexts, event.DerivedContexts, event.UnstructEvent} {
			if v, _ := event.FieldOfBytes(out, fl); len(v) > 0 && !json.Valid(v) {
				t.Fatalf("%s is not JSON: %q", fl, v)
			}
		}
	})
}

// FuzzParseAllowlist: arbitrary YAML never panics, and an accepted
// allowlist can drive a transform.
func FuzzParseAllowlist(f *testing.F) {
	f.Add(DefaultAllowlistYAML())
	f.Add([]byte("fields: [app_id]\nschemas:\n  iglu:a/b/jsonschema/1-*-*: [$.x[*].y, '$', 'z[*][*]']\n"))
	line := conformanceLine(f)
	f.Fuzz(func(t *testing.T, y []byte) {
		a, err := ParseAllowlist(y)
		if err != nil {
			return
		}
		p, err := New(a, []byte("k"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Transform(nil, line); err != nil {
			t.Fatalf("transform under a valid allowlist: %v", err)
		}
	})
}
