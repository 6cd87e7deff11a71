package enrich

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/enrich/iglu"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var igluCentral = filepath.Join("..", "..", "testdata", "iglu-central")

// Fixed inputs used across tests.
const (
	collectorMillis = 1764151200123 // 2025-11-26 10:00:00.123 UTC
	chromeUA        = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	webPageID       = "1f3a44c2-5d7e-4c1b-9a34-6b0e7d2f8a11"
	eventID         = "c6ef3124-b53a-4b13-a233-0088f79dcbcb"
	nuid            = "ecdff4d0-9175-40ac-a8bb-325c49733607"
)

const gitlabContext = `{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9","data":{"environment":"production","source":"gitlab-javascript","plan":"free","extra":{},"user_id":null,"project_id":278964,"namespace_id":9970,"context_generated_at":"2025-11-26T09:59:59.000Z","realm":"saas","instance_id":null,"host_name":"gitlab.com","correlation_id":"01JDXYZ"}}`

func contextsJSON(items ...string) string {
	return `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[` + strings.Join(items, ",") + `]}`
}

func webPage(id string) string {
	return `{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"` + id + `"}}`
}

// handWrittenGET writes a Thrift CollectorPayload byte by byte, field id by
// field id, as Snowplow's Java collector does — not with our encoder.
func handWrittenGET(query string, headers []string) []byte {
	var b bytes.Buffer
	str := func(id int16, s string) {
		b.WriteByte(11)
		binary.Write(&b, binary.BigEndian, id)
		binary.Write(&b, binary.BigEndian, int32(len(s)))
		b.WriteString(s)
	}
	str(31337, payload.Schema)
	str(100, "203.0.113.7")
	b.WriteByte(10)
	binary.Write(&b, binary.BigEndian, int16(200))
	binary.Write(&b, binary.BigEndian, int64(collectorMillis))
	str(210, "UTF-8")
	str(220, "ssc-3.2.0-kinesis")
	str(300, chromeUA)
	str(310, "https://gitlab.com/gitlab-org/gitlab/-/issues")
	str(320, "/i")
	str(330, query)
	b.WriteByte(15)
	binary.Write(&b, binary.BigEndian, int16(350))
	b.WriteByte(11)
	binary.Write(&b, binary.BigEndian, int32(len(headers)))
	for _, h := range headers {
		binary.Write(&b, binary.BigEndian, int32(len(h)))
		b.WriteString(h)
	}
	str(400, "collector.example.com")
	str(410, nuid)
	b.WriteByte(0)
	return b.Bytes()
}

func post(t testing.TB, events ...map[string]string) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": events})
	if err != nil {
		t.Fatal(err)
	}
	return postBody(t, string(body))
}

func postBody(t testing.TB, body string) []byte {
	t.Helper()
	p := &payload.CollectorPayload{IPAddress: "198.51.100.20", Timestamp: collectorMillis, Encoding: "UTF-8",
		Collector: "plowline-0.1.0", UserAgent: chromeUA, Path: "/com.snowplowanalytics.snowplow/tp2", Body: body,
		ContentType: "application/json; charset=utf-8", Headers: []string{"Content-Type: application/json"}, HasHeaders: true,
		Hostname: "collector.example.com", NetworkUserID: nuid}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestEnricher(t testing.TB, mutate ...func(*Config)) (*Enricher, *prometheus.Registry) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Version = "1.2.3"
	for _, m := range mutate {
		m(&cfg)
	}
	reg := prometheus.NewRegistry()
	e, err := New(cfg, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e, reg
}

func parseTSV(t *testing.T, line []byte) *event.Event {
	t.Helper()
	if bytes.ContainsAny(line, "\n\r") {
		t.Fatalf("TSV line contains a line break: %q", line)
	}
	ev, err := event.ParseBytes(line)
	if err != nil {
		t.Fatalf("enriched TSV does not parse: %v\n%s", err, line)
	}
	if _, err := ev.JSON(); err != nil {
		t.Fatalf("enriched event has no analytics-SDK JSON: %v", err)
	}
	return &ev
}

// badRowValidator validates bad rows against Iglu Central through our own
// resolver, with no embedded schemas in the way.
var badRowValidator = iglu.NewResolver([]iglu.Registry{iglu.DirRegistry{Root: igluCentral}}, iglu.Options{NoEmbedded: true})

func checkBadRow(t *testing.T, line []byte, wantType string) map[string]any {
	t.Helper()
	b, err := badrow.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	if got := badrow.TypeOf(b.Schema); got != wantType {
		t.Fatalf("bad row type %s, want %s: %s", got, wantType, line)
	}
	key, err := iglu.ParseURI(b.Schema)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Data))
	if err != nil {
		t.Fatal(err)
	}
	if err := badRowValidator.Validate(context.Background(), key, inst); err != nil {
		t.Fatalf("%s is invalid against its schema: %v\n%s", wantType, err, line)
	}
	var m map[string]any
	json.Unmarshal(b.Data, &m)
	return m
}

