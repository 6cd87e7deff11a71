package enrich

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"unsafe"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/enrich/iglu"
	"github.com/plowline/plowline/pipeline/enrich/jsondec"
	"github.com/plowline/plowline/pipeline/enrich/tp"
	"github.com/plowline/plowline/pipeline/event"
)

// Criteria of the wrappers the co/cx and ue_pr/ue_px parameters must hold.
const (
	contextsCriterion = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-*-*"
	unstructCriterion = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-*-*"
)

// decodeSDJParam returns the JSON text of a co/cx/ue_pr/ue_px parameter,
// decoding base64 for cx and ue_px. A base64 failure is a failure of the
// event's input (an atomic parse error, schema_violations as in Snowplow
// enrich); what the JSON holds is checked by validateSDJ.
//
// The JSON comes back twice without a copy: as bytes for the decoder and
// as a string sharing them (the bytes are never modified afterwards).
func (s *state) decodeSDJParam(field, v string) ([]byte, string, bool) {
	if field == "cx" || field == "ue_px" {
		b, err := tp.DecodeBase64(v)
		if err != nil {
			s.parseErr(field, v, "base64 (standard or URL-safe alphabet) of JSON ("+err.Error()+")")
			return nil, "", false
		}
		if len(b) == 0 {
			return b, "", true
		}
		return b, unsafe.String(&b[0], len(b)), true
	}
	return unsafe.Slice(unsafe.StringData(v), len(v)), v, true
}

// selfDescribing splits a decoded value into its schema key and data, or
// records why it is not a self-describing JSON.
func (s *state) selfDescribing(field string, raw json.Marshaler, inst any) (iglu.SchemaKey, any, bool) {
	m, ok := inst.(map[string]any)
	if !ok {
		s.sdj = append(s.sdj, badrow.NotIglu(raw, badrow.InvalidDataPayload))
		return iglu.SchemaKey{}, nil, false
	}
	schema, ok := m["schema"].(string)
	if !ok {
		s.sdj = append(s.sdj, badrow.NotIglu(raw, badrow.InvalidSchema))
		return iglu.SchemaKey{}, nil, false
	}
	data, ok := m["data"]
	if !ok {
		s.sdj = append(s.sdj, badrow.NotIglu(raw, badrow.InvalidDataPayload))
		return iglu.SchemaKey{}, nil, false
	}
	key, err := iglu.ParseURI(schema)
	if err != nil {
		code := badrow.InvalidIgluURI
		var sv iglu.ErrSchemaVer
		if errors.As(err, &sv) {
			code = badrow.InvalidSchemaVer
		}
		s.sdj = append(s.sdj, badrow.NotIglu(raw, code))
		return iglu.SchemaKey{}, nil, false
	}
	return key, data, true
}

func isWrapper(k iglu.SchemaKey, name string) bool {
	return k.Vendor == tp.Vendor && k.Name == name && k.Format == "jsonschema" && k.Model == 1
}

