package jsondec

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var seeds = []string{
	`{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:a/b/jsonschema/1-0-0","data":{"id":"x","n":-1.5e+10,"ok":true,"z":null,"arr":[1,[2,{}],[]]}}]}`,
	`"\u00e9\ud83d\ude00\ud800\udc00x\ud800y\uDFFF\"\\\/\b\f\n\r\t"`,
	"\"caf\xc3\xa9 \xff\xfe bad utf8\"",
	` [ 0 , -0 , 0.5 , 1E5 , 1e-2 ] `,
	`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"e":1,"\u0065":2}`, `{}`, `[]`, `""`, `0`, `true`, `false`, `null`,
	`{"a":1}x`, `{"a":}`, `[1,]`, `01`, `1.`, `-`, `1e`, `"\x"`, `"\u12"`, "\"a\x01\"", `{"a" 1}`, `[1 2]`, `nul`, `{`, `[`, `"`,
	`{"a":[{"b":1,"c":[2,{"d":3,"e":{"f":[]}}]},{"g":4,"h":5},[{"i":6}],7],"j":{"k":8}}`,
	`"\ud800\u0041"`, `"\ud800\u12"`, `{"a":[{"b":"\u0000"}]}`,
}

// FuzzDecodeMatchesEncodingJSON checks the decoder against encoding/json
// with UseNumber (through the validator's own UnmarshalJSON): the same
// inputs accepted, the same values produced.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		got, gerr := Decode(data)
		if dupOK(t, data, werr, gerr) {
			return
		}
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: encoding/json error %v, jsondec error %v", data, werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("%q: encoding/json %#v, jsondec %#v", data, want, got)
		}
		checkShared(t, data, got, gerr)
	})
}

func TestSeeds(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, s := range append(seeds, deep(10000), deep(10001)) {
		want, werr := jsonschema.UnmarshalJSON(strings.NewReader(s))
		got, gerr := Decode([]byte(s))
		if dupOK(t, []byte(s), werr, gerr) {
			continue
		}
		if (werr == nil) != (gerr == nil) || (werr == nil && !reflect.DeepEqual(want, got)) {
			t.Errorf("%q: want %#v (%v), got %#v (%v)", s, want, werr, got, gerr)
		}
		checkShared(t, []byte(s), got, gerr)
	}
}

// dupOK handles the one intended difference from encoding/json: a repeated
// object key is refused. It reports whether data has one (found by
// encoding/json's tokenizer, independently of the decoder), failing t
// unless the decoder said so with a *DuplicateKeyError naming that key.
func dupOK(t *testing.T, data []byte, werr, gerr error) bool {
	t.Helper()
	var dk *DuplicateKeyError
	isDup := errors.As(gerr, &dk)
	key, dup := firstDuplicate(data)
	if werr != nil {
		// Invalid JSON: either error will do, as long as a reported
		// duplicate is real (the tokenizer meets it before the syntax error).
		if isDup && !dup {
			t.Fatalf("%q: invalid JSON (%v) reported as a duplicate key", data, werr)
		}
		return isDup
	}
	if dup != isDup {
		t.Fatalf("%q: tokenizer finds duplicate %v (%q), jsondec error %v", data, dup, key, gerr)
	}
	if dup {
		if _, err := DecodeShared(bytes.Clone(data)); !errors.As(err, new(*DuplicateKeyError)) {
			t.Fatalf("%q: DecodeShared error %v, want a duplicate key", data, err)
		}
	}
	return dup
}

