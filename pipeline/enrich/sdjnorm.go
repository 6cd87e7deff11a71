package enrich

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// Snowplow enrich does not keep the contexts and unstruct_event JSON as the
// tracker sent it: it parses them, and writes them back out
// (MiscEnrichments/IgluUtils; SelfDescribingData.normalize printed with
// circe's compact printer) as
//
//	{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":…,"data":…},…]}
//
// — the contexts wrapper always 1-0-1 whatever version was sent, "schema"
// before "data" in the wrapper and in every entity, insignificant
// whitespace gone, keys inside the data in the order sent, numbers as
// sent, and strings re-escaped: only '"', '\\' and control characters are
// escaped (\b \f \n \r \t, else \u00xx in lower-case hex), everything else,
// '/' and non-ASCII included, written as itself. EnrichmentManagerSpec's
// "emit an EnrichedEvent with superseded schemas" expects the 1-0-1
// wrapper for a 1-0-0 input. The functions below produce the same bytes.

// ContextsSchema1 is the wrapper the contexts field is written with.
const ContextsSchema1 = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"

const unstructSchema = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"

var errNotSDJ = errors.New("not the self-describing JSON shape expected")

// normalizeContexts re-renders a validated contexts wrapper as Snowplow does.
func normalizeContexts(raw []byte) (string, error) {
	p := jsonPrinter{in: raw, out: make([]byte, 0, len(raw)+16)}
	_, data, err := p.sdjSpans(0, len(raw))
	if err != nil {
		return "", err
	}
	p.out = append(p.out, `{"schema":"`+ContextsSchema1+`","data":[`...)
	i, end := p.skipWS(data[0]), data[1]
	if i >= end || raw[i] != '[' {
		return "", errNotSDJ
	}
	i = p.skipWS(i + 1)
	first := true
	for i < end && raw[i] != ']' {
		if !first {
			if raw[i] != ',' {
				return "", errNotSDJ
			}
			i = p.skipWS(i + 1)
		}
		vend, err := p.skip(i)
		if err != nil {
			return "", err
		}
		if !first {
			p.out = append(p.out, ',')
		}
		if err := p.entity(i, vend); err != nil {
			return "", err
		}
		first = false
		i = p.skipWS(vend)
	}
	p.out = append(p.out, "]}"...)
	return string(p.out), nil
}

// normalizeUnstruct re-renders a validated unstruct_event wrapper as
// Snowplow does (the wrapper stays unstruct_event 1-0-0).
func normalizeUnstruct(raw []byte) (string, error) {
	p := jsonPrinter{in: raw, out: make([]byte, 0, len(raw)+16)}
	_, data, err := p.sdjSpans(0, len(raw))
	if err != nil {
		return "", err
	}
	p.out = append(p.out, `{"schema":"`+unstructSchema+`","data":`...)
	if err := p.entity(data[0], data[1]); err != nil {
		return "", err
	}
	p.out = append(p.out, '}')
	return string(p.out), nil
}

// jsonPrinter copies JSON (already known to be valid) compactly, with
// strings re-escaped the way circe prints them.
type jsonPrinter struct {
	in  []byte
	out []byte
}

// entity prints the self-describing object in [start, end) schema first.
func (p *jsonPrinter) entity(start, end int) error {
	schema, data, err := p.sdjSpans(start, end)
	if err != nil {
		return err
	}
	p.out = append(p.out, `{"schema":`...)
	if err := p.value(schema[0], schema[1]); err != nil {
		return err
	}
	p.out = append(p.out, `,"data":`...)
	if err := p.value(data[0], data[1]); err != nil {
		return err
	}
	p.out = append(p.out, '}')
	return nil
}