func TestHandWrittenPixelRequest(t *testing.T) {
	e, reg := newTestEnricher(t)
	cx := base64.RawURLEncoding.EncodeToString([]byte(contextsJSON(webPage(webPageID), gitlabContext)))
	q := "e=pv&p=web&tv=js-4.10.1&tna=gl&aid=gitlab&eid=" + eventID +
		"&dtm=1764151199000&stm=1764151199500&duid=8a3e0c1d-7d2b-4ad8-9d24-1c8f2b9e0f00&vid=3&sid=2b15e5c8-d3b1-41e4-b9d6-1681e6b88ec1" +
		"&uid=user%2042&lang=en-US&cs=UTF-8&tz=Europe%2FBerlin&res=1920x1080&vp=1280x720&ds=1265x3000&cd=24&cookie=1" +
		"&page=Issues+%C2%B7+GitLab&url=" + urlEsc("https://gitlab.com:8443/gitlab-org/gitlab/-/issues?utm_source=newsletter&utm_medium=email&utm_campaign=launch&gclid=abc123#note_1") +
		"&refr=" + urlEsc("https://www.google.co.uk/search?q=gitlab+issues&hl=en") +
		"&cx=" + cx
	rec := handWrittenGET(q, []string{"Host: collector.example.com", "X-Forwarded-For: 192.0.2.44, 10.0.0.1"})
	out := e.Enrich(context.Background(), rec)
	if len(out.Bad) != 0 || len(out.Good) != 1 {
		t.Fatalf("good %d bad %d: %s", len(out.Good), len(out.Bad), out.Bad)
	}
	ev := parseTSV(t, out.Good[0])
	want := map[event.Field]string{
		event.AppID: "gitlab", event.Platform: "web", event.EventType: "page_view", event.EventID: eventID,
		event.NameTracker: "gl", event.VTracker: "js-4.10.1", event.VCollector: "ssc-3.2.0-kinesis", event.VEtl: "plowline-1.2.3",
		event.CollectorTstamp: "2025-11-26 10:00:00.123", event.DvceCreatedTstamp: "2025-11-26 09:59:59.000",
		event.DvceSentTstamp: "2025-11-26 09:59:59.500",
		// collector time minus the 500 ms the event waited on the device
		event.DerivedTstamp: "2025-11-26 09:59:59.623",
		event.UserID:        "user 42", event.UserIPAddress: "192.0.2.44", event.NetworkUserID: nuid,
		event.DomainUserID: "8a3e0c1d-7d2b-4ad8-9d24-1c8f2b9e0f00", event.DomainSessionIdx: "3",
		event.DomainSessionID: "2b15e5c8-d3b1-41e4-b9d6-1681e6b88ec1",
		event.PageTitle:       "Issues · GitLab", event.BrLang: "en-US", event.DocCharset: "UTF-8", event.OSTimezone: "Europe/Berlin",
		event.DvceScreenwidth: "1920", event.DvceScreenheight: "1080", event.BrViewwidth: "1280", event.BrViewheight: "720",
		event.DocWidth: "1265", event.DocHeight: "3000", event.BrColordepth: "24", event.BrCookies: "1",
		event.PageURLScheme: "https", event.PageURLHost: "gitlab.com", event.PageURLPort: "8443",
		event.PageURLPath: "/gitlab-org/gitlab/-/issues", event.PageURLQuery: "utm_source=newsletter&utm_medium=email&utm_campaign=launch&gclid=abc123",
		event.PageURLFragment: "note_1",
		event.RefrURLScheme:   "https", event.RefrURLHost: "www.google.co.uk", event.RefrURLPort: "443", event.RefrURLPath: "/search",
		event.RefrURLQuery: "q=gitlab+issues&hl=en", event.RefrMedium: "search", event.RefrSource: "Google", event.RefrTerm: "gitlab issues",
		event.MktSource: "newsletter", event.MktMedium: "email", event.MktCampaign: "launch", event.MktClickid: "abc123", event.MktNetwork: "Google",
		event.Useragent:   chromeUA,
		event.EventVendor: "com.snowplowanalytics.snowplow", event.EventName: "page_view", event.EventFormat: "jsonschema", event.EventVersion: "1-0-0",
		// Re-emitted as Snowplow does: the 1-0-1 wrapper (sdjnorm.go).
		event.Contexts: strings.Replace(contextsJSON(webPage(webPageID), gitlabContext), "contexts/jsonschema/1-0-0", "contexts/jsonschema/1-0-1", 1),
	}
	for f, v := range want {
		if ev[f] != v {
			t.Errorf("%s = %q, want %q", f, ev[f], v)
		}
	}
	if len(ev[event.EventFingerprint]) != 32 {
		t.Errorf("event_fingerprint %q is not an MD5", ev[event.EventFingerprint])
	}
	if _, err := time.Parse(event.TimestampLayout, ev[event.EtlTstamp]); err != nil {
		t.Errorf("etl_tstamp %q: %v", ev[event.EtlTstamp], err)
	}
	var dc struct {
		Schema string
		Data   []struct {
			Schema string
			Data   map[string]any
		}
	}
	if err := json.Unmarshal([]byte(ev[event.DerivedContexts]), &dc); err != nil || len(dc.Data) != 1 {
		t.Fatalf("derived_contexts %q: %v", ev[event.DerivedContexts], err)
	}
	if dc.Data[0].Schema != "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0" ||
		dc.Data[0].Data["useragentFamily"] != "Chrome" || dc.Data[0].Data["useragentMajor"] != "120" || dc.Data[0].Data["osFamily"] != "Windows" {
		t.Errorf("ua_parser_context: %+v", dc.Data[0])
	}
	// The derived context is valid against Iglu Central's ua_parser_context.
	uaKey, _ := iglu.ParseURI(dc.Data[0].Schema)
	raw, _ := json.Marshal(dc.Data[0].Data)
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err := badRowValidator.Validate(context.Background(), uaKey, inst); err != nil {
		t.Errorf("ua_parser_context invalid: %v", err)
	}
	if got := testutil.ToFloat64(e.m.good); got != 1 {
		t.Errorf("good events counter %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "plowline_enricher_payloads_total"); err != nil || n != 1 {
		t.Errorf("payloads metric: %d %v", n, err)
	}
}

func urlEsc(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "=", "%3D", "?", "%3F", "#", "%23", "+", "%2B", " ", "%20")
	return r.Replace(s)
}

