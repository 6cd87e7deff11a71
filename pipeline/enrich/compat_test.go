package enrich

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/plowline/plowline/pipeline/enrich/tp"
	"github.com/plowline/plowline/pipeline/event"
)

// Each test here mirrors a case of Snowplow enrich's own test suite
// (modules/common/src/test/... in snowplow/enrich), named in its comment.

// lenHash "hashes" to the length of its input, like the s => s.size
// algorithm of EventFingerprintEnrichmentSpec's first case.
type lenHash struct{ n int }

func (h *lenHash) Write(p []byte) (int, error) { h.n += len(p); return len(p), nil }
func (h *lenHash) Sum(b []byte) []byte         { return append(b, strconv.Itoa(h.n)...) }
func (h *lenHash) Reset()                      { h.n = 0 }
func (h *lenHash) Size() int                   { return 8 }
func (h *lenHash) BlockSize() int              { return 1 }

func params(kv ...string) []tp.Param {
	var ps []tp.Param
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, tp.Param{Name: kv[i], Value: kv[i+1]})
	}
	return ps
}

// EventFingerprintEnrichmentSpec e1-e8.
func TestFingerprintMatchesSnowplowSpec(t *testing.T) {
	stm := map[string]bool{"stm": true}
	// e1: "e"+US+"se"+US+"se_ac"+US+"buy"+US is 15 characters; stm excluded.
	got, _ := hex.DecodeString(fingerprint(params("stm", "1000000000000", "e", "se", "se_ac", "buy"), stm, &lenHash{}))
	if string(got) != "15" {
		t.Errorf("e1: combined length %q, want 15", got)
	}
	std := map[string]bool{"stm": true, "eid": true}
	md := func(ps []tp.Param) string { return fingerprint(ps, std, md5.New()) }
	// e2: the order of the parameters does not matter.
	if a, b := md(params("e", "se", "se_ac", "action", "se_ca", "category", "se_pr", "property")),
		md(params("se_ca", "category", "se_ac", "action", "se_pr", "property", "e", "se")); a != b {
		t.Errorf("e2: order changes the fingerprint: %s %s", a, b)
	}
	// e3: excluded fields do not count.
	if a, b := md(params("stm", "1000000000000", "eid", "123e4567-e89b-12d3-a456-426655440000", "e", "se", "se_ac", "buy")),
		md(params("stm", "9999999999999", "e", "se", "se_ac", "buy")); a != b {
		t.Errorf("e3: excluded fields change the fingerprint: %s %s", a, b)
	}
	// e4: fields that overlap when concatenated stay apart.
	if a, b := md(params("prefix", "suffix")), md(params("prefixs", "uffix")); a == b {
		t.Errorf("e4: overlapping fields collide: %s", a)
	}
	// The value itself, computed independently from the documented layout.
	want := md5.Sum([]byte("e\x1fse\x1fse_ac\x1fbuy\x1f"))
	if got := md(params("stm", "1", "se_ac", "buy", "e", "se")); got != hex.EncodeToString(want[:]) {
		t.Errorf("MD5 fingerprint %s, want %x", got, want)
	}
	// e5-e8: the other algorithms' hex lengths.
	for alg, n := range map[string]int{"MD5": 32, "SHA1": 40, "SHA256": 64, "SHA384": 96, "SHA512": 128} {
		var h hash.Hash = fingerprintHashes[alg]()
		if got := fingerprint(params("e", "se", "se_ac", "action"), std, h); len(got) != n {
			t.Errorf("%s: %d hex digits, want %d", alg, len(got), n)
		}
	}
	// End to end, through the configured algorithm.
	e, _ := newTestEnricher(t, func(c *Config) { c.Enrichments.EventFingerprint.HashAlgorithm = "SHA256" })
	ev := parseTSV(t, e.Enrich(context.Background(), handWrittenGET("e=se&se_ac=buy&stm=1", nil)).Good[0])
	if len(ev[event.EventFingerprint]) != 64 {
		t.Errorf("SHA256 fingerprint %q", ev[event.EventFingerprint])
	}
}

