package micro

import (
	"encoding/json"
	"testing"

	"github.com/plowline/plowline/pipeline/event"
)

func TestEventValues(t *testing.T) {
	var e event.Event
	e[event.CollectorTstamp] = "2025-11-26 10:00:00.000" // no fraction, as Instant.toString
	e[event.DvceCreatedTstamp] = "2025-11-26 10:00:00.120"
	e[event.GeoLatitude] = "a3f1"   // a pseudonym in a typed column
	e[event.DomainSessionIdx] = "3" // int
	e[event.BrCookies] = "0"        // bool
	e[event.SeValue] = "2.50"       // float kept as written
	e[event.UnstructEvent] = "{"    // not JSON: a string, never broken output
	e[event.Contexts] = `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[]}`
	b := appendEvent(nil, &e)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	for name, want := range map[string]string{
		"collector_tstamp":    `"2025-11-26T10:00:00Z"`,
		"dvce_created_tstamp": `"2025-11-26T10:00:00.120Z"`,
		"geo_latitude":        `"a3f1"`,
		"domain_sessionidx":   `3`,
		"br_cookies":          `false`,
		"se_value":            `2.50`,
		"unstruct_event":      `"{"`,
		"derived_contexts":    `{}`,
		"app_id":              `null`,
		"contexts":            e[event.Contexts],
	} {
		if got := string(m[name]); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if len(m) != event.NumFields {
		t.Errorf("%d fields, want %d", len(m), event.NumFields)
	}
}