func TestBatchFailuresStayPerEvent(t *testing.T) {
	e, _ := newTestEnricher(t)
	good := map[string]string{"e": "pv", "p": "web", "tv": "js-4.10.1", "eid": eventID, "url": "http://example.com/a",
		"cx": base64.StdEncoding.EncodeToString([]byte(contextsJSON(webPage(webPageID))))}
	badSchema := map[string]string{"e": "pv", "p": "web", "tv": "js-4.10.1", "co": contextsJSON(webPage("not-a-uuid"))}
	noE := map[string]string{"p": "web", "tv": "js-4.10.1"}
	badDtm := map[string]string{"e": "pv", "p": "web", "tv": "js-4.10.1", "dtm": "yesterday"}
	unknownSchema := map[string]string{"e": "ue", "p": "srv", "tv": "node-4.8.0",
		"ue_pr": `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.acme/nope/jsonschema/1-0-0","data":{}}}`}
	se := map[string]string{"e": "se", "p": "srv", "tv": "node-4.8.0", "se_ca": "cat", "se_ac": "act", "se_va": "2.50"}
	out := e.Enrich(context.Background(), post(t, good, badSchema, noE, badDtm, unknownSchema, se))
	if len(out.Good) != 2 || len(out.Bad) != 4 {
		t.Fatalf("good %d bad %d, want 2 and 4:\n%s", len(out.Good), len(out.Bad), bytes.Join(out.Bad, []byte("\n")))
	}
	if ev := parseTSV(t, out.Good[0]); ev[event.EventID] != eventID || ev[event.PageURLPort] != "80" {
		t.Errorf("first good event: id %q port %q", ev[event.EventID], ev[event.PageURLPort])
	}
	if ev := parseTSV(t, out.Good[1]); ev[event.EventType] != "struct" || ev[event.SeValue] != "2.50" || ev[event.EventVendor] != "com.google.analytics" {
		t.Errorf("struct event: %q %q %q", ev[event.EventType], ev[event.SeValue], ev[event.EventVendor])
	}
	byType := map[string]int{}
	for i, line := range out.Bad {
		byType[out.BadTypes[i]]++
		m := checkBadRow(t, line, out.BadTypes[i])
		s := string(line)
		switch out.BadTypes[i] {
		case "schema_violations":
			if strings.Contains(s, "not-a-uuid") && !strings.Contains(s, `"ValidationError"`) {
				t.Errorf("web_page violation lacks the validation report: %s", s)
			}
			if strings.Contains(s, "com.acme/nope") && !strings.Contains(s, `"ResolutionError"`) {
				t.Errorf("unknown schema lacks the resolution error: %s", s)
			}
		case "tracker_protocol_violations":
			// The failing event travels alone, re-wrapped, with its parameters.
			body := m["payload"].(map[string]any)["body"].(string)
			var env struct{ Data []map[string]string }
			if err := json.Unmarshal([]byte(body), &env); err != nil || len(env.Data) != 1 || env.Data[0]["tv"] != "js-4.10.1" || env.Data[0]["e"] != "" {
				t.Errorf("violation body is not the lone failing event: %s", body)
			}
			if strings.Contains(s, "yesterday") && (!strings.Contains(s, `"path":"dtm"`) || !strings.Contains(s, AtomicSchema)) {
				t.Errorf("atomic schema violation does not name dtm: %s", s)
			}
		}
	}
	// dtm=yesterday is an atomic parse error: a schema violation since enrich 4.2.
	if byType["schema_violations"] != 3 || byType["tracker_protocol_violations"] != 1 || byType["enrichment_failures"] != 0 {
		t.Errorf("bad rows by type: %v", byType)
	}
	if got := testutil.ToFloat64(e.m.badRows.WithLabelValues("schema_violations")); got != 3 {
		t.Errorf("schema_violations counter %v", got)
	}
}

