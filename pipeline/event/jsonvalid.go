package event

import (
	"encoding/binary"
	"math/bits"
)

// validJSON reports whether s is exactly one JSON value (surrounded by
// optional whitespace), as encoding/json.Valid does, without its
// allocation-free but slow state machine: contexts fields are the bulk of
// an enriched line and Parse checks them on every line.
func validJSON(s string) bool {
	i, ok := skipJSON(s, skipSpace(s, 0), 0)
	return ok && skipSpace(s, i) == len(s)
}

const maxJSONDepth = 10000 // encoding/json's own nesting limit

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func skipJSON(s string, i, depth int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		return skipString(s, i)
	case c == '{' || c == '[':
		if depth++; depth > maxJSONDepth {
			return i, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(s, i+1)
		if i < len(s) && s[i] == closer {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return i, false
				}
				if i, ok = skipString(s, i); !ok {
					return i, false
				}
				if i = skipSpace(s, i); i >= len(s) || s[i] != ':' {
					return i, false
				}
				i = skipSpace(s, i+1)
			}
			if i, ok = skipJSON(s, i, depth); !ok {
				return i, false
			}
			i = skipSpace(s, i)
			if i < len(s) && s[i] == ',' {
				i = skipSpace(s, i+1)
				continue
			}
			if i < len(s) && s[i] == closer {
				return i + 1, true
			}
			return i, false
		}
	case c == 't':
		return i + 4, len(s) >= i+4 && s[i:i+4] == "true"
	case c == 'f':
		return i + 5, len(s) >= i+5 && s[i:i+5] == "false"
	case c == 'n':
		return i + 4, len(s) >= i+4 && s[i:i+4] == "null"
	}
	return skipNumber(s, i)
}

func skipNumber(s string, i int) (int, bool) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else {
		d := i
		for i < len(s) && s[i]-'0' <= 9 {
			i++
		}
		if i == d {
			return i, false
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i]-'0' <= 9 {
			i++
		}
		if i == d {
			return i, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i]-'0' <= 9 {
			i++
		}
		if i == d {
			return i, false
		}
	}
	return i, true
}

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// skipString checks the string token at s[i] (s[i] == '"'), 8 bytes at a
// time between the bytes that matter ('"', '\\', control characters).
func skipString(s string, i int) (int, bool) {
	j := i + 1
	for {
		for j+8 <= len(s) {
			x := binary.LittleEndian.Uint64([]byte(s[j : j+8]))
			quote := x ^ (swarOnes * '"')
			bslash := x ^ (swarOnes * '\\')
			m := ((x - swarOnes*0x20) &^ x) | ((quote - swarOnes) &^ quote) | ((bslash - swarOnes) &^ bslash)
			if m &= swarHighs; m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < len(s) && s[j] != '"' && s[j] != '\\' && s[j] >= 0x20 {
			j++
		}
		if j >= len(s) || s[j] < 0x20 {
			return j, false
		}
		if s[j] == '"' {
			return j + 1, true
		}
		// A backslash escape.
		if j+1 >= len(s) {
			return j, false
		}
		switch s[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if j+6 > len(s) {
				return j, false
			}
			for _, h := range []byte(s[j+2 : j+6]) {
				if !(h-'0' <= 9 || h|0x20-'a' <= 5) {
					return j, false
				}
			}
			j += 6
		default:
			return j, false
		}
	}
}
