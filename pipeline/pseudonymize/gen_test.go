package pseudonymize

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/plowline/plowline/pipeline/event"
)

// generated is a random line plus what the generator knows about it: the
// values it put where the default allowlist does not keep them (secrets),
// and some it put where the allowlist keeps them (kept).
type generated struct {
	line    []byte
	secrets []string
	kept    []string
}

type gen struct {
	r *rand.Rand
	g *generated
}

// The alphabet mixes hex and non-hex characters, punctuation that JSON
// escapes, and multi-byte UTF-8. Every secret also gets a character outside
// [0-9a-f] so it cannot occur by chance inside a hex pseudonym.
var alphabet = []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_/@=&?%+\"\\'<>{}[]éüß漢字😀")

const nonHex = "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ@é漢"

func (g *gen) str(minLen, maxLen int) string {
	n := minLen + g.r.IntN(maxLen-minLen+1)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteRune(alphabet[g.r.IntN(len(alphabet))])
	}
	nh := []rune(nonHex)
	b.WriteRune(nh[g.r.IntN(len(nh))])
	return b.String()
}

// secret returns a fresh random string and records it as one that must not
// survive in clear.
func (g *gen) secret() string {
	s := g.str(4, 24)
	g.g.secrets = append(g.g.secrets, s)
	return s
}

// secretNumber returns a JSON number whose text cannot occur inside a hex
// pseudonym or a kept timestamp (it carries '-' and '.' and many digits).
func (g *gen) secretNumber() json.Number {
	s := fmt.Sprintf("-%d.%d", 1_000_000+g.r.IntN(9_000_000), 1000+g.r.IntN(9000))
	g.g.secrets = append(g.g.secrets, s)
	return json.Number(s)
}

// also records a value built from secrets (a query string, base64, a
// body) as one that must not survive in clear either.
func (g *gen) also(s string) string {
	g.g.secrets = append(g.g.secrets, s)
	return s
}

func (g *gen) keep(s string) string {
	if len(s) >= 4 {
		g.g.kept = append(g.g.kept, s)
	}
	return s
}

func (g *gen) timestamp() time.Time {
	return time.Date(2026, time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60), g.r.IntN(1000)*1e6, time.UTC)
}

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(g0EscapeHTML)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// g0EscapeHTML: encoding/json's default HTML escaping exercises \u escapes
// in the walker; the leak check looks for both raw and escaped forms.
var g0EscapeHTML = true

func (g *gen) sd(schema string, data any) map[string]any {
	return map[string]any{"schema": schema, "data": data}
}

// gitlabStandard builds a GitLab standard context: kept deployment facts
// and secret ids, a nested free-form extra object and id arrays.
func (g *gen) gitlabStandard() map[string]any {
	return g.sd("iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9", map[string]any{
		"environment":                      g.keep("production"),
		"source":                           g.keep("gitlab-rails"),
		"plan":                             g.keep("ultimate"),
		"realm":                            g.keep("saas"),
		"project_id":                       g.secretNumber(),
		"namespace_id":                     g.secretNumber(),
		"ultimate_parent_namespace_id":     g.secretNumber(),
		"user_id":                          g.secret(),
		"global_user_id":                   g.secret(),
		"google_analytics_id":              g.secret(),
		"host_name":                        g.secret(),
		"instance_id":                      g.secret(),
		"correlation_id":                   g.secret(),
		"feature_enabled_by_namespace_ids": []any{g.secretNumber(), g.secretNumber()},
		"extra":                            map[string]any{"label": g.secret(), "nested": map[string]any{"deep": []any{g.secret(), map[string]any{"x": g.secret()}}}, "n": g.secretNumber(), "flag": true, "nothing": nil},
	})
}

