package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recordingCollector is a minimal stand-in collector: it answers like
// Snowplow's and keeps every event it got, to test the tracker drivers
// themselves (the real collector's tests use the real binary).
type recordingCollector struct {
	mu       sync.Mutex
	events   []SentEvent
	requests []*http.Request
	bodies   [][]byte
}

func (c *recordingCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, SP-Anonymous")
	}
	if r.Method == http.MethodOptions {
		return
	}
	body, _ := io.ReadAll(r.Body)
	var evs []SentEvent
	var err error
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/com.snowplowanalytics.snowplow/tp2":
		evs, err = ParseTP2(body)
	case r.Method == http.MethodGet && r.URL.Path == "/i":
		var ev SentEvent
		ev, err = ParseQuery(r.URL.RawQuery)
		evs = []SentEvent{ev}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.events = append(c.events, evs...)
	c.requests = append(c.requests, r)
	c.bodies = append(c.bodies, body)
	c.mu.Unlock()
	w.Write([]byte("ok"))
}

func (c *recordingCollector) snapshot() ([]SentEvent, []*http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]SentEvent(nil), c.events...), append([]*http.Request(nil), c.requests...)
}

func sampleEvents() []TrackerEvent {
	ctx := []SelfDescribingJSON{{Schema: "iglu:com.acme/user/jsonschema/1-0-0", Data: map[string]any{"plan": "ultimate", "namespace_id": 42.0}}}
	return []TrackerEvent{
		{Kind: PageView, PageURL: "http://shop.example/p?q=1", PageTitle: "Shöp — 1", Referrer: "http://ref.example/"},
		{Kind: StructEvent, Category: "cat", Action: "act", Label: "lbl", Property: "prop", Value: Float(2.5), Contexts: ctx},
		{Kind: SelfDescribing, Schema: "iglu:com.acme/clicked/jsonschema/1-0-0", Data: map[string]any{"id": "x&y=z", "n": 3.0}, Contexts: ctx},
		{Kind: StructEvent, Category: "c2", Action: "a2"},
		{Kind: PageView, PageURL: "http://shop.example/2"},
		{Kind: StructEvent, Category: "c3", Action: "a3", TrueTimestamp: 1700000000123},
		{Kind: SelfDescribing, Schema: "iglu:com.acme/clicked/jsonschema/1-0-0", Data: map[string]any{"id": "ü"}},
	}
}

func TestNodeTrackerPostBatchesBase64(t *testing.T) {
	col := &recordingCollector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	events := sampleEvents()
	sent := NodeTracker(t, srv.URL, events, NodeTrackerOptions{AppID: "app-1", Namespace: "ns1",
		Set: TrackerSetters{UserID: "u-1", ScreenResolution: [2]string{"1920", "1080"}, Lang: "de"}})
	got, reqs := col.snapshot()
	byID := AssertArrived(t, sent, got)
	if len(reqs) >= len(events) {
		t.Errorf("%d requests for %d events with bufferSize 5; want them batched", len(reqs), len(events))
	}
	for _, r := range reqs {
		if r.Method != http.MethodPost {
			t.Errorf("request %s %s, want POST", r.Method, r.URL)
		}
	}
	for i, s := range sent {
		ev := byID[s["eid"]]
		if ev["aid"] != "app-1" || ev["tna"] != "ns1" || ev["uid"] != "u-1" || ev["res"] != "1920x1080" || ev["lang"] != "de" || ev["p"] != "srv" {
			t.Errorf("event %d lacks the configured tracker fields: %v", i, ev)
		}
		if _, ok := ev["stm"]; !ok {
			t.Errorf("event %d has no stm", i)
		}
		if _, plain := ev["ue_pr"]; plain {
			t.Errorf("event %d has ue_pr with encodeBase64 on", i)
		}
	}
	se := byID[sent[1]["eid"]]
	if se["e"] != "se" || se["se_ca"] != "cat" || se["se_ac"] != "act" || se["se_la"] != "lbl" || se["se_pr"] != "prop" || se["se_va"] != "2.5" {
		t.Errorf("structured event fields: %v", se)
	}
	cx, err := se.SelfDescribingParam("cx", "co")
	if err != nil || cx == nil || !strings.Contains(toJSON(cx), `"plan":"ultimate"`) {
		t.Errorf("cx = %v, %v", cx, err)
	}
	ue, err := byID[sent[2]["eid"]].SelfDescribingParam("ue_px", "ue_pr")
	if err != nil || !strings.Contains(toJSON(ue), `"id":"x\u0026y=z"`) {
		t.Errorf("ue_px = %v, %v", toJSON(ue), err)
	}
	if pv := byID[sent[0]["eid"]]; pv["url"] != "http://shop.example/p?q=1" || pv["page"] != "Shöp — 1" || pv["refr"] != "http://ref.example/" {
		t.Errorf("page view fields: %v", pv)
	}
	if byID[sent[5]["eid"]]["ttm"] != "1700000000123" {
		t.Errorf("ttm = %q", byID[sent[5]["eid"]]["ttm"])
	}
}