// sdjSpans finds the values of "schema" and "data" in the object at
// [start, end); any other member, or a missing one, is an error.
func (p *jsonPrinter) sdjSpans(start, end int) (schema, data [2]int, err error) {
	in := p.in
	i := p.skipWS(start)
	if i >= end || in[i] != '{' {
		return schema, data, errNotSDJ
	}
	i = p.skipWS(i + 1)
	var haveS, haveD bool
	for i < end && in[i] != '}' {
		if haveS || haveD {
			if in[i] != ',' {
				return schema, data, errNotSDJ
			}
			i = p.skipWS(i + 1)
		}
		kend, err := p.skip(i)
		if err != nil || in[i] != '"' {
			return schema, data, errNotSDJ
		}
		key := string(in[i+1 : kend-1])
		i = p.skipWS(kend)
		if i >= end || in[i] != ':' {
			return schema, data, errNotSDJ
		}
		i = p.skipWS(i + 1)
		vend, err := p.skip(i)
		if err != nil {
			return schema, data, err
		}
		switch {
		case key == "schema" && !haveS:
			schema, haveS = [2]int{i, vend}, true
		case key == "data" && !haveD:
			data, haveD = [2]int{i, vend}, true
		default:
			return schema, data, errNotSDJ
		}
		i = p.skipWS(vend)
	}
	if !haveS || !haveD {
		return schema, data, errNotSDJ
	}
	return schema, data, nil
}

func (p *jsonPrinter) skipWS(i int) int {
	for i < len(p.in) {
		switch p.in[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	return i
}

// skip returns the end of the value starting at i.
func (p *jsonPrinter) skip(i int) (int, error) {
	in := p.in
	if i >= len(in) {
		return 0, errNotSDJ
	}
	switch c := in[i]; c {
	case '"':
		for j := i + 1; j < len(in); j++ {
			switch in[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, errNotSDJ
	case '{', '[':
		depth := 0
		for j := i; j < len(in); j++ {
			switch in[j] {
			case '"':
				e, err := p.skip(j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errNotSDJ
	default:
		j := i
		for j < len(in) {
			switch in[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return j, nil
			}
			j++
		}
		if j == i {
			return 0, errNotSDJ
		}
		return j, nil
	}
}

// value prints the value in [start, end) compactly.
func (p *jsonPrinter) value(start, end int) error {
	in := p.in
	for i := start; i < end; {
		switch c := in[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			e, err := p.skip(i)
			if err != nil || e > end {
				return errNotSDJ
			}
			p.str(in[i+1 : e-1])
			i = e
		default:
			p.out = append(p.out, c)
			i++
		}
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// str decodes the body of a JSON string and writes it re-escaped.
func (p *jsonPrinter) str(s []byte) {
	out := append(p.out, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < 0x20 {
				out = escapeControl(out, rune(c))
			} else if c == '"' {
				out = append(out, '\\', '"')
			} else if c < utf8.RuneSelf {
				out = append(out, c)
			} else {
				r, n := utf8.DecodeRune(s[i:])
				out = utf8.AppendRune(out, r) // invalid UTF-8 becomes U+FFFD
				i += n
				continue
			}
			i++
			continue
		}
		if i+1 >= len(s) {
			break
		}
		e := s[i+1]
		i += 2
		switch e {
		case '"':
			out = append(out, '\\', '"')
		case '\\':
			out = append(out, '\\', '\\')
		case '/':
			out = append(out, '/')
		case 'b', 'f', 'n', 'r', 't':
			out = append(out, '\\', e)
		case 'u':
			r, n := hex4(s[i:])
			i += n
			if utf16.IsSurrogate(r) {
				r2, n2 := rune(-1), 0
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, n2 = hex4(s[i+2:])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 2 + n2
				} else {
					r = utf8.RuneError
				}
			}
			if r < 0x20 {
				out = escapeControl(out, r)
			} else if r == '"' || r == '\\' {
				out = append(out, '\\', byte(r))
			} else {
				out = utf8.AppendRune(out, r)
			}
		}
	}
	p.out = append(out, '"')
}

func escapeControl(out []byte, r rune) []byte {
	switch r {
	case '\b':
		return append(out, '\\', 'b')
	case '\f':
		return append(out, '\\', 'f')
	case '\n':
		return append(out, '\\', 'n')
	case '\r':
		return append(out, '\\', 'r')
	case '\t':
		return append(out, '\\', 't')
	}
	return append(out, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
}

// hex4 reads four hex digits (fewer on malformed input: U+FFFD).
func hex4(s []byte) (rune, int) {
	if len(s) < 4 {
		return utf8.RuneError, len(s)
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return utf8.RuneError, 4
		}
	}
	return r, 4
}
