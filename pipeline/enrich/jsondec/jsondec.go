// Package jsondec decodes JSON into the generic tree the schema validator
// works on — map[string]any, []any, string, json.Number, bool, nil —
// exactly as encoding/json with UseNumber does (same values, same
// acceptance), in one pass and with fewer allocations. Enriching an event
// decodes its contexts and tracker-protocol body; with encoding/json that
// was the largest share of the enricher's time.
package jsondec

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// MaxValues and MaxContainers bound what one Decode builds. The tree costs
// tens of bytes per value and hundreds per object (a map), up to ~40 times
// the input for bodies of tiny objects, so without a bound one 1 MiB
// request held ~55 MiB per enricher worker. A tp2 batch of 500 events of
// ~130 string fields is ~65,000 values in ~500 objects; the limits leave
// room for that and cap the tree at a few MiB. MaxContainers also bounds
// nesting at encoding/json's own depth limit (10,000), so deep input
// cannot exhaust the stack.
const (
	MaxValues     = 100_000
	MaxContainers = 10_000
)

// ErrTooManyValues is returned for input of more than MaxValues values or
// MaxContainers objects and arrays.
var ErrTooManyValues = fmt.Errorf("more than %d JSON values or %d objects and arrays (the limits that bound the decoder's memory)", MaxValues, MaxContainers)

// SyntaxError says where the input stopped being JSON.
type SyntaxError struct {
	Offset int
	msg    string
}

// Error implements error.
func (e *SyntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.Offset) }

// DuplicateKeyError reports an object that names the same key twice.
// encoding/json would keep the last value; plowline refuses such input
// outright because two readers of the same text (the validator and the
// pseudonymizer) could otherwise pick different values, so a value that
// was never validated could pass as one that was.
type DuplicateKeyError struct {
	// Key is the repeated key (decoded), Offset the index just after the
	// object holding it.
	Key    string
	Offset int
}

// Error implements error; it names the key, quoted and clipped to 64 bytes.
func (e *DuplicateKeyError) Error() string {
	k := e.Key
	if len(k) > 64 {
		k = k[:64] + "..."
	}
	return fmt.Sprintf("duplicate object key %q in the object ending at offset %d", k, e.Offset)
}

// Decode decodes one JSON value; anything but whitespace after it is an
// error, and so is an object with a repeated key (*DuplicateKeyError).
func Decode(data []byte) (any, error) { return decode(data, false) }

// DecodeShared is Decode for data the caller never modifies afterwards:
// strings without escapes and numbers share data's memory instead of
// being copied, one allocation fewer per string and number. The decoded
// values keep data alive; a long-lived copy of one must be cloned.
func DecodeShared(data []byte) (any, error) { return decode(data, true) }

// scratch holds the members of the objects and arrays being decoded, so
// that each map and slice is made once at its final size: no map growth
// and rehashing for objects of more than eight members.
type scratch struct {
	keys []string
	vals []any
}

var scratchPool = sync.Pool{New: func() any { return &scratch{keys: make([]string, 0, 64), vals: make([]any, 0, 64)} }}

func decode(data []byte, alias bool) (any, error) {
	sc := scratchPool.Get().(*scratch)
	d := decoder{data: data, alias: alias, sc: sc}
	defer func() {
		// Drop references to the decoded values before pooling (an error
		// leaves members behind).
		clear(sc.keys[:cap(sc.keys)])
		clear(sc.vals[:cap(sc.vals)])
		sc.keys, sc.vals = sc.keys[:0], sc.vals[:0]
		if cap(sc.vals) <= 4096 && cap(sc.keys) <= 4096 {
			scratchPool.Put(sc)
		}
	}()
	d.ws()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.data) {
		return nil, d.err("invalid character after top-level value")
	}
	return v, nil
}

type decoder struct {
	data  []byte
	i     int
	alias bool // see ReadString
	n     int  // values decoded so far, against MaxValues
	// containers counts objects and arrays, against MaxContainers.
	containers int
	sc         *scratch // nil for a decoder that reads no object or array
}

