package enrich

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
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

// normalizeContexts re-renders a validated contexts wrapper as Snowplow
// does, in one pass over the bytes.
func normalizeContexts(raw []byte) (string, error) {
	p := jsonPrinter{in: raw, out: make([]byte, 0, len(raw)+16)}
	p.out = append(p.out, `{"schema":"`+ContextsSchema1+`","data":`...)
	err := p.wrapper(func(i int) (int, error) {
		if raw[i] != '[' {
			return 0, errNotSDJ
		}
		p.out = append(p.out, '[')
		i = p.skipWS(i + 1)
		for n := 0; i < len(raw) && raw[i] != ']'; n++ {
			if n > 0 {
				if raw[i] != ',' {
					return 0, errNotSDJ
				}
				p.out = append(p.out, ',')
				i = p.skipWS(i + 1)
			}
			end, err := p.entity(i)
			if err != nil {
				return 0, err
			}
			i = p.skipWS(end)
		}
		if i >= len(raw) {
			return 0, errNotSDJ
		}
		p.out = append(p.out, ']')
		return i + 1, nil
	})
	if err != nil {
		return "", err
	}
	p.out = append(p.out, '}')
	return unsafe.String(unsafe.SliceData(p.out), len(p.out)), nil
}

// normalizeUnstruct re-renders a validated unstruct_event wrapper as
// Snowplow does (the wrapper stays unstruct_event 1-0-0).
func normalizeUnstruct(raw []byte) (string, error) {
	p := jsonPrinter{in: raw, out: make([]byte, 0, len(raw)+16)}
	p.out = append(p.out, `{"schema":"`+unstructSchema+`","data":`...)
	if err := p.wrapper(p.entity); err != nil {
		return "", err
	}
	p.out = append(p.out, '}')
	return unsafe.String(unsafe.SliceData(p.out), len(p.out)), nil
}

// jsonPrinter copies JSON (already known to be valid) compactly, with
// strings re-escaped the way circe prints them.
type jsonPrinter struct {
	in  []byte
	out []byte
}

// key reads the object key at i (a plain, unescaped string) and the colon
// after it, returning the key and the start of its value.
func (p *jsonPrinter) key(i int) (string, int, error) {
	in := p.in
	if i >= len(in) || in[i] != '"' {
		return "", 0, errNotSDJ
	}
	for j := i + 1; j < len(in); j++ {
		switch in[j] {
		case '\\':
			return "", 0, errNotSDJ // an escaped key: not the shape expected
		case '"':
			k := p.skipWS(j + 1)
			if k >= len(in) || in[k] != ':' {
				return "", 0, errNotSDJ
			}
			return unsafe.String(&in[i+1], j-i-1), p.skipWS(k + 1), nil
		}
	}
	return "", 0, errNotSDJ
}

// wrapper walks the top-level object: its schema is replaced by the caller
// (already printed), its data printed by data.
func (p *jsonPrinter) wrapper(data func(int) (int, error)) error {
	in := p.in
	i := p.skipWS(0)
	if i >= len(in) || in[i] != '{' {
		return errNotSDJ
	}
	i = p.skipWS(i + 1)
	var haveS, haveD bool
	for n := 0; i < len(in) && in[i] != '}'; n++ {
		if n > 0 {
			if in[i] != ',' {
				return errNotSDJ
			}
			i = p.skipWS(i + 1)
		}
		k, v, err := p.key(i)
		if err != nil {
			return err
		}
		switch {
		case k == "schema" && !haveS:
			haveS = true
			i, err = p.skip(v)
		case k == "data" && !haveD:
			haveD = true
			i, err = data(v)
		default:
			return errNotSDJ
		}
		if err != nil {
			return err
		}
		i = p.skipWS(i)
	}
	if !haveS || !haveD || i >= len(in) || p.skipWS(i+1) != len(in) {
		return errNotSDJ
	}
	return nil
}

// entity prints the self-describing object at i, schema first, and
// returns its end.
func (p *jsonPrinter) entity(i int) (int, error) {
	in := p.in
	if i >= len(in) || in[i] != '{' {
		return 0, errNotSDJ
	}
	p.out = append(p.out, `{"schema":`...)
	mark := len(p.out)
	i = p.skipWS(i + 1)
	var haveS, haveD bool
	dataFirst := false
	for n := 0; i < len(in) && in[i] != '}'; n++ {
		if n > 0 {
			if in[i] != ',' {
				return 0, errNotSDJ
			}
			i = p.skipWS(i + 1)
		}
		k, v, err := p.key(i)
		if err != nil {
			return 0, err
		}
		switch {
		case k == "schema" && !haveS:
			haveS = true
			if v >= len(in) || in[v] != '"' {
				return 0, errNotSDJ
			}
			if dataFirst {
				// data was printed first: print the schema, then move it
				// in front of the data.
				dataEnd := len(p.out)
				if i, err = p.printValue(v); err != nil {
					return 0, err
				}
				schema := append([]byte(nil), p.out[dataEnd:]...)
				data := append([]byte(nil), p.out[mark+len(`,"data":`):dataEnd]...)
				p.out = append(append(append(p.out[:mark], schema...), `,"data":`...), data...)
			} else if i, err = p.printValue(v); err != nil {
				return 0, err
			}
		case k == "data" && !haveD:
			haveD = true
			dataFirst = !haveS
			p.out = append(p.out, `,"data":`...)
			if i, err = p.printValue(v); err != nil {
				return 0, err
			}
		default:
			return 0, errNotSDJ
		}
		i = p.skipWS(i)
	}
	if !haveS || !haveD || i >= len(in) {
		return 0, errNotSDJ
	}
	p.out = append(p.out, '}')
	return i + 1, nil
}

// printValue prints the value at i compactly and returns its end.
func (p *jsonPrinter) printValue(i int) (int, error) {
	in := p.in
	if i >= len(in) {
		return 0, errNotSDJ
	}
	switch in[i] {
	case '"':
		return p.strAt(i)
	case '{', '[':
		depth := 0
		for i < len(in) {
			switch c := in[i]; c {
			case '"':
				e, err := p.strAt(i)
				if err != nil {
					return 0, err
				}
				i = e
				continue
			case ' ', '\t', '\n', '\r':
			case '{', '[':
				depth++
				p.out = append(p.out, c)
			case '}', ']':
				depth--
				p.out = append(p.out, c)
				if depth == 0 {
					return i + 1, nil
				}
			default:
				p.out = append(p.out, c)
			}
			i++
		}
		return 0, errNotSDJ
	default:
		j := i
		for j < len(in) {
			switch in[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				p.out = append(p.out, in[i:j]...)
				return j, nil
			}
			j++
		}
		p.out = append(p.out, in[i:j]...)
		return j, nil
	}
}

// strAt prints the string starting at i and returns its end: as it is if
// it holds nothing to re-escape (the common case), else decoded and
// re-escaped.
func (p *jsonPrinter) strAt(i int) (int, error) {
	in := p.in
	for j := i + 1; j < len(in); j++ {
		c := in[j]
		if c == '"' {
			p.out = append(p.out, in[i:j+1]...)
			return j + 1, nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			e, err := p.skip(i)
			if err != nil {
				return 0, err
			}
			p.str(in[i+1 : e-1])
			return e, nil
		}
	}
	return 0, errNotSDJ
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
