package event

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// SchemaKey is the parsed form of an Iglu URI,
// iglu:<vendor>/<name>/<format>/<model>-<revision>-<addition>.
type SchemaKey struct {
	Vendor, Name, Format      string
	Model, Revision, Addition int
}

// SelfDescribing is a self-describing JSON document: a schema URI and the
// data it describes. Contexts, unstruct events and bad rows are all of this form.
type SelfDescribing struct {
	Schema string          `json:"schema"`
	Data   json.RawMessage `json:"data"`
}

// ParseSchemaKey parses an Iglu URI such as
// iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1.
func ParseSchemaKey(uri string) (SchemaKey, error) {
	rest, ok := strings.CutPrefix(uri, "iglu:")
	if !ok {
		return SchemaKey{}, fmt.Errorf("schema %q: not an Iglu URI (want iglu:vendor/name/format/M-R-A)", uri)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 {
		return SchemaKey{}, fmt.Errorf("schema %q: want 4 parts vendor/name/format/M-R-A", uri)
	}
	for i, p := range parts[:3] {
		if !validIgluPart(p, i == 0) {
			return SchemaKey{}, fmt.Errorf("schema %q: part %q has characters outside [A-Za-z0-9_-]", uri, p)
		}
	}
	ver := strings.Split(parts[3], "-")
	if len(ver) != 3 {
		return SchemaKey{}, fmt.Errorf("schema %q: version %q is not MODEL-REVISION-ADDITION", uri, parts[3])
	}
	var nums [3]int
	for i, v := range ver {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || v == "" || v[0] == '+' || (len(v) > 1 && v[0] == '0') {
			return SchemaKey{}, fmt.Errorf("schema %q: version %q is not MODEL-REVISION-ADDITION", uri, parts[3])
		}
		nums[i] = n
	}
	return SchemaKey{Vendor: parts[0], Name: parts[1], Format: parts[2], Model: nums[0], Revision: nums[1], Addition: nums[2]}, nil
}

func validIgluPart(s string, vendor bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.' && vendor:
		default:
			return false
		}
	}
	return true
}

// String returns the Iglu URI.
func (k SchemaKey) String() string {
	return fmt.Sprintf("iglu:%s/%s/%s/%d-%d-%d", k.Vendor, k.Name, k.Format, k.Model, k.Revision, k.Addition)
}

// ColumnName returns the analytics-SDK / warehouse column name of an entity
// with this schema: prefix_<vendor>_<name>_<model>, vendor with '.' and '-'
// turned into '_', name from camelCase into snake_case, all lower case —
// e.g. contexts_org_w3_performance_timing_1.
func (k SchemaKey) ColumnName(prefix string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(k.Vendor) + len(k.Name) + 8)
	b.WriteString(prefix)
	b.WriteByte('_')
	for i := 0; i < len(k.Vendor); i++ {
		c := k.Vendor[i]
		if c == '.' || c == '-' {
			c = '_'
		}
		b.WriteByte(lower(c))
	}
	b.WriteByte('_')
	// The SDKs insert '_' before an upper-case letter that follows a
	// character other than an upper-case letter or '_' (WebPage → web_page,
	// HTTPRequest → httprequest).
	for i := 0; i < len(k.Name); i++ {
		c := k.Name[i]
		if i > 0 && isUpper(c) {
			if p := k.Name[i-1]; !isUpper(p) && p != '_' {
				b.WriteByte('_')
			}
		}
		if c == '-' {
			c = '_'
		}
		b.WriteByte(lower(c))
	}
	b.WriteByte('_')
	b.WriteString(strconv.Itoa(k.Model))
	return b.String()
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func lower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}