// validateSDJ checks the contexts or unstruct_event parameter and, if it
// is valid, stores its compacted JSON in the event.
func (e *Enricher) validateSDJ(ctx context.Context, s *state, field, value string, unstruct bool) {
	raw, text, ok := s.decodeSDJParam(field, value)
	if !ok {
		return
	}
	// raw is never modified (text shares it too), so the decoded strings
	// may share it as well.
	inst, err := jsondec.DecodeShared(raw)
	if err != nil {
		v := text
		s.sdj = append(s.sdj, badrow.NotJSON(field, &v, err.Error()))
		return
	}
	key, data, ok := s.selfDescribing(field, json.RawMessage(raw), inst)
	if !ok {
		return
	}
	valid := true
	check := func(k iglu.SchemaKey, d any) {
		if wrapperAccepts(k, d) {
			return // what validating against the embedded wrapper would accept
		}
		if err := e.resolver.Validate(ctx, k, d); err != nil {
			s.sdj = append(s.sdj, iglu.BadRowMessage(k, err))
			valid = false
		}
	}
	if unstruct {
		if !isWrapper(key, "unstruct_event") {
			s.sdj = append(s.sdj, badrow.CriterionMismatch(key.String(), unstructCriterion))
			return
		}
		check(key, data)
		if !valid {
			return
		}
		inner, idata, ok := s.selfDescribing(field, lazyJSON{data}, data)
		if !ok {
			return
		}
		check(inner, idata)
		// The event's identity is its schema's, valid or not: bad rows and
		// counts by event name stay meaningful.
		s.ev[event.EventVendor], s.ev[event.EventName] = inner.Vendor, inner.Name
		s.ev[event.EventFormat], s.ev[event.EventVersion] = inner.Format, inner.Version()
	} else {
		if !isWrapper(key, "contexts") {
			s.sdj = append(s.sdj, badrow.CriterionMismatch(key.String(), contextsCriterion))
			return
		}
		check(key, data)
		if !valid {
			return
		}
		items, _ := data.([]any)
		for _, it := range items {
			ik, idata, ok := s.selfDescribing(field, lazyJSON{it}, it)
			if !ok {
				valid = false
				continue
			}
			check(ik, idata)
		}
	}
	// Written as Snowplow writes it (sdjnorm.go): contexts 1-0-1, schema
	// before data, compact, strings re-escaped. A shape the printer does
	// not expect (possible only for an invalid event) keeps the JSON as
	// sent, minus insignificant whitespace, for the bad row.
	f := event.Contexts
	norm := normalizeContexts
	if unstruct {
		f, norm = event.UnstructEvent, normalizeUnstruct
	}
	if n, nerr := norm(raw); nerr == nil {
		s.ev[f] = n
		return
	}
	text, err = compact(raw, text)
	if err != nil {
		v := string(raw)
		s.sdj = append(s.sdj, badrow.NotJSON(field, &v, err.Error()))
		return
	}
	// Stored even when invalid: the schema_violations row's enriched event
	// then carries the full JSON for reprocessing.
	s.ev[f] = text
}

// lazyJSON renders a decoded value only if a bad row needs it.
type lazyJSON struct{ v any }

// MarshalJSON implements json.Marshaler.
func (l lazyJSON) MarshalJSON() ([]byte, error) { return json.Marshal(l.v) }

// compact returns JSON text without insignificant whitespace. Trackers
// send JSON.stringify output, which has none: then raw is used as it is.
func compact(raw []byte, text string) (string, error) {
	if bytes.IndexAny(raw, " \t\r\n") < 0 {
		return text, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// wrapperAccepts reports whether data has the shape the embedded wrapper
// schema (contexts 1-0-0/1-0-1, unstruct_event 1-0-0) requires, so the
// generic validator, which would accept it, can be skipped. The wrappers
// always resolve from the embedded registry first; a test keeps this in
// step with the schemas. False means "run the validator", never "invalid".
func wrapperAccepts(key iglu.SchemaKey, data any) bool {
	if key.Vendor != tp.Vendor || key.Format != "jsonschema" || key.Model != 1 || key.Revision != 0 {
		return false
	}
	switch {
	case key.Name == "contexts" && key.Addition <= 1:
		items, ok := data.([]any)
		if !ok || (key.Addition == 0 && len(items) == 0) {
			return false
		}
		for _, it := range items {
			if !selfDescribingShape(it) {
				return false
			}
		}
		return true
	case key.Name == "unstruct_event" && key.Addition == 0:
		return selfDescribingShape(data)
	}
	return false
}

// selfDescribingShape: an object with exactly "schema" (a string matching
// ^iglu:[a-zA-Z0-9-_.]+/[a-zA-Z0-9-_]+/[a-zA-Z0-9-_]+/[0-9]+-[0-9]+-[0-9]+$)
// and "data".
func selfDescribingShape(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 2 {
		return false
	}
	if _, ok := m["data"]; !ok {
		return false
	}
	s, ok := m["schema"].(string)
	if !ok {
		return false
	}
	rest, ok := strings.CutPrefix(s, "iglu:")
	if !ok {
		return false
	}
	word := func(dot bool) bool {
		n := 0
		for n < len(rest) {
			c := rest[n]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || (dot && c == '.') {
				n++
				continue
			}
			break
		}
		rest = rest[n:]
		return n > 0
	}
	digits := func() bool {
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		rest = rest[n:]
		return n > 0
	}
	sep := func(c byte) bool {
		if rest == "" || rest[0] != c {
			return false
		}
		rest = rest[1:]
		return true
	}
	return word(true) && sep('/') && word(false) && sep('/') && word(false) && sep('/') &&
		digits() && sep('-') && digits() && sep('-') && digits() && rest == ""
}
