package e2e

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/testkit"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// trackerEvents are what the real trackers send in these tests: every kind
// of event, entities, non-ASCII text and characters that need escaping.
func trackerEvents(tag string) []testkit.TrackerEvent {
	user := testkit.SelfDescribingJSON{Schema: "iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9",
		Data: map[string]any{"environment": "e2e", "source": "gitlab-javascript", "plan": "ultimate", "namespace_id": 9970.0, "extra": map[string]any{"tag": tag}}}
	return []testkit.TrackerEvent{
		{Kind: testkit.PageView, PageURL: "https://gitlab.example/group/project/-/issues?state=opened&sort=😀", PageTitle: "Issues · Grüppe / Projekt", Referrer: "https://www.google.com/search?q=gitlab+" + tag, Contexts: []testkit.SelfDescribingJSON{user}},
		{Kind: testkit.StructEvent, Category: "projects:issues:index", Action: "click_button", Label: "new_issue", Property: tag, Value: testkit.Float(12.5), Contexts: []testkit.SelfDescribingJSON{user}},
		{Kind: testkit.SelfDescribing, Schema: "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
			Data: map[string]any{"targetUrl": "https://gitlab.example/-/new?a=1&b=\"x\"", "elementId": tag}, Contexts: []testkit.SelfDescribingJSON{user}},
		{Kind: testkit.StructEvent, Category: "tab\tand\nnewline", Action: "a-" + tag},
		{Kind: testkit.StructEvent, Category: "ttm", Action: "true-timestamp", TrueTimestamp: 1764151200123},
		{Kind: testkit.PageView, PageURL: "https://gitlab.example/explore"},
		{Kind: testkit.SelfDescribing, Schema: "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1", Data: map[string]any{"targetUrl": "https://x.example/ü"}},
	}
}