// firstDuplicate walks data (valid JSON) with encoding/json's tokenizer
// and reports whether some object repeats a key (for invalid JSON: before
// the first syntax error). The decoder reports the
// innermost object first (it checks an object when it closes), so nested
// duplicates are compared by presence only.
func firstDuplicate(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		obj    bool
		keys   map[string]bool
		expKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.expKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k := tok.(string)
			if top.keys[k] {
				return k, true
			}
			top.keys[k] = true
			top.expKey = false
			continue
		}
		if top != nil && top.obj {
			top.expKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, expKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// TestDuplicateKeys checks that a repeated key is refused wherever it is
// and that the error names it, including keys spelled with escapes.
func TestDuplicateKeys(t *testing.T) {
	for _, c := range []struct{ in, key string }{
		{`{"a":1,"a":2}`, "a"},
		{`{"schema":"iglu:x/ua_parser_context/jsonschema/1-0-0","data":{},"schema":"iglu:x/y/jsonschema/1-0-0","data":{}}`, "schema"},
		{`[{"data":{"environment":{},"environment":"production"}}]`, "environment"},
		{`{"e":"x","\u0065":"y"}`, "e"},
		{`{"a":{"b":[{"c":1,"c":1}]}}`, "c"},
	} {
		_, err := Decode([]byte(c.in))
		var dk *DuplicateKeyError
		if !errors.As(err, &dk) || dk.Key != c.key || !strings.Contains(err.Error(), strconv.Quote(c.key)) {
			t.Errorf("%s: error %v, want a duplicate key %q", c.in, err, c.key)
		}
	}
	if _, err := Decode([]byte(`{"a":{"a":1},"b":[{"a":2},{"a":3}]}`)); err != nil {
		t.Errorf("same key in different objects: %v", err)
	}
}

// checkShared checks DecodeShared against Decode's result on data: the
// same acceptance and values, and the values are data's bytes (changing
// data afterwards would change them, which is the caller's contract).
func checkShared(t *testing.T, data []byte, want any, werr error) {
	t.Helper()
	own := bytes.Clone(data)
	got, err := DecodeShared(own)
	if (err == nil) != (werr == nil) || (err == nil && !reflect.DeepEqual(want, got)) {
		t.Fatalf("%q: Decode %#v (%v), DecodeShared %#v (%v)", data, want, werr, got, err)
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(seeds[0])
	b.Run("jsondec", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			Decode(data)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			jsonschema.UnmarshalJSON(bytes.NewReader(data))
		}
	})
}

// TestStrSpecial checks the eight-bytes-at-a-time test against the
// byte-wise one: every byte value at every position, among plain filler
// and among other special bytes (borrows must not hide or invent a hit).
func TestStrSpecial(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }
	for _, fill := range []byte{'a', 0x21, 0x7f, 0x00, 0x5d, '"' + 1, '\\' - 1} {
		for pos := range 8 {
			for v := range 256 {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[pos] = byte(v)
				want := false
				for _, c := range w {
					want = want || special(c)
				}
				if got := strSpecial(binary.LittleEndian.Uint64(w[:])); got != want {
					t.Fatalf("% x: strSpecial %v, byte-wise %v", w, got, want)
				}
			}
		}
	}
}

// TestLimits: input at the limits decodes; one value or container more is
// ErrTooManyValues, never a partial tree.
func TestLimits(t *testing.T) {
	values := func(n int) []byte { // an array and n-1 numbers: n values
		return []byte("[" + strings.TrimSuffix(strings.Repeat("1,", n-1), ",") + "]")
	}
	containers := func(n int) []byte { // an array and n-1 empty objects
		return []byte("[" + strings.TrimSuffix(strings.Repeat("{},", n-1), ",") + "]")
	}
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"MaxValues values", values(MaxValues), true},
		{"one value more", values(MaxValues + 1), false},
		{"MaxContainers containers", containers(MaxContainers), true},
		{"one container more", containers(MaxContainers + 1), false},
	} {
		for _, dec := range []func([]byte) (any, error){Decode, DecodeShared} {
			v, err := dec(tc.in)
			if tc.ok && err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			if !tc.ok && (!errors.Is(err, ErrTooManyValues) || v != nil) {
				t.Errorf("%s: got %T, %v; want ErrTooManyValues", tc.name, v, err)
			}
		}
	}
}
