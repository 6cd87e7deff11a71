package pseudonymize

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
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

// FuzzPrivacy: the property test's generator driven by the fuzzer (its
// seed chooses the event or bad row and the planted markers; extra is
// planted too, as a key and a value of an unknown entity): no marker
// survives in clear.
func FuzzPrivacy(f *testing.F) {
	for i := uint64(0); i < 8; i++ {
		f.Add(i, "x@example.com")
	}
	f.Add(uint64(42), `S20-wendy\u0040example.com`)
	p := mustNew(f, "privacy-fuzz-key")
	f.Fuzz(func(t *testing.T, seed uint64, extra string) {
		g := generate(rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)))
		if ev, err := event.ParseBytes(g.line); err == nil && len(extra) >= 4 && bytes.ContainsAny([]byte(extra), "ghijklmnopqrstuvwxyz@") && json.Valid([]byte(`"`+extra+`"`)) {
			ctx := ev[event.Contexts]
			var plain string
			json.Unmarshal([]byte(`"`+extra+`"`), &plain)
			// A marker must not be something the line holds anyway
			// ("data", "production"): only the planted copy counts.
			i := strings.LastIndex(ctx, "]}")
			if i > 0 && i == len(ctx)-2 && !bytes.Contains(g.line, []byte(extra)) && len(plain) >= 4 && !bytes.Contains(g.line, []byte(plain)) {
				ev[event.Contexts] = ctx[:i] + `,{"schema":"iglu:com.acme/x/jsonschema/1-0-0","data":{"` + extra + `":"` + extra + `"}}]}`
				g.secrets = append(g.secrets, extra, plain)
				g.line = ev.AppendTSV(nil)
			}
		}
		out, err := p.Transform(nil, g.line)
		if err != nil {
			t.Fatalf("%v\n%s", err, g.line)
		}
		checkNoLeak(t, g, out)
	})
}