// TestCollectorWithRealTrackers runs the real binary with the file sink,
// sends events with the real node and browser trackers (POST batches and
// GETs, base64 and plain JSON), and checks that every parameter every
// tracker sent is in the Thrift payloads the collector wrote, with the
// request metadata a Snowplow enrich needs.
func TestCollectorWithRealTrackers(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	// The test page is plain http: the nuid cookie must not be Secure /
	// SameSite=None there (browsers refuse those without https).
	cfg := filepath.Join(dir, "collector.yaml")
	writeFile(t, cfg, "cookie:\n  secure: false\n  same_site: Lax\n")
	col := startCollector(t, nil, "--config", cfg, "--sink", "file", "--good", good, "--bad", bad)

	// Node: batched POSTs with base64 entities; GETs with plain JSON and a
	// nuid parameter (which the collector must use as the network user id).
	nodePost := testkit.NodeTracker(t, col.URL, trackerEvents("node-post"), testkit.NodeTrackerOptions{
		AppID: "e2e-node", Namespace: "node-post", BufferSize: 5,
		Set: testkit.TrackerSetters{UserID: "user-1", ScreenResolution: [2]string{"1920", "1080"}, Viewport: [2]string{"800", "600"},
			ColorDepth: "24", Timezone: "Europe/Berlin", Lang: "de-DE", IPAddress: "203.0.113.7", Useragent: "plowline-e2e/1.0",
			DomainUserID: "duid-1", SessionID: "7f1b9a2c-0000-4000-8000-000000000001", SessionIndex: 3}})
	nodeGet := testkit.NodeTracker(t, col.URL, trackerEvents("node-get"), testkit.NodeTrackerOptions{
		AppID: "e2e-node", Namespace: "node-get", Method: "get", PlainJSON: true,
		Set: testkit.TrackerSetters{NetworkUserID: "nuid-from-param-1"}})
	// GitLab self-managed posts to a custom path the collector maps onto tp2.
	custom := testkit.NodeTracker(t, col.URL, trackerEvents("custom-path")[:3], testkit.NodeTrackerOptions{
		AppID: "e2e-node", Namespace: "node-custom-post", PostPath: "/-/collect_events"})
	browser := testkit.BrowserTracker(t, col.URL, trackerEvents("browser"), testkit.BrowserTrackerOptions{AppID: "e2e-web", UserID: "user-2"})

	payloads := decodePayloads(t, readFileSink(t, good))
	if badRows := readFileSink(t, bad); len(badRows) != 0 {
		t.Errorf("%d bad rows for valid tracker traffic: %q", len(badRows), badRows[0])
	}
	var all []testkit.SentEvent
	byEID := map[string]*payload.CollectorPayload{}
	for _, p := range payloads {
		for _, ev := range eventsOf(t, p) {
			all = append(all, ev)
			byEID[ev["eid"]] = p
		}
	}
	sent := append(append(append(append([]testkit.SentEvent(nil), nodePost...), nodeGet...), custom...), browser.Sent...)
	got := testkit.AssertArrived(t, sent, all)

	// What each tracker must have sent (so the comparison above covers it).
	mustHave := func(name string, evs []testkit.SentEvent, keys ...string) {
		for _, s := range evs {
			for _, k := range keys {
				if s[k] == "" {
					t.Errorf("%s event %s (e=%s) sent no %s", name, s["eid"], s["e"], k)
				}
			}
		}
	}
	mustHave("node", nodePost, "e", "eid", "tv", "tna", "aid", "p", "uid", "res", "vp", "cd", "tz", "lang", "ip", "ua", "duid", "sid", "vid")
	mustHave("browser", browser.Sent, "e", "eid", "tv", "tna", "aid", "p", "url", "uid", "res", "vp", "cd", "tz", "lang", "cs", "ds", "duid", "sid", "vid", "cookie")
	kinds := map[string]map[string]bool{}
	for _, s := range sent {
		k := s["tna"]
		if kinds[k] == nil {
			kinds[k] = map[string]bool{}
		}
		kinds[k][s["e"]] = true
		switch s["e"] {
		case "pv":
			if s["url"] == "" {
				t.Errorf("%s page view without url", k)
			}
		case "se":
			if s["se_ca"] == "" || s["se_ac"] == "" {
				t.Errorf("%s structured event without se_ca/se_ac", k)
			}
		case "ue":
			if s["ue_px"] == "" && s["ue_pr"] == "" {
				t.Errorf("%s self-describing event without ue_px/ue_pr", k)
			}
		}
	}
	for _, ns := range []string{"node-post", "node-get", "web-post", "web-get"} {
		if !kinds[ns]["pv"] || !kinds[ns]["se"] || !kinds[ns]["ue"] {
			t.Errorf("tracker %s sent event types %v, want pv, se and ue", ns, kinds[ns])
		}
	}
	// Both encodings went through: base64 (node POST, browser GET) and plain.
	enc := map[string]bool{}
	for _, s := range sent {
		for _, k := range []string{"ue_px", "ue_pr", "cx", "co"} {
			if s[k] != "" {
				enc[k] = true
			}
		}
	}
	if len(enc) != 4 {
		t.Errorf("parameters used %v, want ue_px, ue_pr, cx and co all exercised", enc)
	}
	// Entities survive decoding intact.
	for _, s := range nodePost {
		if s["e"] == "se" && s["se_pr"] == "node-post" {
			cx, err := got[s["eid"]].SelfDescribingParam("cx", "co")
			if err != nil || !strings.Contains(fmt.Sprint(cx), "namespace_id:9970") {
				t.Errorf("node cx arrived as %v, %v", cx, err)
			}
		}
	}

	// Payload metadata, per tracker.
	now := time.Now()
	for _, s := range sent {
		p := byEID[s["eid"]]
		if p == nil {
			continue
		}
		where := fmt.Sprintf("payload of %s event %s", s["tna"], s["eid"])
		if p.Schema != "iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0" || p.Encoding != "UTF-8" || p.Collector == "" {
			t.Errorf("%s: schema %q encoding %q collector %q", where, p.Schema, p.Encoding, p.Collector)
		}
		if p.IPAddress != "127.0.0.1" {
			t.Errorf("%s: ipAddress %q, want 127.0.0.1", where, p.IPAddress)
		}
		if ts := time.UnixMilli(p.Timestamp); now.Sub(ts) > 5*time.Minute || ts.After(now.Add(time.Second)) {
			t.Errorf("%s: timestamp %s not now", where, ts)
		}
		if p.Hostname != "127.0.0.1" {
			t.Errorf("%s: hostname %q", where, p.Hostname)
		}
		if !p.HasHeaders || len(p.Headers) == 0 {
			t.Errorf("%s: no headers", where)
		}
		isPost := strings.HasSuffix(s["tna"], "-post")
		switch {
		case isPost && (p.Path != "/com.snowplowanalytics.snowplow/tp2" || !strings.HasPrefix(p.ContentType, "application/json")):
			t.Errorf("%s: path %q content type %q", where, p.Path, p.ContentType)
		case !isPost && (p.Path != "/i" || p.Body != ""):
			t.Errorf("%s: GET recorded with path %q and a body of %d bytes", where, p.Path, len(p.Body))
		}
		if strings.HasPrefix(s["tna"], "web-") {
			if p.UserAgent != browser.UserAgent {
				t.Errorf("%s: userAgent %q, browser sent %q", where, p.UserAgent, browser.UserAgent)
			}
			// Chromium's default policy (strict-origin-when-cross-origin)
			// sends only the page's origin to another origin.
			if u, _ := url.Parse(browser.PageURL); p.RefererURI != u.Scheme+"://"+u.Host+"/" {
				t.Errorf("%s: refererUri %q, want the page's origin of %q", where, p.RefererURI, browser.PageURL)
			}
			if o, _ := header(p, "Origin"); o == "" || !strings.HasPrefix(browser.PageURL, o) {
				t.Errorf("%s: Origin header %q", where, o)
			}
		}
	}

	// Network user id: the nuid parameter wins (node GET); the browser gets
	// the sp cookie on its first answers and sends it back from then on.
	for _, s := range nodeGet {
		if p := byEID[s["eid"]]; p != nil && p.NetworkUserID != "nuid-from-param-1" {
			t.Errorf("node GET with nuid=nuid-from-param-1 recorded networkUserId %q", p.NetworkUserID)
		}
	}
	for _, s := range nodePost {
		if p := byEID[s["eid"]]; p != nil && !uuidRE.MatchString(p.NetworkUserID) {
			t.Errorf("cookieless node POST got networkUserId %q, want a new UUID", p.NetworkUserID)
		}
	}
	withCookie, browserPayloads := 0, map[*payload.CollectorPayload]bool{}
	nuids := map[string]bool{}
	for _, s := range browser.Sent {
		browserPayloads[byEID[s["eid"]]] = true
	}
	for p := range browserPayloads {
		if p == nil {
			continue
		}
		nuids[p.NetworkUserID] = true
		ck, ok := header(p, "Cookie")
		if !ok {
			continue
		}
		for _, c := range strings.Split(ck, ";") {
			if k, v, _ := strings.Cut(strings.TrimSpace(c), "="); k == "sp" {
				withCookie++
				if v != p.NetworkUserID {
					t.Errorf("browser request with cookie sp=%s recorded networkUserId %q", v, p.NetworkUserID)
				}
			}
		}
	}
	// The POST and GET trackers' first requests may race before any answer
	// has set the cookie; every later one must carry it.
	if withCookie < len(browserPayloads)-2 || len(nuids) > 3 {
		t.Errorf("%d of %d browser requests carried the sp cookie, %d distinct network user ids; want all but the first two, and one id",
			withCookie, len(browserPayloads), len(nuids))
	}

	// The collector's own count agrees with what arrived.
	if n := col.metric(t, metricname.CollectorEvents.Name); int(n) != len(sent) {
		t.Errorf("%s = %v, trackers sent %d events", metricname.CollectorEvents.Name, n, len(sent))
	}
	if n := col.metric(t, metricname.CollectorPayloads.Name); int(n) != len(payloads) {
		t.Errorf("%s = %v, %d payloads written", metricname.CollectorPayloads.Name, n, len(payloads))
	}
	t.Logf("%d events from 5 real tracker runs in %d payloads; every parameter arrived", len(sent), len(payloads))

}

