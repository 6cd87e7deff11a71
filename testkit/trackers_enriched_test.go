package testkit

import (
	"slices"
	"testing"

	"github.com/plowline/plowline/pipeline/event"
)

func TestExpectedEnriched(t *testing.T) {
	got := SentEvent{"e": "se", "eid": "id-1", "aid": "app", "p": "web", "tv": "js-4.10.1", "tna": "web-post",
		"res": "1920x1080", "vp": "800x600", "ds": "bad", "dtm": "1764151200123", "stm": "1764151200999", "ttm": "0",
		"se_ca": "c", "se_va": "2.5", "cx": "eyJ9", "nuid": "n", "ue_pr": "{}", "cookie": "1", "lang": "de"}.ExpectedEnriched()
	want := map[string]string{"event": "struct", "event_id": "id-1", "app_id": "app", "platform": "web", "v_tracker": "js-4.10.1",
		"name_tracker": "web-post", "dvce_screenwidth": "1920", "dvce_screenheight": "1080", "br_viewwidth": "800", "br_viewheight": "600",
		"dvce_created_tstamp": "2025-11-26 10:00:00.123", "dvce_sent_tstamp": "2025-11-26 10:00:00.999", "true_tstamp": "1970-01-01 00:00:00.000",
		"se_category": "c", "se_value": "2.5", "br_cookies": "1", "br_lang": "de"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected column %s = %q", k, got[k])
		}
	}
	// Every column named by the mapping exists in the enriched event.
	names := event.FieldNames()
	var cols []string
	for _, c := range directFields {
		cols = append(cols, c)
	}
	for _, c := range dimensionFields {
		cols = append(cols, c[0], c[1])
	}
	for _, c := range timestampFields {
		cols = append(cols, c)
	}
	for _, c := range append(cols, "event") {
		if !slices.Contains(names, c) {
			t.Errorf("column %q is not an enriched event field", c)
		}
	}
}
