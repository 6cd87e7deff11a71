package micro

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/plowline/plowline/pipeline/event"
)

// appendEvent appends the enriched event as Snowplow Micro's GoodEvent.event
// shows it: the Scala analytics SDK's Event encoded as JSON. That shape is
// not the flattened one of the SDKs' toJson (event.AppendJSON): every one
// of the 131 fields is present, in TSV order, null when empty; contexts and
// derived_contexts stay self-describing objects ({} when there are none)
// and unstruct_event stays its self-describing wrapper (null when none).
//
// A typed field whose text does not parse is written as a string rather
// than failing, because the pseudonymized view carries hex pseudonyms in
// typed columns (geo_latitude, user_ipaddress, ...).
func appendEvent(dst []byte, e *event.Event) []byte {
	dst = append(dst, '{')
	for i := range e {
		f := event.Field(i)
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, f.Name()...)
		dst = append(dst, '"', ':')
		dst = appendValue(dst, f.Kind(), e[i])
	}
	return append(dst, '}')
}

func appendValue(dst []byte, k event.Kind, v string) []byte {
	if v == "" {
		if k == event.KindContexts {
			// The SDK encodes an empty contexts list as an empty object.
			return append(dst, '{', '}')
		}
		return append(dst, "null"...)
	}
	switch k {
	case event.KindInt:
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return append(dst, v...)
		}
	case event.KindFloat:
		if validNumber(v) {
			return append(dst, v...)
		}
	case event.KindBool:
		switch v {
		case "1", "true":
			return append(dst, "true"...)
		case "0", "false":
			return append(dst, "false"...)
		}
	case event.KindTimestamp:
		if event.ValidTimestamp(v) {
			return appendInstant(dst, v)
		}
	case event.KindContexts, event.KindUnstruct:
		if json.Valid([]byte(v)) && strings.HasPrefix(v, "{") {
			return append(dst, v...)
		}
	}
	return event.AppendJSONString(dst, v)
}

// appendInstant writes a TSV timestamp (yyyy-MM-dd HH:mm:ss.SSS, UTC) as
// Java's Instant.toString does, which is how the Scala SDK's events carry
// them: ISO 8601 with a Z, and no fraction when the milliseconds are zero.
func appendInstant(dst []byte, v string) []byte {
	dst = append(dst, '"')
	dst = append(dst, v[:10]...)
	dst = append(dst, 'T')
	if strings.HasSuffix(v, ".000") {
		dst = append(dst, v[11:19]...)
	} else {
		dst = append(dst, v[11:]...)
	}
	return append(dst, 'Z', '"')
}

// validNumber reports whether v is a finite JSON number as written.
func validNumber(v string) bool {
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return false
	}
	var x json.Number
	return json.Unmarshal([]byte(v), &x) == nil
}

// eventInfo is what Micro's filters look at, as Micro derives it from the
// enriched event: eventType is the event column (page_view, struct,
// unstruct, ...), schema the event_vendor/name/format/version quadruple as
// an Iglu URI (absent unless all four are set), contexts the Iglu URIs of
// the entities in the contexts column (not derived_contexts), in order.
type eventInfo struct {
	EventType *string
	Schema    *string
	Contexts  []string
}

func infoOf(e *event.Event) eventInfo {
	var in eventInfo
	if v := e[event.EventType]; v != "" {
		in.EventType = &v
	}
	vendor, name, format, version := e[event.EventVendor], e[event.EventName], e[event.EventFormat], e[event.EventVersion]
	if vendor != "" && name != "" && format != "" && version != "" {
		s := "iglu:" + vendor + "/" + name + "/" + format + "/" + version
		in.Schema = &s
	}
	in.Contexts = contextSchemas(e[event.Contexts])
	return in
}

// contextSchemas lists the schemas of a contexts column's entities; a
// column that does not parse has none.
func contextSchemas(v string) []string {
	out := []string{}
	if v == "" {
		return out
	}
	var sd struct {
		Data []struct {
			Schema string `json:"schema"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(v), &sd) != nil {
		return out
	}
	for _, ent := range sd.Data {
		out = append(out, ent.Schema)
	}
	return out
}
