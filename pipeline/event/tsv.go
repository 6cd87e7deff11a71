package event

import (
	"fmt"
	"strings"
	"unsafe"
)

// FieldError says which field of an enriched event is wrong and why. It
// names the field by name and 1-based position and, when the event came from
// a line, the byte offset of the field's value in that line. It never quotes
// the value: events carry personal data and errors end up in logs.
type FieldError struct {
	Field  Field // -1 when the line as a whole is wrong (field count)
	Offset int   // byte offset of the value in the line; -1 if unknown
	Reason string
}

// Error names the field and the byte offset, never the value (events carry personal data).
func (e *FieldError) Error() string {
	if e.Field < 0 {
		return e.Reason
	}
	if e.Offset < 0 {
		return fmt.Sprintf("field %d (%s): %s", int(e.Field)+1, e.Field.Name(), e.Reason)
	}
	return fmt.Sprintf("field %d (%s) at byte %d: %s", int(e.Field)+1, e.Field.Name(), e.Offset, e.Reason)
}

// Parse splits one enriched TSV line (without its trailing newline) into an
// event and checks it: exactly 131 fields, every non-empty timestamp in
// TimestampLayout (fractional seconds of 0 to 9 digits are accepted, as the
// analytics SDKs do), and contexts, derived_contexts and unstruct_event
// valid JSON. The event's strings share the line's memory; Parse allocates
// nothing per field.
func Parse(line string) (Event, error) {
	var e Event
	err := parseInto(&e, line)
	return e, err
}

// ParseBytes is Parse for a byte slice. The line is copied once, so the
// event does not alias the caller's buffer.
func ParseBytes(line []byte) (Event, error) {
	return Parse(string(line))
}

// ParseInto is Parse writing into an existing event (no copy of the
// 131-string array for callers that reuse one).
func ParseInto(e *Event, line string) error { return parseInto(e, line) }

func parseInto(e *Event, line string) error {
	start := 0
	for i := 0; i < NumFields; i++ {
		end := strings.IndexByte(line[start:], '\t')
		if end < 0 {
			if i != NumFields-1 {
				return &FieldError{Field: -1, Offset: -1,
					Reason: fmt.Sprintf("line has %d fields, want %d (enriched TSV, tab-separated)", i+1, NumFields)}
			}
			end = len(line)
		} else {
			if i == NumFields-1 {
				return &FieldError{Field: -1, Offset: -1,
					Reason: fmt.Sprintf("line has more than %d fields (a tab at byte %d)", NumFields, start+end)}
			}
			end += start
		}
		v := line[start:end]
		e[i] = v
		if v != "" {
			switch specs[i].kind {
			case KindTimestamp:
				if !ValidTimestamp(v) {
					return &FieldError{Field: Field(i), Offset: start, Reason: "not a timestamp (want yyyy-MM-dd HH:mm:ss.SSS, UTC)"}
				}
			case KindContexts, KindUnstruct:
				if !validJSON(v) {
					return &FieldError{Field: Field(i), Offset: start, Reason: "not valid JSON"}
				}
			}
		}
		start = end + 1
	}
	return nil
}

// AppendTSV appends the event as one enriched TSV line (no trailing
// newline). For a parsed event the result is byte-identical to the input.
func (e *Event) AppendTSV(dst []byte) []byte {
	for i := range e {
		if i > 0 {
			dst = append(dst, '\t')
		}
		dst = append(dst, e[i]...)
	}
	return dst
}

// TSV returns the event as one enriched TSV line without a trailing newline.
func (e *Event) TSV() string {
	n := NumFields - 1
	for i := range e {
		n += len(e[i])
	}
	return string(e.AppendTSV(make([]byte, 0, n)))
}

// FieldOf returns the text of field f of an enriched TSV line without
// parsing the rest of it: only the tabs before f are scanned. ok is false
// when the line has fewer fields. It does not check the line.
func FieldOf(line string, f Field) (string, bool) {
	if f < 0 || f >= NumFields {
		return "", false
	}
	start := 0
	for i := Field(0); i < f; i++ {
		j := strings.IndexByte(line[start:], '\t')
		if j < 0 {
			return "", false
		}
		start += j + 1
	}
	end := strings.IndexByte(line[start:], '\t')
	if end < 0 {
		return line[start:], true
	}
	return line[start : start+end], true
}

// FieldOfBytes is FieldOf for a byte slice; the result aliases line.
func FieldOfBytes(line []byte, f Field) ([]byte, bool) {
	if len(line) == 0 {
		v, ok := FieldOf("", f)
		return []byte(v), ok
	}
	s := unsafe.String(&line[0], len(line))
	v, ok := FieldOf(s, f)
	if !ok {
		return nil, false
	}
	off := int(uintptr(unsafe.Pointer(unsafe.StringData(v))) - uintptr(unsafe.Pointer(&line[0])))
	if len(v) == 0 {
		return line[:0], true
	}
	return line[off : off+len(v) : off+len(v)], true
}

// ValidTimestamp reports whether s is an enriched timestamp:
// yyyy-MM-dd HH:mm:ss with an optional fraction of 1 to 9 digits.
func ValidTimestamp(s string) bool {
	if len(s) < 19 {
		return false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	if s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return false
	}
	two := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	if m := two(5); m < 1 || m > 12 {
		return false
	}
	if d := two(8); d < 1 || d > 31 {
		return false
	}
	if two(11) > 23 || two(14) > 59 || two(17) > 60 {
		return false
	}
	if len(s) == 19 {
		return true
	}
	frac := s[19:]
	if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
		return false
	}
	for i := 1; i < len(frac); i++ {
		if frac[i] < '0' || frac[i] > '9' {
			return false
		}
	}
	return true
}
