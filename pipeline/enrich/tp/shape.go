package tp

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"github.com/plowline/plowline/pipeline/enrich/iglu"
)

// shape is what a payload_data schema asks of each event: an object whose
// properties are all strings, drawn from a fixed set, some required.
type shape struct {
	props    map[string]bool
	required []string
}

func (s *shape) accepts(m map[string]any) bool {
	for k, v := range m {
		if _, isStr := v.(string); !isStr || !s.props[k] {
			return false
		}
	}
	for _, r := range s.required {
		if _, ok := m[r]; !ok {
			return false
		}
	}
	return true
}

// acceptsParams reports whether every event (parameters sorted by name,
// no repeats) has the shape.
func (s *shape) acceptsParams(events [][]Param) bool {
	for _, ps := range events {
		for _, p := range ps {
			if !s.props[p.Name] {
				return false
			}
		}
		for _, r := range s.required {
			if _, found := slices.BinarySearchFunc(ps, r, func(p Param, name string) int { return strings.Compare(p.Name, name) }); !found {
				return false
			}
		}
	}
	return true
}

var (
	shapesOnce sync.Once
	shapes     map[string]*shape
)

// payloadDataShape returns the shape of an embedded payload_data version.
// The wrappers resolve from the embedded registry first, so the shape is
// exactly what validation would check. It only applies to schemas of the
// form it recognises (items of string properties, additionalProperties
// false); for anything else the full validator runs.
func payloadDataShape(key iglu.SchemaKey) (*shape, bool) {
	shapesOnce.Do(func() {
		shapes = map[string]*shape{}
		reg := iglu.Embedded()
		for add := 0; add < 10; add++ {
			k := iglu.SchemaKey{Vendor: Vendor, Name: "payload_data", Format: "jsonschema", Model: 1, Addition: add}
			raw, err := reg.Lookup(context.Background(), k)
			if err != nil {
				continue
			}
			var doc struct {
				Type     string `json:"type"`
				MinItems int    `json:"minItems"`
				Items    struct {
					Type                 string                    `json:"type"`
					Properties           map[string]map[string]any `json:"properties"`
					Required             []string                  `json:"required"`
					AdditionalProperties *bool                     `json:"additionalProperties"`
				} `json:"items"`
			}
			if json.Unmarshal(raw, &doc) != nil || doc.Type != "array" || doc.Items.Type != "object" ||
				doc.Items.AdditionalProperties == nil || *doc.Items.AdditionalProperties {
				continue
			}
			sh := &shape{props: map[string]bool{}, required: doc.Items.Required}
			simple := true
			for name, p := range doc.Items.Properties {
				if len(p) != 1 || p["type"] != "string" {
					simple = false
				}
				sh.props[name] = true
			}
			if simple {
				shapes[k.Path()] = sh
			}
		}
	})
	s, ok := shapes[key.Path()]
	return s, ok
}