func TestWholePayloadFailures(t *testing.T) {
	e, _ := newTestEnricher(t)
	ctx := context.Background()
	cases := []struct {
		name, wantType, wantText string
		rec                      []byte
	}{
		{"not thrift", "collector_payload_format_violation", base64.StdEncoding.EncodeToString([]byte("hello")), []byte("hello")},
		{"not json", "tracker_protocol_violations", `"field":"body"`, postBody(t, `{"schema":`)},
		{"not self-describing", "tracker_protocol_violations", "INVALID_SCHEMA", postBody(t, `{"data":[]}`)},
		{"bad iglu uri", "tracker_protocol_violations", "INVALID_SCHEMAVER", postBody(t, `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0","data":[]}`)},
		{"wrong wrapper", "tracker_protocol_violations", "schemaCriterion", postBody(t, `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[]}`)},
		{"empty batch", "tracker_protocol_violations", "ValidationError", postBody(t, `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[]}`)},
		{"data not array", "tracker_protocol_violations", "ValidationError", postBody(t, `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":{"e":"pv"}}`)},
		{"empty pixel", "tracker_protocol_violations", `"field":"querystring"`, handWrittenGET("", nil)},
		{"bad percent", "tracker_protocol_violations", "%zz", handWrittenGET("e=pv&url=%zz", nil)},
		{"unknown vendor", "adapter_failures", "com.acme", func() []byte {
			p := &payload.CollectorPayload{IPAddress: "1.2.3.4", Timestamp: collectorMillis, Encoding: "UTF-8", Collector: "c", Path: "/com.acme/v1", Querystring: "a=b"}
			b, _ := p.Marshal()
			return b
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := e.Enrich(ctx, c.rec)
			if len(out.Good) != 0 || len(out.Bad) != 1 {
				t.Fatalf("good %d bad %d", len(out.Good), len(out.Bad))
			}
			checkBadRow(t, out.Bad[0], c.wantType)
			if !strings.Contains(string(out.Bad[0]), c.wantText) {
				t.Errorf("bad row lacks %q: %s", c.wantText, out.Bad[0])
			}
		})
	}
}