func (d *decoder) err(msg string) error { return &SyntaxError{Offset: d.i, msg: msg} }

func (d *decoder) ws() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value() (any, error) {
	if d.n++; d.n > MaxValues {
		return nil, ErrTooManyValues
	}
	if d.i >= len(d.data) {
		return nil, d.err("unexpected end of JSON input")
	}
	switch c := d.data[d.i]; {
	case c == '{' || c == '[':
		if d.containers++; d.containers > MaxContainers {
			return nil, ErrTooManyValues
		}
		if c == '[' {
			return d.array()
		}
		return d.object()
	case c == '"':
		return d.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	default:
		return nil, d.err(fmt.Sprintf("invalid character %q looking for beginning of value", c))
	}
}

func (d *decoder) literal(lit string, v any) (any, error) {
	if len(d.data)-d.i < len(lit) || string(d.data[d.i:d.i+len(lit)]) != lit {
		return nil, d.err("invalid literal")
	}
	d.i += len(lit)
	return v, nil
}

func (d *decoder) object() (any, error) {
	d.i++ // {
	d.ws()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return make(map[string]any), nil
	}
	// Arrays push values only: the two stacks have their own bases.
	kbase, vbase := len(d.sc.keys), len(d.sc.vals)
	for {
		d.ws()
		if d.i >= len(d.data) {
			return nil, d.err("unexpected end of JSON input")
		}
		if d.data[d.i] != '"' {
			return nil, d.err("invalid character looking for beginning of object key string")
		}
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		d.ws()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, d.err("expected ':' after object key")
		}
		d.i++
		d.ws()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.sc.keys = append(d.sc.keys, k)
		d.sc.vals = append(d.sc.vals, v)
		d.ws()
		if d.i >= len(d.data) {
			return nil, d.err("unexpected end of JSON input")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			keys, vals := d.sc.keys[kbase:], d.sc.vals[vbase:]
			m := make(map[string]any, len(keys))
			for j, k := range keys {
				m[k] = vals[j]
			}
			if len(m) != len(keys) {
				return nil, &DuplicateKeyError{Key: repeated(keys), Offset: d.i}
			}
			clear(keys)
			clear(vals)
			d.sc.keys, d.sc.vals = d.sc.keys[:kbase], d.sc.vals[:vbase]
			return m, nil
		default:
			return nil, d.err("expected ',' or '}' after object value")
		}
	}
}

// repeated returns the first key of keys that occurs twice (there is one).
func repeated(keys []string) string {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			return k
		}
		seen[k] = true
	}
	return ""
}

func (d *decoder) array() (any, error) {
	d.i++ // [
	d.ws()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return []any{}, nil
	}
	base := len(d.sc.vals)
	for {
		d.ws()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.sc.vals = append(d.sc.vals, v)
		d.ws()
		if d.i >= len(d.data) {
			return nil, d.err("unexpected end of JSON input")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			vals := d.sc.vals[base:]
			a := make([]any, len(vals))
			copy(a, vals)
			clear(vals)
			d.sc.vals = d.sc.vals[:base]
			return a, nil
		default:
			return nil, d.err("expected ',' or ']' after array element")
		}
	}
}

func (d *decoder) number() (any, error) {
	start := d.i
	if d.data[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.data) && d.data[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return nil, d.err("invalid number")
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, d.err("invalid number: no digits after decimal point")
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.err("invalid number: no digits in exponent")
		}
	}
	if d.alias {
		return json.Number(unsafe.String(&d.data[start], d.i-start)), nil
	}
	return json.Number(d.data[start:d.i]), nil
}

// keys are object keys met again and again (the tracker protocol's
// parameters, the self-describing envelope): returned without allocating.
var keys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"schema", "data", "e", "p", "tv", "tna", "aid", "eid", "dtm", "stm", "ttm", "tz", "uid",
		"duid", "nuid", "tnuid", "sid", "vid", "ip", "ua", "url", "page", "refr", "res", "vp", "ds", "cd", "cs", "lang",
		"cookie", "fp", "co", "cx", "ue_pr", "ue_px", "se_ca", "se_ac", "se_la", "se_pr", "se_va", "tid", "f_pdf",
		"f_fla", "f_java", "f_qt", "f_realp", "f_wma", "f_dir", "f_gears", "f_ag", "pp_mix", "pp_max", "pp_miy", "pp_may",
		"id", "environment", "source", "plan", "extra", "user_id", "project_id", "namespace_id", "context_generated_at",
		"realm", "instance_id", "host_name", "correlation_id", "targetUrl", "elementId", "elementClasses"} {
		m[k] = k
	}
	return m
}()

