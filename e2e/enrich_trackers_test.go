package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/testkit"
)

// tsvClean is what the enricher makes of a value, as Snowplow's
// fixTabsNewlines: a tab becomes four spaces, other control characters go.
func tsvClean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ReplaceAll(s, "\t", "    "))
}

func millis(t *testing.T, s string) string {
	t.Helper()
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("timestamp parameter %q: %v", s, err)
	}
	return time.UnixMilli(ms).UTC().Format(event.TimestampLayout)
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// TestEnrichRealTrackerTraffic sends events with the real Snowplow node and
// browser trackers through the real collector (file sink), enriches the
// file with `plowline enrich` (offline: embedded schemas only), and checks
// that every enriched field is what the tracker sent, that every line
// parses as an enriched event, and that its JSON has the analytics-SDK shape.
func TestEnrichRealTrackerTraffic(t *testing.T) {
	dir := t.TempDir()
	raw, rawBad := filepath.Join(dir, "raw-good"), filepath.Join(dir, "raw-bad")
	cfg := filepath.Join(dir, "collector.yaml")
	writeFile(t, cfg, "cookie:\n  secure: false\n  same_site: Lax\n")
	col := startCollector(t, nil, "--config", cfg, "--sink", "file", "--good", raw, "--bad", rawBad)

	nodePost := testkit.NodeTracker(t, col.URL, trackerEvents("enrich-node-post"), testkit.NodeTrackerOptions{
		AppID: "e2e-enrich", Namespace: "node-post", BufferSize: 3,
		Set: testkit.TrackerSetters{UserID: "user-1", ScreenResolution: [2]string{"1920", "1080"}, Viewport: [2]string{"800", "600"},
			ColorDepth: "24", Timezone: "Europe/Berlin", Lang: "de-DE", IPAddress: "203.0.113.7",
			Useragent:    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
			DomainUserID: "duid-1", SessionID: "7f1b9a2c-0000-4000-8000-000000000001", SessionIndex: 3}})
	nodeGet := testkit.NodeTracker(t, col.URL, trackerEvents("enrich-node-get"), testkit.NodeTrackerOptions{
		AppID: "e2e-enrich", Namespace: "node-get", Method: "get", PlainJSON: true,
		Set: testkit.TrackerSetters{NetworkUserID: "nuid-from-param-1"}})
	browser := testkit.BrowserTracker(t, col.URL, trackerEvents("enrich-browser"), testkit.BrowserTrackerOptions{AppID: "e2e-enrich-web", UserID: "user-2"})
	col.stop(t, 20*time.Second)

	good, bad := filepath.Join(dir, "enriched.tsv"), filepath.Join(dir, "bad.jsonl")
	var stderr bytes.Buffer
	cmd := exec.Command(testkit.Binary(t), "enrich", "--in", raw, "--good", good, "--bad", bad)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("plowline enrich: %v\n%s", err, stderr.String())
	}
	if b, _ := os.ReadFile(bad); len(b) > 0 {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			br, _ := badrow.Parse([]byte(l))
			t.Errorf("bad row %s for valid tracker traffic: %.1500s", badrow.TypeOf(br.Schema), l)
		}
	}
	gb, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]event.Event{}
	for _, line := range strings.Split(strings.TrimSuffix(string(gb), "\n"), "\n") {
		ev, err := event.Parse(line)
		if err != nil {
			t.Fatalf("enriched line does not parse: %v", err)
		}
		byID[ev[event.EventID]] = ev
	}

	sent := append(append(append([]testkit.SentEvent(nil), nodePost...), nodeGet...), browser.Sent...)
	if len(sent) < 3*len(trackerEvents("x")) {
		t.Fatalf("trackers sent only %d events", len(sent))
	}
	if len(byID) != len(sent) {
		t.Errorf("%d enriched events, trackers sent %d", len(byID), len(sent))
	}
	direct := map[string]event.Field{
		"aid": event.AppID, "p": event.Platform, "tv": event.VTracker, "tna": event.NameTracker, "uid": event.UserID,
		"duid": event.DomainUserID, "sid": event.DomainSessionID, "vid": event.DomainSessionIdx, "url": event.PageURL,
		"page": event.PageTitle, "refr": event.PageReferrer, "lang": event.BrLang, "cs": event.DocCharset, "cd": event.BrColordepth,
		"tz": event.OSTimezone, "se_ca": event.SeCategory, "se_ac": event.SeAction, "se_la": event.SeLabel, "se_pr": event.SeProperty,
		"se_va": event.SeValue, "ip": event.UserIPAddress, "ua": event.Useragent, "tnuid": event.NetworkUserID, "cookie": event.BrCookies,
	}
	names := map[string]string{"pv": "page_view", "se": "struct", "ue": "unstruct"}
	compared := map[string]int{}
	for _, s := range sent {
		ev, ok := byID[s["eid"]]
		if !ok {
			t.Errorf("%s event %s (e=%s) not enriched", s["tna"], s["eid"], s["e"])
			continue
		}
		where := s["tna"] + " " + s["eid"]
		check := func(param string, f event.Field, want string) {
			compared[param]++
			if ev[f] != want {
				t.Errorf("%s: %s = %q, tracker sent %s=%q", where, f, ev[f], param, s[param])
			}
		}
		check("e", event.EventType, names[s["e"]])
		for param, f := range direct {
			if v, ok := s[param]; ok && v != "" {
				check(param, f, tsvClean(v))
			}
		}
		for param, fs := range map[string][2]event.Field{"res": {event.DvceScreenwidth, event.DvceScreenheight},
			"vp": {event.BrViewwidth, event.BrViewheight}, "ds": {event.DocWidth, event.DocHeight}} {
			if v := s[param]; v != "" {
				w, h, _ := strings.Cut(v, "x")
				check(param, fs[0], w)
				check(param, fs[1], h)
			}
		}
		for param, f := range map[string]event.Field{"dtm": event.DvceCreatedTstamp, "ttm": event.TrueTstamp} {
			if v := s[param]; v != "" {
				check(param, f, millis(t, v))
			}
		}
		if s["ttm"] != "" {
			check("ttm", event.DerivedTstamp, millis(t, s["ttm"]))
		}
		if v, _ := s.SelfDescribingParam("ue_px", "ue_pr"); v != nil {
			want, _ := json.Marshal(v)
			compared["ue"]++
			if !sameJSON(t, ev[event.UnstructEvent], string(want)) {
				t.Errorf("%s: unstruct_event %s, tracker sent %s", where, ev[event.UnstructEvent], want)
			}
			inner := v["data"].(map[string]any)["schema"].(string)
			if "iglu:"+ev[event.EventVendor]+"/"+ev[event.EventName]+"/"+ev[event.EventFormat]+"/"+ev[event.EventVersion] != inner {
				t.Errorf("%s: event_vendor/name/format/version do not match %s", where, inner)
			}
		}
		if v, _ := s.SelfDescribingParam("cx", "co"); v != nil {
			// The enricher writes the wrapper as contexts 1-0-1, as Snowplow does.
			v["schema"] = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
			want, _ := json.Marshal(v)
			compared["cx"]++
			if !sameJSON(t, ev[event.Contexts], string(want)) {
				t.Errorf("%s: contexts %s, tracker sent %s", where, ev[event.Contexts], want)
			}
		}
		if s["url"] != "" && (ev[event.PageURLScheme] == "" || ev[event.PageURLHost] == "") {
			t.Errorf("%s: page URL %q not split", where, s["url"])
		}
		if s["refr"] != "" && strings.Contains(s["refr"], "google.") && (ev[event.RefrMedium] != "search" || ev[event.RefrSource] != "Google") {
			t.Errorf("%s: referrer %q classified %q/%q", where, s["refr"], ev[event.RefrMedium], ev[event.RefrSource])
		}
		if s["nuid"] != "" && s["tnuid"] == "" {
			check("nuid", event.NetworkUserID, s["nuid"])
		}
		if ev[event.EventFingerprint] == "" || ev[event.DerivedTstamp] == "" || ev[event.VCollector] == "" || !strings.HasPrefix(ev[event.VEtl], "plowline-") {
			t.Errorf("%s: fingerprint %q derived_tstamp %q v_collector %q v_etl %q", where, ev[event.EventFingerprint],
				ev[event.DerivedTstamp], ev[event.VCollector], ev[event.VEtl])
		}

		// The analytics-SDK JSON shape: typed fields, entities as
		// contexts_<vendor>_<name>_<model> arrays, the event as
		// unstruct_event_<vendor>_<name>_<model>.
		js, err := ev.JSON()
		if err != nil {
			t.Fatalf("%s: JSON: %v", where, err)
		}
		var m map[string]any
		if err := json.Unmarshal(js, &m); err != nil {
			t.Fatal(err)
		}
		if m["event_id"] != s["eid"] || m["app_id"] != s["aid"] {
			t.Errorf("%s: JSON event_id/app_id %v %v", where, m["event_id"], m["app_id"])
		}
		if ev[event.DerivedContexts] != "" {
			if _, ok := m["contexts_com_snowplowanalytics_snowplow_ua_parser_context_1"].([]any); !ok {
				t.Errorf("%s: JSON lacks the ua_parser_context column: %s", where, js)
			}
		}
		if strings.Contains(ev[event.Contexts], "gitlab_standard") {
			if arr, ok := m["contexts_com_gitlab_gitlab_standard_1"].([]any); !ok || len(arr) == 0 {
				t.Errorf("%s: JSON lacks the gitlab_standard column: %s", where, js)
			}
		}
		if s["e"] == "ue" {
			if _, ok := m["unstruct_event_com_snowplowanalytics_snowplow_link_click_1"].(map[string]any); !ok {
				t.Errorf("%s: JSON lacks the link_click column: %s", where, js)
			}
		}
		if s["vid"] != "" {
			if _, ok := m["domain_sessionidx"].(float64); !ok {
				t.Errorf("%s: domain_sessionidx not a number in JSON: %v", where, m["domain_sessionidx"])
			}
		}
	}
	// Every kind of parameter was actually compared.
	for _, p := range []string{"e", "aid", "tv", "uid", "url", "page", "refr", "se_ca", "se_va", "res", "vp", "ds", "dtm", "ttm", "ip", "ua", "nuid", "cookie", "ue", "cx"} {
		if compared[p] == 0 {
			t.Errorf("no event carried %s: the comparison did not cover it", p)
		}
	}
	t.Logf("compared %d events: %v", len(sent), compared)
}