// enrichedEvent builds a random enriched TSV line: every atomic field
// filled, contexts with known and unknown entities, an unstruct event.
func (g *gen) enrichedEvent() {
	var e event.Event
	a := DefaultAllowlist()
	for f := event.Field(0); f < event.NumFields; f++ {
		if g.r.IntN(10) == 0 || f == event.EventID || f == event.AppID || f == event.CollectorTstamp {
			continue // some fields empty; identity set below
		}
		var v string
		switch f.Kind() {
		case event.KindTimestamp:
			v = g.timestamp().Format(event.TimestampLayout)
		case event.KindBool:
			v = []string{"0", "1"}[g.r.IntN(2)]
		case event.KindInt:
			v = fmt.Sprint(-g.r.IntN(1e9) - 1e6)
		case event.KindFloat:
			v = fmt.Sprintf("-%d.%d", 1e6+g.r.IntN(1e6), 1e3+g.r.IntN(9e3))
		case event.KindContexts, event.KindUnstruct:
			continue
		default:
			v = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(g.str(4, 30))
		}
		if a.KeepsField(f) && a.fieldCheck[f] != nil && g.r.IntN(2) == 0 {
			// A value of the field's vocabulary: kept.
			v = vocabSamples[f.Name()]
		}
		switch {
		case a.KeepsField(f) && (a.fieldCheck[f] == nil || a.fieldCheck[f](v)):
			g.keep(v)
		case f.Kind() != event.KindBool:
			g.g.secrets = append(g.g.secrets, v)
		}
		e[f] = v
	}
	if g.r.IntN(4) == 0 {
		e[event.EventID] = g.secret() // not a UUID: pseudonymized
	} else {
		e[event.EventID] = g.keep(fmt.Sprintf("%08x-0000-4000-8000-%012x", g.r.Uint32(), g.r.Uint64()&0xffffffffffff))
	}
	e[event.AppID] = g.keep("app-" + g.str(4, 8))
	e[event.CollectorTstamp] = g.keep(g.timestamp().Format(event.TimestampLayout))
	keptBefore := len(g.g.kept)
	entities := []any{g.gitlabStandard(),
		g.sd("iglu:org.schema/WebPage/jsonschema/1-0-0", map[string]any{"genre": g.keep("blog-" + g.str(4, 8)), "author": g.secret(), "keywords": []any{g.secret(), g.secret()}}),
		g.sd("iglu:com.acme/unknown/jsonschema/1-0-0", map[string]any{"email": g.secret(), "list": []any{g.secret(), g.secretNumber(), nil, ""}}),
		g.sd("iglu:com.acme/unknown/jsonschema/1-0-0", []any{g.secret()}),
	}
	if g.r.IntN(2) == 0 {
		entities = append(entities, g.sd("iglu:org.w3/PerformanceTiming/jsonschema/1-0-0", map[string]any{"navigationStart": g.r.IntN(1e9)}))
	}
	// Tracker-sent copies of derived and wrapper schemas, secret keys.
	entities = append(entities,
		g.sd("iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0", map[string]any{"useragentFamily": g.secret(), "deviceFamily": g.secret()}),
		g.sd("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0", []any{g.sd("iglu:org.w3/PerformanceTiming/jsonschema/1-0-0", map[string]any{"navigationStart": g.secret()})}),
		g.sd("iglu:com.acme/unknown/jsonschema/1-0-0", map[string]any{g.secret(): g.secret(), "nested": []any{[]any{map[string]any{g.secret(): []any{g.secret()}}}}}),
	)
	items := make([]string, 0, len(entities)+5)
	for _, it := range entities {
		items = append(items, string(marshal(it)))
	}
	// Raw JSON no encoder writes: repeated keys and \u escapes.
	items = append(items, g.duplicates()...)
	e[event.Contexts] = `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[` + strings.Join(items, ",") + `]}`
	if g.r.IntN(4) == 0 {
		g.g.kept = g.g.kept[:keptBefore]
		// Not a contexts wrapper at the top: an allowlisted entity instead.
		e[event.Contexts] = string(marshal(g.sd("iglu:org.w3/PerformanceTiming/jsonschema/1-0-0", map[string]any{"navigationStart": g.secret()})))
	}
	e[event.DerivedContexts] = string(marshal(g.sd("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1", []any{g.gitlabStandard(),
		g.sd("iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0", map[string]any{
			"useragentFamily": g.keep("Chrome Mobile"), "useragentMajor": g.keep("1203"), "useragentMinor": nil, "useragentVersion": g.keep("Chrome Mobile 1203"),
			"osFamily": g.keep("Android"), "osVersion": g.also("Android " + g.secret()), "deviceFamily": g.also("S20-" + g.secret())})})))
	e[event.UnstructEvent] = string(marshal(g.sd("iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
		g.sd("iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1", map[string]any{"targetUrl": "https://gitlab.example/" + g.secret(), "elementId": g.keep("id-" + g.str(4, 8))}))))
	g.g.line = e.AppendTSV(nil)
}