func TestNodeTrackerGetAndPlainJSON(t *testing.T) {
	col := &recordingCollector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	events := sampleEvents()[:3]
	sent := NodeTracker(t, srv.URL, events, NodeTrackerOptions{Method: "get", PlainJSON: true, BufferSize: 1})
	got, reqs := col.snapshot()
	byID := AssertArrived(t, sent, got)
	if len(reqs) != 3 || reqs[0].Method != http.MethodGet {
		t.Errorf("%d requests, want 3 GETs", len(reqs))
	}
	if ue, _ := byID[sent[2]["eid"]].SelfDescribingParam("ue_px", "ue_pr"); ue == nil {
		t.Error("plain ue_pr missing")
	}
}

func TestNodeTrackerFailsOnCollectorError(t *testing.T) {
	// Tools first, on the real test: fakeT below records failures, so a
	// missing tool would otherwise show as a wrong failure message.
	Node(t)
	NodeModules(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		NodeTracker(ft, srv.URL, sampleEvents()[:1], NodeTrackerOptions{BufferSize: 1})
	}()
	<-done
	if !ft.failed || !strings.Contains(ft.msg, "503") {
		t.Errorf("NodeTracker against a 503 collector: failed=%v msg=%q", ft.failed, ft.msg)
	}
}

func TestBrowserTrackerPostAndGet(t *testing.T) {
	col := &recordingCollector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	events := sampleEvents()
	run := BrowserTracker(t, srv.URL, events, BrowserTrackerOptions{AppID: "web-app", UserID: "user-9"})
	got, reqs := col.snapshot()
	byID := AssertArrived(t, run.Sent, got)
	methods := map[string]int{}
	for _, r := range reqs {
		methods[r.Method]++
		if r.Header.Get("Origin") == "" {
			t.Errorf("%s %s without Origin: not a cross-origin request", r.Method, r.URL.Path)
		}
	}
	if methods["POST"] == 0 || methods["GET"] == 0 {
		t.Errorf("requests by method %v, want both POST and GET", methods)
	}
	for _, s := range run.Sent {
		ev := byID[s["eid"]]
		for _, k := range []string{"tv", "aid", "p", "res", "vp", "cd", "tz", "lang", "cs", "duid", "sid", "vid", "url", "uid"} {
			if ev[k] == "" {
				t.Errorf("browser event %s (e=%s, tna=%s) lacks %s", s["eid"], ev["e"], ev["tna"], k)
			}
		}
		if ev["dtm"] == "" && ev["ttm"] == "" {
			t.Errorf("browser event %s has neither dtm nor ttm", s["eid"])
		}
		if ev["aid"] != "web-app" || ev["uid"] != "user-9" || ev["p"] != "web" || !strings.HasPrefix(ev["tv"], "js-") {
			t.Errorf("event %s: aid=%q uid=%q p=%q tv=%q", s["eid"], ev["aid"], ev["uid"], ev["p"], ev["tv"])
		}
		// Every browser event carries the web_page entity.
		cx, err := ev.SelfDescribingParam("cx", "co")
		if err != nil || !strings.Contains(toJSON(cx), "web_page") {
			t.Errorf("event %s contexts = %s, %v; want the web_page entity", s["eid"], toJSON(cx), err)
		}
		if ev["e"] == "pv" && ev["url"] == "http://shop.example/p?q=1" && (ev["page"] != "Shöp — 1" || ev["refr"] != "http://ref.example/") {
			t.Errorf("page view: page=%q refr=%q", ev["page"], ev["refr"])
		}
	}
	if run.UserAgent == "" || !strings.Contains(run.UserAgent, "Chrome") {
		t.Errorf("user agent %q", run.UserAgent)
	}
}
