package micro

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/pipeline/pseudonymize"
)

const (
	webPage   = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
	linkClick = "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"
	client    = "iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-1"
	nuid      = "c6ef3124-b53a-4b13-a233-0088f79dcbcb"
)

// fixture is a store filled by the real enricher, and the API over it.
type fixture struct {
	t     testing.TB
	en    *enrich.Enricher
	store *Store
	reg   *prometheus.Registry
	ps    *pseudonymize.Pseudonymizer
	h     http.Handler
}

func newFixture(t testing.TB, maxEvents int) *fixture {
	t.Helper()
	en, err := enrich.New(enrich.DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pseudonymize.New(pseudonymize.DefaultAllowlist(), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, en: en, store: NewStore(maxEvents), reg: prometheus.NewRegistry(), ps: ps}
	if err := f.store.Register(f.reg); err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	f.h = NewHandler(f.store, HandlerOptions{Pseudonymizer: ps, Schemas: en.Resolver(), Next: next})
	return f
}

func sdj(schema string, data map[string]any) map[string]any {
	return map[string]any{"schema": schema, "data": data}
}

func contexts(ents ...map[string]any) string {
	b, _ := json.Marshal(sdj("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0", map[string]any{}))
	m := map[string]any{}
	json.Unmarshal(b, &m)
	list := make([]any, len(ents))
	for i, e := range ents {
		list[i] = e
	}
	m["data"] = list
	b, _ = json.Marshal(m)
	return string(b)
}

func unstruct(schema string, data map[string]any) string {
	b, _ := json.Marshal(sdj("iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0", sdj(schema, data)))
	return string(b)
}

// post enriches one tp2 payload of events into the store.
func (f *fixture) post(events ...map[string]string) {
	f.t.Helper()
	list := make([]any, len(events))
	for i, e := range events {
		list[i] = e
	}
	body, _ := json.Marshal(sdj("iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", nil))
	m := map[string]any{}
	json.Unmarshal(body, &m)
	m["data"] = list
	body, _ = json.Marshal(m)
	f.record(&payload.CollectorPayload{IPAddress: "198.51.100.20", Timestamp: 1764151200123, Encoding: "UTF-8",
		Collector: "plowline-test", UserAgent: "test-agent/1.0", Path: "/com.snowplowanalytics.snowplow/tp2", Body: string(body),
		ContentType: "application/json", Headers: []string{"Content-Type: application/json"}, HasHeaders: true,
		Hostname: "collector.example", NetworkUserID: nuid})
}

// get enriches one GET /i request into the store.
func (f *fixture) get(params url.Values) {
	f.t.Helper()
	f.record(&payload.CollectorPayload{IPAddress: "198.51.100.21", Timestamp: 1764151200456, Encoding: "UTF-8",
		Collector: "plowline-test", Path: "/i", Querystring: params.Encode(), NetworkUserID: nuid})
}

func (f *fixture) record(cp *payload.CollectorPayload) {
	f.t.Helper()
	rec, err := cp.Marshal()
	if err != nil {
		f.t.Fatal(err)
	}
	f.store.AddEnriched(rec, f.en.Enrich(context.Background(), rec))
}

// do sends a request from a loopback client unless remote is given.
func (f *fixture) do(method, path, body string, remote ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "127.0.0.1:5555"
	if len(remote) > 0 {
		r.RemoteAddr = remote[0]
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer is not the expected JSON: %v\n%s", err, w.Body)
	}
	return v
}

// goodJSON is a GoodEvent as a client decodes it.
type goodJSON struct {
	RawEvent *struct {
		API        map[string]string `json:"api"`
		Parameters map[string]string `json:"parameters"`
		Source     map[string]any    `json:"source"`
		Context    map[string]any    `json:"context"`
	} `json:"rawEvent"`
	EventType *string        `json:"eventType"`
	Schema    *string        `json:"schema"`
	Contexts  []string       `json:"contexts"`
	Event     map[string]any `json:"event"`
}

// three sends, in one payload, a page view with a web_page entity, a link
// click with web_page and client_session entities, and a struct event.
func (f *fixture) three() {
	f.post(
		map[string]string{"e": "pv", "eid": "00000000-0000-4000-8000-000000000001", "p": "web", "tv": "js-3.1.3", "aid": "shop",
			"url": "https://shop.example/cart", "uid": "alice", "co": contexts(sdj(webPage, map[string]any{"id": "7e0b3a8e-0000-4000-8000-00000000aaaa"}))},
		map[string]string{"e": "ue", "eid": "00000000-0000-4000-8000-000000000002", "p": "web", "tv": "js-3.1.3", "aid": "shop",
			"ue_pr": unstruct(linkClick, map[string]any{"targetUrl": "https://shop.example/x"}),
			"co": contexts(sdj(webPage, map[string]any{"id": "7e0b3a8e-0000-4000-8000-00000000aaaa"}),
				sdj(client, map[string]any{"userId": "7e0b3a8e-0000-4000-8000-00000000bbbb", "sessionId": "7e0b3a8e-0000-4000-8000-00000000cccc",
					"sessionIndex": 1, "previousSessionId": nil, "storageMechanism": "COOKIE_1"}))},
		map[string]string{"e": "se", "eid": "00000000-0000-4000-8000-000000000003", "p": "web", "tv": "js-3.1.3", "aid": "shop",
			"se_ca": "cat", "se_ac": "act", "se_va": "2.5"},
	)
}

func TestGoodEventShape(t *testing.T) {
	f := newFixture(t, 0)
	f.three()
	if got := decode[Summary](t, f.do("GET", "/micro/all", "")); got != (Summary{Total: 3, Good: 3}) {
		t.Fatalf("/micro/all = %+v, want 3 good events", got)
	}
	goods := decode[[]goodJSON](t, f.do("GET", "/micro/good", ""))
	if len(goods) != 3 {
		t.Fatalf("%d good events, want 3", len(goods))
	}
	// One payload: its events in the order sent.
	wantTypes := []string{"page_view", "unstruct", "struct"}
	for i, g := range goods {
		if g.EventType == nil || *g.EventType != wantTypes[i] {
			t.Errorf("event %d: eventType %v, want %s", i, g.EventType, wantTypes[i])
		}
		if g.RawEvent == nil {
			t.Fatalf("event %d has no rawEvent", i)
		}
		if id := g.RawEvent.Parameters["eid"]; g.Event["event_id"] != id {
			t.Errorf("event %d: rawEvent eid %q but event_id %v: paired with the wrong raw event", i, id, g.Event["event_id"])
		}
		if g.RawEvent.API["version"] != "tp2" || g.RawEvent.API["vendor"] != "com.snowplowanalytics.snowplow" {
			t.Errorf("event %d: rawEvent api %v", i, g.RawEvent.API)
		}
		if g.RawEvent.Context["userId"] != nuid || g.RawEvent.Context["ipAddress"] != "198.51.100.20" ||
			g.RawEvent.Context["timestamp"] != "2025-11-26T10:00:00.123Z" || g.RawEvent.Context["useragent"] != "test-agent/1.0" {
			t.Errorf("event %d: rawEvent context %v", i, g.RawEvent.Context)
		}
		if g.RawEvent.Source["name"] != "plowline-test" || g.RawEvent.Source["hostname"] != "collector.example" {
			t.Errorf("event %d: rawEvent source %v", i, g.RawEvent.Source)
		}
		if len(g.Event) != event.NumFields {
			t.Errorf("event %d has %d fields, want all %d (null when empty)", i, len(g.Event), event.NumFields)
		}
	}
	pv, ue, se := goods[0], goods[1], goods[2]
	if pv.Schema == nil || *pv.Schema != "iglu:com.snowplowanalytics.snowplow/page_view/jsonschema/1-0-0" {
		t.Errorf("page view schema %v", pv.Schema)
	}
	if ue.Schema == nil || *ue.Schema != linkClick {
		t.Errorf("link click schema %v", ue.Schema)
	}
	if strings.Join(ue.Contexts, " ") != webPage+" "+client || strings.Join(pv.Contexts, " ") != webPage || se.Contexts == nil || len(se.Contexts) != 0 {
		t.Errorf("contexts: pv %v, ue %v, se %v", pv.Contexts, ue.Contexts, se.Contexts)
	}
	if pv.RawEvent.Parameters["uid"] != "alice" || pv.Event["user_id"] != "alice" || pv.Event["page_url"] != "https://shop.example/cart" {
		t.Errorf("page view in clear: params %v, user_id %v, page_url %v", pv.RawEvent.Parameters, pv.Event["user_id"], pv.Event["page_url"])
	}
	// The Scala SDK's shape: typed values, nulls, self-describing objects.
	if se.Event["se_value"] != 2.5 || se.Event["txn_id"] != nil || se.Event["unstruct_event"] != nil {
		t.Errorf("struct event: se_value %v, txn_id %v, unstruct_event %v", se.Event["se_value"], se.Event["txn_id"], se.Event["unstruct_event"])
	}
	if c, ok := se.Event["contexts"].(map[string]any); !ok || len(c) != 0 {
		t.Errorf("no contexts must be {}, got %v", se.Event["contexts"])
	}
	if se.Event["collector_tstamp"] != "2025-11-26T10:00:00.123Z" {
		t.Errorf("collector_tstamp %v", se.Event["collector_tstamp"])
	}
	u, _ := ue.Event["unstruct_event"].(map[string]any)
	if inner, _ := u["data"].(map[string]any); inner["schema"] != linkClick {
		t.Errorf("unstruct_event %v", ue.Event["unstruct_event"])
	}
	co, _ := pv.Event["contexts"].(map[string]any)
	if data, _ := co["data"].([]any); len(data) != 1 {
		t.Errorf("page view contexts %v", pv.Event["contexts"])
	}
}

func TestGoodFilters(t *testing.T) {
	f := newFixture(t, 0)
	f.three()
	f.get(url.Values{"e": {"pv"}, "eid": {"00000000-0000-4000-8000-000000000004"}, "p": {"web"}, "tv": {"curl"}, "url": {"https://later.example/"}})
	ids := func(body string) []string {
		t.Helper()
		var out []string
		for _, g := range decode[[]goodJSON](t, f.do("POST", "/micro/good", body)) {
			out = append(out, g.Event["event_id"].(string)[35:])
		}
		return out
	}
	for _, c := range []struct{ body, want string }{
		{``, "4 1 2 3"}, // the later payload first
		{`{}`, "4 1 2 3"},
		{`{"event_type":"page_view"}`, "4 1"},
		{`{"event_type":"pv"}`, ""}, // the event column, not the e parameter
		{`{"schema":"` + linkClick + `"}`, "2"},
		{`{"schema":"iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-0"}`, ""},
		{`{"contexts":["` + webPage + `"]}`, "1 2"},
		{`{"contexts":["` + webPage + `","` + client + `"]}`, "2"},
		{`{"contexts":["` + client + `","iglu:com.acme/other/jsonschema/1-0-0"]}`, ""},
		{`{"contexts":[]}`, "4 1 2 3"},
		{`{"limit":2}`, "4 1"},
		{`{"limit":0}`, ""},
		{`{"event_type":"page_view","contexts":["` + webPage + `"],"limit":5}`, "1"},
		{`{"unknown":true,"limit":1}`, "4"},
	} {
		if got := strings.Join(ids(c.body), " "); got != c.want {
			t.Errorf("POST /micro/good %s: events %q, want %q", c.body, got, c.want)
		}
	}
	for _, body := range []string{`{"limit":"two"}`, `[1]`, `{"contexts":"x"}`, `{`} {
		if w := f.do("POST", "/micro/good", body); w.Code != http.StatusBadRequest {
			t.Errorf("POST /micro/good %s: status %d, want 400", body, w.Code)
		}
	}
}

type badJSON struct {
	CollectorPayload *struct {
		API         map[string]string `json:"api"`
		Querystring []string          `json:"querystring"`
		Body        *string           `json:"body"`
	} `json:"collectorPayload"`
	RawEvent *struct {
		API        map[string]string `json:"api"`
		Parameters map[string]string `json:"parameters"`
		Source     map[string]any    `json:"source"`
	} `json:"rawEvent"`
	Errors []string `json:"errors"`
}

func TestBadEvents(t *testing.T) {
	f := newFixture(t, 0)
	// A schema that exists nowhere: schema_violations, with its raw event.
	f.post(map[string]string{"e": "ue", "eid": "00000000-0000-4000-8000-0000000000b1", "p": "web", "tv": "js",
		"ue_pr": unstruct("iglu:com.acme.nowhere/missing/jsonschema/1-0-0", map[string]any{"a": 1})})
	// A GET without an eid whose entity breaks its schema.
	f.get(url.Values{"e": {"pv"}, "p": {"web"}, "tv": {"curl"}, "co": {contexts(sdj(webPage, map[string]any{"id": 42}))}})
	// A payload that is not a tracker-protocol path: adapter_failures.
	f.record(&payload.CollectorPayload{Timestamp: 1, Encoding: "UTF-8", Collector: "plowline-test", Path: "/com.acme/v9", Querystring: "x=1"})
	// The collector's own bad row.
	f.store.AddCollectorBad([][]byte{[]byte(`{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0","data":{}}`)})

	if got := decode[Summary](t, f.do("GET", "/micro/all", "")); got != (Summary{Total: 4, Bad: 4}) {
		t.Fatalf("/micro/all = %+v, want 4 bad", got)
	}
	bads := decode[[]badJSON](t, f.do("GET", "/micro/bad", ""))
	if len(bads) != 4 {
		t.Fatalf("%d bad events, want 4", len(bads))
	}
	size, adapter, get, ue := bads[0], bads[1], bads[2], bads[3]
	if size.CollectorPayload != nil || size.RawEvent != nil || len(size.Errors) != 2 || !strings.Contains(size.Errors[1], "size_violation") {
		t.Errorf("collector bad row: %+v", size)
	}
	if adapter.RawEvent != nil || adapter.CollectorPayload == nil || adapter.CollectorPayload.API["vendor"] != "com.acme" ||
		!strings.Contains(adapter.Errors[1], "adapter_failures") || adapter.Errors[0] != "Error while extracting event(s) from collector payload and validating it/them." {
		t.Errorf("adapter failure: %+v", adapter)
	}
	if get.RawEvent == nil || get.RawEvent.API["version"] != "tp1" || get.RawEvent.Parameters["e"] != "pv" || get.RawEvent.Source["name"] != "plowline-test" ||
		get.CollectorPayload == nil || len(get.CollectorPayload.Querystring) != 4 || !strings.Contains(get.Errors[1], "schema_violations") {
		t.Errorf("GET schema violation: %+v", get)
	}
	if ue.RawEvent == nil || ue.RawEvent.Parameters["eid"] != "00000000-0000-4000-8000-0000000000b1" || ue.CollectorPayload == nil ||
		ue.CollectorPayload.Body == nil || !strings.Contains(*ue.CollectorPayload.Body, "com.acme.nowhere") ||
		ue.Errors[0] != "Error while validating the event." || !strings.Contains(ue.Errors[1], "com.acme.nowhere/missing") {
		t.Errorf("tp2 schema violation: %+v", ue)
	}
	count := func(body string) int {
		return len(decode[[]badJSON](t, f.do("POST", "/micro/bad", body)))
	}
	// A row without a collector payload matches any vendor, as in Micro.
	for body, want := range map[string]int{`{"vendor":"com.snowplowanalytics.snowplow"}`: 3, `{"vendor":"com.acme"}`: 2,
		`{"version":"tp1"}`: 2, `{"version":"tp2","limit":1}`: 1, `{"limit":3}`: 3} {
		if got := count(body); got != want {
			t.Errorf("POST /micro/bad %s: %d events, want %d", body, got, want)
		}
	}
}

func TestResetAndBound(t *testing.T) {
	f := newFixture(t, 2)
	f.three() // 3 events into room for 2: the oldest is dropped
	goods := decode[[]goodJSON](t, f.do("GET", "/micro/good", ""))
	if len(goods) != 2 || goods[0].Event["event_id"] != "00000000-0000-4000-8000-000000000002" || goods[1].Event["event_id"] != "00000000-0000-4000-8000-000000000003" {
		t.Fatalf("bounded store kept %v", goods)
	}
	if got := testutil.ToFloat64(f.store.dropped.WithLabelValues("good")); got != 1 {
		t.Errorf("dropped good = %v, want 1", got)
	}
	if n, err := testutil.GatherAndCount(f.reg, metricname.MicroEvents.Name, metricname.MicroEventsDropped.Name); err != nil || n != 4 {
		t.Errorf("metrics: %d series (%v), want held and dropped for good and bad", n, err)
	}
	if got := decode[Summary](t, f.do("POST", "/micro/reset", "")); got != (Summary{}) {
		t.Errorf("/micro/reset = %+v, want zeros", got)
	}
	if got := decode[[]goodJSON](t, f.do("GET", "/micro/good", "")); len(got) != 0 {
		t.Errorf("%d events after reset", len(got))
	}
	f.three()
	if got := decode[Summary](t, f.do("GET", "/micro/all", "")); got != (Summary{Total: 2, Good: 2}) {
		t.Errorf("after reset and 3 more: %+v", got)
	}
}

func TestPseudonymizedView(t *testing.T) {
	f := newFixture(t, 0)
	f.three()
	f.post(map[string]string{"e": "ue", "eid": "00000000-0000-4000-8000-0000000000b1", "p": "web", "tv": "js", "uid": "bob",
		"ue_pr": unstruct("iglu:com.acme.nowhere/missing/jsonschema/1-0-0", map[string]any{"a": 1})})
	remote := "203.0.113.9:4000"
	// Clear events stay on this machine.
	for _, p := range []string{"/micro/good", "/micro/bad"} {
		if w := f.do("GET", p, "", remote); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), PseudonymizedPrefix) {
			t.Errorf("GET %s from another machine: %d %s, want 403 pointing at the pseudonymized view", p, w.Code, w.Body)
		}
	}
	w := f.do("POST", "/pseudonymized/micro/good", `{"event_type":"page_view"}`, remote)
	goods := decode[[]goodJSON](t, w)
	if len(goods) != 1 {
		t.Fatalf("%d pseudonymized page views, want 1", len(goods))
	}
	pv := goods[0]
	if pv.RawEvent != nil {
		t.Errorf("pseudonymized view shows the raw (clear) parameters: %v", pv.RawEvent)
	}
	if want := f.ps.Pseudonym("alice"); pv.Event["user_id"] != want {
		t.Errorf("user_id %v, want HMAC of alice %s", pv.Event["user_id"], want)
	}
	if want := f.ps.Pseudonym("https://shop.example/cart"); pv.Event["page_url"] != want {
		t.Errorf("page_url %v, want its HMAC", pv.Event["page_url"])
	}
	if pv.Event["app_id"] != "shop" || pv.Event["event_id"] != "00000000-0000-4000-8000-000000000001" {
		t.Errorf("allowlisted fields not in clear: app_id %v event_id %v", pv.Event["app_id"], pv.Event["event_id"])
	}
	if strings.Join(pv.Contexts, " ") != webPage {
		t.Errorf("pseudonymized contexts %v", pv.Contexts)
	}
	bads := decode[[]badJSON](t, f.do("GET", "/pseudonymized/micro/bad", ""))
	if len(bads) != 1 || bads[0].RawEvent != nil || bads[0].CollectorPayload != nil || strings.Contains(bads[0].Errors[1], `"bob"`) ||
		!strings.Contains(bads[0].Errors[1], f.ps.Pseudonym("bob")) {
		t.Errorf("pseudonymized bad rows: %+v", bads)
	}
	// The store is shared: counting and resetting work from either view.
	if got := decode[Summary](t, f.do("GET", "/pseudonymized/micro/all", "", remote)); got != (Summary{Total: 4, Good: 3, Bad: 1}) {
		t.Errorf("pseudonymized /all = %+v", got)
	}
}

