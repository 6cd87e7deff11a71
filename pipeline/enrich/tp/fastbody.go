package tp

import (
	"slices"
	"strings"
	"unsafe"

	"github.com/plowline/plowline/pipeline/enrich/jsondec"
)

// fastBody reads the common tp2 body — {"schema": "...", "data": [ {"k":
// "v", ...}, ... ]}, every event an object of strings — straight into
// parameter lists, without a generic JSON tree. Parameter values without
// escapes share the body's memory (the payload's Body string, immutable).
// ok is false for anything else (other keys, other value types, duplicate
// names, malformed JSON): the caller then takes the generic path, which
// decides what is wrong and reports it.
//
// Only the first MaxEventsPerPayload events are decoded into parameter
// lists (issue 12: a 1 MB body of "{}" items is 340,000 events); the ones
// after are only checked for syntax, reusing one scratch list, and
// counted. fb.items are the first events' raw JSON, fb.rest the following
// events' raw JSON up to maxRestBytes (what the size_violation keeps).
func fastBody(body string) (schema string, fb fastBatch, ok bool) {
	if body == "" {
		return "", fb, false
	}
	data := unsafe.Slice(unsafe.StringData(body), len(body))
	i := jsondec.SkipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return "", fb, false
	}
	i++
	haveSchema, haveData := false, false
	for {
		i = jsondec.SkipSpace(data, i)
		if i >= len(data) {
			return "", fb, false
		}
		if data[i] == '}' && (haveSchema || haveData) {
			i++
			break
		}
		key, next, err := jsondec.ReadString(data, i, true)
		if err != nil {
			return "", fb, false
		}
		i = jsondec.SkipSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return "", fb, false
		}
		i = jsondec.SkipSpace(data, i+1)
		switch {
		case key == "schema" && !haveSchema:
			schema, i, err = jsondec.ReadString(data, i, false)
			if err != nil {
				return "", fb, false
			}
			haveSchema = true
		case key == "data" && !haveData:
			fb, i, ok = fastEvents(data, i)
			if !ok {
				return "", fb, false
			}
			haveData = true
		default:
			return "", fb, false
		}
		i = jsondec.SkipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i++
			continue
		}
		if i < len(data) && data[i] == '}' {
			i++
			break
		}
		return "", fb, false
	}
	if !haveSchema || !haveData || jsondec.SkipSpace(data, i) != len(data) {
		return "", fb, false
	}
	return schema, fb, true
}

// fastBatch is what fastEvents read: the parameter lists and raw JSON of
// the first MaxEventsPerPayload events, the raw JSON of the events after
// them (up to maxRestBytes), and how many events the array holds.
type fastBatch struct {
	events [][]Param
	items  [][]byte
	rest   [][]byte
	total  int
}

// fastEvents reads a non-empty array of objects of strings at data[i].
func fastEvents(data []byte, i int) (fastBatch, int, bool) {
	var fb fastBatch
	if i >= len(data) || data[i] != '[' {
		return fb, i, false
	}
	i++
	var scratch []Param // reused for the events past the cap
	restBytes := 0
	for {
		i = jsondec.SkipSpace(data, i)
		if i >= len(data) || data[i] != '{' {
			return fb, i, false
		}
		start := i
		i++
		capped := fb.total >= MaxEventsPerPayload
		var params []Param
		if capped {
			params = scratch[:0]
		} else {
			params = make([]Param, 0, 32)
		}
		i = jsondec.SkipSpace(data, i)
		if i < len(data) && data[i] == '}' {
			i++
		} else {
			for {
				i = jsondec.SkipSpace(data, i)
				name, next, err := jsondec.ReadString(data, i, true)
				if err != nil {
					return fb, i, false
				}
				i = jsondec.SkipSpace(data, next)
				if i >= len(data) || data[i] != ':' {
					return fb, i, false
				}
				i = jsondec.SkipSpace(data, i+1)
				value, next, err := jsondec.ReadString(data, i, true)
				if err != nil {
					return fb, i, false // not a string: the generic path reports it
				}
				params = append(params, Param{Name: name, Value: value})
				i = jsondec.SkipSpace(data, next)
				if i < len(data) && data[i] == ',' {
					i++
					continue
				}
				if i < len(data) && data[i] == '}' {
					i++
					break
				}
				return fb, i, false
			}
		}
		slices.SortFunc(params, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
		for k := 1; k < len(params); k++ {
			if params[k].Name == params[k-1].Name {
				return fb, i, false // a repeated name: let the generic path apply JSON's rules
			}
		}
		raw := data[start:i:i]
		switch {
		case !capped:
			fb.events = append(fb.events, params)
			fb.items = append(fb.items, raw)
		case restBytes+len(raw) <= maxRestBytes:
			fb.rest = append(fb.rest, raw)
			restBytes += len(raw) + 1
			scratch = params
		default:
			scratch = params
		}
		fb.total++
		i = jsondec.SkipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i++
			continue
		}
		if i < len(data) && data[i] == ']' {
			return fb, i + 1, true
		}
		return fb, i, false
	}
}