// vocabSamples are values in the vocabulary of each default-allowlisted
// field that has one.
var vocabSamples = map[string]string{
	"geo_country": "DE", "geo_region": "BE", "geo_region_name": "Baden-Württemberg", "geo_timezone": "America/Argentina/Buenos_Aires", "ip_netspeed": "Cable/DSL",
	"event_id": "c6ef3124-b53a-4b13-a233-0088f79dcbcb", "tr_currency": "EUR", "ti_currency": "USD", "base_currency": "GBP",
	"br_name": "Chrome 120.0", "br_family": "Firefox", "br_version": "121.0.1", "br_type": "Browser (mobile)",
	"br_renderengine": "WEBKIT", "br_lang": "en-US", "br_colordepth": "24", "os_name": "Windows 10", "os_family": "Mac OS X",
	"os_manufacturer": "Apple Inc.", "dvce_type": "Computer",
}

// escapeSome writes s as a JSON string body with '@', 'e' and non-ASCII
// written as \u escapes: a reader must decode before comparing.
func escapeSome(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '@' || r == 'e' || r > 0x7e || r < 0x20 || r == '"' || r == '\\':
			if r > 0xffff {
				for _, u := range utf16.Encode([]rune{r}) {
					fmt.Fprintf(&b, "\\u%04x", u)
				}
				continue
			}
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// duplicates returns entities with repeated keys (the attacks):
// an allowlisted schema first and the real one last, a repeated kept
// property, a repeated key spelt with escapes, a repeat deep inside a
// kept subtree.
func (g *gen) duplicates() []string {
	q := func(s string) string { return `"` + escapeSome(s) + `"` }
	return []string{
		`{"schema":"iglu:org.w3/PerformanceTiming/jsonschema/1-0-0","data":{"m":` + q(g.secret()) + `},"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9","data":{"environment":"production"}}`,
		`{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9","data":{"environment":{"e":` + q(g.secret()) + `},"environment":"production","plan":` + q(g.secret()) + `}}`,
		`{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9","data":{"realm":"saas","r\u0065alm":` + q(g.secret()) + `}}`,
		`{"schema":"iglu:org.w3/PerformanceTiming/jsonschema/1-0-0","data":{"a":{"b":[{"c":1,"c":` + q(g.secret()) + `}]}}}`,
		`{"schema":"iglu:com.acme/unknown/jsonschema/1-0-0","data":{` + q(g.secret()) + `:1,` + q(g.secret()) + `:[[` + q(g.secret()) + `]]}}`,
	}
}

// rawRequest builds the collector payload part of a raw bad row: query
// string, headers and a body that embed secrets as query strings, JSON and
// base64.
func (g *gen) rawRequest(qsKey string) map[string]any {
	uid, url, ip := g.secret(), g.secret(), g.secret()
	body := string(marshal(g.sd("iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", []any{map[string]any{"e": "pv", "uid": uid, "url": url, "cx": base64.StdEncoding.EncodeToString([]byte(g.secret()))}})))
	return map[string]any{
		"vendor":  g.keep("com.snowplowanalytics.snowplow"),
		"version": "tp2",
		qsKey: []any{
			map[string]any{"name": "e", "value": "pv"},
			map[string]any{"name": g.secret(), "value": g.secret()},
			map[string]any{"name": "uid", "value": uid},
			map[string]any{"name": "url", "value": url},
			map[string]any{"name": "ue_px", "value": g.also(base64.URLEncoding.EncodeToString([]byte(g.secret())))},
		},
		"contentType":   []string{"application/json", g.also("application/json; boundary=" + g.secret())}[g.r.IntN(2)],
		"body":          body,
		"collector":     "plowline-collector",
		"encoding":      "UTF-8",
		"hostname":      g.secret(),
		"timestamp":     g.timestamp().Format(time.RFC3339Nano),
		"ipAddress":     ip,
		"useragent":     g.secret(),
		"refererUri":    "https://ref.example/?q=" + g.secret(),
		"headers":       []any{"Cookie: sp=" + g.secret(), "X-Forwarded-For: " + ip, "User-Agent: " + g.secret()},
		"networkUserId": g.secret(),
	}
}

// opaque builds a value that ends up inside a string the allowlist does not
// keep: what would be kept inside it is not expected in the output.
func (g *gen) opaque(build func() string) string {
	n := len(g.g.kept)
	s := build()
	g.g.kept = g.g.kept[:n]
	return s
}

func (g *gen) processor() map[string]any {
	return map[string]any{"artifact": g.keep("plowline-enrich"), "version": "1.2.3"}
}

// badRow builds a random bad row of one of several types.
func (g *gen) badRow() {
	const v = "iglu:com.snowplowanalytics.snowplow.badrows/"
	failure := func(extra map[string]any) map[string]any {
		m := map[string]any{"timestamp": g.timestamp().Format("2006-01-02T15:04:05.000Z")}
		for k, x := range extra {
			m[k] = x
		}
		return m
	}
	var row map[string]any
	switch g.r.IntN(5) {
	case 0:
		row = g.sd(v+"tracker_protocol_violations/jsonschema/1-0-0", map[string]any{
			"processor": g.processor(),
			"failure": failure(map[string]any{"vendor": "com.snowplowanalytics.snowplow", "version": "tp2",
				"messages": []any{map[string]any{"field": g.keep("page_url"), "value": g.secret(), "expectation": g.keep("a valid URI")},
					map[string]any{"field": "querystring", "value": nil, "expectation": "a well-formed URL query string: invalid URL escape \"" + g.secret() + "\""},
					map[string]any{"schemaKey": "iglu:com.acme/" + g.igluName() + "/jsonschema/1-0-0", "error": map[string]any{"error": g.keep("ValidationError"),
						"dataReports": []any{map[string]any{"message": g.secret(), "path": "$." + g.secret(), "keyword": g.keep("required"), "targets": []any{g.secret()}}}}}}}),
			"payload": g.rawRequest("querystring"),
		})
	case 1:
		row = g.sd(v+"adapter_failures/jsonschema/1-0-0", map[string]any{
			"processor": g.processor(),
			"failure": failure(map[string]any{"vendor": g.also("com.acme." + g.igluName()), "version": g.also("v" + g.igluName()),
				"messages": []any{map[string]any{"field": "body", "value": g.secret(), "error": g.secret()},
					map[string]any{"field": "path", "value": g.secret(), "expectation": "a Snowplow tracker protocol path; vendor " + g.secret() + " has no adapter"}}}),
			"payload": func() map[string]any {
				m := g.rawRequest("querystring")
				m["vendor"], m["version"] = g.also("com.acme."+g.igluName()), g.also("v"+g.igluName())
				return m
			}(),
		})
	case 2:
		row = g.sd(v+"size_violation/jsonschema/1-0-0", map[string]any{
			"processor": g.processor(),
			"failure":   failure(map[string]any{"maximumAllowedSizeBytes": 1000, "actualSizeBytes": 2000, "expectation": g.keep("stream limit")}),
			"payload":   g.also("GET /i?uid=" + g.secret() + "&url=" + g.secret()),
		})
	case 3:
		row = g.sd(v+"schema_violations/jsonschema/2-0-0", map[string]any{
			"processor": g.processor(),
			"failure": failure(map[string]any{"messages": []any{map[string]any{"schemaKey": "iglu:com.acme/" + g.igluName() + "/jsonschema/1-0-0",
				"error": map[string]any{"error": "ValidationError", "dataReports": []any{map[string]any{"message": g.secret(), "path": "$." + g.secret(), "keyword": "format", "targets": []any{g.secret()}}}}},
				map[string]any{"schemaKey": g.keep("iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9"), "error": map[string]any{"error": "ResolutionError",
					"lookupHistory": []any{map[string]any{"repository": "Iglu Central", "errors": []any{map[string]any{"error": "NotFound"}}, "attempts": 1, "lastAttempt": "2026-01-01T00:00:00.000Z"}}}},
				// The enricher's atomic-field reports: the message quotes
				// the value that did not parse; path and keyword are kept.
				map[string]any{"schemaKey": g.keep("iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0"), "error": map[string]any{"error": "ValidationError",
					"dataReports": []any{
						map[string]any{"message": "want WIDTHxHEIGHT in whole pixels, e.g. 1920x1080, got \"" + g.secret() + "\"", "path": g.keep("res"), "keyword": g.keep("atomic_field_parse_error"), "targets": nil},
						map[string]any{"message": "Field is longer than maximum allowed size 1000", "path": g.keep("se_label"), "keyword": g.keep("atomic_field_length_exceeded"), "targets": nil}}}},
				map[string]any{"field": "co", "value": g.secret(), "error": `duplicate object key "` + g.secret() + `"`},
				map[string]any{"json": map[string]any{g.secret(): g.secret()}, "error": g.keep("INVALID_SCHEMA")}}}),
			"payload": map[string]any{
				"raw": func() map[string]any {
					m := g.rawRequest("parameters")
					m["loaderName"] = "plowline"
					m["userId"] = m["networkUserId"]
					delete(m, "networkUserId")
					return m
				}(),
				"enriched": map[string]any{"app_id": g.keep("app-" + g.str(4, 8)), "event_id": g.keep(fmt.Sprintf("%08x-0000-4000-8000-%012x", g.r.Uint32(), g.r.Uint64()&0xffffffffffff)),
					"event_vendor": g.also("com.acme." + g.igluName()), "event_name": g.also(g.igluName()),
					"user_id": g.secret(), "page_url": g.secret(), "contexts": g.opaque(func() string { return string(marshal(g.gitlabStandard())) }), "domain_sessionidx": g.secretNumber()},
			},
		})
	default:
		row = g.sd(v+"collector_payload_format_violation/jsonschema/1-0-0", map[string]any{
			"processor": g.processor(),
			"failure":   failure(map[string]any{"loader": "thrift", "message": map[string]any{"error": g.secret(), "payloadField": "querystring"}}),
			"payload":   g.also(base64.StdEncoding.EncodeToString([]byte(g.secret()))),
		})
	}
	g.g.line = marshal(row)
}

// igluName returns a secret made of the characters an Iglu URI allows, so
// a made-up schema URI stays syntactically valid.
func (g *gen) igluName() string {
	const chars = "abcdefghijklmnopqrstuvwxyz_"
	var b strings.Builder
	b.WriteString("who_")
	for i := 0; i < 8+g.r.IntN(8); i++ {
		b.WriteByte(chars[g.r.IntN(len(chars))])
	}
	s := b.String()
	g.g.secrets = append(g.g.secrets, s)
	return s
}

func generate(r *rand.Rand) generated {
	var out generated
	g := &gen{r: r, g: &out}
	if r.IntN(2) == 0 {
		g.enrichedEvent()
	} else {
		g.badRow()
	}
	return out
}

// escapedForms returns s as it can appear in a line: raw, and as the inside
// of a JSON string (with and without HTML escaping).
func escapedForms(s string) []string {
	forms := []string{s}
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		enc.Encode(s)
		q := strings.TrimSuffix(b.String(), "\n")
		forms = append(forms, q[1:len(q)-1])
	}
	return forms
}
