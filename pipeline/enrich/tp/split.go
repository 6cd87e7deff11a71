package tp

import (
	"bytes"
	"encoding/json"
	"io"
)

// splitBatch finds the items of a payload_data envelope without building
// their trees, for a body too big to decode whole (jsondec.MaxValues): it
// returns the envelope's schema, the first MaxEventsPerPayload items, the
// number of items, and as many of the items after those as fit in
// maxRestBytes, each a slice of body. ok is false unless body is exactly
// an object with one "schema" string and one "data" array; any other shape
// is left to the caller's whole-body answer.
func splitBatch(body []byte) (schema string, first [][]byte, total int, rest [][]byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if !delim(dec, '{') {
		return "", nil, 0, nil, false
	}
	var seenSchema, seenData bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", nil, 0, nil, false
		}
		switch t {
		case "schema":
			t, err := dec.Token()
			s, isStr := t.(string)
			if seenSchema || err != nil || !isStr {
				return "", nil, 0, nil, false
			}
			schema, seenSchema = s, true
		case "data":
			if seenData || !delim(dec, '[') {
				return "", nil, 0, nil, false
			}
			seenData = true
			restBytes := 0
			for dec.More() {
				start := dec.InputOffset()
				var v skipValue
				if err := dec.Decode(&v); err != nil {
					return "", nil, 0, nil, false
				}
				// The offset before an item is the end of the token
				// before it, so the slice starts with its separator.
				raw := bytes.TrimLeft(body[start:dec.InputOffset()], " \t\r\n,")
				total++
				switch {
				case len(first) < MaxEventsPerPayload:
					first = append(first, raw)
				case restBytes+len(raw) <= maxRestBytes:
					rest = append(rest, raw)
					restBytes += len(raw) + 1
				}
			}
			if !delim(dec, ']') {
				return "", nil, 0, nil, false
			}
		default:
			return "", nil, 0, nil, false
		}
	}
	if !delim(dec, '}') || !seenSchema || !seenData {
		return "", nil, 0, nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, 0, nil, false // something after the envelope
	}
	return schema, first, total, rest, true
}

// delim reads the next token and reports whether it is d.
func delim(dec *json.Decoder, d json.Delim) bool {
	t, err := dec.Token()
	return err == nil && t == d
}

// skipValue lets json.Decoder check and step over a value without
// keeping it.
type skipValue struct{}

// UnmarshalJSON implements json.Unmarshaler.
func (*skipValue) UnmarshalJSON([]byte) error { return nil }