// EnrichmentManagerSpec: "return a SchemaViolations bad row that contains
// 1 ValidationError for the atomic field and 1 ValidationError for the
// unstruct event" (tr_tt=not number with an invalid unstructured event).
func TestAtomicParseErrorsAreSchemaViolations(t *testing.T) {
	e, _ := newTestEnricher(t)
	out := e.Enrich(context.Background(), post(t, map[string]string{"e": "ue", "tv": "js-0.13.1", "p": "web", "tr_tt": "not number",
		"ue_pr": `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1","data":{"unallowedAdditionalField":"x"}}}`}))
	if len(out.Bad) != 1 || out.BadTypes[0] != "schema_violations" {
		t.Fatalf("want one schema_violations row, got %v %s", out.BadTypes, out.Bad)
	}
	m := checkBadRow(t, out.Bad[0], "schema_violations")
	msgs := m["failure"].(map[string]any)["messages"].([]any)
	if len(msgs) != 2 {
		t.Fatalf("want 2 messages (atomic, then unstruct), got %d: %s", len(msgs), out.Bad[0])
	}
	first, second := msgs[0].(map[string]any), msgs[1].(map[string]any)
	if first["schemaKey"] != AtomicSchema || !strings.Contains(mustJSON(t, first), `"path":"tr_tt"`) ||
		!strings.Contains(mustJSON(t, first), keywordParse) {
		t.Errorf("first message is not the atomic tr_tt error: %s", mustJSON(t, first))
	}
	if second["schemaKey"] != "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1" {
		t.Errorf("second message is not the unstruct event's: %s", mustJSON(t, second))
	}
}

