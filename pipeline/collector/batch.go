package collector

import (
	"bytes"
	"encoding/json"
)

// batch is a self-describing payload_data body, {"schema": ..., "data": [...]},
// as trackers POST it: the raw schema value (a sub-slice of the body) and
// the number of events.
type batch struct {
	schema []byte // the raw JSON value of "schema" (nil if absent)
	count  int    // the number of elements of "data"
	data   int    // the offset of the "data" array (of the last one, as encoding/json keeps the last)
}

// countBatch reads a tp2 body in one pass. It accepts exactly what
// encoding/json accepts as an object whose "data" member is an array
// (FuzzParseBatch checks this), so the event count the collector reports is
// the number of events enrich will see. It is hand-written because it runs
// on every POST: encoding/json would validate the body, then scan it
// again and copy every event.
func countBatch(body []byte) (batch, bool) {
	s := scanner{b: body}
	var out batch
	haveData := false
	s.ws()
	if !s.eat('{') {
		return batch{}, false
	}
	s.ws()
	if !s.eat('}') {
		for {
			s.ws()
			kStart := s.i
			if !s.str() {
				return batch{}, false
			}
			key := body[kStart:s.i]
			s.ws()
			if !s.eat(':') {
				return batch{}, false
			}
			s.ws()
			vStart := s.i
			switch keyName(key) {
			case "data":
				if s.peek() != '[' {
					// Present but not an array: enrich sees one bad payload.
					if !s.value(0) {
						return batch{}, false
					}
					haveData = false
					out.count = 0
					break
				}
				out.data = s.i
				n, ok := s.array()
				if !ok {
					return batch{}, false
				}
				out.count, haveData = n, true
			case "schema":
				if !s.value(0) {
					return batch{}, false
				}
				out.schema = body[vStart:s.i]
			default:
				if !s.value(0) {
					return batch{}, false
				}
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			if s.eat('}') {
				break
			}
			return batch{}, false
		}
	}
	s.ws()
	if s.i != len(body) || !haveData {
		return batch{}, false
	}
	return out, true
}

// keyName returns the key's text; keys with escapes (rare) are decoded.
func keyName(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		switch string(inner) { // no allocation for these comparisons
		case "data":
			return "data"
		case "schema":
			return "schema"
		}
		return ""
	}
	var k string
	if json.Unmarshal(raw, &k) != nil {
		return ""
	}
	return k
}

// maxDepth bounds nesting, as encoding/json does, so deep input cannot
// exhaust the stack.
const maxDepth = 10000

type scanner struct {
	b    []byte
	i    int
	each func(start, end int) // told the span of each element of "data" (nil: only count)
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// array reads the "data" array: its element count, reporting each
// element's span if asked.
func (s *scanner) array() (int, bool) {
	s.i++ // '['
	s.ws()
	if s.eat(']') {
		return 0, true
	}
	n := 0
	for {
		s.ws()
		start := s.i
		if !s.value(1) {
			return 0, false
		}
		n++
		if s.each != nil {
			s.each(start, s.i)
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat(']') {
			return n, true
		}
		return 0, false
	}
}

func (s *scanner) value(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch s.peek() {
	case '"':
		return s.str()
	case '{':
		s.i++
		s.ws()
		if s.eat('}') {
			return true
		}
		for {
			s.ws()
			if !s.str() {
				return false
			}
			s.ws()
			if !s.eat(':') {
				return false
			}
			s.ws()
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat('}')
		}
	case '[':
		s.i++
		s.ws()
		if s.eat(']') {
			return true
		}
		for {
			s.ws()
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	default:
		return s.num()
	}
}

func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

func (s *scanner) str() bool {
	if !s.eat('"') {
		return false
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return false
					}
				}
				s.i += 5
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			s.i++
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *scanner) num() bool {
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.peek() >= '1' && s.peek() <= '9':
		s.digits()
	default:
		return false
	}
	if s.eat('.') && s.digits() == 0 {
		return false
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// eachEvent calls each with the span of every element of the "data"
// array of body, in order, as it finds them, so a caller that splits a
// batch never holds a list of its events (a 1 MiB body of "{}" items is
// 340,000 of them). b must be what countBatch(body) returned, with ok.
func (b batch) eachEvent(body []byte, each func(start, end int)) {
	s := scanner{b: body, i: b.data, each: each}
	s.array()
}

// bodyFor rebuilds a payload_data body holding events (raw elements of a
// "data" array, comma-separated), as Snowplow's collector does when it
// splits a batch across records.
func (b batch) bodyFor(events []byte) []byte {
	out := make([]byte, 0, len(`{"schema":,"data":[]}`)+len(b.schema)+len(events))
	out = append(out, `{"schema":`...)
	out = append(out, b.schema...)
	out = append(out, `,"data":[`...)
	out = append(out, events...)
	return append(out, "]}"...)
}