func TestContentTypeAndSDJFailures(t *testing.T) {
	e, _ := newTestEnricher(t)
	ctx := context.Background()
	p := &payload.CollectorPayload{IPAddress: "1.2.3.4", Timestamp: collectorMillis, Encoding: "UTF-8", Collector: "c",
		Path: "/com.snowplowanalytics.snowplow/tp2", ContentType: "text/plain", Body: `{}`}
	rec, _ := p.Marshal()
	out := e.Enrich(ctx, rec)
	if len(out.Bad) != 1 || !strings.Contains(string(out.Bad[0]), "contentType") {
		t.Fatalf("text/plain body accepted: %s", out.Bad)
	}
	checkBadRow(t, out.Bad[0], "tracker_protocol_violations")

	base := map[string]string{"e": "ue", "p": "web", "tv": "js-4.10.1"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	cases := []struct {
		ev       map[string]string
		wantType string
		wantText string
	}{
		{with("ue_px", "!!!not base64!!!"), "schema_violations", `"path":"ue_px"`},
		{with("ue_pr", "{nope"), "schema_violations", `"field":"ue_pr"`},
		{with("ue_pr", `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[]}`), "schema_violations", unstructCriterion},
		{with("ue_pr", `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"nope","data":{}}}`), "schema_violations", `"keyword":"pattern"`},
		{with("ue_pr", `{"schema":"iglu:nope","data":{}}`), "schema_violations", "INVALID_IGLUURI"},
		{with("ue_pr", `[1]`), "schema_violations", "INVALID_DATA_PAYLOAD"},
		{base, "enrichment_failures", "ue_px"},
		{with("e", "xx"), "schema_violations", `"path":"e"`},
		{with("eid", "123"), "schema_violations", `"path":"eid"`},
		{with("res", "wide"), "schema_violations", `"path":"res"`},
		{with("url", "not a url"), "enrichment_failures", `"field":"url"`},
		{with("aid", strings.Repeat("a", 300)), "schema_violations", `"keyword":"atomic_field_length_exceeded"`},
	}
	for i, c := range cases {
		out := e.Enrich(ctx, post(t, c.ev))
		if len(out.Good) != 0 || len(out.Bad) != 1 {
			t.Errorf("case %d: good %d bad %d", i, len(out.Good), len(out.Bad))
			continue
		}
		checkBadRow(t, out.Bad[0], c.wantType)
		if !strings.Contains(string(out.Bad[0]), c.wantText) {
			t.Errorf("case %d: bad row lacks %q: %s", i, c.wantText, out.Bad[0])
		}
	}
}

func TestUnstructEventAndLinkClick(t *testing.T) {
	e, _ := newTestEnricher(t, func(c *Config) { c.Registries = []RegistryConfig{{URI: igluCentral}} })
	ue := `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1","data":{"targetUrl":"https://about.gitlab.com/pricing/"}}}`
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		out := e.Enrich(context.Background(), post(t, map[string]string{"e": "ue", "p": "web", "tv": "js-4.10.1", "ue_px": enc.EncodeToString([]byte(ue))}))
		if len(out.Good) != 1 {
			t.Fatalf("%v: %s", enc, out.Bad)
		}
		ev := parseTSV(t, out.Good[0])
		if ev[event.EventType] != "unstruct" || ev[event.EventName] != "link_click" || ev[event.EventVersion] != "1-0-1" || ev[event.UnstructEvent] != ue {
			t.Errorf("unstruct: %q %q %q %q", ev[event.EventType], ev[event.EventName], ev[event.EventVersion], ev[event.UnstructEvent])
		}
	}
}