// TestCollectorAnonymousTrackers: real trackers in server-anonymisation
// mode send SP-Anonymous; the collector must record no IP, the zero network
// user id, none of the identifying headers, and set no cookie.
func TestCollectorAnonymousTrackers(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	cfg := filepath.Join(dir, "collector.yaml")
	writeFile(t, cfg, "cookie:\n  secure: false\n  same_site: Lax\n")
	col := startCollector(t, nil, "--config", cfg, "--sink", "file", "--good", good, "--bad", bad)
	events := trackerEvents("anon")[:3]
	sent := testkit.NodeTracker(t, col.URL, events, testkit.NodeTrackerOptions{Namespace: "anon-node-post", ServerAnonymization: true,
		Headers: map[string]string{"X-Forwarded-For": "198.51.100.4"}})
	run := testkit.BrowserTracker(t, col.URL, events, testkit.BrowserTrackerOptions{Namespace: "anon-web", ServerAnonymization: true})
	sent = append(sent, run.Sent...)
	var all []testkit.SentEvent
	payloads := decodePayloads(t, readFileSink(t, good))
	for _, p := range payloads {
		all = append(all, eventsOf(t, p)...)
		where := fmt.Sprintf("anonymous payload %s (%s)", p.Path, p.UserAgent)
		if _, ok := header(p, "SP-Anonymous"); !ok {
			t.Errorf("%s: no SP-Anonymous header recorded", where)
		}
		if p.NetworkUserID != "00000000-0000-0000-0000-000000000000" {
			t.Errorf("%s: networkUserId %q, want the zero UUID", where, p.NetworkUserID)
		}
		if p.IPAddress == "127.0.0.1" || p.IPAddress == "198.51.100.4" {
			t.Errorf("%s: ipAddress %q recorded", where, p.IPAddress)
		}
		for _, h := range []string{"Cookie", "X-Forwarded-For"} {
			if v, ok := header(p, h); ok {
				t.Errorf("%s: identifying header %s: %s recorded", where, h, v)
			}
		}
	}
	testkit.AssertArrived(t, sent, all)
	for _, s := range run.Sent {
		if s["duid"] != "" || s["sid"] != "" {
			t.Errorf("anonymous browser event carries duid %q sid %q", s["duid"], s["sid"])
		}
	}
}
