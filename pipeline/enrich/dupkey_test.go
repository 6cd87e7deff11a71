package enrich

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
)

// TestDuplicateKeysRefused: a repeated key anywhere in tracker JSON (the
// co/cx contexts, the ue_pr/ue_px event, the tp2 body) makes a bad row
// naming the key, never an enriched event: the validator and the
// pseudonymizer must not be able to read different values from one text.
func TestDuplicateKeysRefused(t *testing.T) {
	e, _ := newTestEnricher(t)
	ctx := context.Background()
	const planted = "x@example.com"
	// The attack: a fully allowlisted schema first, the real one last.
	swapped := `{"schema":"iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0","data":{"email":"` + planted + `"},` +
		`"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"` + webPageID + `"}}`
	repeatedProp := `{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":{"e":"` + planted + `"},"id":"` + webPageID + `"}}`
	ue := func(inner string) string {
		return `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":` + inner + `}`
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name, param, value, key string
	}{
		{"co entity schema", "co", contextsJSON(swapped), "schema"},
		{"cx entity schema", "cx", b64(contextsJSON(swapped)), "schema"},
		{"co property", "co", contextsJSON(repeatedProp), "id"},
		{"co wrapper", "co", `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[],"data":[]}`, "data"},
		{"ue_pr event schema", "ue_pr", ue(swapped), "schema"},
		{"ue_px property", "ue_px", b64(ue(repeatedProp)), "id"},
		{"escaped key", "co", contextsJSON(`{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"` + webPageID + `","\u0069d":"` + planted + `"}}`), "id"},
	}
	for _, c := range cases {
		ev := map[string]string{"e": "pv", "p": "web", "tv": "js-4.10.1", c.param: c.value}
		if strings.HasPrefix(c.param, "ue") {
			ev["e"] = "ue"
		}
		out := e.Enrich(ctx, post(t, ev))
		if len(out.Good) != 0 || len(out.Bad) != 1 {
			t.Errorf("%s: good %d bad %d, want one bad row", c.name, len(out.Good), len(out.Bad))
			continue
		}
		row := string(out.Bad[0])
		checkBadRow(t, out.Bad[0], "schema_violations")
		if want := `duplicate object key \"` + c.key + `\"`; !strings.Contains(row, want) {
			t.Errorf("%s: bad row does not name the key (%s): %s", c.name, want, row)
		}
	}

	// The tp2 body itself: repeated envelope keys and repeated parameters.
	for _, body := range []string{
		`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"js","uid":"a","uid":"` + planted + `"}]}`,
		`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[],"data":[{"e":"pv","p":"web","tv":"js"}]}`,
	} {
		out := e.Enrich(ctx, postBody(t, body))
		if len(out.Good) != 0 || len(out.Bad) != 1 {
			t.Errorf("body %s: good %d bad %d", body, len(out.Good), len(out.Bad))
			continue
		}
		checkBadRow(t, out.Bad[0], "tracker_protocol_violations")
		if !strings.Contains(string(out.Bad[0]), `duplicate object key`) {
			t.Errorf("body %s: bad row does not name the duplicate: %s", body, out.Bad[0])
		}
	}
}
