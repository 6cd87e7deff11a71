package pseudonymize

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/plowline/plowline/pipeline/event"
)

const propertyRuns = 300

func seeded(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

func mustNew(t testing.TB, key string) *Pseudonymizer {
	t.Helper()
	p, err := New(DefaultAllowlist(), []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkShape checks that out is a well-formed output line: a bad row stays
// valid JSON, an event keeps 131 fields with valid JSON in its JSON fields.
func checkShape(t *testing.T, in, out []byte) {
	t.Helper()
	if in[0] == '{' {
		if !json.Valid(out) {
			t.Fatalf("output is not valid JSON:\n%s", out)
		}
		return
	}
	if _, err := event.Parse(string(out)); err != nil {
		t.Fatalf("output is not an enriched event: %v\n%s", err, out)
	}
}

// TestPropertyNoClearValues: no value the generator put outside the
// allowlist — atomic fields, values nested in contexts and unstruct events,
// raw query strings, headers and bodies of bad rows — appears anywhere in
// the output, in raw or JSON-escaped form; allowlisted values do.
func TestPropertyNoClearValues(t *testing.T) {
	r := seeded(t)
	p := mustNew(t, "property-key-0123456789abcdef")
	markers := 0
	for run := 0; run < propertyRuns; run++ {
		g := generate(r)
		out, err := p.Transform(nil, g.line)
		if err != nil {
			t.Fatalf("run %d: %v\ninput: %s", run, err, g.line)
		}
		checkShape(t, g.line, out)
		if len(g.secrets) < 2 {
			t.Fatalf("run %d: generator produced only %d secrets", run, len(g.secrets))
		}
		markers += checkNoLeak(t, g, out)
		for _, k := range g.kept {
			found := false
			for _, form := range escapedForms(k) {
				found = found || bytes.Contains(out, []byte(form))
			}
			if !found {
				t.Fatalf("run %d: allowlisted value %q missing from output:\n%s", run, k, out)
			}
		}
	}
	t.Logf("%d generated inputs, %d planted markers, 0 leaks", propertyRuns, markers)
}

// checkNoLeak fails t if any of g's planted markers survives in out, raw,
// JSON-escaped or after decoding out's \u escapes; it returns how many
// markers it checked.
func checkNoLeak(t testing.TB, g generated, out []byte) int {
	t.Helper()
	decoded := decodeEscapes(out)
	n := 0
	for _, s := range g.secrets {
		if len(s) < 4 {
			continue
		}
		n++
		for _, form := range escapedForms(s) {
			if bytes.Contains(out, []byte(form)) || bytes.Contains(decoded, []byte(form)) {
				t.Fatalf("value %q survived in clear:\ninput:  %s\noutput: %s", s, g.line, out)
			}
		}
	}
	return n
}

// decodeEscapes replaces every JSON escape in b (\uXXXX, surrogate pairs,
// \" \\ \/ ...) by the character it stands for, wherever it is.
func decodeEscapes(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) && isHex4(b[i+2:i+6]) {
			j := i
			var units []uint16
			for j+6 <= len(b) && b[j] == '\\' && b[j+1] == 'u' && isHex4(b[j+2:j+6]) {
				units = append(units, uint16(hex4(b[j+2:j+6])))
				j += 6
			}
			out = append(out, string(utf16.Decode(units))...)
			i = j - 1
			continue
		}
		out = append(out, b[i+1])
		i++
	}
	return out
}

// TestPropertyDeterministic: same input and key → same output, across
// calls and across separately built pseudonymizers.
func TestPropertyDeterministic(t *testing.T) {
	r := seeded(t)
	p1, p2 := mustNew(t, "same-key"), mustNew(t, "same-key")
	for run := 0; run < propertyRuns; run++ {
		g := generate(r)
		a, err := p1.Transform(nil, g.line)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := p1.Transform(nil, g.line)
		c, _ := p2.Transform([]byte("prefix"), g.line)
		if !bytes.Equal(a, b) || !bytes.Equal(a, c[len("prefix"):]) || string(c[:6]) != "prefix" {
			t.Fatalf("run %d: outputs differ for the same input and key", run)
		}
	}
}

// TestPropertyKeyMatters: a different key changes every pseudonym (and so
// the output) but nothing that is kept.
func TestPropertyKeyMatters(t *testing.T) {
	r := seeded(t)
	p1, p2 := mustNew(t, "key-one"), mustNew(t, "key-two")
	for run := 0; run < propertyRuns; run++ {
		g := generate(r)
		a, _ := p1.Transform(nil, g.line)
		b, _ := p2.Transform(nil, g.line)
		if bytes.Equal(a, b) {
			t.Fatalf("run %d: two keys gave the same output", run)
		}
		for _, s := range g.secrets {
			if p1.Pseudonym(s) == p2.Pseudonym(s) {
				t.Fatalf("run %d: pseudonym of %q identical under two keys", run, s)
			}
		}
		// Same structure: stripping pseudonyms leaves identical lines.
		if stripHex(a) != stripHex(b) {
			t.Fatalf("run %d: outputs differ in more than pseudonyms:\n%s\n%s", run, a, b)
		}
	}
}

func stripHex(b []byte) string {
	var out strings.Builder
	// A pseudonym is 64 hex digits, or 16 where a bad-row schema's
	// maxLength cuts it.
	for i := 0; i < len(b); {
		if n := hexRun(b[i:]); n == 64 || n == 16 {
			out.WriteString("H")
			i += n
			continue
		}
		out.WriteByte(b[i])
		i++
	}
	return out.String()
}

func hexRun(b []byte) int {
	n := 0
	for n < len(b) && n < 64 && (b[n] >= '0' && b[n] <= '9' || b[n] >= 'a' && b[n] <= 'f') {
		n++
	}
	return n
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// TestLeakCheckCanFail guards the property test itself: under an allowlist
// that keeps whole GitLab contexts and raw request bodies, the same search
// must find the generator's values in the output.
func TestLeakCheckCanFail(t *testing.T) {
	a, err := ParseAllowlist([]byte(`
fields: [app_id, event_id, collector_tstamp]
schemas:
  iglu:com.gitlab/gitlab_standard/jsonschema/1-*-*: [$]
  iglu:com.snowplowanalytics.snowplow.badrows/tracker_protocol_violations/jsonschema/1-*-*: [payload]
  iglu:com.snowplowanalytics.snowplow.badrows/adapter_failures/jsonschema/1-*-*: [payload]
  iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-*-*: [payload]
  iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-*-*: [payload]
  iglu:com.snowplowanalytics.snowplow.badrows/collector_payload_format_violation/jsonschema/1-*-*: [payload]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := New(a, []byte("k"))
	r := seeded(t)
	for run := 0; run < 50; run++ {
		g := generate(r)
		out, err := p.Transform(nil, g.line)
		if err != nil {
			t.Fatal(err)
		}
		leaked := false
		for _, s := range g.secrets {
			for _, form := range escapedForms(s) {
				leaked = leaked || len(s) >= 4 && bytes.Contains(out, []byte(form))
			}
		}
		if !leaked {
			t.Fatalf("run %d: the leak search found nothing under a permissive allowlist:\n%s", run, out)
		}
	}
}
