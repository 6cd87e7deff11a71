package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plowline/plowline/testkit"
)

// invalidTrackerEvents are events the real trackers send happily but the
// pipeline must turn into bad rows: an event whose schema exists in no
// registry, and GitLab's context with a field of the wrong type.
func invalidTrackerEvents(tag string) []testkit.TrackerEvent {
	return []testkit.TrackerEvent{
		{Kind: testkit.SelfDescribing, Schema: "iglu:com.example.nowhere/missing/jsonschema/1-0-0", Data: map[string]any{"tag": tag}},
		{Kind: testkit.PageView, PageURL: "https://gitlab.example/broken-context",
			Contexts: []testkit.SelfDescribingJSON{{Schema: "iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9",
				Data: map[string]any{"environment": 42, "source": tag}}}},
	}
}

// TestRunWithRealTrackers starts `plowline run`, sends valid and invalid
// events with the real node tracker and the real browser tracker in
// headless Chromium, and finds every valid event in gitlab_events
// pseudonymized as the default allowlist says, and every invalid one in
// gitlab_bad_events, each exactly once.
func TestRunWithRealTrackers(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	// The test page is plain http: the nuid cookie must not be Secure.
	cc := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(cc, []byte("cookie:\n  secure: false\n  same_site: Lax\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, data, "--collector.config", cc, "--lake.buffer-interval", "300ms")

	nodeValid := testkit.NodeTracker(t, r.URL, trackerEvents("run-node"), testkit.NodeTrackerOptions{
		AppID: "run-node", Namespace: "run-node", Set: testkit.TrackerSetters{UserID: "user-1", DomainUserID: "duid-1", IPAddress: "203.0.113.7"}})
	nodeInvalid := testkit.NodeTracker(t, r.URL, invalidTrackerEvents("run-node"), testkit.NodeTrackerOptions{AppID: "run-node-bad", Namespace: "run-node-bad"})
	browser := testkit.BrowserTracker(t, r.URL, append(trackerEvents("run-web"), invalidTrackerEvents("run-web")...),
		testkit.BrowserTrackerOptions{AppID: "run-web", UserID: "user-2"})

	valid := append([]testkit.SentEvent(nil), nodeValid...)
	invalid := append([]testkit.SentEvent(nil), nodeInvalid...)
	for _, ev := range browser.Sent {
		if isInvalid(ev) {
			invalid = append(invalid, ev)
		} else {
			valid = append(valid, ev)
		}
	}
	for _, ev := range nodeInvalid {
		if !isInvalid(ev) {
			t.Fatalf("classifier misses invalid event %v", ev)
		}
	}
	if want := len(browser.Sent) / (len(trackerEvents("")) + 2) * 2; len(invalid)-len(nodeInvalid) != want {
		t.Fatalf("classified %d of %d browser events as invalid, want %d", len(invalid)-len(nodeInvalid), len(browser.Sent), want)
	}
	t.Logf("trackers sent %d valid and %d invalid events (node %d+%d, browser %d)", len(valid), len(invalid), len(nodeValid), len(nodeInvalid), len(browser.Sent))
	// Stop: SIGTERM drains every stage, so everything acknowledged is loaded.
	r.stop(t)

	rows := query(t, data, "SELECT event_id, app_id, event, user_id, domain_userid, page_url, user_ipaddress, se_category, se_action, uploaded_at FROM gitlab_events")
	byID := map[string]map[string]any{}
	for _, row := range rows {
		id, _ := row["event_id"].(string)
		if byID[id] != nil {
			t.Errorf("event %s loaded twice", id)
		}
		byID[id] = row
	}
	if len(rows) != len(valid) {
		t.Errorf("gitlab_events has %d rows; the trackers sent %d valid events", len(rows), len(valid))
	}
	for _, ev := range valid {
		row := byID[ev["eid"]]
		if row == nil {
			t.Errorf("valid event %s (e=%s, aid=%s) not in gitlab_events", ev["eid"], ev["e"], ev["aid"])
			continue
		}
		// Kept in clear by the allowlist.
		if row["app_id"] != ev["aid"] {
			t.Errorf("event %s: app_id %v, want %q in clear", ev["eid"], row["app_id"], ev["aid"])
		}
		if ev["e"] == "se" && ev["se_ca"] == "projects:issues:index" && (row["se_category"] != ev["se_ca"] || row["se_action"] != ev["se_ac"]) {
			t.Errorf("event %s: se_category/se_action %v/%v, want %q/%q in clear", ev["eid"], row["se_category"], row["se_action"], ev["se_ca"], ev["se_ac"])
		}
		// Pseudonymized: exactly HMAC-SHA256 under the data directory's key.
		if uid := ev["uid"]; uid != "" && row["user_id"] != pseudonym(t, data, uid) {
			t.Errorf("event %s: user_id %v, want HMAC of %q", ev["eid"], row["user_id"], uid)
		}
		if duid := ev["duid"]; duid != "" && row["domain_userid"] != pseudonym(t, data, duid) {
			t.Errorf("event %s: domain_userid %v, want HMAC of %q", ev["eid"], row["domain_userid"], duid)
		}
		if ev["url"] == "https://gitlab.example/explore" && row["page_url"] != pseudonym(t, data, ev["url"]) {
			t.Errorf("event %s: page_url %v, want HMAC of %q", ev["eid"], row["page_url"], ev["url"])
		}
		if ip, ok := row["user_ipaddress"].(string); ok && (strings.Contains(ip, "203.0.113") || strings.Contains(ip, "127.0.0.1") || len(ip) != 64) {
			t.Errorf("event %s: user_ipaddress %q is not pseudonymized", ev["eid"], ip)
		}
		if row["uploaded_at"] == nil {
			t.Errorf("event %s: no uploaded_at", ev["eid"])
		}
	}

	bad := query(t, data, "SELECT jsontext FROM gitlab_bad_events")
	if len(bad) != len(invalid) {
		t.Errorf("gitlab_bad_events has %d rows; the trackers sent %d invalid events", len(bad), len(invalid))
	}
	for _, ev := range invalid {
		n := 0
		for _, b := range bad {
			if strings.Contains(b["jsontext"].(string), ev["eid"]) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("invalid event %s (e=%s) is in %d bad rows, want 1", ev["eid"], ev["e"], n)
		}
	}
	for _, b := range bad {
		js := b["jsontext"].(string)
		if !strings.Contains(js, "schema_violations") {
			t.Errorf("bad row is not a schema_violations: %.300s", js)
		}
		if strings.Contains(js, "user-2") || strings.Contains(js, "203.0.113.7") {
			t.Errorf("bad row holds a clear identifier: %.300s", js)
		}
	}
}

// isInvalid reports whether ev is one of invalidTrackerEvents: the page
// view with the broken context, or the event of a schema that exists nowhere.
func isInvalid(ev testkit.SentEvent) bool {
	if ev["e"] == "pv" && ev["url"] == "https://gitlab.example/broken-context" {
		return true
	}
	ue := ev["ue_pr"]
	if px := ev["ue_px"]; px != "" {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(px, "="))
		if err != nil {
			b, _ = base64.StdEncoding.DecodeString(px)
		}
		ue = string(b)
	}
	return ev["e"] == "ue" && strings.Contains(ue, "com.example.nowhere")
}
