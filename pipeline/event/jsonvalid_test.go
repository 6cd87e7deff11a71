package event

import (
	"encoding/json"
	"strings"
	"testing"
)

var jsonSamples = []string{
	`{}`, `[]`, `""`, `0`, `-0.5e+3`, `true`, `false`, `null`, ` {"a" : [1, "x\"\\\/\b\f\n\r\t\u00e9"]} `,
	`{"a":1,}`, `[1,]`, `{"a"}`, `{1:2}`, `"abc`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\x01b\"", `01`, `1.`, `.5`, `1e`, `-`,
	`tru`, `nul`, `{"a":1}x`, `[`, `]`, ``, ` `, `{"a":{"b":[{"c":null}]}}`, `"12345678\"9"`, `"1234567\\"`,
	"\"é漢字😀 long string over eight bytes\"", `[1 2]`, `{"a":1 "b":2}`, `1 2`, strings.Repeat("[", 50) + strings.Repeat("]", 50),
}

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonSamples {
		if got, want := validJSON(s), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

// FuzzValidJSON: the fast validator agrees with encoding/json on any input.
func FuzzValidJSON(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validJSON(s), json.Valid([]byte(s)); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", s, got, want)
		}
	})
}
