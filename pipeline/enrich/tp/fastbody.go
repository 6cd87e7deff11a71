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
func fastBody(body string) (schema string, events [][]Param, ok bool) {
	if body == "" {
		return "", nil, false
	}
	data := unsafe.Slice(unsafe.StringData(body), len(body))
	i := jsondec.SkipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return "", nil, false
	}
	i++
	haveSchema, haveData := false, false
	for {
		i = jsondec.SkipSpace(data, i)
		if i >= len(data) {
			return "", nil, false
		}
		if data[i] == '}' && (haveSchema || haveData) {
			i++
			break
		}
		key, next, err := jsondec.ReadString(data, i, true)
		if err != nil {
			return "", nil, false
		}
		i = jsondec.SkipSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return "", nil, false
		}
		i = jsondec.SkipSpace(data, i+1)
		switch {
		case key == "schema" && !haveSchema:
			schema, i, err = jsondec.ReadString(data, i, false)
			if err != nil {
				return "", nil, false
			}
			haveSchema = true
		case key == "data" && !haveData:
			events, i, ok = fastEvents(data, i)
			if !ok {
				return "", nil, false
			}
			haveData = true
		default:
			return "", nil, false
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
		return "", nil, false
	}
	if !haveSchema || !haveData || jsondec.SkipSpace(data, i) != len(data) {
		return "", nil, false
	}
	return schema, events, true
}

// fastEvents reads a non-empty array of objects of strings at data[i].
func fastEvents(data []byte, i int) ([][]Param, int, bool) {
	if i >= len(data) || data[i] != '[' {
		return nil, i, false
	}
	i++
	var events [][]Param
	for {
		i = jsondec.SkipSpace(data, i)
		if i >= len(data) || data[i] != '{' {
			return nil, i, false
		}
		i++
		params := make([]Param, 0, 32)
		i = jsondec.SkipSpace(data, i)
		if i < len(data) && data[i] == '}' {
			i++
		} else {
			for {
				i = jsondec.SkipSpace(data, i)
				name, next, err := jsondec.ReadString(data, i, true)
				if err != nil {
					return nil, i, false
				}
				i = jsondec.SkipSpace(data, next)
				if i >= len(data) || data[i] != ':' {
					return nil, i, false
				}
				i = jsondec.SkipSpace(data, i+1)
				value, next, err := jsondec.ReadString(data, i, true)
				if err != nil {
					return nil, i, false // not a string: the generic path reports it
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
				return nil, i, false
			}
		}
		slices.SortFunc(params, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
		for k := 1; k < len(params); k++ {
			if params[k].Name == params[k-1].Name {
				return nil, i, false // a repeated name: let the generic path apply JSON's rules
			}
		}
		events = append(events, params)
		i = jsondec.SkipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i++
			continue
		}
		if i < len(data) && data[i] == ']' {
			return events, i + 1, true
		}
		return nil, i, false
	}
}
