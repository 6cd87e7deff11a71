package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/testkit"
)

// The shapes a Micro-based suite decodes from /micro/good and /micro/bad.
type microGood struct {
	RawEvent *struct {
		API        map[string]string `json:"api"`
		Parameters map[string]string `json:"parameters"`
		Context    map[string]any    `json:"context"`
	} `json:"rawEvent"`
	EventType *string        `json:"eventType"`
	Schema    *string        `json:"schema"`
	Contexts  []string       `json:"contexts"`
	Event     map[string]any `json:"event"`
}

type microBad struct {
	CollectorPayload map[string]any `json:"collectorPayload"`
	RawEvent         *struct {
		Parameters map[string]string `json:"parameters"`
	} `json:"rawEvent"`
	Errors []string `json:"errors"`
}

type microSummary struct{ Total, Good, Bad int }

// microAPI is a client of the Micro API as test suites use it.
type microAPI struct {
	t    *testing.T
	base string // http://host:port, or …/pseudonymized
}

func (m microAPI) call(method, path, body string, out any) {
	m.t.Helper()
	req, err := http.NewRequest(method, m.base+path, strings.NewReader(body))
	if err != nil {
		m.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		m.t.Fatalf("%s %s: %v\n%.500s", method, path, err, b)
	}
}

func (m microAPI) all() microSummary {
	var s microSummary
	m.call("GET", "/micro/all", "", &s)
	return s
}

func (m microAPI) good(filters string) []microGood {
	var g []microGood
	m.call("POST", "/micro/good", filters, &g)
	return g
}

func (m microAPI) bad(filters string) []microBad {
	var b []microBad
	m.call("POST", "/micro/bad", filters, &b)
	return b
}