func TestIPAndAnonymisation(t *testing.T) {
	for _, c := range []struct {
		headers []string
		ip      string
		want    string
		anon    string
	}{
		{nil, "", "203.0.113.7", "203.0.113.x"},
		{[]string{"X-Forwarded-For: 192.0.2.1:5555, 10.0.0.1"}, "", "192.0.2.1", "192.0.2.x"},
		{[]string{`Forwarded: for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.1`}, "", "2001:db8:cafe::17", "2001:db8:cafe:0:0:0:x:x"},
		{[]string{"x-forwarded-for: unknown", "Forwarded: for=198.51.100.9"}, "", "198.51.100.9", "198.51.100.x"},
		{[]string{"X-Forwarded-For: 192.0.2.1"}, "198.51.100.77", "198.51.100.77", "198.51.100.x"},
	} {
		q := "e=pv&p=web&tv=t"
		if c.ip != "" {
			q += "&ip=" + c.ip
		}
		e, _ := newTestEnricher(t)
		ev := parseTSV(t, e.Enrich(context.Background(), handWrittenGET(q, c.headers)).Good[0])
		if ev[event.UserIPAddress] != c.want {
			t.Errorf("%v ip=%s: user_ipaddress %q, want %q", c.headers, c.ip, ev[event.UserIPAddress], c.want)
		}
		a, _ := newTestEnricher(t, func(cfg *Config) { cfg.Enrichments.AnonIP.Enabled = true })
		ev = parseTSV(t, a.Enrich(context.Background(), handWrittenGET(q, c.headers)).Good[0])
		if ev[event.UserIPAddress] != c.anon {
			t.Errorf("anonymised %q, want %q", ev[event.UserIPAddress], c.anon)
		}
	}
	if got := anonymize("192.0.2.1", 4, 1); got != "x.x.x.x" {
		t.Errorf("4 octets: %s", got)
	}
}

func TestFingerprintIgnoresRetryFields(t *testing.T) {
	e, _ := newTestEnricher(t)
	fp := func(extra string) string {
		return parseTSV(t, e.Enrich(context.Background(), handWrittenGET("e=pv&p=web&tv=t&url=http%3A%2F%2Fa.example%2F"+extra, nil)).Good[0])[event.EventFingerprint]
	}
	a, b, c := fp("&stm=1764151199000&eid="+eventID), fp("&stm=1764151199999"), fp("&page=other")
	if a != b {
		t.Errorf("fingerprint changes with stm/eid: %s %s", a, b)
	}
	if a == c {
		t.Errorf("fingerprint ignores page: %s", a)
	}
	off, _ := newTestEnricher(t, func(c *Config) { c.Enrichments.EventFingerprint.Enabled = false })
	if v := parseTSV(t, off.Enrich(context.Background(), handWrittenGET("e=pv", nil)).Good[0])[event.EventFingerprint]; v != "" {
		t.Errorf("disabled fingerprint set: %q", v)
	}
}

func TestCleaningAndTimestamps(t *testing.T) {
	e, _ := newTestEnricher(t)
	out := e.Enrich(context.Background(), post(t, map[string]string{"e": "pv", "p": "web", "tv": "t",
		"page": "a\tb\nc\x00d", "ttm": "1764151100000", "dtm": "1764151199000", "stm": "1764151199500", "tnuid": "tracker-nuid"}))
	if len(out.Good) != 1 {
		t.Fatal(out.Bad)
	}
	ev := parseTSV(t, out.Good[0])
	// Snowplow's fixTabsNewlines: a tab is four spaces, other controls go.
	if ev[event.PageTitle] != "a    bcd" {
		t.Errorf("page_title %q", ev[event.PageTitle])
	}
	if ev[event.DerivedTstamp] != "2025-11-26 09:58:20.000" || ev[event.TrueTstamp] != "2025-11-26 09:58:20.000" {
		t.Errorf("derived_tstamp %q true_tstamp %q: the true timestamp must win", ev[event.DerivedTstamp], ev[event.TrueTstamp])
	}
	if ev[event.NetworkUserID] != "tracker-nuid" {
		t.Errorf("tnuid does not override the collector's: %q", ev[event.NetworkUserID])
	}
	if !isUUID(ev[event.EventID]) {
		t.Errorf("missing eid not generated: %q", ev[event.EventID])
	}
}

