package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// JSONOptions selects variants of the analytics-SDK JSON shape.
type JSONOptions struct {
	// Geo adds "geo_location": "<lat>,<lon>" when both coordinates are
	// present, as the SDKs' "with geo" variant does.
	Geo bool
	// Lenient writes a typed field (number, boolean, timestamp) whose text
	// does not parse as a string instead of failing: pseudonymized events
	// carry hex pseudonyms in typed columns such as geo_latitude.
	Lenient bool
}

// JSON returns the event as the JSON object the Snowplow analytics SDKs
// produce: empty fields omitted, numbers and booleans typed, timestamps in
// RFC 3339 UTC, and contexts, derived_contexts and unstruct_event flattened
// into contexts_<vendor>_<name>_<model> (an array of the entities' data) and
// unstruct_event_<vendor>_<name>_<model> (the event's data).
func (e *Event) JSON() ([]byte, error) { return e.AppendJSON(nil, JSONOptions{}) }

// ToMap returns the JSON shape as a map; numbers are json.Number so no
// precision is lost.
func (e *Event) ToMap(o JSONOptions) (map[string]any, error) {
	b, err := e.AppendJSON(nil, o)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding event JSON: %w", err)
	}
	return m, nil
}

type entityColumn struct {
	name     string
	entities []json.RawMessage
}

// AppendJSON appends the analytics-SDK JSON object of the event to dst.
func (e *Event) AppendJSON(dst []byte, o JSONOptions) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	key := func(name string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
	}
	var columns []entityColumn
	var unstructName string
	var unstructData json.RawMessage
	for i := range e {
		v := e[i]
		if v == "" {
			continue
		}
		f := Field(i)
		switch specs[i].kind {
		case KindString:
			key(specs[i].name)
			dst = AppendJSONString(dst, v)
		case KindInt:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil && o.Lenient {
				key(specs[i].name)
				dst = AppendJSONString(dst, v)
				continue
			}
			if err != nil {
				return nil, &FieldError{Field: f, Offset: -1, Reason: "not an integer"}
			}
			key(specs[i].name)
			dst = strconv.AppendInt(dst, n, 10)
		case KindFloat:
			x, err := strconv.ParseFloat(v, 64)
			if (err != nil || math.IsInf(x, 0) || math.IsNaN(x)) && o.Lenient {
				key(specs[i].name)
				dst = AppendJSONString(dst, v)
				continue
			}
			if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
				return nil, &FieldError{Field: f, Offset: -1, Reason: "not a finite number"}
			}
			key(specs[i].name)
			if isJSONNumber(v) {
				dst = append(dst, v...)
			} else {
				dst = strconv.AppendFloat(dst, x, 'g', -1, 64)
			}
		case KindBool:
			key(specs[i].name)
			switch v {
			case "1", "true":
				dst = append(dst, "true"...)
			case "0", "false":
				dst = append(dst, "false"...)
			default:
				if o.Lenient {
					dst = AppendJSONString(dst, v)
					continue
				}
				return nil, &FieldError{Field: f, Offset: -1, Reason: "not a boolean (want 1 or 0)"}
			}
		case KindTimestamp:
			if !ValidTimestamp(v) && o.Lenient {
				key(specs[i].name)
				dst = AppendJSONString(dst, v)
				continue
			}
			if !ValidTimestamp(v) {
				return nil, &FieldError{Field: f, Offset: -1, Reason: "not a timestamp (want yyyy-MM-dd HH:mm:ss.SSS, UTC)"}
			}
			key(specs[i].name)
			dst = append(dst, '"')
			dst = append(dst, v[:10]...)
			dst = append(dst, 'T')
			dst = append(dst, v[11:]...)
			dst = append(dst, 'Z', '"')
		case KindContexts:
			var err error
			columns, err = appendContexts(columns, f, v)
			if err != nil {
				return nil, err
			}
		case KindUnstruct:
			var err error
			unstructName, unstructData, err = unstruct(f, v)
			if err != nil {
				return nil, err
			}
		}
		if f == GeoLongitude && o.Geo && e[GeoLatitude] != "" {
			key("geo_location")
			dst = AppendJSONString(dst, e[GeoLatitude]+","+v)
		}
	}
	if unstructName != "" {
		key(unstructName)
		dst = append(dst, unstructData...)
	}
	for _, c := range columns {
		key(c.name)
		dst = append(dst, '[')
		for j, raw := range c.entities {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, raw...)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

// appendContexts adds the entities of a contexts field to columns, merging
// entities of the same column (from contexts and derived_contexts alike).
func appendContexts(columns []entityColumn, f Field, v string) ([]entityColumn, error) {
	var sd struct {
		Schema string           `json:"schema"`
		Data   []SelfDescribing `json:"data"`
	}
	if err := json.Unmarshal([]byte(v), &sd); err != nil {
		return nil, &FieldError{Field: f, Offset: -1, Reason: "not a self-describing contexts array: " + jsonErrorReason(err)}
	}
	if _, err := ParseSchemaKey(sd.Schema); err != nil {
		return nil, &FieldError{Field: f, Offset: -1, Reason: "wrapper schema is not an Iglu URI"}
	}
	for j, ent := range sd.Data {
		k, err := ParseSchemaKey(ent.Schema)
		if err != nil {
			return nil, &FieldError{Field: f, Offset: -1, Reason: fmt.Sprintf("entity %d: schema is not an Iglu URI", j)}
		}
		if len(ent.Data) == 0 {
			return nil, &FieldError{Field: f, Offset: -1, Reason: fmt.Sprintf("entity %d: no data", j)}
		}
		name := k.ColumnName("contexts")
		found := false
		for c := range columns {
			if columns[c].name == name {
				columns[c].entities = append(columns[c].entities, ent.Data)
				found = true
				break
			}
		}
		if !found {
			columns = append(columns, entityColumn{name: name, entities: []json.RawMessage{ent.Data}})
		}
	}
	return columns, nil
}

func unstruct(f Field, v string) (string, json.RawMessage, error) {
	var sd struct {
		Schema string         `json:"schema"`
		Data   SelfDescribing `json:"data"`
	}
	if err := json.Unmarshal([]byte(v), &sd); err != nil {
		return "", nil, &FieldError{Field: f, Offset: -1, Reason: "not a self-describing unstruct_event: " + jsonErrorReason(err)}
	}
	if _, err := ParseSchemaKey(sd.Schema); err != nil {
		return "", nil, &FieldError{Field: f, Offset: -1, Reason: "wrapper schema is not an Iglu URI"}
	}
	k, err := ParseSchemaKey(sd.Data.Schema)
	if err != nil {
		return "", nil, &FieldError{Field: f, Offset: -1, Reason: "event schema is not an Iglu URI"}
	}
	if len(sd.Data.Data) == 0 {
		return "", nil, &FieldError{Field: f, Offset: -1, Reason: "event has no data"}
	}
	return k.ColumnName("unstruct_event"), sd.Data.Data, nil
}

// jsonErrorReason keeps the kind of a JSON error without quoting input.
func jsonErrorReason(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at offset %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("%s where %s expected at %q", e.Value, e.Type, e.Field)
	}
	return "invalid JSON"
}

// isJSONNumber reports whether s is a number literal in JSON's grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a quoted JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
