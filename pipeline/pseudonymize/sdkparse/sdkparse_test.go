package sdkparse

import (
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/event"
)

// TestCheck: a well-typed line passes; each kind of value the SDKs refuse
// is named by its field.
func TestCheck(t *testing.T) {
	var ev event.Event
	ev[event.AppID], ev[event.PageURLPort], ev[event.TrTotal], ev[event.BrCookies] = "app", "443", "99.95", "1"
	ev[event.CollectorTstamp] = "2026-11-26 13:00:00.123"
	ev[event.Contexts] = `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:a.b/c/jsonschema/1-0-0","data":{}}]}`
	if err := Check(string(ev.AppendTSV(nil))); err != nil {
		t.Fatalf("well-typed line refused: %v", err)
	}
	for field, bad := range map[event.Field]string{
		event.PageURLPort:     "a3f0c2",
		event.TrTotal:         "1,5",
		event.BrCookies:       "yes",
		event.CollectorTstamp: "2026-11-26T13:00:00Z",
		event.Contexts:        `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"6b86b273ff34fce1","data":{}}]}`,
		event.UnstructEvent:   `{"schema":"not an uri","data":{}}`,
	} {
		e := ev
		e[field] = bad
		err := Check(string(e.AppendTSV(nil)))
		if err == nil || !strings.HasPrefix(err.Error(), field.Name()) {
			t.Errorf("%s = %q: %v, want an error naming the field", field.Name(), bad, err)
		}
	}
	if err := Check("a\tb"); err == nil {
		t.Error("a 2-field line accepted")
	}
}