func TestRoutes(t *testing.T) {
	f := newFixture(t, 0)
	if w := f.do("GET", "/com.snowplowanalytics.snowplow/tp2", ""); w.Code != http.StatusTeapot {
		t.Errorf("collector path: %d, want the next handler", w.Code)
	}
	if w := f.do("GET", "/micro/nope", ""); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "/all /good /bad /reset /iglu") {
		t.Errorf("/micro/nope: %d %s", w.Code, w.Body)
	}
	if w := f.do("DELETE", "/micro/good", ""); w.Code != http.StatusNotFound {
		t.Errorf("DELETE /micro/good: %d", w.Code)
	}
	r := httptest.NewRequest("OPTIONS", "/micro/good", nil)
	r.Header.Set("Origin", "http://page.example")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Header().Get("Access-Control-Allow-Origin") != "http://page.example" ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: %d %v", w.Code, w.Header())
	}
	w = f.do("GET", "/micro/iglu/com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1", "")
	if schema := decode[map[string]any](t, w); schema["self"].(map[string]any)["version"] != "1-0-1" {
		t.Errorf("iglu lookup: %v", schema["self"])
	}
	w = f.do("GET", "/micro/iglu/com.acme/missing/jsonschema/1-0-0", "")
	var miss struct {
		Value map[string]struct {
			Errors []map[string]string `json:"errors"`
		} `json:"value"`
	}
	if w.Code != http.StatusNotFound || json.Unmarshal(w.Body.Bytes(), &miss) != nil || len(miss.Value) == 0 {
		t.Errorf("missing schema: %d %s", w.Code, w.Body)
	}
	for _, l := range miss.Value {
		if len(l.Errors) != 1 || l.Errors[0]["error"] != "NotFound" {
			t.Errorf("missing schema lookup %v", l)
		}
	}
	for _, p := range []string{"/micro/iglu/com.acme/x/jsonschema/1-0", "/micro/iglu/com.acme/x/avro/1-0-0", "/micro/iglu/x"} {
		if w := f.do("GET", p, ""); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "Schema lookup should be in format") {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	noPseudo := NewHandler(f.store, HandlerOptions{})
	w = httptest.NewRecorder()
	noPseudo.ServeHTTP(w, httptest.NewRequest("GET", "/pseudonymized/micro/good", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("pseudonymized view without a pseudonymizer: %d", w.Code)
	}
}

// FuzzFilters: a filter document is untrusted input; whatever it is, the
// API answers 200 or 400 and never panics.
func FuzzFilters(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"limit":-1}`, `{"contexts":[null]}`, `{"schema":null,"event_type":1}`, `{"vendor":"a","version":"b"}`, "\x00"} {
		f.Add(s)
	}
	fx := newFixture(f, 0)
	fx.three()
	fx.get(url.Values{"e": {"pv"}, "p": {"web"}, "co": {"{"}})
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range []string{"/micro/good", "/micro/bad", "/pseudonymized/micro/good"} {
			r := httptest.NewRequest("POST", p, strings.NewReader(body))
			r.RemoteAddr = "127.0.0.1:1"
			w := httptest.NewRecorder()
			fx.h.ServeHTTP(w, r)
			if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
				t.Fatalf("POST %s %q: status %d", p, body, w.Code)
			}
			if w.Code == http.StatusOK && !json.Valid(w.Body.Bytes()) {
				t.Fatalf("POST %s %q: invalid JSON answer", p, body)
			}
		}
	})
}