func TestRefererAndCampaignVariants(t *testing.T) {
	e, _ := newTestEnricher(t, func(c *Config) { c.Enrichments.RefererParser.InternalDomains = []string{"gitlab.net"} })
	for _, c := range []struct {
		page, refr             string
		medium, source, term   string
		clickid, network, utms string
	}{
		{"https://gitlab.com/a", "https://gitlab.com/b", "internal", "", "", "", "", ""},
		{"https://gitlab.com/a", "https://ops.gitlab.net/x", "internal", "", "", "", "", ""},
		{"https://gitlab.com/a", "https://t.co/xyz", "social", "Twitter", "", "", "", ""},
		{"https://gitlab.com/a", "https://duckduckgo.com/?q=ci+cd", "search", "DuckDuckGo", "ci cd", "", "", ""},
		{"https://gitlab.com/a", "https://mail.google.com/mail/u/0", "email", "Gmail", "", "", "", ""},
		{"https://gitlab.com/a", "https://blog.example.org/post", "unknown", "", "", "", "", ""},
		{"https://gitlab.com/a?fbclid=F1&utm_term=t", "", "", "", "", "F1", "Facebook", "t"},
		{"https://gitlab.com/a?msclkid=M&gclid=G", "", "", "", "", "G", "Google", ""},
	} {
		q := "e=pv&p=web&tv=t&url=" + urlEsc(c.page)
		if c.refr != "" {
			q += "&refr=" + urlEsc(c.refr)
		}
		out := e.Enrich(context.Background(), handWrittenGET(q, nil))
		if len(out.Good) != 1 {
			t.Fatalf("%s: %s", c.refr, out.Bad)
		}
		ev := parseTSV(t, out.Good[0])
		got := []string{ev[event.RefrMedium], ev[event.RefrSource], ev[event.RefrTerm], ev[event.MktClickid], ev[event.MktNetwork], ev[event.MktTerm]}
		want := []string{c.medium, c.source, c.term, c.clickid, c.network, c.utms}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("page %s refr %s: got %q want %q", c.page, c.refr, got, want)
		}
	}
}