// key decodes an object key, reusing the interned copy of common keys.
func (d *decoder) key() (string, error) {
	start := d.i + 1
	for j := start; j < len(d.data); j++ {
		c := d.data[j]
		if c == '"' {
			if k, ok := keys[string(d.data[start:j])]; ok { // no allocation: map lookup by []byte
				d.i = j + 1
				return k, nil
			}
			break
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
	}
	return d.str()
}

// ReadString decodes the JSON string whose opening quote is at data[i],
// returning it and the index after its closing quote. If alias is true, a
// string of plain ASCII without escapes shares data's memory instead of
// being copied: only for callers that never modify data afterwards.
func ReadString(data []byte, i int, alias bool) (string, int, error) {
	if i >= len(data) || data[i] != '"' {
		return "", i, &SyntaxError{Offset: i, msg: "expected a string"}
	}
	d := decoder{data: data, i: i, alias: alias}
	s, err := d.str()
	return s, d.i, err
}

// SkipSpace returns the index of the first non-whitespace byte at or after i.
func SkipSpace(data []byte, i int) int {
	d := decoder{data: data, i: i}
	d.ws()
	return d.i
}

// str decodes a string starting at its opening quote.
func (d *decoder) str() (string, error) {
	d.i++ // "
	start := d.i
	// Fast path: printable ASCII without escapes, eight bytes at a time
	// (contexts and base64 values run to kilobytes), then byte by byte.
	for d.i+8 <= len(d.data) && !strSpecial(binary.LittleEndian.Uint64(d.data[d.i:])) {
		d.i += 8
	}
	for d.i < len(d.data) {
		c := d.data[d.i]
		if c == '"' {
			var s string
			if d.alias && d.i > start {
				s = unsafe.String(&d.data[start], d.i-start)
			} else {
				s = string(d.data[start:d.i])
			}
			d.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		d.i++
	}
	buf := make([]byte, d.i-start, d.i-start+16)
	copy(buf, d.data[start:d.i])
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return string(buf), nil
		case c < 0x20:
			return "", d.err("invalid character in string literal")
		case c == '\\':
			d.i++
			if d.i >= len(d.data) {
				return "", d.err("unexpected end of JSON input")
			}
			e := d.data[d.i]
			d.i++
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", d.err("invalid \\u escape in string")
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by a low one is one rune;
					// anything else is U+FFFD, as encoding/json does.
					if d.i+1 < len(d.data) && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
						save := d.i
						d.i += 2
						r2, ok := d.hex4()
						if !ok {
							return "", d.err("invalid \\u escape in string")
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							continue
						}
						d.i = save
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", d.err("invalid escape in string")
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.data[d.i:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, "\uFFFD"...)
			} else {
				buf = append(buf, d.data[d.i:d.i+size]...)
			}
			d.i += size
		}
	}
	return "", d.err("unexpected end of JSON input")
}

const (
	lsbs = 0x0101010101010101
	msbs = 0x8080808080808080
)

// strSpecial reports whether any of the eight bytes in w ends the fast
// path of a string: '"', '\\', a control character or a non-ASCII byte.
// (w-lsbs)&^w&msbs is nonzero exactly when some byte of w is zero, and
// (w-n*lsbs)&^w&msbs when some byte is below n (n <= 0x80).
func strSpecial(w uint64) bool {
	q := w ^ ('"' * lsbs)
	b := w ^ ('\\' * lsbs)
	return ((q-lsbs)&^q|(b-lsbs)&^b|(w-0x20*lsbs)&^w|w)&msbs != 0
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.data)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r, true
}
