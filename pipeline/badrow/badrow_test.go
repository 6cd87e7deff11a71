package badrow_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/testkit"
)

func TestBadRowsValidateAgainstIgluCentral(t *testing.T) {
	p := Processor{Artifact: "plowline-collector", Version: "0.1.0"}
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, b := range []BadRow{
		NewSizeViolation(p, at, 1000, 2000, strings.Repeat("é", 300), "abc"),
		NewGenericError(p, at, []string{"boom"}, "payload"),
	} {
		testkit.ValidateBadRow(t, b.Marshal())
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
