package pseudonymize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/testkit"
)

// TestDefaultBadRowPathsExistInSchemas checks every path the default
// allowlist keeps in a bad row against the bad-row schemas in Iglu Central:
// a typo would silently keep nothing (the safe direction, but a useless
// rule).
func TestDefaultBadRowPathsExistInSchemas(t *testing.T) {
	root := filepath.Join(testkit.TestData(t), "iglu-central", "schemas")
	checked := 0
	for _, r := range DefaultAllowlist().rules {
		if r.vendor != "com.snowplowanalytics.snowplow.badrows" {
			continue
		}
		dir := filepath.Join(root, r.vendor, r.name, r.format)
		versions, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", r.pattern, err)
		}
		var schemas []map[string]any
		for _, v := range versions {
			k, err := event.ParseSchemaKey("iglu:" + r.vendor + "/" + r.name + "/" + r.format + "/" + v.Name())
			if err != nil || !r.matches(k) {
				continue
			}
			b, _ := os.ReadFile(filepath.Join(dir, v.Name()))
			var s map[string]any
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			schemas = append(schemas, s)
		}
		if len(schemas) == 0 {
			t.Fatalf("%s matches no schema in Iglu Central", r.pattern)
		}
		for _, p := range r.paths {
			p, _, _ = strings.Cut(p, " in ")
			found := false
			for _, s := range schemas {
				found = found || schemaHasPath(s, strings.Split(strings.ReplaceAll(p, "[*]", ".[*]"), "."))
			}
			if !found {
				t.Errorf("%s: path %q is not in the schema", r.pattern, p)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("only %d bad-row paths checked", checked)
	}
}

// schemaHasPath follows segments through properties (and required names,
// for the schemas' misspelt properties), items and anyOf/oneOf branches.
func schemaHasPath(s map[string]any, segs []string) bool {
	if len(segs) == 0 {
		return true
	}
	for _, alt := range []string{"anyOf", "oneOf", "allOf"} {
		if branches, ok := s[alt].([]any); ok {
			for _, b := range branches {
				if m, ok := b.(map[string]any); ok && schemaHasPath(m, segs) {
					return true
				}
			}
		}
	}
	if segs[0] == "[*]" {
		items, ok := s["items"].(map[string]any)
		return ok && schemaHasPath(items, segs[1:])
	}
	if props, ok := s["properties"].(map[string]any); ok {
		if sub, ok := props[segs[0]].(map[string]any); ok && schemaHasPath(sub, segs[1:]) {
			return true
		}
	}
	if req, ok := s["required"].([]any); ok && len(segs) == 1 && slices.Contains(req, any(segs[0])) {
		return true
	}
	return false
}

// TestBadRowKeysCoverSchemas keeps the bad rows' structural keys in step
// with Iglu Central: every property name of the bad-row schemas plowline
// writes is kept (else a pseudonymized key would break the row's schema).
func TestBadRowKeysCoverSchemas(t *testing.T) {
	root := filepath.Join(testkit.SharedDir(t), "iglu-central", "schemas", "com.snowplowanalytics.snowplow.badrows")
	var walk func(v any)
	missing := map[string]bool{}
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				for k, sub := range props {
					if !badRowKeys[k] {
						missing[k] = true
					}
					walk(sub)
				}
			}
			for k, sub := range x {
				if k != "properties" {
					walk(sub)
				}
			}
		case []any:
			for _, sub := range x {
				walk(sub)
			}
		}
	}
	for _, uri := range []string{"size_violation/jsonschema/1-0-0", "collector_payload_format_violation/jsonschema/1-0-0",
		"tracker_protocol_violations/jsonschema/1-0-0", "adapter_failures/jsonschema/1-0-0", "schema_violations/jsonschema/2-0-0",
		"enrichment_failures/jsonschema/2-0-0", "generic_error/jsonschema/1-0-0"} {
		b, err := os.ReadFile(filepath.Join(root, uri))
		if err != nil {
			t.Fatal(err)
		}
		var s any
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		walk(s)
	}
	if len(missing) > 0 {
		t.Errorf("bad-row property names not in badRowKeys: %v", missing)
	}
}
