package badrow

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// igluCentral is the shared copy of the public Iglu Central schemas.
var igluCentral = filepath.Join("..", "..", "..", "shared", "iglu-central", "schemas")

// validate checks a bad row's data against its schema in Iglu Central.
func validate(t *testing.T, b BadRow) {
	t.Helper()
	path := strings.TrimPrefix(b.Schema, "iglu:")
	file := filepath.Join(igluCentral, filepath.FromSlash(path))
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("schema for %s: %v", b.Schema, err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	// Iglu schemas name Snowplow's self-describing meta-schema, a draft-04
	// superset that the validator does not know: validate them as draft 4.
	if m, ok := doc.(map[string]any); ok {
		delete(m, "$schema")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	if err := c.AddResource("mem://"+path, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mem://" + path)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b.Data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Fatalf("%s does not validate: %v\n%s", b.Schema, err, b.Data)
	}
}

func TestBadRowsValidateAgainstIgluCentral(t *testing.T) {
	p := Processor{Artifact: "plowline-collector", Version: "0.1.0"}
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, b := range []BadRow{
		NewSizeViolation(p, at, 1000, 2000, strings.Repeat("é", 300), "abc"),
		NewGenericError(p, at, []string{"boom"}, "payload"),
	} {
		validate(t, b)
		back, err := Parse(b.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if back.Schema != b.Schema || !json.Valid(back.Data) {
			t.Fatalf("round trip lost data: %+v", back)
		}
	}
}

func TestTypeOf(t *testing.T) {
	for schema, want := range map[string]string{
		SchemaSchemaViolations:             "schema_violations",
		SchemaSizeViolation:                "size_violation",
		"iglu:com.acme/x/jsonschema/1-0-0": "unknown",
		"iglu:" + Vendor + "/":             "unknown",
	} {
		if got := TypeOf(schema); got != want {
			t.Errorf("TypeOf(%q) = %q, want %q", schema, got, want)
		}
	}
}

func TestParseRejectsForeignDocuments(t *testing.T) {
	for _, in := range []string{`nope`, `{"schema":"iglu:com.acme/x/jsonschema/1-0-0","data":{}}`, `{"schema":"` + SchemaGenericError + `"}`} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%s) accepted", in)
		}
	}
}