func TestEnrichedJSONInBadRowsIsTyped(t *testing.T) {
	e, _ := newTestEnricher(t)
	out := e.Enrich(context.Background(), handWrittenGET("e=pv&p=web&tv=t&vid=7&res=10x20&cookie=1&tid=42&url="+urlEsc("https://gitlab.com/x")+
		"&co="+urlEsc(contextsJSON(webPage("bad"))), nil))
	if len(out.Bad) != 1 {
		t.Fatalf("want one bad row, got %d good %d bad", len(out.Good), len(out.Bad))
	}
	m := checkBadRow(t, out.Bad[0], "schema_violations")
	enr := m["payload"].(map[string]any)["enriched"].(map[string]any)
	if enr["domain_sessionidx"] != float64(7) || enr["page_urlport"] != float64(443) || enr["br_cookies"] != float64(1) || enr["txn_id"] != "42" {
		t.Errorf("enriched fields mistyped: %v", enr)
	}
	if !strings.Contains(enr["contexts"].(string), `"id":"bad"`) {
		t.Errorf("enriched contexts lost: %v", enr["contexts"])
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "enrich.yaml")
	write := func(s string) {
		if err := writeFile(path, s); err != nil {
			t.Fatal(err)
		}
	}
	write("registries: [" + igluCentral + ", https://iglucentral.com]\ncache: {size: 10, ttl: 1h}\nenrichments:\n  anon_ip: {enabled: true, ipv4_octets: 2}\n  referer_parser: {internal_domains: [gitlab.com]}\n")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cache.Size != 10 || cfg.Cache.TTL != time.Hour || !cfg.Enrichments.AnonIP.Enabled || cfg.Enrichments.AnonIP.IPv4Octets != 2 ||
		!cfg.Enrichments.UAParser.Enabled || cfg.Enrichments.UAParser.CacheSize != 10000 || len(cfg.Registries) != 2 {
		t.Errorf("config not merged over defaults: %+v", cfg)
	}
	write("")
	if _, err := LoadConfig(path); err != nil {
		t.Errorf("empty file: %v", err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"registries: [ftp://x]", "registries[0]: ftp://x"},
		{"registries: [/does/not/exist]", "registries[0]: /does/not/exist"},
		{"cache: {size: 0}", "cache.size: 0"},
		{"oversized_fields: drop", `oversized_fields: "drop"`},
		{"enrichments: {anon_ip: {enabled: true, ipv4_octets: 5}}", "enrichments.anon_ip.ipv4_octets: 5"},
		{"enrichments: {ua_parser: {enabled: true, cache_size: -1}}", "enrichments.ua_parser.cache_size: -1"},
		{"enrichments: {referer_parser: {internal_domains: ['https://x']}}", "internal_domains[0]"},
		{"nope: 1", "nope"},
	} {
		write(c.yaml)
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to name %q", c.yaml, err, c.want)
		}
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// TestConcurrentEnrich runs one enricher from many goroutines (run with
// -race): caches, metrics and pools are shared.
func TestConcurrentEnrich(t *testing.T) {
	e, _ := newTestEnricher(t)
	recs := make([][]byte, 64)
	for i := range recs {
		recs[i] = gitlabPageView(t, i)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, r := range recs {
				out := e.Enrich(context.Background(), r)
				if len(out.Good) != 1 || len(out.Bad) != 0 {
					errs <- fmt.Sprintf("record %d: %d good %d bad %s", i, len(out.Good), len(out.Bad), out.Bad)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := testutil.ToFloat64(e.m.good); got != 8*64 {
		t.Errorf("good counter %v, want %d", got, 8*64)
	}
}

// TestProcessKeepsOrderWithWorkers enriches a stream of base64 lines with
// several workers and checks the output order and counts.
func TestProcessKeepsOrderWithWorkers(t *testing.T) {
	e, _ := newTestEnricher(t)
	var in bytes.Buffer
	for i := 0; i < 300; i++ {
		if i == 100 {
			in.WriteString("!!not base64!!\n")
		}
		in.WriteString(base64.StdEncoding.EncodeToString(handWrittenGET(fmt.Sprintf("e=pv&p=web&tv=t&page=p%03d", i), nil)) + "\n")
	}
	for _, workers := range []int{1, 4} {
		var good, bad bytes.Buffer
		sum, err := e.Process(context.Background(), bytes.NewReader(in.Bytes()), &good, &bad, workers)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Payloads != 301 || sum.Good != 300 || sum.Bad != 1 || sum.BadByType["collector_payload_format_violation"] != 1 {
			t.Errorf("workers %d: %s", workers, sum)
		}
		lines := strings.Split(strings.TrimSuffix(good.String(), "\n"), "\n")
		for i, l := range lines {
			if ev := parseTSV(t, []byte(l)); ev[event.PageTitle] != fmt.Sprintf("p%03d", i) {
				t.Fatalf("workers %d: line %d is %q: order lost", workers, i, ev[event.PageTitle])
			}
		}
		if !strings.Contains(bad.String(), "input line 101") {
			t.Errorf("bad line not named: %s", bad.String())
		}
	}
}

func TestFormatMillisMatchesTimeFormat(t *testing.T) {
	for _, ms := range []int64{0, 1, 999, 1000, 1764151200123, 951782400000 /* 2000-02-29 */, maxMillis, 253402300799000, 86399999} {
		want := time.UnixMilli(ms).UTC().Format(event.TimestampLayout)
		if got := formatMillis(ms); got != want {
			t.Errorf("formatMillis(%d) = %q, want %q", ms, got, want)
		}
	}
}

func TestRedirectBecomesURIRedirectEvent(t *testing.T) {
	e, _ := newTestEnricher(t)
	p := &payload.CollectorPayload{IPAddress: "192.0.2.1", Timestamp: collectorMillis, Encoding: "UTF-8", Collector: "c",
		Path: "/r/tp2", Querystring: "u=https%3A%2F%2Fabout.gitlab.com%2Fpricing%2F%3Fa%3D1&aid=mail"}
	rec, _ := p.Marshal()
	out := e.Enrich(context.Background(), rec)
	if len(out.Good) != 1 {
		t.Fatalf("%s", out.Bad)
	}
	ev := parseTSV(t, out.Good[0])
	if ev[event.EventType] != "unstruct" || ev[event.EventName] != "uri_redirect" || ev[event.AppID] != "mail" ||
		!strings.Contains(ev[event.UnstructEvent], `"uri":"https://about.gitlab.com/pricing/?a=1"`) {
		t.Errorf("redirect: %q %q %q", ev[event.EventType], ev[event.EventName], ev[event.UnstructEvent])
	}
	// A redirect that tracks its own event keeps it.
	p.Querystring = "u=https%3A%2F%2Fx.example%2F&e=pv&p=web"
	rec, _ = p.Marshal()
	if ev := parseTSV(t, e.Enrich(context.Background(), rec).Good[0]); ev[event.EventType] != "page_view" {
		t.Errorf("redirect with e=pv became %q", ev[event.EventType])
	}
}