// EnrichmentManagerSpec (validateEnriched): "create a SchemaViolations bad
// row if an atomic field is oversized" — v_tracker of 500 characters.
func TestOversizedAtomicFieldIsSchemaViolation(t *testing.T) {
	e, _ := newTestEnricher(t)
	out := e.Enrich(context.Background(), post(t, map[string]string{"e": "pp", "tv": strings.Repeat("s", 500), "p": "web"}))
	if len(out.Bad) != 1 || out.BadTypes[0] != "schema_violations" {
		t.Fatalf("want one schema_violations row, got %v", out.BadTypes)
	}
	s := string(out.Bad[0])
	for _, want := range []string{AtomicSchema, `"path":"v_tracker"`, "Field is longer than maximum allowed size", keywordLength} {
		if !strings.Contains(s, want) {
			t.Errorf("bad row lacks %q: %s", want, s)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// EnrichmentManagerSpec: "create an EnrichedEvent with correct BigDecimal
// field values", "emit an EnrichedEvent for valid decimal fields" and "...
// for valid integer fields" (the literal null accepted as absent).
func TestDecimalsAsSnowplowBigDecimal(t *testing.T) {
	for in, want := range map[string]string{"42": "42", "42.5": "42.5", "137777104559": "137777104559", "-137777104559": "-137777104559",
		"1E7": "10000000", "1.2E9": "1200000000", "0.000001": "0.000001", "0.0000001": "1E-7",
		// The case: the scale sent is kept.
		"2.0": "2.0", "2.50": "2.50", ".5": "0.5", "+3": "3", "-0.0": "0.0", "0E+3": "0", "1.5e-3": "0.0015", "0.00000010": "1.0E-7"} {
		if got, ok := decimalString(in); !ok || got != want {
			t.Errorf("decimalString(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-", ".", "1e", "1e+", "NaN", "Infinity", "0x10", " 1", "1 ", "1,5", "1e99999", "1.2.3"} {
		if got, ok := decimalString(in); ok {
			t.Errorf("decimalString(%q) = %q, want refused", in, got)
		}
	}
	e, _ := newTestEnricher(t)
	for _, f := range []string{"ev_va", "se_va", "tr_tt", "tr_tx", "tr_sh", "ti_pr", "tid", "vid", "ti_qu", "pp_mix"} {
		if f == "ev_va" {
			continue // a legacy alias plowline does not map
		}
		out := e.Enrich(context.Background(), post(t, map[string]string{"e": "ue", "tv": "js-0.13.1", "p": "web", f: "null",
			"ue_pr": `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1","data":{"targetUrl":"https://x.example/"}}}`}))
		if len(out.Good) != 1 {
			t.Errorf("%s=null: not enriched: %s", f, out.Bad)
		}
	}
	out := e.Enrich(context.Background(), post(t, map[string]string{"e": "se", "p": "srv", "tv": "t", "se_ca": "c", "se_ac": "a", "se_va": "2.0", "tr_tt": "1E7"}))
	if ev := parseTSV(t, out.Good[0]); ev[event.SeValue] != "2.0" || ev[event.TrTotal] != "10000000" {
		t.Errorf("se_value %q tr_total %q, want 2.0 and 10000000", ev[event.SeValue], ev[event.TrTotal])
	}
}

// ConversionUtils.fixTabsNewlines (applied to every text field and to the
// URL parts) and ConversionUtils.explodeUri (ports default to 443 for
// https, 80 for anything else).
func TestCleaningAndPortsAsSnowplow(t *testing.T) {
	e, _ := newTestEnricher(t)
	out := e.Enrich(context.Background(), post(t, map[string]string{"e": "pv", "p": "web", "tv": "t",
		"url":  "android-app://com.example.app/screen",
		"refr": "https://www.google.com/search?q=gitlab%09issues", "page": "a\tb\r\nc\x01d\x7f"}))
	if len(out.Good) != 1 {
		t.Fatal(string(out.Bad[0]))
	}
	ev := parseTSV(t, out.Good[0])
	if ev[event.PageURLScheme] != "android-app" || ev[event.PageURLPort] != "80" {
		t.Errorf("page_urlscheme %q page_urlport %q, want android-app and 80", ev[event.PageURLScheme], ev[event.PageURLPort])
	}
	if ev[event.RefrURLPort] != "443" {
		t.Errorf("refr_urlport %q", ev[event.RefrURLPort])
	}
	if ev[event.RefrTerm] != "gitlab    issues" {
		t.Errorf("refr_term %q, want the tab as four spaces", ev[event.RefrTerm])
	}
	if ev[event.PageTitle] != "a    bcd" {
		t.Errorf("page_title %q, want tab as four spaces and other controls removed", ev[event.PageTitle])
	}
	for _, u := range []string{"ftp://files.example/x", "file:///tmp/x.html", "http://a.example/"} {
		out := e.Enrich(context.Background(), post(t, map[string]string{"e": "pv", "p": "web", "tv": "t", "url": u}))
		if ev := parseTSV(t, out.Good[0]); ev[event.PageURLPort] != "80" {
			t.Errorf("%s: page_urlport %q, want 80", u, ev[event.PageURLPort])
		}
	}
}

// EnrichmentManagerSpec: "emit an EnrichedEvent with superseded schemas"
// expects the contexts written back as contexts/jsonschema/1-0-1 with the
// entities as self-describing {"schema","data"} pairs; circe's compact
// printer decides the rest (see sdjnorm.go).
func TestContextsReemittedAsSnowplow(t *testing.T) {
	in := "{ \"data\" : [ {\"data\":{\"id\":\"1f3a44c2-5d7e-4c1b-9a34-6b0e7d2f8a11\", \"b\":\"caf\\u00e9 \\/ \\\"q\\\" \\u0001 \\ud83d\\ude00\",\"a\":1.50},\"schema\":\"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0\"} ] ,\n \"schema\":\"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0\"}"
	want := `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"1f3a44c2-5d7e-4c1b-9a34-6b0e7d2f8a11","b":"café / \"q\" \u0001 😀","a":1.50}}]}`
	got, err := normalizeContexts([]byte(in))
	if err != nil || got != want {
		t.Fatalf("normalizeContexts:\n got %s %v\nwant %s", got, err, want)
	}
	var a, b any
	if json.Unmarshal([]byte(in), &a) != nil || json.Unmarshal([]byte(got), &b) != nil {
		t.Fatal("not JSON")
	}
	// web_page has additionalProperties false: use it through the enricher
	// with its own fields only.
	e, _ := newTestEnricher(t)
	co := `{"data":[{"data":{"id":"1f3a44c2-5d7e-4c1b-9a34-6b0e7d2f8a11"},"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"}],"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"}`
	ue := `{"data":{"data":{"targetUrl":"https:\/\/x.example\/"},"schema":"iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"},"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"}`
	out := e.Enrich(context.Background(), post(t, map[string]string{"e": "ue", "p": "web", "tv": "t", "co": co, "ue_pr": ue}))
	if len(out.Good) != 1 {
		t.Fatal(string(out.Bad[0]))
	}
	ev := parseTSV(t, out.Good[0])
	if want := `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"1f3a44c2-5d7e-4c1b-9a34-6b0e7d2f8a11"}}]}`; ev[event.Contexts] != want {
		t.Errorf("contexts\n got %s\nwant %s", ev[event.Contexts], want)
	}
	if want := `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1","data":{"targetUrl":"https://x.example/"}}}`; ev[event.UnstructEvent] != want {
		t.Errorf("unstruct_event\n got %s\nwant %s", ev[event.UnstructEvent], want)
	}
}

// FuzzNormalizeContexts: for any valid contexts JSON, the re-rendering is
// either refused or JSON equal to the input with the wrapper at 1-0-1.
func FuzzNormalizeContexts(f *testing.F) {
	f.Add(`{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:a/b/jsonschema/1-0-0","data":{"x":"\u00e9\n"}}]}`)
	f.Add(`{"data":[],"schema":"s"}`)
	f.Add(`{"schema":"s","data":[{"data":[1,{"a":"\ud800"}],"schema":"k"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		var orig map[string]any
		if json.Unmarshal([]byte(in), &orig) != nil {
			return
		}
		got, err := normalizeContexts([]byte(in))
		if err != nil {
			return
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(got), &out); err != nil {
			t.Fatalf("output is not JSON: %s (%v)", got, err)
		}
		orig["schema"] = ContextsSchema1
		if a, b := mustMarshal(orig), mustMarshal(out); a != b && !strings.Contains(in, `\u`) {
			t.Fatalf("changed meaning:\n in %s\nout %s", a, b)
		}
	})
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The atomic browser/OS/device fields through the enricher (the values are
// checked case by case in the useragent package), and their switch.
func TestUAAtomicFields(t *testing.T) {
	ua := "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/33.0.1750.152 Safari/537.36"
	e, _ := newTestEnricher(t)
	ev := parseTSV(t, e.Enrich(context.Background(), post(t, map[string]string{"e": "pv", "p": "web", "tv": "t", "ua": ua})).Good[0])
	want := map[event.Field]string{event.BrName: "Chrome 33", event.BrFamily: "Chrome", event.BrVersion: "33.0.1750.152",
		event.BrType: "Browser", event.BrRenderengine: "WEBKIT", event.OSName: "Mac OS X", event.OSFamily: "Mac OS X",
		event.OSManufacturer: "Apple Inc.", event.DvceType: "Computer", event.DvceIsmobile: "0"}
	for f, v := range want {
		if ev[f] != v {
			t.Errorf("%s = %q, want %q", f.Name(), ev[f], v)
		}
	}
	for _, mut := range []func(*Config){
		func(c *Config) { c.Enrichments.UAAtomicFields.Enabled = false },
	} {
		off, _ := newTestEnricher(t, mut)
		ev := parseTSV(t, off.Enrich(context.Background(), post(t, map[string]string{"e": "pv", "p": "web", "tv": "t", "ua": ua})).Good[0])
		if ev[event.BrFamily] != "" || ev[event.DvceIsmobile] != "" {
			t.Errorf("disabled, yet br_family %q dvce_ismobile %q", ev[event.BrFamily], ev[event.DvceIsmobile])
		}
	}
	// On without the ua_parser context.
	noCtx, _ := newTestEnricher(t, func(c *Config) { c.Enrichments.UAParser.Enabled = false })
	ev = parseTSV(t, noCtx.Enrich(context.Background(), post(t, map[string]string{"e": "pv", "p": "web", "tv": "t", "ua": ua})).Good[0])
	if ev[event.BrFamily] != "Chrome" || ev[event.DerivedContexts] != "" {
		t.Errorf("ua_parser off: br_family %q derived_contexts %q", ev[event.BrFamily], ev[event.DerivedContexts])
	}
}

// IP lookups through the enricher, from a City database the test builds:
// the record of IpLookupsEnrichmentSpec's "valid IP address" case, looked
// up before anon_ip hides the address.
func TestIPLookupsFillGeoFields(t *testing.T) {
	dir := t.TempDir()
	geo := filepath.Join(dir, "city.mmdb")
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", RecordSize: 28})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR("175.16.199.0/24")
	en := func(s string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(s)} }
	if err := w.Insert(n, mmdbtype.Map{
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String("CN")},
		"city":         mmdbtype.Map{"names": en("Changchun")},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("22"), "names": en("Jilin Sheng")}},
		"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(43.88), "longitude": mmdbtype.Float64(125.3228), "time_zone": mmdbtype.String("Asia/Harbin")},
	}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(geo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e, _ := newTestEnricher(t, func(c *Config) {
		c.Enrichments.IPLookups.Enabled = true
		c.Enrichments.IPLookups.Geo = geo
		c.Enrichments.AnonIP.Enabled = true
	})
	out := e.Enrich(context.Background(), post(t, map[string]string{"e": "pv", "p": "web", "tv": "t", "ip": "175.16.199.7"}))
	if len(out.Good) != 1 {
		t.Fatal(string(out.Bad[0]))
	}
	ev := parseTSV(t, out.Good[0])
	want := map[event.Field]string{event.GeoCountry: "CN", event.GeoRegion: "22", event.GeoCity: "Changchun", event.GeoRegionName: "Jilin Sheng",
		event.GeoLatitude: "43.88", event.GeoLongitude: "125.3228", event.GeoTimezone: "Asia/Harbin", event.GeoZipcode: "",
		event.UserIPAddress: "175.16.199.x"}
	for f, v := range want {
		if ev[f] != v {
			t.Errorf("%s = %q, want %q", f.Name(), ev[f], v)
		}
	}
	// Off by default; enabled without a database, or with a missing one, is refused.
	if DefaultConfig().Enrichments.IPLookups.Enabled {
		t.Error("ip_lookups on by default")
	}
	cfg := DefaultConfig()
	cfg.Enrichments.IPLookups.Enabled = true
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "enrichments.ip_lookups") {
		t.Errorf("enabled without a database: %v", err)
	}
	cfg.Enrichments.IPLookups.ISP = filepath.Join(dir, "missing.mmdb")
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "missing.mmdb") {
		t.Errorf("missing database: %v", err)
	}
}

// Registries as in Snowplow's resolver configuration: adding GitLab's
// registry is one line, and its vendor prefix sends com.gitlab schemas
// there first. The registry here is a test server serving a test-only
// gitlab_standard 1-1-7.
func TestGitLabRegistryIsOneLineOfConfig(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path)
		if r.URL.Path != "/schemas/com.gitlab/gitlab_standard/jsonschema/1-1-7" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"$schema":"http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
			"description":"test-only stand-in for GitLab's gitlab_standard 1-1-7",
			"self":{"vendor":"com.gitlab","name":"gitlab_standard","format":"jsonschema","version":"1-1-7"},
			"type":"object","properties":{"environment":{"type":"string"}},"required":["environment"]}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "enrich.yaml")
	if err := os.WriteFile(cfgPath, []byte("registries:\n  - "+filepath.Join(dir)+"\n  - {uri: "+srv.URL+", vendor_prefixes: [com.gitlab]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Registries) != 2 || cfg.Registries[0].URI != dir || cfg.Registries[1].VendorPrefixes[0] != "com.gitlab" {
		t.Fatalf("registries %+v", cfg.Registries)
	}
	e, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	co := contextsJSON(`{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-1-7","data":{"environment":"production"}}`)
	out := e.Enrich(context.Background(), post(t, map[string]string{"e": "pv", "p": "web", "tv": "t", "co": co}))
	if len(out.Good) != 1 {
		t.Fatalf("not enriched: %s", out.Bad)
	}
	if len(asked) != 1 {
		t.Errorf("GitLab registry asked %v", asked)
	}
	bad := contextsJSON(`{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-1-7","data":{}}`)
	if out := e.Enrich(context.Background(), post(t, map[string]string{"e": "pv", "p": "web", "tv": "t", "co": bad})); len(out.Bad) != 1 || out.BadTypes[0] != "schema_violations" {
		t.Errorf("invalid against the GitLab registry's schema, yet %v", out.BadTypes)
	}
	// Unknown keys in a registry mapping are refused, naming the key.
	os.WriteFile(cfgPath, []byte("registries:\n  - {url: "+srv.URL+"}\n"), 0o644)
	if _, err := LoadConfig(cfgPath); err == nil || !strings.Contains(err.Error(), `"url"`) {
		t.Errorf("unknown registry key: %v", err)
	}
}