// waitTotal polls /micro/all until it counts want events (the API of
// plowline run is fed asynchronously by the enricher).
func (m microAPI) waitTotal(want int, timeout time.Duration) microSummary {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := m.all()
		if s.Total >= want || time.Now().After(deadline) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startMicro runs `plowline micro` on a free loopback port.
func startMicro(t *testing.T, args ...string) (string, *testkit.Process) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	p := testkit.Start(t, nil, testkit.Binary(t), append([]string{"micro", "--listen-address", strings.TrimPrefix(url, "http://")}, args...)...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, p
			}
		}
		if p.Cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("plowline micro not healthy (last: %v):\n%s", err, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countSent counts the sent events matching pred.
func countSent(sent []testkit.SentEvent, pred func(testkit.SentEvent) bool) int {
	n := 0
	for _, ev := range sent {
		if pred(ev) {
			n++
		}
	}
	return n
}

// hasEntity reports whether the event carries an entity of schema (co or
// base64 cx).
func hasEntity(t *testing.T, ev testkit.SentEvent, schema string) bool {
	t.Helper()
	co, err := ev.SelfDescribingParam("cx", "co")
	if err != nil || co == nil {
		return false
	}
	list, _ := co["data"].([]any)
	for _, e := range list {
		if m, _ := e.(map[string]any); m["schema"] == schema {
			return true
		}
	}
	return false
}

// TestMicroWithRealTrackers runs `plowline micro`, sends valid and invalid
// events with the real node tracker (batched POSTs with base64 entities,
// GETs with plain JSON) and the real browser tracker in headless Chromium
// (a POST and a GET tracker), and asserts through the Micro API as a
// Micro-based suite does: counts, every event's raw parameters, filters,
// bad events with their errors, the pseudonymized view, reset.
func TestMicroWithRealTrackers(t *testing.T) {
	dir := t.TempDir()
	cc := filepath.Join(dir, "collector.yaml")
	// The test page is plain http: the nuid cookie must not be Secure.
	writeFile(t, cc, "cookie:\n  secure: false\n  same_site: Lax\n")
	writeFile(t, filepath.Join(dir, "hmac.key"), "micro-e2e-key-0123456789abcdef\n")
	if err := os.Chmod(filepath.Join(dir, "hmac.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	url, proc := startMicro(t, "--collector.config", cc, "--pseudonymize.key-file", filepath.Join(dir, "hmac.key"))
	api := microAPI{t: t, base: url}

	nodePost := testkit.NodeTracker(t, url, append(trackerEvents("micro-node"), invalidTrackerEvents("micro-node")...), testkit.NodeTrackerOptions{
		AppID: "micro-node", Namespace: "micro-node", BufferSize: 4,
		Set: testkit.TrackerSetters{UserID: "user-1", DomainUserID: "duid-1", IPAddress: "203.0.113.7"}})
	nodeGet := testkit.NodeTracker(t, url, trackerEvents("micro-get"), testkit.NodeTrackerOptions{
		AppID: "micro-get", Namespace: "micro-get", Method: "get", PlainJSON: true})
	browser := testkit.BrowserTracker(t, url, append(trackerEvents("micro-web"), invalidTrackerEvents("micro-web")...),
		testkit.BrowserTrackerOptions{AppID: "micro-web", UserID: "user-2"})

	var sent, valid, invalid []testkit.SentEvent
	sent = append(append(append(sent, nodePost...), nodeGet...), browser.Sent...)
	for _, ev := range sent {
		if isInvalid(ev) {
			invalid = append(invalid, ev)
		} else {
			valid = append(valid, ev)
		}
	}
	if len(invalid) != 2+2*2 {
		t.Fatalf("classified %d events as invalid, want 6 (2 node, 2 per browser tracker)", len(invalid))
	}
	// plowline micro enriches before the collector answers: no waiting.
	if got, want := api.all(), (microSummary{Total: len(sent), Good: len(valid), Bad: len(invalid)}); got != want {
		t.Fatalf("/micro/all = %+v, want %+v (trackers sent %d events)", got, want, len(sent))
	}

	// Every valid event, found by its eid, with exactly what the tracker sent.
	goods := api.good("")
	byEID := map[string]microGood{}
	for _, g := range goods {
		if g.RawEvent == nil {
			t.Fatalf("good event without rawEvent: %v", g.Event["event_id"])
		}
		byEID[g.RawEvent.Parameters["eid"]] = g
	}
	for _, ev := range valid {
		g, ok := byEID[ev["eid"]]
		if !ok {
			t.Errorf("valid event %s (e=%s, aid=%s) not in /micro/good", ev["eid"], ev["e"], ev["aid"])
			continue
		}
		for k, v := range ev {
			if got := g.RawEvent.Parameters[k]; got != v {
				t.Errorf("event %s: rawEvent parameter %s = %q, the tracker sent %q", ev["eid"], k, got, v)
			}
		}
		if g.Event["event_id"] != ev["eid"] || g.Event["app_id"] != ev["aid"] {
			t.Errorf("event %s: event_id %v app_id %v", ev["eid"], g.Event["event_id"], g.Event["app_id"])
		}
		wantType := map[string]string{"pv": "page_view", "se": "struct", "ue": "unstruct"}[ev["e"]]
		if g.EventType == nil || *g.EventType != wantType {
			t.Errorf("event %s (e=%s): eventType %v, want %s", ev["eid"], ev["e"], g.EventType, wantType)
		}
		if uid := ev["uid"]; uid != "" && g.Event["user_id"] != uid {
			t.Errorf("event %s: user_id %v, want %q in clear", ev["eid"], g.Event["user_id"], uid)
		}
	}

	// Micro's filters, each count derived from what the trackers sent.
	const linkClick = "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"
	const standard = "iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9"
	isLinkClick := func(ev testkit.SentEvent) bool {
		ue, err := ev.SelfDescribingParam("ue_px", "ue_pr")
		if err != nil || ue == nil {
			return false
		}
		data, _ := ue["data"].(map[string]any)
		return data["schema"] == linkClick
	}
	for _, c := range []struct {
		filters string
		want    int
	}{
		{`{"schema":"` + linkClick + `"}`, countSent(valid, isLinkClick)},
		{`{"event_type":"struct"}`, countSent(valid, func(ev testkit.SentEvent) bool { return ev["e"] == "se" })},
		{`{"event_type":"page_view","contexts":["` + standard + `"]}`,
			countSent(valid, func(ev testkit.SentEvent) bool { return ev["e"] == "pv" && hasEntity(t, ev, standard) })},
		{`{"contexts":["` + standard + `"]}`, countSent(valid, func(ev testkit.SentEvent) bool { return hasEntity(t, ev, standard) })},
		{`{"limit":3}`, 3},
	} {
		if c.want == 0 {
			t.Fatalf("filter %s: the trackers sent no such event; the case proves nothing", c.filters)
		}
		if got := api.good(c.filters); len(got) != c.want {
			t.Errorf("POST /micro/good %s: %d events, want %d", c.filters, len(got), c.want)
		}
	}

	// Every invalid event is one bad event, with its raw event and the row.
	bads := api.bad("")
	for _, ev := range invalid {
		n := 0
		for _, b := range bads {
			if b.RawEvent != nil && b.RawEvent.Parameters["eid"] == ev["eid"] {
				n++
				if len(b.Errors) != 2 || !strings.Contains(b.Errors[1], "schema_violations") || b.CollectorPayload == nil {
					t.Errorf("bad event %s: errors %q, collectorPayload %v", ev["eid"], b.Errors, b.CollectorPayload != nil)
				}
			}
		}
		if n != 1 {
			t.Errorf("invalid event %s is in %d bad events, want 1", ev["eid"], n)
		}
	}
	// Node and the browser's POST tracker send tp2; the GET tracker tp1.
	tp2 := countSent(invalid, func(ev testkit.SentEvent) bool { return !strings.HasSuffix(ev["tna"], "-get") })
	if got := api.bad(`{"vendor":"com.snowplowanalytics.snowplow","version":"tp2"}`); len(got) != tp2 || tp2 == 0 || tp2 == len(invalid) {
		t.Errorf("POST /micro/bad tp2: %d events, want %d of %d", len(got), tp2, len(invalid))
	}

	// The pseudonymized view: what the pseudonymizer writes, nothing in clear.
	pseudo := microAPI{t: t, base: url + "/pseudonymized"}
	pgoods := pseudo.good(`{"event_type":"page_view"}`)
	if want := countSent(valid, func(ev testkit.SentEvent) bool { return ev["e"] == "pv" }); len(pgoods) != want {
		t.Errorf("pseudonymized page views: %d, want %d", len(pgoods), want)
	}
	for _, g := range pgoods {
		if g.RawEvent != nil {
			t.Fatalf("pseudonymized view shows raw parameters")
		}
		orig := byEID[g.Event["event_id"].(string)]
		if uid, _ := orig.Event["user_id"].(string); uid != "" && g.Event["user_id"] != pseudonym(t, dir, uid) {
			t.Errorf("event %v: pseudonymized user_id %v, want HMAC of %q", g.Event["event_id"], g.Event["user_id"], uid)
		}
		if ip, _ := orig.Event["user_ipaddress"].(string); g.Event["user_ipaddress"] != pseudonym(t, dir, ip) {
			t.Errorf("event %v: user_ipaddress %v, want HMAC of %q", g.Event["event_id"], g.Event["user_ipaddress"], ip)
		}
	}
	for _, b := range pseudo.bad("") {
		if strings.Contains(b.Errors[1], "user-2") || strings.Contains(b.Errors[1], "203.0.113.7") || b.RawEvent != nil {
			t.Errorf("pseudonymized bad event holds a clear identifier: %.300s", b.Errors[1])
		}
	}

	var reset microSummary
	api.call("GET", "/micro/reset", "", &reset)
	if reset != (microSummary{}) || api.all() != (microSummary{}) || len(api.good("")) != 0 {
		t.Errorf("after /micro/reset: %+v", api.all())
	}
	if strings.Contains(proc.Output(), "panic") {
		t.Errorf("plowline micro logged a panic:\n%s", proc.Output())
	}
}

// TestRunMicroAPI runs `plowline run --micro`, sends events with the real
// node tracker, reads them through the Micro API, and checks that the
// pseudonymized view shows exactly what the pipeline loaded into the
// warehouse.
func TestRunMicroAPI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	r := startRun(t, data, "--micro", "--lake.buffer-interval", "300ms")
	api := microAPI{t: t, base: r.URL}

	sent := testkit.NodeTracker(t, r.URL, append(trackerEvents("run-micro"), invalidTrackerEvents("run-micro")...), testkit.NodeTrackerOptions{
		AppID: "run-micro", Namespace: "run-micro", Set: testkit.TrackerSetters{UserID: "user-9", IPAddress: "203.0.113.9"}})
	nInvalid := countSent(sent, isInvalid)
	got := api.waitTotal(len(sent), 30*time.Second)
	if got != (microSummary{Total: len(sent), Good: len(sent) - nInvalid, Bad: nInvalid}) {
		t.Fatalf("/micro/all = %+v; the tracker sent %d events, %d invalid", got, len(sent), nInvalid)
	}
	clear := map[string]microGood{}
	for _, g := range api.good("") {
		clear[g.Event["event_id"].(string)] = g
	}
	for _, ev := range sent {
		if isInvalid(ev) {
			continue
		}
		g, ok := clear[ev["eid"]]
		if !ok || g.RawEvent == nil || g.RawEvent.Parameters["uid"] != "user-9" || g.Event["user_id"] != "user-9" {
			t.Errorf("event %s in clear: %+v", ev["eid"], g.RawEvent)
		}
	}
	pseudoEvents := microAPI{t: t, base: r.URL + "/pseudonymized"}.good("")
	r.stop(t)

	rows := query(t, data, "SELECT event_id, user_id, user_ipaddress, page_url FROM gitlab_events")
	if len(rows) != len(pseudoEvents) {
		t.Fatalf("warehouse has %d events, the pseudonymized view %d", len(rows), len(pseudoEvents))
	}
	byID := map[string]microGood{}
	for _, g := range pseudoEvents {
		byID[g.Event["event_id"].(string)] = g
	}
	for _, row := range rows {
		g, ok := byID[row["event_id"].(string)]
		if !ok {
			t.Errorf("event %v is in the warehouse but not in the pseudonymized view", row["event_id"])
			continue
		}
		for _, col := range []string{"user_id", "user_ipaddress", "page_url"} {
			if row[col] != g.Event[col] {
				t.Errorf("event %v: %s in the warehouse %v, in the pseudonymized view %v", row["event_id"], col, row[col], g.Event[col])
			}
		}
		if row["user_id"] != pseudonym(t, data, "user-9") {
			t.Errorf("event %v: user_id %v is not the HMAC of user-9", row["event_id"], row["user_id"])
		}
	}
	if !bytes.Contains([]byte(r.Proc.Output()), []byte("Micro API")) {
		t.Errorf("the start banner does not show the Micro API:\n%s", r.Proc.Output())
	}
}
