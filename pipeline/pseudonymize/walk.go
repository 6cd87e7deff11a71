package pseudonymize

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// maxDepth bounds JSON nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

func jsonErr(i int, what string) error { return fmt.Errorf("JSON: %s at byte %d", what, i) }

var errDepth = errors.New("JSON: nested deeper than 200 levels")

func skipWS(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value appends the pseudonymized JSON value starting at src[i] and returns
// the index after it. n is the allowlist trie at this position (nil:
// pseudonymize every leaf below).
func (w *worker) value(dst, src []byte, i int, n *node, depth int) ([]byte, int, error) {
	if i >= len(src) {
		return dst, i, jsonErr(i, "unexpected end of input")
	}
	if n != nil && n.keep {
		if n.check != nil {
			// Kept only as a string of the vocabulary.
			if src[i] == '"' {
				end, esc, err := scanString(src, i)
				if err != nil {
					return dst, i, err
				}
				raw := src[i+1 : end-1]
				if esc {
					w.scratch = unescape(w.scratch[:0], raw)
					raw = w.scratch
				}
				if n.check(unsafeString(raw)) {
					return append(dst, src[i:end]...), end, nil
				}
			}
			// A string outside the vocabulary is pseudonymized below; an
			// object or array is walked with the paths under this one
			// (the vocabulary is for strings only).
		} else {
			end, dup, err := w.skipChecked(src, i, depth)
			if err != nil {
				return dst, i, err
			}
			if !dup {
				return append(dst, src[i:end]...), end, nil
			}
			// A repeated key below: nothing of it is trusted.
			n = nil
		}
	}
	if n != nil && n.typed && src[i] != '"' && src[i] != '{' && src[i] != '[' {
		// A number or boolean the schema types: cleared, not hashed.
		end, err := skipValue(src, i, depth)
		if err != nil {
			return dst, i, err
		}
		return append(dst, litNull...), end, nil
	}
	maxLen := 0
	if n != nil {
		maxLen = n.maxLen
	}
	switch c := src[i]; {
	case c == '{':
		return w.object(dst, src, i, n, depth)
	case c == '[':
		return w.array(dst, src, i, n, depth)
	case c == '"':
		end, esc, err := scanString(src, i)
		if err != nil {
			return dst, i, err
		}
		if end-i == 2 {
			return append(dst, '"', '"'), end, nil
		}
		raw := src[i+1 : end-1]
		if esc {
			w.scratch = unescape(w.scratch[:0], raw)
			raw = w.scratch
		}
		dst = append(dst, '"')
		dst = w.pseudonym(dst, raw, maxLen)
		return append(dst, '"'), end, nil
	case c == 'n':
		if !bytes.HasPrefix(src[i:], litNull) {
			return dst, i, jsonErr(i, "invalid literal")
		}
		return append(dst, litNull...), i + 4, nil
	case c == 't' || c == 'f':
		lit := litTrue
		if c == 'f' {
			lit = litFalse
		}
		if !bytes.HasPrefix(src[i:], lit) {
			return dst, i, jsonErr(i, "invalid literal")
		}
		dst = append(dst, '"')
		dst = w.pseudonym(dst, lit, maxLen)
		return append(dst, '"'), i + len(lit), nil
	default:
		end, err := scanNumber(src, i)
		if err != nil {
			return dst, i, err
		}
		dst = append(dst, '"')
		dst = w.pseudonym(dst, src[i:end], maxLen)
		return append(dst, '"'), end, nil
	}
}

// pseudonym appends v's pseudonym, cut to maxLen hex digits when a schema
// allows no more (still deterministic; 16 hex digits are 64 bits).
func (w *worker) pseudonym(dst, v []byte, maxLen int) []byte {
	n := len(dst)
	dst = w.hmacHex(dst, v)
	if maxLen > 0 && len(dst)-n > maxLen {
		dst = dst[:n+maxLen]
	}
	return dst
}

var (
	litNull  = []byte("null")
	litTrue  = []byte("true")
	litFalse = []byte("false")
	sdPrefix = []byte(`{"schema":"`)
)

// object walks an object. When n.sd is set the object is self-describing:
// its "schema" string (if a valid Iglu URI) is kept and its "data" is
// walked with the rules for that schema; any other member is pseudonymized.
func (w *worker) object(dst, src []byte, i int, n *node, depth int) ([]byte, int, error) {
	depth++
	if depth > maxDepth {
		return dst, i, errDepth
	}
	if n != nil {
		// Something below may be kept: an object that repeats a key is
		// not allowlisted at all (a reader taking the other copy of the
		// key would see a value never checked).
		dup, err := w.repeatsKey(src, i, depth)
		if err != nil {
			return dst, i, err
		}
		if dup {
			n = nil
		}
	}
	sd := n != nil && n.sd != posNone
	var schemaNode, dataNode *node
	if sd {
		s, ok, err := w.findSchema(src, i, depth)
		if err != nil {
			return dst, i, err
		}
		if ok {
			var valid bool
			dataNode, valid = w.schema(s, n.sd)
			if valid {
				schemaNode = keepAll
			}
		}
	}
	dst = append(dst, '{')
	i = skipWS(src, i+1)
	if i < len(src) && src[i] == '}' {
		return append(dst, '}'), i + 1, nil
	}
	for {
		if i >= len(src) || src[i] != '"' {
			return dst, i, jsonErr(i, "expected an object key")
		}
		end, esc, err := scanString(src, i)
		if err != nil {
			return dst, i, err
		}
		key := src[i+1 : end-1]
		if esc {
			w.kscratch = unescape(w.kscratch[:0], key)
			key = w.kscratch
		}
		// Keys are kept where the allowlist names them (and a bad row's
		// structural keys); any other key is data a tracker chose and is
		// pseudonymized like a value.
		var child *node
		keepKey := false
		switch {
		case sd:
			switch string(key) {
			case "schema":
				child, keepKey = schemaNode, true
			case "data":
				child, keepKey = dataNode, true
			}
		case n != nil && n.children != nil:
			child, keepKey = n.children[string(key)]
		}
		if !keepKey && w.inBadRow && badRowKeys[string(key)] {
			keepKey = true
		}
		if keepKey || len(key) == 0 {
			dst = append(dst, src[i:end]...)
		} else {
			dst = append(dst, '"')
			dst = w.hmacHex(dst, key)
			dst = append(dst, '"')
		}
		i = skipWS(src, end)
		if i >= len(src) || src[i] != ':' {
			return dst, i, jsonErr(i, "expected ':' after an object key")
		}
		dst = append(dst, ':')
		i = skipWS(src, i+1)
		if dst, i, err = w.value(dst, src, i, child, depth); err != nil {
			return dst, i, err
		}
		i = skipWS(src, i)
		if i < len(src) {
			switch src[i] {
			case ',':
				dst = append(dst, ',')
				i = skipWS(src, i+1)
				continue
			case '}':
				return append(dst, '}'), i + 1, nil
			}
		}
		return dst, i, jsonErr(i, "expected ',' or '}' in an object")
	}
}

func (w *worker) array(dst, src []byte, i int, n *node, depth int) ([]byte, int, error) {
	depth++
	if depth > maxDepth {
		return dst, i, errDepth
	}
	var elem *node
	if n != nil {
		elem = n.elem
	}
	dst = append(dst, '[')
	i = skipWS(src, i+1)
	if i < len(src) && src[i] == ']' {
		return append(dst, ']'), i + 1, nil
	}
	for {
		var err error
		if dst, i, err = w.value(dst, src, i, elem, depth); err != nil {
			return dst, i, err
		}
		i = skipWS(src, i)
		if i < len(src) {
			switch src[i] {
			case ',':
				dst = append(dst, ',')
				i = skipWS(src, i+1)
				continue
			case ']':
				return append(dst, ']'), i + 1, nil
			}
		}
		return dst, i, jsonErr(i, "expected ',' or ']' in an array")
	}
}

// findSchema returns the (unescaped) string value of the "schema" member of
// the object at src[i], looking ahead without writing anything. ok is false
// when there is none or it is not a string.
func (w *worker) findSchema(src []byte, i, depth int) ([]byte, bool, error) {
	if bytes.HasPrefix(src[i:], sdPrefix) {
		// The usual layout: {"schema":"iglu:...", "data": ...}.
		end, esc, err := scanString(src, i+len(sdPrefix)-1)
		if err != nil {
			return nil, false, err
		}
		s := src[i+len(sdPrefix) : end-1]
		if esc {
			w.sscratch = unescape(w.sscratch[:0], s)
			s = w.sscratch
		}
		return s, true, nil
	}
	j := skipWS(src, i+1)
	if j < len(src) && src[j] == '}' {
		return nil, false, nil
	}
	for j < len(src) && src[j] == '"' {
		end, esc, err := scanString(src, j)
		if err != nil {
			return nil, false, err
		}
		key := src[j+1 : end-1]
		if esc {
			w.kscratch = unescape(w.kscratch[:0], key)
			key = w.kscratch
		}
		isSchema := string(key) == "schema"
		j = skipWS(src, end)
		if j >= len(src) || src[j] != ':' {
			return nil, false, jsonErr(j, "expected ':' after an object key")
		}
		j = skipWS(src, j+1)
		vstart := j
		if j, err = skipValue(src, j, depth); err != nil {
			return nil, false, err
		}
		if isSchema {
			if src[vstart] != '"' {
				return nil, false, nil
			}
			s := src[vstart+1 : j-1]
			if bytes.IndexByte(s, '\\') >= 0 {
				w.sscratch = unescape(w.sscratch[:0], s)
				s = w.sscratch
			}
			return s, true, nil
		}
		j = skipWS(src, j)
		if j < len(src) && src[j] == ',' {
			j = skipWS(src, j+1)
			continue
		}
		break
	}
	// Malformed objects are reported by the walk itself.
	return nil, false, nil
}

// unsafeString views b as a string without copying, for a vocabulary
// check that does not keep it (b changes afterwards).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// repeatsKey reports whether the object at src[i] names a key twice
// (compared after unescaping), looking at its own members only.
func (w *worker) repeatsKey(src []byte, i, depth int) (bool, error) {
	base := len(w.keys)
	defer func() { clear(w.keys[base:]); w.keys = w.keys[:base] }()
	j := skipWS(src, i+1)
	if j < len(src) && src[j] == '}' {
		return false, nil
	}
	for j < len(src) && src[j] == '"' {
		end, esc, err := scanString(src, j)
		if err != nil {
			return false, err
		}
		if w.addKey(base, src[j+1:end-1], esc) {
			return true, nil
		}
		j = skipWS(src, end)
		if j >= len(src) || src[j] != ':' {
			return false, jsonErr(j, "expected ':' after an object key")
		}
		if j, err = skipValue(src, skipWS(src, j+1), depth); err != nil {
			return false, err
		}
		j = skipWS(src, j)
		if j < len(src) && src[j] == ',' {
			j = skipWS(src, j+1)
			continue
		}
		break
	}
	// Malformed objects are reported by the walk itself.
	return false, nil
}

// addKey records key (raw, escaped if esc) among the keys of the object
// whose keys start at w.keys[base] and reports whether it was there.
func (w *worker) addKey(base int, key []byte, esc bool) bool {
	if esc {
		key = unescape(nil, key)
	}
	seen := w.keys[base:]
	for _, k := range seen {
		if bytes.Equal(k, key) {
			return true
		}
	}
	w.keys = append(w.keys, key)
	return false
}

// skipChecked is skipValue that also reports whether any object in the
// value repeats a key (a kept subtree is copied as it is, so it must not
// hide two values under one key).
func (w *worker) skipChecked(src []byte, i, depth int) (int, bool, error) {
	if i >= len(src) || (src[i] != '{' && src[i] != '[') {
		end, err := skipValue(src, i, depth)
		return end, false, err
	}
	depth++
	if depth > maxDepth {
		return i, false, errDepth
	}
	obj := src[i] == '{'
	closer := byte(']')
	if obj {
		closer = '}'
	}
	base := len(w.keys)
	defer func() { clear(w.keys[base:]); w.keys = w.keys[:base] }()
	dup := false
	i = skipWS(src, i+1)
	if i < len(src) && src[i] == closer {
		return i + 1, false, nil
	}
	for {
		if obj {
			if i >= len(src) || src[i] != '"' {
				return i, dup, jsonErr(i, "expected an object key")
			}
			end, esc, err := scanString(src, i)
			if err != nil {
				return i, dup, err
			}
			if w.addKey(base, src[i+1:end-1], esc) {
				dup = true
			}
			i = skipWS(src, end)
			if i >= len(src) || src[i] != ':' {
				return i, dup, jsonErr(i, "expected ':' after an object key")
			}
			i = skipWS(src, i+1)
		}
		end, d, err := w.skipChecked(src, i, depth)
		if err != nil {
			return end, dup, err
		}
		dup = dup || d
		i = skipWS(src, end)
		if i < len(src) && src[i] == ',' {
			i = skipWS(src, i+1)
			continue
		}
		if i < len(src) && src[i] == closer {
			return i + 1, dup, nil
		}
		return i, dup, jsonErr(i, "expected ',' or a closing bracket")
	}
}

// skipValue checks the JSON value at src[i] and returns the index after it.
func skipValue(src []byte, i, depth int) (int, error) {
	if i >= len(src) {
		return i, jsonErr(i, "unexpected end of input")
	}
	switch c := src[i]; {
	case c == '"':
		end, _, err := scanString(src, i)
		return end, err
	case c == '{' || c == '[':
		depth++
		if depth > maxDepth {
			return i, errDepth
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(src, i+1)
		if i < len(src) && src[i] == closer {
			return i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if i >= len(src) || src[i] != '"' {
					return i, jsonErr(i, "expected an object key")
				}
				if i, _, err = scanString(src, i); err != nil {
					return i, err
				}
				i = skipWS(src, i)
				if i >= len(src) || src[i] != ':' {
					return i, jsonErr(i, "expected ':' after an object key")
				}
				i = skipWS(src, i+1)
			}
			if i, err = skipValue(src, i, depth); err != nil {
				return i, err
			}
			i = skipWS(src, i)
			if i < len(src) && src[i] == ',' {
				i = skipWS(src, i+1)
				continue
			}
			if i < len(src) && src[i] == closer {
				return i + 1, nil
			}
			return i, jsonErr(i, "expected ',' or a closing bracket")
		}
	case c == 'n':
		if bytes.HasPrefix(src[i:], litNull) {
			return i + 4, nil
		}
	case c == 't':
		if bytes.HasPrefix(src[i:], litTrue) {
			return i + 4, nil
		}
	case c == 'f':
		if bytes.HasPrefix(src[i:], litFalse) {
			return i + 5, nil
		}
	default:
		return scanNumber(src, i)
	}
	return i, jsonErr(i, "invalid literal")
}

// scanString checks the string token at src[i] (src[i] == '"') and returns
// the index after its closing quote and whether it holds escapes.
func scanString(src []byte, i int) (int, bool, error) {
	esc := false
	j := i + 1
	for {
		j = nextSpecial(src, j)
		if j >= len(src) {
			return j, esc, jsonErr(i, "unterminated string")
		}
		switch c := src[j]; {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			if j+1 >= len(src) {
				return j, esc, jsonErr(j, "unterminated escape")
			}
			switch src[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(src) || !isHex4(src[j+2:j+6]) {
					return j, esc, jsonErr(j, "invalid \\u escape")
				}
				j += 6
			default:
				return j, esc, jsonErr(j, "invalid escape")
			}
		default: // a control character
			return j, esc, jsonErr(j, "control character in a string")
		}
	}
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// nextSpecial returns the index of the first byte at or after j that is
// '"', '\\' or a control character, or len(src). It tests 8 bytes at a time
// (SWAR): the classic zero-byte and less-than masks flag the first matching
// byte exactly (borrows only corrupt bytes above it), so its position is
// the lowest set bit.
func nextSpecial(src []byte, j int) int {
	for j+8 <= len(src) {
		x := binary.LittleEndian.Uint64(src[j:])
		quote := x ^ (ones * '"')
		bslash := x ^ (ones * '\\')
		m := ((x - ones*0x20) &^ x) | ((quote - ones) &^ quote) | ((bslash - ones) &^ bslash)
		if m &= highs; m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(src) {
		if c := src[j]; c == '"' || c == '\\' || c < 0x20 {
			return j
		}
		j++
	}
	return j
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func scanNumber(src []byte, i int) (int, error) {
	start := i
	if i < len(src) && src[i] == '-' {
		i++
	}
	if i < len(src) && src[i] == '0' {
		i++
	} else {
		d := i
		for i < len(src) && src[i]-'0' <= 9 {
			i++
		}
		if i == d {
			return start, jsonErr(start, "invalid value")
		}
	}
	if i < len(src) && src[i] == '.' {
		i++
		d := i
		for i < len(src) && src[i]-'0' <= 9 {
			i++
		}
		if i == d {
			return start, jsonErr(start, "invalid number")
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		d := i
		for i < len(src) && src[i]-'0' <= 9 {
			i++
		}
		if i == d {
			return start, jsonErr(start, "invalid number")
		}
	}
	return i, nil
}

// unescape appends the decoded content of a checked JSON string (without
// quotes) to dst. Lone surrogates become U+FFFD, as in encoding/json.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[i+2 : i+6]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, rune(hex4(s[i+2:i+6]))); r2 != utf8.RuneError {
						dst = utf8.AppendRune(dst, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

func hex4(b []byte) int {
	n := 0
	for _, c := range b {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= int(c - '0')
		case c >= 'a' && c <= 'f':
			n |= int(c-'a') + 10
		default:
			n |= int(c-'A') + 10
		}
	}
	return n
}
